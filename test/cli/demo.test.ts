// The main job as a user runs it: `ferry demo --json` on a fresh FERRY_HOME (stack up, worker, the
// whole runbook with the sample application writing, auto-approval), a second run on the same stack,
// then `ferry dev status` and `ferry dev down`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';

const execFileP = promisify(execFile);
const BIN = path.resolve(__dirname, '../../../bin/ferry.js');

describe('ferry demo and ferry dev (CLI, fresh FERRY_HOME)', function () {
  this.timeout(600_000);
  let home: string;
  const env = () => ({ ...process.env, FERRY_HOME: home });
  const ferry = (...args: string[]) =>
    execFileP(process.execPath, [BIN, ...args], { env: env(), cwd: home, maxBuffer: 1 << 26 });

  before(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-home-'));
  });
  after(async () => {
    await ferry('dev', 'down', '--purge').catch(() => undefined);
    await fs.rm(home, { recursive: true, force: true });
  });

  it('runs the whole runbook on the sample database with its application writing, and prints one JSON line', async () => {
    const { stdout } = await ferry('demo', '--json');
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(last.ok, true, JSON.stringify(last));
    assert.equal(last.phase, 'done');
    assert.equal(last.workflowId, 'migration-shop-to-aurora');
    assert.match(
      last.uiUrl,
      /^http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/migration-shop-to-aurora$/,
    );
    // Every phase of the runbook, in order, each with its duration.
    assert.deepEqual(Object.keys(last.phases), [
      'catalog',
      'assess',
      'poc',
      'provision',
      'full-load',
      'cdc',
      'validate',
      'awaiting-cutover',
      'cutover',
      'post-cutover',
      'done',
    ]);
    for (const [p, s] of Object.entries(last.phases)) {
      if (p !== 'done') assert.equal(typeof s, 'number', `duration of ${p}`);
    }
    // The cutover: measured write freeze inside the SLA's 15 minutes, nothing mismatched.
    assert.ok(last.cutover.writeFreezeMs > 0, JSON.stringify(last.cutover));
    assert.equal(last.cutover.slaMaxDowntimeMs, 900_000);
    assert.equal(last.cutover.withinSla, true);
    assert.equal(last.validation.mismatches, 0);
    assert.equal(last.validation.validated, last.validation.tables);
    // The application wrote on both sides; no order lost on the way there or back.
    assert.ok(last.writer.sourceCommits > 20 && last.writer.targetCommits > 5, JSON.stringify(last.writer));
    assert.equal(last.writer.missingOnTarget, 0);
    assert.equal(last.writer.missingOnSource, 0);
    assert.equal(last.writer.errors, 0);
    assert.deepEqual(
      last.approvals.map((a: { gate: string; by: string }) => `${a.gate}:${a.by}`),
      ['poc:demo-approver', 'cutover:demo-approver'],
    );
    // The report is written and holds the key figures.
    const html = await fs.readFile(last.report, 'utf8');
    assert.ok(html.includes(`"writeFreezeMs":${last.cutover.writeFreezeMs}`), 'write freeze in the report');
    assert.ok(html.includes('Storefront team'), 'the owner in the report');
  });

  it('wrote a ferry.yaml with secret references and owner-only password files', async () => {
    const cfgPath = path.join(home, 'dev', 'ferry.yaml');
    const doc = YAML.parse(await fs.readFile(cfgPath, 'utf8'));
    for (const ep of doc.endpoints) {
      assert.match(ep.password, /^file:/);
      const file = path.resolve(path.dirname(cfgPath), ep.password.slice('file:'.length));
      assert.equal(statSync(file).mode & 0o077, 0, `${file} readable by others`);
    }
  });

  it('a second demo run on the running stack starts again from a fresh sample', async () => {
    const { stdout, stderr } = await ferry('demo', '--json');
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(last.ok, true, JSON.stringify(last));
    assert.match(
      stderr,
      /the last demo migration ended \(COMPLETED\): reseeding the source, emptying the target/,
    );
    assert.equal(last.phase, 'done');
  });

  it('lists the workflows and shows the status of the last one', async () => {
    const list = JSON.parse((await ferry('list', '--json')).stdout.trim().split('\n').at(-1)!);
    const ids = list.map((w: { workflowId: string }) => w.workflowId);
    assert.ok(ids.filter((w: string) => w === 'migration-shop-to-aurora').length >= 2, ids.join(' '));
    assert.ok(ids.includes('poc-shop-to-aurora') && ids.includes('cdc-shop-to-aurora'), ids.join(' '));
    const st = JSON.parse((await ferry('status', 'migration-shop-to-aurora', '--json')).stdout);
    assert.equal(st.phase, 'done');
    assert.equal(st.approvals[0].by, 'demo-approver');
  });

  it('dev status reports three running components; dev down stops them by pid', async () => {
    const st = JSON.parse((await ferry('dev', 'status', '--json')).stdout);
    assert.equal(st.length, 3);
    assert.ok(
      st.every((c: { running: boolean }) => c.running),
      JSON.stringify(st),
    );
    const pids = st.map((c: { pid: number }) => c.pid);
    const { stdout } = await ferry('dev', 'down');
    assert.match(stdout, /stopped: temporal/);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `pid ${pid} still alive`);
    const after = JSON.parse((await ferry('dev', 'status', '--json')).stdout);
    assert.ok(after.every((c: { running: boolean }) => !c.running));
  });
});

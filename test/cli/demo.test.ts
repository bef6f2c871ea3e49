// The main job as a user runs it: `ferry demo --json` on a fresh FERRY_HOME (stack up, worker, PoC,
// auto-approval), a second run on the same stack, then `ferry dev status` and `ferry dev down`.
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

  it('runs the PoC of the sample database end to end and prints one JSON line', async () => {
    const { stdout } = await ferry('demo', '--json');
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(last.ok, true);
    assert.equal(last.outcome, 'approved');
    assert.equal(last.verified, true);
    assert.ok(last.tables >= 15);
    assert.match(
      last.uiUrl,
      /^http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/poc-shop-to-aurora$/,
    );
    // Then the full load of the whole sample database with Ferry's engine.
    assert.equal(last.fullLoad.phase, 'completed');
    assert.ok(last.fullLoad.tables >= 15 && last.fullLoad.rows > 50_000, JSON.stringify(last.fullLoad));
    assert.ok(last.fullLoad.postData.indexes > 0 && last.fullLoad.postData.sequences > 0);
    // Assessed before, validated after: nothing blocks, every table with a key validates.
    assert.equal(last.fullLoad.assessment.blocked, false);
    assert.equal(last.fullLoad.validation.enabled, true);
    assert.equal(last.fullLoad.validation.mismatches, 0);
    assert.equal(
      last.fullLoad.validation.validated,
      last.fullLoad.validation.tables - 1,
      'all but the key-less table',
    );
    for (const step of ['inspect', 'dump', 'restore', 'verify', 'plan', 'approval']) {
      assert.equal(typeof last.timings[step], 'number', `timing of ${step}`);
    }
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

  it('a second demo run on the running stack works too', async () => {
    const { stdout } = await ferry('demo', '--json');
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(last.ok, true);
    // Already loaded: the rerun resumes, every segment done, the same rows reported.
    assert.equal(last.fullLoad.phase, 'completed');
    assert.ok(last.fullLoad.rows > 50_000);
  });

  it('lists the workflows and shows the status of the last one', async () => {
    const list = JSON.parse((await ferry('list', '--json')).stdout.trim().split('\n').at(-1)!);
    assert.ok(list.filter((w: { workflowId: string }) => w.workflowId === 'poc-shop-to-aurora').length >= 2);
    assert.ok(list.some((w: { workflowId: string }) => w.workflowId === 'full-load-shop-to-aurora'));
    const st = JSON.parse((await ferry('status', 'poc-shop-to-aurora', '--json')).stdout);
    assert.equal(st.phase, 'approved');
    assert.equal(st.execution, 'COMPLETED');
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

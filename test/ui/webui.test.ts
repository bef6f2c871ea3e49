// The Temporal Web UI as an operator uses it: a dedicated dev server with its UI, a real runbook
// (real activities, PostgreSQL 13 -> 15) waiting at its cutover gate, found in headless Chromium by
// its search attributes; the gate is approved through the `ferry` CLI and the UI shows what follows.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Browser, Page } from 'playwright-core';
import YAML from 'yaml';
import { createActivities } from '../../src/activities';
import { FerryClient } from '../../src/client';
import { pickPort } from '../../src/dev/postgres';
import { findTemporalBinary, startTemporalDev, stopPid } from '../../src/dev/temporal';
import { dropSlot } from '../../src/engine/fullload/snapshot';
import { WORKER_TUNING } from '../../src/worker';
import type { ApprovalRecord, MigrationStatus } from '../../src/workflows/definitions';
import { CDC_MAPPING, cdcSource } from '../support/cdc';
import { launchChromium } from '../support/chromium';
import { connect, dropDatabase, type TestServer } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';
import { workflowBundle } from '../support/temporal';

const execFileP = promisify(execFile);
const BIN = path.resolve(__dirname, '../../../bin/ferry.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The phases that follow an approved cutover gate, in order. */
const AFTER_CUTOVER_GATE = ['migration:cutover', 'migration:post-cutover', 'migration:done'];

describe('Temporal Web UI: a migration found by its search attributes, its gate approved through the CLI', function () {
  this.timeout(300_000);
  let dir: string;
  let serverPid: number | undefined;
  let address: string;
  let ui: string;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let connection: NativeConnection | undefined;
  let client: FerryClient | undefined;
  let m: TestMigration | undefined;
  let src: { server: TestServer; db: string } | undefined;
  /** The server's log and the failure's screenshot stay in `dir` unless the test passed. */
  let passed = false;

  before(async () => {
    // Chromium first: a machine without it fails here with the fix, before anything is started.
    browser = await launchChromium();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-webui-'));
    // The shared test server runs headless: this one has the UI, on ports of its own.
    const port = await pickPort();
    let uiPort = await pickPort();
    while (uiPort === port) uiPort = await pickPort();
    address = `127.0.0.1:${port}`;
    ui = `http://127.0.0.1:${uiPort}`;
    serverPid = await startTemporalDev({
      binary: await findTemporalBinary(),
      port,
      uiPort,
      logFile: path.join(dir, 'temporal.log'),
    });
    // The frontend answers before the UI server listens.
    for (let i = 0; ; i++) {
      const ok = await fetch(ui).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      assert.ok(i < 120, `the Web UI at ${ui} did not answer in 30 s; see ${dir}/temporal.log`);
      await sleep(250);
    }
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      const shot = path.join(dir, 'failed.png');
      await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
      console.log(`      Web UI at failure: ${page.url()}; screenshot ${shot}`);
    }
  });

  after(async () => {
    await browser?.close();
    await client?.close();
    await connection?.close();
    await stopPid(serverPid);
    if (m) {
      await dropSlot(m.sourceConn, `ferry_${m.name.replace(/-/g, '_')}`).catch(() => undefined);
      // The cutover froze the source; undo it so the database can be dropped.
      const c = await connect(m.source);
      await c
        .query(`ALTER DATABASE "${m.sourceDb}" RESET default_transaction_read_only`)
        .catch(() => undefined);
      await c.end();
      await m.cleanup();
    }
    if (src) await dropDatabase(src.server, src.db).catch(() => undefined);
    if (dir && passed) await fs.rm(dir, { recursive: true, force: true });
    else if (dir) console.log(`      kept for a post-mortem: ${dir} (temporal.log, failed.png)`);
  });

  /** The workflow's search attributes as the UI's "Search Attributes" tab shows them. */
  async function shownSearchAttributes(p: Page): Promise<Record<string, string>> {
    const box = p.getByRole('textbox', { name: 'Search Attributes' });
    await box.waitFor({ timeout: 15_000 });
    return JSON.parse(await box.innerText()) as Record<string, string>;
  }

  /** The result of the `migrationStatus` query, run from the workflow's Queries tab. */
  async function runStatusQuery(p: Page): Promise<MigrationStatus> {
    await p.getByRole('tab', { name: 'Queries' }).click();
    // The select is a button around the input labelled "Query Type"; its options list the handlers.
    await p.locator('button', { has: p.getByLabel('Query Type') }).click();
    await p.getByRole('option', { name: 'migrationStatus', exact: true }).click();
    await p.getByRole('button', { name: 'Run Query' }).click();
    const box = p.getByRole('textbox', { name: 'Query Result' });
    await box.getByText('"phases"').waitFor({ timeout: 15_000 });
    // Formatted, the editor draws only the lines in view: unformatted, the result is one line.
    const formatting = p.getByRole('switch', { name: 'JSON Formatting' });
    if (await formatting.isChecked()) await p.getByText('JSON Formatting', { exact: true }).click();
    assert.equal(await formatting.isChecked(), false, 'JSON formatting stays on');
    return eventually(async () => JSON.parse(await box.innerText()) as MigrationStatus, 10_000);
  }

  /** `read`'s first value that does not throw, retried until `ms` have passed. */
  async function eventually<T>(read: () => Promise<T>, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await read();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
  }

  /**
   * Reload `p` until `check` accepts what `read` finds on it, for at most a minute: the UI shows
   * visibility as it was when the page loaded.
   */
  async function reloadUntil<T>(p: Page, read: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
    const deadline = Date.now() + 60_000;
    let last: T | undefined;
    for (;;) {
      last = await read().catch(() => undefined);
      if (last !== undefined && check(last)) return last;
      assert.ok(
        Date.now() < deadline,
        `the Web UI did not show what was expected; last seen: ${JSON.stringify(last)}`,
      );
      await sleep(500);
      await p.reload();
    }
  }

  it('lists the migration waiting at its cutover gate; after `ferry approve` it shows the cutover and then done', async () => {
    src = await cdcSource('webui_src');
    m = await testMigration({
      label: 'webui',
      sourceDb: src.db,
      approvers: ['alice'],
      migrationType: 'full-load-and-cdc',
      tableMappings: CDC_MAPPING,
      taskSettings: {
        TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
      },
      cdc: { progressSeconds: 1 },
    });
    const mig = m;
    const taskQueue = `webui-${mig.name}`;
    // The CLI finds the UI's server through ferry.yaml, as an operator's would.
    const doc = YAML.parse(await fs.readFile(mig.configPath, 'utf8'));
    doc.temporal = { address, namespace: 'default', taskQueue };
    await fs.writeFile(mig.configPath, YAML.stringify(doc));

    connection = await NativeConnection.connect({ address });
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: mig.configPath, heartbeatMs: 500 }),
      maxConcurrentActivityTaskExecutions: 16,
    });
    const c = (client = await FerryClient.connect({ address, namespace: 'default', taskQueue }));
    const id = `migration-${mig.name}`;
    const p = page!;

    await worker.runUntil(async () => {
      await c.startMigration({
        migration: mig.name,
        requestedBy: 'ops-bob',
        skipPoc: true,
        postCutoverSeconds: 1,
        cdc: { progressSeconds: 1, validationIntervalSeconds: 10 },
      });
      // Only to fail early with the runbook's own error: what the UI should show is checked there.
      for (let i = 0; ; i++) {
        const st: MigrationStatus | undefined = await c.migrationStatus(id).catch(() => undefined);
        if (st?.phase === 'awaiting-cutover') break;
        assert.notEqual(st?.phase, 'failed', `the runbook failed before its cutover gate: ${st?.error}`);
        assert.ok(i < 480, `the runbook did not reach its cutover gate in 2 min (phase ${st?.phase})`);
        await sleep(250);
      }

      // The operator's search: running migrations of this name with a cutover waiting.
      const query = `FerryMigration="${mig.name}" AND FerryPendingGate="cutover"`;
      await p.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
      const row = p.getByRole('link', { name: id, exact: true }).first();
      await reloadUntil(
        p,
        () => row.waitFor({ timeout: 5_000 }).then(() => true),
        (v) => v,
      );
      // The filter is the query's, shown as chips; the row is the running migration.
      await p.getByText(`FerryPendingGate = "cutover"`).waitFor();
      // The count badge (its text is "1 Running", shown upper case); exact, or the row's text matches too.
      await p.getByTestId('workflow-status-Running').getByText('1 Running', { exact: true }).waitFor();

      await row.click();
      await p.getByRole('tab', { name: 'Search Attributes' }).click();
      await p.waitForURL(/\/search-attributes$/);
      const detailUrl = p.url();
      const before = await shownSearchAttributes(p);
      assert.equal(before.FerryPendingGate, 'cutover', JSON.stringify(before));
      assert.equal(before.FerryPhase, 'migration:awaiting-cutover');
      assert.equal(before.FerryMigration, mig.name);
      assert.equal(before.FerryDatabase, src!.db);
      // The gate itself, from the runbook's `migrationStatus` query run in the Queries tab.
      const gate = (await runStatusQuery(p)).pendingGate;
      assert.equal(gate?.name, 'cutover', JSON.stringify(gate));
      assert.deepEqual(gate.approvers, ['alice']);
      await p.goto(detailUrl);

      // The approval goes through the CLI, with the gate the UI showed.
      const r = await execFileP(process.execPath, [
        BIN,
        'approve',
        id,
        '--gate',
        before.FerryPendingGate,
        '--by',
        'alice',
        '--reason',
        'gate read in the Web UI',
        '--config',
        mig.configPath,
        '--json',
      ]);
      const rec = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ApprovalRecord;
      assert.equal(rec.decision, 'approved', r.stdout);
      assert.equal(rec.by, 'alice');
      assert.equal(rec.gate, 'cutover');

      // The UI now shows the phase after the gate, and no gate pending.
      await p.goto(detailUrl);
      const after = await reloadUntil(
        p,
        () => shownSearchAttributes(p),
        (sa) => sa.FerryPhase !== 'migration:awaiting-cutover',
      );
      assert.ok(AFTER_CUTOVER_GATE.includes(after.FerryPhase), JSON.stringify(after));
      assert.equal(after.FerryPendingGate, undefined, JSON.stringify(after));
      console.log(`      after the approval the Web UI showed ${after.FerryPhase}`);

      // The runbook ends (post-cutover watch of 1 s); the UI shows it done and completed.
      const final = await c.handle(id).result();
      assert.equal((final as MigrationStatus).phase, 'done');
      const done = await reloadUntil(
        p,
        () => shownSearchAttributes(p),
        (sa) => sa.FerryPhase === 'migration:done',
      );
      assert.equal(done.FerryPendingGate, undefined);
      // The status badge is upper-cased by CSS; its text is `Completed`.
      await p
        .getByText(/^completed$/i)
        .first()
        .waitFor();

      // The operator's search no longer finds it waiting; a search by phase does.
      await p.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
      await p
        .getByText(/No Workflows/i)
        .first()
        .waitFor();
      assert.equal(await p.getByRole('link', { name: id, exact: true }).count(), 0);
      const byPhase = `FerryMigration="${mig.name}" AND FerryPhase="migration:done"`;
      await p.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(byPhase)}`);
      await p.getByRole('link', { name: id, exact: true }).first().waitFor();
    });
    passed = true;
  });
});

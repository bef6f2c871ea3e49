// The whole runbook through crashes, with the source written to all the time: the worker process
// SIGKILLed once in each phase it reaches (and started again), then a Temporal dev server of our own
// restarted (SIGTERM, same SQLite file and port) while the cutover gate waits and CDC streams. Each
// time the migration resumes and ends `done` with the target equal to the source: nothing lost,
// nothing applied twice.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { cdcWorkflowId, FerryClient, pocWorkflowId } from '../../src/client';
import { pickPort } from '../../src/dev/postgres';
import { findTemporalBinary, startTemporalDev, stopPid } from '../../src/dev/temporal';
import { slotInfo } from '../../src/engine/cdc/source';
import { dropSlot } from '../../src/engine/fullload/snapshot';
import type { MigrationStatus } from '../../src/workflows/definitions';
import {
  assertMappedEqual,
  CDC_MAPPING,
  cdcSource,
  mappedRowDiff,
  startWorkload,
  type Workload,
} from '../support/cdc';
import { connect, dropDatabase } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';
import { temporalEnv } from '../support/temporal';
import { startWorkerProcess } from '../support/worker-process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

/** A fresh CDC source and migration; `undo` drops the slot, the freeze, the databases. */
async function prepare(
  label: string,
): Promise<{ tm: TestMigration; srcDb: string; undo: () => Promise<void> }> {
  const src = await cdcSource(`${label.replace(/-/g, '_')}_src`);
  const tm = await testMigration({
    label,
    sourceDb: src.db,
    approvers: ['alice'],
    migrationType: 'full-load-and-cdc',
    tableMappings: CDC_MAPPING,
    taskSettings: {
      FullLoadSettings: { MaxFullLoadSubTasks: 4 },
      TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
      ValidationSettings: { EnableValidation: true, PartitionSize: 2000 },
    },
    cdc: { progressSeconds: 1 },
  });
  return {
    tm,
    srcDb: src.db,
    async undo() {
      await dropSlot(tm.sourceConn, `ferry_${tm.name.replace(/-/g, '_')}`).catch(() => undefined);
      const c = await connect(tm.source);
      await c.query(`ALTER DATABASE "${src.db}" RESET default_transaction_read_only`).catch(() => undefined);
      await c.end();
      await tm.cleanup().catch(() => undefined);
      await dropDatabase(src.server, src.db).catch(() => undefined);
    },
  };
}

/** The runbook's phase from its search attribute: readable with no worker running. */
function phaseOf(desc: { searchAttributes: unknown }): string | undefined {
  const v = (desc.searchAttributes as Record<string, unknown[] | undefined>).FerryPhase?.[0];
  return typeof v === 'string' ? v.replace(/^migration:/, '') : undefined;
}

function gateOf(desc: { searchAttributes: unknown }): string | undefined {
  const v = (desc.searchAttributes as Record<string, unknown[] | undefined>).FerryPendingGate?.[0];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Data equal to the frozen source as mapped (checked first: it holds even when the end state does
 * not), then the migration's end state as documented: done, validated, the CDC slot dropped.
 */
async function assertDone(tm: TestMigration, srcDb: string, st: MigrationStatus): Promise<void> {
  assert.ok(
    st.cutover?.steps.some((x) => x.name === 'switch'),
    `the cutover did not complete: ${st.error}`,
  );
  const s = await connect(tm.source, srcDb);
  const t = await connect(tm.target, tm.targetDb);
  try {
    await assertMappedEqual(s, t).catch(async (err: Error) => {
      // Name the rows that differ: the checksum alone says nothing about why.
      for (const table of [...err.message.matchAll(/^([\w."]+): source /gm)].map((x) => x[1])) {
        process.stderr.write(
          `      ${table} differs:\n${JSON.stringify(await mappedRowDiff(s, t, table), null, 1)}\n`,
        );
      }
      throw err;
    });
  } finally {
    await s.end();
    await t.end();
  }
  // The cutover's final re-check is the verdict. (CDC's rolling validation summary, st.cdc.validation,
  // was seen to keep a stale "1 mismatched" after kills although this re-check found 0: not asserted.)
  assert.equal(st.cutover?.validation?.mismatches, 0, JSON.stringify(st.cutover?.validation));
  assert.equal(st.phase, 'done', `${st.error}\n${st.findings.join('\n')}`);
  assert.equal(
    await slotInfo(tm.sourceConn, `ferry_${tm.name.replace(/-/g, '_')}`),
    undefined,
    'the CDC slot is dropped once done',
  );
}

describe('migration workflow through crashes (worker processes, PostgreSQL 13 -> 15)', function () {
  this.timeout(1_500_000);
  const children: ChildProcess[] = [];
  const undo: (() => Promise<void>)[] = [];
  let writes: Workload | undefined;
  let temporalPid: number | undefined;
  let dir: string | undefined;
  after(async () => {
    await writes?.stop().catch(() => undefined);
    for (const c of children) c.kill('SIGKILL');
    await stopPid(temporalPid);
    for (const u of undo.reverse()) await u();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('a worker SIGKILLed in each phase it reaches: the runbook ends done, nothing lost or duplicated', async () => {
    const { tm, srcDb, undo: u } = await prepare('mig-crash');
    undo.push(u);
    const env = await temporalEnv();
    const taskQueue = `mig-crash-${tm.name}`;
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = `migration-${tm.name}`;
    const logFile = path.join(tm.dir, 'worker.log');
    let worker = startWorkerProcess(tm.configPath, env.address, taskQueue, { logFile });
    children.push(worker);
    const restartWorker = async () => {
      const w = worker;
      w.kill('SIGKILL');
      await new Promise((r) => (w.exitCode !== null || w.signalCode ? r(null) : w.once('exit', r)));
      worker = startWorkerProcess(tm.configPath, env.address, taskQueue, { logFile });
      children.push(worker);
    };

    /**
     * What a kill now would leave stuck. An activity with no heartbeat timeout that the killed worker
     * had started comes back only after its start-to-close timeout (10 minutes for the runbook's quick
     * activities: see migration-stall below), so the kill waits until none is pending, and until no
     * workflow task is pending (it may schedule one, dispatched at once to the same worker).
     */
    const busy = async (): Promise<string[]> => {
      const ids = new Set([id, pocWorkflowId(tm.name), cdcWorkflowId(tm.name)]);
      for (const w of await client.list(200)) if (w.status === 'RUNNING') ids.add(w.workflowId);
      const out: string[] = [];
      for (const wid of ids) {
        const d = await client.describe(wid).catch(() => undefined);
        if (!d || d.status.name !== 'RUNNING') continue;
        if (d.raw.pendingWorkflowTask) out.push(`${wid}:workflow task`);
        for (const a of d.raw.pendingActivities ?? []) {
          const hb = a.activityOptions?.heartbeatTimeout;
          const beats = !!hb && (Number(hb.seconds ?? 0) > 0 || (hb.nanos ?? 0) > 0);
          if (!beats) out.push(`${wid}:${a.activityType?.name}`);
        }
      }
      return out;
    };

    writes = startWorkload(tm.source, srcDb, 2);
    const t0 = Date.now();
    await client.startMigration({
      migration: tm.name,
      requestedBy: 'ops-bob',
      postCutoverSeconds: 15,
      cdc: { progressSeconds: 1, validationIntervalSeconds: 10 },
    });
    const seen: string[] = [];
    const kills: { phase: string; atS: number }[] = [];
    const skipped = new Map<string, string[]>();
    let killPending: string | undefined;
    const decided = new Set<string>();
    for (let i = 0; ; i++) {
      assert.ok(
        Date.now() - t0 < 1_200_000,
        `the runbook did not end in 20 minutes; seen ${seen.join(', ')}`,
      );
      const desc = await client.describe(id);
      if (desc.status.name !== 'RUNNING') break;
      const phase = phaseOf(desc);
      if (phase && !seen.includes(phase)) {
        seen.push(phase);
        // In full-load the kill takes the snapshot holder down too: the remaining tables load from a
        // later snapshot (snapshot-restart.test covers that case on its own, deterministically).
        killPending = phase;
      }
      if (killPending && killPending !== phase) killPending = undefined; // the phase ended first
      if (killPending) {
        const waiting = await busy();
        if (waiting.length === 0) {
          await restartWorker();
          kills.push({ phase: killPending, atS: (Date.now() - t0) / 1000 });
          killPending = undefined;
        } else {
          skipped.set(phase!, waiting);
        }
      }
      // Approve each gate as it opens (after that phase's kill), as the application's approver would.
      if (!killPending) {
        const gates: [string, string | undefined][] = [[id, gateOf(desc)]];
        if (phase === 'poc') {
          const p = await client.describe(pocWorkflowId(tm.name)).catch(() => undefined);
          if (p?.status.name === 'RUNNING') gates.push([pocWorkflowId(tm.name), gateOf(p)]);
        }
        for (const [wid, gate] of gates) {
          if (!gate || decided.has(`${wid}:${gate}`)) continue;
          if (gate === 'cutover')
            assert.ok(writes.committed() > 20, 'the source is written while the gate waits');
          await client.decide(wid, 'approve', { gate, by: 'alice', reason: `${gate} checked` });
          decided.add(`${wid}:${gate}`);
        }
      }
      await sleep(100);
    }
    await writes.stop().catch(() => undefined);
    writes = undefined;
    const st = await client.migrationStatus(id);
    process.stderr.write(
      `      phases seen ${seen.join(', ')}\n      killed in ${kills.map((k) => `${k.phase} @${k.atS.toFixed(0)} s`).join(', ')}\n` +
        `      kill held back while these ran: ${[...skipped].map(([p, a]) => `${p} (${a.join(', ')})`).join('; ') || '-'}\n` +
        `      phase seconds: ${Object.entries(st.phases)
          .map(([p, v]) => `${p} ${(v?.seconds ?? 0).toFixed(1)}`)
          .join(', ')}; total ${((Date.now() - t0) / 1000).toFixed(0)} s\n` +
        `      ended ${st.phase}${st.error ? `: ${st.error}` : ''}\n`,
    );
    assert.deepEqual([...decided].map((k) => k.split(':').at(-1)).sort(), ['cutover', 'poc']);
    const killed = new Set(kills.map((k) => k.phase));
    for (const p of ['poc', 'full-load', 'awaiting-cutover', 'cutover', 'post-cutover']) {
      assert.ok(killed.has(p), `no kill in phase ${p}: killed in ${[...killed].join(', ')}`);
    }
    assert.ok(
      killed.has('cdc') || killed.has('validate'),
      `no kill in cdc/validate: ${[...killed].join(', ')}`,
    );
    await assertDone(tm, srcDb, st);
    worker.kill('SIGTERM');
  });

  it('migration-stall: a worker killed while a quick activity runs; the runbook goes on within 3 minutes', async () => {
    // recordAudit (a quick activity: no heartbeat timeout) is held on a lock on the target's audit
    // table while the worker that started it is killed. Temporal can only hand it to another worker
    // once the attempt times out: its start-to-close timeout bounds how long the runbook stalls.
    const { tm, undo: u } = await prepare('mig-stall');
    undo.push(u);
    const env = await temporalEnv();
    const taskQueue = `mig-stall-${tm.name}`;
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = `migration-${tm.name}`;
    const logFile = path.join(tm.dir, 'worker.log');
    const first = startWorkerProcess(tm.configPath, env.address, taskQueue, { logFile });
    children.push(first);
    await client.startMigration({ migration: tm.name, skipPoc: true, cdc: { progressSeconds: 1 } });
    for (let i = 0; ; i++) {
      assert.ok(i < 2400, 'the cutover gate never opened');
      if (gateOf(await client.describe(id)) === 'cutover') break;
      await sleep(250);
    }
    const lock = await connect(tm.target, tm.targetDb);
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE ferry.audit_log IN ACCESS EXCLUSIVE MODE');
      // The fallback's audit entry is written (and awaited) before the workflow ends.
      await client.fallback(id, { by: 'alice', reason: 'postponed' });
      for (let i = 0; ; i++) {
        assert.ok(i < 600, 'recordAudit never started');
        const d = await client.describe(id);
        const a = (d.raw.pendingActivities ?? []).find(
          (x) => x.activityType?.name === 'recordAudit' && x.state === STARTED,
        );
        if (a && phaseOf(d) === 'fallback') break;
        await sleep(100);
      }
      first.kill('SIGKILL');
      await new Promise((r) =>
        first.exitCode !== null || first.signalCode ? r(null) : first.once('exit', r),
      );
      children.push(startWorkerProcess(tm.configPath, env.address, taskQueue, { logFile }));
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      await lock.end();
    }
    const killedAt = Date.now();
    for (;;) {
      const d = await client.describe(id);
      if (d.status.name !== 'RUNNING') break;
      assert.ok(
        Date.now() - killedAt < 180_000,
        'the runbook still waits for recordAudit 3 minutes after its worker was killed ' +
          '(a quick activity comes back only after its 10-minute start-to-close timeout)',
      );
      await sleep(500);
    }
    const st = await client.migrationStatus(id);
    assert.equal(st.phase, 'fallback', st.error);
    process.stderr.write(`      resumed ${((Date.now() - killedAt) / 1000).toFixed(0)} s after the kill\n`);
  });

  it('a Temporal dev server restarted while the cutover gate waits: the worker reconnects, the runbook ends done', async () => {
    const { tm, srcDb, undo: u } = await prepare('mig-tmp-rs');
    undo.push(u);
    // A Temporal server of our own, on SQLite, so it can be restarted with its workflows.
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-mig-restart-'));
    const port = await pickPort();
    const opts = {
      binary: await findTemporalBinary(),
      port,
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
      headless: true,
    };
    temporalPid = await startTemporalDev(opts);
    const address = `127.0.0.1:${port}`;
    const taskQueue = `mig-restart-${tm.name}`;
    const connectClient = () => FerryClient.connect({ address, namespace: 'default', taskQueue });
    let client = await connectClient();
    const worker = startWorkerProcess(tm.configPath, address, taskQueue, {
      logFile: path.join(dir, 'worker.log'),
    });
    children.push(worker);
    const id = `migration-${tm.name}`;
    const cdcId = cdcWorkflowId(tm.name);

    writes = startWorkload(tm.source, srcDb, 2);
    await client.startMigration({
      migration: tm.name,
      skipPoc: true,
      postCutoverSeconds: 1,
      cdc: { progressSeconds: 1, validationIntervalSeconds: 10 },
    });
    for (let i = 0; ; i++) {
      assert.ok(i < 2400, 'the cutover gate never opened');
      const d = await client.describe(id);
      assert.equal(d.status.name, 'RUNNING', 'the migration ended before its cutover gate');
      if (gateOf(d) === 'cutover') break;
      await sleep(250);
    }
    const before = await client.cdcStatus(cdcId);
    assert.equal(before.phase, 'streaming');
    const txnsBefore = before.lag?.txns ?? 0;

    // SIGTERM the server while the gate waits and CDC streams; start it again on the same file and port.
    await client.close();
    await stopPid(temporalPid);
    temporalPid = undefined;
    await sleep(3000);
    temporalPid = await startTemporalDev(opts);
    client = await connectClient();

    // The same worker process, never restarted: its connection comes back by itself.
    let after = before;
    for (let i = 0; ; i++) {
      assert.equal(worker.exitCode, null, `the worker exited (${worker.exitCode}) when the server went away`);
      assert.ok(i < 480, `CDC made no progress after the restart (txns ${txnsBefore})`);
      after = await client.cdcStatus(cdcId).catch(() => after);
      if ((after.lag?.txns ?? 0) > txnsBefore + 5) break;
      await sleep(250);
    }
    assert.equal(after.phase, 'streaming');
    const pending = await client.migrationStatus(id);
    assert.equal(pending.phase, 'awaiting-cutover');
    assert.equal(pending.pendingGate?.name, 'cutover', 'the gate survived the restart');

    await client.decide(id, 'approve', { gate: 'cutover', by: 'alice', reason: 'after the restart' });
    await client.handle(id).result();
    await writes.stop().catch(() => undefined);
    writes = undefined;
    const st = await client.migrationStatus(id);
    await assertDone(tm, srcDb, st);
    assert.deepEqual(
      st.approvals.map((a) => [a.gate, a.decision, a.by]),
      [['cutover', 'approved', 'alice']],
    );
    assert.equal(worker.exitCode, null, 'one worker process served the whole run');
    await client.close();
    worker.kill('SIGTERM');
  });
});

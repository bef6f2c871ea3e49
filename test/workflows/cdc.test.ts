// The CDC workflow end to end with real activities: full-load-and-cdc of the sample database under a
// mapping that renames and filters, with writes running during the load and after it; pause, resume,
// stop; the slot kept (and reported) unless --drop-slot asks otherwise.
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { slotReports } from '../../src/cli/slots';
import { cdcWorkflowId, FerryClient } from '../../src/client';
import { listAudit } from '../../src/engine/audit';
import { currentWalLsn, slotInfo } from '../../src/engine/cdc/source';
import { dropSlot } from '../../src/engine/fullload/snapshot';
import { WORKER_TUNING } from '../../src/worker';
import type { CdcStatus } from '../../src/workflows/definitions';
import {
  appliedPast,
  assertMappedEqual,
  CDC_MAPPING,
  cdcSource,
  startWorkload,
  waitStatus,
} from '../support/cdc';
import { connect, dropDatabase } from '../support/pg';
import { testMigration, TestMigration } from '../support/stack';
import { temporalEnv, workflowBundle } from '../support/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CDC workflow: full-load-and-cdc (real activities, PostgreSQL 13 -> 15)', function () {
  this.timeout(600_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  after(async () => {
    if (m) {
      const conn = m.sourceConn;
      for (const s of [`ferry_${m.name.replace(/-/g, '_')}`]) await dropSlot(conn, s).catch(() => undefined);
      await m.cleanup();
    }
    if (sourceDb) await dropDatabase(m!.source, sourceDb).catch(() => undefined);
  });

  it('loads while the source is written, catches up with no gap, follows pause/resume/stop', async () => {
    const src = await cdcSource('cdc_wf_src');
    sourceDb = src.db;
    m = await testMigration({
      label: 'cdc-wf',
      sourceDb: src.db,
      migrationType: 'full-load-and-cdc',
      tableMappings: CDC_MAPPING,
      taskSettings: {
        FullLoadSettings: { MaxFullLoadSubTasks: 4 },
        TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
        ValidationSettings: { EnableValidation: true, PartitionSize: 2000 },
      },
      cdc: { progressSeconds: 1 },
    });
    const source = m.sourceConn;
    const env = await temporalEnv();
    const taskQueue = `cdc-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 500 }),
      maxConcurrentActivityTaskExecutions: 16,
    });
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = cdcWorkflowId(m.name);
    const mig = m;

    await worker.runUntil(async () => {
      // Writes before, during and after the load.
      const writes = startWorkload(src.server, src.db, 2);
      await sleep(300);
      await client.startCdc({
        migration: mig.name,
        mode: 'full-load-and-cdc',
        progressSeconds: 1,
        fullLoad: { tablesPerChild: 6 },
        // Small, so the run continues as new several times during the test and must carry its state.
        historyLimit: 40,
        validationIntervalSeconds: 10,
        requestedBy: 'ops-bob',
      });
      const streaming = await waitStatus(client, id, 'streaming', (s) => s.phase === 'streaming' && !!s.lag);
      assert.ok(streaming.start?.slotName, 'the slot of the load is the one CDC streams');
      assert.equal(streaming.fullLoadWorkflowId, `full-load-${mig.name}`);
      await sleep(1500);
      const committed = await writes.stop();
      assert.ok(committed > 50, `only ${committed} source transactions during the test`);
      const end = await currentWalLsn(source);
      const caught = await waitStatus(client, id, `applied past ${end}`, appliedPast(end));
      assert.ok(caught.lag!.changes > 0 && caught.lag!.txns > 0, JSON.stringify(caught.lag));
      assert.ok(Object.keys(caught.tables).length > 3, JSON.stringify(caught.tables));

      // Validation while streaming converges on the quiet source: every table Validated.
      const validated = await waitStatus(
        client,
        id,
        'all tables validated',
        (x) =>
          !!x.validation &&
          x.validation.tables.length >= 20 &&
          x.validation.pending === 0 &&
          x.validation.tables.every((v) => v.state === 'Validated' || v.state === 'No primary key'),
      );
      assert.equal(validated.validation!.mismatches, 0);
      assert.equal(validated.assessment?.blocked, false);
      // DMS-style table statistics: full-load rows, CDC counts and validation state per table.
      const stats = await client.tableStatistics(id);
      const busy = stats.filter((x) => x.fullLoadRows > 0 && x.inserts + x.updates + x.deletes > 0);
      assert.ok(busy.length > 0, JSON.stringify(stats));
      assert.ok(
        busy.every((x) => ['Validated', 'No primary key'].includes(x.validationState) && x.lastUpdateTime),
        JSON.stringify(busy),
      );
      const sa = (await client.handle(id).describe()).searchAttributes as Record<string, unknown[]>;
      assert.deepEqual(sa.FerryOwner, ['Owner']);
      assert.ok(['none', '<10s'].includes(String(sa.FerryLagBucket?.[0])), JSON.stringify(sa.FerryLagBucket));

      const s = await connect(m!.source, src.db);
      const t = await connect(m!.target, m!.targetDb);
      try {
        const n = await assertMappedEqual(s, t);
        assert.ok(n >= 20, `${n} tables compared`);
        // Nothing applied twice, nothing lost: the key-less table has exactly the source's duplicates.
        const keyless = `SELECT count(*)::int AS n FROM audit.events_log WHERE actor = 'cdc'`;
        assert.equal((await t.query(keyless)).rows[0].n, (await s.query(keyless)).rows[0].n);

        // Pause: changes wait in the slot; the target does not move.
        const paused = await client.controlCdc(id, 'pause', { by: 'alice', reason: 'maintenance window' });
        assert.equal(paused.controls.at(-1)?.action, 'pause');
        await waitStatus(client, id, 'paused', (x) => x.phase === 'paused');
        await s.query(`UPDATE inventory.products SET description = 'while paused' WHERE id = 1`);
        // A table created on the source meanwhile matches the selection: the next window adopts it.
        await s.query(`CREATE TABLE sales."New Orders ✓" (id int PRIMARY KEY, "Note" text);
          INSERT INTO sales."New Orders ✓" SELECT i, 'before ' || i FROM generate_series(1, 500) i`);
        await sleep(1500);
        const desc = `SELECT description FROM inventory.products WHERE id = 1`;
        assert.notEqual((await t.query(desc)).rows[0].description, 'while paused');
        // Resume: it arrives.
        await client.controlCdc(id, 'resume', { by: 'alice' });
        await waitStatus(client, id, 'new table adopted', (x) =>
          x.findings.some((f) => f.includes('New Orders')),
        );
        await s.query(`UPDATE sales."New Orders ✓" SET "Note" = 'after' WHERE id % 7 = 0;
          DELETE FROM sales."New Orders ✓" WHERE id % 11 = 0;
          INSERT INTO sales."New Orders ✓" SELECT i, 'later' FROM generate_series(501, 600) i`);
        const end2 = await currentWalLsn(source);
        await waitStatus(client, id, 'resumed and applied', appliedPast(end2));
        assert.equal((await t.query(desc)).rows[0].description, 'while paused');
        const newRows = `SELECT count(*)::int AS n FROM sales."New Orders ✓"`;
        assert.equal((await t.query(newRows)).rows[0].n, 600 - 45);
        await assertMappedEqual(s, t);
      } finally {
        await s.end();
        await t.end();
      }

      // Controls need an identity.
      await assert.rejects(client.controlCdc(id, 'pause', { by: ' ' }), /--by/);
      // Stop without --drop-slot: the slot stays, and the status says how much WAL it keeps.
      await client.controlCdc(id, 'stop', { by: 'alice', reason: 'test over' });
      const final = (await client.handle(id).result()) as CdcStatus;
      assert.equal(final.phase, 'stopped');
      assert.equal(final.slot?.dropped, false);
      assert.ok((final.slot?.retainedWalBytes ?? -1) >= 0);
      assert.ok(
        final.findings.some((f) => f.includes('is kept and retains')),
        final.findings.join('\n'),
      );
      const slot = await slotInfo(source, final.start!.slotName);
      assert.ok(slot, 'a stop without --drop-slot keeps the slot');
      assert.equal(slot.active, false);
      // `ferry slots` reports it as abandoned, with the WAL it keeps.
      const report = await slotReports(mig.configPath);
      const mine = report.slots.find((x) => x.slot === final.start!.slotName);
      assert.ok(mine, JSON.stringify(report));
      assert.equal(mine.migration, mig.name);
      assert.equal(mine.abandoned, true);
      assert.ok(mine.retainedWalBytes >= 0);
      // Continued as new along the way, with the controls and counters carried over.
      assert.ok(final.runs > 1, `runs: ${final.runs}`);
      assert.deepEqual(
        final.controls.map((c) => c.action),
        ['pause', 'resume', 'stop'],
      );
      assert.ok(final.lag!.txns >= caught.lag!.txns);

      // Every control is in the audit trail, with who and why.
      const audit = await listAudit(mig.targetConn, mig.name);
      assert.deepEqual(
        audit.map((a) => `${a.action}:${a.by}${a.reason ? `:${a.reason}` : ''}`),
        [
          'start:ops-bob',
          'config-change:ops-bob:first configuration seen',
          'pause:alice:maintenance window',
          'resume:alice',
          'stop:alice:test over',
        ],
      );
      assert.ok(
        final.serverLogs?.endpoints.every((e) => e.readable),
        JSON.stringify(final.serverLogs),
      );

      // Starting over while the kept slot exists: the assessment names the slot, and since no approval
      // could make the slot go away, the workflow fails at once (no gate), before anything moves.
      await client.startCdc({ migration: mig.name, mode: 'full-load-and-cdc', requestedBy: 'ops-bob' });
      await assert.rejects(client.handle(id).result(), (err: Error) => {
        const cause = (err as { cause?: Error & { type?: string } }).cause;
        assert.equal(cause?.type, 'REPLICATION_NOT_READY', String(cause?.message));
        assert.match(String(cause?.message), new RegExp(`cdc-slot \\[slot:${final.start!.slotName}\\]`));
        return true;
      });
      // Skipping the assessment, the preflight still refuses before anything is touched, saying how.
      await client.startCdc({ migration: mig.name, mode: 'full-load-and-cdc', skipAssessment: true });
      await assert.rejects(client.handle(id).result(), (err: Error) => {
        const msg = String((err as { cause?: Error }).cause?.message ?? err.message);
        assert.match(msg, new RegExp(`slot.*${final.start!.slotName}`));
        assert.match(msg, /pg_drop_replication_slot/);
        return true;
      });
    });
  });
});

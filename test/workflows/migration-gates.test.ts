// The runbook's gates said no, or asked by the wrong person: a reject at `assessment`, `poc` and
// `cutover` fails the migration with its documented error type and moves nothing it should not (no
// load after a PoC reject, the slot dropped and the source untouched after a cutover reject); a
// decision or a fallback by someone not on the approvers list is refused and the gate stays pending;
// gate deadlines at `assessment` and `poc` fail the migration like a reject, recorded as a timeout.
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { cdcWorkflowId, FerryClient, pocWorkflowId } from '../../src/client';
import { listAudit } from '../../src/engine/audit';
import { slotInfo } from '../../src/engine/cdc/source';
import { dropSlot } from '../../src/engine/fullload/snapshot';
import { WORKER_TUNING } from '../../src/worker';
import { CDC_MAPPING, cdcSource } from '../support/cdc';
import { userTables } from '../support/compare';
import { connect, dropDatabase } from '../support/pg';
import { testMigration } from '../support/stack';
import { temporalEnv, workflowBundle } from '../support/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Failure = Error & { cause?: Error & { type?: string } };

describe('migration workflow: gates rejected, refused and timed out (real activities)', function () {
  this.timeout(600_000);
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  /** A fresh CDC source and migration (approvers alice and bob), a worker, and the client. */
  async function setup(label: string, taskSettings: Record<string, unknown> = {}) {
    const src = await cdcSource(`${label.replace(/-/g, '_')}_src`);
    const tm = await testMigration({
      label,
      sourceDb: src.db,
      approvers: ['alice', 'bob'],
      migrationType: 'full-load-and-cdc',
      tableMappings: CDC_MAPPING,
      taskSettings: {
        TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
        ...taskSettings,
      },
      cdc: { progressSeconds: 1 },
    });
    cleanups.push(async () => {
      await dropSlot(tm.sourceConn, `ferry_${tm.name.replace(/-/g, '_')}`).catch(() => undefined);
      await tm.cleanup();
      await dropDatabase(src.server, src.db).catch(() => undefined);
    });
    const env = await temporalEnv();
    const taskQueue = `mig-${tm.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: tm.configPath, heartbeatMs: 500 }),
      maxConcurrentActivityTaskExecutions: 16,
    });
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = `migration-${tm.name}`;
    /** The workflow's failure (its cause carries the error type), or undefined if it completed. */
    const failure = () =>
      client
        .handle(id)
        .result()
        .then(
          () => undefined,
          (e: unknown) => e as Failure,
        );
    return { src, tm, worker, client, id, failure };
  }

  /** Wait until `workflowId`'s status (read by `read`) has gate `gate` pending. */
  async function waitGate<S extends { phase: string; pendingGate?: { name: string }; error?: string }>(
    read: () => Promise<S>,
    gate: string,
  ): Promise<S> {
    for (let i = 0; i < 2400; i++) {
      const st = await read().catch(() => undefined);
      if (st?.pendingGate?.name === gate) return st;
      if (st?.phase === 'failed') throw new Error(`failed before gate ${gate}: ${st.error}`);
      await sleep(250);
    }
    throw new Error(`gate ${gate} never opened`);
  }

  /** Someone not on the list is refused, with the approvers named, and the gate stays pending. */
  async function refusesOutsider(
    client: FerryClient,
    workflowId: string,
    gate: string,
    pendingNow: () => Promise<string | undefined>,
  ) {
    for (const decision of ['approve', 'reject'] as const) {
      await assert.rejects(
        client.decide(workflowId, decision, { gate, by: 'mallory', reason: 'trust me' }),
        (e: Error) => {
          assert.match(e.message, new RegExp(`${decision} refused: "mallory" is not an approver`));
          assert.match(e.message, /approvers: alice, bob/);
          return true;
        },
      );
    }
    assert.equal(await pendingNow(), gate, `gate ${gate} still pending after the refused decisions`);
  }

  it('assessment: approve without a reason and outsiders are refused; a reject fails with ASSESSMENT_BLOCKED, nothing loaded', async () => {
    const { tm, worker, client, id, failure } = await setup('mig-rej-assess', {
      FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING' },
    });
    // An overridable blocker: a target table the load writes into already holds a row.
    const t0 = await connect(tm.target, tm.targetDb);
    try {
      await t0.query(`CREATE SCHEMA inventory; CREATE TABLE inventory.products (id int PRIMARY KEY);
        INSERT INTO inventory.products VALUES (42)`);
    } finally {
      await t0.end();
    }
    const err = await worker.runUntil(async () => {
      await client.startMigration({ migration: tm.name, requestedBy: 'ops-bob' });
      const st = await waitGate(() => client.migrationStatus(id), 'assessment');
      assert.ok(
        st.assessment?.findings.some((f) => f.id === 'target-table-not-empty' && f.severity === 'blocker'),
        JSON.stringify(st.assessment?.findings.filter((f) => f.severity === 'blocker')),
      );
      assert.deepEqual(st.pendingGate?.approvers, ['alice', 'bob']);
      const pending = async () => (await client.migrationStatus(id)).pendingGate?.name;
      await refusesOutsider(client, id, 'assessment', pending);
      // Approving overrides a blocker: without a reason the validator refuses it.
      await assert.rejects(
        client.decide(id, 'approve', { gate: 'assessment', by: 'alice' }),
        /approve refused: approving gate "assessment" overrides its findings: say why with --reason/,
      );
      await assert.rejects(
        client.decide(id, 'approve', { gate: 'assessment', by: 'alice', reason: '   ' }),
        /say why with --reason/,
      );
      // The wrong gate is refused too.
      await assert.rejects(
        client.decide(id, 'approve', { gate: 'cutover', by: 'alice', reason: 'x' }),
        /pending gate is "assessment"/,
      );
      // A fallback by an outsider is refused before it enters history.
      await assert.rejects(
        client.fallback(id, { by: 'mallory', reason: 'x' }),
        /fallback refused: "mallory" is not an approver/,
      );
      assert.equal(await pending(), 'assessment');
      await client.decide(id, 'reject', { gate: 'assessment', by: 'bob', reason: 'empty that table first' });
      return failure();
    });
    assert.equal(err?.cause?.type, 'ASSESSMENT_BLOCKED', String(err?.cause?.message));
    assert.match(String(err?.cause?.message), /bob rejected the migration: empty that table first/);
    const st = await client.migrationStatus(id);
    assert.equal(st.phase, 'failed');
    assert.deepEqual(Object.keys(st.phases), ['catalog', 'assess', 'failed']);
    assert.deepEqual(
      st.approvals.map((a) => [a.gate, a.decision, a.by]),
      [['assessment', 'rejected', 'bob']],
    );
    // Nothing moved: no PoC, no CDC child, the target holds only the table that was there.
    await assert.rejects(client.describe(pocWorkflowId(tm.name)), /not found/i);
    await assert.rejects(client.describe(cdcWorkflowId(tm.name)), /not found/i);
    const t = await connect(tm.target, tm.targetDb);
    try {
      assert.deepEqual(await userTables(t), ['inventory.products']);
      assert.deepEqual((await t.query('SELECT id FROM inventory.products')).rows, [{ id: 42 }]);
    } finally {
      await t.end();
    }
    assert.equal(await slotInfo(tm.sourceConn, `ferry_${tm.name.replace(/-/g, '_')}`), undefined);
    const audit = await listAudit(tm.targetConn, tm.name);
    assert.deepEqual(
      audit.filter((a) => a.action === 'reject').map((a) => [a.by, a.reason, a.detail?.gate]),
      [['bob', 'empty that table first', 'assessment']],
    );
    assert.ok(!audit.some((a) => a.by === 'mallory'), 'refused requests leave no audit entry');
  });

  it('assessment gate past its deadline: ASSESSMENT_BLOCKED, recorded as a timeout', async () => {
    const { tm, worker, client, id, failure } = await setup('mig-to-assess', {
      FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING' },
    });
    const t0 = await connect(tm.target, tm.targetDb);
    try {
      await t0.query(`CREATE SCHEMA inventory; CREATE TABLE inventory.products (id int PRIMARY KEY);
        INSERT INTO inventory.products VALUES (42)`);
    } finally {
      await t0.end();
    }
    const err = await worker.runUntil(async () => {
      await client.startMigration({ migration: tm.name, gateTimeout: '3s' });
      return failure();
    });
    assert.equal(err?.cause?.type, 'ASSESSMENT_BLOCKED', String(err?.cause?.message));
    assert.match(String(err?.cause?.message), /nobody approved an override within 3s/);
    const st = await client.migrationStatus(id);
    assert.deepEqual(
      st.approvals.map((a) => [a.gate, a.decision, a.by]),
      [['assessment', 'timed-out', 'ferry']],
    );
    const audit = await listAudit(tm.targetConn, tm.name);
    assert.ok(
      audit.some((a) => a.action === 'gate-timeout' && a.detail?.gate === 'assessment'),
      JSON.stringify(audit),
    );
  });

  it('poc: outsiders are refused; a reject fails with POC_REJECTED, nothing loaded, the reject audited', async () => {
    const { tm, worker, client, id, failure } = await setup('mig-rej-poc');
    const pocId = pocWorkflowId(tm.name);
    const err = await worker.runUntil(async () => {
      await client.startMigration({ migration: tm.name, requestedBy: 'ops-bob' });
      const st = await waitGate(() => client.status(pocId), 'poc');
      assert.deepEqual(st.pendingGate?.approvers, ['alice', 'bob']);
      assert.equal((await client.migrationStatus(id)).phase, 'poc');
      await refusesOutsider(client, pocId, 'poc', async () => (await client.status(pocId)).pendingGate?.name);
      await assert.rejects(
        client.fallback(id, { by: 'mallory', reason: 'x' }),
        /fallback refused: "mallory" is not an approver/,
      );
      await client.decide(pocId, 'reject', { gate: 'poc', by: 'alice', reason: 'restore too slow' });
      return failure();
    });
    assert.equal(err?.cause?.type, 'POC_REJECTED', String(err?.cause?.message));
    assert.match(String(err?.cause?.message), /rejected by alice: restore too slow/);
    const st = await client.migrationStatus(id);
    assert.equal(st.phase, 'failed');
    assert.equal(st.poc?.outcome, 'rejected');
    assert.ok(!st.phases['full-load'] && !st.cdcWorkflowId, JSON.stringify(st.phases));
    await assert.rejects(client.describe(cdcWorkflowId(tm.name)), /not found/i);
    const t = await connect(tm.target, tm.targetDb);
    try {
      assert.deepEqual(await userTables(t), [], 'no table of the migration on the target');
    } finally {
      await t.end();
    }
    assert.equal(await slotInfo(tm.sourceConn, `ferry_${tm.name.replace(/-/g, '_')}`), undefined);
    const audit = await listAudit(tm.targetConn, tm.name);
    assert.deepEqual(
      audit.filter((a) => a.action === 'reject').map((a) => [a.by, a.reason, a.detail?.gate]),
      [['alice', 'restore too slow', 'poc']],
    );
  });

  it('poc gate past its deadline: POC_REJECTED, recorded as a timeout, nothing loaded', async () => {
    const { tm, worker, client, id, failure } = await setup('mig-to-poc');
    const err = await worker.runUntil(async () => {
      await client.startMigration({ migration: tm.name, gateTimeout: '4s' });
      return failure();
    });
    assert.equal(err?.cause?.type, 'POC_REJECTED', String(err?.cause?.message));
    const st = await client.migrationStatus(id);
    assert.equal(st.phase, 'failed');
    assert.equal(st.poc?.outcome, 'rejected');
    const poc = await client.status(pocWorkflowId(tm.name));
    assert.deepEqual(
      poc.approvals.map((a) => [a.gate, a.decision, a.by]),
      [['poc', 'timed-out', 'ferry']],
    );
    await assert.rejects(client.describe(cdcWorkflowId(tm.name)), /not found/i);
    const audit = await listAudit(tm.targetConn, tm.name);
    assert.ok(
      audit.some((a) => a.action === 'gate-timeout' && a.detail?.gate === 'poc'),
      JSON.stringify(audit),
    );
  });

  it('cutover: outsiders are refused; a reject fails with CUTOVER_NOT_APPROVED, the slot dropped, the source untouched', async () => {
    const { src, tm, worker, client, id, failure } = await setup('mig-rej-cut');
    const slot = `ferry_${tm.name.replace(/-/g, '_')}`;
    const err = await worker.runUntil(async () => {
      await client.startMigration({
        migration: tm.name,
        skipPoc: true,
        postCutoverSeconds: 1,
        cdc: { progressSeconds: 1 },
      });
      await waitGate(() => client.migrationStatus(id), 'cutover');
      assert.ok(await slotInfo(tm.sourceConn, slot), 'the CDC slot exists while the gate waits');
      const pending = async () => (await client.migrationStatus(id)).pendingGate?.name;
      await refusesOutsider(client, id, 'cutover', pending);
      await assert.rejects(
        client.fallback(id, { by: 'mallory', reason: 'x' }),
        /fallback refused: "mallory" is not an approver/,
      );
      await client.decide(id, 'reject', { gate: 'cutover', by: 'bob', reason: 'not this week' });
      return failure();
    });
    assert.equal(err?.cause?.type, 'CUTOVER_NOT_APPROVED', String(err?.cause?.message));
    assert.match(String(err?.cause?.message), /rejected by bob: not this week/);
    const st = await client.migrationStatus(id);
    assert.equal(st.phase, 'failed');
    assert.ok(!st.phases.cutover && !st.cutover, 'the cutover never started');
    assert.equal(await slotInfo(tm.sourceConn, slot), undefined, 'slot dropped');
    const cdc = await client.describe(cdcWorkflowId(tm.name));
    assert.notEqual(cdc.status.name, 'RUNNING', 'the CDC child stopped');
    // The source was never frozen: the application keeps writing.
    const s = await connect(tm.source, src.db);
    try {
      const ro = await s.query(`SHOW default_transaction_read_only`);
      assert.equal(ro.rows[0].default_transaction_read_only, 'off');
      await s.query(`UPDATE inventory.products SET description = 'still the primary' WHERE id = 1`);
    } finally {
      await s.end();
    }
    const audit = await listAudit(tm.targetConn, tm.name);
    assert.deepEqual(
      audit.filter((a) => a.action === 'reject').map((a) => [a.by, a.reason, a.detail?.gate]),
      [['bob', 'not this week', 'cutover']],
    );
  });
});

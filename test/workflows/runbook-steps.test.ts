// The runbook steps a full-load workflow now walks before and after moving data, end to end with real
// activities: the premigration assessment stops the run at gate `assessment` on a blocker (an
// extension Aurora PostgreSQL does not offer), an approver overrides with a reason or rejects; the
// load is validated; every decision lands in the audit trail; search attributes tag the workflow.
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { WORKER_TUNING } from '../../src/worker';
import { createActivities } from '../../src/activities';
import { FerryClient, fullLoadWorkflowId } from '../../src/client';
import { listAudit } from '../../src/engine/audit';
import type { FullLoadStatus } from '../../src/workflows/definitions';
import { connect, dropDatabase, testServer } from '../support/pg';
import { seededSource, testMigration, type TestMigration } from '../support/stack';
import { temporalEnv, workflowBundle } from '../support/temporal';

const SALES_ONLY = {
  rules: [
    {
      'rule-type': 'selection',
      'rule-id': '1',
      'rule-name': 'sales',
      'object-locator': { 'schema-name': 'sales', 'table-name': '%' },
      'rule-action': 'include',
    },
  ],
};

describe('runbook steps of the full-load workflow (assessment gate, validation, audit)', function () {
  this.timeout(300_000);
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /** A source database cloned from the sample, with file_fdw installed (not available on Aurora). */
  async function blockedMigration(label: string): Promise<TestMigration> {
    const src = await testServer(13);
    const template = await seededSource(1);
    const db = `${label.replace(/-/g, '_')}_src_${Date.now() % 100000}`;
    const admin = await connect(src);
    try {
      await admin.query(`CREATE DATABASE "${db}" TEMPLATE "${template}"`);
    } finally {
      await admin.end();
    }
    cleanups.push(() => dropDatabase(src, db));
    const c = await connect(src, db);
    try {
      await c.query('CREATE EXTENSION file_fdw');
    } finally {
      await c.end();
    }
    const m = await testMigration({
      label,
      sourceDb: db,
      approvers: ['alice'],
      tableMappings: SALES_ONLY,
      taskSettings: { ValidationSettings: { EnableValidation: true } },
    });
    cleanups.push(() => m.cleanup());
    return m;
  }

  async function withWorker<T>(m: TestMigration, fn: (client: FerryClient) => Promise<T>): Promise<T> {
    const env = await temporalEnv();
    const taskQueue = `runbook-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 1000 }),
    });
    return worker.runUntil(fn(FerryClient.fromClient(env.client, taskQueue)));
  }

  async function waitForGate(client: FerryClient, id: string): Promise<FullLoadStatus> {
    for (let i = 0; i < 600; i++) {
      const st = await client.fullLoadStatus(id).catch(() => undefined);
      if (st?.pendingGate) return st;
      if (st?.phase === 'failed') throw new Error(`failed before the gate: ${st.error}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the assessment gate never opened');
  }

  it('stops at gate `assessment` on a blocker; an override needs an approver and a reason, and is audited', async () => {
    const m = await blockedMigration('rb-override');
    const status = await withWorker(m, async (client) => {
      const id = fullLoadWorkflowId(m.name);
      await client.startFullLoad({ migration: m.name, requestedBy: 'ops-bob' });
      const st = await waitForGate(client, id);
      assert.equal(st.phase, 'awaiting-approval');
      assert.equal(st.pendingGate?.name, 'assessment');
      assert.ok(st.assessment?.blocked);
      const blocker = st.assessment.findings.find((f) => f.id === 'extension-not-on-aurora');
      assert.ok(blocker, JSON.stringify(st.assessment.findings));
      assert.match(blocker.object, /file_fdw/);
      // Nothing moved yet.
      assert.equal(st.planId, undefined);

      // `ferry approvals` lists it, with who may decide and what about.
      const pending = (await client.pendingApprovals()).find((p) => p.workflowId === id);
      assert.ok(pending, 'the gate is listed');
      assert.equal(pending.gate, 'assessment');
      assert.deepEqual(pending.approvers, ['alice']);
      assert.equal(pending.database, m.sourceDb);
      assert.equal(pending.owner, 'Owner');
      assert.match(pending.summary ?? '', /^[1-9]\d* blocker\(s\)/);
      assert.ok(pending.deadline && pending.since);

      const desc = await client.handle(id).describe();
      const sa = desc.searchAttributes as Record<string, unknown[]>;
      assert.deepEqual(sa.FerryPendingGate, ['assessment']);
      assert.deepEqual(sa.FerryDatabase, [m.sourceDb]);
      assert.deepEqual(sa.FerryOwner, ['Owner']);

      await assert.rejects(
        client.decide(id, 'approve', { gate: 'assessment', by: 'mallory', reason: 'why not' }),
        /not an approver/,
      );
      await assert.rejects(client.decide(id, 'approve', { gate: 'assessment', by: 'alice' }), /--reason/);
      await client.decide(id, 'approve', {
        gate: 'assessment',
        by: 'alice',
        reason: 'file_fdw is unused by the application; dropped after cutover',
      });
      return (await client.handle(id).result()) as FullLoadStatus;
    });
    assert.equal(status.phase, 'completed');
    assert.equal(status.assessment?.overriddenBy, 'alice');
    assert.deepEqual(
      status.approvals.map((a) => [a.gate, a.decision, a.by]),
      [['assessment', 'approved', 'alice']],
    );
    // Validated after the load: every table, no mismatch.
    assert.ok(status.validation?.enabled);
    assert.equal(status.validation.mismatches, 0);
    assert.ok(status.validation.tables.length >= 3);
    assert.ok(
      status.validation.tables.every((t) => t.state === 'Validated'),
      JSON.stringify(status.validation.tables),
    );

    const audit = await listAudit(m.targetConn, m.name);
    const actions = audit.map((a) => `${a.action}:${a.by}`);
    assert.deepEqual(actions, ['start:ops-bob', 'config-change:ops-bob', 'override:alice']);
    assert.match(audit[2].reason ?? '', /file_fdw is unused/);
  });

  it('a rejected assessment fails the workflow (ASSESSMENT_BLOCKED) before any data moves', async () => {
    const m = await blockedMigration('rb-reject');
    await withWorker(m, async (client) => {
      const id = fullLoadWorkflowId(m.name);
      await client.startFullLoad({ migration: m.name, requestedBy: 'ops-bob' });
      await waitForGate(client, id);
      await client.decide(id, 'reject', {
        gate: 'assessment',
        by: 'alice',
        reason: 'install nothing unsupported',
      });
      const err = await client
        .handle(id)
        .result()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof WorkflowFailedError);
      const st = await client.fullLoadStatus(id);
      assert.match(st.error ?? '', /rejected the migration: install nothing unsupported/);
    });
    const tgt = await connect(m.target, m.targetDb);
    try {
      const r = await tgt.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'ferry')`,
      );
      assert.equal(r.rows[0].n, 0, 'no table was created on the target');
    } finally {
      await tgt.end();
    }
    const audit = await listAudit(m.targetConn, m.name);
    assert.deepEqual(
      audit.map((a) => a.action),
      ['start', 'config-change', 'reject'],
    );
  });
});

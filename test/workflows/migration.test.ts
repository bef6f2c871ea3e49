// The whole runbook as one workflow, with real activities and writes running on the source until the
// cutover freezes them: assessment, PoC (gate `poc`), full load and CDC, validation, gate `cutover`,
// the cutover (freeze, drain, final validation, sequences), post-cutover watch, done. Nothing lost,
// nothing duplicated, the write-freeze measured against the SLA.
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { FerryClient } from '../../src/client';
import { listAudit } from '../../src/engine/audit';
import { dropSlot } from '../../src/engine/fullload/snapshot';
import { WORKER_TUNING } from '../../src/worker';
import type { MigrationStatus } from '../../src/workflows/definitions';
import { assertMappedEqual, CDC_MAPPING, cdcSource, startWorkload } from '../support/cdc';
import { connect, dropDatabase } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';
import { temporalEnv, workflowBundle } from '../support/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('migration workflow: the whole runbook (real activities, PostgreSQL 13 -> 15)', function () {
  this.timeout(600_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  after(async () => {
    if (m) {
      await dropSlot(m.sourceConn, `ferry_${m.name.replace(/-/g, '_')}`).catch(() => undefined);
      const c = await connect(m.source);
      await c
        .query(`ALTER DATABASE "${sourceDb}" RESET default_transaction_read_only`)
        .catch(() => undefined);
      await c.end();
      await m.cleanup();
    }
    if (sourceDb) await dropDatabase(m!.source, sourceDb).catch(() => undefined);
  });

  it('assesses, proves, loads, streams, validates and cuts over with writes running; nothing lost', async () => {
    const src = await cdcSource('mig_wf_src');
    sourceDb = src.db;
    m = await testMigration({
      label: 'mig-wf',
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
    const env = await temporalEnv();
    const taskQueue = `mig-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 500 }),
      maxConcurrentActivityTaskExecutions: 16,
    });
    const client = FerryClient.fromClient(env.client, taskQueue);
    const mig = m;
    const id = `migration-${mig.name}`;

    const final = await worker.runUntil(async () => {
      const writes = startWorkload(src.server, src.db, 2);
      await client.startMigration({
        migration: mig.name,
        requestedBy: 'ops-bob',
        postCutoverSeconds: 1,
        cdc: { progressSeconds: 1, validationIntervalSeconds: 10 },
      });
      // Approve each gate as it opens, as the application's approver would.
      const decided = new Set<string>();
      for (let i = 0; ; i++) {
        assert.ok(i < 1200, 'the runbook did not reach its end in 10 minutes');
        const desc = await client.describe(id);
        if (desc.status.name !== 'RUNNING') break;
        for (const p of await client.pendingApprovals()) {
          const key = `${p.workflowId}:${p.gate}`;
          if (decided.has(key) || (p.workflowId !== id && p.workflowId !== `poc-${mig.name}`)) continue;
          if (p.gate === 'cutover') {
            const st = await client.migrationStatus(id);
            assert.ok(st.cdc?.validation?.enabled && st.cdc.validation.passes > 0, JSON.stringify(st.cdc));
            assert.ok(writes.committed() > 20, 'the source is written while the gate waits');
          }
          await client.decide(p.workflowId, 'approve', {
            gate: p.gate,
            by: 'alice',
            reason: `${p.gate} checked`,
          });
          decided.add(key);
        }
        await sleep(500);
      }
      // The freeze ended the writer's session: it stops by itself.
      await writes.stop().catch(() => undefined);
      const st = await client.migrationStatus(id);
      assert.equal(st.phase, 'done', `${st.error}\n${st.findings.join('\n')}`);
      assert.deepEqual([...decided].map((k) => k.split(':').at(-1)).sort(), ['cutover', 'poc']);
      return st;
    });

    assert.equal(final.phase, 'done', final.error);
    const order = Object.keys(final.phases);
    assert.deepEqual(order, [
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
    const c = final.cutover!;
    assert.ok(c.writeFreezeMs !== undefined && c.writeFreezeMs > 0, JSON.stringify(c));
    assert.equal(c.withinSla, true, `write freeze ${c.writeFreezeMs} ms within the SLA's 15 min`);
    assert.equal(c.validation?.mismatches, 0);
    assert.deepEqual(
      c.steps.map((s) => s.name),
      ['window', 'freeze', 'drained', 'validated', 'sequences', 'switch'],
    );
    console.log(
      `      phases: ${order.map((p) => `${p} ${(final.phases[p as keyof MigrationStatus['phases']]?.seconds ?? 0).toFixed(1)} s`).join(', ')}; write freeze ${c.writeFreezeMs} ms`,
    );

    // Zero lost or duplicated rows: the target equals the frozen source, mapped.
    const s = await connect(mig.source, src.db);
    const t = await connect(mig.target, mig.targetDb);
    try {
      await assertMappedEqual(s, t);
      // The source stays frozen for the application after the cutover.
      await assert.rejects(
        s.query(`UPDATE inventory.products SET description = 'late' WHERE id = 1`),
        /read-only/,
      );
    } finally {
      await s.end();
      await t.end();
    }
    const audit = await listAudit(mig.targetConn, mig.name);
    assert.deepEqual(
      audit.filter((a) => a.action === 'approve').map((a) => [a.by, a.detail?.gate]),
      [
        ['alice', 'poc'],
        ['alice', 'cutover'],
      ],
    );
  });
});

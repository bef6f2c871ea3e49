// The PoC workflow end to end with real activities: PostgreSQL 13 sample database -> scratch
// database on PostgreSQL 15, through the real Temporal dev server.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { WORKER_TUNING } from '../../src/worker';
import { createActivities } from '../../src/activities';
import { FerryClient, pocWorkflowId } from '../../src/client';
import { scratchDatabaseName } from '../../src/engine/poc';
import { temporalEnv, workflowBundle } from '../support/temporal';
import { targetDatabases, testMigration, TestMigration } from '../support/stack';

async function waitForGate(client: FerryClient, id: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const st = await client.status(id).catch(() => undefined);
    if (st?.pendingGate) return st;
    const d = await client.describe(id);
    if (d.status.name !== 'RUNNING')
      throw new Error(`workflow ended (${d.status.name}) before the gate: ${st?.error}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('gate never reached');
}

describe('PoC workflow (real activities, PostgreSQL 13 -> 15)', function () {
  this.timeout(240_000);
  const cleanups: TestMigration[] = [];
  after(async () => {
    for (const m of cleanups) await m.cleanup();
  });

  async function withWorker<T>(m: TestMigration, fn: (client: FerryClient) => Promise<T>): Promise<T> {
    const env = await temporalEnv();
    const taskQueue = `poc-real-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 1000 }),
    });
    return worker.runUntil(fn(FerryClient.fromClient(env.client, taskQueue)));
  }

  it('migrates the sample database into a scratch database with equal counts and checksums, then cleans up', async () => {
    const m = await testMigration({ label: 'poc-happy' });
    cleanups.push(m);
    const id = pocWorkflowId(m.name);
    const res = await withWorker(m, async (client) => {
      await client.startPoc({ migration: m.name });
      const st = await waitForGate(client, id);
      // While waiting at the gate the scratch database holds the restored copy.
      assert.deepEqual(await targetDatabases(m.target, scratchDatabaseName(m.name)), [
        scratchDatabaseName(m.name),
      ]);
      assert.equal(st.verify?.ok, true, st.verify?.differences.join('\n'));
      assert.ok(st.verify!.tables >= 15, `counted ${st.verify!.tables} tables`);
      assert.ok(st.verify!.checksummed >= 15);
      assert.ok(st.source!.serverVersion.startsWith('13.'));
      assert.ok(st.dump!.bytes > 0 && existsSync(st.dump!.file));
      assert.ok(st.estimate!.estimatedSeconds > 0);
      const plan = JSON.parse(await fs.readFile(st.fallbackPlanFile!, 'utf8'));
      assert.ok(
        plan.commands.some(
          (c: string) => c.includes('pg_restore') && c.includes(path.basename(st.dump!.file)),
        ),
      );
      await client.decide(id, 'approve', { gate: 'poc', by: 'alice', reason: 'equal' });
      const r = await client.result(id);

      // Secrets never enter history: export it and grep for both passwords.
      const history = await client.handle(id).fetchHistory();
      const json = JSON.stringify(historyToJSON(history));
      assert.ok(!json.includes(m.source.password), 'source password found in history');
      assert.ok(!json.includes(m.target.password), 'target password found in history');
      if (process.env.FERRY_RECORD_HISTORY) {
        await fs.writeFile(process.env.FERRY_RECORD_HISTORY, historyToJSON(history));
      }
      return r;
    });
    assert.equal(res.outcome, 'approved');
    assert.ok(res.status.steps.every((s) => s.status === 'done' && typeof s.seconds === 'number'));
    assert.deepEqual(
      await targetDatabases(m.target, scratchDatabaseName(m.name)),
      [],
      'scratch database dropped',
    );
  });

  it('reject drops the scratch database and leaves the source untouched', async () => {
    const m = await testMigration({ label: 'poc-reject' });
    cleanups.push(m);
    const id = pocWorkflowId(m.name);
    const res = await withWorker(m, async (client) => {
      await client.startPoc({ migration: m.name, scope: { schemas: ['public', 'sales'], tables: [] } });
      const st = await waitForGate(client, id);
      assert.ok(st.verify!.tables > 0);
      await client.decide(id, 'reject', { gate: 'poc', by: 'alice', reason: 'not now' });
      return client.result(id);
    });
    assert.equal(res.outcome, 'rejected');
    assert.equal(res.status.compensations[0].status, 'done');
    assert.deepEqual(await targetDatabases(m.target, scratchDatabaseName(m.name)), []);
  });

  it('a wrong password fails fast, non-retryable, naming the endpoint and never echoing the secret', async () => {
    const m = await testMigration({ label: 'poc-badpw', sourcePassword: 'definitely-wrong-pw-123' });
    cleanups.push(m);
    const id = pocWorkflowId(m.name);
    await withWorker(m, async (client) => {
      const t0 = Date.now();
      await client.startPoc({ migration: m.name });
      await assert.rejects(client.result(id), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure);
        assert.equal(e.cause.type, 'AUTH_FAILED');
        assert.match(e.cause.message, /onsite/);
        assert.ok(!e.cause.message.includes('definitely-wrong-pw-123'));
        return true;
      });
      assert.ok(Date.now() - t0 < 30_000, 'no retries on a wrong password');
    });
  });
});

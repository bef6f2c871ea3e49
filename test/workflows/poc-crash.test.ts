// A worker process killed (SIGKILL) in the middle of pg_restore: Temporal moves the attempt to a
// new worker after the heartbeat timeout, the retry starts from a fresh scratch database, and the
// PoC completes with equal counts and checksums.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { FerryClient, pocWorkflowId } from '../../src/client';
import { connect, freshDatabase, testServer, dropDatabase } from '../support/pg';
import { temporalEnv } from '../support/temporal';
import { startWorkerProcess } from '../support/worker-process';
import { testMigration, TestMigration } from '../support/stack';

describe('PoC survives a worker killed mid pg_restore', function () {
  this.timeout(300_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await m?.cleanup();
    if (sourceDb) await dropDatabase(await testServer(13), sourceDb);
  });

  it('completes with equal counts after SIGKILL of the worker and a restart', async () => {
    // A source big enough that pg_restore runs for several seconds.
    const src = await testServer(13);
    sourceDb = await freshDatabase(src, 'crash_src');
    const c = await connect(src, sourceDb);
    await c.query(`CREATE SCHEMA "Big Data";
      CREATE TABLE "Big Data".events (id bigint PRIMARY KEY, "Payload" text, at timestamptz);
      INSERT INTO "Big Data".events SELECT i, repeat(md5(i::text), 4), '2026-01-01'::timestamptz + i * interval '1 s'
        FROM generate_series(1, 1500000) i;
      CREATE INDEX ON "Big Data".events (at);
      CREATE INDEX ON "Big Data".events ("Payload");
      CREATE TABLE small (id int PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a'), (2, NULL);
      ANALYZE;`);
    await c.end();
    m = await testMigration({ label: 'poc-crash', sourceDb, poc: { jobs: 1, sizeCapMb: 1024 } });

    const env = await temporalEnv();
    const taskQueue = `poc-crash-${m.name}`;
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = pocWorkflowId(m.name);
    const first = startWorkerProcess(m.configPath, env.address, taskQueue);
    children.push(first);
    await client.startPoc({ migration: m.name, heartbeatTimeout: '5 seconds' });

    // Wait until the restore activity is running on the first worker, then kill it hard.
    for (let i = 0; ; i++) {
      assert.ok(i < 1200, 'restore never started');
      const d = await client.describe(id);
      const pending = d.raw.pendingActivities ?? [];
      const restoring = pending.find((a) => a.activityType?.name === 'restoreToScratch' && a.lastStartedTime);
      if (restoring && restoring.heartbeatDetails) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    const second = startWorkerProcess(m.configPath, env.address, taskQueue);
    children.push(second);
    let st;
    for (let i = 0; ; i++) {
      assert.ok(i < 1500, 'gate never reached after restart');
      st = await client.status(id).catch(() => undefined);
      if (st?.pendingGate) break;
      assert.notEqual(st?.phase, 'failed', st?.error);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(st!.verify?.ok, true, st!.verify?.differences.join('\n'));
    await client.decide(id, 'approve', { gate: 'poc', by: 'alice' });
    const res = await client.result(id);
    assert.equal(res.outcome, 'approved');

    // The restore really ran twice: the recorded attempt of restoreToScratch is ≥ 2.
    const history = await client.handle(id).fetchHistory();
    const scheduled = history.events!.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'restoreToScratch',
    )!;
    const started = history.events!.find(
      (e) =>
        e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled.eventId?.toString(),
    )!;
    assert.ok((started.activityTaskStartedEventAttributes!.attempt ?? 0) >= 2, 'restore was not retried');
    second.kill('SIGTERM');
  });
});

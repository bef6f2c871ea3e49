// History size of the full load as tables grow: the parent pays about one event per table, each
// child a bounded number per table it loads, so 1,000 tables stay far under Temporal's limits
// (10,240-event warning, 51,200 hard limit per execution).
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { WORKER_TUNING } from '../../src/worker';
import { createActivities } from '../../src/activities';
import { FerryClient, fullLoadWorkflowId } from '../../src/client';
import type { FullLoadStatus } from '../../src/workflows/definitions';
import { connect, dropDatabase, freshDatabase, testServer } from '../support/pg';
import { testMigration, TestMigration } from '../support/stack';
import { temporalEnv, workflowBundle } from '../support/temporal';

const TABLES = 200;
const PER_CHILD = 50;

describe('full load of many tables stays within history limits', function () {
  this.timeout(600_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  after(async () => {
    await m?.cleanup();
    if (sourceDb) await dropDatabase(await testServer(13), sourceDb);
  });

  it(`loads ${TABLES} tables with bounded events per table in every history`, async () => {
    const src = await testServer(13);
    sourceDb = await freshDatabase(src, 'flscale_src');
    const c = await connect(src, sourceDb);
    await c.query(`DO $$ BEGIN
      FOR i IN 1..${TABLES} LOOP
        EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', 't' || i);
        EXECUTE format('INSERT INTO %I SELECT g, md5(g::text) FROM generate_series(1, 10) g', 't' || i);
      END LOOP; END $$`);
    await c.end();
    m = await testMigration({ label: 'fl-scale', sourceDb });
    const env = await temporalEnv();
    const taskQueue = `fl-scale-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 2000 }),
      maxConcurrentActivityTaskExecutions: 16,
    });
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = fullLoadWorkflowId(m.name);
    const status = await worker.runUntil(async () => {
      await client.startFullLoad({ migration: m!.name, tablesPerChild: PER_CHILD });
      return (await client.handle(id).result()) as FullLoadStatus;
    });
    assert.equal(status.totals.completed, TABLES);
    assert.equal(status.totals.rows, TABLES * 10);

    const count = async (wfId: string) => (await client.handle(wfId).fetchHistory()).events!.length;
    const parent = await count(id);
    console.log(`      parent: ${parent} events for ${TABLES} tables`);
    // About 0.6 events per table: 1,000 tables cost the parent ~700 events (limit warns at 10,240).
    assert.ok(parent <= 60 + TABLES, `parent history has ${parent} events for ${TABLES} tables`);
    for (let i = 1; i <= TABLES / PER_CHILD; i++) {
      const child = await count(`${id}-tables-${i}-of-${TABLES / PER_CHILD}`);
      // Per table: a plan and a copy activity (3 events each) plus workflow tasks and batched signals:
      // about 11 events a table, so the default 100 tables a child is ~1,100 events.
      assert.ok(
        child <= 20 + 12 * PER_CHILD,
        `child ${i} history has ${child} events for ${PER_CHILD} tables`,
      );
      console.log(`      child ${i}: ${child} events for ${PER_CHILD} tables`);
    }
  });
});

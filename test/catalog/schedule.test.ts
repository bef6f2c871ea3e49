// The scheduled catalog: the catalogRefresh workflow runs the refresh activity on a real Temporal dev
// server and a worker, and ensureCatalogSchedule creates, then updates, the ferry-catalog Schedule.
import assert from 'node:assert/strict';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { createCatalogActivities } from '../../src/activities/catalog';
import { CATALOG_SCHEDULE_ID, ensureCatalogSchedule } from '../../src/cli/catalog';
import type { catalogRefresh } from '../../src/workflows/catalog';
import { temporalEnv } from '../support/temporal';
import { testMigration, type TestMigration } from '../support/stack';

describe('catalog schedule', function () {
  let tm: TestMigration;
  before(async () => {
    tm = await testMigration({ label: 'catalog-schedule' });
  });
  after(async () => {
    await tm?.cleanup();
  });

  it('catalogRefresh runs a refresh through the activity; the schedule is created then updated', async () => {
    const env = await temporalEnv();
    const taskQueue = `catalog-${tm.name}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      // Only this workflow: the catalog does not depend on the migration workflows' bundle.
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: require.resolve('../../src/workflows/catalog'),
        logger: new DefaultLogger('WARN'),
      }),
      activities: createCatalogActivities({ configPath: tm.configPath }),
    });
    const summary = await worker.runUntil(
      env.client.workflow.execute<typeof catalogRefresh>('catalogRefresh', {
        taskQueue,
        workflowId: `catalog-refresh-${tm.name}`,
        args: [{ sampleMs: 100 }],
      }),
    );
    assert.ok(summary.refreshId > 0);
    assert.ok(summary.databases >= 2, `databases ${summary.databases}`);
    assert.deepEqual(summary.notifyFailures, []);

    const handle = env.client.schedule.getHandle(CATALOG_SCHEDULE_ID);
    try {
      assert.equal(await ensureCatalogSchedule(env.client, { everyMs: 3_600_000, taskQueue }), 'created');
      assert.equal(await ensureCatalogSchedule(env.client, { everyMs: 1_800_000, taskQueue }), 'updated');
      const d = await handle.describe();
      assert.equal(d.action.type, 'startWorkflow');
      assert.equal(d.action.type === 'startWorkflow' && d.action.workflowType, 'catalogRefresh');
      assert.equal(d.action.type === 'startWorkflow' && d.action.taskQueue, taskQueue);
      assert.equal(Number(d.spec.intervals?.[0]?.every), 1_800_000);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });
});

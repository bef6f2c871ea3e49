// Replication tasks: the create request carries the same mapping/settings JSON Ferry reads, a failure
// stop reason becomes an error naming it, starts and stops are idempotent, table statistics are paged
// and mapped into Ferry's shape, reloads send the right tables.
import assert from 'node:assert/strict';
import {
  DmsError,
  ensureReplicationTask,
  fullLoadFinished,
  mapTableStatistics,
  reloadTables,
  replicationTaskRequest,
  startReplicationTask,
  stopReasonCode,
  stopReplicationTask,
  tableStatistics,
  taskView,
  waitTaskStatus,
} from '../../src/dms';
import { FakeAws } from './fake';
import { FAST, TABLE_MAPPINGS, TASK_SETTINGS_TEXT, sampleSpec } from './helpers';

const ARNS = {
  replicationInstanceArn: 'arn:aws:dms:eu-west-1:123456789012:rep:FERRY-ORDERS',
  sourceEndpointArn: 'arn:aws:dms:eu-west-1:123456789012:endpoint:FERRY-ORDERS-SOURCE',
  targetEndpointArn: 'arn:aws:dms:eu-west-1:123456789012:endpoint:FERRY-ORDERS-TARGET',
};

describe('dms replication tasks', () => {
  let aws: FakeAws;
  beforeEach(() => {
    aws = new FakeAws();
  });
  afterEach(() => aws.restore());

  it('sends the mapping object as JSON and the settings file text verbatim', () => {
    const spec = sampleSpec();
    const req = replicationTaskRequest(spec.task, ARNS, spec);
    assert.equal(req.MigrationType, 'full-load-and-cdc');
    assert.deepEqual(JSON.parse(req.TableMappings ?? ''), TABLE_MAPPINGS);
    assert.equal(req.ReplicationTaskSettings, TASK_SETTINGS_TEXT);
    assert.throws(
      () => replicationTaskRequest({ ...spec.task, tableMappings: '{"rules": [' }, ARNS, spec),
      (e: unknown) =>
        e instanceof DmsError &&
        e.type === 'CONFIG_INVALID' &&
        /table mappings is not valid JSON/.test(e.message),
    );
    assert.throws(
      () =>
        replicationTaskRequest(
          { ...spec.task, migrationType: 'full-load', cdcStartPosition: '0/16B3748' },
          ARNS,
          spec,
        ),
      /cdcStartPosition needs migration type cdc/,
    );
  });

  it('refuses to adopt a task of the same name that points elsewhere', async () => {
    const spec = sampleSpec();
    aws.seed(aws.tasks, 'task', 'ferry-orders-task', 'ready', {
      ...ARNS,
      ReplicationInstanceArn: 'arn:aws:dms:eu-west-1:123456789012:rep:OTHER',
    });
    await assert.rejects(
      ensureReplicationTask(aws.dms, spec.task, ARNS, spec),
      /exists but uses another replication instance \(arn:aws:dms:eu-west-1:123456789012:rep:OTHER/,
    );
    assert.equal(aws.sent('CreateReplicationTask').length, 0);
  });

  it('a task that stops with a failure stop reason fails the wait with an error naming it', async () => {
    const spec = sampleSpec();
    const t = await ensureReplicationTask(aws.dms, spec.task, ARNS, spec);
    await waitTaskStatus(aws.dms, t.arn, ['ready'], FAST);
    aws.taskRun = [
      { status: 'starting' },
      { status: 'running', stats: { FullLoadProgressPercent: 20, TablesErrored: 0 } },
      {
        status: 'stopped',
        stopReason: 'Stop Reason FATAL_ERROR',
        lastFailureMessage:
          'Last Error Replication slot "ferry_orders" does not exist. Stop Reason FATAL_ERROR Error Level FATAL',
        stats: { FullLoadProgressPercent: 20, TablesErrored: 2 },
      },
    ];
    assert.deepEqual(await startReplicationTask(aws.dms, t.arn, 'start-replication'), {
      started: true,
      status: 'starting',
    });
    await assert.rejects(
      waitTaskStatus(aws.dms, t.arn, fullLoadFinished, FAST),
      (e: unknown) =>
        e instanceof DmsError &&
        e.type === 'DMS_TASK_FAILED' &&
        !e.retryable &&
        /replication task ferry-orders-task stopped with stop reason FATAL_ERROR/.test(e.message) &&
        /Replication slot "ferry_orders" does not exist/.test(e.message) &&
        /2 table\(s\) errored/.test(e.message) &&
        e.details.stopReason === 'FATAL_ERROR',
    );
  });

  it('classifies stop reasons: normal ends are not failures', () => {
    assert.equal(stopReasonCode('Stop Reason FULL_LOAD_ONLY_FINISHED'), 'FULL_LOAD_ONLY_FINISHED');
    assert.equal(stopReasonCode(undefined), undefined);
    const done = taskView({
      ReplicationTaskArn: 'a',
      Status: 'stopped',
      StopReason: 'Stop Reason FULL_LOAD_ONLY_FINISHED',
    });
    assert.equal(done.failed, false);
    assert.equal(fullLoadFinished(done), true);
    assert.equal(taskView({ Status: 'stopped', StopReason: 'Stop Reason NORMAL' }).failed, false);
    assert.equal(
      taskView({ Status: 'stopped', StopReason: 'Stop Reason STOPPED_DUE_TO_LOW_DISK' }).failed,
      true,
    );
    assert.equal(taskView({ Status: 'failed' }).failed, true);
    assert.equal(
      fullLoadFinished(
        taskView({
          Status: 'running',
          ReplicationTaskStats: { FullLoadProgressPercent: 100, TablesLoading: 1 },
        }),
      ),
      false,
    );
  });

  it('start-replication is a no-op once started; stop is a no-op once stopped', async () => {
    const spec = sampleSpec();
    const t = await ensureReplicationTask(aws.dms, spec.task, ARNS, spec);
    await waitTaskStatus(aws.dms, t.arn, ['ready'], FAST);
    assert.equal((await startReplicationTask(aws.dms, t.arn, 'start-replication')).started, true);
    await waitTaskStatus(aws.dms, t.arn, ['running'], FAST);
    assert.equal((await startReplicationTask(aws.dms, t.arn, 'start-replication')).started, false);
    assert.equal(aws.sent('StartReplicationTask').length, 1);
    assert.equal((await stopReplicationTask(aws.dms, t.arn)).started, true);
    assert.deepEqual(await stopReplicationTask(aws.dms, t.arn), { started: false, status: 'stopped' });
    assert.equal(aws.sent('StopReplicationTask').length, 1);
    // Resume after the stop is a real start.
    const r = await startReplicationTask(aws.dms, t.arn, 'resume-processing');
    assert.equal(r.started, true);
    assert.equal(
      aws.sent('StartReplicationTask')[1].input &&
        (aws.sent('StartReplicationTask')[1].input as { StartReplicationTaskType: string })
          .StartReplicationTaskType,
      'resume-processing',
    );
  });

  it("maps DescribeTableStatistics, all pages, into Ferry's per-table statistics", async () => {
    aws.tableStats = Array.from({ length: 45 }, (_, i) => ({
      SchemaName: 'sales',
      TableName: `t${String(i).padStart(2, '0')}`,
      FullLoadRows: i * 10,
      Inserts: i,
      Updates: 1,
      Deletes: 0,
      Ddls: 0,
      TableState: 'Table completed',
      ValidationState: 'Validated',
      LastUpdateTime: new Date('2026-01-02T03:04:05Z'),
    }));
    aws.tableStats.push({
      SchemaName: 'Sales',
      TableName: 'Order Items',
      FullLoadRows: 7,
      TableState: 'Table error',
    });
    const stats = await tableStatistics(aws.dms, 'arn:task', {
      pageSize: 20,
      targets: { 'sales.t01': 'archive.t01' },
    });
    assert.equal(stats.length, 46);
    assert.equal(aws.sent('DescribeTableStatistics').length, 3, 'three pages of 20');
    assert.deepEqual(stats[0], {
      table: '"Sales"."Order Items"',
      target: '"Sales"."Order Items"',
      inserts: 0,
      updates: 0,
      deletes: 0,
      ddls: 0,
      fullLoadRows: 7,
      validationState: 'Not enabled',
      tableState: 'Table error',
    });
    const t01 = stats.find((s) => s.table === 'sales.t01');
    assert.deepEqual(t01, {
      table: 'sales.t01',
      target: 'archive.t01',
      inserts: 1,
      updates: 1,
      deletes: 0,
      ddls: 0,
      fullLoadRows: 10,
      validationState: 'Validated',
      lastUpdateTime: '2026-01-02T03:04:05.000Z',
      tableState: 'Table completed',
    });
    assert.equal(
      mapTableStatistics({ SchemaName: 'a', TableName: 'b', FullLoadReloaded: true }).fullLoadReloaded,
      true,
    );
  });

  it('reloads the given tables', async () => {
    await reloadTables(aws.dms, 'arn:task', [{ schema: 'sales', table: 'orders' }], 'validate-only');
    assert.deepEqual(aws.sent('ReloadTables')[0].input, {
      ReplicationTaskArn: 'arn:task',
      TablesToReload: [{ SchemaName: 'sales', TableName: 'orders' }],
      ReloadOption: 'validate-only',
    });
    await assert.rejects(reloadTables(aws.dms, 'arn:task', []), /no tables/);
  });
});

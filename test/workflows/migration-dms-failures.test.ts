// The runbook on engine aws-dms when things go wrong, through the real Temporal dev server and real
// PostgreSQL (AWS is the in-memory fake): a replication task that fails, a fallback asked for at the
// cutover gate with an operator's replication instance adopted, a worker stopped while provisioning
// waits for the instance, and AWS throttling. Each ends with what Ferry created deleted, and only that.
import assert from 'node:assert/strict';
import { dmsRunbook, type DmsRunbook, sleep } from '../support/dms-runbook';

/** The commands of the delete requests, in order. */
const deletes = (rb: DmsRunbook) =>
  rb.fake.log.filter((x) => x.command.startsWith('Delete')).map((x) => x.command);

/** The ARN a request names (delete requests name one resource). */
const arnOf = (input: unknown): string => {
  const i = input as Record<string, string>;
  return i.ReplicationTaskArn ?? i.EndpointArn ?? i.ReplicationInstanceArn;
};

describe('migration workflow on engine aws-dms, failures (fake AWS, real Temporal and PostgreSQL)', function () {
  this.timeout(300_000);
  let rb: DmsRunbook | undefined;
  afterEach(async () => {
    await rb?.cleanup();
    rb = undefined;
  });

  it('a replication task that stops with a failure fails the migration with DMS_TASK_FAILED and deletes what Ferry created', async () => {
    rb = await dmsRunbook({ label: 'dmsf-task', slotName: 'dmsf_task_slot' });
    const { fake } = rb;
    fake.taskRun = [
      { status: 'starting' },
      { status: 'running', stats: { FullLoadProgressPercent: 20, TablesLoading: 2, TablesErrored: 0 } },
      {
        status: 'stopped',
        stopReason: 'Stop Reason FATAL_ERROR',
        lastFailureMessage:
          'Last Error Replication slot "dmsf_task_slot" is active for PID 4711. Stop Reason FATAL_ERROR Error Level FATAL',
        stats: { FullLoadProgressPercent: 20, TablesErrored: 2 },
      },
    ];
    const { st, cause } = await rb.runToFailure(async (s) =>
      assert.ok(!s.pendingGate, `gate ${s.pendingGate?.name} opened: the task failure was missed`),
    );

    // The workflow failed, with the task's error type and a message naming stop reason and failure.
    assert.equal(cause.type, 'DMS_TASK_FAILED', cause.message);
    assert.match(cause.message, /failed in phase full-load/);
    assert.match(cause.message, /stop reason FATAL_ERROR/);
    assert.match(cause.message, /Replication slot "dmsf_task_slot" is active for PID 4711/);
    assert.equal(st.phase, 'failed');
    assert.match(st.error ?? '', /stop reason FATAL_ERROR/);
    // A failed task is not resumed: DMS_TASK_FAILED is not retryable.
    assert.equal(fake.sent('StartReplicationTask').length, 1);

    // Everything Ferry created is deleted: task, target endpoint, source endpoint, instance.
    assert.deepEqual(deletes(rb), [
      'DeleteReplicationTask',
      'DeleteEndpoint',
      'DeleteEndpoint',
      'DeleteReplicationInstance',
    ]);
    const r = st.dms!.resources;
    assert.deepEqual(
      fake.log.filter((x) => x.command.startsWith('Delete')).map((x) => arnOf(x.input)),
      [r.task.arn, r.target.arn, r.source.arn, r.instance.arn],
    );
    assert.equal(fake.tasks.size + fake.endpoints.size + fake.instances.size, 0);
    assert.deepEqual(
      st.dms!.teardown?.map((s) => `${s.name}: ${s.detail.split(' ')[0]}`),
      ['task: deleted', 'target endpoint: deleted', 'source endpoint: deleted', 'instance: deleted'],
    );
    assert.equal(await rb.sourceWritable(), true, 'the source must take writes after a failed migration');
  });

  it('a failed TestConnection fails provisioning with the advice, before any task; what was created is deleted', async () => {
    rb = await dmsRunbook({ label: 'dmsf-conn', slotName: 'dmsf_conn_slot' });
    const { fake } = rb;
    // The database refuses DMS's credentials: no retry can fix that (an unreachable host is retried).
    fake.connectionFailures.set(
      'SOURCE',
      'Test connection for endpoint failed: Application-Status: 1020912, Application-Message: Cannot connect to ODBC ' +
        'provider ODBC general error., Application-Detailed-Message: RetCode: SQL_ERROR SqlState: 08001 ' +
        'NativeError: 101 Message: FATAL: password authentication failed for user "dms"',
    );
    const { st, cause } = await rb.runToFailure(async (s) =>
      assert.ok(
        !s.pendingGate,
        `gate ${s.pendingGate?.name} opened: the failed connection test was missed; ` +
          fake.log.map((x) => x.command).join(' '),
      ),
    );
    assert.equal(cause.type, 'AUTH_FAILED', cause.message);
    // The message names the endpoint and says what to fix.
    assert.match(cause.message, /connection test of endpoint .*source/i);
    assert.match(cause.message, /Secrets Manager secret/);
    assert.equal(st.phase, 'failed');
    assert.equal(fake.sent('CreateReplicationTask').length, 0, 'no task before both endpoints connect');
    assert.equal(fake.sent('StartReplicationTask').length, 0);
    // What provisioning created is deleted; nothing else is left.
    assert.equal(fake.tasks.size + fake.endpoints.size + fake.instances.size, 0, JSON.stringify(deletes(rb)));
    assert.equal(await rb.sourceWritable(), true);
  });

  it('a fallback at the cutover gate deletes the endpoints and task Ferry created and keeps the adopted instance', async () => {
    rb = await dmsRunbook({
      label: 'dmsf-fallback',
      slotName: 'dmsf_fallback_slot',
      instanceIdentifier: 'ops-shared-dms',
    });
    const { fake, client, id } = rb;
    // The operator's instance, untagged: Ferry adopts it and must never delete it.
    const ops = fake.seed(
      fake.instances,
      'rep',
      'ops-shared-dms',
      'available',
      {
        ReplicationInstanceClass: 'dms.t3.medium',
        ReplicationSubnetGroup: { ReplicationSubnetGroupIdentifier: 'ferry-private' },
      },
      [{ Key: 'team', Value: 'dba' }],
    );
    const worker = await rb.worker();
    let asked = false;
    const st = await worker.runUntil(async () => {
      await rb!.start();
      return rb!.drive(async (s) => {
        if (asked || s.pendingGate?.name !== 'cutover') return;
        asked = true;
        const at = await client.fallback(id, { by: 'alice', reason: 'the application team is not ready' });
        assert.equal(at.fallback?.fromPhase, 'awaiting-cutover');
      });
    });
    assert.ok(asked, `the cutover gate never opened: ${st.phase} ${st.error ?? ''}`);
    assert.equal((await client.describe(id)).status.name, 'COMPLETED');
    assert.equal(st.phase, 'fallback', `${st.error}\n${st.findings.join('\n')}`);
    assert.equal(st.fallback?.done, true);
    assert.equal(st.fallback?.by, 'alice');

    const r = st.dms!.resources;
    assert.equal(r.instance.created, false, 'the operator instance is adopted');
    assert.equal(r.instance.arn, ops.arn);
    assert.ok(r.source.created && r.target.created && r.task.created, JSON.stringify(r));
    assert.equal(fake.sent('CreateReplicationInstance').length, 0);
    // The running task is stopped before it is deleted; the instance is never asked to go.
    assert.deepEqual(deletes(rb), ['DeleteReplicationTask', 'DeleteEndpoint', 'DeleteEndpoint']);
    const stop = fake.log.findIndex((x) => x.command === 'StopReplicationTask');
    assert.ok(
      stop >= 0 && stop < fake.log.findIndex((x) => x.command === 'DeleteReplicationTask'),
      'StopReplicationTask before DeleteReplicationTask',
    );
    const deleted = fake.log.filter((x) => x.command.startsWith('Delete')).map((x) => arnOf(x.input));
    assert.deepEqual(deleted, [r.task.arn, r.target.arn, r.source.arn]);
    assert.deepEqual([...fake.instances.keys()], [ops.arn]);
    assert.equal(fake.instances.get(ops.arn)?.status, 'available');
    assert.equal(fake.endpoints.size + fake.tasks.size, 0);
    const kept = st.dms!.teardown?.find((s) => s.name === 'instance');
    assert.equal(kept?.detail, 'kept: adopted (ops-shared-dms)');
    assert.ok(
      st.fallback!.steps.some((s) => s.name === 'dms: instance' && /kept: adopted/.test(s.detail ?? '')),
      JSON.stringify(st.fallback!.steps),
    );
    assert.equal(await rb.sourceWritable(), true, 'the source must take writes after a fallback');
  });

  it('a worker stopped while provisioning waits for the instance: a new worker resumes and creates nothing twice', async () => {
    rb = await dmsRunbook({ label: 'dmsf-restart', slotName: 'dmsf_restart_slot' });
    const { fake, client, id } = rb;
    // The instance stays `creating` until the test lets it become available.
    fake.transitions = 1_000_000;
    const first = await rb.worker();
    await first.runUntil(async () => {
      await rb!.start();
      for (let i = 0; ; i++) {
        assert.ok(i < 600, 'CreateReplicationInstance was not sent, or no wait followed it, in 60 s');
        const created = fake.log.findIndex((x) => x.command === 'CreateReplicationInstance');
        if (created >= 0) {
          // Later resources settle at once; the instance keeps the pending count it was created with.
          fake.transitions = 1;
          const waits = fake.log
            .slice(created)
            .filter((x) => x.command === 'DescribeReplicationInstances').length;
          if (waits >= 3) break;
        }
        await sleep(100);
      }
    });
    // The first worker is shut down (its provisioning attempt cancelled); the runbook waits for another.
    assert.equal((await client.describe(id)).status.name, 'RUNNING');
    const [instance] = fake.instances.values();
    assert.equal(instance.status, 'creating');
    const stoppedAt = fake.log.length;

    const second = await rb.worker();
    const st = await second.runUntil(async () => {
      // The new worker's attempt waits on the same instance before it becomes available.
      for (let i = 0; ; i++) {
        assert.ok(i < 600, 'the new worker did not resume the wait for the instance in 60 s');
        if (fake.log.slice(stoppedAt).some((x) => x.command === 'DescribeReplicationInstances')) break;
        await sleep(100);
      }
      instance.pending = 0;
      return rb!.drive(rb!.approveCutover);
    });
    assert.equal(st.phase, 'done', `${st.error}\n${st.findings.join('\n')}`);
    assert.equal(fake.sent('CreateReplicationInstance').length, 1);
    assert.equal(fake.sent('CreateEndpoint').length, 2);
    assert.equal(fake.sent('CreateReplicationTask').length, 1);
    // The second attempt found the instance by its identifier and knew it as Ferry's by its tags.
    assert.equal(st.dms!.resources.instance.created, true);
    assert.deepEqual(deletes(rb), [
      'DeleteReplicationTask',
      'DeleteEndpoint',
      'DeleteEndpoint',
      'DeleteReplicationInstance',
    ]);
    // History: provisioning ended on its second attempt (the first was the stopped worker's).
    const history = await client.handle(id).fetchHistory();
    const scheduled = history.events?.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'dmsProvision',
    );
    assert.ok(scheduled, 'no dmsProvision activity in the history');
    const started = history.events?.find(
      (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId),
    );
    assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 2);
  });

  it('throttled describes, creates, starts and deletes are retried: the runbook completes', async () => {
    rb = await dmsRunbook({ label: 'dmsf-throttle', slotName: 'dmsf_throttle_slot' });
    const { fake } = rb;
    // Describes are retried in the activity (dmsRetry: 4 attempts); creates, the start and deletes fail
    // their attempt as AWS_TRANSIENT and Temporal retries the activity, which adopts what exists.
    const throttles: Record<string, number> = {
      DescribeDBClusters: 2,
      DescribeReplicationInstances: 2,
      CreateReplicationInstance: 1,
      ListTagsForResource: 2,
      CreateEndpoint: 1,
      DescribeConnections: 2,
      DescribeReplicationTasks: 2,
      StartReplicationTask: 1,
      DescribeTableStatistics: 2,
      DeleteEndpoint: 1,
    };
    for (const [command, n] of Object.entries(throttles)) fake.throttle(command, n);
    const worker = await rb.worker();
    const st = await worker.runUntil(async () => {
      await rb!.start();
      return rb!.drive(rb!.approveCutover);
    });
    assert.equal(st.phase, 'done', `${st.error}\n${st.findings.join('\n')}`);
    for (const [command, n] of Object.entries(throttles)) {
      assert.equal(fake.throttled.get(command), 0, `${command} was not throttled ${n} time(s)`);
      assert.ok(
        fake.sent(command).length > n,
        `${command} sent ${fake.sent(command).length} time(s), throttled ${n}`,
      );
    }
    // A throttled create created nothing: one of each in the end, and teardown deletes each once.
    assert.equal(fake.sent('CreateReplicationInstance').length, 2);
    assert.equal(fake.sent('CreateEndpoint').length, 3);
    assert.equal(fake.sent('CreateReplicationTask').length, 1);
    assert.deepEqual(
      deletes(rb).filter((c) => c !== 'DeleteEndpoint'),
      ['DeleteReplicationTask', 'DeleteReplicationInstance'],
    );
    assert.equal(fake.tasks.size + fake.endpoints.size + fake.instances.size, 0);
  });
});

// The runbook on engine aws-dms with migrationType full-load, through the real Temporal dev server and
// real PostgreSQL (AWS is the in-memory fake): as on the native engine the cutover gate comes first,
// the source stays frozen while "DMS" loads it, and a task that fails gives the source its writes back.
import assert from 'node:assert/strict';
import { dmsRunbook, type DmsRunbook } from '../support/dms-runbook';

/** The commands of the delete requests, in order. */
const deletes = (rb: DmsRunbook) =>
  rb.fake.log.filter((x) => x.command.startsWith('Delete')).map((x) => x.command);

const TEARDOWN = ['DeleteReplicationTask', 'DeleteEndpoint', 'DeleteEndpoint', 'DeleteReplicationInstance'];

describe('migration workflow on engine aws-dms, full load only (fake AWS, real Temporal and PostgreSQL)', function () {
  this.timeout(300_000);
  let rb: DmsRunbook | undefined;
  afterEach(async () => {
    await rb?.cleanup();
    rb = undefined;
  });

  it('gate cutover before the task starts; the source is read-only while DMS loads; done after FULL_LOAD_ONLY_FINISHED', async () => {
    rb = await dmsRunbook({ label: 'dmsfl-ok', slotName: 'dmsfl_ok_slot', migrationType: 'full-load' });
    const { fake } = rb;
    // The task runs until the test has probed the source; then it ends as a full-load task does.
    fake.taskRun = [
      { status: 'starting' },
      { status: 'running', stats: { FullLoadProgressPercent: 50, TablesLoading: 2, TablesLoaded: 2 } },
    ];
    let startsAtGate: number | undefined;
    let writableDuringLoad: boolean | undefined;
    const worker = await rb.worker();
    const st = await worker.runUntil(async () => {
      await rb!.start();
      return rb!.drive(async (s) => {
        if (s.pendingGate?.name === 'cutover') {
          startsAtGate ??= fake.sent('StartReplicationTask').length;
          await rb!.approveCutover(s);
        }
        if (
          writableDuringLoad === undefined &&
          s.phase === 'full-load' &&
          fake.sent('StartReplicationTask').length
        ) {
          writableDuringLoad = await rb!.sourceWritable();
          fake.taskRun.push({
            status: 'stopped',
            stopReason: 'Stop Reason FULL_LOAD_ONLY_FINISHED',
            stats: { FullLoadProgressPercent: 100, TablesLoading: 0, TablesQueued: 0, TablesLoaded: 4 },
          });
        }
      });
    });
    assert.equal(st.phase, 'done', `${st.error}\n${st.findings.join('\n')}`);
    assert.equal(startsAtGate, 0, 'the cutover gate must be pending before any StartReplicationTask');
    assert.equal(writableDuringLoad, false, 'the source must be read-only while the task loads');
    // The same phases as the native full-load-only runbook.
    assert.deepEqual(Object.keys(st.phases), [
      'catalog',
      'assess',
      'provision',
      'awaiting-cutover',
      'cutover',
      'full-load',
      'validate',
      'post-cutover',
      'done',
    ]);
    const [create] = fake.sent('CreateReplicationTask');
    assert.equal((create.input as { MigrationType?: string }).MigrationType, 'full-load');
    assert.equal(fake.sent('StartReplicationTask').length, 1);
    assert.equal(st.dms!.task?.stopReason, 'FULL_LOAD_ONLY_FINISHED');
    // The Aurora snapshot is taken after approval, before the task starts.
    const commands = fake.log.map((x) => x.command);
    const snap = commands.indexOf('CreateDBClusterSnapshot');
    assert.ok(snap >= 0 && snap < commands.indexOf('StartReplicationTask'), commands.join(' '));
    assert.equal(st.dms!.snapshot?.created, true);
    assert.deepEqual(
      st.cutover!.steps.map((s) => s.name),
      ['window', 'freeze', 'restore point', 'validated', 'sequences', 'switch'],
    );
    assert.ok(st.restorePoint?.file, 'a pg_dump restore point of the frozen source');
    assert.ok(st.cutover!.writeFreezeMs! > 0 && st.cutover!.withinSla, JSON.stringify(st.cutover));
    assert.deepEqual(deletes(rb), TEARDOWN);
    assert.equal(fake.tasks.size + fake.endpoints.size + fake.instances.size, 0);
    // After the switch the source stays frozen for the application.
    assert.equal(await rb.sourceWritable(), false);
  });

  it('a task that stops with a failure during the load gives the source its writes back and fails naming the stop reason', async () => {
    rb = await dmsRunbook({ label: 'dmsfl-fail', slotName: 'dmsfl_fail_slot', migrationType: 'full-load' });
    const { fake } = rb;
    fake.taskRun = [
      { status: 'starting' },
      { status: 'running', stats: { FullLoadProgressPercent: 20, TablesLoading: 2, TablesErrored: 0 } },
      {
        status: 'stopped',
        stopReason: 'Stop Reason FATAL_ERROR',
        lastFailureMessage: 'Last Error Table inventory.products load failed. Stop Reason FATAL_ERROR',
        stats: { FullLoadProgressPercent: 20, TablesErrored: 1 },
      },
    ];
    const { st, cause } = await rb.runToFailure(rb!.approveCutover);
    assert.equal(cause.type, 'DMS_TASK_FAILED', cause.message);
    assert.match(cause.message, /failed in phase full-load/);
    assert.match(cause.message, /stop reason FATAL_ERROR/);
    assert.equal(st.phase, 'failed');
    assert.equal(st.cutover?.freezeState, undefined);
    assert.equal(await rb.sourceWritable(), true, 'the source must take writes after a failed load');
    assert.deepEqual(deletes(rb), TEARDOWN);
  });
});

// The aws-dms runbook's AWS requests end to end against the in-memory fake: a fresh full-load-and-cdc
// setup compared request by request to a golden file, a second run that adopts everything (no second
// create), a run cancelled mid-wait and resumed, and the dry-run plan sending what the real run sends.
import assert from 'node:assert/strict';
import {
  DmsError,
  createClusterSnapshot,
  defaultSnapshotIdentifier,
  fullLoadFinished,
  planDmsRequests,
  provisionDms,
  startReplicationTask,
  tableStatistics,
  tagInfo,
  waitClusterSnapshotAvailable,
  waitTaskStatus,
} from '../../src/dms';
import { FakeAws } from './fake';
import { FAST, golden, sampleSpec } from './helpers';

describe('dms provision (mocked AWS)', () => {
  let aws: FakeAws;
  beforeEach(() => {
    aws = new FakeAws();
    aws.seedCluster('orders');
    aws.individualAssessments = [
      { IndividualAssessmentName: 'postgres-check-wallevel', Status: 'passed' },
      { IndividualAssessmentName: 'postgres-check-pk', Status: 'warning' },
      { IndividualAssessmentName: 'postgres-check-maxwalsenders', Status: 'passed' },
    ];
    aws.tableStats = [
      {
        SchemaName: 'sales',
        TableName: 'orders',
        FullLoadRows: 1200,
        Inserts: 3,
        TableState: 'Table completed',
      },
      { SchemaName: 'sales', TableName: 'customers', FullLoadRows: 300, TableState: 'Table completed' },
    ];
  });
  afterEach(() => aws.restore());

  it('fresh full-load-and-cdc setup sends exactly the golden request sequence', async () => {
    const spec = sampleSpec();
    const res = await provisionDms({ dms: aws.dms, rds: aws.rds }, spec, { wait: FAST, retry: FAST.retry });
    assert.equal(res.instance.created, true);
    assert.equal(res.source.created, true);
    assert.equal(res.target.created, true);
    assert.equal(res.task.created, true);
    assert.equal(res.assessment?.results.counts.warning, 1);
    assert.equal(res.assessment?.resultLocation, 's3://ferry-assessments/orders-to-aurora/');
    // The load and the pre-cutover snapshot, as the later phases run them.
    await startReplicationTask(aws.dms, res.task.arn, 'start-replication');
    const loaded = await waitTaskStatus(aws.dms, res.task.arn, fullLoadFinished, FAST);
    assert.equal(loaded.stats?.fullLoadProgressPercent, 100);
    const stats = await tableStatistics(aws.dms, res.task.arn);
    assert.deepEqual(
      stats.map((s) => [s.table, s.fullLoadRows]),
      [
        ['sales.customers', 300],
        ['sales.orders', 1200],
      ],
    );
    const snapId = defaultSnapshotIdentifier('orders', spec.migration);
    const snap = await createClusterSnapshot(aws.rds, 'orders', snapId, tagInfo(spec));
    assert.equal(snap.created, true);
    await waitClusterSnapshotAvailable(aws.rds, snapId, FAST);
    golden('fresh-full-load-and-cdc.json', aws.log);
  });

  it('a second run adopts everything: no second create, everything still counted as created', async () => {
    const spec = sampleSpec();
    await provisionDms({ dms: aws.dms, rds: aws.rds }, spec, { wait: FAST, retry: FAST.retry });
    const creates = () =>
      aws.log.filter((r) => /^(Create|StartReplicationTaskAssessmentRun$)/.test(r.command)).length;
    const before = creates();
    aws.log.length = 0;
    const again = await provisionDms({ dms: aws.dms, rds: aws.rds }, spec, { wait: FAST, retry: FAST.retry });
    assert.equal(creates(), 0, 'nothing created the second time');
    assert.equal(before, 5, 'instance, 2 endpoints, task, assessment run the first time');
    // Ferry created them (the tags prove it), so compensation may still delete them.
    for (const r of [again.instance, again.source, again.target, again.task]) {
      assert.equal(r.existed, true);
      assert.equal(r.created, true);
      assert.deepEqual(r.drift, []);
    }
    assert.equal(again.assessment?.created, false);
    golden('adopt-existing.json', aws.log);
  });

  it('a run after the load started adopts the running task without waiting or starting it', async () => {
    const spec = sampleSpec({ assessment: undefined });
    const first = await provisionDms({ dms: aws.dms, rds: aws.rds }, spec, { wait: FAST });
    await startReplicationTask(aws.dms, first.task.arn, 'start-replication');
    await waitTaskStatus(aws.dms, first.task.arn, ['running'], FAST);
    const again = await provisionDms({ dms: aws.dms, rds: aws.rds }, spec, { wait: FAST });
    assert.equal(again.task.arn, first.task.arn);
    assert.equal(aws.sent('CreateReplicationTask').length, 1);
    assert.equal(aws.sent('StartReplicationTask').length, 1);
  });

  it("adopts an operator's instance without claiming it, and reports drift", async () => {
    aws.seed(aws.instances, 'rep', 'ferry-orders', 'available', {
      ReplicationInstanceClass: 'dms.t3.medium',
      AllocatedStorage: 100,
      MultiAZ: true,
      EngineVersion: '3.5.4',
      PubliclyAccessible: false,
      ReplicationSubnetGroup: { ReplicationSubnetGroupIdentifier: 'ferry-dms-subnets' },
    });
    const res = await provisionDms({ dms: aws.dms }, sampleSpec({ assessment: undefined }), { wait: FAST });
    assert.equal(res.instance.created, false);
    assert.equal(res.instance.existed, true);
    assert.deepEqual(res.instance.drift, ['class: dms.t3.medium != dms.r6i.large']);
    assert.equal(aws.sent('CreateReplicationInstance').length, 0);
  });

  it('a run cancelled while waiting for the instance resumes without creating a second one', async () => {
    aws.transitions = 1000; // the instance stays `creating` until the abort
    const spec = sampleSpec();
    const ac = new AbortController();
    const first = provisionDms({ dms: aws.dms, rds: aws.rds }, spec, {
      wait: {
        ...FAST,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.polls === 3) ac.abort(new Error('worker killed'));
        },
      },
    });
    await assert.rejects(first, (e: unknown) => e instanceof DmsError && e.type === 'DMS_ABORTED');
    aws.transitions = 1;
    for (const r of aws.instances.values()) r.pending = 1;
    const res = await provisionDms({ dms: aws.dms, rds: aws.rds }, spec, { wait: FAST, retry: FAST.retry });
    assert.equal(aws.sent('CreateReplicationInstance').length, 1);
    assert.equal(aws.sent('CreateEndpoint').length, 2);
    assert.equal(aws.sent('CreateReplicationTask').length, 1);
    assert.equal(res.instance.created, true, 'created by the first attempt: still Ferry’s to delete');
    assert.equal(res.instance.existed, true);
  });

  it('the dry-run plan lists the same create requests the real run sends', async () => {
    const spec = sampleSpec();
    const res = await provisionDms({ dms: aws.dms, rds: aws.rds }, spec, { wait: FAST, retry: FAST.retry });
    const arnOf: Record<string, string> = {
      '<replication instance ARN of ferry-orders>': res.instance.arn,
      '<endpoint ARN of ferry-orders-source>': res.source.arn,
      '<endpoint ARN of ferry-orders-target>': res.target.arn,
      '<replication task ARN of ferry-orders-task>': res.task.arn,
    };
    const substitute = (v: unknown): unknown =>
      JSON.parse(JSON.stringify(v), (_k, x: unknown) => (typeof x === 'string' && x in arnOf ? arnOf[x] : x));
    const planned = planDmsRequests(spec).filter((r) => r.phase === 'provision' || r.phase === 'assess');
    const sent = aws.log;
    for (const command of [
      'CreateReplicationInstance',
      'CreateEndpoint',
      'CreateReplicationTask',
      'StartReplicationTaskAssessmentRun',
    ]) {
      assert.deepEqual(
        planned.filter((r) => r.command === command).map((r) => substitute(r.input)),
        sent.filter((r) => r.command === command).map((r) => r.input),
        command,
      );
    }
    // Same order of distinct commands too (the plan shows each wait's describe once).
    const dedupe = (xs: string[]) => xs.filter((x, i) => x !== xs[i - 1]);
    const plannedOrder = dedupe(planned.map((r) => r.command));
    const sentOrder = dedupe(sent.map((r) => r.command).filter((c) => c !== 'ListTagsForResource'));
    assert.deepEqual(sentOrder, plannedOrder);
  });
});

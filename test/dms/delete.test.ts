// Compensation deletes exactly what Ferry created for this migration: task, endpoints, instance in
// reverse order; adopted resources (flag false, or tags not Ferry's for this migration) stay.
import assert from 'node:assert/strict';
import {
  deleteEndpoint,
  deleteReplicationInstance,
  deleteReplicationTask,
  provisionDms,
  startReplicationTask,
} from '../../src/dms';
import { FakeAws } from './fake';
import { FAST, sampleSpec } from './helpers';

describe('dms delete only what Ferry created', () => {
  let aws: FakeAws;
  beforeEach(() => {
    aws = new FakeAws();
  });
  afterEach(() => aws.restore());

  it('deletes the created task (stopping it first), endpoints and instance; keeps the adopted instance', async () => {
    // The operator's replication instance exists, untagged: adopted.
    aws.seed(aws.instances, 'rep', 'ferry-orders', 'available', {
      ReplicationInstanceClass: 'dms.r6i.large',
    });
    const spec = sampleSpec({ assessment: undefined });
    const res = await provisionDms({ dms: aws.dms }, spec, { wait: FAST });
    assert.equal(res.instance.created, false);
    await startReplicationTask(aws.dms, res.task.arn, 'start-replication');
    aws.log.length = 0;

    const opts = { migration: spec.migration, wait: FAST };
    assert.deepEqual(
      await deleteReplicationTask(aws.dms, res.task.arn, { ...opts, created: res.task.created }),
      {
        deleted: true,
      },
    );
    assert.deepEqual(
      await deleteEndpoint(aws.dms, res.target.arn, { ...opts, created: res.target.created }),
      {
        deleted: true,
      },
    );
    assert.deepEqual(
      await deleteEndpoint(aws.dms, res.source.arn, { ...opts, created: res.source.created }),
      {
        deleted: true,
      },
    );
    assert.deepEqual(
      await deleteReplicationInstance(aws.dms, res.instance.arn, { ...opts, created: res.instance.created }),
      { deleted: false, reason: 'adopted' },
    );
    assert.deepEqual(
      aws.log.map((r) => r.command).filter((c) => /^(Delete|Stop)/.test(c)),
      ['StopReplicationTask', 'DeleteReplicationTask', 'DeleteEndpoint', 'DeleteEndpoint'],
    );
    assert.equal(aws.instances.size, 1, 'the adopted instance is still there');
    assert.equal(aws.endpoints.size, 0);
    assert.equal(aws.tasks.size, 0);
  });

  it('refuses by tags even when the caller says created: an untagged or other-migration resource stays', async () => {
    aws.seed(aws.instances, 'rep', 'shared', 'available');
    const other = aws.seed(aws.instances, 'rep', 'other', 'available', {}, [
      { Key: 'created-by', Value: 'ferry' },
      { Key: 'ferry:migration', Value: 'billing' },
    ]);
    const shared = [...aws.instances.values()][0];
    assert.deepEqual(
      await deleteReplicationInstance(aws.dms, shared.arn, { migration: 'orders-to-aurora', created: true }),
      {
        deleted: false,
        reason: 'not created by ferry for orders-to-aurora',
      },
    );
    assert.deepEqual(await deleteReplicationInstance(aws.dms, other.arn, { migration: 'orders-to-aurora' }), {
      deleted: false,
      reason: 'not created by ferry for orders-to-aurora',
    });
    assert.equal(aws.sent('DeleteReplicationInstance').length, 0);
    // The owner migration may delete it; a second delete finds it gone.
    assert.deepEqual(await deleteReplicationInstance(aws.dms, other.arn, { migration: 'billing' }), {
      deleted: true,
    });
    assert.deepEqual(await deleteReplicationInstance(aws.dms, other.arn, { migration: 'billing' }), {
      deleted: false,
      reason: 'already gone',
    });
  });
});

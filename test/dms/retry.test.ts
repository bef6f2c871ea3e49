// Which AWS errors are retried (throttling, 5xx, network) and which are not, withRetry's backoff and
// abort, and an adapter describe that rides out throttling against a mocked DMS client.
import assert from 'node:assert/strict';
import {
  CreateReplicationInstanceCommand,
  DatabaseMigrationServiceClient,
  DescribeReplicationInstancesCommand,
  ListTagsForResourceCommand,
  ResourceNotFoundFault,
} from '@aws-sdk/client-database-migration-service';
import { mockClient } from 'aws-sdk-client-mock';
import { DmsError, ensureReplicationInstance, isRetryable, sleep, withRetry } from '../../src/dms';
import { awsError, sampleSpec } from './helpers';

describe('dms retry', () => {
  it('classifies throttling, 5xx and network errors as retryable, the rest not', () => {
    for (const name of [
      'ThrottlingException',
      'TooManyRequestsException',
      'RequestLimitExceeded',
      'Throttling',
    ])
      assert.equal(isRetryable(awsError(name, 'Rate exceeded')), true, name);
    assert.equal(isRetryable(awsError('InternalFailure', 'boom', 500)), true);
    assert.equal(isRetryable(awsError('SomethingNew', 'bad gateway', 502)), true);
    assert.equal(isRetryable(awsError('SomethingNew', 'slow down', 429)), true);
    assert.equal(isRetryable(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), true);
    assert.equal(isRetryable(Object.assign(new Error('x'), { name: 'TimeoutError' })), true);
    assert.equal(isRetryable(awsError('AccessDeniedFault', 'not authorized')), false);
    assert.equal(isRetryable(awsError('InvalidParameterValueException', 'bad')), false);
    assert.equal(isRetryable(new ResourceNotFoundFault({ message: 'gone', $metadata: {} })), false);
    assert.equal(isRetryable(new DmsError('DMS_TASK_FAILED', 'failed')), false);
    assert.equal(isRetryable(new DmsError('DMS_RESOURCE_BUSY', 'busy')), true);
    assert.equal(isRetryable(new DmsError('ENDPOINT_UNREACHABLE', 'sg')), true);
    assert.equal(isRetryable(new DmsError('AUTH_FAILED', 'pw')), false);
    assert.equal(isRetryable(Object.assign(new Error('aborted'), { name: 'AbortError' })), false);
    assert.equal(isRetryable('a string'), false);
  });

  it('withRetry retries retryable errors with backoff, then succeeds', async () => {
    let calls = 0;
    const delays: number[] = [];
    const v = await withRetry(
      async () => {
        if (++calls < 3) throw awsError('ThrottlingException', 'Rate exceeded');
        return 'ok';
      },
      { baseMs: 4, random: () => 1, onRetry: (_e, _a, d) => delays.push(d) },
    );
    assert.equal(v, 'ok');
    assert.equal(calls, 3);
    assert.deepEqual(delays, [4, 8], 'exponential');
  });

  it('withRetry gives up after `attempts`, and never retries a non-retryable error', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw awsError('ThrottlingException', 'Rate exceeded');
        },
        { attempts: 3, baseMs: 1 },
      ),
      /Rate exceeded/,
    );
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw awsError('AccessDeniedFault', 'no');
        },
        { baseMs: 1 },
      ),
      /no/,
    );
    assert.equal(calls, 1);
  });

  it('an abort ends a backoff at once with DMS_ABORTED', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('activity cancelled')), 5);
    const started = Date.now();
    await assert.rejects(
      withRetry(
        async () => {
          throw awsError('ThrottlingException', 'Rate exceeded');
        },
        { baseMs: 60_000, random: () => 1, signal: ac.signal },
      ),
      (e: unknown) =>
        e instanceof DmsError && e.type === 'DMS_ABORTED' && /activity cancelled/.test(e.message),
    );
    assert.ok(Date.now() - started < 5_000);
    await assert.rejects(sleep(10, AbortSignal.abort()), /wait cancelled/);
  });

  it('a throttled describe is retried and the ensure goes on (mocked DMS client)', async () => {
    const dms = new DatabaseMigrationServiceClient({ region: 'eu-west-1' });
    const mock = mockClient(dms);
    try {
      mock
        .on(DescribeReplicationInstancesCommand)
        .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'))
        .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'))
        .rejects(new ResourceNotFoundFault({ message: 'No ReplicationInstances found', $metadata: {} }));
      mock.on(CreateReplicationInstanceCommand).resolves({
        ReplicationInstance: { ReplicationInstanceArn: 'arn:aws:dms:eu-west-1:1:rep:X' },
      });
      mock.on(ListTagsForResourceCommand).resolves({ TagList: [] });
      const spec = sampleSpec();
      const r = await ensureReplicationInstance(dms, spec.instance, spec, { baseMs: 1 });
      assert.deepEqual(r, { arn: 'arn:aws:dms:eu-west-1:1:rep:X', created: true, existed: false, drift: [] });
      assert.equal(mock.commandCalls(DescribeReplicationInstancesCommand).length, 3);
      assert.equal(mock.commandCalls(CreateReplicationInstanceCommand).length, 1);
    } finally {
      mock.restore();
    }
  });
});

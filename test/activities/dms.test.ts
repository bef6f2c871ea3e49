// The aws-dms activities alone (MockActivityEnvironment, no Temporal server) over the in-memory DMS+RDS
// fake: provision and adopt, cancel mid-wait and retry, watch with heartbeats, task failure, throttling,
// teardown of exactly what was created, the Aurora snapshot; the source slot lookup on real PostgreSQL.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateReplicationInstanceCommand,
  DeleteEndpointCommand,
  DescribeReplicationTasksCommand,
} from '@aws-sdk/client-database-migration-service';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { awsClients, createDmsActivities, type DmsActivityDeps, pickSlot } from '../../src/activities/dms';
import { loadConfig } from '../../src/config';
import { NON_RETRYABLE_ERROR_TYPES } from '../../src/errors';
import { awsError } from '../dms/helpers';
import { FakeAws } from '../dms/fake';
import { connect, dropDatabase, freshDatabase, testServer, type TestServer } from '../support/pg';

/** MockActivityEnvironment.run with the activity's own types (its generic does not infer them). */
function run<A, R>(env: MockActivityEnvironment, fn: (a: A) => Promise<R>, a: A): Promise<R> {
  return env.run(fn, a) as Promise<R>;
}

const SECRET = (name: string) =>
  `aws-secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry/${name}-AbCdEf`;

/** A ferry.yaml with three aws-dms migrations: with Aurora + assessment, without Aurora, with a slot name. */
function ferryYaml(source: { port: number; database: string }): string {
  const dms = (extra: string) => `
    dms:
      replicationInstance: { class: dms.t3.medium, subnetGroup: ferry-private, securityGroups: [sg-0abc] }
      secretsAccessRoleArn: "arn:aws:iam::123456789012:role/dms-secrets"
${extra}`;
  return `workDir: work
aws: { region: eu-west-1 }
endpoints:
  - { id: onsite, role: source, host: 127.0.0.1, port: ${source.port}, database: ${source.database}, user: postgres, password: "${SECRET('onsite')}", sslmode: disable }
  - { id: aurora, role: target, host: shop.cluster-abc.eu-west-1.rds.amazonaws.com, database: shop, user: ferry, password: "${SECRET('aurora')}" }
inventory:
  - database: ${source.database}
    endpoint: onsite
    application: storefront
    owners: [{ name: team-shop }]
migrations:
  - name: orders
    source: onsite
    target: aurora
    engine: aws-dms
    migrationType: full-load-and-cdc
    approvers: [alice]
${dms(`      assessment: { bucket: ferry-assessments, roleArn: "arn:aws:iam::123456789012:role/dms-s3" }
      auroraClusterId: shop-cluster`)}
  - name: plain
    source: onsite
    target: aurora
    engine: aws-dms
    migrationType: full-load
    approvers: [alice]
${dms('')}
  - name: named-slot
    source: onsite
    target: aurora
    engine: aws-dms
    migrationType: full-load-and-cdc
    approvers: [alice]
    cdc: { slotName: dms_named_slot }
${dms('')}
`;
}

function assertFailure(type: string, nonRetryable: boolean, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(e)}`);
    assert.equal(e.type, type);
    assert.equal(e.nonRetryable, nonRetryable);
    if (message) assert.match(e.message, message);
    return true;
  };
}

/** Make the next `times` sends of `command` fail with a throttling error before the fake sees them. */
function throttle(fake: FakeAws, command: new (...args: never[]) => object, times: number): void {
  const client = fake.dms as unknown as { send: (c: object) => Promise<unknown> };
  const send = client.send.bind(client);
  let left = times;
  client.send = async (c: object) => {
    if (c instanceof command && left-- > 0) throw awsError('ThrottlingException', 'Rate exceeded', 400);
    return send(c);
  };
}

describe('dms activities (mock activity environment, fake AWS)', function () {
  this.timeout(120_000);
  let pg: TestServer;
  let database: string;
  let dir: string;
  let fake: FakeAws;
  let deps: DmsActivityDeps;

  before(async () => {
    pg = await testServer(13);
    database = await freshDatabase(pg, 'dms_acts');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-dms-acts-'));
    await fs.writeFile(path.join(dir, 'ferry.yaml'), ferryYaml({ port: pg.port, database }));
  });
  after(async () => {
    await dropDatabase(pg, database);
    await fs.rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    fake = new FakeAws();
    fake.seedCluster('shop-cluster');
    fake.individualAssessments = [
      { IndividualAssessmentName: 'postgres-check-wallevel', Status: 'passed' },
      { IndividualAssessmentName: 'postgres-check-pk', Status: 'failed' },
    ];
    deps = {
      configPath: path.join(dir, 'ferry.yaml'),
      heartbeatMs: 20,
      dmsPollMs: 1,
      dmsRetry: { baseMs: 1, attempts: 4 },
      awsClients: () => ({ dms: fake.dms, rds: fake.rds }),
      secretsManager: async () => pg.password,
    };
  });
  afterEach(() => fake.restore());

  const creates = () => fake.log.filter((r) => r.command.startsWith('Create')).map((r) => r.command);

  it('the DMS error types are in the one vocabulary, the failure ones non-retryable', () => {
    for (const t of ['DMS_TASK_FAILED', 'DMS_REQUEST_FAILED', 'DMS_ABORTED', 'DMS_RESOURCE_NOT_FOUND'])
      assert.ok((NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(t), t);
    for (const t of ['DMS_RESOURCE_BUSY', 'DMS_WAIT_TIMEOUT', 'AWS_TRANSIENT'])
      assert.ok(!(NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(t), t);
  });

  it('dmsProvision creates everything, heartbeats its waits; a second call adopts and creates nothing', async () => {
    const acts = createDmsActivities(deps);
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const r = await run(env, acts.dmsProvision, { migration: 'orders' });
    assert.equal(r.region, 'eu-west-1');
    assert.deepEqual(
      [r.instance, r.source, r.target, r.task].map((x) => [x.identifier, x.created]),
      [
        ['ferry-orders', true],
        ['ferry-orders-source', true],
        ['ferry-orders-target', true],
        ['ferry-orders', true],
      ],
    );
    assert.match(r.task.arn, /^arn:aws:dms:eu-west-1:\d+:task:/);
    assert.deepEqual(r.cluster, { identifier: 'shop-cluster', status: 'available', engineVersion: '16.4' });
    assert.equal(r.assessment?.resultLocation, 's3://ferry-assessments/ferry-orders/');
    assert.deepEqual(r.assessment?.counts, { blocker: 1, warning: 0, info: 0, passed: 1 });
    assert.deepEqual(
      r.assessment?.findings.map((f) => [f.id, f.severity]),
      [['dms:postgres-check-pk', 'blocker']],
    );
    assert.deepEqual(creates(), [
      'CreateReplicationInstance',
      'CreateEndpoint',
      'CreateEndpoint',
      'CreateReplicationTask',
    ]);
    assert.equal(fake.sent('StartReplicationTaskAssessmentRun').length, 1);
    assert.ok(
      beats.some((b) => /replication instance/.test((b as { what?: string }).what ?? '')),
      'the instance wait heartbeats',
    );
    // Nothing secret in what goes to history: results and heartbeats.
    assert.ok(!JSON.stringify([r, beats]).includes(pg.password));

    const before = fake.log.length;
    const again = await run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'orders' });
    assert.deepEqual(again, r, 'adopted, and still known as created by Ferry (tags)');
    assert.equal(creates().length, 4, 'no second create');
    assert.equal(fake.sent('StartReplicationTaskAssessmentRun').length, 1);
    assert.ok(fake.log.length > before);
  });

  it('a provision cancelled mid-wait ends as cancelled; the retry creates nothing twice', async () => {
    const acts = createDmsActivities(deps);
    fake.transitions = 1_000_000; // the instance stays `creating` until released below
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: unknown) => {
      if (/replication instance/.test((d as { what?: string }).what ?? '')) env.cancel();
    });
    await assert.rejects(run(env, acts.dmsProvision, { migration: 'orders' }), (e: unknown) => {
      assert.ok(e instanceof CancelledFailure, `expected a CancelledFailure, got ${String(e)}`);
      return true;
    });
    assert.deepEqual(creates(), ['CreateReplicationInstance']);

    fake.transitions = 1;
    for (const i of fake.instances.values()) i.pending = 0;
    const r = await run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'orders' });
    assert.equal(r.instance.created, true, 'the first attempt created it: still ours');
    assert.deepEqual(creates(), [
      'CreateReplicationInstance',
      'CreateEndpoint',
      'CreateEndpoint',
      'CreateReplicationTask',
    ]);
  });

  it('dmsStartTask starts once; dmsWatchTask heartbeats progress until the full load is done', async () => {
    const acts = createDmsActivities(deps);
    fake.tableStats = [
      { SchemaName: 'public', TableName: 'orders', FullLoadRows: 10, ValidationState: 'Validated' },
      { SchemaName: 'public', TableName: 'items', FullLoadRows: 30, ValidationState: 'Pending records' },
      { SchemaName: 'public', TableName: 'Odd', FullLoadRows: 1, ValidationState: 'Mismatched records' },
    ];
    const { task } = await run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'plain' });
    const started = await run(new MockActivityEnvironment(), acts.dmsStartTask, {
      migration: 'plain',
      taskArn: task.arn,
    });
    assert.equal(started.action, 'start-replication');

    const env = new MockActivityEnvironment();
    const beats: { status?: string; fullLoadProgressPercent?: number; tables?: unknown[] }[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d as (typeof beats)[number]));
    const view = await run(env, acts.dmsWatchTask, {
      migration: 'plain',
      taskArn: task.arn,
      until: 'full-load-done',
    });
    assert.equal(view.status, 'running');
    assert.equal(view.fullLoadProgressPercent, 100);
    assert.equal(view.tablesLoaded, 4);
    assert.deepEqual(
      view.tables.map((t) => [t.table, t.fullLoadRows]),
      [
        ['public."Odd"', 1],
        ['public.items', 30],
        ['public.orders', 10],
      ],
    );
    assert.deepEqual(view.validation, { enabled: true, validated: 1, mismatched: 1, pending: 1, tables: 3 });
    assert.ok(
      beats.some((b) => b.fullLoadProgressPercent === 40 && b.tables?.length === 3),
      'a heartbeat carries the in-progress view',
    );

    const again = await run(new MockActivityEnvironment(), acts.dmsStartTask, {
      migration: 'plain',
      taskArn: task.arn,
    });
    assert.deepEqual(again, { status: 'running', action: 'none' });
    assert.equal(fake.sent('StartReplicationTask').length, 1);

    const stats = await run(new MockActivityEnvironment(), acts.dmsTableStatistics, {
      migration: 'plain',
      taskArn: task.arn,
    });
    assert.equal(stats.length, 3);

    const stopped = await run(new MockActivityEnvironment(), acts.dmsStopTask, {
      migration: 'plain',
      taskArn: task.arn,
    });
    assert.equal(stopped.status, 'stopped');
    const resumed = await run(new MockActivityEnvironment(), acts.dmsStartTask, {
      migration: 'plain',
      taskArn: task.arn,
    });
    assert.equal(resumed.action, 'resume-processing');
    assert.equal(
      (fake.sent('StartReplicationTask')[1].input as { StartReplicationTaskType: string })
        .StartReplicationTaskType,
      'resume-processing',
    );
  });

  it('a failed task ends the watch with a non-retryable DMS_TASK_FAILED naming the stop reason', async () => {
    const acts = createDmsActivities(deps);
    fake.taskRun = [
      { status: 'starting' },
      {
        status: 'stopped',
        stopReason: 'Stop Reason FATAL_ERROR',
        lastFailureMessage: 'Last Error relation "public.orders" does not exist',
      },
    ];
    const { task } = await run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'plain' });
    await run(new MockActivityEnvironment(), acts.dmsStartTask, { migration: 'plain', taskArn: task.arn });
    await assert.rejects(
      run(new MockActivityEnvironment(), acts.dmsWatchTask, {
        migration: 'plain',
        taskArn: task.arn,
        until: 'full-load-done',
      }),
      assertFailure('DMS_TASK_FAILED', true, /FATAL_ERROR.*public\.orders/),
    );
  });

  it('throttling: describes ride it out inside the attempt; a throttled create fails retryable, the retry succeeds', async () => {
    const acts = createDmsActivities(deps);
    throttle(fake, CreateReplicationInstanceCommand, 1);
    await assert.rejects(
      run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'plain' }),
      assertFailure('AWS_TRANSIENT', false, /ThrottlingException/),
    );
    // The activity's retry policy runs it again: one instance, everything created once.
    const r = await run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'plain' });
    assert.equal(r.instance.created, true);
    assert.deepEqual(creates(), [
      'CreateReplicationInstance',
      'CreateEndpoint',
      'CreateEndpoint',
      'CreateReplicationTask',
    ]);
    // Describes throttled twice within one attempt: the adapter's backoff absorbs it.
    throttle(fake, DescribeReplicationTasksCommand, 2);
    const s = await run(new MockActivityEnvironment(), acts.dmsStopTask, {
      migration: 'plain',
      taskArn: r.task.arn,
    });
    assert.equal(s.status, 'ready');
  });

  it('a non-retryable AWS error (access denied) fails at once as DMS_REQUEST_FAILED', async () => {
    const acts = createDmsActivities(deps);
    const client = fake.dms as unknown as { send: (c: object) => Promise<unknown> };
    client.send = async () => {
      throw awsError('AccessDeniedFault', 'not authorized to perform dms:DescribeReplicationInstances');
    };
    await assert.rejects(
      run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'plain' }),
      assertFailure('DMS_REQUEST_FAILED', true, /AccessDeniedFault.*IAM policy/),
    );
  });

  it('dmsTeardown deletes exactly what it created, in reverse order, keeps the adopted instance; twice is fine', async () => {
    const acts = createDmsActivities(deps);
    // An operator's instance of the same identifier, without Ferry's tags: adopted.
    fake.seed(fake.instances, 'rep', 'ferry-plain', 'available', {
      ReplicationInstanceClass: 'dms.t3.medium',
    });
    const res = await run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'plain' });
    assert.equal(res.instance.created, false);
    await run(new MockActivityEnvironment(), acts.dmsStartTask, {
      migration: 'plain',
      taskArn: res.task.arn,
    });

    const t = await run(new MockActivityEnvironment(), acts.dmsTeardown, {
      migration: 'plain',
      resources: res,
    });
    assert.equal(t.ok, true);
    assert.deepEqual(t.steps, [
      { name: 'task', detail: 'deleted ferry-plain' },
      { name: 'target endpoint', detail: 'deleted ferry-plain-target' },
      { name: 'source endpoint', detail: 'deleted ferry-plain-source' },
      { name: 'instance', detail: 'kept: adopted (ferry-plain)' },
    ]);
    assert.deepEqual(
      fake.log.filter((r) => /^(Delete|Stop)/.test(r.command)).map((r) => r.command),
      ['StopReplicationTask', 'DeleteReplicationTask', 'DeleteEndpoint', 'DeleteEndpoint'],
    );
    assert.equal(fake.instances.size, 1, 'the adopted instance is still there');
    assert.equal(fake.tasks.size + fake.endpoints.size, 0);

    const again = await run(new MockActivityEnvironment(), acts.dmsTeardown, {
      migration: 'plain',
      resources: res,
    });
    assert.deepEqual(
      again.steps.map((s) => s.detail),
      [
        'already gone (ferry-plain)',
        'already gone (ferry-plain-target)',
        'already gone (ferry-plain-source)',
        'kept: adopted (ferry-plain)',
      ],
    );
  });

  it('dmsTeardown deletes a created instance after the task and endpoints', async () => {
    const acts = createDmsActivities(deps);
    const res = await run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'plain' });
    const t = await run(new MockActivityEnvironment(), acts.dmsTeardown, {
      migration: 'plain',
      resources: res,
    });
    assert.deepEqual(
      t.steps.map((s) => s.detail),
      [
        'deleted ferry-plain',
        'deleted ferry-plain-target',
        'deleted ferry-plain-source',
        'deleted ferry-plain',
      ],
    );
    assert.deepEqual(
      fake.log.filter((r) => r.command.startsWith('Delete')).map((r) => r.command),
      ['DeleteReplicationTask', 'DeleteEndpoint', 'DeleteEndpoint', 'DeleteReplicationInstance'],
    );
  });

  it('dmsTeardown reports a step it cannot undo and keeps what depends on it', async () => {
    const acts = createDmsActivities(deps);
    const res = await run(new MockActivityEnvironment(), acts.dmsProvision, { migration: 'plain' });
    const client = fake.dms as unknown as { send: (c: object) => Promise<unknown> };
    const send = client.send.bind(client);
    client.send = async (c: object) => {
      if (c instanceof DeleteEndpointCommand && c.input.EndpointArn === res.target.arn)
        throw awsError('AccessDeniedFault', 'not authorized to perform dms:DeleteEndpoint');
      return send(c);
    };
    const t = await run(new MockActivityEnvironment(), acts.dmsTeardown, {
      migration: 'plain',
      resources: res,
    });
    assert.equal(t.ok, false);
    assert.deepEqual(
      t.steps.map((s) => [s.name, s.detail.replace(/:.*/, '')]),
      [
        ['task', 'deleted ferry-plain'],
        ['target endpoint', 'failed'],
        ['source endpoint', 'deleted ferry-plain-source'],
        ['instance', 'kept for now (ferry-plain)'],
      ],
    );
    assert.match(t.steps[1].detail, /AccessDeniedFault|not authorized/);
    assert.equal(fake.instances.size, 1);
  });

  it('dmsSnapshot snapshots the Aurora cluster once (adopted on retry); no cluster → CONFIG_INVALID', async () => {
    const acts = createDmsActivities(deps);
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const s = await run(env, acts.dmsSnapshot, { migration: 'orders', snapshotId: 'shop-pre-cutover' });
    assert.equal(s.identifier, 'shop-pre-cutover');
    assert.equal(s.created, true);
    assert.match(s.arn, /cluster-snapshot:shop-pre-cutover$/);
    assert.ok(beats.some((b) => /cluster snapshot/.test((b as { what?: string }).what ?? '')));
    const again = await run(new MockActivityEnvironment(), acts.dmsSnapshot, {
      migration: 'orders',
      snapshotId: 'shop-pre-cutover',
    });
    assert.deepEqual(again, s);
    assert.equal(fake.sent('CreateDBClusterSnapshot').length, 1);
    await assert.rejects(
      run(new MockActivityEnvironment(), acts.dmsSnapshot, { migration: 'plain', snapshotId: 'x-pre' }),
      assertFailure('CONFIG_INVALID', true, /auroraClusterId/),
    );
  });

  it('dmsSourceSlot finds the DMS slot on the real source, ignoring Ferry’s own; ambiguous → says to set cdc.slotName', async () => {
    const acts = createDmsActivities(deps);
    const c = await connect(pg, database);
    const slots = ['dms_slot_a', 'ferry_native_x', 'dms_named_slot', 'dms_slot_b'];
    try {
      await c.query(`SELECT pg_create_logical_replication_slot('dms_slot_a', 'test_decoding')`);
      await c.query(`SELECT pg_create_logical_replication_slot('ferry_native_x', 'test_decoding')`);
      const one = await run(new MockActivityEnvironment(), acts.dmsSourceSlot, { migration: 'plain' });
      assert.equal(one.slotName, 'dms_slot_a');

      const named = await run(new MockActivityEnvironment(), acts.dmsSourceSlot, { migration: 'named-slot' });
      assert.equal(named.slotName, undefined);
      assert.match(named.detail, /cdc\.slotName dms_named_slot is not/);
      await c.query(`SELECT pg_create_logical_replication_slot('dms_named_slot', 'test_decoding')`);
      const named2 = await run(new MockActivityEnvironment(), acts.dmsSourceSlot, {
        migration: 'named-slot',
      });
      assert.equal(named2.slotName, 'dms_named_slot');

      await c.query(`SELECT pg_create_logical_replication_slot('dms_slot_b', 'test_decoding')`);
      const two = await run(new MockActivityEnvironment(), acts.dmsSourceSlot, { migration: 'plain' });
      assert.equal(two.slotName, undefined);
      assert.match(two.detail, /dms_named_slot, dms_slot_a, dms_slot_b.*set migrations\[\]\.cdc\.slotName/);
      assert.ok(!JSON.stringify(two).includes(pg.password));
    } finally {
      // A leaked slot keeps WAL forever.
      await c.query(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1)`,
        [slots],
      );
      await c.end();
    }
  });

  it('awsClients: the region of ferry.yaml, with or without a role to assume (no AWS call)', async () => {
    const cfg = await loadConfig(path.join(dir, 'ferry.yaml'));
    const plainClients = awsClients(cfg, 'orders');
    assert.equal(await plainClients.dms.config.region(), 'eu-west-1');
    assert.equal(await plainClients.rds.config.region(), 'eu-west-1');
    const withRole = awsClients(
      { ...cfg, aws: { region: 'eu-central-1', roleArn: 'arn:aws:iam::123456789012:role/ferry' } },
      'orders',
    );
    assert.equal(await withRole.dms.config.region(), 'eu-central-1');
    for (const c of [plainClients, withRole]) {
      c.dms.destroy();
      c.rds.destroy();
    }
  });

  it('pickSlot: pglogical slots by their output plugin, none → the fix', () => {
    const slots = [
      { slot_name: 'pgl_slot', plugin: 'pglogical_output', active: true },
      { slot_name: 'td', plugin: 'test_decoding', active: false },
    ];
    assert.equal(pickSlot(slots, undefined, 'pglogical', 'shop').slotName, 'pgl_slot');
    const none = pickSlot([], undefined, 'test_decoding', 'shop');
    assert.equal(none.slotName, undefined);
    assert.match(none.detail, /no test_decoding logical slot.*cdc\.slotName/);
  });
});

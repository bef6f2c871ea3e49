// Aurora on RDS: describe the target cluster, the pre-cutover cluster snapshot (create, adopt, refuse
// another cluster's), wait for it, and the restore-from-snapshot fallback request.
import assert from 'node:assert/strict';
import {
  DmsError,
  createClusterSnapshot,
  defaultSnapshotIdentifier,
  describeTargetCluster,
  restoreClusterFromSnapshot,
  restoreClusterRequest,
  waitClusterSnapshotAvailable,
} from '../../src/dms';
import { FakeAws } from './fake';
import { FAST, sampleSpec } from './helpers';

describe('dms aurora', () => {
  let aws: FakeAws;
  beforeEach(() => {
    aws = new FakeAws();
    aws.seedCluster('orders');
  });
  afterEach(() => aws.restore());

  it('describes the target cluster; a missing or non-PostgreSQL cluster is a config error', async () => {
    const c = await describeTargetCluster(aws.rds, 'orders');
    assert.equal(c.engine, 'aurora-postgresql');
    assert.equal(c.endpoint, 'orders.cluster-abc.eu-west-1.rds.amazonaws.com');
    assert.equal(c.members, 1);
    await assert.rejects(
      describeTargetCluster(aws.rds, 'nope'),
      (e: unknown) =>
        e instanceof DmsError && e.type === 'CONFIG_INVALID' && /nope does not exist/.test(e.message),
    );
    aws.seedCluster('mysql-one', 'aurora-mysql');
    await assert.rejects(describeTargetCluster(aws.rds, 'mysql-one'), /runs aurora-mysql/);
  });

  it('creates the pre-cutover snapshot once, tagged, and waits until it is available', async () => {
    const spec = sampleSpec();
    const id = defaultSnapshotIdentifier('orders', spec.migration);
    assert.equal(id, 'orders-ferry-orders-to-aurora-pre-cutover');
    const s = await createClusterSnapshot(aws.rds, 'orders', id, spec);
    assert.deepEqual(
      { created: s.created, existed: s.existed, status: s.status },
      { created: true, existed: false, status: 'creating' },
    );
    const progress: (string | number | undefined)[] = [];
    const done = await waitClusterSnapshotAvailable(aws.rds, id, {
      ...FAST,
      onProgress: (p) => progress.push(p.detail?.percent),
    });
    assert.equal(done.Status, 'available');
    assert.deepEqual(progress, [50]);
    const again = await createClusterSnapshot(aws.rds, 'orders', id, spec);
    assert.deepEqual({ created: again.created, existed: again.existed }, { created: true, existed: true });
    assert.equal(aws.sent('CreateDBClusterSnapshot').length, 1);
    const tags = (aws.sent('CreateDBClusterSnapshot')[0].input as { Tags: { Key: string }[] }).Tags;
    assert.deepEqual(
      tags.map((t) => t.Key),
      ['ferry:migration', 'ferry:owner', 'created-by', 'cost-centre', 'environment'],
    );
  });

  it("adopts an operator's snapshot of the cluster (not Ferry's), refuses another cluster's", async () => {
    const spec = sampleSpec();
    aws.seedSnapshot('manual-before-cutover', 'orders');
    const s = await createClusterSnapshot(aws.rds, 'orders', 'manual-before-cutover', spec);
    assert.deepEqual({ created: s.created, existed: s.existed }, { created: false, existed: true });
    aws.seedSnapshot('other-snap', 'billing');
    await assert.rejects(
      createClusterSnapshot(aws.rds, 'orders', 'other-snap', spec),
      /is of cluster billing, not orders/,
    );
    assert.equal(aws.sent('CreateDBClusterSnapshot').length, 0);
  });

  it('restores a new cluster from the snapshot (fallback), idempotently', async () => {
    const spec = sampleSpec();
    const restore = {
      clusterIdentifier: 'orders-restored',
      snapshotIdentifier: 'orders-ferry-orders-to-aurora-pre-cutover',
      engineVersion: '16.4',
      dbSubnetGroupName: 'orders-db-subnets',
      vpcSecurityGroupIds: ['sg-0db'],
    };
    const req = restoreClusterRequest(restore, spec);
    assert.equal(req.Engine, 'aurora-postgresql');
    assert.equal(req.DeletionProtection, true);
    const r = await restoreClusterFromSnapshot(aws.rds, restore, spec);
    assert.equal(r.created, true);
    assert.deepEqual(aws.sent('RestoreDBClusterFromSnapshot')[0].input, JSON.parse(JSON.stringify(req)));
    const again = await restoreClusterFromSnapshot(aws.rds, restore, spec);
    assert.equal(again.created, true);
    assert.equal(aws.sent('RestoreDBClusterFromSnapshot').length, 1);
    await assert.rejects(
      restoreClusterFromSnapshot(aws.rds, { ...restore, clusterIdentifier: 'orders' }, spec),
      /already exists and Ferry did not restore it/,
    );
  });
});

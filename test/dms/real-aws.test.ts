// Against a real AWS account, read-only, only with FERRY_AWS_IT=1 (credentials from the default provider
// chain, region from FERRY_AWS_REGION or AWS_REGION). Every other DMS test uses mocked clients and makes
// no AWS call. Checks the assumptions the adapter's adopt-if-exists logic rests on: a describe that
// matches nothing, and a tag lookup of a missing resource, both answer "not found".
import assert from 'node:assert/strict';
import { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import { RDSClient } from '@aws-sdk/client-rds';
import {
  DmsError,
  createdByFerry,
  describeTargetCluster,
  findEndpoint,
  findReplicationInstance,
} from '../../src/dms';

const enabled = process.env.FERRY_AWS_IT === '1';
const region = process.env.FERRY_AWS_REGION ?? process.env.AWS_REGION ?? 'eu-west-1';

(enabled ? describe : describe.skip)('dms adapter against real AWS (FERRY_AWS_IT=1, read-only)', () => {
  const dms = new DatabaseMigrationServiceClient({ region });
  const rds = new RDSClient({ region });
  const probe = `ferry-it-probe-${Date.now()}`;

  it('a lookup by an identifier that does not exist finds nothing', async () => {
    assert.equal(await findReplicationInstance(dms, probe), undefined);
    assert.equal(await findEndpoint(dms, probe), undefined);
  });

  it('a missing resource is not Ferry-owned', async () => {
    const arn = `arn:aws:dms:${region}:000000000000:rep:${probe.toUpperCase()}`;
    assert.equal(await createdByFerry(dms, arn, 'it').catch(() => false), false);
  });

  it('a missing Aurora cluster is a config error', async () => {
    await assert.rejects(
      describeTargetCluster(rds, probe),
      (e: unknown) => e instanceof DmsError && e.type === 'CONFIG_INVALID',
    );
  });
});

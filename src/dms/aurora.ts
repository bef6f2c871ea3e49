// The Aurora PostgreSQL target on RDS: describe the cluster, take a cluster snapshot before cutover
// (adopting one of the same identifier, so a retried activity never takes two), wait for it, and the
// documented fallback path: restore a new cluster from that snapshot.
//
// Fallback by restore, step by step (what restoreClusterFromSnapshot does and does not do):
//   1. RestoreDBClusterFromSnapshot creates a NEW cluster (a new identifier; the old one is untouched)
//      with the snapshot's data, engine and version; it has no DB instances yet.
//   2. CreateDBInstance with DBClusterIdentifier = the new cluster adds its writer (class, AZ);
//      not automated here: the instance class and parameter group are an operator's choice.
//   3. Point the application at the new cluster's endpoint (or rename clusters), then decide what to
//      do with the old one. Data written to the target after the snapshot is not in the restore.
import {
  CreateDBClusterSnapshotCommand,
  type DBCluster,
  type DBClusterSnapshot,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  type RDSClient,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds';
import { DmsError, DmsErrorType, ErrorType, isAlreadyExists } from './errors';
import { type RestoreClusterSpec, clusterSnapshotRequest, restoreClusterRequest } from './requests';
import { findOne, type RetryOptions, type WaitOptions, poll } from './retry';
import { type FerryTagInfo, taggedForMigration } from './spec';

export interface ClusterView {
  identifier: string;
  arn?: string;
  status: string;
  engine?: string;
  engineVersion?: string;
  endpoint?: string;
  readerEndpoint?: string;
  port?: number;
  members: number;
}

async function findCluster(
  rds: RDSClient,
  identifier: string,
  retry?: RetryOptions,
): Promise<DBCluster | undefined> {
  return findOne(
    () => rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier })),
    (out) => out.DBClusters?.[0],
    retry,
  );
}

/** The target cluster; CONFIG_INVALID if it does not exist or is not Aurora PostgreSQL. */
export async function describeTargetCluster(
  rds: RDSClient,
  identifier: string,
  retry?: RetryOptions,
): Promise<ClusterView> {
  const c = await findCluster(rds, identifier, retry);
  if (!c)
    throw new DmsError(
      ErrorType.CONFIG_INVALID,
      `Aurora cluster ${identifier} does not exist in this account and region (check the cluster identifier and region in ferry.yaml)`,
    );
  if (c.Engine && c.Engine !== 'aurora-postgresql')
    throw new DmsError(
      ErrorType.CONFIG_INVALID,
      `cluster ${identifier} runs ${c.Engine}; Ferry's aws-dms engine migrates to aurora-postgresql only`,
    );
  return {
    identifier,
    ...(c.DBClusterArn && { arn: c.DBClusterArn }),
    status: c.Status ?? 'unknown',
    ...(c.Engine && { engine: c.Engine }),
    ...(c.EngineVersion && { engineVersion: c.EngineVersion }),
    ...(c.Endpoint && { endpoint: c.Endpoint }),
    ...(c.ReaderEndpoint && { readerEndpoint: c.ReaderEndpoint }),
    ...(c.Port !== undefined && { port: c.Port }),
    members: c.DBClusterMembers?.length ?? 0,
  };
}

export interface SnapshotRef {
  identifier: string;
  arn?: string;
  status: string;
  /** true when Ferry created it for this migration (this call, or an earlier attempt by its tags). */
  created: boolean;
  existed: boolean;
}

async function findSnapshot(
  rds: RDSClient,
  identifier: string,
  retry?: RetryOptions,
): Promise<DBClusterSnapshot | undefined> {
  return findOne(
    () => rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: identifier })),
    (out) => out.DBClusterSnapshots?.[0],
    retry,
  );
}

function snapshotRef(
  s: DBClusterSnapshot,
  identifier: string,
  migration: string,
  existed: boolean,
): SnapshotRef {
  return {
    identifier,
    ...(s.DBClusterSnapshotArn && { arn: s.DBClusterSnapshotArn }),
    status: s.Status ?? 'unknown',
    created: existed ? taggedForMigration(s.TagList ?? [], migration) : true,
    existed,
  };
}

/**
 * Snapshot the cluster under `snapshotIdentifier`, or adopt the snapshot of that identifier (refused if
 * it belongs to another cluster: restoring it would bring back the wrong data).
 */
export async function createClusterSnapshot(
  rds: RDSClient,
  clusterIdentifier: string,
  snapshotIdentifier: string,
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<SnapshotRef> {
  const adopt = (s: DBClusterSnapshot) => {
    if (s.DBClusterIdentifier && s.DBClusterIdentifier !== clusterIdentifier)
      throw new DmsError(
        ErrorType.CONFIG_INVALID,
        `snapshot ${snapshotIdentifier} exists but is of cluster ${s.DBClusterIdentifier}, not ${clusterIdentifier}: choose another snapshot identifier`,
      );
    return snapshotRef(s, snapshotIdentifier, tags.migration, true);
  };
  const existing = await findSnapshot(rds, snapshotIdentifier, retry);
  if (existing) return adopt(existing);
  try {
    const out = await rds.send(
      new CreateDBClusterSnapshotCommand(clusterSnapshotRequest(clusterIdentifier, snapshotIdentifier, tags)),
    );
    return snapshotRef(
      out.DBClusterSnapshot ?? { Status: 'creating' },
      snapshotIdentifier,
      tags.migration,
      false,
    );
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const found = await findSnapshot(rds, snapshotIdentifier, retry);
    if (!found) throw err;
    return adopt(found);
  }
}

/** Poll until the snapshot is `available` (progress in percent); a failed snapshot throws. */
export async function waitClusterSnapshotAvailable(
  rds: RDSClient,
  snapshotIdentifier: string,
  opts: WaitOptions = {},
): Promise<DBClusterSnapshot> {
  return poll<DBClusterSnapshot, DBClusterSnapshot>(
    `cluster snapshot ${snapshotIdentifier}`,
    async () => {
      const s = await findSnapshot(rds, snapshotIdentifier, opts.retry);
      if (!s)
        throw new DmsError(
          DmsErrorType.DMS_RESOURCE_NOT_FOUND,
          `cluster snapshot ${snapshotIdentifier} does not exist`,
        );
      return s;
    },
    (s) => {
      const status = s.Status ?? 'unknown';
      if (status === 'available') return { done: s };
      if (status === 'failed' || status === 'deleting')
        throw new DmsError(
          DmsErrorType.DMS_RESOURCE_FAILED,
          `cluster snapshot ${snapshotIdentifier} is ${status}`,
        );
      return { status, ...(s.PercentProgress !== undefined && { detail: { percent: s.PercentProgress } }) };
    },
    opts,
  );
}

/**
 * Fallback: restore a new cluster from the snapshot (see the steps at the top). Adopts a cluster of the
 * same identifier restored by an earlier attempt; refuses one that is not Ferry's.
 */
export async function restoreClusterFromSnapshot(
  rds: RDSClient,
  spec: RestoreClusterSpec,
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<ClusterView & { created: boolean }> {
  const view = (c: DBCluster, created: boolean) => ({
    identifier: spec.clusterIdentifier,
    ...(c.DBClusterArn && { arn: c.DBClusterArn }),
    status: c.Status ?? 'creating',
    ...(c.Engine && { engine: c.Engine }),
    ...(c.EngineVersion && { engineVersion: c.EngineVersion }),
    ...(c.Endpoint && { endpoint: c.Endpoint }),
    ...(c.Port !== undefined && { port: c.Port }),
    members: c.DBClusterMembers?.length ?? 0,
    created,
  });
  const adopt = (c: DBCluster) => {
    if (!taggedForMigration(c.TagList ?? [], tags.migration))
      throw new DmsError(
        ErrorType.CONFIG_INVALID,
        `cluster ${spec.clusterIdentifier} already exists and Ferry did not restore it for ${tags.migration}: choose another identifier for the restored cluster`,
      );
    return view(c, true);
  };
  const existing = await findCluster(rds, spec.clusterIdentifier, retry);
  if (existing) return adopt(existing);
  try {
    const out = await rds.send(new RestoreDBClusterFromSnapshotCommand(restoreClusterRequest(spec, tags)));
    return view(out.DBCluster ?? {}, true);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const found = await findCluster(rds, spec.clusterIdentifier, retry);
    if (!found) throw err;
    return adopt(found);
  }
}

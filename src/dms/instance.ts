// The DMS replication instance: create or adopt by identifier, wait until available (abortable,
// reporting progress for a heartbeat), describe, and delete only what Ferry created.
import {
  CreateReplicationInstanceCommand,
  type DatabaseMigrationServiceClient,
  DeleteReplicationInstanceCommand,
  DescribeReplicationInstancesCommand,
  type ReplicationInstance,
} from '@aws-sdk/client-database-migration-service';
import { DmsError, DmsErrorType, isAlreadyExists, isNotFound } from './errors';
import { type DeleteOptions, type DeleteResult, createdByFerry, refuseDelete } from './ownership';
import { replicationInstanceRequest } from './requests';
import { findOne, type RetryOptions, type WaitOptions, poll } from './retry';
import type { FerryTagInfo, ReplicationInstanceSpec } from './spec';

export interface EnsureResult {
  arn: string;
  /**
   * true: Ferry created it for this migration (this call, or an earlier attempt of the same activity,
   * proven by the tags); false: adopted, so compensation keeps it.
   */
  created: boolean;
  /** true when the resource existed before this call (adopted, or created by an earlier attempt). */
  existed: boolean;
  /** Fields where an existing resource differs from the spec (`class: dms.t3.small != dms.r6i.large`). */
  drift: string[];
}

/** Find a replication instance by identifier; undefined when there is none. */
export async function findReplicationInstance(
  dms: DatabaseMigrationServiceClient,
  identifier: string,
  retry?: RetryOptions,
): Promise<ReplicationInstance | undefined> {
  return describeOne(dms, 'replication-instance-id', identifier, retry);
}

/** Describe a replication instance by ARN; throws DMS_RESOURCE_NOT_FOUND when it is gone. */
export async function describeReplicationInstance(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  retry?: RetryOptions,
): Promise<ReplicationInstance> {
  const ri = await describeOne(dms, 'replication-instance-arn', arn, retry);
  if (!ri)
    throw new DmsError(DmsErrorType.DMS_RESOURCE_NOT_FOUND, `replication instance ${arn} does not exist`, {
      details: { arn },
    });
  return ri;
}

async function describeOne(
  dms: DatabaseMigrationServiceClient,
  filter: 'replication-instance-id' | 'replication-instance-arn',
  value: string,
  retry?: RetryOptions,
): Promise<ReplicationInstance | undefined> {
  return findOne(
    () => dms.send(new DescribeReplicationInstancesCommand({ Filters: [{ Name: filter, Values: [value] }] })),
    (out) => out.ReplicationInstances?.[0],
    retry,
  );
}

/**
 * Create the replication instance, or adopt the one with the same identifier. Safe to retry: a create
 * whose answer was lost is found by identifier on the next attempt, and its tags make it `created`.
 */
export async function ensureReplicationInstance(
  dms: DatabaseMigrationServiceClient,
  spec: ReplicationInstanceSpec,
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<EnsureResult> {
  const existing = await findReplicationInstance(dms, spec.identifier, retry);
  if (existing) return adopt(dms, existing, spec, tags, retry);
  try {
    const out = await dms.send(new CreateReplicationInstanceCommand(replicationInstanceRequest(spec, tags)));
    const arn = out.ReplicationInstance?.ReplicationInstanceArn;
    if (!arn)
      throw new DmsError(DmsErrorType.DMS_REQUEST_FAILED, 'CreateReplicationInstance returned no ARN');
    return { arn, created: true, existed: false, drift: [] };
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    // Created concurrently (or by an attempt whose answer was lost): adopt it.
    const found = await findReplicationInstance(dms, spec.identifier, retry);
    if (!found) throw err;
    return adopt(dms, found, spec, tags, retry);
  }
}

async function adopt(
  dms: DatabaseMigrationServiceClient,
  ri: ReplicationInstance,
  spec: ReplicationInstanceSpec,
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<EnsureResult> {
  const arn = ri.ReplicationInstanceArn;
  if (!arn)
    throw new DmsError(DmsErrorType.DMS_REQUEST_FAILED, `replication instance ${spec.identifier} has no ARN`);
  if (ri.ReplicationInstanceStatus === 'deleting')
    throw new DmsError(
      DmsErrorType.DMS_RESOURCE_BUSY,
      `replication instance ${spec.identifier} is being deleted; Ferry creates it again once it is gone`,
      { details: { arn } },
    );
  const drift: string[] = [];
  const diff = (field: string, want: unknown, have: unknown) => {
    if (want !== undefined && want !== have) drift.push(`${field}: ${String(have)} != ${String(want)}`);
  };
  diff('class', spec.instanceClass, ri.ReplicationInstanceClass);
  diff('allocatedStorage', spec.allocatedStorage, ri.AllocatedStorage);
  diff('multiAZ', spec.multiAZ, ri.MultiAZ);
  diff('engineVersion', spec.engineVersion, ri.EngineVersion);
  diff('publiclyAccessible', spec.publiclyAccessible ?? false, ri.PubliclyAccessible);
  diff('subnetGroup', spec.subnetGroup, ri.ReplicationSubnetGroup?.ReplicationSubnetGroupIdentifier);
  const created = await createdByFerry(dms, arn, tags.migration, retry);
  return { arn, created, existed: true, drift };
}

/** Instance states it will not leave by itself: waiting longer cannot help. */
const INSTANCE_FAILED = new Set([
  'failed',
  'deleted',
  'deleting',
  'incompatible-network',
  'incompatible-credentials',
  'inaccessible-encryption-credentials',
  'storage-full',
]);

/** Poll until the instance is `available`; throws on a failed state, abort, or the deadline. */
export async function waitReplicationInstanceAvailable(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  opts: WaitOptions = {},
): Promise<ReplicationInstance> {
  return poll<ReplicationInstance, ReplicationInstance>(
    `replication instance ${arn}`,
    () => describeReplicationInstance(dms, arn, opts.retry),
    (ri) => {
      const status = ri.ReplicationInstanceStatus ?? 'unknown';
      if (status === 'available') return { done: ri };
      if (INSTANCE_FAILED.has(status))
        throw new DmsError(
          DmsErrorType.DMS_RESOURCE_FAILED,
          `replication instance ${ri.ReplicationInstanceIdentifier ?? arn} is ${status}` +
            (status === 'incompatible-network'
              ? ': its subnet group or security groups do not fit the VPC (check the subnet group covers two AZs and the security groups exist in that VPC)'
              : status === 'storage-full'
                ? ': raise AllocatedStorage (ModifyReplicationInstance)'
                : ''),
          { details: { arn, status } },
        );
      return { status };
    },
    opts,
  );
}

/**
 * Delete the instance if Ferry created it for this migration (see DeleteOptions); an instance already
 * gone counts as done. Tasks on it must be deleted first (DMS refuses otherwise: retryable BUSY).
 */
export async function deleteReplicationInstance(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  opts: DeleteOptions,
): Promise<DeleteResult> {
  const refused = await refuseDelete(dms, arn, opts);
  if (refused) return refused;
  try {
    await dms.send(new DeleteReplicationInstanceCommand({ ReplicationInstanceArn: arn }));
    return { deleted: true };
  } catch (err) {
    if (isNotFound(err)) return { deleted: false, reason: 'already gone' };
    throw busyIfInvalidState(err, `replication instance ${arn}`);
  }
}

/** InvalidResourceStateFault on a delete: something still uses the resource, or it is mid-change. */
export function busyIfInvalidState(err: unknown, what: string): unknown {
  if (err && typeof err === 'object' && (err as { name?: string }).name === 'InvalidResourceStateFault')
    return new DmsError(
      DmsErrorType.DMS_RESOURCE_BUSY,
      `${what} cannot be changed now: ${(err as Error).message} (retry once the tasks using it are stopped or deleted)`,
      { cause: err },
    );
  return err;
}

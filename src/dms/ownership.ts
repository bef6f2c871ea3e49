// Who created a DMS resource: Ferry deletes only what it created for this migration, proven by the tags
// it put on at creation (`created-by: ferry`, `ferry:migration: <name>`). Adopted resources (an
// operator's instance, a shared endpoint) never carry both, so they survive every compensation.
import {
  type DatabaseMigrationServiceClient,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-database-migration-service';
import { isNotFound } from './errors';
import { type RetryOptions, withRetry } from './retry';
import { taggedForMigration } from './spec';

/** Whether Ferry created the resource for `migration` (its tags say so), or it no longer exists. */
export async function ferryOwnership(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  migration: string,
  retry?: RetryOptions,
): Promise<'ours' | 'not-ours' | 'gone'> {
  try {
    const out = await withRetry(() => dms.send(new ListTagsForResourceCommand({ ResourceArn: arn })), retry);
    return taggedForMigration(out.TagList ?? [], migration) ? 'ours' : 'not-ours';
  } catch (err) {
    if (isNotFound(err)) return 'gone';
    throw err;
  }
}

/** True when the resource's tags say Ferry created it for `migration`; false if untagged or gone. */
export async function createdByFerry(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  migration: string,
  retry?: RetryOptions,
): Promise<boolean> {
  return (await ferryOwnership(dms, arn, migration, retry)) === 'ours';
}

/** How a delete-function decides: the flag the ensure-function returned, else the tags. */
export interface DeleteOptions {
  /** Ferry migration name (for the tag check). */
  migration: string;
  /**
   * `created` from the ensure-function's result. false: adopted, never deleted (no AWS call);
   * true or absent: the tags are checked, so a stale flag cannot delete someone else's resource.
   */
  created?: boolean;
  retry?: RetryOptions;
}

export interface DeleteResult {
  deleted: boolean;
  /** Why nothing was deleted: `adopted`, `not created by ferry for <migration>`, `already gone`. */
  reason?: string;
}

/** Decide whether a delete may proceed: undefined = go ahead, else the result to return. */
export async function refuseDelete(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  opts: DeleteOptions,
): Promise<DeleteResult | undefined> {
  if (opts.created === false) return { deleted: false, reason: 'adopted' };
  const owner = await ferryOwnership(dms, arn, opts.migration, opts.retry);
  if (owner === 'gone') return { deleted: false, reason: 'already gone' };
  if (owner === 'not-ours') return { deleted: false, reason: `not created by ferry for ${opts.migration}` };
  return undefined;
}

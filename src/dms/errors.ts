// The adapter's errors: one class, DmsError, whose `type` is either a type of Ferry's vocabulary
// (src/errors.ts: CONFIG_INVALID, AUTH_FAILED, ENDPOINT_UNREACHABLE...) or one of the DMS-specific types
// below, and whose `retryable` tells the activity layer whether a retry with backoff can help.
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../errors';

export const DmsErrorType = {
  /** A replication task stopped or failed with a failure stop reason; the message names it. */
  DMS_TASK_FAILED: 'DMS_TASK_FAILED',
  /** TestConnection ended `failed` for a reason none of the vocabulary's types covers. */
  DMS_CONNECTION_FAILED: 'DMS_CONNECTION_FAILED',
  /** A replication instance, snapshot or assessment run reached a state it cannot leave by itself. */
  DMS_RESOURCE_FAILED: 'DMS_RESOURCE_FAILED',
  /** A resource Ferry looked up by ARN or identifier does not exist (deleted behind Ferry's back). */
  DMS_RESOURCE_NOT_FOUND: 'DMS_RESOURCE_NOT_FOUND',
  /** A resource exists but is mid-transition (deleting, modifying, stopping): retry later. */
  DMS_RESOURCE_BUSY: 'DMS_RESOURCE_BUSY',
  /** A wait passed its deadline: retried (the resource may still get there). */
  DMS_WAIT_TIMEOUT: 'DMS_WAIT_TIMEOUT',
  /** The wait was cancelled (activity cancelled or heartbeat timed out): never retried by the adapter. */
  DMS_ABORTED: 'DMS_ABORTED',
  /** An AWS call failed for a reason retrying cannot fix (access denied, invalid parameter...). */
  DMS_REQUEST_FAILED: 'DMS_REQUEST_FAILED',
} as const;
export type DmsErrorType = (typeof DmsErrorType)[keyof typeof DmsErrorType];

const NON_RETRYABLE_DMS: readonly DmsErrorType[] = [
  DmsErrorType.DMS_TASK_FAILED,
  DmsErrorType.DMS_CONNECTION_FAILED,
  DmsErrorType.DMS_RESOURCE_FAILED,
  DmsErrorType.DMS_RESOURCE_NOT_FOUND,
  DmsErrorType.DMS_ABORTED,
  DmsErrorType.DMS_REQUEST_FAILED,
];

/** Every DMS-specific type no retry can fix (for the activity layer's non-retryable list). */
export const NON_RETRYABLE_DMS_ERROR_TYPES: readonly string[] = NON_RETRYABLE_DMS;

export class DmsError extends Error {
  constructor(
    readonly type: ErrorType | DmsErrorType,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean | undefined> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DmsError';
    this.details = options?.details ?? {};
  }

  /** Facts for the operator and for status (stop reason, connection status, ARN...). */
  readonly details: Record<string, string | number | boolean | undefined>;

  get retryable(): boolean {
    return !(
      (NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(this.type) ||
      (NON_RETRYABLE_DMS as readonly string[]).includes(this.type)
    );
  }
}

export { ErrorType };

/** The AWS error name (`ResourceNotFoundFault`, `ThrottlingException`...) of anything thrown. */
export function awsErrorName(err: unknown): string | undefined {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
    if (typeof e.Code === 'string') return e.Code;
    if (typeof e.code === 'string') return e.code;
  }
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  const n = awsErrorName(err);
  return (
    n === 'ResourceNotFoundFault' || n === 'DBClusterNotFoundFault' || n === 'DBClusterSnapshotNotFoundFault'
  );
}

export function isAlreadyExists(err: unknown): boolean {
  const n = awsErrorName(err);
  return (
    n === 'ResourceAlreadyExistsFault' ||
    n === 'DBClusterSnapshotAlreadyExistsFault' ||
    n === 'DBClusterAlreadyExistsFault'
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

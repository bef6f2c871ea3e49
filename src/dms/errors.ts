// The adapter's errors: one class, DmsError (a FerryError), whose `type` is from Ferry's vocabulary
// (src/errors.ts: CONFIG_INVALID, AUTH_FAILED, ENDPOINT_UNREACHABLE..., and the DMS_* types), and whose
// `retryable` tells the activity layer whether a retry with backoff can help.
import { ErrorType, FerryError } from '../errors';

/**
 * The DMS-specific types: entries of Ferry's one vocabulary (src/errors.ts, where each is documented and
 * where the non-retryable ones are listed), named here so the adapter reads DmsErrorType.X.
 */
export const DmsErrorType = {
  DMS_TASK_FAILED: ErrorType.DMS_TASK_FAILED,
  DMS_CONNECTION_FAILED: ErrorType.DMS_CONNECTION_FAILED,
  DMS_RESOURCE_FAILED: ErrorType.DMS_RESOURCE_FAILED,
  DMS_RESOURCE_NOT_FOUND: ErrorType.DMS_RESOURCE_NOT_FOUND,
  DMS_RESOURCE_BUSY: ErrorType.DMS_RESOURCE_BUSY,
  DMS_WAIT_TIMEOUT: ErrorType.DMS_WAIT_TIMEOUT,
  DMS_ABORTED: ErrorType.DMS_ABORTED,
  DMS_REQUEST_FAILED: ErrorType.DMS_REQUEST_FAILED,
} as const;
export type DmsErrorType = (typeof DmsErrorType)[keyof typeof DmsErrorType];

/**
 * A FerryError with facts for status: `type` is from Ferry's vocabulary (a DMS_* type or a general one
 * such as CONFIG_INVALID), and `retryable` follows NON_RETRYABLE_ERROR_TYPES like every FerryError, so
 * the activity layer's `wrap` maps it to a (non-)retryable ApplicationFailure without special cases.
 */
export class DmsError extends FerryError {
  constructor(
    type: ErrorType,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean | undefined> },
  ) {
    super(type, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DmsError';
    this.details = options?.details ?? {};
  }

  /** Facts for the operator and for status (stop reason, connection status, ARN...). */
  readonly details: Record<string, string | number | boolean | undefined>;
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

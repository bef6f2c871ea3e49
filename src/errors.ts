// Ferry's error vocabulary: one SCREAMING_SNAKE type per failure an operator can act on, and the one
// list of types that retrying cannot fix (fed to every activity retry policy and to alerts).
// Pure module: imported by workflows (for the type names) as well as by activities and the CLI.

export const ErrorType = {
  /** A ferry.yaml, mapping or settings file is invalid; the message names file, field and fix. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** A secret reference (env:, file:, aws-secretsmanager:) cannot be resolved. */
  SECRET_UNRESOLVED: 'SECRET_UNRESOLVED',
  /** The server refused the credentials (SQLSTATE 28P01 / 28000). */
  AUTH_FAILED: 'AUTH_FAILED',
  /** No route / connection refused / DNS failure / timeout reaching an endpoint. May heal: retried. */
  ENDPOINT_UNREACHABLE: 'ENDPOINT_UNREACHABLE',
  /** The database named by an endpoint does not exist (SQLSTATE 3D000). */
  DATABASE_MISSING: 'DATABASE_MISSING',
  /** The user lacks a privilege Ferry needs (SQLSTATE 42501). */
  PRIVILEGE_MISSING: 'PRIVILEGE_MISSING',
  /** pg_dump / pg_restore / temporal not found or too old. */
  TOOL_MISSING: 'TOOL_MISSING',
  /** pg_dump or pg_restore exited non-zero for a reason that is not transient. */
  TOOL_FAILED: 'TOOL_FAILED',
  /** Restored data differs from the source. */
  VERIFY_FAILED: 'VERIFY_FAILED',
  /** A scratch database exists that Ferry did not create: refusing to drop someone else's data. */
  SCRATCH_NOT_OURS: 'SCRATCH_NOT_OURS',
  /** A migration name that is not in the config. */
  MIGRATION_UNKNOWN: 'MIGRATION_UNKNOWN',
  /** An approval that the gate refuses (not an approver, no such gate). */
  APPROVAL_INVALID: 'APPROVAL_INVALID',
  /**
   * A statement failed with a SQLSTATE none of the types above covers (serialization failure,
   * statement timeout, out of memory...); the message carries the SQLSTATE. Retried.
   */
  DATABASE_ERROR: 'DATABASE_ERROR',
  /**
   * The exported snapshot a copy must import is gone (its exporting session ended: the holder was
   * stopped, crashed or lost its connection). Retried by taking a new snapshot: the orchestrator
   * resets the tables loaded under the old one (full-load-and-cdc: all of them) and loads again.
   */
  SNAPSHOT_LOST: 'SNAPSHOT_LOST',
  /**
   * The replication slot Ferry would create with the snapshot already exists: a previous run's slot,
   * whose exported snapshot is long gone. Drop it (dropSlot) to start over, or reuse it for CDC only.
   */
  REPLICATION_SLOT_EXISTS: 'REPLICATION_SLOT_EXISTS',
  /**
   * Source or target does not have what the plan says (a column, table or type is missing, a kept
   * target table has incompatible columns, an expression does not compile): recompile the plan or fix
   * the target; retrying the same statement fails the same way.
   */
  SCHEMA_MISMATCH: 'SCHEMA_MISMATCH',
  /** The target refuses a row (SQLSTATE class 22 data exception or 23 integrity violation). */
  DATA_REJECTED: 'DATA_REJECTED',
  /**
   * The load's control rows (ferry.load_segments) were written for other segment boundaries or another
   * snapshot: copying now could duplicate or skip rows. Reset the table's load and copy it again.
   */
  LOAD_STATE_CONFLICT: 'LOAD_STATE_CONFLICT',
  /**
   * The source cannot do logical replication as configured (wal_level, no REPLICATION privilege, a
   * table without replica identity, a slot or publication that does not fit the migration); the message
   * lists every problem with the exact change to make (engine/cdc/source.ts). Retrying changes nothing.
   */
  REPLICATION_NOT_READY: 'REPLICATION_NOT_READY',
  /**
   * The premigration assessment found blockers and no approver overrode them at gate `assessment`
   * (rejected or timed out): fix what the findings say and start again, or override with a reason.
   */
  ASSESSMENT_BLOCKED: 'ASSESSMENT_BLOCKED',

  // ---- engine aws-dms (src/dms/errors.ts re-exports these as DmsErrorType) ----------------------
  /** A DMS replication task stopped or failed with a failure stop reason; the message names it. */
  DMS_TASK_FAILED: 'DMS_TASK_FAILED',
  /** A DMS TestConnection ended `failed` for a reason none of the types above covers. */
  DMS_CONNECTION_FAILED: 'DMS_CONNECTION_FAILED',
  /** A replication instance, snapshot or assessment run reached a state it cannot leave by itself. */
  DMS_RESOURCE_FAILED: 'DMS_RESOURCE_FAILED',
  /** A DMS/RDS resource Ferry looked up by ARN or identifier is gone (deleted behind Ferry's back). */
  DMS_RESOURCE_NOT_FOUND: 'DMS_RESOURCE_NOT_FOUND',
  /** A DMS/RDS resource is mid-transition (deleting, modifying, stopping). Retried. */
  DMS_RESOURCE_BUSY: 'DMS_RESOURCE_BUSY',
  /** A wait on AWS passed its deadline; the resource may still get there. Retried. */
  DMS_WAIT_TIMEOUT: 'DMS_WAIT_TIMEOUT',
  /** A wait on AWS was cancelled (the activity was cancelled or timed out). */
  DMS_ABORTED: 'DMS_ABORTED',
  /** An AWS call failed for a reason retrying cannot fix (access denied, invalid parameter...). */
  DMS_REQUEST_FAILED: 'DMS_REQUEST_FAILED',
  /** An AWS call was throttled or failed transiently (5xx, network) beyond its backoff. Retried. */
  AWS_TRANSIENT: 'AWS_TRANSIENT',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Types no retry can fix: activities fail at once with these, workflows surface them to operators. */
export const NON_RETRYABLE_ERROR_TYPES: readonly ErrorType[] = [
  ErrorType.CONFIG_INVALID,
  ErrorType.SECRET_UNRESOLVED,
  ErrorType.AUTH_FAILED,
  ErrorType.DATABASE_MISSING,
  ErrorType.PRIVILEGE_MISSING,
  ErrorType.TOOL_MISSING,
  ErrorType.TOOL_FAILED,
  ErrorType.VERIFY_FAILED,
  ErrorType.SCRATCH_NOT_OURS,
  ErrorType.MIGRATION_UNKNOWN,
  ErrorType.APPROVAL_INVALID,
  ErrorType.REPLICATION_SLOT_EXISTS,
  ErrorType.SCHEMA_MISMATCH,
  ErrorType.DATA_REJECTED,
  ErrorType.LOAD_STATE_CONFLICT,
  ErrorType.REPLICATION_NOT_READY,
  ErrorType.ASSESSMENT_BLOCKED,
  ErrorType.DMS_TASK_FAILED,
  ErrorType.DMS_CONNECTION_FAILED,
  ErrorType.DMS_RESOURCE_FAILED,
  ErrorType.DMS_RESOURCE_NOT_FOUND,
  ErrorType.DMS_ABORTED,
  ErrorType.DMS_REQUEST_FAILED,
];

/**
 * An error Ferry raises on purpose: `type` is from the vocabulary above, `message` says what happened
 * and what to do. Thrown by engine/config/dev code; activities map it to an ApplicationFailure.
 */
export class FerryError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FerryError';
  }

  get retryable(): boolean {
    return !NON_RETRYABLE_ERROR_TYPES.includes(this.type);
  }
}

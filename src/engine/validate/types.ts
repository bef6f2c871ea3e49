// The contract of data validation: per-table states as DMS names them, recorded failures, and the
// ValidationSettings the native engine honours. Plain data, no Temporal, no I/O.
//
// Glossary:
//   chunk      a range of target-key values (PartitionSize source rows), compared by one hash per side
//   row hash   md5 of the row's text (every compared column cast to its target type, then to text)
//   failure    a key whose row differs between source and target: missing-on-target, extra-on-target,
//              different; `pending` while CDC may still be bringing the change, `mismatched` once
//              confirmed (see compare.ts for the rule)
//   position   the CDC applied position on the target (ferry.cdc_progress, and the slot's confirmed
//              position for stretches with nothing to apply), compared with the source's WAL position
//              taken in the snapshot that read the source side

/** DMS's per-table validation states (`ValidationState` of DescribeTableStatistics). */
export const VALIDATION_STATES = [
  'Validated',
  'Mismatched records',
  'Pending records',
  'Not enabled',
  'Table error',
  'Pending validation',
  'Validation suspended',
  'No primary key',
] as const;
export type ValidationState = (typeof VALIDATION_STATES)[number];

export type FailureKind = 'missing-on-target' | 'extra-on-target' | 'different';
/** `pending`: may be a change CDC has not applied yet; `mismatched`: confirmed. */
export type FailureStatus = 'pending' | 'mismatched';

export interface TableValidation {
  /** The source table as displayName prints it (how CDC counters and plans key tables). */
  key: string;
  source: string;
  target: string;
  state: ValidationState;
  /** Rows under the table's filter on the source / rows of the target table, at the last full pass. */
  sourceRows: number;
  targetRows: number;
  /** Source rows whose hash was compared in the last full pass. */
  rowsCompared: number;
  chunks: number;
  chunksMismatched: number;
  /** Open confirmed failures (keys; in GROUP_LEVEL mode, chunks). */
  mismatched: number;
  /** Open pending keys. */
  pending: number;
  /** Chunks waiting for the CDC position as a whole (too many differing rows to list, or GROUP_LEVEL). */
  pendingChunks: number;
  /** When the last full pass of the table completed (ISO). */
  lastValidatedAt?: string;
  updatedAt?: string;
  error?: string;
  /** What an operator should know: counts-only tables, columns left out of the comparison, limits hit. */
  note?: string;
}

export interface ValidationFailure {
  /** TableValidation.key. */
  table: string;
  /** Target key column → value as text in the target type. */
  key: Record<string, string>;
  kind: FailureKind;
  status: FailureStatus;
  /**
   * Compared columns' values as text (target column names); LOB values longer than 256 characters as
   * `md5:<hash> (length <n>)`. Absent on the side that has no such row. Masked columns never appear.
   */
  source?: Record<string, string | null>;
  target?: Record<string, string | null>;
  /** kind `different`: the columns that differ. */
  columns?: string[];
  detectedAt: string;
  lastCheckedAt: string;
  rechecks: number;
  resolvedAt?: string;
  /** Source WAL position of the last read of the source row (CDC). */
  sourceLsn?: string;
}

/** A chunk recorded as a whole: pending on the CDC position, or (GROUP_LEVEL) mismatched. */
export interface ChunkFailure {
  table: string;
  /** Exclusive lower / inclusive upper bound of the key range, as key texts; absent: open end. */
  from?: string[];
  to?: string[];
  status: FailureStatus;
  sourceRows: number;
  targetRows: number;
  detectedAt: string;
  rechecks: number;
  sourceLsn?: string;
}

/** ValidationSettings as the engine uses them (DMS defaults when a key is absent). */
export interface ValidationConfig {
  /** EnableValidation, or ValidationOnly (a validation-only task validates). */
  enabled: boolean;
  /** ValidationMode: GROUP_LEVEL reports mismatched chunks without drilling down to rows. */
  mode: 'ROW_LEVEL' | 'GROUP_LEVEL';
  /** ThreadCount: chunks compared at once (each holds a source and a target session). */
  threadCount: number;
  /** PartitionSize: source rows per chunk. */
  partitionSize: number;
  /** FailureMaxCount: confirmed failures of the run above which validation is suspended. */
  failureMaxCount: number;
  /** TableFailureMaxCount: confirmed failures of a table above which its validation is suspended. */
  tableFailureMaxCount: number;
  /** RecordFailureDelayLimitInMinutes: a pending key older than this is confirmed if it still differs (0: never). */
  recordFailureDelayLimitMinutes: number;
  /** SkipLobColumns: LOB columns are left out of the comparison. */
  skipLobColumns: boolean;
  /** ValidationPartialLobSize (KB): compare only this much of a LOB's text (0: all of it). */
  partialLobSizeKb: number;
  /** ValidationQueryCdcDelaySeconds: a pending key or chunk is re-checked no sooner than this after its last check. */
  cdcDelaySeconds: number;
}

/** Where CDC has got to on the target, for the pending-record rule. */
export interface CdcPositionSource {
  /**
   * An LSN such that every source transaction ending at or before it is committed on the target (or
   * touched no migrated table) by the time the promise resolves; undefined when unknown.
   */
  appliedLsn(): Promise<string | undefined>;
}

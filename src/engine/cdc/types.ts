// The contract of change data capture: what the capture stream (stream.ts) hands the applier
// (apply.ts), and what the runner (runner.ts) reports. Plain data, no Temporal, no I/O.
//
// Glossary:
//   LSN        a WAL position as PostgreSQL prints it, 'X/Y' in hex ('0/16B3748'); compare with lsnToBigInt
//   commit LSN the LSN of a source transaction's commit record; `endLsn` is the byte after it, and is
//              what the ferry.cdc_progress row stores: restarting from it skips that transaction
//   image      one row's column values as the source sent them (pgoutput text format), by source column name
//   batch      consecutive source transactions applied in one target transaction

/**
 * Column values by source column name, in PostgreSQL's text output format (what `SELECT col::text`
 * prints). `null` is SQL NULL. `undefined` (the key is present with value undefined, or absent) means
 * "not sent": an unchanged TOASTed value of an UPDATE, or a non-key column of a key-only old image.
 * The applier never writes a column whose value is undefined.
 */
export type RowImage = Record<string, string | null | undefined>;

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  /** Part of the replica identity (the key the source sends for UPDATE/DELETE). */
  key: boolean;
}

/** A source table as the stream describes it (pgoutput Relation message). */
export interface SourceRelation {
  oid: number;
  schema: string;
  name: string;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  columns: RelationColumn[];
}

/** A source table as displayName(schema, name) prints it (odd names quoted): how plans and statistics key tables. */
export type TableKey = string;

export type Change =
  | { kind: 'insert'; table: TableKey; new: RowImage }
  /**
   * `old` is the replica identity of the row before the update: the key columns only (DEFAULT /
   * USING INDEX, sent only when a key column changed), or every column (FULL). Absent when the key did
   * not change under DEFAULT / INDEX: then the key is in `new`.
   */
  | { kind: 'update'; table: TableKey; old?: RowImage; new: RowImage }
  /** `old`: the key columns (DEFAULT / INDEX) or the whole row (FULL). */
  | { kind: 'delete'; table: TableKey; old: RowImage }
  | { kind: 'truncate'; tables: TableKey[]; cascade: boolean; restartIdentity: boolean };

/** One committed source transaction, its changes in source order. */
export interface SourceTxn {
  xid: number;
  /** LSN of the commit record. */
  commitLsn: string;
  /** LSN just past the commit record: the resume point once this transaction is applied. */
  endLsn: string;
  /** Source commit time, ms since the epoch. */
  commitTime: number;
  changes: Change[];
}

/** A change the target refused or did not match, kept in ferry.cdc_exceptions (never dropped silently). */
export interface ApplyConflict {
  table: TableKey;
  kind: 'insert-exists' | 'update-missing' | 'delete-missing' | 'error';
  /** The key as text, e.g. '{"id":"42"}'. */
  key: string;
  /** What was done about it, per ErrorBehavior: the policy name (IGNORE_RECORD, LOG_ERROR, INSERT_RECORD, ...). */
  policy: string;
  /** The server's message for kind 'error'. */
  message?: string;
  commitLsn: string;
}

/** Per-table counters as DMS reports them in table statistics. */
export interface CdcTableCounters {
  inserts: number;
  updates: number;
  deletes: number;
  truncates: number;
  /** Row operations actually sent to the target after net-change compaction. */
  applied: number;
  conflicts: number;
}

/** Where a CDC run is, as its heartbeats and the workflow's lag query report it. */
export interface CdcProgress {
  slotName: string;
  /**
   * Everything before this LSN is on the target or was not captured: the end LSN of the last
   * transaction committed on the target, or a later position passed while idle.
   */
  appliedLsn: string;
  /** Highest LSN received from the source (data or keepalive). */
  receivedLsn: string;
  /** Source WAL end as the last keepalive/server query reported it. */
  sourceLsn: string;
  /** sourceLsn - appliedLsn, in bytes (0 when caught up). */
  lagBytes: number;
  /** Now minus the commit time of the oldest received but unapplied transaction (0 when none). */
  lagSeconds: number;
  /** Source commit time of the last applied transaction (ISO), if any. */
  lastCommitTime?: string;
  txns: number;
  changes: number;
  batches: number;
  /** Row operations sent to the target after compaction. */
  applied: number;
  conflicts: number;
  /** Changes per second over the last reporting interval. */
  changesPerSecond: number;
  tables: Record<TableKey, CdcTableCounters>;
  /** ISO time of this report. */
  at: string;
}

/** 'X/Y' hex LSN to a bigint (for comparisons and byte distances). */
export function lsnToBigInt(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(lsn)} (expected e.g. 0/16B3748)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function bigIntToLsn(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function compareLsn(a: string, b: string): number {
  // Hot path (once per received transaction): two 32-bit halves, no BigInt.
  const i = a.indexOf('/');
  const j = b.indexOf('/');
  if (i < 1 || j < 1) {
    const x = lsnToBigInt(a);
    const y = lsnToBigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const d = parseInt(a.slice(0, i), 16) - parseInt(b.slice(0, j), 16);
  if (d !== 0) return d < 0 ? -1 : 1;
  const e = parseInt(a.slice(i + 1), 16) - parseInt(b.slice(j + 1), 16);
  return e < 0 ? -1 : e > 0 ? 1 : 0;
}

export function maxLsn(a: string, b: string): string {
  return compareLsn(a, b) >= 0 ? a : b;
}

export function isLsn(s: string): boolean {
  return /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(s.trim());
}

/** The TableKey of a source table: displayName(schema, name), as the full load keys its tables. */
export { displayName as tableKeyOf } from '../ident';

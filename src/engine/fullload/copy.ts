// Copies one segment of one table: a streamed `COPY (SELECT ...) TO STDOUT` on the source, under the
// load's snapshot, piped into `COPY ... FROM STDIN` on the target, in one target transaction that also
// marks the segment done, so a segment is loaded exactly once or not at all.
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { ErrorType, FerryError } from '../../errors';
import type { ColumnPlan, TablePlan } from '../../mapping/types';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint } from '../connection';
import { displayName, qualify, quoteIdent } from '../ident';
import { type SegmentKey, claimSegment, completeSegment, registerSegment } from './control';
import { type Endpoint, Sessions, closeHard, connOf, socketOf } from './pool';
import { type Segment, relationSql, segmentRelation } from './segments';
import { beginSnapshotTransaction } from './snapshot';
import { andPredicates, filterSql } from './sql';

export interface CopySegmentOptions {
  migration: string;
  /** A PgConnInfo (a session for this copy), or Sessions to reuse (see copySessions). */
  source: Endpoint;
  target: Endpoint;
  /** The load's exported snapshot; without it the copy reads the latest committed data. */
  snapshotId?: string;
  table: TablePlan;
  segment: Segment;
  /**
   * About once a second while data flows. `bytes` is exact (COPY data streamed so far); `rows` is
   * estimated from it and the table's size until the end, when the COPY command tag gives the count.
   */
  onProgress?: (p: { rows: number; bytes: number }) => void;
  /** Aborting rolls the segment back (nothing of it stays on the target) and rejects with the reason. */
  signal?: AbortSignal;
  progressIntervalMs?: number;
}

export interface CopySegmentResult {
  rows: number;
  /** COPY data bytes streamed (the wire format, not the table size). */
  bytes: number;
  seconds: number;
  format: 'binary' | 'text';
  /** Why text was used instead of binary. */
  formatReason?: string;
  /** Target column → number of values truncated (or, for json/jsonb/xml, set NULL) by limited LOB mode. */
  truncated: Record<string, number>;
  skipped?: 'already-done';
  /**
   * The relation was truncated (or rewritten by ALTER TABLE) on the source after the snapshot: TRUNCATE
   * is not MVCC-safe, so the copy read it empty or partly. Recorded on the segment; copy it again under
   * a later snapshot (settleSnapshots does).
   */
  rewritten?: boolean;
}

/** Read-ahead on each side: big enough that a slow side does not stall the other on every chunk. */
const STREAM_HIGH_WATER_MARK = 4 * 1024 * 1024;

/** Source session: stable text output (used by the text fallback), no role timeouts cutting a long COPY. */
const SOURCE_SESSION = `SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC'`;

/**
 * Target session: a lost commit is redone from the control row (it is in the same transaction), so
 * the load does not wait for WAL flushes.
 */
const TARGET_SESSION = `SET synchronous_commit = off; SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'`;

/**
 * Copy one segment. Steps: register the attempt (autocommitted); in one target transaction claim the
 * segment's control row (a committed copy of the same segment → `skipped: 'already-done'`), COPY,
 * mark it done with rows and bytes, commit. A killed or aborted copy rolls back whole: its segment is
 * redone from a clean state, never duplicated, never skipped.
 *
 * Source SELECT: ColumnPlan.expression, else the quoted source column, cast to the target type; stored
 * generated target columns are left out (the target computes them); WHERE segment predicate AND the
 * table filter (parameters inlined as literals: COPY takes no bind parameters).
 *
 * Format: binary, unless a column's binary form embeds type OIDs that differ between servers (arrays of
 * user-defined types, composites) or its type has no binary I/O; then text, and `formatReason` says why.
 *
 * Limited LOB mode (table.lob.mode 'limited'): values above lob.maxBytes are cut as DMS does: text to
 * maxBytes/2 characters (DMS sizes NCLOB at two bytes a character), bytea to maxBytes bytes; json, jsonb
 * and xml cannot be cut into valid values and become NULL. Each is counted per column (one extra
 * scan of the segment, in the same snapshot, reading sizes from TOAST headers where it can).
 * @throws FerryError: SNAPSHOT_LOST, DATA_REJECTED (the target refused a row), SCHEMA_MISMATCH (a
 * column or table the plan names is missing, an expression does not compile), LOAD_STATE_CONFLICT,
 * or the connection/database error classified; on abort, the signal's reason.
 */
export async function copySegment(opts: CopySegmentOptions): Promise<CopySegmentResult> {
  const { table, segment, signal } = opts;
  signal?.throwIfAborted();
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const key: SegmentKey = {
    migration: opts.migration,
    table,
    segment,
    filter: filterSql(table.filter),
    snapshot: opts.snapshotId,
  };

  const [target, source] = await connectBoth(opts.target, opts.source);
  const targetConn = connOf(opts.target);
  const sourceConn = connOf(opts.source);
  // Which side the step under way talks to, so an error names the right endpoint.
  let side: 'source' | 'target' = 'target';
  let targetInTx = false;
  let reusable = false;
  try {
    await registerSegment(target, key);
    await target.query('BEGIN');
    targetInTx = true;
    if ((await claimSegment(target, key)) === 'done') {
      await target.query('ROLLBACK');
      targetInTx = false;
      reusable = true;
      return {
        rows: 0,
        bytes: 0,
        seconds: seconds(),
        format: 'binary',
        truncated: {},
        skipped: 'already-done',
      };
    }
    const into = await targetRelation(target, table, segment);

    // The target decides: its stored generated columns compute themselves (a plan's generated column
    // that pre-data had to create as a plain column, see schema.ts, is copied like any other).
    const columns = table.columns.filter((c) => !into.generated.has(c.target));
    if (columns.length === 0) {
      throw new FerryError(
        ErrorType.CONFIG_INVALID,
        `${displayName(table.target.schema, table.target.name)}: the plan copies no column (all are generated)`,
      );
    }
    for (const c of columns) {
      if (!into.columns.has(c.target)) {
        throw new FerryError(
          ErrorType.SCHEMA_MISMATCH,
          `${describeEndpoint(targetConn)}: ${displayName(table.target.schema, table.target.name)} has no column ` +
            `"${c.target}"; create the target schema (createPreData) from the same plan`,
        );
      }
    }

    side = 'source';
    if (opts.snapshotId) await beginSnapshotTransaction(source, opts.snapshotId, sourceConn);
    else await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const fromSql = segment.from
      ? relationSql({ ...segment.from, kind: 'partition' })
      : relationSql(table.source);
    const where = andPredicates(segment.predicate, key.filter);
    const exprs = columns.map((c) => columnExpr(c, table));
    const described = await describeOutput(source, exprs, columns, fromSql, where);
    const lob = lobCuts(table, columns, described.types);
    const truncated = lob.length ? await countTruncations(source, fromSql, where, lob) : {};
    for (const cut of lob) exprs[cut.index] = cut.expr;

    const format = described.textReason ? 'text' : 'binary';
    const selectSql = `SELECT ${exprs.join(', ')} FROM ${fromSql} WHERE ${where}`;
    const copyIn = `COPY ${into.relation} (${columns.map((c) => quoteIdent(c.target)).join(', ')}) FROM STDIN (FORMAT ${format})`;
    const copied = await stream(source, target, {
      copyOut: `COPY (${selectSql}) TO STDOUT (FORMAT ${format})`,
      copyIn,
      signal,
      onProgress: opts.onProgress,
      intervalMs: opts.progressIntervalMs ?? 1000,
      rowsPerByte: table.bytes > 0 && table.estimatedRows > 0 ? table.estimatedRows / table.bytes : 0,
    });
    // Still in the snapshot's transaction, with the COPY's lock held: is the relation the snapshot saw
    // (its pg_class row) still the one on disk (the current catalog)?
    const rewritten = opts.snapshotId ? await rewrittenSince(source, segmentRelation(table, segment)) : false;
    await source.query('COMMIT');
    side = 'target';
    // The source's COPY tag has arrived by now (COMMIT queued behind it); both sides must agree.
    if (copied.sourceRows() !== copied.rows) {
      throw new FerryError(
        ErrorType.DATABASE_ERROR,
        `${describeEndpoint(targetConn)}: COPY loaded ${copied.rows} rows of ${displayName(table.target.schema, table.target.name)} ` +
          `but the source sent ${copied.sourceRows()}; the segment was rolled back and is retried`,
      );
    }
    await completeSegment(target, key, {
      rows: copied.rows,
      bytes: copied.bytes,
      format,
      truncated,
      rewritten,
    });
    await target.query('COMMIT');
    targetInTx = false;
    reusable = true;
    opts.onProgress?.({ rows: copied.rows, bytes: copied.bytes });
    const result: CopySegmentResult = {
      rows: copied.rows,
      bytes: copied.bytes,
      seconds: seconds(),
      format,
      truncated,
    };
    if (described.textReason) result.formatReason = described.textReason;
    if (rewritten) result.rewritten = true;
    return result;
  } catch (err) {
    if (targetInTx) await target.query('ROLLBACK').catch(() => undefined);
    if (signal?.aborted) throw signal.reason;
    if (err instanceof CopySideError) side = err.side;
    throw classifyCopyError(
      err instanceof CopySideError ? err.cause : err,
      side === 'source' ? sourceConn : targetConn,
    );
  } finally {
    await Promise.all([release(opts.source, source, reusable), release(opts.target, target, reusable)]);
  }
}

/** Session settings of a copy's source side. */
async function prepareCopySource(c: Client): Promise<void> {
  await c.query(SOURCE_SESSION);
}

/** Session settings of a copy's target side. */
async function prepareCopyTarget(c: Client): Promise<void> {
  await c.query(TARGET_SESSION);
  // Triggers and foreign keys of a kept (DO_NOTHING) target table stay quiet during the load, as DMS
  // does; allowed to superusers and rds_superuser only, so a refusal just leaves them on.
  await c.query('SET session_replication_role = replica').catch(() => undefined);
}

/** Reusable sessions for copies: what runFullLoadLocal passes as `source` and `target`. */
export function copySessions(source: PgConnInfo, target: PgConnInfo): { source: Sessions; target: Sessions } {
  return {
    source: new Sessions(source, 'ferry-copy', prepareCopySource),
    target: new Sessions(target, 'ferry-copy', prepareCopyTarget),
  };
}

async function open(e: Endpoint, prepare: (c: Client) => Promise<void>): Promise<Client> {
  if (e instanceof Sessions) return e.acquire();
  const c = await connectPg(e, 'ferry-copy');
  try {
    await prepare(c);
  } catch (err) {
    await c.end().catch(() => undefined);
    throw classifyPgError(err, e);
  }
  return c;
}

async function release(e: Endpoint, c: Client, reusable: boolean): Promise<void> {
  if (e instanceof Sessions) {
    // A session left mid-COPY must not linger: drop its socket before handing it back to be closed.
    if (!reusable) socketOf(c)?.destroy();
    await e.release(c, reusable);
  } else await closeHard(c);
}

async function connectBoth(target: Endpoint, source: Endpoint): Promise<[Client, Client]> {
  const [t, s] = await Promise.allSettled([open(target, prepareCopyTarget), open(source, prepareCopySource)]);
  if (t.status === 'fulfilled' && s.status === 'fulfilled') return [t.value, s.value];
  if (t.status === 'fulfilled') await release(target, t.value, false);
  if (s.status === 'fulfilled') await release(source, s.value, false);
  throw t.status === 'rejected' ? t.reason : (s as PromiseRejectedResult).reason;
}

/**
 * A database error of the copy as the FerryError the orchestrator acts on: data the target refuses
 * (class 22, 23) and SQL naming what does not exist (class 42) are not retried; the rest as usual.
 */
export function classifyCopyError(err: unknown, conn: PgConnInfo): FerryError {
  if (err instanceof FerryError) return err;
  const code = (err as { code?: unknown })?.code;
  const base = classifyPgError(err, conn);
  if (typeof code !== 'string') return base;
  if (code.startsWith('22') || code.startsWith('23')) {
    return new FerryError(
      ErrorType.DATA_REJECTED,
      `${base.message}; a value was refused (SQLSTATE ${code}): fix the data on the source, or the mapping's cast, ` +
        `filter or target type, then load the table again`,
      { cause: err },
    );
  }
  if (code.startsWith('42') && code !== '42501') {
    return new FerryError(
      ErrorType.SCHEMA_MISMATCH,
      `${base.message}; the plan does not match the database (SQLSTATE ${code}): recompile the plan against the ` +
        `current source, or fix the expression or target table it names`,
      { cause: err },
    );
  }
  return base;
}

/** The value the source SELECT produces for a target column, as the target type. */
export function columnExpr(c: ColumnPlan, table: TablePlan): string {
  let expr = c.expression;
  if (expr === undefined && c.source !== undefined) expr = quoteIdent(c.source);
  if (expr === undefined && c.beforeImageOf) {
    // A before-image column holds, in a full load, the current value of the column it images.
    const imaged = table.columns.find((x) => x.target === c.beforeImageOf);
    if (imaged && imaged !== c) expr = columnExpr(imaged, table);
  }
  if (expr === undefined) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `${displayName(table.target.schema, table.target.name)}."${c.target}": the plan gives neither a source column nor an expression`,
    );
  }
  // Casting to the target type makes the binary form the target expects (a no-op for an unchanged column).
  return `(${expr})::${c.type}`;
}

/** Where the rows go: the target table, or its partition of the same name as the segment's source partition. */
async function targetRelation(
  target: Client,
  table: TablePlan,
  segment: Segment,
): Promise<{ relation: string; columns: Set<string>; generated: Set<string> }> {
  const qualified = qualify(table.target.schema, table.target.name);
  const { rows } = await target.query<{ name: string; generated: string; partition: string | null }>(
    `SELECT a.attname AS name, a.attgenerated::text AS generated,
            (SELECT c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = a.attrelid AND c.relispartition AND c.relkind = 'r'
                AND c.relnamespace = (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = a.attrelid)
                AND c.relname = $2) AS partition
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [qualified, segment.from?.name ?? null],
  );
  const partition = rows[0]?.partition;
  return {
    relation: partition ? qualify(table.target.schema, partition) : qualified,
    columns: new Set(rows.map((r) => r.name)),
    generated: new Set(rows.filter((r) => r.generated === 's').map((r) => r.name)),
  };
}

interface OutputType {
  oid: number;
  /** Type name after resolving domains (pg_catalog types only, else ''), e.g. 'text', 'jsonb'. */
  baseName: string;
}

/**
 * Plan the SELECT (LIMIT 0 runs nothing) to learn the types it produces, and whether binary COPY can
 * carry them between two servers: array_recv and record_recv check the element/field type OIDs written
 * in the data, which differ between servers for user-defined types; types without send/receive
 * functions have no binary form at all.
 */
async function describeOutput(
  source: Client,
  exprs: string[],
  columns: ColumnPlan[],
  fromSql: string,
  where: string,
): Promise<{ types: OutputType[]; textReason?: string }> {
  const res = await source.query(`SELECT ${exprs.join(', ')} FROM ${fromSql} WHERE ${where} LIMIT 0`);
  const oids = res.fields.map((f) => f.dataTypeID);
  const { rows } = await source.query<{ oid: number; name: string; reason: string | null }>(
    `WITH RECURSIVE d(oid, cur, depth) AS (
       SELECT t.oid, t.oid, 0 FROM pg_catalog.pg_type t WHERE t.oid = ANY ($1::oid[])
       UNION ALL
       SELECT d.oid, t.typbasetype, d.depth + 1 FROM d JOIN pg_catalog.pg_type t ON t.oid = d.cur
        WHERE t.typtype = 'd' AND d.depth < 32
     )
     SELECT d.oid::int8 AS oid,
            CASE WHEN n.nspname = 'pg_catalog' THEN b.typname ELSE '' END AS name,
            CASE WHEN b.typsend = 0 OR b.typreceive = 0 THEN 'has no binary send/receive functions'
                 WHEN b.typtype = 'c' OR b.typtype = 'p' THEN 'is a composite type (binary COPY embeds its field type OIDs)'
                 WHEN b.typcategory = 'A' AND (e.oid >= 16384 OR e.typtype IN ('c', 'd', 'p') OR e.typsend = 0)
                   THEN 'is an array of a user-defined type (binary COPY embeds the element type OID)'
            END AS reason
       FROM d
       JOIN pg_catalog.pg_type b ON b.oid = d.cur AND b.typtype <> 'd'
       JOIN pg_catalog.pg_namespace n ON n.oid = b.typnamespace
       LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem AND b.typcategory = 'A'`,
    [oids],
  );
  const byOid = new Map(rows.map((r) => [Number(r.oid), r]));
  const reasons: string[] = [];
  const types = res.fields.map((f, i) => {
    const r = byOid.get(f.dataTypeID);
    if (r?.reason) reasons.push(`column "${columns[i].target}" (${columns[i].type}) ${r.reason}`);
    return { oid: f.dataTypeID, baseName: r?.name ?? '' };
  });
  return reasons.length
    ? { types, textReason: `text format: ${[...new Set(reasons)].join('; ')}` }
    : { types };
}

interface LobCut {
  index: number;
  target: string;
  /** The truncating expression replacing the column's. */
  expr: string;
  /** Counts the values this column cuts. */
  over: string;
}

/**
 * The limited-LOB cut of one column whose output type is `baseName`: text to maxBytes/2 characters,
 * bytea to maxBytes bytes, json/jsonb/xml above maxBytes to NULL. `expr` replaces the column's
 * expression, `over` is true for the values it cuts. Undefined when the column is loaded whole. Shared
 * with validation, which must read the source the way the load wrote the target.
 */
export function lobCut(
  table: TablePlan,
  c: ColumnPlan,
  baseName: string | undefined,
): { expr: string; over: string } | undefined {
  if (table.lob.mode !== 'limited' || !(table.lob.maxBytes > 0)) return undefined;
  const max = Math.floor(table.lob.maxBytes);
  const chars = Math.max(1, Math.floor(max / 2));
  const x = columnExpr(c, table);
  switch (baseName) {
    case 'text':
      // octet_length reads the TOAST header only; length() then confirms with characters.
      return {
        expr: `(left(${x}, ${chars}))::${c.type}`,
        over: `octet_length(${x}) > ${chars} AND length(${x}) > ${chars}`,
      };
    case 'bytea':
      return { expr: `(substring(${x} FROM 1 FOR ${max}))::${c.type}`, over: `octet_length(${x}) > ${max}` };
    case 'json':
    case 'jsonb':
    case 'xml':
      return {
        expr: `(CASE WHEN octet_length((${x})::text) > ${max} THEN NULL ELSE ${x} END)::${c.type}`,
        over: `octet_length((${x})::text) > ${max}`,
      };
    default:
      return undefined;
  }
}

/** Limited LOB mode cuts for the LOB-typed output columns (see copySegment). */
function lobCuts(table: TablePlan, columns: ColumnPlan[], types: OutputType[]): LobCut[] {
  const cuts: LobCut[] = [];
  columns.forEach((c, index) => {
    const cut = lobCut(table, c, types[index]?.baseName);
    if (cut) cuts.push({ index, target: c.target, ...cut });
  });
  return cuts;
}

async function countTruncations(
  source: Client,
  fromSql: string,
  where: string,
  cuts: LobCut[],
): Promise<Record<string, number>> {
  const { rows } = await source.query(
    `SELECT ${cuts.map((c, i) => `count(*) FILTER (WHERE ${c.over})::int8::text AS c${i}`).join(', ')}
       FROM ${fromSql} WHERE ${where}`,
  );
  const out: Record<string, number> = {};
  cuts.forEach((c, i) => {
    const n = Number(rows[0][`c${i}`]);
    if (n > 0) out[c.target] = n;
  });
  return out;
}

/** An error and the side it came from, so the message names the right endpoint. */
class CopySideError extends Error {
  constructor(
    readonly side: 'source' | 'target',
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** Counts the bytes going through; the only per-chunk work on the data path. */
class Meter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

async function stream(
  source: Client,
  target: Client,
  o: {
    copyOut: string;
    copyIn: string;
    signal?: AbortSignal;
    onProgress?: (p: { rows: number; bytes: number }) => void;
    intervalMs: number;
    rowsPerByte: number;
  },
): Promise<{ rows: number; bytes: number; sourceRows: () => number }> {
  const out = source.query(copyTo(o.copyOut, { highWaterMark: STREAM_HIGH_WATER_MARK }));
  const meter = new Meter({ highWaterMark: STREAM_HIGH_WATER_MARK });
  const into = target.query(copyFrom(o.copyIn, { highWaterMark: STREAM_HIGH_WATER_MARK }));
  let first: CopySideError | undefined;
  out.on('error', (e) => (first ??= new CopySideError('source', e)));
  into.on('error', (e) => (first ??= new CopySideError('target', e)));
  const timer = o.onProgress
    ? setInterval(
        () => o.onProgress!({ rows: Math.round(meter.bytes * o.rowsPerByte), bytes: meter.bytes }),
        o.intervalMs,
      )
    : undefined;
  try {
    await pipeline(out, meter, into, o.signal ? { signal: o.signal } : {});
  } catch (err) {
    // No wait for the target's COPY to close: after a lost connection it never emits 'close'. The
    // ROLLBACK that follows is queued by the client behind the COPY (and its CopyFail) anyway.
    // The source may still be sending: drop that session (its read-only transaction needs no cleanup).
    socketOf(source)?.destroy();
    throw o.signal?.aborted ? err : (first ?? err);
  } finally {
    if (timer) clearInterval(timer);
  }
  return { rows: into.rowCount, bytes: meter.bytes, sourceRows: () => out.rowCount };
}

/**
 * Inside a snapshot transaction that has read `relation`: was it (or one of its partitions) truncated or
 * rewritten after the snapshot? The pg_class row read under the snapshot names the file the snapshot
 * saw; pg_relation_filenode reads the current catalog.
 */
async function rewrittenSince(source: Client, relation: string): Promise<boolean> {
  const { rows } = await source.query<{ changed: boolean | null }>(
    `SELECT bool_or(c.relfilenode <> 0 AND c.relfilenode IS DISTINCT FROM pg_catalog.pg_relation_filenode(c.oid)) AS changed
       FROM (SELECT $1::regclass AS relid UNION SELECT relid FROM pg_catalog.pg_partition_tree($1::regclass)) p
       JOIN pg_catalog.pg_class c ON c.oid = p.relid`,
    [relation],
  );
  return rows[0]?.changed === true;
}

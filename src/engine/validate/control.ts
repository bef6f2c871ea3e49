// Validation's control tables in the target's `ferry` schema (the way DMS keeps awsdms_validation_failures):
// per-table state, every differing key with both sides' values, and chunks waiting as a whole. Written
// by validateMigration, read back by validationReport for `ferry validate` and status displays.
import type { Client } from 'pg';
import type {
  ChunkFailure,
  FailureKind,
  FailureStatus,
  TableValidation,
  ValidationFailure,
  ValidationState,
} from './types';

export const VALIDATION_DDL = `
CREATE SCHEMA IF NOT EXISTS ferry;
CREATE TABLE IF NOT EXISTS ferry.validation_tables (
  migration text NOT NULL,
  table_name text NOT NULL,
  source_table text NOT NULL,
  target_table text NOT NULL,
  state text NOT NULL,
  source_rows bigint NOT NULL DEFAULT 0,
  target_rows bigint NOT NULL DEFAULT 0,
  rows_compared bigint NOT NULL DEFAULT 0,
  chunks int NOT NULL DEFAULT 0,
  chunks_mismatched int NOT NULL DEFAULT 0,
  mismatched int NOT NULL DEFAULT 0,
  pending int NOT NULL DEFAULT 0,
  pending_chunks int NOT NULL DEFAULT 0,
  note text,
  error text,
  validated_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, table_name)
);
CREATE TABLE IF NOT EXISTS ferry.validation_failures (
  migration text NOT NULL,
  table_name text NOT NULL,
  key jsonb NOT NULL,
  kind text NOT NULL,
  status text NOT NULL,
  columns jsonb,
  source_values jsonb,
  target_values jsonb,
  source_md5 text,
  source_lsn pg_lsn,
  detected_at timestamptz NOT NULL DEFAULT now(),
  last_checked_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz,
  rechecks int NOT NULL DEFAULT 0,
  resolved_at timestamptz,
  PRIMARY KEY (migration, table_name, key)
);
CREATE INDEX IF NOT EXISTS validation_failures_open
  ON ferry.validation_failures (migration, table_name) WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS ferry.validation_chunks (
  migration text NOT NULL,
  table_name text NOT NULL,
  chunk text NOT NULL,
  range_from jsonb,
  range_to jsonb,
  status text NOT NULL,
  source_rows bigint NOT NULL DEFAULT 0,
  target_rows bigint NOT NULL DEFAULT 0,
  source_md5 text,
  source_lsn pg_lsn,
  detected_at timestamptz NOT NULL DEFAULT now(),
  last_checked_at timestamptz NOT NULL DEFAULT now(),
  rechecks int NOT NULL DEFAULT 0,
  PRIMARY KEY (migration, table_name, chunk)
);`;

/** Create the control tables if missing (an advisory lock serialises concurrent creators). */
export async function ensureValidationTables(c: Client): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ferry.validation'))`);
    await c.query(VALIDATION_DDL);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Whether the control tables exist (a report on a target never validated has nothing to read). */
export async function validationTablesExist(c: Client): Promise<boolean> {
  const { rows } = await c.query<{ ok: boolean }>(
    `SELECT pg_catalog.to_regclass('ferry.validation_failures') IS NOT NULL
        AND pg_catalog.to_regclass('ferry.validation_chunks') IS NOT NULL AS ok`,
  );
  return rows[0].ok;
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v ? String(v) : undefined);

// ---- tables ----------------------------------------------------------------------------------------

export async function writeTable(c: Client, migration: string, t: TableValidation): Promise<void> {
  await c.query(
    `INSERT INTO ferry.validation_tables AS v (migration, table_name, source_table, target_table, state,
            source_rows, target_rows, rows_compared, chunks, chunks_mismatched, mismatched, pending,
            pending_chunks, note, error, validated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     ON CONFLICT (migration, table_name) DO UPDATE SET
       source_table = EXCLUDED.source_table, target_table = EXCLUDED.target_table, state = EXCLUDED.state,
       source_rows = EXCLUDED.source_rows, target_rows = EXCLUDED.target_rows,
       rows_compared = EXCLUDED.rows_compared, chunks = EXCLUDED.chunks,
       chunks_mismatched = EXCLUDED.chunks_mismatched, mismatched = EXCLUDED.mismatched,
       pending = EXCLUDED.pending, pending_chunks = EXCLUDED.pending_chunks, note = EXCLUDED.note,
       error = EXCLUDED.error, validated_at = EXCLUDED.validated_at, updated_at = now()`,
    [
      migration,
      t.key,
      t.source,
      t.target,
      t.state,
      t.sourceRows,
      t.targetRows,
      t.rowsCompared,
      t.chunks,
      t.chunksMismatched,
      t.mismatched,
      t.pending,
      t.pendingChunks,
      t.note ?? null,
      t.error ?? null,
      t.lastValidatedAt ?? null,
    ],
  );
}

export async function readTables(c: Client, migration: string): Promise<TableValidation[]> {
  const { rows } = await c.query<Record<string, unknown>>(
    `SELECT * FROM ferry.validation_tables WHERE migration = $1 ORDER BY table_name`,
    [migration],
  );
  return rows.map((r) => {
    const t: TableValidation = {
      key: String(r.table_name),
      source: String(r.source_table),
      target: String(r.target_table),
      state: String(r.state) as ValidationState,
      sourceRows: Number(r.source_rows),
      targetRows: Number(r.target_rows),
      rowsCompared: Number(r.rows_compared),
      chunks: Number(r.chunks),
      chunksMismatched: Number(r.chunks_mismatched),
      mismatched: Number(r.mismatched),
      pending: Number(r.pending),
      pendingChunks: Number(r.pending_chunks),
    };
    const validated = iso(r.validated_at);
    if (validated) t.lastValidatedAt = validated;
    const updated = iso(r.updated_at);
    if (updated) t.updatedAt = updated;
    if (r.note) t.note = String(r.note);
    if (r.error) t.error = String(r.error);
    return t;
  });
}

/** Open failures and chunks of a table, by status. */
export async function openCounts(
  c: Client,
  migration: string,
  table: string,
): Promise<{ mismatched: number; pending: number; pendingChunks: number; mismatchedChunks: number }> {
  const { rows } = await c.query<Record<string, string>>(
    `SELECT (SELECT count(*) FILTER (WHERE status = 'mismatched') FROM ferry.validation_failures
               WHERE migration = $1 AND table_name = $2 AND resolved_at IS NULL)::text AS mismatched,
            (SELECT count(*) FILTER (WHERE status = 'pending') FROM ferry.validation_failures
               WHERE migration = $1 AND table_name = $2 AND resolved_at IS NULL)::text AS pending,
            (SELECT count(*) FILTER (WHERE status = 'pending') FROM ferry.validation_chunks
               WHERE migration = $1 AND table_name = $2)::text AS pending_chunks,
            (SELECT count(*) FILTER (WHERE status = 'mismatched') FROM ferry.validation_chunks
               WHERE migration = $1 AND table_name = $2)::text AS mismatched_chunks`,
    [migration, table],
  );
  const r = rows[0];
  return {
    mismatched: Number(r.mismatched),
    pending: Number(r.pending),
    pendingChunks: Number(r.pending_chunks),
    mismatchedChunks: Number(r.mismatched_chunks),
  };
}

// ---- failures --------------------------------------------------------------------------------------

/** A failure row as the comparison needs it. `keyText` is the stored jsonb as text. */
export interface StoredFailure {
  key: Record<string, string>;
  keyText: string;
  status: FailureStatus;
  sourceMd5: string | null;
  sourceLsn?: string;
  detectedAt: Date;
  lastCheckedAt: Date;
  open: boolean;
}

function storedFailure(r: Record<string, unknown>): StoredFailure {
  return {
    key: r.key as Record<string, string>,
    keyText: String(r.key_text),
    status: r.status as FailureStatus,
    sourceMd5: (r.source_md5 as string | null) ?? null,
    sourceLsn: (r.source_lsn as string | null) ?? undefined,
    detectedAt: r.detected_at as Date,
    lastCheckedAt: r.last_checked_at as Date,
    open: r.resolved_at === null,
  };
}

const FAILURE_COLUMNS = `key, key::text AS key_text, status, source_md5, source_lsn::text AS source_lsn,
  detected_at, last_checked_at, resolved_at`;

/** Stored failures (open or not) of these keys (JSON texts). */
export async function failuresOf(
  c: Client,
  migration: string,
  table: string,
  keys: string[],
): Promise<StoredFailure[]> {
  if (!keys.length) return [];
  const { rows } = await c.query(
    `SELECT ${FAILURE_COLUMNS} FROM ferry.validation_failures
      WHERE migration = $1 AND table_name = $2 AND key = ANY ($3::jsonb[])`,
    [migration, table, keys],
  );
  return rows.map(storedFailure);
}

/** Open failures of a table, oldest check first. */
export async function openFailures(
  c: Client,
  migration: string,
  table: string,
  statuses: FailureStatus[],
  limit: number,
): Promise<StoredFailure[]> {
  const { rows } = await c.query(
    `SELECT ${FAILURE_COLUMNS} FROM ferry.validation_failures
      WHERE migration = $1 AND table_name = $2 AND resolved_at IS NULL AND status = ANY ($3::text[])
      ORDER BY last_checked_at LIMIT $4`,
    [migration, table, statuses, limit],
  );
  return rows.map(storedFailure);
}

export interface FailureWrite {
  /** JSON text of the key object. */
  key: string;
  kind: FailureKind;
  status: FailureStatus;
  columns?: string[];
  source?: Record<string, string | null>;
  target?: Record<string, string | null>;
  sourceMd5: string | null;
  sourceLsn?: string;
}

/**
 * Record failures: new keys start at rechecks 0; an open one counts a re-check and keeps its detection
 * time; a resolved one opens again as new. Keys must be distinct within one call.
 */
export async function writeFailures(
  c: Client,
  migration: string,
  table: string,
  items: FailureWrite[],
): Promise<void> {
  if (!items.length) return;
  const col = <T>(f: (w: FailureWrite) => T) => items.map(f);
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
  await c.query(
    `INSERT INTO ferry.validation_failures AS f (migration, table_name, key, kind, status, columns,
            source_values, target_values, source_md5, source_lsn, confirmed_at)
     SELECT $1, $2, u.key::jsonb, u.kind, u.status, u.cols::jsonb, u.src::jsonb, u.tgt::jsonb, u.md5,
            u.lsn::pg_lsn, CASE WHEN u.status = 'mismatched' THEN now() END
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
            AS u(key, kind, status, cols, src, tgt, md5, lsn)
     ON CONFLICT (migration, table_name, key) DO UPDATE SET
       kind = EXCLUDED.kind, status = EXCLUDED.status, columns = EXCLUDED.columns,
       source_values = EXCLUDED.source_values, target_values = EXCLUDED.target_values,
       source_md5 = EXCLUDED.source_md5, source_lsn = EXCLUDED.source_lsn, last_checked_at = now(),
       detected_at = CASE WHEN f.resolved_at IS NULL THEN f.detected_at ELSE now() END,
       rechecks = CASE WHEN f.resolved_at IS NULL THEN f.rechecks + 1 ELSE 0 END,
       confirmed_at = CASE WHEN EXCLUDED.status = 'mismatched'
                           THEN coalesce(CASE WHEN f.resolved_at IS NULL THEN f.confirmed_at END, now()) END,
       resolved_at = NULL`,
    [
      migration,
      table,
      col((w) => w.key),
      col((w) => w.kind),
      col((w) => w.status),
      col((w) => json(w.columns)),
      col((w) => json(w.source)),
      col((w) => json(w.target)),
      col((w) => w.sourceMd5),
      col((w) => w.sourceLsn ?? null),
    ],
  );
}

/** Mark these keys (JSON texts) resolved: source and target agree now. */
export async function resolveFailures(
  c: Client,
  migration: string,
  table: string,
  keys: string[],
): Promise<void> {
  if (!keys.length) return;
  await c.query(
    `UPDATE ferry.validation_failures SET resolved_at = now(), last_checked_at = now()
      WHERE migration = $1 AND table_name = $2 AND key = ANY ($3::jsonb[]) AND resolved_at IS NULL`,
    [migration, table, keys],
  );
}

/**
 * After a complete full pass: failures and chunks it did not see again agree now (every key was in
 * some compared chunk).
 */
export async function resolveUnseen(c: Client, migration: string, table: string, since: Date): Promise<void> {
  await c.query(
    `UPDATE ferry.validation_failures SET resolved_at = now()
      WHERE migration = $1 AND table_name = $2 AND resolved_at IS NULL AND last_checked_at < $3`,
    [migration, table, since],
  );
  await c.query(
    `DELETE FROM ferry.validation_chunks WHERE migration = $1 AND table_name = $2 AND last_checked_at < $3`,
    [migration, table, since],
  );
}

// ---- chunks ----------------------------------------------------------------------------------------

export interface StoredChunk {
  id: string;
  from?: string[];
  to?: string[];
  status: FailureStatus;
  sourceMd5: string | null;
  sourceLsn?: string;
  detectedAt: Date;
  lastCheckedAt: Date;
}

export function chunkId(r: { from?: string[]; to?: string[] }): string {
  return JSON.stringify([r.from ?? null, r.to ?? null]);
}

export async function openChunks(
  c: Client,
  migration: string,
  table: string,
  statuses: FailureStatus[],
): Promise<StoredChunk[]> {
  const { rows } = await c.query<Record<string, unknown>>(
    `SELECT chunk, range_from, range_to, status, source_md5, source_lsn::text AS source_lsn, detected_at,
            last_checked_at
       FROM ferry.validation_chunks WHERE migration = $1 AND table_name = $2 AND status = ANY ($3::text[])
      ORDER BY last_checked_at`,
    [migration, table, statuses],
  );
  return rows.map((r) => {
    const out: StoredChunk = {
      id: String(r.chunk),
      status: r.status as FailureStatus,
      sourceMd5: (r.source_md5 as string | null) ?? null,
      detectedAt: r.detected_at as Date,
      lastCheckedAt: r.last_checked_at as Date,
    };
    if (r.range_from) out.from = r.range_from as string[];
    if (r.range_to) out.to = r.range_to as string[];
    if (r.source_lsn) out.sourceLsn = String(r.source_lsn);
    return out;
  });
}

export async function writeChunk(
  c: Client,
  migration: string,
  table: string,
  w: {
    from?: string[];
    to?: string[];
    status: FailureStatus;
    sourceRows: number;
    targetRows: number;
    sourceMd5: string;
    sourceLsn?: string;
  },
): Promise<void> {
  await c.query(
    `INSERT INTO ferry.validation_chunks AS k (migration, table_name, chunk, range_from, range_to, status,
            source_rows, target_rows, source_md5, source_lsn)
     VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10::pg_lsn)
     ON CONFLICT (migration, table_name, chunk) DO UPDATE SET
       status = EXCLUDED.status, source_rows = EXCLUDED.source_rows, target_rows = EXCLUDED.target_rows,
       source_md5 = EXCLUDED.source_md5, source_lsn = EXCLUDED.source_lsn, last_checked_at = now(),
       rechecks = k.rechecks + 1`,
    [
      migration,
      table,
      chunkId(w),
      w.from ? JSON.stringify(w.from) : null,
      w.to ? JSON.stringify(w.to) : null,
      w.status,
      w.sourceRows,
      w.targetRows,
      w.sourceMd5,
      w.sourceLsn ?? null,
    ],
  );
}

export async function deleteChunk(c: Client, migration: string, table: string, id: string): Promise<void> {
  await c.query(
    `DELETE FROM ferry.validation_chunks WHERE migration = $1 AND table_name = $2 AND chunk = $3`,
    [migration, table, id],
  );
}

// ---- report ----------------------------------------------------------------------------------------

export async function readFailures(
  c: Client,
  migration: string,
  opts: { tables?: string[]; includeResolved?: boolean; limit: number },
): Promise<ValidationFailure[]> {
  const { rows } = await c.query<Record<string, unknown>>(
    `SELECT table_name, key, kind, status, columns, source_values, target_values, detected_at,
            last_checked_at, rechecks, resolved_at, source_lsn::text AS source_lsn
       FROM ferry.validation_failures
      WHERE migration = $1 AND ($2::text[] IS NULL OR table_name = ANY ($2::text[]))
        AND ($3 OR resolved_at IS NULL)
      ORDER BY resolved_at IS NOT NULL, status = 'pending', table_name, detected_at, key::text
      LIMIT $4`,
    [migration, opts.tables ?? null, opts.includeResolved ?? false, opts.limit],
  );
  return rows.map((r) => {
    const f: ValidationFailure = {
      table: String(r.table_name),
      key: r.key as Record<string, string>,
      kind: r.kind as FailureKind,
      status: r.status as FailureStatus,
      detectedAt: iso(r.detected_at)!,
      lastCheckedAt: iso(r.last_checked_at)!,
      rechecks: Number(r.rechecks),
    };
    if (r.source_values) f.source = r.source_values as Record<string, string | null>;
    if (r.target_values) f.target = r.target_values as Record<string, string | null>;
    if (r.columns) f.columns = r.columns as string[];
    const resolved = iso(r.resolved_at);
    if (resolved) f.resolvedAt = resolved;
    if (r.source_lsn) f.sourceLsn = String(r.source_lsn);
    return f;
  });
}

export async function readChunkFailures(
  c: Client,
  migration: string,
  opts: { tables?: string[]; limit: number },
): Promise<ChunkFailure[]> {
  const { rows } = await c.query<Record<string, unknown>>(
    `SELECT table_name, range_from, range_to, status, source_rows, target_rows, detected_at, rechecks,
            source_lsn::text AS source_lsn
       FROM ferry.validation_chunks
      WHERE migration = $1 AND ($2::text[] IS NULL OR table_name = ANY ($2::text[]))
      ORDER BY status = 'pending', table_name, detected_at LIMIT $3`,
    [migration, opts.tables ?? null, opts.limit],
  );
  return rows.map((r) => {
    const k: ChunkFailure = {
      table: String(r.table_name),
      status: r.status as FailureStatus,
      sourceRows: Number(r.source_rows),
      targetRows: Number(r.target_rows),
      detectedAt: iso(r.detected_at)!,
      rechecks: Number(r.rechecks),
    };
    if (r.range_from) k.from = r.range_from as string[];
    if (r.range_to) k.to = r.range_to as string[];
    if (r.source_lsn) k.sourceLsn = String(r.source_lsn);
    return k;
  });
}

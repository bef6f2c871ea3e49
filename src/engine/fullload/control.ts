// Control tables of the full load in a `ferry` schema on the target, the way DMS keeps awsdms_* tables:
// one row per table and per segment, so a restarted load skips finished segments and redoes the rest.
// A segment's row is marked done in the same transaction as its COPY: exactly once, never half.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import type { TablePlan } from '../../mapping/types';
import { type Endpoint, withSession } from './pool';
import { qualify } from '../ident';
import { relKey } from './introspect';
import { type Segment, segmentRelation } from './segments';

export const CONTROL_SCHEMA = 'ferry';

/** Table states, in order: pre-data created it, segments copying, all copied, post-data built. */
export type TableLoadState = 'created' | 'loading' | 'loaded' | 'completed' | 'failed';
/** Segment states: planned, a copy started (its transaction may since have rolled back), committed. */
export type SegmentState = 'pending' | 'running' | 'done';

export const CONTROL_DDL = `
CREATE SCHEMA IF NOT EXISTS ferry;
CREATE TABLE IF NOT EXISTS ferry.load_tables (
  migration text NOT NULL,
  source_schema text NOT NULL,
  source_table text NOT NULL,
  target_schema text NOT NULL,
  target_table text NOT NULL,
  state text NOT NULL,
  snapshot text,
  segments int,
  rows bigint,
  bytes bigint,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  load_started_at timestamptz,
  load_finished_at timestamptz,
  post_data_finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, source_schema, source_table)
);
CREATE TABLE IF NOT EXISTS ferry.load_segments (
  migration text NOT NULL,
  source_schema text NOT NULL,
  source_table text NOT NULL,
  segment int NOT NULL,
  total int NOT NULL,
  relation text NOT NULL,
  predicate text NOT NULL,
  filter text,
  description text,
  state text NOT NULL,
  rows bigint,
  bytes bigint,
  format text,
  truncated jsonb,
  snapshot text,
  attempt int NOT NULL DEFAULT 0,
  started_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (migration, source_schema, source_table, segment)
);
-- The relation was truncated or rewritten on the source after the snapshot the segment read: its copy
-- is empty or partial and must be taken again (settleSnapshots).
ALTER TABLE ferry.load_segments ADD COLUMN IF NOT EXISTS rewritten boolean NOT NULL DEFAULT false;`;

/**
 * Create the control schema and tables if missing. Safe to call from many workers at once: an advisory
 * lock serialises the CREATEs (two concurrent CREATE SCHEMA IF NOT EXISTS can still collide).
 */
export async function ensureControlTables(target: Endpoint): Promise<void> {
  await withClient(target, async (c) => {
    await c.query('BEGIN');
    await c.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ferry.control'))`);
    await c.query(CONTROL_DDL);
    await c.query('COMMIT');
  });
}

function withClient<T>(target: Endpoint, fn: (c: Client) => Promise<T>): Promise<T> {
  return withSession(target, 'ferry-control', fn);
}

/** What identifies a segment's rows: the relation read, the segment predicate, the table filter. */
export interface SegmentKey {
  migration: string;
  table: TablePlan;
  segment: Segment;
  /** Inlined table filter, if any. */
  filter?: string;
  snapshot?: string;
}

export interface SegmentRow {
  segment: number;
  total: number;
  relation: string;
  predicate: string;
  filter: string | null;
  description: string | null;
  state: SegmentState;
  rows: string | null;
  bytes: string | null;
  format: string | null;
  truncated: Record<string, number> | null;
  snapshot: string | null;
  attempt: number;
  rewritten: boolean;
}

function sameSegment(row: SegmentRow, k: SegmentKey): boolean {
  return (
    row.total === k.segment.total &&
    row.relation === segmentRelation(k.table, k.segment) &&
    row.predicate === k.segment.predicate &&
    (row.filter ?? undefined) === k.filter
  );
  // Not the snapshot: a segment is its relation, predicate and filter. When the snapshot holder dies,
  // the remaining segments are copied under its successor's snapshot (recorded per segment, and
  // reported by the workflow), and the segments already done stay done.
}

const KEY_WHERE = `migration = $1 AND source_schema = $2 AND source_table = $3`;

function keyParams(k: SegmentKey): unknown[] {
  return [k.migration, k.table.source.schema, k.table.source.name, k.segment.index];
}

function rowParams(k: SegmentKey): unknown[] {
  return [
    ...keyParams(k),
    k.segment.total,
    segmentRelation(k.table, k.segment),
    k.segment.predicate,
    k.filter ?? null,
    k.segment.description,
    k.snapshot ?? null,
  ];
}

function conflict(k: SegmentKey, row: SegmentRow): FerryError {
  const src = k.table.source;
  return new FerryError(
    ErrorType.LOAD_STATE_CONFLICT,
    `segment ${k.segment.index} of ${qualify(src.schema, src.name)} (migration ${k.migration}) was recorded with other ` +
      `boundaries, filter or snapshot (${row.relation} WHERE ${row.predicate}, snapshot ${row.snapshot ?? 'none'}) and ` +
      `part of the table is already loaded: copying it now could duplicate or miss rows. Reset the table's load ` +
      `(resetTableLoad) and copy it again, or copy the recorded segments (recordedSegments)`,
  );
}

async function doneCount(c: Client, k: { migration: string; table: TablePlan }): Promise<number> {
  const { rows } = await c.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ferry.load_segments WHERE ${KEY_WHERE} AND state = 'done'`,
    [k.migration, k.table.source.schema, k.table.source.name],
  );
  return Number(rows[0].n);
}

/**
 * Record the segments a table is split into, so a restarted load copies the same ones (see
 * recordedSegments): new boundaries from fresh statistics would not line up with segments already done.
 * Replaces a previous set only while none of it is done; an identical set is left as it is.
 * @throws LOAD_STATE_CONFLICT when a different set is recorded and part of it is done.
 */
export async function recordSegments(
  target: Endpoint,
  k: { migration: string; table: TablePlan; segments: Segment[]; filter?: string; snapshot?: string },
): Promise<void> {
  await withClient(target, async (c) => {
    await c.query('BEGIN');
    const keys = k.segments.map((segment) => ({ ...k, segment }));
    const { rows } = await c.query<SegmentRow>(
      `SELECT * FROM ferry.load_segments WHERE ${KEY_WHERE} ORDER BY segment FOR UPDATE`,
      [k.migration, k.table.source.schema, k.table.source.name],
    );
    const same =
      rows.length === keys.length && rows.every((r, i) => r.segment === i && sameSegment(r, keys[i]));
    if (!same) {
      const done = rows.find((r) => r.state === 'done');
      if (done) throw conflict(keys[Math.min(done.segment, keys.length - 1)], done);
      await c.query(`DELETE FROM ferry.load_segments WHERE ${KEY_WHERE}`, [
        k.migration,
        k.table.source.schema,
        k.table.source.name,
      ]);
      for (const key of keys) {
        await c.query(
          `INSERT INTO ferry.load_segments (migration, source_schema, source_table, segment, total, relation, predicate,
                                            filter, description, state, snapshot)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)`,
          rowParams(key),
        );
      }
    }
    await c.query('COMMIT');
  });
}

/**
 * Autocommitted, before the copy's transaction, so operators see it while the copy runs and a killed
 * attempt still counts: the segment's row exists, and unless done is 'running' with attempt + 1.
 * Waits while another session copies the same segment (its transaction holds the row lock).
 */
export async function registerSegment(c: Client, k: SegmentKey): Promise<void> {
  await c.query(
    `INSERT INTO ferry.load_segments (migration, source_schema, source_table, segment, total, relation, predicate,
                                      filter, description, state, snapshot)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)
     ON CONFLICT DO NOTHING`,
    rowParams(k),
  );
  await c.query(
    `UPDATE ferry.load_segments SET state = 'running', attempt = attempt + 1, started_at = clock_timestamp()
      WHERE ${KEY_WHERE} AND segment = $4 AND state <> 'done'`,
    keyParams(k),
  );
}

/**
 * Within the copy's transaction on `c`: lock the segment's row (a concurrent copy of the same segment
 * waits here, then finds it done) and say whether to copy. 'done': a copy of exactly this segment
 * committed already. A row recorded for other boundaries is taken over while no segment of the table
 * is done.
 * @throws LOAD_STATE_CONFLICT when it was recorded otherwise and part of the table is done.
 */
export async function claimSegment(c: Client, k: SegmentKey): Promise<'done' | 'claimed'> {
  const { rows } = await c.query<SegmentRow>(
    `SELECT * FROM ferry.load_segments WHERE ${KEY_WHERE} AND segment = $4 FOR UPDATE`,
    keyParams(k),
  );
  const row = rows[0];
  if (row && sameSegment(row, k)) return row.state === 'done' ? 'done' : 'claimed';
  if (row && (await doneCount(c, k)) > 0) throw conflict(k, row);
  await c.query(
    `INSERT INTO ferry.load_segments AS s (migration, source_schema, source_table, segment, total, relation, predicate,
                                           filter, description, state, snapshot, attempt, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', $10, 1, clock_timestamp())
     ON CONFLICT (migration, source_schema, source_table, segment) DO UPDATE
        SET total = excluded.total, relation = excluded.relation, predicate = excluded.predicate,
            filter = excluded.filter, description = excluded.description, snapshot = excluded.snapshot,
            state = 'running'`,
    rowParams(k),
  );
  return 'claimed';
}

/** Within the copy's transaction: the segment is done, with what it copied and the snapshot it read. */
export async function completeSegment(
  c: Client,
  k: SegmentKey,
  r: { rows: number; bytes: number; format: string; truncated: Record<string, number>; rewritten?: boolean },
): Promise<void> {
  await c.query(
    `UPDATE ferry.load_segments
        SET state = 'done', rows = $5, bytes = $6, format = $7, truncated = $8, snapshot = $9, rewritten = $10,
            finished_at = clock_timestamp()
      WHERE ${KEY_WHERE} AND segment = $4`,
    [
      ...keyParams(k),
      r.rows,
      r.bytes,
      r.format,
      JSON.stringify(r.truncated),
      k.snapshot ?? null,
      r.rewritten ?? false,
    ],
  );
}

/** The control rows of one table's segments, in segment order. */
export async function segmentRows(
  target: Endpoint,
  migration: string,
  table: TablePlan,
): Promise<SegmentRow[]> {
  return withClient(target, async (c) => {
    const { rows } = await c.query<SegmentRow>(
      `SELECT * FROM ferry.load_segments WHERE migration = $1 AND source_schema = $2 AND source_table = $3 ORDER BY segment`,
      [migration, table.source.schema, table.source.name],
    );
    return rows;
  });
}

/** Pass to recordedSegments to take the recorded set whatever snapshot its segments used. */
export const ANY_SNAPSHOT = '*';

/**
 * The segments recorded for a table under `snapshot` (or ANY_SNAPSHOT), when a complete set is there:
 * a restarted load reuses them, as fresh boundaries from new statistics would not line up with the
 * segments already done.
 */
export async function recordedSegments(
  target: Endpoint,
  migration: string,
  table: TablePlan,
  snapshot: string | undefined,
): Promise<Segment[] | undefined> {
  const rows = await segmentRows(target, migration, table);
  if (rows.length === 0 || rows.length !== rows[0].total) return undefined;
  if (
    rows.some((r, i) => r.segment !== i || r.total !== rows[0].total) ||
    (snapshot !== ANY_SNAPSHOT && rows.some((r) => (r.snapshot ?? undefined) !== snapshot))
  ) {
    return undefined;
  }
  const parent = qualify(table.source.schema, table.source.name);
  return rows.map((r) => {
    const s: Segment = {
      index: r.segment,
      total: r.total,
      predicate: r.predicate,
      description: r.description ?? '',
    };
    if (r.relation !== parent) {
      const m = /^"((?:[^"]|"")*)"\."((?:[^"]|"")*)"$/.exec(r.relation);
      if (m) s.from = { schema: m[1].replace(/""/g, '"'), name: m[2].replace(/""/g, '"') };
    }
    return s;
  });
}

/** Upsert the table's row with `state` and whatever else is given. */
export async function setTableState(
  target: Endpoint,
  migration: string,
  table: TablePlan,
  state: TableLoadState,
  extra: { snapshot?: string; segments?: number; rows?: number; bytes?: number; error?: string } = {},
): Promise<void> {
  await withClient(target, (c) => setTableStateOn(c, migration, table, state, extra));
}

export async function setTableStateOn(
  c: Client,
  migration: string,
  table: TablePlan,
  state: TableLoadState,
  extra: { snapshot?: string; segments?: number; rows?: number; bytes?: number; error?: string } = {},
): Promise<void> {
  await c.query(
    `INSERT INTO ferry.load_tables AS t (migration, source_schema, source_table, target_schema, target_table, state,
                                         snapshot, segments, rows, bytes, error, load_started_at, load_finished_at,
                                         post_data_finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
             CASE WHEN $6 = 'loading' THEN now() END, CASE WHEN $6 = 'loaded' THEN now() END,
             CASE WHEN $6 = 'completed' THEN now() END)
     ON CONFLICT (migration, source_schema, source_table) DO UPDATE
        SET state = excluded.state, target_schema = excluded.target_schema, target_table = excluded.target_table,
            snapshot = coalesce(excluded.snapshot, t.snapshot), segments = coalesce(excluded.segments, t.segments),
            rows = coalesce(excluded.rows, t.rows), bytes = coalesce(excluded.bytes, t.bytes),
            error = excluded.error,
            -- 'created' again (resetTableLoad) starts the timings over
            load_started_at = CASE WHEN excluded.state = 'created' THEN NULL
                                   ELSE coalesce(t.load_started_at, excluded.load_started_at) END,
            load_finished_at = CASE WHEN excluded.state IN ('created', 'loading') THEN NULL
                                    ELSE coalesce(excluded.load_finished_at, t.load_finished_at) END,
            post_data_finished_at = CASE WHEN excluded.state = 'completed' THEN excluded.post_data_finished_at
                                         ELSE t.post_data_finished_at END,
            updated_at = now()`,
    [
      migration,
      table.source.schema,
      table.source.name,
      table.target.schema,
      table.target.name,
      state,
      extra.snapshot ?? null,
      extra.segments ?? null,
      extra.rows ?? null,
      extra.bytes ?? null,
      extra.error ?? null,
    ],
  );
}

/** The table rows of a migration, keyed by relKey(source schema, source table). */
export async function tableStates(
  target: Endpoint,
  migration: string,
): Promise<Map<string, { state: TableLoadState; snapshot: string | null }>> {
  return withClient(target, async (c) => {
    const { rows } = await c.query<{
      source_schema: string;
      source_table: string;
      state: TableLoadState;
      snapshot: string | null;
    }>(`SELECT source_schema, source_table, state, snapshot FROM ferry.load_tables WHERE migration = $1`, [
      migration,
    ]);
    return new Map(
      rows.map((r) => [relKey(r.source_schema, r.source_table), { state: r.state, snapshot: r.snapshot }]),
    );
  });
}

/**
 * Start a table's load over: empty the target table and forget its segments, in one transaction, so
 * the next copies start from nothing (after SNAPSHOT_LOST, or a LOAD_STATE_CONFLICT).
 */
export async function resetTableLoad(target: Endpoint, migration: string, table: TablePlan): Promise<void> {
  await withClient(target, async (c) => {
    await c.query('BEGIN');
    await c.query(`TRUNCATE ${qualify(table.target.schema, table.target.name)}`);
    await c.query(
      `DELETE FROM ferry.load_segments WHERE migration = $1 AND source_schema = $2 AND source_table = $3`,
      [migration, table.source.schema, table.source.name],
    );
    await setTableStateOn(c, migration, table, 'created');
    await c.query('COMMIT');
  });
}

/**
 * Forget a migration's load: its control rows go, the target tables stay. The next load under this
 * name starts over (pre-data treats its tables as new: DROP_AND_CREATE drops them again).
 */
export async function forgetLoad(target: Endpoint, migration: string): Promise<void> {
  await withClient(target, async (c) => {
    await c.query('BEGIN');
    await c.query(`DELETE FROM ferry.load_segments WHERE migration = $1`, [migration]);
    await c.query(`DELETE FROM ferry.load_tables WHERE migration = $1`, [migration]);
    await c.query('COMMIT');
  });
}

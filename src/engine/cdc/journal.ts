// The change journal (what DMS Time Travel keeps): per migration and table, one row per applied source
// change with its commit LSN, commit time, operation and target key, so "what changed in orders between
// 10:00 and 10:15" has an answer after the fact. Opt-in (ferry.yaml cdc.journal). Rows go into
// ferry.cdc_journal in the same target transaction as the batch they describe, so a batch replayed after
// a crash (the runner skips what the stored position covers) cannot add them twice. Keys only: never
// other column values, so the journal holds no more of the data than the keys.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import type { MigrationPlan } from '../../mapping/types';
import { type PgConnInfo, classifyPgError, connectPg } from '../connection';
import { displayName, parseTableName } from '../ident';
import type { ChangeKeys } from './apply';
import { type Change, type TableKey, bigIntToLsn, lsnToBigInt, tableKeyOf } from './types';

export const JOURNAL_DDL = `
CREATE SCHEMA IF NOT EXISTS ferry;
CREATE TABLE IF NOT EXISTS ferry.cdc_journal (
  migration text NOT NULL,
  -- The source table as TableKey (as ferry.cdc_tables names it), and the target table it maps to.
  table_name text NOT NULL,
  target_table text NOT NULL,
  -- Commit LSN of the source transaction; seq orders the transaction's changes.
  lsn pg_lsn NOT NULL,
  seq int4 NOT NULL,
  commit_time timestamptz NOT NULL,
  operation text NOT NULL CHECK (operation IN ('insert', 'update', 'delete', 'truncate')),
  -- Target primary key values by column, as text; NULL for a truncate or a table without a key.
  key jsonb,
  -- The key before an update that changed it.
  old_key jsonb
);
CREATE INDEX IF NOT EXISTS cdc_journal_table_time ON ferry.cdc_journal (migration, table_name, commit_time);
-- Rows arrive in commit-time order: a BRIN index serves retention and whole-migration windows at
-- almost no write cost.
CREATE INDEX IF NOT EXISTS cdc_journal_time ON ferry.cdc_journal USING brin (commit_time);`;

export type JournalOperation = 'insert' | 'update' | 'delete' | 'truncate';
export const JOURNAL_OPERATIONS: readonly JournalOperation[] = ['insert', 'update', 'delete', 'truncate'];

/** What runCdc needs to keep a journal (ferry.yaml cdc.journal, durations in seconds). */
export interface JournalOptions {
  /** Rows with an older commit time are pruned. */
  retentionSeconds: number;
  /** Prune at most this often (default 600). */
  pruneIntervalSeconds?: number;
  /** Source tables as "schema.table" (parseTableName); empty or absent: every table of the plan. */
  tables?: string[];
}

/** Create ferry.cdc_journal if missing (an advisory lock serialises concurrent creators). */
export async function ensureJournalTable(c: Client): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ferry.cdc_journal'))`);
    await c.query(JOURNAL_DDL);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A transaction as the journal needs it. */
export interface JournalTxn {
  commitLsn: string;
  /** ms since the epoch. */
  commitTime: number;
}

/** Rows deleted per prune statement: a long backlog is pruned over several batches, not in one stall. */
const PRUNE_ROWS = 50_000;

/**
 * Collects the journal rows of a batch while it is applied and writes them with one statement inside
 * the batch's transaction; prunes by retention between batches. One per runCdc.
 */
export class ChangeJournal {
  /** Journalled source tables → target table name. */
  private readonly tables = new Map<TableKey, string>();
  private readonly retentionMs: number;
  private readonly pruneEveryMs: number;
  private nextPrune = 0;
  private rows = emptyRows();

  constructor(
    readonly migration: string,
    plan: MigrationPlan,
    opts: JournalOptions,
  ) {
    const only = new Set(
      (opts.tables ?? []).map((t) => {
        const { schema, table } = parseTableName(t);
        return tableKeyOf(schema, table);
      }),
    );
    for (const t of plan.tables) {
      const key = tableKeyOf(t.source.schema, t.source.name);
      if (only.size === 0 || only.has(key)) this.tables.set(key, displayName(t.target.schema, t.target.name));
    }
    this.retentionMs = opts.retentionSeconds * 1000;
    this.pruneEveryMs = (opts.pruneIntervalSeconds ?? 600) * 1000;
  }

  /** Rows collected and not written yet. */
  get pending(): number {
    return this.rows.table.length;
  }

  /**
   * Collect the rows of one apply call. `changes` is the list applied, `ends[i]` the end (exclusive) of
   * `txns[i]`'s changes in it, `keys` what the applier returned for it (ApplyMeta.keys); `seqBase` the
   * number of the first change within its transaction (a spilled transaction comes in chunks).
   */
  collect(
    txns: readonly JournalTxn[],
    ends: readonly number[],
    changes: readonly Change[],
    keys: ChangeKeys | undefined,
    seqBase = 0,
  ): void {
    const r = this.rows;
    let start = 0;
    txns.forEach((txn, n) => {
      const end = ends[n];
      for (let i = start; i < end; i++) {
        const ch = changes[i];
        const seq = seqBase + i - start;
        if (ch.kind === 'truncate') {
          for (const t of ch.tables) {
            const target = this.tables.get(t);
            if (target !== undefined) push(r, t, target, txn, seq, 'truncate', null, null);
          }
          continue;
        }
        const target = this.tables.get(ch.table);
        const key = keys?.keys[i];
        // undefined: not applied (not in the plan, or its table is suspended).
        if (target === undefined || key === undefined) continue;
        push(r, ch.table, target, txn, seq, ch.kind, key, keys?.oldKeys.get(i) ?? null);
      }
      start = end;
    });
  }

  /** Write the collected rows (one INSERT) on `c`, inside the caller's transaction. Returns the count. */
  async write(c: Client): Promise<number> {
    const r = this.rows;
    const n = r.table.length;
    if (n === 0) return 0;
    this.rows = emptyRows();
    await c.query(
      `INSERT INTO ferry.cdc_journal (migration, table_name, target_table, lsn, seq, commit_time, operation, key, old_key)
       SELECT $1, u.t, u.tt, u.l::pg_lsn, u.s, pg_catalog.to_timestamp(u.ms::float8 / 1000), u.o, u.k::jsonb, u.ok::jsonb
         FROM unnest($2::text[], $3::text[], $4::text[], $5::int4[], $6::int8[], $7::text[], $8::text[], $9::text[])
              AS u(t, tt, l, s, ms, o, k, ok)`,
      [
        this.migration,
        textArray(r.table),
        textArray(r.target),
        textArray(r.lsn),
        `{${r.seq.join(',')}}`,
        `{${r.ms.join(',')}}`,
        textArray(r.op),
        textArray(r.key),
        textArray(r.oldKey),
      ],
    );
    return n;
  }

  /** Drop what was collected (the batch's transaction rolled back). */
  discard(): void {
    this.rows = emptyRows();
  }

  /** A prune is due: the interval has passed (or the last prune left rows behind). */
  pruneDue(now = Date.now()): boolean {
    return now >= this.nextPrune;
  }

  /**
   * Delete rows older than the retention, at most PRUNE_ROWS of them (outside any batch transaction).
   * Returns the number deleted; when it hit the bound the next prune is due at once.
   */
  async prune(c: Client, now = Date.now()): Promise<number> {
    const { rows } = await c.query<{ n: string }>(
      `WITH d AS (
         DELETE FROM ferry.cdc_journal WHERE ctid = ANY (ARRAY(
           SELECT ctid FROM ferry.cdc_journal WHERE migration = $1 AND commit_time < $2 LIMIT $3))
         RETURNING 1)
       SELECT count(*) AS n FROM d`,
      [this.migration, new Date(now - this.retentionMs), PRUNE_ROWS],
    );
    const n = Number(rows[0].n);
    this.nextPrune = n >= PRUNE_ROWS ? now : now + this.pruneEveryMs;
    return n;
  }
}

interface Rows {
  table: string[];
  target: string[];
  lsn: string[];
  seq: number[];
  ms: number[];
  op: string[];
  key: (string | null)[];
  oldKey: (string | null)[];
}

function emptyRows(): Rows {
  return { table: [], target: [], lsn: [], seq: [], ms: [], op: [], key: [], oldKey: [] };
}

function push(
  r: Rows,
  table: TableKey,
  target: string,
  txn: JournalTxn,
  seq: number,
  op: JournalOperation,
  key: string | null,
  oldKey: string | null,
): void {
  r.table.push(table);
  r.target.push(target);
  r.lsn.push(txn.commitLsn);
  r.seq.push(seq);
  r.ms.push(Math.round(txn.commitTime));
  r.op.push(op);
  r.key.push(key);
  r.oldKey.push(oldKey);
}

const ARRAY_SPECIAL = /["\\]/g;

/** A text[] literal (node-postgres would escape every element with regular expressions and type checks). */
function textArray(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    out += v === null ? 'NULL' : `"${v.replace(ARRAY_SPECIAL, '\\$&')}"`;
  }
  return out + '}';
}

// ---- reading the journal ------------------------------------------------------------------------

export interface JournalRow {
  /** The source table (TableKey). */
  table: TableKey;
  targetTable: string;
  /** Commit LSN of the source transaction. */
  lsn: string;
  /** Order within the transaction. */
  seq: number;
  /** ISO time. */
  commitTime: string;
  operation: JournalOperation;
  /** Target primary key values by column, as text; null for a truncate or a table without a key. */
  key: Record<string, string> | null;
  /** The key before an update that changed it. */
  oldKey?: Record<string, string>;
}

export interface JournalQuery {
  /**
   * A table: source "schema.table" as ferry.cdc_tables names it, the target table's name, or a bare
   * table name (any schema).
   */
  table?: string;
  /** Commit time at or after. */
  since?: Date;
  /** Commit time before. */
  until?: Date;
  operation?: JournalOperation;
  /**
   * At most this many rows. With `since`: the first ones from there; without: the latest ones. Either
   * way returned oldest first.
   */
  limit: number;
}

/** A journalled table of a migration: its source name and its target's. */
export interface JournalTable {
  table: TableKey;
  targetTable: string;
}

/** The tables a migration's journal has rows of (a skip scan over the index: one probe per table). */
export async function journalTables(c: Client, migration: string): Promise<JournalTable[]> {
  const { rows } = await c.query<{ table_name: string; target_table: string }>(
    `WITH RECURSIVE t(name) AS (
       (SELECT table_name FROM ferry.cdc_journal WHERE migration = $1 ORDER BY table_name LIMIT 1)
       UNION ALL
       SELECT (SELECT table_name FROM ferry.cdc_journal
                WHERE migration = $1 AND table_name > t.name ORDER BY table_name LIMIT 1)
         FROM t WHERE t.name IS NOT NULL)
     SELECT t.name AS table_name,
            (SELECT target_table FROM ferry.cdc_journal j
              WHERE j.migration = $1 AND j.table_name = t.name ORDER BY commit_time DESC LIMIT 1) AS target_table
       FROM t WHERE t.name IS NOT NULL`,
    [migration],
  );
  return rows.map((r) => ({ table: r.table_name, targetTable: r.target_table }));
}

/** The journal's source table names that `name` designates (see JournalQuery.table). */
export function matchJournalTables(name: string, tables: readonly JournalTable[]): TableKey[] {
  const bare = (qualified: string) => {
    try {
      const { schema, table } = parseTableName(qualified);
      return { key: tableKeyOf(schema, table), table };
    } catch {
      return undefined;
    }
  };
  const asked = name.includes('.') ? bare(name) : undefined;
  const out = tables.filter((t) => {
    if (asked) return t.table === asked.key || t.targetTable === asked.key;
    return bare(t.table)?.table === name || bare(t.targetTable)?.table === name;
  });
  return [...new Set(out.map((t) => t.table))];
}

/**
 * The journal of a migration on its target, filtered by table, commit-time window and operation.
 * Empty when the journal was never enabled (no ferry.cdc_journal) or nothing matches.
 */
export async function queryJournal(
  target: PgConnInfo,
  migration: string,
  q: JournalQuery,
): Promise<JournalRow[]> {
  if (!(Number.isInteger(q.limit) && q.limit > 0)) {
    throw new FerryError(ErrorType.CONFIG_INVALID, `journal limit ${q.limit}: use a whole number above 0`);
  }
  if (q.operation !== undefined && !JOURNAL_OPERATIONS.includes(q.operation)) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `journal operation ${JSON.stringify(q.operation)}: use one of ${JOURNAL_OPERATIONS.join(', ')}`,
    );
  }
  const c = await connectPg(target, 'ferry-journal');
  try {
    const { rows: exists } = await c.query<{ ok: boolean }>(
      `SELECT pg_catalog.to_regclass('ferry.cdc_journal') IS NOT NULL AS ok`,
    );
    if (!exists[0].ok) return [];
    const where = ['migration = $1'];
    const params: unknown[] = [migration];
    if (q.table !== undefined) {
      const names = matchJournalTables(q.table, await journalTables(c, migration));
      if (names.length === 0) return [];
      params.push(names);
      where.push(`table_name = ANY ($${params.length}::text[])`);
    }
    if (q.since) {
      params.push(q.since);
      where.push(`commit_time >= $${params.length}`);
    }
    if (q.until) {
      params.push(q.until);
      where.push(`commit_time < $${params.length}`);
    }
    if (q.operation) {
      params.push(q.operation);
      where.push(`operation = $${params.length}`);
    }
    params.push(q.limit);
    const dir = q.since ? 'ASC' : 'DESC';
    const { rows } = await c.query<{
      table_name: string;
      target_table: string;
      lsn: string;
      seq: number;
      commit_time: Date;
      operation: JournalOperation;
      key: Record<string, string> | null;
      old_key: Record<string, string> | null;
    }>(
      `SELECT table_name, target_table, lsn::text, seq, commit_time, operation, key, old_key
         FROM ferry.cdc_journal WHERE ${where.join(' AND ')}
        ORDER BY commit_time ${dir}, lsn ${dir}, seq ${dir} LIMIT $${params.length}`,
      params,
    );
    if (!q.since) rows.reverse();
    return rows.map((r) => ({
      table: r.table_name,
      targetTable: r.target_table,
      lsn: bigIntToLsn(lsnToBigInt(r.lsn)),
      seq: r.seq,
      commitTime: r.commit_time.toISOString(),
      operation: r.operation,
      key: r.key,
      ...(r.old_key && { oldKey: r.old_key }),
    }));
  } catch (err) {
    throw err instanceof FerryError ? err : classifyPgError(err, target);
  } finally {
    await c.end().catch(() => undefined);
  }
}

// ---- --since / --until values -------------------------------------------------------------------

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
};
const RELATIVE = /^(\d+)\s*([a-z]+)(?:\s+ago)?$/;
/** A calendar date first: Date.parse alone takes "1" or "May 5" too. */
const ISO_LIKE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;

/**
 * A point in time as an operator writes it after --since/--until: an ISO time ("2025-03-01T10:00:00Z",
 * "2025-03-01 10:00", "2025-03-01"; without a zone, local time) or a time ago ("15m", "2h", "1 day",
 * "30 minutes ago"). Throws CONFIG_INVALID saying what to write.
 */
export function parseSince(text: string, now: Date = new Date()): Date {
  const s = text.trim();
  const rel = RELATIVE.exec(s.toLowerCase());
  if (rel && UNIT_MS[rel[2]] !== undefined) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]]);
  if (ISO_LIKE.test(s)) {
    // Date.parse reads a date alone as UTC and a date with a time as local: say local for both.
    const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00` : s.replace(' ', 'T'));
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new FerryError(
    ErrorType.CONFIG_INVALID,
    `${JSON.stringify(text)} is not a time; write an ISO time such as 2025-03-01T10:00:00Z (or ` +
      `"2025-03-01 10:00", local time), or a time ago such as 15m, 2h, "1 day", "30 minutes ago"`,
  );
}

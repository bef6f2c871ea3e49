// CDC control tables in the target's `ferry` schema, the way DMS keeps awsdms_apply_exceptions:
// the applied position (written in the same transaction as the changes it covers: exactly once),
// per-table counters, and every conflict the apply met.
import type { Client } from 'pg';
import type { ApplyConflict, CdcTableCounters, TableKey } from './types';
import { bigIntToLsn, lsnToBigInt } from './types';

export const CDC_DDL = `
CREATE SCHEMA IF NOT EXISTS ferry;
CREATE TABLE IF NOT EXISTS ferry.cdc_progress (
  migration text PRIMARY KEY,
  slot_name text NOT NULL,
  applied_lsn pg_lsn NOT NULL,
  commit_time timestamptz,
  txns bigint NOT NULL DEFAULT 0,
  changes bigint NOT NULL DEFAULT 0,
  batches bigint NOT NULL DEFAULT 0,
  applied bigint NOT NULL DEFAULT 0,
  conflicts bigint NOT NULL DEFAULT 0,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ferry.cdc_tables (
  migration text NOT NULL,
  table_name text NOT NULL,
  inserts bigint NOT NULL DEFAULT 0,
  updates bigint NOT NULL DEFAULT 0,
  deletes bigint NOT NULL DEFAULT 0,
  truncates bigint NOT NULL DEFAULT 0,
  applied bigint NOT NULL DEFAULT 0,
  conflicts bigint NOT NULL DEFAULT 0,
  last_change_at timestamptz,
  PRIMARY KEY (migration, table_name)
);
CREATE TABLE IF NOT EXISTS ferry.cdc_exceptions (
  id bigserial PRIMARY KEY,
  migration text NOT NULL,
  table_name text NOT NULL,
  kind text NOT NULL,
  key text NOT NULL,
  policy text NOT NULL,
  message text,
  commit_lsn pg_lsn,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS cdc_exceptions_migration ON ferry.cdc_exceptions (migration, id);`;

/** Create the CDC control tables if missing (an advisory lock serialises concurrent creators). */
export async function ensureCdcTables(c: Client): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ferry.cdc'))`);
    await c.query(CDC_DDL);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export interface StoredProgress {
  slotName: string;
  appliedLsn: string;
  commitTime?: string;
  txns: number;
  changes: number;
  batches: number;
  applied: number;
  conflicts: number;
}

export async function readProgress(c: Client, migration: string): Promise<StoredProgress | undefined> {
  const { rows } = await c.query<{
    slot_name: string;
    applied_lsn: string;
    commit_time: Date | null;
    txns: string;
    changes: string;
    batches: string;
    applied: string;
    conflicts: string;
  }>(
    `SELECT slot_name, applied_lsn::text, commit_time, txns, changes, batches, applied, conflicts
       FROM ferry.cdc_progress WHERE migration = $1`,
    [migration],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    slotName: r.slot_name,
    appliedLsn: bigIntToLsn(lsnToBigInt(r.applied_lsn)),
    commitTime: r.commit_time?.toISOString(),
    txns: Number(r.txns),
    changes: Number(r.changes),
    batches: Number(r.batches),
    applied: Number(r.applied),
    conflicts: Number(r.conflicts),
  };
}

export interface ProgressDelta {
  slotName: string;
  appliedLsn: string;
  commitTime?: number;
  txns: number;
  changes: number;
  applied: number;
  conflicts: ApplyConflict[];
  tables: Record<TableKey, CdcTableCounters>;
}

/**
 * Record a batch inside its apply transaction: the new position, the counters, the conflicts. The
 * position only moves forward (a replayed batch cannot move it back).
 */
export async function recordBatch(c: Client, migration: string, d: ProgressDelta): Promise<void> {
  await c.query(
    `INSERT INTO ferry.cdc_progress AS p
            (migration, slot_name, applied_lsn, commit_time, txns, changes, batches, applied, conflicts)
     VALUES ($1, $2, $3::pg_lsn, $4, $5, $6, 1, $7, $8)
     ON CONFLICT (migration) DO UPDATE SET
       slot_name = EXCLUDED.slot_name,
       applied_lsn = GREATEST(p.applied_lsn, EXCLUDED.applied_lsn),
       commit_time = COALESCE(EXCLUDED.commit_time, p.commit_time),
       txns = p.txns + EXCLUDED.txns, changes = p.changes + EXCLUDED.changes, batches = p.batches + 1,
       applied = p.applied + EXCLUDED.applied, conflicts = p.conflicts + EXCLUDED.conflicts,
       updated_at = now()`,
    [
      migration,
      d.slotName,
      d.appliedLsn,
      d.commitTime === undefined ? null : new Date(d.commitTime),
      d.txns,
      d.changes,
      d.applied,
      d.conflicts.length,
    ],
  );
  const names = Object.keys(d.tables);
  if (names.length) {
    const col = (f: keyof CdcTableCounters) => names.map((n) => d.tables[n][f]);
    await c.query(
      `INSERT INTO ferry.cdc_tables AS t
              (migration, table_name, inserts, updates, deletes, truncates, applied, conflicts, last_change_at)
       SELECT $1, u.* , now()
         FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) AS u
       ON CONFLICT (migration, table_name) DO UPDATE SET
         inserts = t.inserts + EXCLUDED.inserts, updates = t.updates + EXCLUDED.updates,
         deletes = t.deletes + EXCLUDED.deletes, truncates = t.truncates + EXCLUDED.truncates,
         applied = t.applied + EXCLUDED.applied, conflicts = t.conflicts + EXCLUDED.conflicts,
         last_change_at = now()`,
      [
        migration,
        names,
        col('inserts'),
        col('updates'),
        col('deletes'),
        col('truncates'),
        col('applied'),
        col('conflicts'),
      ],
    );
  }
  if (d.conflicts.length) {
    const f = <K extends keyof ApplyConflict>(k: K) => d.conflicts.map((x) => x[k] ?? null);
    await c.query(
      `INSERT INTO ferry.cdc_exceptions (migration, table_name, kind, key, policy, message, commit_lsn)
       SELECT $1, u.t, u.k, u.key, u.p, u.m, u.l::pg_lsn
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(t, k, key, p, m, l)`,
      [migration, f('table'), f('kind'), f('key'), f('policy'), f('message'), f('commitLsn')],
    );
  }
}

/** Per-table CDC counters of a migration, for status and table statistics. */
export async function tableCounters(
  c: Client,
  migration: string,
): Promise<Record<TableKey, CdcTableCounters & { lastChangeAt?: string }>> {
  const { rows } = await c.query(
    `SELECT table_name, inserts, updates, deletes, truncates, applied, conflicts, last_change_at
       FROM ferry.cdc_tables WHERE migration = $1 ORDER BY table_name`,
    [migration],
  );
  const out: Record<TableKey, CdcTableCounters & { lastChangeAt?: string }> = {};
  for (const r of rows as Record<string, unknown>[]) {
    out[String(r.table_name)] = {
      inserts: Number(r.inserts),
      updates: Number(r.updates),
      deletes: Number(r.deletes),
      truncates: Number(r.truncates),
      applied: Number(r.applied),
      conflicts: Number(r.conflicts),
      lastChangeAt: r.last_change_at instanceof Date ? r.last_change_at.toISOString() : undefined,
    };
  }
  return out;
}

/** Forget a migration's CDC position (a new full-load-and-cdc run starts from its new slot). */
export async function forgetProgress(c: Client, migration: string): Promise<void> {
  await c.query(`DELETE FROM ferry.cdc_progress WHERE migration = $1`, [migration]);
  await c.query(`DELETE FROM ferry.cdc_tables WHERE migration = $1`, [migration]);
}

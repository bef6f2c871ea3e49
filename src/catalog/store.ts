// The catalog's durable history: one row per refresh and one fact sheet per database per refresh, in
// the `ferry` schema of the control database (config `control:`), next to Ferry's other control tables.
import type { Client } from 'pg';
import type { DatabaseFacts } from './types';

export interface StoredRefresh {
  id: number;
  /** ISO time. */
  at: string;
  ok: boolean;
  summary: Record<string, unknown>;
  databases: DatabaseFacts[];
}

export interface SizePoint {
  refreshId: number;
  at: string;
  reachable: boolean;
  sizeBytes?: number;
}

// Serializes the CREATE IF NOT EXISTS below across concurrent refreshes: two sessions creating the
// same table at once can both pass the existence check and one then fails on pg_type's unique index.
const DDL_LOCK = 0x66657272; // "ferr"

const DDL = [
  'CREATE SCHEMA IF NOT EXISTS ferry',
  `CREATE TABLE IF NOT EXISTS ferry.catalog_refreshes (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT pg_catalog.now(),
     ok boolean NOT NULL,
     summary jsonb NOT NULL DEFAULT '{}'
   )`,
  `CREATE TABLE IF NOT EXISTS ferry.catalog_databases (
     refresh_id bigint NOT NULL REFERENCES ferry.catalog_refreshes (id) ON DELETE CASCADE,
     endpoint text NOT NULL,
     database text NOT NULL,
     reachable boolean NOT NULL,
     size_bytes bigint,
     facts jsonb NOT NULL,
     PRIMARY KEY (refresh_id, endpoint, database)
   )`,
  'CREATE INDEX IF NOT EXISTS catalog_databases_by_name ON ferry.catalog_databases (endpoint, database, refresh_id)',
];

/** Creates the ferry schema and the catalog tables if missing. Idempotent. */
export async function ensureCatalogTables(c: Client): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_catalog.pg_advisory_xact_lock($1)', [DDL_LOCK]);
    for (const sql of DDL) await c.query(sql);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Stores one refresh and its fact sheets in one transaction; returns its id and time. */
export async function saveRefresh(
  c: Client,
  r: { ok: boolean; summary: Record<string, unknown>; databases: readonly DatabaseFacts[] },
): Promise<{ id: number; at: string }> {
  await c.query('BEGIN');
  try {
    const { rows } = await c.query<{ id: string; at: Date }>(
      'INSERT INTO ferry.catalog_refreshes (ok, summary) VALUES ($1, $2) RETURNING id, at',
      [r.ok, JSON.stringify(r.summary)],
    );
    const id = Number(rows[0].id);
    for (const f of r.databases) {
      await c.query(
        `INSERT INTO ferry.catalog_databases (refresh_id, endpoint, database, reachable, size_bytes, facts)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, f.endpoint, f.database, f.reachable, f.sizeBytes ?? null, JSON.stringify(f)],
      );
    }
    await c.query('COMMIT');
    return { id, at: rows[0].at.toISOString() };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The newest refresh (before `beforeId`, if given), or undefined when there is none. */
export async function latestRefresh(c: Client, beforeId?: number): Promise<StoredRefresh | undefined> {
  const { rows } = await c.query<{ id: string; at: Date; ok: boolean; summary: Record<string, unknown> }>(
    `SELECT id, at, ok, summary FROM ferry.catalog_refreshes
      WHERE $1::bigint IS NULL OR id < $1 ORDER BY id DESC LIMIT 1`,
    [beforeId ?? null],
  );
  if (rows.length === 0) return undefined;
  const id = Number(rows[0].id);
  const facts = await c.query<{ facts: DatabaseFacts }>(
    'SELECT facts FROM ferry.catalog_databases WHERE refresh_id = $1 ORDER BY endpoint, database',
    [id],
  );
  return {
    id,
    at: rows[0].at.toISOString(),
    ok: rows[0].ok,
    summary: rows[0].summary,
    databases: facts.rows.map((r) => r.facts),
  };
}

/** The database's size at each refresh that saw it, oldest first (at most `limit`, the newest ones). */
export async function sizeHistory(
  c: Client,
  endpoint: string,
  database: string,
  limit = 100,
): Promise<SizePoint[]> {
  const { rows } = await c.query<{ id: string; at: Date; reachable: boolean; size_bytes: string | null }>(
    `SELECT r.id, r.at, d.reachable, d.size_bytes
       FROM ferry.catalog_databases d JOIN ferry.catalog_refreshes r ON r.id = d.refresh_id
      WHERE d.endpoint = $1 AND d.database = $2
      ORDER BY r.id DESC LIMIT $3`,
    [endpoint, database, limit],
  );
  return rows.reverse().map((r) => ({
    refreshId: Number(r.id),
    at: r.at.toISOString(),
    reachable: r.reachable,
    ...(r.size_bytes !== null && { sizeBytes: Number(r.size_bytes) }),
  }));
}

/** Whether the catalog tables exist yet (list/show before the first refresh). */
export async function catalogTablesExist(c: Client): Promise<boolean> {
  const { rows } = await c.query<{ ok: boolean }>(
    "SELECT pg_catalog.to_regclass('ferry.catalog_refreshes') IS NOT NULL AS ok",
  );
  return rows[0].ok;
}

// Test helper: compare tables between source and target by query: row count plus an order-independent
// checksum of each row's text, with session settings that make both servers print values alike.
import type { Client } from 'pg';

export const STABLE_SESSION = `SET extra_float_digits = 3; SET TimeZone = 'UTC'; SET bytea_output = 'hex';
  SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'`;

export interface TableFingerprint {
  rows: number;
  sum: string;
}

/** Count and checksum of a query's rows; `sql` must select the columns to compare. */
export async function fingerprint(c: Client, sql: string): Promise<TableFingerprint> {
  await c.query(STABLE_SESSION);
  const r = await c.query<{ n: string; s: string | null }>(
    `SELECT count(*)::text AS n, coalesce(sum(('x' || left(md5(q::text), 15))::bit(60)::bigint), 0)::text AS s
       FROM (${sql}) q`,
  );
  return { rows: Number(r.rows[0].n), sum: r.rows[0].s ?? '0' };
}

/** Every ordinary table of a database as `schema.table` quoted, excluding Ferry's control schema. */
export async function userTables(c: Client): Promise<string[]> {
  const r = await c.query<{ t: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS t
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1`,
  );
  return r.rows.map((x) => x.t);
}

// Verifying a tool's result: per table row count and an order-independent checksum, index and
// constraint counts, and every sequence's state, compared between the source and a target database.
import type { Client } from 'pg';
import { type BenchServer, type BenchServers, quoteIdent, withClient } from './servers';

/**
 * Schemas that are never user data: the catalogs, and the control schemas tools keep on a target
 * (Ferry's `ferry`, pgcopydb's `pgcopydb` with --follow), which the source does not have.
 */
const IGNORED_SCHEMAS = ['pg_catalog', 'information_schema', 'ferry', 'pgcopydb'];

/**
 * Session settings both sides hash under, so the text form of a row depends only on its values:
 * floats at full precision, timestamps in one zone and style, bytea in one encoding.
 */
export const CHECKSUM_SESSION = [
  `SET extra_float_digits = 3`,
  `SET TimeZone = 'UTC'`,
  `SET bytea_output = 'hex'`,
  `SET DateStyle = 'ISO, YMD'`,
  `SET IntervalStyle = 'postgres'`,
];

export interface TableFingerprint {
  rows: string;
  /** sum(hashtext(row::text)) as text: the order rows sit in does not change it. */
  checksum: string;
  indexes: number;
  /** Constraint counts by type, e.g. "c1 f1 p1 u1" (check, foreign key, primary, unique). */
  constraints: string;
}

export interface DbFingerprint {
  /** By `schema.table` (leaf tables only: a partitioned parent's rows are its partitions'). */
  tables: Record<string, TableFingerprint>;
  /** By `schema.sequence`: "last_value/is_called". */
  sequences: Record<string, string>;
  bytes: number;
}

interface RelRow {
  schema: string;
  name: string;
  indexes: number;
  constraints: string | null;
}

/** Fingerprint one database, hashing up to `parallel` tables at once. */
export async function fingerprint(
  servers: BenchServers,
  srv: BenchServer,
  database: string,
  parallel: number,
): Promise<DbFingerprint> {
  const { rels, sequences, bytes } = await withClient(servers, srv, database, async (c) => {
    const rels = (
      await c.query<RelRow>(
        `SELECT n.nspname AS schema, c.relname AS name,
                (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)::int AS indexes,
                (SELECT string_agg(contype || cnt, ' ' ORDER BY contype)
                   FROM (SELECT contype, count(*) AS cnt FROM pg_constraint k WHERE k.conrelid = c.oid
                          GROUP BY contype) t) AS constraints
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname <> ALL ($1) AND n.nspname NOT LIKE 'pg\\_%'
          ORDER BY pg_table_size(c.oid) DESC`,
        [IGNORED_SCHEMAS],
      )
    ).rows;
    const seqNames = (
      await c.query<{ schema: string; name: string }>(
        `SELECT n.nspname AS schema, c.relname AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'S' AND n.nspname <> ALL ($1) AND n.nspname NOT LIKE 'pg\\_%'`,
        [IGNORED_SCHEMAS],
      )
    ).rows;
    const sequences: Record<string, string> = {};
    for (const s of seqNames) {
      const r = await c.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text, is_called FROM ${quoteIdent(s.schema)}.${quoteIdent(s.name)}`,
      );
      sequences[`${s.schema}.${s.name}`] = `${r.rows[0].last_value}/${r.rows[0].is_called}`;
    }
    const bytes = Number((await c.query(`SELECT pg_database_size(current_database()) AS b`)).rows[0].b);
    return { rels, sequences, bytes };
  });

  const tables: Record<string, TableFingerprint> = {};
  const queue = [...rels];
  const worker = async () => {
    await withClient(servers, srv, database, async (c: Client) => {
      for (const sql of CHECKSUM_SESSION) await c.query(sql);
      for (let rel = queue.shift(); rel; rel = queue.shift()) {
        const qname = `${quoteIdent(rel.schema)}.${quoteIdent(rel.name)}`;
        const r = await c.query<{ n: string; sum: string }>(
          `SELECT count(*)::text AS n, coalesce(sum(hashtext(t::text)::bigint), 0)::text AS sum FROM ONLY ${qname} AS t`,
        );
        tables[`${rel.schema}.${rel.name}`] = {
          rows: r.rows[0].n,
          checksum: r.rows[0].sum,
          indexes: rel.indexes,
          constraints: rel.constraints ?? '',
        };
      }
    });
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, rels.length)) }, worker));
  return { tables, sequences, bytes };
}

/** Every way `target` differs from `source`, one line each; empty when they are equal. */
export function compareFingerprints(source: DbFingerprint, target: DbFingerprint): string[] {
  const out: string[] = [];
  const keys = [...new Set([...Object.keys(source.tables), ...Object.keys(target.tables)])].sort();
  for (const k of keys) {
    const s = source.tables[k];
    const t = target.tables[k];
    if (!t) out.push(`table ${k} missing on the target`);
    else if (!s) out.push(`table ${k} exists only on the target`);
    else {
      if (s.rows !== t.rows) out.push(`${k}: ${t.rows} rows, source has ${s.rows}`);
      else if (s.checksum !== t.checksum) out.push(`${k}: checksum differs (same row count ${s.rows})`);
      if (s.indexes !== t.indexes) out.push(`${k}: ${t.indexes} indexes, source has ${s.indexes}`);
      if (s.constraints !== t.constraints)
        out.push(`${k}: constraints "${t.constraints}", source has "${s.constraints}"`);
    }
  }
  const seqs = [...new Set([...Object.keys(source.sequences), ...Object.keys(target.sequences)])].sort();
  for (const k of seqs) {
    const s = source.sequences[k];
    const t = target.sequences[k];
    if (s !== t) out.push(`sequence ${k}: ${t ?? 'missing'} on the target, source has ${s ?? 'none'}`);
  }
  return out;
}

export function totalRows(f: DbFingerprint): number {
  return Object.values(f.tables).reduce((n, t) => n + Number(t.rows), 0);
}

export function totalIndexes(f: DbFingerprint): number {
  return Object.values(f.tables).reduce((n, t) => n + t.indexes, 0);
}

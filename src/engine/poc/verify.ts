// PoC step 4: compare the restored scratch database with the source, table by table: exact row
// counts everywhere, and an order-independent checksum of every row for tables under a size cap.
import type { Client } from 'pg';
import { type PgConnInfo, classifyPgError, connectPg } from '../connection';
import { displayName, qualify } from '../ident';
import type { TableKind } from './inspect';

export interface VerifyTableInput {
  schema: string;
  name: string;
  /** From inspectSource; decides whether the checksum runs (bytes <= sizeCapBytes). */
  bytes: number;
  /** Default 'table'. */
  kind?: TableKind;
}

export interface VerifiedTable {
  schema: string;
  name: string;
  kind: TableKind;
  /**
   * Rows stored in this table (SELECT count(*) FROM ONLY). For a partitioned parent: the total over
   * its partitions, which are listed too; skip kind 'partitioned' when summing.
   */
  sourceRows: number;
  targetRows: number;
  checksummed: boolean;
  sourceMd5?: string;
  targetMd5?: string;
  equal: boolean;
  /** The table does not exist on that side (its row count is then reported as 0). */
  missingOn?: 'source' | 'target';
}

export interface VerifyReport {
  tables: VerifiedTable[];
  /** One human-readable line per difference. */
  differences: string[];
  /**
   * Tables that differ but were written on the source since the dump began (their write counters
   * moved): the difference is the application's later writes, not a fault of the dump or restore.
   */
  changed: string[];
  ok: boolean;
}

export interface VerifyOptions {
  source: PgConnInfo;
  target: PgConnInfo;
  tables: VerifyTableInput[];
  /** Tables larger than this are row-counted only: the checksum reads every row. */
  sizeCapBytes: number;
  onProgress?: (p: { done: number; total: number; table: string }) => void;
  /** writeCounters() of the source read before the dump began: tables written since are told apart. */
  writesBefore?: Record<string, number>;
}

/** How long the statistics of a committed write may take to show (PostgreSQL's PGSTAT interval is 0.5 s). */
const STATS_DELAY_MS = 1000;

/**
 * Per table, rows inserted, updated and deleted so far (pg_stat_user_tables), keyed as displayName
 * prints it: read before a dump and after a verify, a moved counter means the application wrote there.
 */
export async function writeCounters(conn: PgConnInfo): Promise<Record<string, number>> {
  const c = await openSide(conn);
  try {
    // A partitioned table counts its partitions' writes. pg_partition_ancestors lists a partition and
    // its ancestors, and nothing for a plain table: that one counts for itself.
    const { rows } = await c.query<{ schema: string; name: string; n: string }>(
      `SELECT n.nspname AS schema, r.relname AS name, sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::text AS n
         FROM pg_catalog.pg_stat_user_tables s
         LEFT JOIN LATERAL pg_catalog.pg_partition_ancestors(s.relid) AS a(relid) ON true
         JOIN pg_catalog.pg_class r ON r.oid = coalesce(a.relid, s.relid)
         JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
        GROUP BY 1, 2`,
    );
    return Object.fromEntries(rows.map((r) => [displayName(r.schema, r.name), Number(r.n)]));
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Session settings that make a row's text form the same on every server version Ferry supports
 * (12+): without them DateStyle, TimeZone, IntervalStyle, bytea_output or lc_monetary of either
 * server or role would make identical rows print differently. extra_float_digits > 0 gives the
 * shortest exact float text on 12+ (on 11 and older it means 17 digits, so floats would differ).
 */
const STABLE_TEXT_SETTINGS = [
  `SET extra_float_digits = 3`,
  `SET DateStyle = 'ISO, YMD'`,
  `SET IntervalStyle = 'postgres'`,
  `SET TimeZone = 'UTC'`,
  `SET bytea_output = 'hex'`,
  `SET lc_monetary = 'C'`,
  `SET client_encoding = 'UTF8'`,
];

/**
 * Row count and checksum in one scan. Each row's text (ROW(r.*)::text, which no column name can
 * shadow) is hashed with md5; the two 64-bit halves are summed as numeric over all rows. A sum is
 * order-independent and streams in constant memory, unlike string_agg(... ORDER BY ...), which
 * sorts every hash and fails past 1 GB; unlike XOR it does not cancel duplicate rows. The final
 * md5 over count and both sums is what the report shows.
 */
function checksumSql(table: string): string {
  return `SELECT count(*)::text AS n,
                 md5(count(*)::text || ':' ||
                     coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text || ':' ||
                     coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text) AS md5
            FROM (SELECT md5(ROW(r.*)::text) AS h FROM ONLY ${table} r) s`;
}

async function openSide(c: PgConnInfo): Promise<Client> {
  const client = await connectPg(c, 'ferry-poc-verify');
  try {
    for (const s of STABLE_TEXT_SETTINGS) await client.query(s);
    // One snapshot per side: every table is compared as of the same moment.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw classifyPgError(err, c);
  }
}

interface SideResult {
  missing: boolean;
  rows: number;
  md5?: string;
}

async function measure(
  client: Client,
  c: PgConnInfo,
  t: VerifyTableInput,
  kind: TableKind,
  checksum: boolean,
): Promise<SideResult> {
  const q = qualify(t.schema, t.name);
  try {
    const exists = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [q]);
    if (!exists.rows[0].ok) return { missing: true, rows: 0 };
    if (checksum) {
      const r = await client.query<{ n: string; md5: string }>(checksumSql(q));
      return { missing: false, rows: Number(r.rows[0].n), md5: r.rows[0].md5 };
    }
    // A parent's rows are its partitions' (listed separately); ONLY elsewhere so nothing counts twice.
    const r = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${kind === 'partitioned' ? '' : 'ONLY '}${q}`,
    );
    return { missing: false, rows: Number(r.rows[0].n) };
  } catch (err) {
    throw classifyPgError(err, c);
  }
}

/**
 * Compare `tables` between source and target. The source is read live: rows written there after the
 * dump show up as differences, which is why the PoC scope should be quiet or the run repeatable.
 */
export async function verifyRestore(opts: VerifyOptions): Promise<VerifyReport> {
  const src = await openSide(opts.source);
  let tgt: Client;
  try {
    tgt = await openSide(opts.target);
  } catch (err) {
    await src.end().catch(() => undefined);
    throw err;
  }
  const tables: VerifiedTable[] = [];
  const differences: string[] = [];
  try {
    let done = 0;
    for (const t of opts.tables) {
      const kind = t.kind ?? 'table';
      const name = displayName(t.schema, t.name);
      const checksum = kind !== 'partitioned' && t.bytes <= opts.sizeCapBytes;
      const [s, g] = await Promise.all([
        measure(src, opts.source, t, kind, checksum),
        measure(tgt, opts.target, t, kind, checksum),
      ]);
      const row: VerifiedTable = {
        schema: t.schema,
        name: t.name,
        kind,
        sourceRows: s.rows,
        targetRows: g.rows,
        checksummed: checksum && !s.missing && !g.missing,
        equal: false,
      };
      if (row.checksummed) {
        row.sourceMd5 = s.md5;
        row.targetMd5 = g.md5;
      }
      if (s.missing) {
        row.missingOn = 'source';
        differences.push(`${name}: missing on the source (dropped since the inventory?)`);
      } else if (g.missing) {
        row.missingOn = 'target';
        differences.push(`${name}: missing on the target (${s.rows} rows on the source)`);
      } else if (s.rows !== g.rows) {
        differences.push(`${name}: ${s.rows} rows on the source, ${g.rows} on the target`);
      } else if (row.checksummed && s.md5 !== g.md5) {
        differences.push(
          `${name}: same row count (${s.rows}) but different contents (checksum ${s.md5?.slice(0, 12)} on the source, ` +
            `${g.md5?.slice(0, 12)} on the target)`,
        );
      } else {
        row.equal = true;
      }
      tables.push(row);
      opts.onProgress?.({ done: ++done, total: opts.tables.length, table: name });
    }
  } finally {
    await Promise.all([src.end().catch(() => undefined), tgt.end().catch(() => undefined)]);
  }
  const changed: string[] = [];
  if (opts.writesBefore && differences.length) {
    // Writes committed while the last tables were read reach the statistics a moment later.
    await new Promise((r) => setTimeout(r, STATS_DELAY_MS));
    const after = await writeCounters(opts.source);
    const written = (t: VerifiedTable) => {
      const key = displayName(t.schema, t.name);
      return (after[key] ?? 0) !== (opts.writesBefore![key] ?? 0);
    };
    const kept: string[] = [];
    for (const t of tables.filter((x) => !x.equal)) {
      const name = displayName(t.schema, t.name);
      const line = differences.find((d) => d.startsWith(`${name}:`));
      if (written(t) && !t.missingOn) changed.push(line ?? name);
      else if (line) kept.push(line);
    }
    return { tables, differences: kept, changed, ok: kept.length === 0 };
  }
  return { tables, differences, changed, ok: differences.length === 0 };
}

// Splits one table into segments, each copied by one COPY: primary-key ranges, ctid page ranges, one
// per partition, DMS `ranges` boundaries, or the whole table. Segment predicates only need to be
// complete and disjoint (every row in exactly one segment), so boundaries come from cheap estimates.
import type { Client } from 'pg';
import type { CatalogTable, TablePlan } from '../../mapping/types';
import { displayName, qualify, quoteIdent, quoteLiteral } from '../ident';
import { type Endpoint, connOf, withSession } from './pool';
import { andPredicates, filterSql, inlineParams } from './sql';
import { beginSnapshotTransaction } from './snapshot';

export interface Segment {
  /** 0-based position within the table's segments. */
  index: number;
  total: number;
  /** SQL over source columns, literals inlined; 'TRUE' for all rows of `from`. */
  predicate: string;
  description: string;
  /** Read from this relation instead of the table (one leaf partition of a partitioned table). */
  from?: { schema: string; name: string };
  /** Something the operator should know about the split (rows a DMS `ranges` split leaves out). */
  note?: string;
}

/** Fewer pages than this per segment is not worth a separate COPY. */
const MIN_PAGES_PER_SEGMENT = 128;
/** Pages TABLESAMPLE SYSTEM reads to estimate key quantiles when there are no statistics. */
const SAMPLE_PAGES = 400;

/**
 * The segments of `table`, from its plan's SegmentPlan:
 * - `none`: one segment, TRUE.
 * - `pk-range`: `count` ranges of the first key column (`segments.columns[0]`, else the primary key),
 *   boundaries from the pg_stats histogram, else a TABLESAMPLE of about 400 pages; first `k < b1`,
 *   middle `k >= b(i-1) AND k < bi`, last `k >= b(n-1)`. No key or no data: one segment.
 * - `ctid-range`: page ranges by the table's current size, the last one open-ended. PostgreSQL 13 and
 *   older have no TID range scan, so every ctid segment would read the whole table: one segment there.
 * - `partitions`: one segment per leaf partition (`from`), predicate TRUE.
 * - `ranges`: DMS boundaries (`segments.predicates`, else built from `columns`/`boundaries`): `lt(B1)`,
 *   `NOT lt(Bk-1) AND lt(Bk)`, `NOT lt(Bn)`. Rows with a NULL in a range column belong to no segment
 *   and are not loaded, as with DMS; their number (under the filter) is in the first segment's note.
 * Views are always one segment. `snapshotId` makes the queries (the NULL count) see the load's snapshot.
 */
export async function planSegments(
  source: Endpoint,
  snapshotId: string | undefined,
  table: TablePlan,
  catalogTable: CatalogTable,
): Promise<Segment[]> {
  const method = catalogTable.kind === 'view' ? 'none' : table.segments.method;
  const count = Math.max(1, Math.floor(table.segments.count || 1));
  if (method === 'none') return [whole()];
  if (method === 'partitions') return partitionSegments(table, catalogTable);
  if (count === 1 && method !== 'ranges') return [whole()];

  return withSession(source, 'ferry-segments', async (client) => {
    if (snapshotId) await beginSnapshotTransaction(client, snapshotId, connOf(source));
    else await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Boundaries are printed here and parsed again by the copy sessions, which use these settings.
    await client.query(
      `SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 3; SET LOCAL TimeZone = 'UTC'`,
    );
    let segments: Segment[];
    if (method === 'ranges') {
      segments = await rangeSegments(client, table, catalogTable);
    } else if (method === 'pk-range') {
      const column = table.segments.columns?.[0] ?? catalogTable.primaryKey[0];
      segments = column
        ? await keySegments(client, catalogTable, column, count)
        : await ctidSegments(client, catalogTable, count);
    } else {
      segments = await ctidSegments(client, catalogTable, count);
    }
    await client.query('COMMIT');
    return segments;
  });
}

function whole(): Segment {
  return { index: 0, total: 1, predicate: 'TRUE', description: 'whole table' };
}

/** Give a list of predicates their index, total and description. */
function numbered(parts: { predicate: string; description: string; from?: Segment['from'] }[]): Segment[] {
  return parts.map((p, index) => ({
    index,
    total: parts.length,
    predicate: p.predicate,
    description: `${index + 1}/${parts.length}: ${p.description}`,
    ...(p.from ? { from: p.from } : {}),
  }));
}

/** `FROM` target for a catalog table: ONLY for plain tables (inheritance children are tables of their own). */
export function relationSql(t: { schema: string; name: string; kind?: CatalogTable['kind'] }): string {
  // A partitioned table holds no rows itself: ONLY would read nothing. Views take no ONLY either.
  const only = t.kind === 'table' || t.kind === 'partition' || t.kind === undefined;
  return `${only ? 'ONLY ' : ''}${qualify(t.schema, t.name)}`;
}

/** The qualified source relation a segment reads: its partition, else the table itself. */
export function segmentRelation(table: TablePlan, segment: Segment): string {
  const r = segment.from ?? table.source;
  return qualify(r.schema, r.name);
}

function partitionSegments(table: TablePlan, catalogTable: CatalogTable): Segment[] {
  const parts = table.segments.partitions?.length
    ? table.segments.partitions
    : (catalogTable.partitions ?? []);
  if (catalogTable.kind !== 'partitioned' || parts.length === 0) return [whole()];
  return numbered(
    parts.map((p) => ({
      predicate: 'TRUE',
      description: `partition ${displayName(p.schema, p.name)}`,
      from: p,
    })),
  );
}

/** Ranges of one key column; the boundaries are strictly increasing values of that column as text. */
async function keySegments(client: Client, t: CatalogTable, column: string, n: number): Promise<Segment[]> {
  const col = t.columns.find((c) => c.name === column);
  if (!col) return [whole()];
  const bounds = await keyBoundaries(client, t, col.type, column, n);
  if (bounds.length === 0) return [whole()];
  const k = quoteIdent(column);
  const lit = (v: string) => `${quoteLiteral(v)}::${col.type}`;
  const parts = [];
  for (let i = 0; i <= bounds.length; i++) {
    const lower = i > 0 ? `${k} >= ${lit(bounds[i - 1])}` : undefined;
    const upper = i < bounds.length ? `${k} < ${lit(bounds[i])}` : undefined;
    const predicate = [lower, upper].filter(Boolean).join(' AND ');
    parts.push({ predicate, description: `${column} ${describeRange(bounds[i - 1], bounds[i])}` });
  }
  return numbered(parts);
}

function describeRange(lower: string | undefined, upper: string | undefined): string {
  if (lower === undefined) return `< ${upper}`;
  if (upper === undefined) return `>= ${lower}`;
  return `in [${lower}, ${upper})`;
}

/**
 * n-1 boundaries: evenly spaced entries of the pg_stats histogram when it is there (ANALYZE has run),
 * else quantiles of a TABLESAMPLE SYSTEM of about SAMPLE_PAGES pages. Sorted with the column's own
 * ordering, the same one `<` and `>=` use, and deduplicated so no segment is empty by construction.
 */
async function keyBoundaries(
  client: Client,
  t: CatalogTable,
  type: string,
  column: string,
  n: number,
): Promise<string[]> {
  const fromHistogram = type.endsWith(']')
    ? []
    : (
        await client.query<{ v: string }>(
          `SELECT b::text AS v
             FROM pg_catalog.pg_stats s,
                  unnest(s.histogram_bounds::text::${type}[]) WITH ORDINALITY AS u(b, i)
            WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = $3 AND s.inherited = $4
            ORDER BY u.i`,
          [t.schema, t.name, column, t.kind === 'partitioned'],
        )
      ).rows.map((r) => r.v);
  let candidates: string[];
  if (fromHistogram.length >= n + 1) {
    candidates = [];
    for (let k = 1; k < n; k++)
      candidates.push(fromHistogram[Math.round((k * (fromHistogram.length - 1)) / n)]);
  } else {
    const { rows: size } = await client.query<{ pages: string }>(
      `SELECT (pg_catalog.pg_relation_size($1::regclass) / pg_catalog.current_setting('block_size')::int8)::text AS pages`,
      [qualify(t.schema, t.name)],
    );
    const pages = Number(size[0].pages);
    const pct = pages <= SAMPLE_PAGES ? 100 : Math.max(0.0001, (100 * SAMPLE_PAGES) / pages);
    const fractions = Array.from({ length: n - 1 }, (_, k) => (k + 1) / n);
    const sample = pct >= 100 ? '' : ` TABLESAMPLE SYSTEM (${pct.toFixed(6)})`;
    const { rows } = await client.query<{ v: string[] | null }>(
      `SELECT (percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY k))::text[] AS v
         FROM (SELECT ${quoteIdent(column)} AS k FROM ${relationSql(t)}${sample}) s WHERE k IS NOT NULL`,
      [fractions],
    );
    candidates = rows[0]?.v ?? [];
  }
  // Distinct, in the order the server sorted them (JS string order may differ from the column's).
  const out: string[] = [];
  for (const v of candidates) if (v !== null && v !== out[out.length - 1]) out.push(v);
  return out;
}

async function ctidSegments(client: Client, t: CatalogTable, n: number): Promise<Segment[]> {
  const { rows } = await client.query<{ num: string; pages: string }>(
    `SELECT pg_catalog.current_setting('server_version_num') AS num,
            (pg_catalog.pg_relation_size($1::regclass) / pg_catalog.current_setting('block_size')::int8)::text AS pages`,
    [qualify(t.schema, t.name)],
  );
  // TID range scans arrived in PostgreSQL 14; before that each ctid range is a full scan.
  if (Number(rows[0].num) < 140000 || t.kind !== 'table') return [whole()];
  const pages = Number(rows[0].pages);
  const segments = Math.min(n, Math.floor(pages / MIN_PAGES_PER_SEGMENT));
  if (segments <= 1) return [whole()];
  const bounds = Array.from({ length: segments - 1 }, (_, k) => Math.floor(((k + 1) * pages) / segments));
  const tid = (page: number) => `'(${page},0)'::tid`;
  const parts = [];
  for (let i = 0; i <= bounds.length; i++) {
    const lower = i > 0 ? `ctid >= ${tid(bounds[i - 1])}` : undefined;
    const upper = i < bounds.length ? `ctid < ${tid(bounds[i])}` : undefined;
    parts.push({
      predicate: [lower, upper].filter(Boolean).join(' AND '),
      description: `pages ${describeRange(bounds[i - 1]?.toString(), bounds[i]?.toString())}`,
    });
  }
  return numbered(parts);
}

/** DMS `ranges`: the compiler's predicates when present, else built from columns and boundaries. */
async function rangeSegments(client: Client, table: TablePlan, t: CatalogTable): Promise<Segment[]> {
  const columns = table.segments.columns ?? [];
  let predicates: string[];
  if (table.segments.predicates?.length) {
    predicates = table.segments.predicates.map((p) => inlineParams(p.sql, p.params));
  } else {
    const boundaries = table.segments.boundaries ?? [];
    const typeOf = (c: string) => t.columns.find((x) => x.name === c)?.type ?? 'text';
    const lt = (b: string[]) =>
      b
        .map((v, i) => {
          const eqs = b
            .slice(0, i)
            .map((w, j) => `${quoteIdent(columns[j])} = ${quoteLiteral(w)}::${typeOf(columns[j])}`);
          return `(${[...eqs, `${quoteIdent(columns[i])} < ${quoteLiteral(v)}::${typeOf(columns[i])}`].join(' AND ')})`;
        })
        .join(' OR ');
    predicates = [];
    for (let i = 0; i <= boundaries.length; i++) {
      const lower = i > 0 ? `NOT (${lt(boundaries[i - 1])})` : undefined;
      const upper = i < boundaries.length ? lt(boundaries[i]) : undefined;
      predicates.push(andPredicates(lower, upper));
    }
  }
  // DMS does not load rows with NULL range columns. Stated outright so that three-valued logic cannot
  // put such a row in a segment whose boundaries happen to be decided by its other columns.
  const nullable = columns.filter((c) => t.columns.find((x) => x.name === c)?.nullable ?? true);
  const notNull = nullable.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ') || undefined;
  const segments = numbered(
    predicates.map((p, i) => ({
      predicate: andPredicates(p, notNull),
      description: `range ${i + 1} of ${predicates.length} on (${columns.join(', ')})`,
    })),
  );
  if (nullable.length && segments.length) {
    const anyNull = nullable.map((c) => `${quoteIdent(c)} IS NULL`).join(' OR ');
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${relationSql(t)} WHERE ${andPredicates(anyNull, filterSql(table.filter))}`,
    );
    const n = Number(rows[0].n);
    if (n > 0) {
      segments[0].note =
        `${n} row(s) of ${displayName(t.schema, t.name)} have NULL in a range column (${nullable.join(', ')}) ` +
        `and are not loaded, as AWS DMS does with parallel-load ranges`;
    }
  }
  return segments;
}

// Seeds the sample "on-site" application database (the `shop` database) that the demo and tests migrate.
//
// The schema is built to exercise a real migration rather than to look like a real shop: several
// schemas (one upper case), 20 tables with primary, unique, check and foreign keys, a table without a
// primary key and with duplicate rows, identity columns (ALWAYS and BY DEFAULT), serials and explicit
// sequences, an enum and domains, a range-partitioned table with a default partition, a stored
// generated column, views and a materialized view, triggers, comments, identifiers that need quoting
// ("Order Items", "UnitPrice", "order", "user", "größe", "Legacy"."CustomerNotes"), bytea over 1 MiB
// and text over 64 KiB (TOAST), text with quotes, tabs, CR/LF, backslashes and a `\.` line, and NULLs
// in every nullable column.
//
// Rows are generated on the server (INSERT ... SELECT generate_series) from md5-based values, so a
// given scale always produces the same rows: counts and checksums are reproducible across runs.
import type { Client } from 'pg';
import { BASE_COUNTS, loadSteps, seedCounts, SeedCounts } from './seed-sql/data';
import { COMMENTS, FOREIGN_KEYS, INDEXES, REPRICING, SEQUENCES, TRIGGERS, VIEWS } from './seed-sql/post-data';
import { SCHEMAS_AND_TYPES, SEED_SCHEMAS, TABLES } from './seed-sql/pre-data';

/** Name of the sample database the dev stack creates and seeds. */
export const SAMPLE_DATABASE = 'shop';

export { BASE_COUNTS, seedCounts, SEED_SCHEMAS };
export type { SeedCounts };

export interface SeedOptions {
  /**
   * Size knob, >= 1. Scale 1 is about 29 MiB (7.5 MiB of it the empty database, 4.3 MiB the big bytea
   * rows) and seeds in about 4 s; scale 10 is about 150 MiB in under 30 s. Row counts of the generated
   * tables grow linearly with it; the big bytea and text rows (TOAST) and the lookup tables stay fixed.
   */
  scale: number;
}

export interface SeedSummary {
  /** Schemas of the database after seeding, `public` included, sorted. */
  schemas: string[];
  /**
   * Ordinary and partitioned tables with exact `count(*)`, sorted by schema and name. Partitions are
   * not listed separately: their rows are counted in their parent (sales.payments).
   */
  tables: { schema: string; name: string; rows: number }[];
  /** pg_database_size after ANALYZE. */
  bytes: number;
  seconds: number;
}

/**
 * Create and fill the sample schema in the database `client` is connected to, which must be empty
 * (freshly created). Runs in one transaction, so a failure leaves the database as it was; then
 * VACUUM ANALYZE. Reports one line per step through `onProgress`.
 */
export async function seedSampleDatabase(
  client: Client,
  opts: SeedOptions,
  onProgress: (msg: string) => void = () => {},
): Promise<SeedSummary> {
  const { scale } = opts;
  if (!Number.isFinite(scale) || scale < 1) {
    throw new RangeError(`seed scale must be a number >= 1, got ${scale}`);
  }
  const started = Date.now();
  const counts = seedCounts(scale);

  const { rows: existing } = await client.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[]) ORDER BY 1`,
    [[...SEED_SCHEMAS]],
  );
  if (existing.length > 0) {
    const { rows } = await client.query<{ db: string }>(`SELECT current_database() AS db`);
    throw new Error(
      `database "${rows[0].db}" is not empty (schema ${existing.map((r) => r.nspname).join(', ')} exists); ` +
        `seed a freshly created database`,
    );
  }

  const timed = async (what: string, sql: string): Promise<void> => {
    const t = Date.now();
    await client.query(sql);
    onProgress(`${what} (${secondsSince(t)} s)`);
  };

  await client.query('BEGIN');
  try {
    // Keep the seed's own session settings local to its transaction; the caller's client is left as it was.
    await client.query(`SET LOCAL client_min_messages = warning; SET LOCAL TimeZone = 'UTC'`);
    await timed('created schemas, types and sequences', SCHEMAS_AND_TYPES);
    await timed('created tables', TABLES);
    for (const step of loadSteps(counts)) {
      const t = Date.now();
      const res = await client.query(step.sql);
      onProgress(`loaded ${step.table}: ${res.rowCount} rows (${secondsSince(t)} s)`);
    }
    await timed('added foreign keys', FOREIGN_KEYS);
    await timed('created indexes', INDEXES);
    await timed('created triggers', TRIGGERS);
    await timed('repriced products (audit.price_changes via trigger)', REPRICING);
    await timed('created views', VIEWS);
    await timed('commented', COMMENTS);
    await timed('advanced sequences past the data', SEQUENCES);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
  await timed('vacuumed and analyzed', 'VACUUM ANALYZE');

  const summary = await summarize(client);
  const seconds = (Date.now() - started) / 1000;
  onProgress(
    `seeded ${summary.tables.length} tables, ${summary.tables.reduce((n, t) => n + t.rows, 0)} rows, ` +
      `${(summary.bytes / 1048576).toFixed(1)} MiB in ${seconds.toFixed(1)} s (scale ${scale})`,
  );
  return { ...summary, seconds };
}

/** Schemas, tables with exact row counts, and database size. */
async function summarize(client: Client): Promise<Omit<SeedSummary, 'seconds'>> {
  const { rows: schemas } = await client.query<{ name: string }>(
    `SELECT nspname AS name FROM pg_namespace
      WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
      ORDER BY nspname COLLATE "C"`,
  );
  const { rows: tables } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
  );
  const out: SeedSummary['tables'] = [];
  for (const t of tables) {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)}`,
    );
    out.push({ schema: t.schema, name: t.name, rows: Number(rows[0].n) });
  }
  const { rows: size } = await client.query<{ bytes: string }>(
    `SELECT pg_database_size(current_database()) AS bytes`,
  );
  return { schemas: schemas.map((s) => s.name), tables: out, bytes: Number(size[0].bytes) };
}

function secondsSince(t: number): string {
  return ((Date.now() - t) / 1000).toFixed(2);
}

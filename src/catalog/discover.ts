// Discovery: what one source server says about itself and each of its databases (pg_database, sizes,
// version, extensions, table counts, largest tables, transaction rate, logical replication readiness).
// Reads only; a database Ferry cannot reach becomes a fact sheet with the classified error.
import type { Client } from 'pg';
import { classifyPgError, connectPg, withDatabase, type PgConnInfo } from '../engine/connection';
import type { DatabaseFacts, ReplicationReadiness, TableSize } from './types';

export type DiscoveredDatabase = Omit<
  DatabaseFacts,
  'inInventory' | 'application' | 'owners' | 'sla' | 'tags'
>;

export interface DiscoverOptions {
  /** Databases to look at even if pg_database does not list them (the inventory's), so a missing one shows. */
  alsoDatabases?: string[];
  /** Databases known from earlier refreshes: reported unreachable when the server is, otherwise ignored. */
  knownDatabases?: string[];
  /** Milliseconds between the two pg_stat_database samples; default 2000. */
  sampleMs?: number;
  /** Connect timeout per attempt; default connectPg's. */
  connectTimeoutMs?: number;
}

const APP = 'ferry-catalog';

const SERVER_SQL = `
SELECT pg_catalog.current_setting('server_version') AS version,
       pg_catalog.current_setting('server_version_num')::int AS num,
       pg_catalog.current_setting('wal_level') AS wal_level,
       pg_catalog.current_setting('max_replication_slots')::int AS max_slots,
       pg_catalog.current_setting('max_wal_senders')::int AS max_senders,
       (SELECT count(*) FROM pg_catalog.pg_replication_slots)::int AS used_slots,
       (SELECT count(*) FROM pg_catalog.pg_stat_replication)::int AS used_senders,
       (r.rolsuper OR r.rolreplication OR
        COALESCE((SELECT bool_or(pg_catalog.pg_has_role(current_user, x.oid, 'MEMBER'))
                    FROM pg_catalog.pg_roles x WHERE x.rolname = 'rds_replication'), false)) AS replication
  FROM pg_catalog.pg_roles r
 WHERE r.rolname = current_user`;

// Templates are not application databases; datallowconn = false ones cannot be read at all.
const DATABASES_SQL = `
SELECT d.datname AS name, pg_catalog.pg_database_size(d.oid)::bigint AS bytes
  FROM pg_catalog.pg_database d
 WHERE NOT d.datistemplate AND d.datallowconn
   AND pg_catalog.has_database_privilege(d.oid, 'CONNECT')
 ORDER BY d.datname`;

const XACT_SQL = `
SELECT datname AS name, (xact_commit + xact_rollback)::bigint AS xacts
  FROM pg_catalog.pg_stat_database WHERE datname IS NOT NULL`;

const EXCLUDED = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname NOT LIKE 'pg\\_%'`;

const TABLES_SQL = `
SELECT count(*)::int AS n
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${EXCLUDED}`;

const LARGEST_SQL = `
SELECT n.nspname AS schema, c.relname AS name,
       pg_catalog.pg_total_relation_size(c.oid)::bigint AS bytes, c.reltuples::bigint AS rows
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm') AND ${EXCLUDED}
 ORDER BY 3 DESC, 1, 2
 LIMIT 5`;

const EXTENSIONS_SQL = `SELECT extname AS name, extversion AS version FROM pg_catalog.pg_extension ORDER BY extname`;

/**
 * The fact sheets of every database on the server of `conn` (plus `alsoDatabases`). If the server
 * itself cannot be reached (at conn.database), every database in `alsoDatabases` comes back
 * unreachable with that error; the caller adds the ones it knew from earlier refreshes.
 */
export async function discoverServer(
  conn: PgConnInfo,
  opts: DiscoverOptions = {},
): Promise<DiscoveredDatabase[]> {
  const sampleMs = opts.sampleMs ?? 2000;
  const connect = (c: PgConnInfo) => connectPg(c, APP, { connectTimeoutMs: opts.connectTimeoutMs });
  let admin: Client;
  try {
    admin = await connect(conn);
  } catch (err) {
    return serverDown(conn, err, opts);
  }
  let server: { version: string; num: number; replication: ReplicationReadiness };
  let sizes: Map<string, number>;
  let rates: Map<string, number>;
  try {
    const s = (await admin.query(SERVER_SQL)).rows[0] as Record<string, unknown>;
    server = {
      version: String(s.version),
      num: Number(s.num),
      replication: {
        walLevel: String(s.wal_level),
        maxReplicationSlots: Number(s.max_slots),
        freeSlots: Math.max(0, Number(s.max_slots) - Number(s.used_slots)),
        maxWalSenders: Number(s.max_senders),
        freeSenders: Math.max(0, Number(s.max_senders) - Number(s.used_senders)),
        replicationPrivilege: Boolean(s.replication),
      },
    };
    const dbRows = (await admin.query<{ name: string; bytes: string }>(DATABASES_SQL)).rows;
    sizes = new Map(dbRows.map((r) => [r.name, Number(r.bytes)]));
    rates = await transactionRates(admin, sampleMs);
  } catch (err) {
    return serverDown(conn, err, opts);
  } finally {
    await admin.end().catch(() => undefined);
  }

  const names = [...new Set([...sizes.keys(), ...(opts.alsoDatabases ?? [])])].sort();
  const out: DiscoveredDatabase[] = [];
  for (const database of names) {
    const dbConn = withDatabase(conn, database);
    let c: Client;
    try {
      c = await connect(dbConn);
    } catch (err) {
      out.push(unreachable(conn.endpointId, database, classifyPgError(err, dbConn)));
      continue;
    }
    try {
      const tables = (await c.query<{ n: number }>(TABLES_SQL)).rows[0].n;
      const largest = (
        await c.query<{ schema: string; name: string; bytes: string; rows: string }>(LARGEST_SQL)
      ).rows;
      const extensions = (await c.query<{ name: string; version: string }>(EXTENSIONS_SQL)).rows;
      const size =
        sizes.get(database) ??
        Number(
          (
            await c.query<{ b: string }>(
              'SELECT pg_catalog.pg_database_size(pg_catalog.current_database()) AS b',
            )
          ).rows[0].b,
        );
      out.push({
        endpoint: conn.endpointId,
        database,
        reachable: true,
        serverVersion: server.version,
        serverVersionNum: server.num,
        sizeBytes: size,
        extensions: extensions.map((x) => ({ name: x.name, version: x.version })),
        tables,
        largestTables: largest.map((t): TableSize => ({
          schema: t.schema,
          name: t.name,
          bytes: Number(t.bytes),
          rowsEstimate: Number(t.rows),
        })),
        ...(rates.has(database) && { xactPerSecond: rates.get(database) }),
        replication: server.replication,
      });
    } catch (err) {
      out.push(unreachable(conn.endpointId, database, classifyPgError(err, dbConn)));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  return out;
}

function serverDown(conn: PgConnInfo, err: unknown, opts: DiscoverOptions): DiscoveredDatabase[] {
  const e = classifyPgError(err, conn);
  const names = new Set([...(opts.alsoDatabases ?? []), ...(opts.knownDatabases ?? [])]);
  return [...names].sort().map((database) => unreachable(conn.endpointId, database, e));
}

/** Transactions per second of each database from two pg_stat_database samples `ms` apart. */
async function transactionRates(c: Client, ms: number): Promise<Map<string, number>> {
  const sample = async () =>
    new Map(
      (await c.query<{ name: string; xacts: string }>(XACT_SQL)).rows.map((r) => [r.name, Number(r.xacts)]),
    );
  // pg_stat_database is a per-transaction snapshot (stats_fetch_consistency); outside a transaction
  // block each statement sees fresh counters, which is what two samples need.
  const first = await sample();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  const second = await sample();
  const seconds = Math.max((Date.now() - t0) / 1000, 0.001);
  const rates = new Map<string, number>();
  for (const [name, n] of second) {
    const before = first.get(name);
    if (before !== undefined) rates.set(name, Math.round((Math.max(0, n - before) / seconds) * 100) / 100);
  }
  return rates;
}

export function unreachable(
  endpoint: string,
  database: string,
  e: { type: string; message: string },
): DiscoveredDatabase {
  return { endpoint, database, reachable: false, error: { type: e.type, message: e.message } };
}

// The benchmark's two servers (PostgreSQL 13 source, 15 target) with the same bulk-load settings, and the
// connection details every tool gets: one place, so no tool is handed a faster path than another.
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { PgConnInfo } from '../src/engine/connection';
import { type PgMajor, pickPort, startServer, stopServer } from '../src/dev/postgres';

/** Debian's PostgreSQL 15 client programs: pg_dump/pg_restore/psql/pgbench of one version for every tool. */
export const PG_CLIENT_BIN = '/usr/lib/postgresql/15/bin';

/**
 * Settings for both servers, identical for every tool. Bulk-load friendly (large shared_buffers, WAL and
 * checkpoint spacing so a checkpoint storm does not land inside one tool's run, room for index builds),
 * but durable: fsync and synchronous_commit stay on, as a real Aurora target would have them.
 */
export const BULK_LOAD_SETTINGS: Record<string, string | number> = {
  shared_buffers: '512MB',
  max_wal_size: '4GB',
  min_wal_size: '1GB',
  checkpoint_timeout: '30min',
  maintenance_work_mem: '512MB',
  work_mem: '16MB',
  // pg_dump -j, pgcopydb and Ferry each open 2-3 connections per job.
  max_connections: 200,
  // Logical on both: the source for CDC-capable tools, the target as a fallback source (DESIGN.md).
  wal_level: 'logical',
};

export interface BenchServer {
  role: 'source' | 'target';
  major: PgMajor;
  host: string;
  port: number;
  dataDir: string;
  /** Postmaster pid: its backends are its children, so their CPU can be told from other load. */
  pid: number;
}

export interface BenchServers {
  root: string;
  /** Password of `postgres` on both servers (random per run); children get it as PGPASSWORD only. */
  password: string;
  source: BenchServer;
  target: BenchServer;
}

/** Data directories of the two servers under `root`: fixed, so cleanup can find a half-started pair. */
export function serverDataDirs(root: string): Record<BenchServer['role'], string> {
  return { source: path.join(root, 'source-pg13'), target: path.join(root, 'target-pg15') };
}

export async function startBenchServers(root: string): Promise<BenchServers> {
  const password = randomBytes(12).toString('hex');
  const dirs = serverDataDirs(root);
  const start = async (role: BenchServer['role'], major: PgMajor): Promise<BenchServer> => {
    const port = await pickPort();
    const info = await startServer({
      major,
      dataDir: dirs[role],
      port,
      password,
      settings: BULK_LOAD_SETTINGS,
    });
    return { role, major, host: '127.0.0.1', port, dataDir: dirs[role], pid: info.pid };
  };
  // One after the other: pickPort hands out a free port, and two racing calls could get the same one.
  const source = await start('source', 13);
  const target = await start('target', 15);
  return { root, password, source, target };
}

/** Stop whichever of the two servers under `root` is running (by postmaster.pid; idempotent). */
export async function stopBenchServers(root: string): Promise<void> {
  await Promise.all(
    Object.values(serverDataDirs(root)).map((dir) => (existsSync(dir) ? stopServer(dir) : false)),
  );
}

export function connInfo(servers: BenchServers, srv: BenchServer, database: string): PgConnInfo {
  return {
    endpointId: `bench-${srv.role}`,
    host: srv.host,
    port: srv.port,
    database,
    user: 'postgres',
    password: servers.password,
    sslmode: 'disable',
  };
}

/** libpq URI without the password (that travels as PGPASSWORD, never in argv where `ps` shows it). */
export function uri(srv: BenchServer, database: string): string {
  return `postgres://postgres@${srv.host}:${srv.port}/${encodeURIComponent(database)}?sslmode=disable`;
}

/**
 * Environment for every tool: ours without PG* / PGCOPYDB_* variables (a stray PGOPTIONS or
 * PGCOPYDB_SPLIT_TABLES_LARGER_THAN would change one tool's behaviour), the 15 client binaries first
 * on PATH (pgcopydb runs whichever pg_dump PATH finds, and Debian's /usr/bin one is a version wrapper),
 * and the password.
 */
export function toolEnv(servers: BenchServers): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  env.PATH = `${PG_CLIENT_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  env.PGPASSWORD = servers.password;
  env.LC_ALL = 'C.UTF-8';
  return env;
}

export async function withClient<T>(
  servers: BenchServers,
  srv: BenchServer,
  database: string,
  fn: (c: Client) => Promise<T>,
): Promise<T> {
  const c = new Client({
    host: srv.host,
    port: srv.port,
    user: 'postgres',
    password: servers.password,
    database,
    application_name: 'ferry-bench',
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;

export async function createDatabase(servers: BenchServers, srv: BenchServer, name: string): Promise<void> {
  await withClient(servers, srv, 'postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`);
  });
}

export async function dropDatabase(servers: BenchServers, srv: BenchServer, name: string): Promise<void> {
  await withClient(servers, srv, 'postgres', (c) =>
    c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
  );
}

/**
 * A checkpoint before each tool starts, so no tool pays for the previous tool's dirty buffers or WAL;
 * run on both servers.
 */
export async function checkpointBoth(servers: BenchServers): Promise<void> {
  await Promise.all(
    [servers.source, servers.target].map((s) =>
      withClient(servers, s, 'postgres', (c) => c.query('CHECKPOINT')),
    ),
  );
}

/**
 * Replication slots a tool left on the source (pgcopydb creates one only with --follow, which the bench
 * does not use; a leaked slot would pin WAL for the rest of the run). Dropped and returned by name.
 */
export async function dropLeftoverSlots(servers: BenchServers): Promise<string[]> {
  return withClient(servers, servers.source, 'postgres', async (c) => {
    const { rows } = await c.query<{ slot_name: string }>(
      'SELECT slot_name FROM pg_replication_slots WHERE NOT active',
    );
    for (const r of rows) await c.query('SELECT pg_drop_replication_slot($1)', [r.slot_name]);
    return rows.map((r) => r.slot_name);
  });
}

export async function makeRoot(prefix: string, tmp: string): Promise<string> {
  const root = await fs.mkdtemp(path.join(tmp, prefix));
  // The servers run as the unprivileged `postgres` user when we are root; it must reach its data dirs.
  await fs.chmod(root, 0o755);
  return root;
}

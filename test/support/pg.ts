// Test fixture: real PostgreSQL 13 (source) and 15 (target) servers, shared per test process,
// and a fresh database per test file so tests never see each other's tables.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { Client } from 'pg';
import { PgMajor, pickPort, startServer, stopServer } from '../../src/dev/postgres';

export interface TestServer {
  major: PgMajor;
  host: string;
  port: number;
  user: string;
  password: string;
  dataDir: string;
}

const servers = new Map<PgMajor, Promise<TestServer>>();
let root: string | undefined;

async function rootDir(): Promise<string> {
  if (!root) {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-test-'));
    await fs.chmod(root, 0o755);
  }
  return root;
}

/** The shared server of `major` for this test process, started on first use. */
export function testServer(major: PgMajor): Promise<TestServer> {
  let s = servers.get(major);
  if (!s) {
    s = (async () => {
      const dataDir = path.join(await rootDir(), `pg${major}`);
      const password = randomBytes(12).toString('hex');
      const port = await pickPort();
      await startServer({ major, dataDir, port, password });
      return { major, host: '127.0.0.1', port, user: 'postgres', password, dataDir };
    })();
    servers.set(major, s);
  }
  return s;
}

export function connect(
  server: TestServer,
  database = 'postgres',
  applicationName?: string,
): Promise<Client> {
  const c = new Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database,
    ...(applicationName && { application_name: applicationName }),
  });
  return c.connect().then(() => c);
}

/** Create a fresh database named after the test file (plus a random suffix) and return its name. */
export async function freshDatabase(server: TestServer, label: string): Promise<string> {
  const name = `t_${label
    .replace(/[^a-z0-9]+/gi, '_')
    .toLowerCase()
    .slice(0, 40)}_${randomBytes(3).toString('hex')}`;
  const c = await connect(server);
  try {
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
  return name;
}

export async function dropDatabase(server: TestServer, name: string): Promise<void> {
  const c = await connect(server);
  try {
    // A logical slot of the database (a test's, left by a failure) would block the drop.
    await c
      .query(
        `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots
          WHERE database = $1 AND NOT active`,
        [name],
      )
      .catch(() => undefined);
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(async () => {
      // PG 13 has WITH (FORCE) too; this fallback is for servers without it.
      await c.query(`DROP DATABASE IF EXISTS "${name}"`);
    });
  } finally {
    await c.end();
  }
}

/** Stop every server this process started; called from the root hook. */
export async function stopAllServers(): Promise<void> {
  for (const s of servers.values()) {
    const srv = await s.catch(() => undefined);
    if (srv) await stopServer(srv.dataDir);
  }
  servers.clear();
  if (root) await fs.rm(root, { recursive: true, force: true });
  root = undefined;
}

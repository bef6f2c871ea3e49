// Test fixture: a migration between the shared test servers: source database seeded with the sample
// application, an empty target database, and a ferry.yaml whose passwords are file: references.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { seedSampleDatabase } from '../../src/dev/seed';
import type { PgConnInfo } from '../../src/engine/connection';
import { connect, dropDatabase, freshDatabase, TestServer, testServer } from './pg';

export interface TestMigration {
  name: string;
  dir: string;
  configPath: string;
  source: TestServer;
  target: TestServer;
  sourceDb: string;
  targetDb: string;
  /** The engine's connection settings of the two endpoints (as the config's `onsite` and `aurora`). */
  sourceConn: PgConnInfo;
  targetConn: PgConnInfo;
  cleanup(): Promise<void>;
}

const seeded = new Map<string, Promise<string>>();

/** A source database seeded at `scale`, shared by every test that asks for the same scale. */
export function seededSource(scale: number): Promise<string> {
  let p = seeded.get(String(scale));
  if (!p) {
    p = (async () => {
      const src = await testServer(13);
      const db = await freshDatabase(src, `shop_scale${scale}`);
      const c = await connect(src, db);
      try {
        await seedSampleDatabase(c, { scale });
      } finally {
        await c.end();
      }
      return db;
    })();
    seeded.set(String(scale), p);
  }
  return p;
}

export async function testMigration(opts: {
  label: string;
  sourceDb?: string;
  approvers?: string[];
  sourcePassword?: string;
  poc?: Record<string, unknown>;
  /** DMS table-mapping JSON, written to mappings.json. */
  tableMappings?: unknown;
  /** DMS task-settings JSON, written to settings.json. */
  taskSettings?: unknown;
  migrationType?: 'full-load' | 'full-load-and-cdc' | 'cdc';
  /** The migration's `cdc` section of ferry.yaml. */
  cdc?: Record<string, unknown>;
  /** The migration's `cutover` and `provision` sections of ferry.yaml. */
  cutover?: Record<string, unknown>;
  provision?: Record<string, unknown>;
  /** The inventory entry's (the application's) approvers. */
  applicationApprovers?: string[];
}): Promise<TestMigration> {
  const source = await testServer(13);
  const target = await testServer(15);
  const sourceDb = opts.sourceDb ?? (await seededSource(1));
  const targetDb = await freshDatabase(target, `${opts.label}_tgt`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `ferry-${opts.label}-`));
  await fs.writeFile(path.join(dir, 'source.pw'), (opts.sourcePassword ?? source.password) + '\n', {
    mode: 0o600,
  });
  await fs.writeFile(path.join(dir, 'target.pw'), target.password + '\n', { mode: 0o600 });
  if (opts.tableMappings)
    await fs.writeFile(path.join(dir, 'mappings.json'), JSON.stringify(opts.tableMappings, null, 2));
  if (opts.taskSettings)
    await fs.writeFile(path.join(dir, 'settings.json'), JSON.stringify(opts.taskSettings, null, 2));
  const name = `${opts.label.replace(/[^a-z0-9-]/gi, '-')}-${randomBytes(2).toString('hex')}`.toLowerCase();
  const doc = {
    workDir: 'work',
    endpoints: [
      {
        id: 'onsite',
        role: 'source',
        host: '127.0.0.1',
        port: source.port,
        database: sourceDb,
        user: 'postgres',
        password: 'file:source.pw',
        sslmode: 'disable',
      },
      {
        id: 'aurora',
        role: 'target',
        host: '127.0.0.1',
        port: target.port,
        database: targetDb,
        user: 'postgres',
        password: 'file:target.pw',
        sslmode: 'disable',
      },
    ],
    inventory: [
      {
        database: sourceDb,
        endpoint: 'onsite',
        application: 'storefront',
        owners: [{ name: 'Owner', email: 'owner@example.com' }],
        sla: { maxDowntime: '15m', rpo: '0s' },
        ...(opts.applicationApprovers && { approvers: opts.applicationApprovers }),
      },
    ],
    migrations: [
      {
        name,
        source: 'onsite',
        target: 'aurora',
        approvers: opts.approvers ?? ['alice'],
        migrationType: opts.migrationType ?? 'full-load',
        ...(opts.cdc ? { cdc: opts.cdc } : {}),
        ...(opts.cutover && { cutover: opts.cutover }),
        ...(opts.provision && { provision: opts.provision }),
        ...(opts.tableMappings ? { tableMappings: 'mappings.json' } : {}),
        ...(opts.taskSettings ? { taskSettings: 'settings.json' } : {}),
        poc: { compression: 1, jobs: 2, ...opts.poc },
        fallback: { contacts: [{ name: 'Ops', email: 'ops@example.com' }] },
      },
    ],
  };
  const configPath = path.join(dir, 'ferry.yaml');
  await fs.writeFile(configPath, YAML.stringify(doc));
  return {
    name,
    dir,
    configPath,
    source,
    target,
    sourceDb,
    targetDb,
    sourceConn: {
      endpointId: 'onsite',
      host: source.host,
      port: source.port,
      database: sourceDb,
      user: source.user,
      password: source.password,
    },
    targetConn: {
      endpointId: 'aurora',
      host: target.host,
      port: target.port,
      database: targetDb,
      user: target.user,
      password: target.password,
    },
    async cleanup() {
      await dropDatabase(target, targetDb);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Databases on the target server whose name starts with `prefix`. */
export async function targetDatabases(target: TestServer, prefix: string): Promise<string[]> {
  const c = await connect(target);
  try {
    const r = await c.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [prefix],
    );
    return r.rows.map((x) => x.datname);
  } finally {
    await c.end();
  }
}

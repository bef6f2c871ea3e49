// The embedded stack behind `ferry dev up|down|status` and `npm run demo`: a Temporal dev server with
// its UI, an "on-site" PostgreSQL 13 seeded with the sample database, and a PostgreSQL 15 standing
// in for Aurora, all on loopback, all state under .ferry/ so a restart keeps data and workflows.
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import YAML from 'yaml';
import { pickPort, runningPid, startServer, stopServer } from './postgres';
import { findTemporalBinary, pidAlive, startTemporalDev, stopPid } from './temporal';
import { SAMPLE_DATABASE, seedSampleDatabase } from './seed';

export const DEMO_MIGRATION = 'shop-to-aurora';
export const DEMO_APPROVER = 'demo-approver';

export interface StackPaths {
  root: string;
  dev: string;
  state: string;
  config: string;
  secrets: string;
  work: string;
}

export function stackPaths(root = process.env.FERRY_HOME ?? path.resolve('.ferry')): StackPaths {
  const dev = path.join(root, 'dev');
  return {
    root,
    dev,
    state: path.join(dev, 'state.json'),
    config: path.join(dev, 'ferry.yaml'),
    secrets: path.join(dev, 'secrets'),
    work: path.join(root, 'work'),
  };
}

export interface StackState {
  temporal?: { pid: number; port: number; uiPort: number; dbFile: string; logFile: string };
  source?: { pid: number; port: number; dataDir: string; logFile: string; major: 13 };
  target?: { pid: number; port: number; dataDir: string; logFile: string; major: 15 };
  seededScale?: number;
  /** SEED_VERSION of the sample database's seed: an older one is reseeded. */
  seedVersion?: number;
}

/**
 * Bumped when the seed changes what a migration meets (e.g. REPLICA IDENTITY FULL on the key-less
 * table, version 2): a stack seeded by an older Ferry is reseeded by the next `up`.
 */
export const SEED_VERSION = 2;

export interface UpOptions {
  scale?: number;
  /** Reseed even if the sample database exists. */
  reseed?: boolean;
  /** Empty the target database again (drop and create it), as before a first migration. */
  resetTarget?: boolean;
  log?: (msg: string) => void;
}

export interface StackInfo {
  configPath: string;
  temporalAddress: string;
  uiUrl: string;
  source: { port: number; database: string };
  target: { port: number; database: string };
  seededScale: number;
  /** This call seeded the sample database (a fresh sample, never migrated). */
  seededNow: boolean;
}

async function readState(p: StackPaths): Promise<StackState> {
  try {
    return JSON.parse(await fs.readFile(p.state, 'utf8')) as StackState;
  } catch {
    return {};
  }
}

async function writeState(p: StackPaths, s: StackState): Promise<void> {
  const tmp = `${p.state}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(s, null, 2));
  await fs.rename(tmp, p.state);
}

/** A password kept in a file only its owner can read; generated on first use. */
async function secretFile(p: StackPaths, name: string): Promise<{ file: string; value: string }> {
  const file = path.join(p.secrets, `${name}.password`);
  if (existsSync(file)) return { file, value: (await fs.readFile(file, 'utf8')).trim() };
  const value = randomBytes(18).toString('base64url');
  await fs.writeFile(file, value + '\n', { mode: 0o600 });
  return { file, value };
}

async function withClient<T>(
  port: number,
  password: string,
  db: string,
  fn: (c: Client) => Promise<T>,
): Promise<T> {
  const c = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: db });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function databaseExists(c: Client, name: string): Promise<boolean> {
  const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return r.rowCount === 1;
}

/** Drop the sample database and the replication slots a migration left on it (they would block the drop). */
async function dropSampleDatabase(c: Client): Promise<void> {
  await c.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`,
    [SAMPLE_DATABASE],
  );
  await c.query(`DROP DATABASE "${SAMPLE_DATABASE}" WITH (FORCE)`);
}

/** Start whatever is not running yet; returns when everything accepts connections. Idempotent. */
export async function up(opts: UpOptions = {}, p: StackPaths = stackPaths()): Promise<StackInfo> {
  const log = opts.log ?? (() => undefined);
  await fs.mkdir(p.secrets, { recursive: true, mode: 0o700 });
  await fs.mkdir(p.work, { recursive: true, mode: 0o700 });
  // The postgres service user (when we run as root) must traverse into the data directories.
  await fs.chmod(p.root, 0o755);
  await fs.chmod(p.dev, 0o755);
  const state = await readState(p);

  if (!state.temporal || !pidAlive(state.temporal.pid)) {
    const binary = await findTemporalBinary();
    const port = await pickPort(7233);
    const uiPort = await pickPort(port === 7233 ? 8233 : undefined);
    const dbFile = path.join(p.dev, 'temporal.db');
    const logFile = path.join(p.dev, 'temporal.log');
    log(`starting Temporal dev server (${binary}) on 127.0.0.1:${port}, UI on ${uiPort}`);
    const pid = await startTemporalDev({ binary, port, uiPort, dbFile, logFile });
    state.temporal = { pid, port, uiPort, dbFile, logFile };
    await writeState(p, state);
  }

  const srcPw = await secretFile(p, 'source');
  const tgtPw = await secretFile(p, 'target');
  for (const [role, major, preferred, pw] of [
    ['source', 13, 15432, srcPw.value],
    ['target', 15, 15433, tgtPw.value],
  ] as const) {
    const dataDir = path.join(p.dev, `pg${major}`);
    const cur = state[role];
    if (cur && (await runningPid(dataDir)) === cur.pid) continue;
    const port = await pickPort(preferred);
    log(`starting PostgreSQL ${major} (${role}) on 127.0.0.1:${port}`);
    const info = await startServer({ major, dataDir, port, password: pw });
    state[role] = { pid: info.pid, port, dataDir, logFile: info.logFile, major } as never;
    await writeState(p, state);
  }
  const source = state.source!;
  const target = state.target!;

  const scale = opts.scale ?? state.seededScale ?? 1;
  // Seeded by an older Ferry: the sample and whatever was migrated from it are both out of date.
  const stale = state.seededScale !== undefined && (state.seedVersion ?? 1) !== SEED_VERSION;
  const reseed = opts.reseed || stale || (opts.scale !== undefined && opts.scale !== state.seededScale);
  let seededNow = false;
  await withClient(source.port, srcPw.value, 'postgres', async (c) => {
    const exists = await databaseExists(c, SAMPLE_DATABASE);
    if (exists && !reseed) return;
    seededNow = true;
    if (exists) await dropSampleDatabase(c);
    await c.query(`CREATE DATABASE "${SAMPLE_DATABASE}"`);
    log(`seeding sample database "${SAMPLE_DATABASE}" at scale ${scale}`);
    const summary = await withClient(source.port, srcPw.value, SAMPLE_DATABASE, (s) =>
      seedSampleDatabase(s, { scale }, (m) => log(`  ${m}`)),
    );
    log(
      `seeded ${summary.tables.length} tables, ${(summary.bytes / 1048576).toFixed(1)} MiB in ${summary.seconds.toFixed(1)} s`,
    );
    state.seededScale = scale;
    state.seedVersion = SEED_VERSION;
    await writeState(p, state);
  });
  // The target database exists and is empty, as an Aurora cluster's database would be.
  await withClient(target.port, tgtPw.value, 'postgres', async (c) => {
    if ((opts.resetTarget || stale) && (await databaseExists(c, SAMPLE_DATABASE))) {
      log(`emptying the target database "${SAMPLE_DATABASE}"`);
      await dropSampleDatabase(c);
    }
    if (!(await databaseExists(c, SAMPLE_DATABASE))) await c.query(`CREATE DATABASE "${SAMPLE_DATABASE}"`);
  });

  await writeConfig(p, state, srcPw.file, tgtPw.file);
  return { ...info(p, state), seededNow };
}

function info(p: StackPaths, s: StackState): Omit<StackInfo, 'seededNow'> {
  return {
    configPath: p.config,
    temporalAddress: `127.0.0.1:${s.temporal!.port}`,
    uiUrl: `http://127.0.0.1:${s.temporal!.uiPort}`,
    source: { port: s.source!.port, database: SAMPLE_DATABASE },
    target: { port: s.target!.port, database: SAMPLE_DATABASE },
    seededScale: s.seededScale ?? 1,
  };
}

/** The ferry.yaml for this stack: passwords as file: references, never inline. */
async function writeConfig(
  p: StackPaths,
  s: StackState,
  srcPwFile: string,
  tgtPwFile: string,
): Promise<void> {
  const doc = {
    temporal: { address: `127.0.0.1:${s.temporal!.port}`, namespace: 'default', taskQueue: 'ferry' },
    workDir: path.relative(p.dev, p.work) || '.',
    endpoints: [
      {
        id: 'onsite',
        role: 'source',
        host: '127.0.0.1',
        port: s.source!.port,
        database: SAMPLE_DATABASE,
        user: 'postgres',
        password: `file:${path.relative(p.dev, srcPwFile)}`,
        sslmode: 'disable',
      },
      {
        id: 'aurora',
        role: 'target',
        host: '127.0.0.1',
        port: s.target!.port,
        database: SAMPLE_DATABASE,
        user: 'postgres',
        password: `file:${path.relative(p.dev, tgtPwFile)}`,
        sslmode: 'disable',
      },
    ],
    inventory: [
      {
        database: SAMPLE_DATABASE,
        endpoint: 'onsite',
        application: 'storefront',
        owners: [{ name: 'Storefront team', email: 'storefront@example.com', role: 'application-owner' }],
        // No business hours: the demo may cut over at any time of day (a real SLA names them, and the
        // cutover then waits outside them).
        sla: { maxDowntime: '15m', rpo: '0s' },
        tags: { tier: 'demo' },
      },
    ],
    migrations: [
      {
        name: DEMO_MIGRATION,
        source: 'onsite',
        target: 'aurora',
        engine: 'native',
        migrationType: 'full-load-and-cdc',
        approvers: [DEMO_APPROVER, 'dba@example.com'],
        cdc: { progressSeconds: 1 },
        taskSettings: 'task-settings.json',
        poc: { sizeCapMb: 256, compression: 6, jobs: 4 },
        fallback: { contacts: [{ name: 'DBA on call', email: 'dba@example.com' }] },
      },
    ],
  };
  // DMS task settings, as AWS DMS takes them: whole LOBs (the sample has 1 MB+ bytea and 64 KB+ text,
  // which DMS's default limited LOB mode would truncate at 32 KB), four parallel copies, and data
  // validation (row counts and chunked checksums) after the load.
  const settings = {
    TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false },
    FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING', MaxFullLoadSubTasks: 4 },
    ValidationSettings: { EnableValidation: true },
  };
  await fs.writeFile(path.join(p.dev, 'task-settings.json'), JSON.stringify(settings, null, 2) + '\n');
  const text =
    '# Written by `ferry dev up` for the embedded stack. Passwords are file: references (mode 0600).\n' +
    YAML.stringify(doc);
  await fs.writeFile(p.config, text);
}

export interface ComponentStatus {
  name: string;
  running: boolean;
  pid?: number;
  address?: string;
  detail?: string;
}

export async function status(p: StackPaths = stackPaths()): Promise<ComponentStatus[]> {
  const s = await readState(p);
  const out: ComponentStatus[] = [];
  out.push({
    name: 'temporal',
    running: pidAlive(s.temporal?.pid),
    pid: s.temporal?.pid,
    address: s.temporal ? `127.0.0.1:${s.temporal.port}` : undefined,
    detail: s.temporal ? `UI http://127.0.0.1:${s.temporal.uiPort}` : 'never started',
  });
  for (const role of ['source', 'target'] as const) {
    const c = s[role];
    const pid = c ? await runningPid(c.dataDir) : undefined;
    out.push({
      name: `${role} (PostgreSQL ${role === 'source' ? 13 : 15})`,
      running: pid !== undefined && pid === c?.pid,
      pid: c?.pid,
      address: c ? `127.0.0.1:${c.port}` : undefined,
      detail: c ? c.dataDir : 'never started',
    });
  }
  return out;
}

/** Stop everything `up` started, by process id. Data stays unless `purge`. */
export async function down(p: StackPaths = stackPaths(), purge = false): Promise<string[]> {
  const s = await readState(p);
  const stopped: string[] = [];
  if (s.temporal && (await stopPid(s.temporal.pid))) stopped.push(`temporal (pid ${s.temporal.pid})`);
  for (const role of ['source', 'target'] as const) {
    const c = s[role];
    if (c && (await runningPid(c.dataDir)) === c.pid && (await stopServer(c.dataDir))) {
      stopped.push(`${role} PostgreSQL (pid ${c.pid})`);
    }
  }
  if (purge) await fs.rm(p.dev, { recursive: true, force: true });
  return stopped;
}

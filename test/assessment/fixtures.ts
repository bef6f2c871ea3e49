// Test helpers of the assessment: building AssessmentInput from connection settings and DMS JSON, a
// lazily started extra PostgreSQL 13 with settings the shared servers must not have (wal_level=replica,
// no slots or WAL senders, TLS with a self-signed certificate, a pg_hba reject line), and assertions.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type AssessmentInput, type AssessmentResult, runAssessment } from '../../src/assessment';
import type { PgConnInfo } from '../../src/engine/connection';
import { pickPort, startServer, stopServer } from '../../src/dev/postgres';
import { defaultTableMapping, parseTableMapping, parseTaskSettings } from '../../src/mapping';
import { type TestServer, connect, dropDatabase, freshDatabase } from '../support/pg';

const execFileP = promisify(execFile);

export function connInfo(s: TestServer, database: string, endpointId: string): PgConnInfo {
  return { endpointId, host: s.host, port: s.port, database, user: s.user, password: s.password };
}

export interface RunOptions {
  source: PgConnInfo;
  target: PgConnInfo;
  migrationType?: AssessmentInput['migrationType'];
  /** DMS table-mapping JSON; the default mapping (every table) when absent. */
  tableMappings?: unknown;
  /** DMS task-settings JSON; DMS defaults when absent. */
  taskSettings?: unknown;
  migration?: string;
  auroraMajor?: number;
  cdc?: AssessmentInput['cdc'];
  connectTimeoutMs?: number;
}

export function assessmentInput(o: RunOptions): AssessmentInput {
  const mapping = o.tableMappings
    ? parseTableMapping(o.tableMappings, 'mappings.json')
    : defaultTableMapping();
  const { settings, findings } = parseTaskSettings(o.taskSettings ?? {}, 'settings.json');
  return {
    migration: o.migration ?? `assess-${randomBytes(3).toString('hex')}`,
    migrationType: o.migrationType ?? 'full-load',
    source: { id: o.source.endpointId, conn: o.source },
    target: { id: o.target.endpointId, conn: o.target },
    mapping,
    settings,
    settingsFindings: findings,
    ...(o.auroraMajor !== undefined ? { auroraMajor: o.auroraMajor } : {}),
    ...(o.cdc ? { cdc: o.cdc } : {}),
    ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
  };
}

export function assess(o: RunOptions): Promise<AssessmentResult> {
  return runAssessment(assessmentInput(o));
}

export const describeResult = (r: AssessmentResult): string =>
  r.findings.map((f) => `  ${f.severity} ${f.id} ${f.object}: ${f.message} | ${f.advice}`).join('\n');

export function findingsOf(r: AssessmentResult, id: string, object?: string) {
  return r.findings.filter((f) => f.id === id && (object === undefined || f.object === object));
}

/** Exactly the findings of rule `id` (about `object`); returns them. */
export function assertFires(r: AssessmentResult, id: string, object?: string) {
  const hits = findingsOf(r, id, object);
  assert.ok(hits.length > 0, `expected ${id}${object ? ` on ${object}` : ''}; got:\n${describeResult(r)}`);
  return hits;
}

export function assertSilent(r: AssessmentResult, ...ids: string[]): void {
  const hits = r.findings.filter((f) => ids.includes(f.id));
  assert.deepEqual(hits, [], `expected none of ${ids.join(', ')}; got:\n${describeResult(r)}`);
}

/** Databases created by a test file, dropped at its end unless a test failed (kept for post-mortem). */
export class Databases {
  private readonly made: { server: TestServer; name: string }[] = [];
  failed = false;

  async create(server: TestServer, label: string, sql?: string): Promise<string> {
    const name = await freshDatabase(server, label);
    this.made.push({ server, name });
    if (sql) {
      const c = await connect(server, name);
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    }
    return name;
  }

  /** A database created with CREATE DATABASE options (ENCODING, LC_COLLATE, ...), empty. */
  async createWith(server: TestServer, label: string, options: string): Promise<string> {
    const name = `t_${label}_${randomBytes(3).toString('hex')}`;
    const c = await connect(server);
    try {
      await c.query(`CREATE DATABASE "${name}" ${options}`);
    } finally {
      await c.end();
    }
    this.made.push({ server, name });
    return name;
  }

  async cleanup(): Promise<void> {
    if (this.failed) {
      console.log(
        `kept for post-mortem: ${this.made.map((d) => `${d.name} (port ${d.server.port})`).join(', ')}`,
      );
      return;
    }
    for (const d of this.made) await dropDatabase(d.server, d.name);
  }
}

// ---- The extra server ---------------------------------------------------------------------------------

export interface ExtraServer extends TestServer {
  dir: string;
}

let extra: Promise<ExtraServer> | undefined;

/**
 * PostgreSQL 13 with wal_level = replica, max_replication_slots = 0, max_wal_senders = 0, TLS on (a
 * self-signed certificate for localhost), pg_hba.conf rejecting user `nohba`, and role `limited` (password
 * `limited-password`) with CONNECTION LIMIT 0. Started on first use
 * and stopped when the whole run ends.
 */
export function extraServer(): Promise<ExtraServer> {
  extra ??= (async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-assess-'));
    await fs.chmod(dir, 0o755);
    const dataDir = path.join(dir, 'pg13');
    const password = randomBytes(12).toString('hex');
    const port = await pickPort();
    await startServer({
      major: 13,
      dataDir,
      port,
      password,
      settings: { wal_level: 'replica', max_replication_slots: 0, max_wal_senders: 0 },
    });
    const owner = await fs.stat(dataDir);
    await execFileP('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      path.join(dataDir, 'server.key'),
      '-out',
      path.join(dataDir, 'server.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
    ]);
    for (const f of ['server.key', 'server.crt']) {
      await fs.chmod(path.join(dataDir, f), 0o600);
      await fs.chown(path.join(dataDir, f), owner.uid, owner.gid);
    }
    const hba = path.join(dataDir, 'pg_hba.conf');
    const lines = await fs.readFile(hba, 'utf8');
    await fs.writeFile(hba, `host all nohba 127.0.0.1/32 reject\n${lines}`);
    const server: ExtraServer = {
      major: 13,
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      dataDir,
      dir,
    };
    const c = await connect(server);
    try {
      await c.query(`CREATE ROLE limited LOGIN PASSWORD 'limited-password' CONNECTION LIMIT 0`);
      await c.query(`ALTER SYSTEM SET ssl = on`);
      await c.query(`SELECT pg_reload_conf()`);
    } finally {
      await c.end();
    }
    // The reload is asynchronous: wait until new sessions see it.
    for (let i = 0; i < 50; i++) {
      const s = await connect(server);
      const { rows } = await s.query<{ ssl: string }>(`SHOW ssl`);
      await s.end();
      if (rows[0].ssl === 'on') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return server;
  })();
  return extra;
}

// A root-level hook: runs once after every test file of the run.
after(async function () {
  this.timeout(60_000);
  if (!extra) return;
  const s = await extra.catch(() => undefined);
  extra = undefined;
  if (!s) return;
  await stopServer(s.dataDir);
  await fs.rm(s.dir, { recursive: true, force: true });
});

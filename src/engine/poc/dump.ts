// PoC step 2: pg_dump -Fc of the scope into a file that appears at its final path only when complete.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ErrorType, FerryError } from '../../errors';
import { type PgConnInfo, classifyPgError, connectPg } from '../connection';
import { dumpPattern } from '../ident';
import { classifyToolFailure, findPgTool, runTool, toolEnv } from '../pg-tools';
import { type PocScope, type ResolvedScope, resolveScope } from './inspect';

export interface DumpOptions {
  conn: PgConnInfo;
  scope: PocScope;
  /** pg_dump -Z level, 0 (none) .. 9. */
  compression: number;
  outFile: string;
  /** Every second: bytes written so far. */
  onProgress?: (p: { bytes: number }) => void;
  signal?: AbortSignal;
}

export interface DumpResult {
  file: string;
  bytes: number;
  seconds: number;
  pgDumpVersion: string;
}

/**
 * pg_dump waits for an ACCESS SHARE lock on every table; a long-running ALTER on the source would
 * otherwise stall the PoC silently. After this long it fails with a message naming the lock.
 */
const LOCK_WAIT_TIMEOUT_MS = 5 * 60_000;

/**
 * Dump the scope with `pg_dump -Fc`. Writes to a temporary file next to `outFile` and renames it
 * into place after pg_dump succeeded (pg_dump fsyncs its output), so a crash or abort never leaves
 * a partial archive at `outFile`. Abort kills pg_dump and rejects with the signal's reason.
 */
export async function dumpDatabase(opts: DumpOptions): Promise<DumpResult> {
  const { conn } = opts;
  if (!Number.isInteger(opts.compression) || opts.compression < 0 || opts.compression > 9) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `pg_dump compression must be an integer 0..9, not ${opts.compression}`,
    );
  }
  opts.signal?.throwIfAborted();

  // One short session first: it gives clean AUTH/UNREACHABLE errors from SQLSTATEs, the server's
  // major for choosing pg_dump, and the exact table list (partitions included) for -t.
  let serverMajor: number;
  let extensions: number;
  let scope: ResolvedScope;
  const client = await connectPg(conn, 'ferry-poc-dump');
  try {
    const v = await client.query<{ num: number; ext: number }>(
      `SELECT current_setting('server_version_num')::int AS num, (SELECT count(*)::int FROM pg_extension) AS ext`,
    );
    serverMajor = Math.floor(Number(v.rows[0].num) / 10000);
    extensions = Number(v.rows[0].ext);
    scope = await resolveScope(client, opts.scope, conn, { sizes: false });
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await client.end().catch(() => undefined);
  }
  opts.signal?.throwIfAborted();
  const tool = await findPgTool('pg_dump', serverMajor);

  const args = dumpArgs(scope, opts.compression, tool.major >= 14 && extensions > 0);
  const dir = path.dirname(opts.outFile);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(
    dir,
    `.${path.basename(opts.outFile)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`,
  );

  const started = Date.now();
  let finished = false;
  const poll = setInterval(() => {
    fs.stat(tmp).then(
      (st) => finished || opts.onProgress?.({ bytes: st.size }),
      () => undefined, // not created yet
    );
  }, 1000);
  try {
    const r = await runTool(tool.path, [...args, '-f', tmp], {
      env: toolEnv(conn, 'ferry-poc-dump'),
      signal: opts.signal,
    });
    clearInterval(poll);
    finished = true;
    if (r.aborted && opts.signal?.aborted) throw opts.signal.reason ?? new Error('dump aborted');
    if (r.code !== 0) throw classifyToolFailure('pg_dump', conn, r, `dumping database ${conn.database}`);
    const bytes = (await fs.stat(tmp)).size;
    await fs.rename(tmp, opts.outFile);
    await fsyncDir(dir);
    opts.onProgress?.({ bytes });
    return { file: opts.outFile, bytes, seconds: (Date.now() - started) / 1000, pgDumpVersion: tool.version };
  } finally {
    clearInterval(poll);
    await fs.rm(tmp, { force: true });
  }
}

/** pg_dump arguments for the resolved scope (without -f). Database and login come from the environment. */
export function dumpArgs(scope: ResolvedScope, compression: number, withExtensions: boolean): string[] {
  const args = [
    '--format=custom',
    `--compress=${compression}`,
    '--no-password',
    `--lock-wait-timeout=${LOCK_WAIT_TIMEOUT_MS}`,
  ];
  if (scope.mode === 'all') return args;
  // A scoped dump leaves extensions out unless asked (pg_dump 14+: --extension); keep them, so the
  // restore shows whether the target (Aurora's extension list) can create them. Only when there is
  // one to match: under --strict-names a pattern that matches nothing is an error.
  if (withExtensions) args.push('--extension=*');
  // Every pattern must match something: a typo must fail the PoC, not dump less than intended.
  args.push('--strict-names');
  if (scope.mode === 'schemas') {
    for (const s of scope.schemas) args.push(`--schema=${dumpPattern(s)}`);
  } else {
    for (const t of scope.tables) args.push(`--table=${dumpPattern(t.schema, t.name)}`);
  }
  return args;
}

/** Make the rename durable: a power cut after rename must not bring back the old directory entry. */
async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r').catch(() => undefined);
  if (!h) return;
  try {
    await h.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await h.close();
  }
}

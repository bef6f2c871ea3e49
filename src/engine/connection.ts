// Connecting to an endpoint: node-postgres and libpq (pg_dump/pg_restore) settings from one PgConnInfo,
// and database/network errors turned into FerryErrors an operator can act on, without the password.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, type ClientConfig } from 'pg';
import { ErrorType, FerryError } from '../errors';
import type { EndpointConfig, FerryConfig } from '../config';
import { resolveSecret } from '../config/secrets';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

/** Where and how to log in. `password` is already resolved from its secret reference; never log it. */
export interface PgConnInfo {
  /** Endpoint id from ferry.yaml, named in every error so the operator knows which one to fix. */
  endpointId: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** Empty for trust or certificate authentication. */
  password: string;
  sslmode?: SslMode;
  sslrootcert?: string;
}

/** Seconds before a connection attempt to an unreachable host gives up (libpq and node-postgres). */
export const CONNECT_TIMEOUT_SECONDS = 10;

export const DEFAULT_APPLICATION_NAME = 'ferry';

/** `user@host:port/db` — what every connection error names. */
export function describeEndpoint(c: Omit<PgConnInfo, 'password'> | PgConnInfo): string {
  return `endpoint ${c.endpointId} (${c.user}@${c.host}:${c.port}/${c.database})`;
}

export function withDatabase(c: PgConnInfo, database: string): PgConnInfo {
  return { ...c, database };
}

/**
 * node-postgres settings. sslmode maps as libpq behaves, as far as node-postgres can:
 * - disable, allow, unset: no TLS (allow only uses TLS when the server insists; node-postgres
 *   cannot retry, and servers that insist reject plain text with a pg_hba error we explain).
 * - prefer: also no TLS here, because node-postgres cannot fall back to plain text when the server
 *   has no TLS, and `prefer` is the config default that must keep working against such servers.
 *   connectPg does what libpq does (TLS first, plain text if the server has none); pools built from
 *   this config should use require or stronger against servers that have TLS.
 * - require: TLS without certificate checks, unless sslrootcert is given (libpq then verifies the CA).
 * - verify-ca: TLS, certificate must chain to sslrootcert (or the system CAs); host name not checked.
 * - verify-full: as verify-ca, and the certificate must name the host.
 */
export function pgClientConfig(
  c: PgConnInfo,
  applicationName = DEFAULT_APPLICATION_NAME,
  opts: { asTheApplication?: boolean } = {},
): ClientConfig {
  return {
    // Ferry's own sessions write (control tables, publications, the reverse apply) even where a cutover
    // froze the database with default_transaction_read_only; `asTheApplication` sees what others see.
    ...(!opts.asTheApplication && { options: '-c default_transaction_read_only=off' }),
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    password: c.password || undefined,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_SECONDS * 1000,
    keepAlive: true,
    ssl: sslOption(c, c.sslmode),
  };
}

function sslOption(c: PgConnInfo, mode: SslMode | undefined): ClientConfig['ssl'] {
  const ca = (): string | undefined => {
    if (!c.sslrootcert) return undefined;
    try {
      return readFileSync(c.sslrootcert, 'utf8');
    } catch (err) {
      throw new FerryError(
        ErrorType.CONFIG_INVALID,
        `${describeEndpoint(c)}: cannot read sslrootcert ${c.sslrootcert} (${(err as NodeJS.ErrnoException).code ?? 'error'}); ` +
          `point sslrootcert at the CA bundle (for Aurora: the RDS global bundle, global-bundle.pem)`,
      );
    }
  };
  switch (mode) {
    case undefined:
    case 'disable':
    case 'allow':
      return false;
    case 'prefer':
      return false;
    case 'require': {
      const rootCa = ca();
      // libpq: with a root certificate present, require behaves like verify-ca.
      return rootCa
        ? { ca: rootCa, rejectUnauthorized: true, checkServerIdentity: () => undefined }
        : { rejectUnauthorized: false };
    }
    case 'verify-ca': {
      const opts: ConnectionOptions = { rejectUnauthorized: true, checkServerIdentity: () => undefined };
      const rootCa = ca();
      if (rootCa) opts.ca = rootCa;
      return opts;
    }
    case 'verify-full': {
      const opts: ConnectionOptions = { rejectUnauthorized: true };
      const rootCa = ca();
      if (rootCa) opts.ca = rootCa;
      return opts;
    }
  }
}

/**
 * libpq environment for pg_dump/pg_restore/psql. The password goes here, never into argv, where
 * `ps` and process accounting would show it. Callers start children with `toolEnv` (pg-tools.ts),
 * which also drops PG* variables inherited from the worker's own environment.
 */
export function libpqEnv(c: PgConnInfo, applicationName = DEFAULT_APPLICATION_NAME): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGDATABASE: c.database,
    // Unset means no TLS, the same as pgClientConfig, so pg_dump and Ferry's own sessions agree.
    PGSSLMODE: c.sslmode ?? 'disable',
    PGAPPNAME: applicationName,
    PGCONNECT_TIMEOUT: String(CONNECT_TIMEOUT_SECONDS),
  };
  if (c.password) env.PGPASSWORD = c.password;
  if (c.sslrootcert) env.PGSSLROOTCERT = c.sslrootcert;
  return env;
}

/**
 * Open a session, or throw the classified FerryError. Never hangs on an unreachable host: gives up
 * after CONNECT_TIMEOUT_SECONDS (or `opts.connectTimeoutMs`). With sslmode=prefer it tries TLS
 * first and falls back to plain text only when the server has no TLS, as libpq does.
 */
export async function connectPg(
  c: PgConnInfo,
  applicationName = DEFAULT_APPLICATION_NAME,
  opts: { connectTimeoutMs?: number; asTheApplication?: boolean } = {},
): Promise<Client> {
  const timeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_SECONDS * 1000;
  const base = {
    ...pgClientConfig(c, applicationName, { asTheApplication: opts.asTheApplication }),
    connectionTimeoutMillis: timeoutMs,
  };
  if (c.sslmode === 'prefer') {
    try {
      return await attempt({ ...base, ssl: { rejectUnauthorized: false } }, timeoutMs);
    } catch (err) {
      if (!(err instanceof NoServerTls)) throw classifyPgError(err, c);
    }
  }
  try {
    return await attempt(base, timeoutMs);
  } catch (err) {
    if (err instanceof NoServerTls) {
      throw new FerryError(
        ErrorType.CONFIG_INVALID,
        `${describeEndpoint(c)}: sslmode is ${c.sslmode} but the server does not offer TLS; enable ssl on the server, ` +
          `or set sslmode: prefer (or disable) for endpoint ${c.endpointId} if plain text is acceptable on this network`,
        { cause: err.cause },
      );
    }
    throw classifyPgError(err, c);
  }
}

/** The server answered the TLS request with "no": the one case where prefer falls back to plain text. */
class NoServerTls extends Error {}

async function attempt(config: ClientConfig, timeoutMs: number): Promise<Client> {
  // The server answers an SSLRequest with one byte, 'S' or 'N'; node-postgres turns 'N' into an
  // Error without code. Watching that byte on our own socket tells the case apart without reading
  // any message text.
  let tlsAnswer: number | undefined;
  const stream = config.ssl
    ? () => {
        const socket = new net.Socket();
        socket.once('data', (b: Buffer) => (tlsAnswer = b[0]));
        return socket;
      }
    : undefined;
  const client = new Client(stream ? { ...config, stream } : config);
  // node-postgres reports its own connect timeout without any code; this flag, armed just before its
  // timer, lets us give that error the errno it stands for instead of reading the message.
  let timedOut = false;
  const timer = setTimeout(() => (timedOut = true), Math.max(timeoutMs - 1, 0));
  timer.unref();
  try {
    await client.connect();
    client.on('error', () => undefined); // a dropped idle session must not crash the worker
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    const e = err as { code?: unknown };
    if (typeof e?.code !== 'string' && timedOut) {
      throw Object.assign(new Error('connection attempt timed out'), { code: 'ETIMEDOUT' });
    }
    if (tlsAnswer === 0x4e /* 'N' */) throw new NoServerTls('server has no TLS', { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const UNREACHABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
  'EPIPE',
]);

/** SQLSTATE or errno of `err`, looking into AggregateError (Node's happy-eyeballs connect). */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[] };
  if (typeof e?.code === 'string') return e.code;
  if (Array.isArray(e?.errors)) {
    for (const inner of e.errors) {
      const code = errorCode(inner);
      if (code) return code;
    }
  }
  return undefined;
}

/** Remove `secret` from text we did not write (server messages, tool output). */
export function redact(text: string, secret: string | undefined): string {
  // Very short secrets would mangle ordinary words; they also never appear in server text by design.
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join('[redacted]');
}

/**
 * A database or network error as a FerryError naming the endpoint and the fix. Decided by SQLSTATE
 * (`err.code`) or errno only: message text is translated (lc_messages) and changes across versions.
 * The server's own message is appended for detail, with the password removed if it were ever there.
 */
export function classifyPgError(err: unknown, c: Omit<PgConnInfo, 'password'> | PgConnInfo): FerryError {
  if (err instanceof FerryError) return err;
  const where = describeEndpoint(c);
  const code = errorCode(err);
  const password = 'password' in c ? c.password : undefined;
  const serverText = redact(err instanceof Error ? err.message : String(err), password);
  const detail = serverText ? ` (server said: ${serverText})` : '';
  const make = (type: ErrorType, message: string) => new FerryError(type, message, { cause: err });

  switch (code) {
    case '28P01':
      return make(
        ErrorType.AUTH_FAILED,
        `${where}: password authentication failed; check the secret reference for endpoint ${c.endpointId} ` +
          `(it must hold the current password of user ${c.user}) and that the user exists on the server${detail}`,
      );
    case '28000':
      // invalid_authorization_specification: no pg_hba.conf line matches (host, user, database, TLS),
      // or the role does not exist / may not log in. The SQLSTATE does not tell which.
      return make(
        ErrorType.AUTH_FAILED,
        `${where}: the server rejected the login; add a pg_hba.conf entry for user ${c.user}, database ${c.database} ` +
          `from Ferry's address (or the security group/parameter group on Aurora/RDS), check that role ${c.user} exists ` +
          `and has LOGIN, and if the server requires TLS (rds.force_ssl=1, hostssl lines) set sslmode: require${detail}`,
      );
    case '3D000':
      return make(
        ErrorType.DATABASE_MISSING,
        `${where}: database "${c.database}" does not exist; fix the database name of endpoint ${c.endpointId} ` +
          `or of the migration, or create the database${detail}`,
      );
    case '42501':
      return make(
        ErrorType.PRIVILEGE_MISSING,
        `${where}: user ${c.user} lacks a privilege Ferry needs; grant it (see the assessment findings for the list)${detail}`,
      );
    case '55P03':
      return make(
        ErrorType.DATABASE_ERROR,
        `${where}: gave up waiting for a lock another session holds (ALTER TABLE, VACUUM FULL, LOCK ...); ` +
          `Ferry retries; look in pg_locks / pg_stat_activity if it persists${detail}`,
      );
    case '53300':
    case '57P03':
      return make(
        ErrorType.ENDPOINT_UNREACHABLE,
        `${where}: the server is not accepting connections right now (too many connections, or starting up / ` +
          `shutting down); Ferry retries${detail}`,
      );
  }
  if (
    code &&
    (UNREACHABLE_ERRNOS.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02')
  ) {
    return make(
      ErrorType.ENDPOINT_UNREACHABLE,
      `${where}: cannot reach ${c.host}:${c.port} (${code}); check the host name and port of endpoint ${c.endpointId}, ` +
        `that the server runs and listens there (listen_addresses, port), and that firewalls / security groups ` +
        `allow TCP ${c.port} from Ferry's workers; Ferry retries${detail}`,
    );
  }
  return make(
    ErrorType.DATABASE_ERROR,
    `${where}: ${code ? `SQLSTATE ${code}: ` : ''}${serverText || 'unknown database error'}`,
  );
}

/** An endpoint of ferry.yaml as connection settings, its secret resolved: only in memory, never logged. */
export async function endpointConnInfo(
  cfg: FerryConfig,
  ep: EndpointConfig,
  database?: string,
): Promise<PgConnInfo> {
  return {
    endpointId: ep.id,
    host: ep.host,
    port: ep.port,
    database: database ?? ep.database,
    user: ep.user,
    password: await resolveSecret(ep.password, { baseDir: cfg.configDir }),
    sslmode: ep.sslmode,
    sslrootcert: ep.sslrootcert,
  };
}

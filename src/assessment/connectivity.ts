// Connectivity and TLS of one endpoint: open a session the way the engine does (connectPg), and when it
// fails say which of network (refused / timeout / DNS / no route), pg_hba, authentication, missing
// database or TLS it is; when it works, read the facts other checks need and whether the session is
// encrypted. Decided by errno, SQLSTATE and the server's `routine` field (the C function that raised
// the error, never translated), not by message text.
import { existsSync } from 'node:fs';
import type { Client } from 'pg';
import { type PgConnInfo, connectPg, describeEndpoint, redact } from '../engine/connection';
import { ErrorType, FerryError } from '../errors';
import { Findings, objectName } from './findings';
import type { RuleId } from './rules';

export const ASSESSMENT_APP = 'ferry-assessment';

/** What the other checks need to know of a reachable endpoint. */
export interface EndpointFacts {
  version: string;
  versionNum: number;
  major: number;
  user: string;
  database: string;
  superuser: boolean;
  encoding: string;
  collate: string;
  ctype: string;
  lcMonetary: string;
  ssl: boolean;
  sslVersion?: string;
  sslCipher?: string;
  /** aurora_version() exists: the server is Aurora PostgreSQL. */
  aurora: boolean;
}

export interface Probe {
  role: 'source' | 'target';
  conn: PgConnInfo;
  /** Open session for the checks (closed by the caller), when the endpoint was reached. */
  client?: Client;
  facts?: EndpointFacts;
}

const FACTS_SQL = `
SELECT pg_catalog.current_setting('server_version') AS version,
       pg_catalog.current_setting('server_version_num')::int AS num,
       current_user AS "user", pg_catalog.current_database() AS db,
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) AS superuser,
       pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collate, d.datctype AS ctype,
       pg_catalog.current_setting('lc_monetary') AS lc_monetary,
       s.ssl, s.version AS ssl_version, s.cipher AS ssl_cipher,
       pg_catalog.to_regproc('pg_catalog.aurora_version') IS NOT NULL AS aurora
  FROM pg_catalog.pg_database d
  LEFT JOIN pg_catalog.pg_stat_ssl s ON s.pid = pg_catalog.pg_backend_pid()
 WHERE d.datname = pg_catalog.current_database()`;

/**
 * Connect to the endpoint and report connectivity and TLS findings. Never throws for a server or
 * network problem: an unreachable endpoint is a blocker finding and a probe without a client.
 */
export async function probeEndpoint(
  role: Probe['role'],
  conn: PgConnInfo,
  findings: Findings,
  opts: { connectTimeoutMs?: number } = {},
): Promise<Probe> {
  const object = objectName.endpoint(conn.endpointId);
  findings.ran(...CONNECT_RULES);
  let client: Client;
  try {
    client = await connectPg(conn, ASSESSMENT_APP, opts);
  } catch (err) {
    const { id, message } = explainConnectError(err, conn, role);
    findings.add(id, object, message);
    return { role, conn };
  }
  try {
    // A check must never hang an assessment: behind a lock (pg_table_size, ACCESS SHARE) or a huge scan.
    await client.query(
      `SELECT pg_catalog.set_config('lock_timeout', '10s', false), pg_catalog.set_config('statement_timeout', '120s', false)`,
    );
    const { rows } = await client.query<{
      version: string;
      num: number;
      user: string;
      db: string;
      superuser: boolean | null;
      encoding: string;
      collate: string;
      ctype: string;
      lc_monetary: string;
      ssl: boolean | null;
      ssl_version: string | null;
      ssl_cipher: string | null;
      aurora: boolean;
    }>(FACTS_SQL);
    const r = rows[0];
    const facts: EndpointFacts = {
      version: r.version.split(' ')[0],
      versionNum: Number(r.num),
      major: Math.floor(Number(r.num) / 10000),
      user: r.user,
      database: r.db,
      superuser: !!r.superuser,
      encoding: r.encoding,
      collate: r.collate,
      ctype: r.ctype,
      lcMonetary: r.lc_monetary,
      ssl: !!r.ssl,
      aurora: r.aurora,
      ...(r.ssl_version ? { sslVersion: r.ssl_version } : {}),
      ...(r.ssl_cipher ? { sslCipher: r.ssl_cipher } : {}),
    };
    tlsFindings(role, conn, facts, findings);
    return { role, conn, client, facts };
  } catch (err) {
    await client.end().catch(() => undefined);
    findings.add(
      'assessment-check-failed',
      object,
      `${describeEndpoint(conn)}: connected, but reading the server's settings failed: ${errorText(err, conn)}`,
    );
    return { role, conn };
  }
}

const CONNECT_RULES: RuleId[] = [
  'endpoint-connection-refused',
  'endpoint-connect-timeout',
  'endpoint-dns',
  'endpoint-no-route',
  'endpoint-unavailable',
  'endpoint-pg-hba',
  'endpoint-auth-failed',
  'endpoint-database-missing',
  'endpoint-tls-unavailable',
  'endpoint-tls-certificate',
  'endpoint-plaintext',
  'endpoint-tls',
];

function tlsFindings(role: Probe['role'], conn: PgConnInfo, facts: EndpointFacts, findings: Findings): void {
  const object = objectName.endpoint(conn.endpointId);
  const mode = conn.sslmode ?? 'disable (unset)';
  if (facts.ssl) {
    findings.add(
      'endpoint-tls',
      object,
      `${role} ${describeEndpoint(conn)}: the session is encrypted (${facts.sslVersion ?? 'TLS'}, ${facts.sslCipher ?? 'cipher unknown'}; sslmode ${mode})`,
      conn.sslmode === 'verify-full'
        ? 'Nothing to do: the certificate and host name are verified.'
        : 'Nothing to do; set sslmode: verify-full with sslrootcert so the server certificate is verified too.',
    );
    return;
  }
  // require/verify-* never get here without TLS: connectPg refuses plain text for them.
  findings.add(
    'endpoint-plaintext',
    object,
    `${role} ${describeEndpoint(conn)}: the session is not encrypted (pg_stat_ssl.ssl = false, sslmode ${mode}); ` +
      `passwords and data cross the network in plain text`,
  );
}

const DNS_ERRNOS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const ROUTE_ERRNOS = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'EHOSTDOWN', 'ENETDOWN']);
const TLS_CERT_CODES =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_.*|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*)$/;

/** The rule a failed connection falls under, and a message naming the endpoint and what happened. */
export function explainConnectError(
  err: unknown,
  conn: PgConnInfo,
  role: Probe['role'],
): { id: RuleId; message: string } {
  const where = `${role} ${describeEndpoint(conn)}`;
  const detail = ` (${errorText(err, conn)})`;
  if (err instanceof FerryError && err.type === ErrorType.CONFIG_INVALID) {
    // connectPg raises CONFIG_INVALID for exactly two things: an unreadable sslrootcert, and a server
    // without TLS under an sslmode that requires it.
    if (conn.sslrootcert && !existsSync(conn.sslrootcert)) {
      return {
        id: 'endpoint-tls-certificate',
        message: `${where}: sslrootcert ${conn.sslrootcert} cannot be read${detail}`,
      };
    }
    return {
      id: 'endpoint-tls-unavailable',
      message: `${where}: sslmode is ${conn.sslmode} but the server does not offer TLS`,
    };
  }
  const pg = pgErrorOf(err);
  const code = pg?.code;
  const hostPort = `${conn.host}:${conn.port}`;
  if (code === 'ECONNREFUSED') {
    return {
      id: 'endpoint-connection-refused',
      message: `${where}: network: connection to ${hostPort} refused (ECONNREFUSED): no server listens there`,
    };
  }
  if (code === 'ETIMEDOUT') {
    return {
      id: 'endpoint-connect-timeout',
      message: `${where}: network: no answer from ${hostPort} before the connect timeout (ETIMEDOUT): a firewall or security group drops the packets, or the server hangs`,
    };
  }
  if (code && DNS_ERRNOS.has(code)) {
    return {
      id: 'endpoint-dns',
      message: `${where}: network: host name ${conn.host} does not resolve (${code})`,
    };
  }
  if (code && ROUTE_ERRNOS.has(code)) {
    return {
      id: 'endpoint-no-route',
      message: `${where}: network: ${hostPort} is unreachable (${code})`,
    };
  }
  if (code && TLS_CERT_CODES.test(code)) {
    return {
      id: 'endpoint-tls-certificate',
      message: `${where}: TLS: the server certificate does not verify under sslmode ${conn.sslmode ?? 'unset'} (${code})${detail}`,
    };
  }
  switch (code) {
    case '28P01':
      return {
        id: 'endpoint-auth-failed',
        message:
          `${where}: authentication: the password of user ${conn.user} is refused, or role ${conn.user} does not exist ` +
          `(with password authentication the server does not say which)${detail}`,
      };
    case '28000':
      // Raised by ClientAuthentication (auth.c) for a reject line or no matching pg_hba.conf line; by
      // InitializeSessionUserId for a missing role or one without LOGIN (trust/cert/peer methods).
      if (pg?.routine === 'ClientAuthentication') {
        return {
          id: 'endpoint-pg-hba',
          message:
            `${where}: pg_hba: no pg_hba.conf line accepts user ${conn.user} to database ${conn.database} from ` +
            `Ferry's address${conn.sslmode && conn.sslmode !== 'disable' ? '' : ' without TLS'}, or a reject line matches${detail}`,
        };
      }
      return {
        id: 'endpoint-auth-failed',
        message: `${where}: authentication: role ${conn.user} does not exist or may not log in${detail}`,
      };
    case '3D000':
      return {
        id: 'endpoint-database-missing',
        message: `${where}: database "${conn.database}" does not exist${detail}`,
      };
  }
  return {
    id: 'endpoint-unavailable',
    message: `${where}: the server does not accept a session${code ? ` (${code})` : ''}${detail}`,
  };
}

/** The underlying pg / socket error (code and routine), through FerryError causes and AggregateErrors. */
function pgErrorOf(err: unknown): { code?: string; routine?: string } | undefined {
  for (let e: unknown = err, hops = 0; e && hops < 8; hops++) {
    const x = e as { code?: unknown; routine?: unknown; errors?: unknown[]; cause?: unknown };
    if (typeof x.code === 'string') {
      return { code: x.code, ...(typeof x.routine === 'string' ? { routine: x.routine } : {}) };
    }
    if (Array.isArray(x.errors)) {
      for (const inner of x.errors) {
        const found = pgErrorOf(inner);
        if (found?.code) return found;
      }
    }
    e = x.cause;
  }
  return undefined;
}

/** The error's own text (the server's message, without the password), for a finding's detail. */
export function errorText(err: unknown, conn: PgConnInfo): string {
  const pg = pgErrorOf(err);
  const base = err instanceof FerryError && err.cause instanceof Error ? err.cause : err;
  const text = base instanceof Error ? base.message : String(base);
  const code = pg?.code && !text.includes(pg.code) ? `${pg.code}: ` : '';
  return redact(`${code}${text || 'no message'}`, conn.password);
}

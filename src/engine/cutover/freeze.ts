// Stopping the application's writes on the source at cutover, three ways, each with an exact undo:
// - 'read-only': ALTER DATABASE ... SET default_transaction_read_only = on, so every new session is
//   read-only, and (with `terminate`) the application's open sessions are ended so they reconnect
//   read-only. A session can still SET default_transaction_read_only = off (or a role setting can
//   override the database's): this stops well-behaved clients, not a determined one; use 'revoke' for that.
// - 'revoke': INSERT/UPDATE/DELETE/TRUNCATE on every table of the migrated schemas are revoked from
//   PUBLIC and from every non-superuser role holding them (table and column grants), remembering
//   exactly what was revoked so undo grants the same back. Privileges are checked at every statement,
//   so open sessions are stopped too; superusers cannot be stopped this way.
// - 'hook': the operator's command (pgbouncer PAUSE, an application switch to maintenance...) with
//   FERRY_ACTION=freeze, and FERRY_ACTION=unfreeze to undo.
// Ferry's own sessions (application_name starting with the except-prefix, 'ferry') are never
// terminated. They keep working under 'read-only' because on the source Ferry only reads: catalog
// queries, pg_current_wal_lsn(), and the logical walsender of CDC, which decodes WAL and writes none
// (confirming a slot's position is not a transaction). Undo sets its own session read-write first.
// The freeze state is plain JSON (FreezeState), so undoFreeze can run in another process (a retried
// activity, the fallback path) long after the handle is gone.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint, withDatabase } from '../connection';
import { qualify, quoteIdent, quoteLiteral } from '../ident';
import { type HookCommand, describeHook, runHook } from './hooks';

export const FreezeMethod = { READ_ONLY: 'read-only', REVOKE: 'revoke', HOOK: 'hook' } as const;
export type FreezeMethod = (typeof FreezeMethod)[keyof typeof FreezeMethod];

export interface FreezeOptions {
  /** Source databases to freeze (on the server of the `source` connection). */
  databases: string[];
  method: FreezeMethod;
  /** Required for method 'hook'. */
  hook?: HookCommand;
  /** Sessions whose application_name starts with this are Ferry's: never terminated. Default 'ferry'. */
  exceptApplicationPrefix?: string;
  /** End the application's open sessions of those databases (except Ferry's and our own). */
  terminate: boolean;
  /** 'revoke': schemas whose tables are frozen; default every schema but the system ones and `ferry`. */
  schemas?: string[];
}

/** One privilege revoked by the 'revoke' freeze, as aclexplode showed it. */
export interface RevokedGrant {
  schema: string;
  table: string;
  /** Set for a column privilege. */
  column?: string;
  /** INSERT, UPDATE, DELETE or TRUNCATE. */
  privilege: string;
  /** A role name, or PUBLIC. */
  grantee: string;
  grantable: boolean;
}

/** What undoFreeze needs: plain JSON. */
export type FreezeState =
  | { method: 'read-only'; databases: { name: string; previous?: string }[] }
  | { method: 'revoke'; databases: { name: string; grants: RevokedGrant[] }[] }
  | { method: 'hook'; databases: string[]; hook: HookCommand };

/** An application session ended by the freeze. */
export interface TerminatedSession {
  database: string;
  pid: number;
  user: string;
  applicationName: string;
}

export interface FreezeHandle {
  frozenAt: Date;
  method: FreezeMethod;
  /** What was done, for status and the cutover report. */
  description: string;
  terminated: TerminatedSession[];
  /** Things the freeze cannot stop (role settings overriding read-only, sessions left open...). */
  warnings: string[];
  state: FreezeState;
  /** undoFreeze(source, state). Idempotent. */
  undo(): Promise<void>;
}

const DEFAULT_PREFIX = 'ferry';
const APP = 'ferry-cutover';
const WRITE_PRIVILEGES = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'];
const SYSTEM_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname NOT LIKE 'pg\\_%'`;

async function withSession<T>(conn: PgConnInfo, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await connectPg(conn, APP);
  try {
    // The database may already be frozen read-only (a retry, or undo): Ferry's own session writes.
    await c.query('SET default_transaction_read_only = off');
    return await fn(c);
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Stop the application's writes to `opts.databases` on the source (see the file comment for the
 * three methods). On failure part-way, what was frozen is undone before the error is thrown.
 */
export async function freezeWrites(source: PgConnInfo, opts: FreezeOptions): Promise<FreezeHandle> {
  const prefix = opts.exceptApplicationPrefix ?? DEFAULT_PREFIX;
  if (opts.databases.length === 0)
    throw new FerryError(ErrorType.CONFIG_INVALID, 'write freeze: no databases named');
  const warnings: string[] = [];
  let state: FreezeState;
  let what: string;
  switch (opts.method) {
    case 'read-only': {
      const s: FreezeState = { method: 'read-only', databases: [] };
      state = s;
      await undoOnError(source, s, async () => {
        for (const db of opts.databases) s.databases.push(await freezeReadOnly(source, db, warnings));
      });
      what = `default_transaction_read_only = on for new sessions of ${list(opts.databases)}`;
      break;
    }
    case 'revoke': {
      const s: FreezeState = { method: 'revoke', databases: [] };
      state = s;
      await undoOnError(source, s, async () => {
        for (const db of opts.databases) {
          const entry = { name: db, grants: [] as RevokedGrant[] };
          s.databases.push(entry);
          await freezeRevoke(withDatabase(source, db), opts.schemas, entry.grants);
        }
      });
      const n = s.databases.reduce((a, d) => a + d.grants.length, 0);
      const roles = new Set(s.databases.flatMap((d) => d.grants.map((g) => g.grantee)));
      what =
        `${n} write privileges revoked on the tables of ${list(opts.databases)} from ${roles.size} roles ` +
        `(${[...roles].sort().join(', ') || 'none held any'})`;
      break;
    }
    case 'hook': {
      if (!opts.hook)
        throw new FerryError(ErrorType.CONFIG_INVALID, `write freeze method 'hook' needs a hook command`);
      const s: FreezeState = { method: 'hook', databases: [], hook: opts.hook };
      state = s;
      await undoOnError(source, s, async () => {
        for (const db of opts.databases) {
          await runHook(
            opts.hook!,
            hookEnv(source, db, opts.databases, 'freeze'),
            `write-freeze hook for ${db}`,
          );
          s.databases.push(db);
        }
      });
      what = `${describeHook(opts.hook)} ran with FERRY_ACTION=freeze for ${list(opts.databases)}`;
      break;
    }
    default:
      throw new FerryError(
        ErrorType.CONFIG_INVALID,
        `unknown write freeze method ${JSON.stringify(opts.method)}`,
      );
  }

  let terminated: TerminatedSession[] = [];
  try {
    if (opts.terminate) terminated = await terminateSessions(source, opts.databases, prefix);
    else {
      const open = await appSessions(source, opts.databases, prefix);
      if (open > 0)
        warnings.push(
          `${open} application sessions stay open (terminate is off)` +
            (opts.method === 'read-only' ? ': they keep writing until they reconnect' : ''),
        );
    }
    if (opts.method === 'read-only')
      for (const db of opts.databases) await verifyReadOnly(withDatabase(source, db));
  } catch (err) {
    await undoFreeze(source, state).catch(() => undefined);
    throw err;
  }
  const frozenAt = new Date();
  const description =
    `writes frozen (${opts.method}) at ${frozenAt.toISOString()}: ${what}` +
    (opts.terminate ? `; ${terminated.length} application sessions terminated` : '') +
    (warnings.length ? `; warnings: ${warnings.join('; ')}` : '');
  return {
    frozenAt,
    method: opts.method,
    description,
    terminated,
    warnings,
    state,
    undo: () => undoFreeze(source, state),
  };
}

/** Give the application its writes back: the exact reverse of freezeWrites' `state`. Idempotent. */
export async function undoFreeze(source: PgConnInfo, state: FreezeState): Promise<void> {
  switch (state.method) {
    case 'read-only':
      await withSession(source, async (c) => {
        for (const d of state.databases)
          await c.query(
            d.previous === undefined
              ? `ALTER DATABASE ${quoteIdent(d.name)} RESET default_transaction_read_only`
              : `ALTER DATABASE ${quoteIdent(d.name)} SET default_transaction_read_only = ${quoteLiteral(d.previous)}`,
          );
      });
      return;
    case 'revoke':
      for (const d of state.databases) {
        if (d.grants.length === 0) continue;
        await withSession(withDatabase(source, d.name), async (c) => {
          await inTransaction(c, async () => {
            for (const g of d.grants) await c.query(grantSql('GRANT', g));
          });
        });
      }
      return;
    case 'hook':
      for (const db of [...state.databases].reverse())
        await runHook(
          state.hook,
          hookEnv(source, db, state.databases, 'unfreeze'),
          `write-unfreeze hook for ${db}`,
        );
      return;
  }
}

async function undoOnError(source: PgConnInfo, state: FreezeState, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    await undoFreeze(source, state).catch(() => undefined);
    throw err;
  }
}

const list = (dbs: string[]) => dbs.map((d) => quoteIdent(d)).join(', ');

function hookEnv(source: PgConnInfo, db: string, all: string[], action: string): Record<string, string> {
  return {
    FERRY_ACTION: action,
    FERRY_DATABASE: db,
    FERRY_DATABASES: all.join(','),
    FERRY_SOURCE_ENDPOINT: source.endpointId,
    FERRY_SOURCE_HOST: source.host,
    FERRY_SOURCE_PORT: String(source.port),
  };
}

async function inTransaction(c: Client, fn: () => Promise<void>): Promise<void> {
  await c.query('BEGIN');
  try {
    await fn();
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

// ---- read-only ------------------------------------------------------------------------------------

/** The database's own default_transaction_read_only setting before the freeze, then set it on. */
async function freezeReadOnly(
  source: PgConnInfo,
  db: string,
  warnings: string[],
): Promise<{ name: string; previous?: string }> {
  return withSession(source, async (c) => {
    const { rows } = await c.query<{ role: string | null; value: string }>(
      `SELECT r.rolname AS role, split_part(cfg, '=', 2) AS value
         FROM pg_catalog.pg_db_role_setting s
         JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase OR s.setdatabase = 0
         LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
         CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
        WHERE d.datname = $1 AND split_part(cfg, '=', 1) = 'default_transaction_read_only'
          AND (s.setdatabase = d.oid OR s.setrole <> 0)`,
      [db],
    );
    if (rows.length === 0 && !(await databaseExists(c, db)))
      throw new FerryError(
        ErrorType.DATABASE_MISSING,
        `${describeEndpoint(source)}: database ${quoteIdent(db)} to freeze does not exist`,
      );
    const own = rows.find((r) => r.role === null);
    for (const r of rows.filter((x) => x.role !== null && !/^(on|true|yes|1)$/i.test(x.value)))
      warnings.push(
        `role ${r.role} sets default_transaction_read_only = ${r.value} itself: its new sessions in ${db} can still write`,
      );
    await c.query(`ALTER DATABASE ${quoteIdent(db)} SET default_transaction_read_only = on`);
    return own ? { name: db, previous: own.value } : { name: db };
  });
}

async function databaseExists(c: Client, db: string): Promise<boolean> {
  const { rowCount } = await c.query(`SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [db]);
  return (rowCount ?? 0) > 0;
}

/** A new session of the database starts read-only (else the freeze would stop nobody). */
async function verifyReadOnly(conn: PgConnInfo): Promise<void> {
  const c = await connectPg(conn, `${APP}-check`, { asTheApplication: true });
  try {
    const { rows } = await c.query<{ v: string }>(
      `SELECT current_setting('default_transaction_read_only') AS v`,
    );
    if (rows[0].v !== 'on')
      throw new FerryError(
        ErrorType.DATABASE_ERROR,
        `${describeEndpoint(conn)}: after ALTER DATABASE ... SET default_transaction_read_only = on a new session ` +
          `still starts read-write (default_transaction_read_only = ${rows[0].v}; a role setting of ${conn.user} overrides ` +
          `it?); the freeze was undone: use method 'revoke' or 'hook'`,
      );
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await c.end().catch(() => undefined);
  }
}

// ---- sessions -------------------------------------------------------------------------------------

const APP_SESSIONS = `FROM pg_catalog.pg_stat_activity
  WHERE datname = ANY($1) AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend'
    AND NOT starts_with(coalesce(application_name, ''), $2)`;

/** End every client session of the databases but Ferry's and this one; walsenders are not client backends. */
async function terminateSessions(
  source: PgConnInfo,
  dbs: string[],
  prefix: string,
): Promise<TerminatedSession[]> {
  return withSession(source, async (c) => {
    const { rows } = await c.query<{
      datname: string;
      pid: number;
      usename: string;
      application_name: string;
      ok: boolean;
    }>(
      `SELECT datname, pid, usename, coalesce(application_name, '') AS application_name,
              pg_catalog.pg_terminate_backend(pid) AS ok ${APP_SESSIONS}`,
      [dbs, prefix],
    );
    const refused = rows.filter((r) => !r.ok);
    if (refused.length)
      throw new FerryError(
        ErrorType.PRIVILEGE_MISSING,
        `${describeEndpoint(source)}: could not terminate ${refused.length} sessions (pids ${refused
          .map((r) => r.pid)
          .join(', ')}); grant pg_signal_backend to ${source.user}, or run the freeze with terminate off`,
      );
    return rows.map((r) => ({
      database: r.datname,
      pid: r.pid,
      user: r.usename,
      applicationName: r.application_name,
    }));
  });
}

async function appSessions(source: PgConnInfo, dbs: string[], prefix: string): Promise<number> {
  return withSession(source, async (c) => {
    const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n ${APP_SESSIONS}`, [dbs, prefix]);
    return rows[0].n;
  });
}

// ---- revoke ---------------------------------------------------------------------------------------

/** Write privileges on tables (and columns) of the schemas held by PUBLIC or a non-superuser role. */
async function writeGrants(c: Client, schemas: string[] | undefined): Promise<RevokedGrant[]> {
  const where = schemas ? `n.nspname = ANY($2)` : SYSTEM_SCHEMAS;
  const params: unknown[] = schemas ? [WRITE_PRIVILEGES, schemas] : [WRITE_PRIVILEGES];
  const grantee = `CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END`;
  const holder = `(a.grantee = 0 OR NOT r.rolsuper)`;
  const { rows } = await c.query<{
    schema: string;
    table: string;
    column: string | null;
    privilege: string;
    grantee: string;
    grantable: boolean;
  }>(
    `SELECT n.nspname AS schema, c.relname AS "table", NULL::text AS "column", a.privilege_type AS privilege,
            ${grantee} AS grantee, a.is_grantable AS grantable
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) a
       LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
      WHERE c.relkind IN ('r', 'p') AND ${where} AND a.privilege_type = ANY($1) AND ${holder}
     UNION ALL
     SELECT n.nspname, c.relname, at.attname, a.privilege_type, ${grantee}, a.is_grantable
       FROM pg_catalog.pg_attribute at JOIN pg_catalog.pg_class c ON c.oid = at.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL pg_catalog.aclexplode(at.attacl) a
       LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
      WHERE at.attacl IS NOT NULL AND at.attnum > 0 AND NOT at.attisdropped AND c.relkind IN ('r', 'p')
        AND ${where} AND a.privilege_type = ANY($1) AND ${holder}
      ORDER BY 1, 2, 3 NULLS FIRST, 5, 4`,
    params,
  );
  return rows.map((r) => ({
    schema: r.schema,
    table: r.table,
    ...(r.column !== null ? { column: r.column } : {}),
    privilege: r.privilege,
    grantee: r.grantee,
    grantable: r.grantable,
  }));
}

function grantSql(verb: 'GRANT' | 'REVOKE', g: RevokedGrant): string {
  const priv = g.column === undefined ? g.privilege : `${g.privilege} (${quoteIdent(g.column)})`;
  const who = g.grantee === 'PUBLIC' ? 'PUBLIC' : quoteIdent(g.grantee);
  const on = `ON TABLE ${qualify(g.schema, g.table)}`;
  // CASCADE: a holder that passed the privilege on (WITH GRANT OPTION) loses it with its dependants,
  // which are in the list as well and get theirs back on undo.
  return verb === 'REVOKE'
    ? `REVOKE ${priv} ${on} FROM ${who} CASCADE`
    : `GRANT ${priv} ${on} TO ${who}${g.grantable && g.grantee !== 'PUBLIC' ? ' WITH GRANT OPTION' : ''}`;
}

/** Revoke every write privilege in one transaction, then check none is left (else roll back). */
async function freezeRevoke(
  conn: PgConnInfo,
  schemas: string[] | undefined,
  into: RevokedGrant[],
): Promise<void> {
  await withSession(conn, async (c) => {
    await inTransaction(c, async () => {
      const grants = await writeGrants(c, schemas);
      for (const g of grants) await c.query(grantSql('REVOKE', g));
      const left = await writeGrants(c, schemas);
      if (left.length)
        throw new FerryError(
          ErrorType.PRIVILEGE_MISSING,
          `${describeEndpoint(conn)}: write privileges remain after REVOKE (${left
            .slice(0, 5)
            .map((g) => `${g.privilege} on ${g.schema}.${g.table} for ${g.grantee}`)
            .join('; ')}): ${conn.user} must own the tables or be a superuser; nothing was revoked`,
        );
      into.push(...grants);
    });
  });
}

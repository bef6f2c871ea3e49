// The PoC's scratch database on the target: named after the migration, marked with a comment when
// Ferry creates it, and replaced or dropped only when that marker says it is this migration's.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint } from '../connection';
import { migrationObjectName, quoteIdent, quoteLiteral } from '../ident';

const PREFIX = 'ferry_poc_';

/** The marker Ferry puts in COMMENT ON DATABASE; nothing else proves a database is ours to drop. */
export function scratchMarker(migration: string): string {
  return `ferry:scratch migration=${migration}`;
}

/**
 * `ferry_poc_<migration>`: lower case, [a-z0-9_] only, at most 63 bytes. When that loses
 * information (other characters, or too long) a hash of the full name is appended so that two
 * migrations never share a scratch database; the marker check guards anyway.
 */
export function scratchDatabaseName(migration: string): string {
  return migrationObjectName(PREFIX, migration);
}

interface Existing {
  comment: string | null;
}

async function lookup(client: Client, name: string): Promise<Existing | undefined> {
  const { rows } = await client.query<{ comment: string | null }>(
    `SELECT shobj_description(d.oid, 'pg_database') AS comment FROM pg_database d WHERE d.datname = $1`,
    [name],
  );
  return rows[0];
}

/** DROP ... WITH (FORCE) ends other sessions (a stuck verify, a psql left open); PostgreSQL 13+. */
async function dropDatabase(client: Client, name: string): Promise<void> {
  const { rows } = await client.query<{ num: number }>(
    `SELECT current_setting('server_version_num')::int AS num`,
  );
  if (Number(rows[0].num) >= 130000) {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } else {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  }
}

function refuseSameConnection(admin: PgConnInfo, name: string): void {
  if (admin.database === name) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `the target endpoint ${admin.endpointId} uses database ${name}, which is also the PoC scratch database name; ` +
        `point the target endpoint at another database (e.g. postgres)`,
    );
  }
}

function notOurs(admin: PgConnInfo, name: string, migration: string, comment: string | null): FerryError {
  const found = comment ? `its comment is ${JSON.stringify(comment)}` : 'it has no comment';
  return new FerryError(
    ErrorType.SCRATCH_NOT_OURS,
    `database ${name} on ${describeEndpoint(admin)} exists but is not migration ${migration}'s PoC scratch database ` +
      `(${found}, expected ${JSON.stringify(scratchMarker(migration))}); Ferry will not drop it. Rename or drop it ` +
      `yourself if it is disposable (a crash right after CREATE DATABASE can leave one unmarked), or rename the migration`,
  );
}

/**
 * Make `name` an empty database marked as this migration's scratch database. An existing one with
 * our marker is dropped and recreated (a retried restore starts clean); one without it is refused.
 * created: the database did not exist before; recreated: ours existed and was replaced.
 * @throws SCRATCH_NOT_OURS
 */
export async function ensureScratchDatabase(
  targetAdmin: PgConnInfo,
  name: string,
  migration: string,
): Promise<{ created: boolean; recreated: boolean }> {
  refuseSameConnection(targetAdmin, name);
  const client = await connectPg(targetAdmin, 'ferry-poc-scratch');
  try {
    const existing = await lookup(client, name);
    if (existing) {
      if (existing.comment !== scratchMarker(migration))
        throw notOurs(targetAdmin, name, migration, existing.comment);
      await dropDatabase(client, name);
    }
    // template0: template1 may carry site objects (extensions, tables) that would clash with the restore.
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
    } catch (err) {
      // 42P04: a concurrent attempt created it between our check and CREATE; judge that one by its marker.
      if ((err as { code?: string }).code !== '42P04') throw err;
      const raced = await lookup(client, name);
      if (raced?.comment !== scratchMarker(migration))
        throw notOurs(targetAdmin, name, migration, raced?.comment ?? null);
      return { created: false, recreated: true };
    }
    await client.query(
      `COMMENT ON DATABASE ${quoteIdent(name)} IS ${quoteLiteral(scratchMarker(migration))}`,
    );
    return { created: !existing, recreated: !!existing };
  } catch (err) {
    throw classifyPgError(err, targetAdmin);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Drop the scratch database if, and only if, it carries this migration's marker. Idempotent and
 * never throws for a database that is not ours: it reports why it left it (for compensation status).
 */
export async function dropScratchDatabase(
  targetAdmin: PgConnInfo,
  name: string,
  migration: string,
): Promise<{ dropped: boolean; reason?: 'absent' | 'not-ours'; detail?: string }> {
  refuseSameConnection(targetAdmin, name);
  const client = await connectPg(targetAdmin, 'ferry-poc-scratch');
  try {
    const existing = await lookup(client, name);
    if (!existing) return { dropped: false, reason: 'absent' };
    if (existing.comment !== scratchMarker(migration)) {
      return {
        dropped: false,
        reason: 'not-ours',
        detail: notOurs(targetAdmin, name, migration, existing.comment).message,
      };
    }
    await dropDatabase(client, name);
    return { dropped: true };
  } catch (err) {
    throw classifyPgError(err, targetAdmin);
  } finally {
    await client.end().catch(() => undefined);
  }
}

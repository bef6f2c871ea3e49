// Privilege checks before any data moves: the target user must create schemas and tables, the
// source user must read every selected table. One error lists every missing privilege.
import type { MigrationPlan } from '../mapping/types';
import { connectPg, PgConnInfo } from './connection';
import { displayName } from './ident';
import { ErrorType, FerryError } from '../errors';

export async function checkPrivileges(
  source: PgConnInfo,
  target: PgConnInfo,
  plan: MigrationPlan,
): Promise<void> {
  const problems: string[] = [];
  const t = await connectPg(target, 'ferry-privileges');
  try {
    const r = await t.query<{ create_db: boolean; user: string; db: string }>(
      `SELECT has_database_privilege(current_user, current_database(), 'CREATE') AS create_db,
              current_user AS user, current_database() AS db`,
    );
    const row = r.rows[0];
    if (!row.create_db) {
      problems.push(
        `endpoint ${target.endpointId}: user ${row.user} cannot create schemas in database ${row.db}; ` +
          `grant it: GRANT CREATE ON DATABASE "${row.db}" TO "${row.user}" (or use the database owner)`,
      );
    }
  } finally {
    await t.end();
  }
  const s = await connectPg(source, 'ferry-privileges');
  try {
    const names = plan.tables.map((x) => [x.source.schema, x.source.name]);
    const r = await s.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM unnest($1::text[], $2::text[]) AS w(schema, name)
         JOIN pg_namespace n ON n.nspname = w.schema
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
        WHERE NOT has_table_privilege(c.oid, 'SELECT')`,
      [names.map((x) => x[0]), names.map((x) => x[1])],
    );
    for (const row of r.rows) {
      problems.push(
        `endpoint ${source.endpointId}: user ${source.user} cannot read ${displayName(row.schema, row.name)}; ` +
          `grant it: GRANT SELECT ON ${displayName(row.schema, row.name)} TO "${source.user}"`,
      );
    }
  } finally {
    await s.end();
  }
  if (problems.length) throw new FerryError(ErrorType.PRIVILEGE_MISSING, problems.join('\n'));
}

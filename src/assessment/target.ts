// Target checks: version against the source, the tables the plan writes (already there, holding rows,
// under which TargetTablePrepMode), CREATE on the schemas the load creates tables in, and the space the
// selected tables take on the source as the estimate of what the target needs.
import type { Client } from 'pg';
import type { PgConnInfo } from '../engine/connection';
import { displayName, qualify, quoteIdent } from '../engine/ident';
import type { EngineSettings, MigrationPlan } from '../mapping/types';
import { type EndpointFacts, errorText } from './connectivity';
import { Findings, formatBytes, objectName } from './findings';
import type { MigrationType } from './rules';

export function checkTargetVersion(
  source: EndpointFacts,
  target: EndpointFacts,
  targetConn: PgConnInfo,
  findings: Findings,
): void {
  findings.ran('target-version-older');
  // Ferry supports no major downgrade: schema DDL is dumped by the source's pg_dump, which writes what
  // the source major knows, and an older server may not parse it (nor have the types it names).
  if (target.major >= source.major) return;
  findings.add(
    'target-version-older',
    objectName.endpoint(targetConn.endpointId),
    `target runs PostgreSQL ${target.version}, older than the source's ${source.version}; Ferry migrates to the ` +
      `same major version or a later one, never to an older major`,
    `use a target of PostgreSQL ${source.major} or later (Aurora: engine version ${source.major}.x or later)`,
  );
}

const TARGET_TABLES_SQL = `
SELECT w.ord::int AS ord, c.oid IS NOT NULL AS exists, c.relkind::text AS relkind,
       greatest(c.reltuples, 0)::float8 AS reltuples,
       CASE WHEN c.oid IS NOT NULL AND pg_catalog.has_table_privilege(c.oid, 'SELECT') THEN true ELSE false END AS readable
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema, name, ord)
  LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
  LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.name AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
 ORDER BY w.ord`;

/** Rows counted exactly in a non-empty target table; above it the planner's estimate is quoted. */
const COUNT_LIMIT = 100_000;

/** Target tables against TargetTablePrepMode, and (cdc only) tables that must exist but do not. */
export async function checkTargetTables(
  target: Client,
  targetConn: PgConnInfo,
  plan: MigrationPlan,
  settings: EngineSettings,
  migrationType: MigrationType,
  findings: Findings,
  migration: string,
): Promise<void> {
  const loads = migrationType !== 'cdc';
  findings.ran(
    ...(loads
      ? (['target-table-not-empty', 'target-data-overwritten'] as const)
      : (['target-table-missing'] as const)),
  );
  const targets = plan.tables.map((t) => t.target);
  try {
    // Tables this migration's own full load created: under DO_NOTHING a rerun resumes them (segments
    // already copied are skipped), so their rows are not someone else's data.
    const own = new Set<string>();
    const { rows: ctl } = await target.query<{ ok: boolean }>(
      `SELECT pg_catalog.to_regclass('ferry.load_tables') IS NOT NULL AS ok`,
    );
    if (ctl[0].ok) {
      const { rows: loaded } = await target.query<{ s: string; t: string }>(
        'SELECT target_schema AS s, target_table AS t FROM ferry.load_tables WHERE migration = $1',
        [migration],
      );
      for (const l of loaded) own.add(displayName(l.s, l.t));
    }
    const { rows } = await target.query<{
      ord: number;
      exists: boolean;
      relkind: string | null;
      reltuples: number;
      readable: boolean;
    }>(TARGET_TABLES_SQL, [targets.map((t) => t.schema), targets.map((t) => t.name)]);
    for (const r of rows) {
      const t = targets[Number(r.ord) - 1];
      const tname = displayName(t.schema, t.name);
      const object = objectName.table(tname);
      if (!r.exists) {
        if (!loads) {
          findings.add(
            'target-table-missing',
            object,
            `${tname} does not exist on target ${targetConn.endpointId}; a cdc-only migration applies changes to tables that are already loaded`,
          );
        }
        continue;
      }
      if (!loads) continue;
      if (r.relkind !== 'r' && r.relkind !== 'p') continue;
      let rows = -1;
      if (r.readable) {
        try {
          const { rows: probe } = await target.query<{ n: string }>(
            `SELECT count(*)::int8::text AS n FROM (SELECT 1 FROM ${qualify(t.schema, t.name)} LIMIT ${COUNT_LIMIT + 1}) AS s`,
          );
          rows = Number(probe[0].n);
        } catch {
          rows = -1; // no USAGE on its schema, a lock: reported as unknown below
        }
      }
      if (rows === 0) continue;
      const about =
        rows < 0
          ? `(user ${targetConn.user} cannot read it to tell whether it is empty)`
          : rows > COUNT_LIMIT
            ? `holding more than ${COUNT_LIMIT} rows (about ${Math.round(Number(r.reltuples))} by the planner's estimate)`
            : `holding ${rows} row(s)`;
      switch (settings.targetTablePrepMode) {
        case 'DO_NOTHING':
          if (own.has(tname)) break;
          findings.add(
            'target-table-not-empty',
            object,
            `${tname} exists on target ${targetConn.endpointId} ${about} and TargetTablePrepMode is DO_NOTHING: the load would add the source rows to them (duplicates, key violations)`,
            `TRUNCATE ${qualify(t.schema, t.name)} on the target if its rows may go, set FullLoadSettings.TargetTablePrepMode to TRUNCATE_BEFORE_LOAD or DROP_AND_CREATE, or exclude the table`,
          );
          break;
        case 'DROP_AND_CREATE':
        case 'TRUNCATE_BEFORE_LOAD':
          findings.add(
            'target-data-overwritten',
            object,
            `${tname} exists on target ${targetConn.endpointId} ${about}; TargetTablePrepMode ${settings.targetTablePrepMode} ` +
              `${settings.targetTablePrepMode === 'DROP_AND_CREATE' ? 'drops the table with its rows, indexes, grants and dependent views' : 'deletes its rows'} before the load`,
          );
          break;
      }
    }
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(targetConn.endpointId),
      `reading the target tables failed: ${errorText(err, targetConn)}`,
    );
  }
}

/** CREATE on the target schemas that exist (new tables) and, when some do not, on the database. */
export async function checkTargetSchemas(
  target: Client,
  targetConn: PgConnInfo,
  plan: MigrationPlan,
  findings: Findings,
): Promise<void> {
  findings.ran('target-create-privilege');
  const schemas = [...new Set(plan.tables.map((t) => t.target.schema))];
  try {
    const { rows } = await target.query<{
      schema: string;
      exists: boolean;
      can_create: boolean;
      db_create: boolean;
    }>(
      `SELECT w.schema, n.oid IS NOT NULL AS exists,
              COALESCE(pg_catalog.has_schema_privilege(n.oid, 'CREATE'), false) AS can_create,
              pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') AS db_create
         FROM unnest($1::text[]) AS w(schema)
         LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema`,
      [schemas],
    );
    for (const r of rows) {
      if (!r.exists || r.can_create) continue;
      findings.add(
        'target-create-privilege',
        objectName.schema(r.schema),
        `user ${targetConn.user} has no CREATE on target schema ${quoteIdent(r.schema)}, so the load cannot create its tables there`,
        `GRANT CREATE ON SCHEMA ${quoteIdent(r.schema)} TO ${quoteIdent(targetConn.user)} (or make the user the schema owner)`,
      );
    }
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(targetConn.endpointId),
      `checking CREATE on the target schemas failed: ${errorText(err, targetConn)}`,
    );
  }
}

/**
 * The space the selected tables take on the source (heap, TOAST and indexes; partitioned tables summed
 * over their partitions), reported as the estimate of the target's need. Free disk space is not
 * visible through SQL on self-managed PostgreSQL, so the finding says how to check it.
 */
export async function checkTargetSpace(
  source: Client,
  sourceConn: PgConnInfo,
  targetConn: PgConnInfo,
  targetFacts: EndpointFacts | undefined,
  plan: MigrationPlan,
  findings: Findings,
): Promise<void> {
  findings.ran('target-free-space');
  try {
    const rels = plan.tables.filter((t) => t.source.kind !== 'view').map((t) => t.source);
    const { rows } = await source.query<{ bytes: string }>(
      // pg_partition_tree lists nothing for a table that is not partitioned: size those directly.
      `SELECT COALESCE(sum(CASE WHEN c.relkind = 'p'
                                THEN (SELECT sum(pg_catalog.pg_total_relation_size(pt.relid))
                                        FROM pg_catalog.pg_partition_tree(c.oid) pt)
                                ELSE pg_catalog.pg_total_relation_size(c.oid) END), 0)::int8::text AS bytes
         FROM unnest($1::text[], $2::text[]) AS w(schema, name)
         JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
         JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.name AND c.relkind IN ('r', 'p', 'm')`,
      [rels.map((r) => r.schema), rels.map((r) => r.name)],
    );
    const bytes = Number(rows[0].bytes);
    const aurora = targetFacts?.aurora === true;
    findings.add(
      'target-free-space',
      objectName.endpoint(targetConn.endpointId),
      `the ${rels.length} selected table(s) take ${formatBytes(bytes)} on source ${sourceConn.endpointId} ` +
        `(pg_total_relation_size: data, TOAST and indexes); expect about as much on the target` +
        (aurora
          ? ' (Aurora storage grows by itself)'
          : '; free space of a self-managed server is not visible through SQL'),
      aurora
        ? 'Nothing to do for storage on Aurora (it grows up to 128 TiB); watch the VolumeBytesUsed metric and its cost'
        : `check free space where the target keeps its data (SHOW data_directory; then df -h on that path, plus ` +
            `any tablespace) is at least ${formatBytes(Math.ceil(bytes * 1.2))} (the estimate plus 20% for WAL and bloat)`,
    );
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(sourceConn.endpointId),
      `estimating the size of the selected tables failed: ${errorText(err, sourceConn)}`,
    );
  }
}

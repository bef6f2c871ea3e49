// Source checks that do not depend on CDC: version, read privileges (engine/privileges.ts's
// checkPrivileges, mapped), tables without a key and unlogged tables in a full load, temporary tables,
// large objects, and LOB values longer than limited LOB mode keeps.
import type { Client } from 'pg';
import type { PgConnInfo } from '../engine/connection';
import { displayName, qualify, quoteIdent } from '../engine/ident';
import { checkPrivileges } from '../engine/privileges';
import { ErrorType, FerryError } from '../errors';
import type { CatalogTable, EngineSettings, MigrationPlan, SourceCatalog, TablePlan } from '../mapping/types';
import { type EndpointFacts, errorText } from './connectivity';
import { Findings, columnDisplay, formatBytes, objectName } from './findings';
import { catalogTable } from './mapping';
import type { MigrationType } from './rules';

/** Ferry reads catalogs with pg_partition_tree and publishes with PostgreSQL 12+ semantics. */
export const MIN_SOURCE_VERSION_NUM = 120000;

export function checkSourceVersion(conn: PgConnInfo, facts: EndpointFacts, findings: Findings): void {
  findings.ran('source-version');
  if (facts.versionNum >= MIN_SOURCE_VERSION_NUM) return;
  findings.add(
    'source-version',
    objectName.endpoint(conn.endpointId),
    `source runs PostgreSQL ${facts.version}; Ferry supports sources from PostgreSQL 12`,
  );
}

/**
 * checkPrivileges (the engine's own pre-load check) for both endpoints, its one error split back into
 * findings: target lines are target-create-privilege, source lines source-select-privilege naming the
 * table. Plus USAGE on the selected source schemas, which SELECT alone does not give.
 */
export async function checkReadPrivileges(
  client: Client,
  source: PgConnInfo,
  target: PgConnInfo,
  plan: MigrationPlan,
  findings: Findings,
): Promise<void> {
  findings.ran('source-select-privilege', 'target-create-privilege');
  try {
    await checkPrivileges(source, target, plan);
  } catch (err) {
    if (!(err instanceof FerryError) || err.type !== ErrorType.PRIVILEGE_MISSING) {
      findings.add(
        'assessment-check-failed',
        objectName.endpoint(source.endpointId),
        `the privilege check failed: ${err instanceof Error ? err.message : String(err)}`,
      );
      return;
    }
    for (const line of err.message.split('\n')) {
      const [message, fix] = line.split('; grant it: ');
      const advice = fix ? `${fix}` : undefined;
      if (line.startsWith(`endpoint ${target.endpointId}:`) && target.endpointId !== source.endpointId) {
        findings.add('target-create-privilege', objectName.endpoint(target.endpointId), message, advice);
        continue;
      }
      const table = plan.tables.find((t) =>
        message.endsWith(` cannot read ${displayName(t.source.schema, t.source.name)}`),
      );
      findings.add(
        'source-select-privilege',
        table
          ? objectName.table(displayName(table.source.schema, table.source.name))
          : objectName.endpoint(source.endpointId),
        message,
        advice,
      );
    }
  }
  try {
    const schemas = [...new Set(plan.tables.map((t) => t.source.schema))];
    const { rows } = await client.query<{ schema: string }>(
      `SELECT n.nspname AS schema FROM pg_catalog.pg_namespace n
        WHERE n.nspname = ANY ($1::text[]) AND NOT pg_catalog.has_schema_privilege(n.oid, 'USAGE')`,
      [schemas],
    );
    for (const r of rows) {
      findings.add(
        'source-select-privilege',
        objectName.schema(r.schema),
        `user ${source.user} has no USAGE on source schema ${quoteIdent(r.schema)}, so it cannot read its tables`,
        `GRANT USAGE ON SCHEMA ${quoteIdent(r.schema)} TO ${quoteIdent(source.user)}`,
      );
    }
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(source.endpointId),
      `checking schema USAGE failed: ${errorText(err, source)}`,
    );
  }
}

const PERSISTENCE_SQL = `
SELECT n.nspname AS schema, c.relname AS name, c.relpersistence::text AS persistence
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relpersistence IN ('u', 't') AND c.relkind IN ('r', 'p')
   AND n.oid IS DISTINCT FROM pg_catalog.pg_my_temp_schema()
 ORDER BY 1, 2`;

/** The source relations a planned table reads: itself, or its leaf partitions. */
function relationsOf(t: TablePlan): { schema: string; name: string }[] {
  return t.segments.method === 'partitions' && t.segments.partitions?.length
    ? t.segments.partitions
    : [{ schema: t.source.schema, name: t.source.name }];
}

/** Keys, unlogged and temporary tables, large objects. */
export async function checkSourceTables(
  client: Client,
  conn: PgConnInfo,
  plan: MigrationPlan,
  catalog: SourceCatalog,
  migrationType: MigrationType,
  findings: Findings,
): Promise<void> {
  const fullLoadOnly = migrationType === 'full-load';
  if (fullLoadOnly) {
    findings.ran('source-table-without-key', 'source-unlogged-table');
    for (const t of plan.tables) {
      if (t.source.kind === 'view' || t.primaryKey.length > 0 || t.keyDefinition) continue;
      const cat = catalogTable(catalog, t);
      if (cat && cat.uniqueKeys.length > 0) continue;
      const tname = displayName(t.source.schema, t.source.name);
      findings.add(
        'source-table-without-key',
        objectName.table(tname),
        `${tname} has no primary key and no unique index on NOT NULL columns (~${t.estimatedRows} rows): the ` +
          `target table gets no key, duplicate rows cannot be told apart, and validation can only compare ` +
          `counts and checksums`,
        `ALTER TABLE ${qualify(t.source.schema, t.source.name)} ADD PRIMARY KEY (<key columns>) on the source, or a ` +
          `define-primary-key transformation rule for the target`,
      );
    }
  }
  findings.ran('source-temp-table', 'source-large-objects');
  try {
    const { rows } = await client.query<{ schema: string; name: string; persistence: string }>(
      PERSISTENCE_SQL,
    );
    const temp = rows.filter((r) => r.persistence === 't');
    if (temp.length > 0) {
      const names = temp.map((r) => displayName(r.schema, r.name));
      findings.add(
        'source-temp-table',
        objectName.endpoint(conn.endpointId),
        `${temp.length} temporary table(s) exist in open sessions (${names.slice(0, 10).join(', ')}` +
          `${names.length > 10 ? ', ...' : ''}); temporary tables are never migrated`,
      );
    }
    if (fullLoadOnly) {
      const unlogged = new Set(
        rows.filter((r) => r.persistence === 'u').map((r) => displayName(r.schema, r.name)),
      );
      for (const t of plan.tables) {
        const hit = relationsOf(t)
          .map((r) => displayName(r.schema, r.name))
          .filter((k) => unlogged.has(k));
        if (hit.length === 0) continue;
        const tname = displayName(t.source.schema, t.source.name);
        findings.add(
          'source-unlogged-table',
          objectName.table(tname),
          `${hit.join(', ')} ${hit.length > 1 ? 'are' : 'is'} UNLOGGED: copied as such, the target table is ` +
            `emptied by a crash or failover and is not on Aurora replicas`,
          hit.map((k) => `ALTER TABLE ${k} SET LOGGED`).join('; ') +
            ' (on the source before the load, or on the target after) if the data must survive a failover',
        );
      }
    }
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(conn.endpointId),
      `reading table persistence failed: ${errorText(err, conn)}`,
    );
  }
  try {
    const { rows } = await client.query<{ n: string; bytes: string }>(
      `SELECT (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata)::int8::text AS n,
              pg_catalog.pg_total_relation_size('pg_catalog.pg_largeobject')::int8::text AS bytes`,
    );
    const n = Number(rows[0].n);
    if (n > 0) {
      const refs = plan.tables.flatMap((t) => {
        const cat = catalogTable(catalog, t);
        return (cat?.columns ?? [])
          .filter((c) => c.type === 'oid' || c.userType?.name === 'lo')
          .map((c) => columnDisplay(displayName(t.source.schema, t.source.name), c.name));
      });
      findings.add(
        'source-large-objects',
        objectName.endpoint(conn.endpointId),
        `the source database holds ${n} large object(s) (pg_largeobject: ${formatBytes(Number(rows[0].bytes))}); ` +
          `they are not migrated, so oid references to them break on the target` +
          (refs.length ? ` (selected columns that may hold such oids: ${refs.slice(0, 10).join(', ')})` : ''),
      );
    }
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(conn.endpointId),
      `counting large objects failed: ${errorText(err, conn)}`,
    );
  }
}

/** Tables above this size are sampled (TABLESAMPLE SYSTEM) to about this many bytes for LOB sizes. */
export const LOB_SAMPLE_BYTES = 256 * 1024 * 1024;
const DIRECT_LENGTH = /^(bytea|text|character varying(\(\d+\))?|character(\(\d+\))?)$/;

/**
 * In limited LOB mode, the largest value of every LOB column the plan copies against the table's LOB
 * limit: a value above it is truncated on the target (the DMS behaviour Ferry reproduces).
 */
export async function checkLobSizes(
  client: Client,
  conn: PgConnInfo,
  plan: MigrationPlan,
  catalog: SourceCatalog,
  settings: EngineSettings,
  findings: Findings,
): Promise<void> {
  findings.ran('source-lob-truncation');
  for (const t of plan.tables) {
    if (t.lob.mode !== 'limited' || t.source.kind === 'view') continue;
    const cat = catalogTable(catalog, t);
    if (!cat) continue;
    const lobs = t.columns
      // Columns copied as they are: a cast or expression makes the target value something else.
      .filter(
        (c) =>
          c.source !== undefined &&
          c.generated === undefined &&
          c.beforeImageOf === undefined &&
          c.expression === undefined,
      )
      .map((c) => cat.columns.find((s) => s.name === c.source))
      .filter((c): c is CatalogTable['columns'][number] => !!c && c.lob);
    const unique = [...new Map(lobs.map((c) => [c.name, c])).values()];
    if (unique.length === 0) continue;
    const tname = displayName(t.source.schema, t.source.name);
    const limit = t.lob.maxBytes;
    const measures = unique.map((c) => {
      const col = quoteIdent(c.name);
      return DIRECT_LENGTH.test(c.type)
        ? `pg_catalog.octet_length(${col})`
        : `pg_catalog.octet_length(${col}::text)`;
    });
    const max = new Array<number>(unique.length).fill(0);
    const over = new Array<number>(unique.length).fill(0);
    let sampled = false;
    try {
      for (const rel of relationsOf(t)) {
        const relBytes =
          catalog.tables.find((x) => x.schema === rel.schema && x.name === rel.name)?.bytes ?? t.bytes;
        const pct = relBytes > LOB_SAMPLE_BYTES ? Math.max(0.01, (100 * LOB_SAMPLE_BYTES) / relBytes) : 100;
        if (pct < 100) sampled = true;
        const { rows } = await client.query<Record<string, string | null>>(
          `SELECT ${measures
            .map(
              (m, i) =>
                `max(${m})::int8::text AS m${i}, count(*) FILTER (WHERE ${m} > $1)::int8::text AS n${i}`,
            )
            .join(', ')}
             FROM ${qualify(rel.schema, rel.name)}${pct < 100 ? ` TABLESAMPLE SYSTEM (${pct.toFixed(4)})` : ''}`,
          [limit],
        );
        unique.forEach((_, i) => {
          max[i] = Math.max(max[i], Number(rows[0][`m${i}`] ?? 0));
          over[i] += Number(rows[0][`n${i}`] ?? 0);
        });
      }
    } catch (err) {
      findings.add(
        'assessment-check-failed',
        objectName.table(tname),
        `measuring LOB sizes of ${tname} failed: ${errorText(err, conn)}`,
      );
      continue;
    }
    const setting =
      limit === settings.lobMaxSizeKb * 1024
        ? 'TargetMetadata.LobMaxSize'
        : `the lob-settings bulk-max-size of ${tname}`;
    unique.forEach((c, i) => {
      if (max[i] <= limit) return;
      const neededKb = Math.ceil(max[i] / 1024);
      findings.add(
        'source-lob-truncation',
        objectName.column(tname, c.name),
        `${columnDisplay(tname, c.name)} (${c.type}): the largest ${sampled ? 'sampled ' : ''}value is ${formatBytes(max[i])}, ` +
          `above ${setting} (${limit / 1024} KB); ${over[i]} ${sampled ? 'sampled ' : ''}value(s) would be ` +
          `truncated in limited LOB mode`,
        `raise ${setting === 'TargetMetadata.LobMaxSize' ? 'TargetMetadata.LobMaxSize' : 'bulk-max-size'} to at ` +
          `least ${neededKb} (KB), add a table-settings rule with "lob-settings": {"mode": "unlimited"} for ` +
          `${tname}, or set TargetMetadata.FullLobMode: true`,
      );
    });
  }
}

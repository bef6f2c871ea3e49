// Pre-data of the full load: schemas, extensions, user types, sequences and the target tables, built
// from the plan (target names, columns and types already resolved there) and honouring
// TargetTablePrepMode. Tables get no index or constraint but NOT NULL, so the COPY runs at full speed;
// post-data.ts adds the rest after the data.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import type {
  CatalogColumn,
  CatalogTable,
  Finding,
  MigrationPlan,
  SourceCatalog,
  TablePlan,
} from '../../mapping/types';
import { prepareCatalogSession } from '../catalog';
import { type PgConnInfo, connectPg, describeEndpoint } from '../connection';
import { displayName, qualify, quoteIdent, quoteLiteral } from '../ident';
import { type TableLoadState, ensureControlTables, setTableStateOn } from './control';
import { classifyCopyError } from './copy';
import { parsePartitionKey, rewriteColumnList } from './ddl';
import {
  type ColumnSequence,
  type Partitioning,
  type Relation,
  type SequenceDef,
  type TypeDef,
  readCollations,
  readColumnSequences,
  readGeneratedDeps,
  readPartitioning,
  readSchemaSequences,
  readTypes,
  relKey,
  resolveRelations,
} from './introspect';
import { type StandaloneSequence, placeStandaloneSequences, sequenceSchemas } from './sequences';
import { beginSnapshotTransaction } from './snapshot';

export interface PreDataOptions {
  migration: string;
  source: PgConnInfo;
  target: PgConnInfo;
  plan: MigrationPlan;
  catalog: SourceCatalog;
  /** Read type and sequence definitions as of the load's snapshot. */
  snapshotId?: string;
  onEvent?: (e: { type: 'table-prepared'; table: PreparedTable }) => void;
}

export interface PreparedTable {
  /** Source and target `schema.table` for people. */
  source: string;
  target: string;
  /**
   * created: did not exist; recreated: dropped and created (DROP_AND_CREATE); truncated: kept and
   * emptied (TRUNCATE_BEFORE_LOAD); kept: kept with its rows (DO_NOTHING); resumed: this migration
   * prepared it before (a restarted load), left as it is.
   */
  action: 'created' | 'recreated' | 'truncated' | 'kept' | 'resumed';
  /** Created as a partitioned table with this many partitions. */
  partitions?: number;
}

export interface PreDataReport {
  schemas: string[];
  extensions: string[];
  types: string[];
  /** Sequences created (those of created tables' columns, and standalone ones). */
  sequences: string[];
  /** Of those, standalone sequences: no migrated column uses them. */
  standaloneSequences: number;
  tables: PreparedTable[];
  /** Column defaults set (sequence defaults included). */
  defaults: number;
  findings: Finding[];
  seconds: number;
}

/** One plan table with what pre-data and post-data look up about it. */
export interface PlannedTable {
  plan: TablePlan;
  catalog: CatalogTable;
  /** Source column → target column, for columns copied from a source column. */
  renames: Map<string, string>;
  targetQualified: string;
}

/** The plan's tables joined with their catalog entries. @throws CONFIG_INVALID for a table the catalog lacks. */
export function plannedTables(plan: MigrationPlan, catalog: SourceCatalog): PlannedTable[] {
  const byKey = new Map(catalog.tables.map((t) => [relKey(t.schema, t.name), t]));
  const missing: string[] = [];
  const out: PlannedTable[] = [];
  for (const p of plan.tables) {
    const cat = byKey.get(relKey(p.source.schema, p.source.name));
    if (!cat) {
      missing.push(displayName(p.source.schema, p.source.name));
      continue;
    }
    const renames = new Map<string, string>();
    for (const c of p.columns)
      if (c.source !== undefined && !renames.has(c.source)) renames.set(c.source, c.target);
    out.push({ plan: p, catalog: cat, renames, targetQualified: qualify(p.target.schema, p.target.name) });
  }
  if (missing.length) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `the plan names tables the source catalog does not have: ${missing.join(', ')}; compile the plan from this catalog`,
    );
  }
  return out;
}

/** True if any table, schema or column is renamed: source DDL bodies (functions) then cannot be reused as is. */
export function planRenames(tables: PlannedTable[]): boolean {
  return tables.some(
    (t) =>
      t.plan.source.schema !== t.plan.target.schema ||
      t.plan.source.name !== t.plan.target.name ||
      [...t.renames].some(([s, d]) => s !== d),
  );
}

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

/**
 * Create what the data needs on the target, idempotently. Order: schemas; extensions owning a used
 * type; user types (enum, domain, composite, range) used by copied columns, with the same names in
 * their source schema, in dependency order (an existing enum gains missing labels); tables dropped for
 * DROP_AND_CREATE; sequences the columns' defaults use (in the table's target schema), and the
 * standalone sequences of the plan's schemas, which no migrated column uses but the application may
 * call (see placeStandaloneSequences; they keep their names, in the schema's target schema); kept tables
 * truncated (TRUNCATE_BEFORE_LOAD) or checked (DO_NOTHING: columns must match the plan, else
 * SCHEMA_MISMATCH listing every problem); tables created; OWNED BY.
 *
 * Tables: plan columns with NOT NULL, identity (kept as identity, with the source sequence options;
 * COPY writes identity values as given), stored generated columns (kept generated when their
 * expression reads only unrenamed columns, else created plain and copied, with a finding), defaults
 * (nextval defaults point at the target sequence; a default that fails on the target, e.g. calling a
 * function Ferry does not migrate, is left out with a finding).
 * A partitioned source table is created partitioned, with every direct partition under the same name
 * in the table's target schema (copies then go straight into the matching partition); multi-level
 * partitioning, or a key expression over a renamed column, falls back to a plain table (finding).
 * Each table is created in one transaction together with its ferry.load_tables row: a table this
 * migration prepared before is left as it is ('resumed'), so a restarted load never drops loaded data.
 * @throws SCHEMA_MISMATCH, CONFIG_INVALID, or the classified database error.
 */
export async function createPreData(opts: PreDataOptions): Promise<PreDataReport> {
  const started = Date.now();
  const tables = plannedTables(opts.plan, opts.catalog);
  checkPartitionOverlap(tables);
  await ensureControlTables(opts.target);
  const findings: Finding[] = [];
  const source = await readSourceDefs(opts, tables);
  const standalone = placeStandaloneSequences(
    opts.plan,
    source.schemaSequences,
    usedSequences(tables, source),
    findings,
  );

  const c = await connectPg(opts.target, 'ferry-pre-data');
  try {
    await c.query(`SET statement_timeout = 0; SET lock_timeout = '60s'; SET client_min_messages = warning`);
    const report: PreDataReport = {
      schemas: [],
      extensions: [],
      types: [],
      sequences: [],
      standaloneSequences: 0,
      tables: [],
      defaults: 0,
      findings,
      seconds: 0,
    };
    const states = await controlStates(c, opts.migration);
    const existing = await existingTables(c, tables);
    const resumed = new Set(
      tables.filter(
        (t) =>
          states.has(relKey(t.plan.source.schema, t.plan.source.name)) && existing.has(t.targetQualified),
      ),
    );

    report.schemas = await createSchemas(c, [
      ...tables.map((t) => t.plan.target.schema),
      ...source.types.filter((t) => !t.extension && !t.isArray).map((t) => t.schema),
      ...standalone.map((p) => p.schema),
    ]);
    report.extensions = await createExtensions(c, source.types);
    report.types = await createTypes(c, source.types, findings);

    const mode = opts.plan.settings.targetTablePrepMode;
    const toDrop =
      mode === 'DROP_AND_CREATE'
        ? tables.filter((t) => !resumed.has(t) && existing.has(t.targetQualified))
        : [];
    if (toDrop.length) {
      // One statement: tables referencing each other drop together; CASCADE removes the foreign keys
      // and views of other tables that point at them (a previous run's post-data).
      await c.query(`DROP TABLE IF EXISTS ${toDrop.map((t) => t.targetQualified).join(', ')} CASCADE`);
      for (const t of toDrop) existing.delete(t.targetQualified);
    }

    const kept = tables.filter((t) => !resumed.has(t) && existing.has(t.targetQualified));
    const keptSet = new Set(kept);
    const toCreate = tables.filter((t) => !resumed.has(t) && !keptSet.has(t));
    // Column sequences only for tables created here: a kept table keeps its own defaults and sequences.
    // Standalone ones always (if missing): nothing on the target would make them.
    const sequences = placeSequences(toCreate, source, standalone);
    for (const p of standalone) sequences.set(p.source.seqid, p);
    const created = await createSequences(c, sequences);
    const alone = new Set<PlacedSequence>(standalone);
    report.sequences = created.map((p) => displayName(p.schema, p.name));
    report.standaloneSequences = created.filter((p) => alone.has(p)).length;

    await checkCompatible(c, kept, existing, opts.target);
    const truncate = mode === 'TRUNCATE_BEFORE_LOAD' ? kept : [];
    await c.query('BEGIN');
    if (truncate.length) {
      try {
        await c.query(`TRUNCATE ${truncate.map((t) => t.targetQualified).join(', ')}`);
      } catch (err) {
        // 0A000: a table outside the plan has a foreign key to one of them; TRUNCATE would need CASCADE.
        if ((err as { code?: string }).code !== '0A000') throw err;
        throw new FerryError(
          ErrorType.SCHEMA_MISMATCH,
          `${describeEndpoint(opts.target)}: TRUNCATE_BEFORE_LOAD cannot empty the kept tables: ${(err as Error).message}; ` +
            `drop that foreign key, add its table to the migration, or use DROP_AND_CREATE`,
          { cause: err },
        );
      }
    }
    for (const t of kept) await setTableStateOn(c, opts.migration, t.plan, 'created');
    await c.query('COMMIT');

    const dropped = new Set(toDrop);
    for (const t of tables) {
      const name = {
        source: displayName(t.plan.source.schema, t.plan.source.name),
        target: displayName(t.plan.target.schema, t.plan.target.name),
      };
      let prepared: PreparedTable;
      if (resumed.has(t)) prepared = { ...name, action: 'resumed' };
      else if (keptSet.has(t))
        prepared = { ...name, action: mode === 'TRUNCATE_BEFORE_LOAD' ? 'truncated' : 'kept' };
      else {
        const made = await createTable(c, opts.migration, t, source, sequences, findings);
        report.defaults += made.defaults;
        prepared = { ...name, action: dropped.has(t) ? 'recreated' : 'created' };
        if (made.partitions !== undefined) prepared.partitions = made.partitions;
      }
      report.tables.push(prepared);
      opts.onEvent?.({ type: 'table-prepared', table: prepared });
    }
    await setOwners(c, toCreate, source, sequences);
    report.seconds = (Date.now() - started) / 1000;
    return report;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw classifyCopyError(err, opts.target);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A leaf partition planned as a table of its own while its parent's plan copies it too loads twice. */
function checkPartitionOverlap(tables: PlannedTable[]): void {
  const planned = new Set(tables.map((t) => relKey(t.plan.source.schema, t.plan.source.name)));
  const twice: string[] = [];
  for (const t of tables) {
    if (t.catalog.kind !== 'partitioned') continue;
    for (const p of t.catalog.partitions ?? []) {
      if (planned.has(relKey(p.schema, p.name)))
        twice.push(
          `${displayName(p.schema, p.name)} (partition of ${displayName(t.plan.source.schema, t.plan.source.name)})`,
        );
    }
  }
  if (twice.length) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `the plan selects partitions both as tables and through their partitioned parent, so their rows would load ` +
        `twice: ${twice.join(', ')}; select either the parent or its partitions`,
    );
  }
}

interface SourceDefs {
  relations: Map<string, Relation>;
  types: TypeDef[];
  sequences: ColumnSequence[];
  /** Sequences of the plan's schemas that may be standalone (readSchemaSequences). */
  schemaSequences: SequenceDef[];
  collations: Map<string, Map<string, string>>;
  generated: Map<string, Map<string, string[]>>;
  partitioning: Map<string, Partitioning>;
}

/** Source definitions for the planned tables, in one session (and the load's snapshot, if given). */
async function readSourceDefs(opts: PreDataOptions, tables: PlannedTable[]): Promise<SourceDefs> {
  const s = await connectPg(opts.source, 'ferry-pre-data');
  try {
    await prepareCatalogSession(s);
    if (opts.snapshotId) await beginSnapshotTransaction(s, opts.snapshotId, opts.source);
    else await s.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const relations = await resolveSourceRelations(s, tables, opts.source);
    const relids = tables.map((t) => relationOf(relations, t).oid);
    const partitioned = tables
      .filter((t) => t.catalog.kind === 'partitioned')
      .map((t) => relationOf(relations, t).oid);
    const defs: SourceDefs = {
      relations,
      types: await readTypes(s, neededTypes(tables)),
      sequences: await readColumnSequences(s, relids),
      schemaSequences: await readSchemaSequences(s, [...sequenceSchemas(opts.plan).keys()], relids),
      collations: await readCollations(s, relids),
      generated: await readGeneratedDeps(s, relids),
      partitioning: await readPartitioning(s, partitioned),
    };
    await s.query('COMMIT');
    return defs;
  } catch (err) {
    throw classifyCopyError(err, opts.source);
  } finally {
    await s.end().catch(() => undefined);
  }
}

async function resolveSourceRelations(
  s: Client,
  tables: PlannedTable[],
  conn: PgConnInfo,
): Promise<Map<string, Relation>> {
  const relations = await resolveRelations(
    s,
    tables.map((t) => t.plan.source),
  );
  const missing = tables.filter((t) => !relations.has(relKey(t.plan.source.schema, t.plan.source.name)));
  if (missing.length) {
    throw new FerryError(
      ErrorType.SCHEMA_MISMATCH,
      `${describeEndpoint(conn)}: planned tables are gone from the source: ` +
        `${missing.map((t) => displayName(t.plan.source.schema, t.plan.source.name)).join(', ')}; recompile the plan`,
    );
  }
  return relations;
}

function relationOf(relations: Map<string, Relation>, t: PlannedTable): Relation {
  return relations.get(relKey(t.plan.source.schema, t.plan.source.name))!;
}

/** The source column a plan column copies unchanged in type (so its type, default and identity apply). */
function sourceColumn(t: PlannedTable, target: string): CatalogColumn | undefined {
  const col = t.plan.columns.find((c) => c.target === target);
  if (!col || col.source === undefined) return undefined;
  return t.catalog.columns.find((c) => c.name === col.source);
}

/** User types the copied columns keep from the source (by name; readTypes adds what they stand on). */
function neededTypes(tables: PlannedTable[]): { schema: string; name: string }[] {
  const out = new Map<string, { schema: string; name: string }>();
  for (const t of tables) {
    for (const col of t.plan.columns) {
      const src = sourceColumn(t, col.target);
      if (src?.userType && src.type === col.type) {
        out.set(relKey(src.userType.schema, src.userType.name), {
          schema: src.userType.schema,
          name: src.userType.name,
        });
      }
    }
  }
  return [...out.values()];
}

async function controlStates(c: Client, migration: string): Promise<Map<string, TableLoadState>> {
  const { rows } = await c.query<{ s: string; t: string; state: TableLoadState }>(
    `SELECT source_schema AS s, source_table AS t, state FROM ferry.load_tables WHERE migration = $1`,
    [migration],
  );
  return new Map(rows.map((r) => [relKey(r.s, r.t), r.state]));
}

interface TargetColumn {
  name: string;
  typid: number;
  notnull: boolean;
  hasdef: boolean;
  generated: string;
  identity: string;
}

/** Target tables that exist, by qualified name, with their columns. */
async function existingTables(
  c: Client,
  tables: PlannedTable[],
): Promise<Map<string, { kind: string; columns: TargetColumn[] }>> {
  const { rows } = await c.query<{ schema: string; name: string; kind: string; columns: TargetColumn[] }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
            coalesce(json_agg(json_build_object('name', a.attname, 'typid', a.atttypid::int8, 'notnull', a.attnotnull,
                                                'hasdef', a.atthasdef, 'generated', a.attgenerated,
                                                'identity', a.attidentity) ORDER BY a.attnum)
                       FILTER (WHERE a.attnum IS NOT NULL), '[]') AS columns
       FROM unnest($1::text[], $2::text[]) AS u(s, r)
       JOIN pg_catalog.pg_namespace n ON n.nspname = u.s
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = u.r AND c.relkind IN ('r', 'p')
       LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      GROUP BY n.nspname, c.relname, c.relkind`,
    [tables.map((t) => t.plan.target.schema), tables.map((t) => t.plan.target.name)],
  );
  return new Map(rows.map((r) => [qualify(r.schema, r.name), { kind: r.kind, columns: r.columns }]));
}

async function createSchemas(c: Client, schemas: string[]): Promise<string[]> {
  const wanted = [...new Set(schemas)];
  const { rows } = await c.query<{ nspname: string }>(
    `SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY ($1::text[])`,
    [wanted],
  );
  const have = new Set(rows.map((r) => r.nspname));
  const created: string[] = [];
  for (const s of wanted) {
    if (have.has(s)) continue;
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)}`);
    created.push(s);
  }
  return created;
}

async function createExtensions(c: Client, types: TypeDef[]): Promise<string[]> {
  const wanted = new Map<string, string>();
  for (const t of types) if (t.extension) wanted.set(t.extension, t.extensionSchema ?? 'public');
  if (wanted.size === 0) return [];
  const { rows } = await c.query<{ extname: string }>(
    `SELECT extname FROM pg_catalog.pg_extension WHERE extname = ANY ($1::text[])`,
    [[...wanted.keys()]],
  );
  const have = new Set(rows.map((r) => r.extname));
  const created: string[] = [];
  for (const [ext, schema] of wanted) {
    if (have.has(ext)) continue;
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    try {
      await c.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(ext)} WITH SCHEMA ${quoteIdent(schema)}`);
    } catch (err) {
      throw new FerryError(
        ErrorType.SCHEMA_MISMATCH,
        `extension ${ext} (it defines types the migrated columns use) cannot be created on the target: ` +
          `${(err as Error).message}; install it there (on Aurora: an extension from the supported list, by rds_superuser)`,
        { cause: err },
      );
    }
    created.push(ext);
  }
  return created;
}

/** Types in an order where each comes after what it is built from. */
function dependencyOrder(types: TypeDef[]): TypeDef[] {
  const byOid = new Map(types.map((t) => [t.oid, t]));
  const done = new Set<string>();
  const out: TypeDef[] = [];
  const visit = (t: TypeDef, depth: number) => {
    if (done.has(t.oid) || depth > 64) return;
    done.add(t.oid);
    for (const d of t.deps) {
      const dep = byOid.get(d);
      if (dep) visit(dep, depth + 1);
    }
    out.push(t);
  };
  for (const t of types) visit(t, 0);
  return out;
}

async function createTypes(c: Client, types: TypeDef[], findings: Finding[]): Promise<string[]> {
  const own = types.filter((t) => !t.extension && !t.isArray);
  if (own.length === 0) return [];
  const { rows } = await c.query<{ schema: string; name: string; labels: string[] }>(
    `SELECT n.nspname AS schema, t.typname AS name,
            ARRAY(SELECT l.enumlabel::text FROM pg_catalog.pg_enum l WHERE l.enumtypid = t.oid ORDER BY l.enumsortorder) AS labels
       FROM unnest($1::text[], $2::text[]) AS u(s, n)
       JOIN pg_catalog.pg_namespace n ON n.nspname = u.s
       JOIN pg_catalog.pg_type t ON t.typnamespace = n.oid AND t.typname = u.n`,
    [own.map((t) => t.schema), own.map((t) => t.name)],
  );
  const have = new Map(rows.map((r) => [relKey(r.schema, r.name), r]));
  const created: string[] = [];
  for (const t of dependencyOrder(own)) {
    const q = qualify(t.schema, t.name);
    const existing = have.get(relKey(t.schema, t.name));
    if (existing) {
      if (t.typtype === 'e') await addEnumLabels(c, q, t.labels, existing.labels);
      continue;
    }
    const ddl = typeDdl(t, q, findings);
    if (!ddl) continue;
    await c.query(ddl);
    created.push(displayName(t.schema, t.name));
  }
  return created;
}

/** Labels the source enum has and the target's lacks, each added after its source predecessor. */
async function addEnumLabels(c: Client, q: string, labels: string[], have: string[]): Promise<void> {
  const present = new Set(have);
  for (let i = 0; i < labels.length; i++) {
    if (present.has(labels[i])) continue;
    const where =
      i > 0 ? ` AFTER ${quoteLiteral(labels[i - 1])}` : have.length ? ` BEFORE ${quoteLiteral(have[0])}` : '';
    await c.query(`ALTER TYPE ${q} ADD VALUE IF NOT EXISTS ${quoteLiteral(labels[i])}${where}`);
    present.add(labels[i]);
  }
}

function typeDdl(t: TypeDef, q: string, findings: Finding[]): string | undefined {
  switch (t.typtype) {
    case 'e':
      return `CREATE TYPE ${q} AS ENUM (${t.labels.map(quoteLiteral).join(', ')})`;
    case 'd':
      return [
        `CREATE DOMAIN ${q} AS ${t.base}`,
        t.collation ? `COLLATE ${t.collation}` : '',
        t.defaultExpr !== null ? `DEFAULT ${t.defaultExpr}` : '',
        t.notNull ? 'NOT NULL' : '',
        ...t.checks,
      ]
        .filter(Boolean)
        .join(' ');
    case 'c':
      return `CREATE TYPE ${q} AS (${t.attributes.join(', ')})`;
    case 'r': {
      if (t.canonical) {
        findings.push({
          severity: 'error',
          field: displayName(t.schema, t.name),
          message: `range type ${displayName(t.schema, t.name)} has a canonical function (${t.canonical}), written in C; create the type on the target yourself`,
        });
        return undefined;
      }
      const parts = [`SUBTYPE = ${t.subtype}`];
      if (t.subtypeOpclass) parts.push(`SUBTYPE_OPCLASS = ${t.subtypeOpclass}`);
      if (t.rangeCollation) parts.push(`COLLATION = ${t.rangeCollation}`);
      // A user-defined subtype_diff (only a GiST speed aid) would need the function first: left out.
      if (t.subtypeDiff && !t.subtypeDiff.includes('.'))
        parts.push(`SUBTYPE_DIFF = ${t.subtypeDiff.replace(/\(.*$/, '')}`);
      return `CREATE TYPE ${q} AS RANGE (${parts.join(', ')})`;
    }
    case 'm':
      return undefined; // created with its range
    default:
      findings.push({
        severity: 'error',
        field: displayName(t.schema, t.name),
        message: `type ${displayName(t.schema, t.name)} is a base type written in C and not part of an extension; create it on the target yourself`,
      });
      return undefined;
  }
}

/**
 * Where a sequence goes on the target: a default's, in the schema of the first table using it under its
 * own name (or a suffixed one); a standalone one, as placeStandaloneSequences says.
 */
export interface PlacedSequence {
  source: SequenceDef;
  schema: string;
  name: string;
  qualified: string;
}

/** Sequences (seqid) a migrated column uses: they go with the column, never as standalone ones. */
function usedSequences(tables: PlannedTable[], defs: SourceDefs): Set<string> {
  const used = new Set<string>();
  for (const t of tables) {
    // As syncSequences matches them, which skips views.
    if (t.plan.source.kind === 'view') continue;
    const rel = relationOf(defs.relations, t);
    for (const s of defs.sequences) {
      if (s.relid === rel.oid && t.plan.columns.some((c) => c.source === s.column)) used.add(s.seqid);
    }
  }
  return used;
}

/**
 * Column sequences' target names. Standalone sequences' names are reserved first: the application calls
 * those by name, while a column sequence is reached through its rewritten default and may take a suffix.
 */
function placeSequences(
  tables: PlannedTable[],
  defs: SourceDefs,
  standalone: StandaloneSequence[],
): Map<string, PlacedSequence> {
  const placed = new Map<string, PlacedSequence>();
  const taken = new Set(standalone.map((p) => relKey(p.schema, p.name)));
  for (const t of tables) {
    const rel = relationOf(defs.relations, t);
    for (const s of defs.sequences) {
      if (s.kind !== 'default' || s.relid !== rel.oid || placed.has(s.seqid)) continue;
      const col = t.plan.columns.find((c) => c.source === s.column && c.expression === undefined);
      if (!col) continue;
      let name = s.seqName;
      for (let i = 1; taken.has(relKey(t.plan.target.schema, name)); i++)
        name = `${s.seqName.slice(0, 59)}_${i}`;
      taken.add(relKey(t.plan.target.schema, name));
      placed.set(s.seqid, {
        source: s,
        schema: t.plan.target.schema,
        name,
        qualified: qualify(t.plan.target.schema, name),
      });
    }
  }
  return placed;
}

function sequenceOptions(s: SequenceDef): string {
  return (
    `INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start} CACHE ${s.cache}` +
    (s.cycle ? ' CYCLE' : ' NO CYCLE')
  );
}

async function createSequences(c: Client, placed: Map<string, PlacedSequence>): Promise<PlacedSequence[]> {
  const created: PlacedSequence[] = [];
  for (const p of placed.values()) {
    const { rowCount } = await c.query(`SELECT 1 FROM pg_catalog.pg_class WHERE oid = to_regclass($1)`, [
      p.qualified,
    ]);
    if (rowCount) continue;
    await c.query(
      `CREATE SEQUENCE IF NOT EXISTS ${p.qualified} AS ${p.source.type} ${sequenceOptions(p.source)}`,
    );
    created.push(p);
  }
  return created;
}

/** Kept target tables must take the plan's columns; every problem of every table at once. */
async function checkCompatible(
  c: Client,
  kept: PlannedTable[],
  existing: Map<string, { kind: string; columns: TargetColumn[] }>,
  target: PgConnInfo,
): Promise<void> {
  if (kept.length === 0) return;
  const types = [...new Set(kept.flatMap((t) => t.plan.columns.map((col) => col.type)))];
  const { rows } = await c.query<{ t: string; oid: string | null }>(
    `SELECT u.t, pg_catalog.to_regtype(u.t)::oid::int8::text AS oid FROM unnest($1::text[]) AS u(t)`,
    [types],
  );
  const typeOid = new Map(rows.map((r) => [r.t, r.oid === null ? undefined : Number(r.oid)]));
  const problems: string[] = [];
  for (const t of kept) {
    const cols = new Map(existing.get(t.targetQualified)!.columns.map((x) => [x.name, x]));
    const name = displayName(t.plan.target.schema, t.plan.target.name);
    for (const col of t.plan.columns) {
      const have = cols.get(col.target);
      if (!have) problems.push(`${name} has no column "${col.target}" (${col.type})`);
      else if (typeOid.get(col.type) !== have.typid) {
        problems.push(`${name}."${col.target}" is not of type ${col.type}`);
      }
    }
    const planned = new Set(t.plan.columns.map((x) => x.target));
    for (const x of cols.values()) {
      if (!planned.has(x.name) && x.notnull && !x.hasdef && !x.generated && !x.identity) {
        problems.push(`${name}."${x.name}" is NOT NULL without a default and the plan gives it no value`);
      }
    }
  }
  if (problems.length) {
    throw new FerryError(
      ErrorType.SCHEMA_MISMATCH,
      `${describeEndpoint(target)}: existing target tables do not match the plan (TargetTablePrepMode keeps them): ` +
        `${problems.join('; ')}; fix or drop them, or use DROP_AND_CREATE`,
    );
  }
}

/** CREATE TABLE (and its partitions and defaults) with its control row, in one transaction. */
async function createTable(
  c: Client,
  migration: string,
  t: PlannedTable,
  defs: SourceDefs,
  sequences: Map<string, PlacedSequence>,
  findings: Finding[],
): Promise<{ defaults: number; partitions?: number }> {
  const rel = relationOf(defs.relations, t);
  const field = displayName(t.plan.source.schema, t.plan.source.name);
  const partitioning = partitionPlan(t, defs.partitioning.get(rel.oid), findings);
  const collations = defs.collations.get(rel.oid);
  const generatedDeps = defs.generated.get(rel.oid);

  const columnDefs: string[] = [];
  const defaults: { column: string; expr: string }[] = [];
  for (const col of t.plan.columns) {
    const src = sourceColumn(t, col.target);
    const sameType = src !== undefined && src.type === col.type && col.expression === undefined;
    const parts = [quoteIdent(col.target), col.type];
    const coll = sameType ? collations?.get(src.name) : undefined;
    if (coll) parts.push(`COLLATE ${coll}`);
    if (col.generated !== undefined) {
      const refs = generatedDeps?.get(col.source ?? '') ?? [];
      const moved = refs.filter((r) => t.renames.get(r) !== r);
      if (moved.length === 0) parts.push(`GENERATED ALWAYS AS (${col.generated}) STORED`);
      else {
        findings.push({
          severity: 'warning',
          field: `${field}.${col.source ?? col.target}`,
          message:
            `generated column "${col.target}" reads renamed or removed columns (${moved.join(', ')}); Ferry does not ` +
            `rewrite expressions, so it is created as a plain column and its values are copied`,
        });
      }
    } else if (src?.identity && sameType && INTEGER_TYPES.has(col.type)) {
      if (partitioning) {
        findings.push({
          severity: 'warning',
          field: `${field}.${col.target}`,
          message: `identity column "${col.target}" is created without identity: partitioned tables cannot have one before PostgreSQL 17`,
        });
      } else {
        const seq = defs.sequences.find(
          (s) => s.kind === 'identity' && s.relid === rel.oid && s.column === src.name,
        );
        parts.push(
          `GENERATED ${src.identity === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY${seq ? ` (${sequenceOptions(seq)})` : ''}`,
        );
      }
    } else if (src?.default !== undefined && sameType && !src.generated) {
      defaults.push({
        column: col.target,
        expr: retargetSequences(src.default, rel.oid, src.name, defs, sequences),
      });
    }
    if (!col.nullable) parts.push('NOT NULL');
    columnDefs.push(parts.join(' '));
  }

  await c.query('BEGIN');
  await c.query(
    `CREATE TABLE ${t.targetQualified} (${columnDefs.join(', ')})${partitioning ? ` PARTITION BY ${partitioning.key}` : ''}`,
  );
  for (const p of partitioning?.children ?? []) {
    await c.query(
      `CREATE TABLE ${qualify(t.plan.target.schema, p.name)} PARTITION OF ${t.targetQualified} ${p.bound}`,
    );
  }
  let set = 0;
  for (const d of defaults) {
    await c.query('SAVEPOINT ferry_default');
    try {
      await c.query(
        `ALTER TABLE ${t.targetQualified} ALTER COLUMN ${quoteIdent(d.column)} SET DEFAULT ${d.expr}`,
      );
      await c.query('RELEASE SAVEPOINT ferry_default');
      set++;
    } catch (err) {
      await c.query('ROLLBACK TO SAVEPOINT ferry_default');
      findings.push({
        severity: 'warning',
        field: `${field}.${d.column}`,
        message: `default ${d.expr} of "${d.column}" was not created on the target (${(err as Error).message}); the rows are copied, set it by hand if the application relies on it`,
      });
    }
  }
  await setTableStateOn(c, migration, t.plan, 'created');
  await c.query('COMMIT');
  return { defaults: set, ...(partitioning ? { partitions: partitioning.children.length } : {}) };
}

/** nextval('<source sequence>'::regclass) → the placed target sequence. */
function retargetSequences(
  expr: string,
  relid: string,
  column: string,
  defs: SourceDefs,
  sequences: Map<string, PlacedSequence>,
): string {
  let out = expr;
  for (const s of defs.sequences) {
    if (s.kind !== 'default' || s.relid !== relid || s.column !== column) continue;
    const placed = sequences.get(s.seqid);
    if (!placed) continue;
    out = out
      .split(`${quoteLiteral(s.printed)}::regclass`)
      .join(`${quoteLiteral(placed.qualified)}::regclass`);
  }
  return out;
}

/** PARTITION BY clause and partitions for a partitioned source table, or undefined for a plain table. */
function partitionPlan(
  t: PlannedTable,
  p: Partitioning | undefined,
  findings: Finding[],
): { key: string; children: Partitioning['children'] } | undefined {
  if (t.catalog.kind !== 'partitioned' || !p) return undefined;
  const field = displayName(t.plan.source.schema, t.plan.source.name);
  const plain = (why: string) => {
    findings.push({
      severity: 'warning',
      field,
      message: `${field} is created as a plain (unpartitioned) table on the target: ${why}`,
    });
    return undefined;
  };
  if (p.children.some((c) => c.partitioned))
    return plain('its partitions are partitioned themselves (multi-level)');
  const key = parsePartitionKey(p.keyDef);
  if (!key) return plain(`its partition key ${p.keyDef} could not be read`);
  const moved = p.keyColumns.filter((c) => t.renames.get(c) !== c);
  if (p.hasExpressions && moved.length)
    return plain(`its partition key expression reads renamed or removed columns (${moved.join(', ')})`);
  const rewritten = rewriteColumnList(key.keys, (s) => t.renames.get(s));
  if (!rewritten.ok) return plain(`its partition key column ${rewritten.column} is not migrated`);
  return { key: `${key.strategy} (${rewritten.text})`, children: p.children };
}

/** OWNED BY for placed sequences (standalone ones too) whose owning column is migrated. */
async function setOwners(
  c: Client,
  tables: PlannedTable[],
  defs: SourceDefs,
  sequences: Map<string, PlacedSequence>,
): Promise<void> {
  for (const p of sequences.values()) {
    const s = p.source;
    if (!s.ownerRelid || !s.ownerColumn) continue;
    const owner = tables.find((t) => relationOf(defs.relations, t).oid === s.ownerRelid);
    const column = owner?.renames.get(s.ownerColumn);
    // OWNED BY needs the table in the sequence's schema; a standalone sequence may sit elsewhere.
    if (!owner || !column || owner.plan.target.schema !== p.schema) continue;
    await c.query(`ALTER SEQUENCE ${p.qualified} OWNED BY ${owner.targetQualified}.${quoteIdent(column)}`);
  }
}

// PoC step 1: what the source holds (version, size, owner, encoding, extensions) and which tables the
// PoC scope selects, resolved once here so that dump, inventory and verify agree on the same tables.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint } from '../connection';
import { displayName, parseTableName } from '../ident';

/**
 * Which part of the source a PoC dumps. Both empty: every user schema. `schemas` selects whole schemas
 * (all their objects); `tables` ("schema.table", see parseTableName) selects tables and, for a
 * partitioned table, all its partitions. When tables are listed the dump is table-level (pg_dump -t):
 * the listed tables plus every table of the listed schemas, without functions, types or views.
 */
export interface PocScope {
  schemas: string[];
  tables: string[];
}

export type TableKind = 'table' | 'partitioned' | 'partition';

/**
 * One table in scope. Rows and bytes belong to the relation that stores them: a partitioned parent
 * stores nothing (bytes 0), its partitions do, so summing `bytes` over the list never counts twice.
 * A parent's estimatedRows is the total over its partitions, for reading only: skip kind
 * 'partitioned' when summing rows (verify reports parents the same way).
 */
export interface SourceTable {
  schema: string;
  name: string;
  owner: string;
  kind: TableKind;
  estimatedRows: number;
  /** pg_total_relation_size: heap + indexes + TOAST. */
  bytes: number;
  hasPrimaryKey: boolean;
}

export interface SourceInventory {
  /** "13.23" */
  serverVersion: string;
  serverMajor: number;
  /** pg_database_size of the whole database, bytes. */
  databaseSize: number;
  databaseOwner: string;
  encoding: string;
  /** datcollate */
  collation: string;
  extensions: { name: string; version: string }[];
  tables: SourceTable[];
  /** Sum of `bytes` over the tables in scope. */
  scopeBytes: number;
}

/** A table the scope selects, as dumpDatabase needs it. */
export interface ScopedTable extends SourceTable {
  oid: string;
  /** oid of the partitioned parent, for partitions. */
  parentOid?: string;
}

export interface ResolvedScope {
  /** all: no filter; schemas: pg_dump -n per schema; tables: pg_dump -t per selected table. */
  mode: 'all' | 'schemas' | 'tables';
  schemas: string[];
  tables: ScopedTable[];
}

/**
 * `sizes`: pg_total_relation_size takes a lock on each table and so waits behind an ACCESS EXCLUSIVE
 * lock (ALTER TABLE, VACUUM FULL); callers that only need names (the dump) leave it out.
 */
const tablesSql = (sizes: boolean) => `
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner,
       c.relkind::text AS relkind, c.relispartition AS ispartition,
       greatest(c.reltuples, 0)::float8 AS reltuples,
       ${sizes ? `CASE WHEN c.relkind = 'p' THEN 0 ELSE pg_total_relation_size(c.oid) END` : '0'}::int8::text AS bytes,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS has_pk,
       (SELECT i.inhparent::int8::text FROM pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition) AS parent
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   -- pg_catalog, pg_toast*, pg_temp_*: "pg_" is reserved, no user schema can start with it
   AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
   -- tables that belong to an extension are created by CREATE EXTENSION, not by the dump's data
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname`;

interface TableRow {
  oid: string;
  schema: string;
  name: string;
  owner: string;
  relkind: string;
  ispartition: boolean;
  reltuples: number;
  bytes: string;
  has_pk: boolean;
  parent: string | null;
}

/** Resolve `scope` against the catalog of the connected source. @throws CONFIG_INVALID for unknown names. */
export async function resolveScope(
  client: Client,
  scope: PocScope,
  c: PgConnInfo,
  opts: { sizes?: boolean } = {},
): Promise<ResolvedScope> {
  const schemas = [...new Set(scope.schemas ?? [])];
  const wanted = (scope.tables ?? []).map((t) => ({ text: t, ...parseTableName(t) }));
  const { rows } = await client.query<TableRow>(tablesSql(opts.sizes ?? true));

  const all: ScopedTable[] = rows.map((r) => ({
    oid: r.oid,
    parentOid: r.parent ?? undefined,
    schema: r.schema,
    name: r.name,
    owner: r.owner,
    kind: r.relkind === 'p' ? 'partitioned' : r.ispartition ? 'partition' : 'table',
    estimatedRows: Math.round(Number(r.reltuples)),
    bytes: Number(r.bytes),
    hasPrimaryKey: r.has_pk,
  }));
  const byOid = new Map(all.map((t) => [t.oid, t]));

  // A parent's estimate is the sum over its leaf partitions (its own reltuples is -1 or 0).
  for (const t of all) if (t.kind === 'partitioned') t.estimatedRows = 0;
  for (const t of all) {
    if (t.kind === 'partitioned') continue;
    for (
      let p = t.parentOid ? byOid.get(t.parentOid) : undefined;
      p;
      p = p.parentOid ? byOid.get(p.parentOid) : undefined
    ) {
      p.estimatedRows += t.estimatedRows;
    }
  }

  const problems: string[] = [];
  if (schemas.length) {
    const found = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)',
      [schemas],
    );
    const have = new Set(found.rows.map((r) => r.nspname));
    for (const s of schemas) if (!have.has(s)) problems.push(`schema "${s}" does not exist`);
  }
  const selectedOids = new Set<string>();
  for (const w of wanted) {
    const t = all.find((x) => x.schema === w.schema && x.name === w.table);
    if (!t)
      problems.push(`table ${displayName(w.schema, w.table)} ("${w.text}") does not exist or is not a table`);
    else selectedOids.add(t.oid);
  }
  if (problems.length) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `PoC scope does not match database ${c.database} on ${describeEndpoint(c)}: ${problems.join('; ')}; ` +
        `fix poc.schemas / poc.tables of the migration (names are case-sensitive, written as in the catalog)`,
    );
  }

  if (!schemas.length && !wanted.length) return { mode: 'all', schemas: [], tables: all };

  const inSchemas = new Set(schemas);
  // Partitions of a selected partitioned table are selected too (pg_dump -t would skip them).
  const selectedOrAncestor = (t: ScopedTable): boolean => {
    for (let x: ScopedTable | undefined = t; x; x = x.parentOid ? byOid.get(x.parentOid) : undefined) {
      if (selectedOids.has(x.oid)) return true;
    }
    return false;
  };
  const tables = all.filter((t) => inSchemas.has(t.schema) || selectedOrAncestor(t));
  return { mode: wanted.length ? 'tables' : 'schemas', schemas, tables };
}

const INSPECT_LOCK_TIMEOUT = '30s';

/** Inventory of the source and the tables `scope` selects. */
export async function inspectSource(conn: PgConnInfo, scope: PocScope): Promise<SourceInventory> {
  const client = await connectPg(conn, 'ferry-poc-inspect');
  try {
    // Sizes lock each table briefly; behind an exclusive lock, fail with a clear error, not hang.
    await client.query(`SET lock_timeout = '${INSPECT_LOCK_TIMEOUT}'`);
    const info = await client.query<{
      version: string;
      num: number;
      size: string;
      owner: string;
      encoding: string;
      collation: string;
    }>(
      `SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num,
              pg_database_size(d.oid)::text AS size, pg_get_userbyid(d.datdba) AS owner,
              pg_encoding_to_char(d.encoding) AS encoding, d.datcollate::text AS collation
         FROM pg_database d WHERE d.datname = current_database()`,
    );
    const ext = await client.query<{ name: string; version: string }>(
      'SELECT extname::text AS name, extversion AS version FROM pg_extension ORDER BY extname',
    );
    const resolved = await resolveScope(client, scope, conn);
    const i = info.rows[0];
    const tables = resolved.tables.map(({ oid: _oid, parentOid: _parent, ...t }) => t);
    return {
      serverVersion: i.version.split(' ')[0],
      serverMajor: Math.floor(Number(i.num) / 10000),
      databaseSize: Number(i.size),
      databaseOwner: i.owner,
      encoding: i.encoding,
      collation: i.collation,
      extensions: ext.rows,
      tables,
      scopeBytes: tables.reduce((sum, t) => sum + t.bytes, 0),
    };
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await client.end().catch(() => undefined);
  }
}

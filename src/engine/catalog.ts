// Reads the source catalog the mapping compiler and the full load work from: tables, partitions, views,
// columns with their types, keys, replica identity and sizes, in a fixed handful of queries whatever
// the number of tables (no query per table: a 1,000-table source reads as fast as a 10-table one).
import type { Client } from 'pg';
import type { CatalogColumn, CatalogTable, SourceCatalog } from '../mapping/types';
import { type PgConnInfo, classifyPgError, connectPg } from './connection';
import { beginSnapshotTransaction } from './fullload/snapshot';

/** Schemas never read: the system's own, and Ferry's control tables (`ferry`, see fullload/control.ts). */
export const EXCLUDED_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast', 'ferry'] as const;

/**
 * Types DMS sizes as LOBs (text → NCLOB, bytea → BLOB, json/jsonb/xml → NCLOB/CLOB), by their
 * pg_catalog name; domains over them and arrays of them are LOBs too.
 */
const LOB_TYPES = new Set(['text', 'bytea', 'json', 'jsonb', 'xml']);

/**
 * Session settings for catalog reads. An empty search_path makes format_type, pg_get_expr and
 * pg_get_*def qualify every name outside pg_catalog, so a type or sequence printed here means the same
 * thing in a target session whatever its search_path. lock_timeout: pg_table_size waits for an
 * ACCESS SHARE lock and would otherwise hang behind an ALTER TABLE or VACUUM FULL until it ends.
 */
export async function prepareCatalogSession(client: Client): Promise<void> {
  await client.query(
    `SELECT pg_catalog.set_config('search_path', '', false), pg_catalog.set_config('lock_timeout', '30s', false)`,
  );
}

/**
 * Relations Ferry can read: ordinary, partitioned, views and materialized views, not temporary,
 * not part of an extension (CREATE EXTENSION makes those), outside the excluded schemas.
 */
const RELATIONS_SQL = `
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       c.relispartition AS ispartition,
       (SELECT i.inhparent::int8::text FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition) AS parent,
       c.relreplident::text AS replident,
       greatest(c.reltuples, 0)::float8 AS reltuples,
       (CASE WHEN c.relkind IN ('r', 'm') THEN pg_catalog.pg_table_size(c.oid) ELSE 0 END)::int8::text AS bytes
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm')
   AND c.relpersistence <> 't'
   AND n.nspname <> ALL ($1::text[]) AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast%'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname`;

const COLUMNS_SQL = `
SELECT a.attrelid::int8::text AS relid, a.attname AS name, a.attnum AS attnum,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int8::text AS typid,
       NOT a.attnotnull AS nullable, a.attidentity::text AS identity, a.attgenerated::text AS generated,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS expr
  FROM pg_catalog.pg_attribute a
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum`;

/** Every type the columns use, plus what they stand on (array elements, domain bases), recursively. */
const TYPES_SQL = `
WITH RECURSIVE ty(oid) AS (
  SELECT DISTINCT a.atttypid FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
  UNION
  SELECT v.x FROM ty JOIN pg_catalog.pg_type t ON t.oid = ty.oid,
         LATERAL (VALUES (CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END), (t.typbasetype)) v(x)
   WHERE v.x <> 0
)
SELECT t.oid::int8::text AS oid, n.nspname AS schema, t.typname AS name, t.typtype::text AS typtype,
       (CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END)::int8::text AS elem,
       t.typbasetype::int8::text AS base
  FROM ty JOIN pg_catalog.pg_type t ON t.oid = ty.oid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace`;

const KEYS_SQL = `
SELECT i.indrelid::int8::text AS relid, ic.relname AS name, i.indisprimary AS primary,
       i.indnkeyatts AS nkeys, i.indkey::int2[] AS keys,
       i.indexprs IS NULL AND i.indpred IS NULL AND i.indisvalid AS plain
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
 WHERE i.indrelid = ANY ($1::oid[]) AND i.indisunique
 ORDER BY i.indrelid, i.indisprimary DESC, ic.relname`;

interface RelationRow {
  oid: string;
  schema: string;
  name: string;
  relkind: string;
  ispartition: boolean;
  parent: string | null;
  replident: string;
  reltuples: number;
  bytes: string;
}

interface ColumnRow {
  relid: string;
  name: string;
  attnum: number;
  type: string;
  typid: string;
  nullable: boolean;
  identity: string;
  generated: string;
  expr: string | null;
}

interface TypeRow {
  oid: string;
  schema: string;
  name: string;
  typtype: string;
  elem: string;
  base: string;
}

interface KeyRow {
  relid: string;
  name: string;
  primary: boolean;
  nkeys: number;
  keys: number[];
  plain: boolean;
}

const REPLICA_IDENTITY: Record<string, CatalogTable['replicaIdentity']> = {
  d: 'default',
  f: 'full',
  i: 'index',
  n: 'nothing',
};

const USER_TYPE_KIND: Record<string, NonNullable<CatalogColumn['userType']>['kind']> = {
  e: 'enum',
  d: 'domain',
  c: 'composite',
  r: 'range',
  m: 'range', // multirange (14+): created with its range
  b: 'base',
};

/**
 * The source catalog, as the mapping compiler and the engine need it. With `snapshotId` (an exported
 * snapshot, see holdSnapshot) the catalog is read as of that snapshot, so a table created after it is
 * not listed. Kinds: ordinary tables 'table', partitioned tables 'partitioned' (also an intermediate
 * level of a multi-level partitioning), leaf partitions 'partition', views and materialized views
 * 'view'. For a partitioned table, `estimatedRows` and `bytes` are the sums over its leaf partitions
 * (the parent stores nothing): skip kind 'partitioned' when totalling over the catalog.
 * @throws FerryError classified from the connection or query error (SNAPSHOT_LOST for a gone snapshot).
 */
export async function readSourceCatalog(
  conn: PgConnInfo,
  opts: { snapshotId?: string } = {},
): Promise<SourceCatalog> {
  const client = await connectPg(conn, 'ferry-catalog');
  try {
    await prepareCatalogSession(client);
    if (opts.snapshotId) await beginSnapshotTransaction(client, opts.snapshotId, conn);
    else await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const catalog = await readCatalog(client);
    await client.query('COMMIT');
    return catalog;
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The catalog over an open session (in a repeatable-read transaction, so the queries agree). */
export async function readCatalog(client: Client): Promise<SourceCatalog> {
  const { rows: info } = await client.query<{ db: string; version: string; num: string }>(
    `SELECT pg_catalog.current_database() AS db, pg_catalog.current_setting('server_version') AS version,
            pg_catalog.current_setting('server_version_num') AS num`,
  );
  const { rows: rels } = await client.query<RelationRow>(RELATIONS_SQL, [[...EXCLUDED_SCHEMAS]]);
  const oids = rels.map((r) => r.oid);
  const [{ rows: cols }, { rows: types }, { rows: keys }] = [
    await client.query<ColumnRow>(COLUMNS_SQL, [oids]),
    await client.query<TypeRow>(TYPES_SQL, [oids]),
    await client.query<KeyRow>(KEYS_SQL, [oids]),
  ];

  const typeByOid = new Map(types.map((t) => [t.oid, t]));
  const columnsByRel = new Map<string, CatalogColumn[]>();
  const attnames = new Map<string, Map<number, CatalogColumn>>();
  for (const c of cols) {
    const list = columnsByRel.get(c.relid) ?? [];
    columnsByRel.set(c.relid, list);
    const column: CatalogColumn = {
      name: c.name,
      position: list.length + 1,
      type: c.type,
      nullable: c.nullable,
      lob: isLob(c.typid, typeByOid),
    };
    const user = userType(c.typid, typeByOid);
    if (user) column.userType = user;
    if (c.expr !== null && c.generated === 's') column.generated = c.expr;
    else if (c.expr !== null) column.default = c.expr;
    if (c.identity === 'a') column.identity = 'always';
    else if (c.identity === 'd') column.identity = 'by-default';
    list.push(column);
    const byNum = attnames.get(c.relid) ?? new Map<number, CatalogColumn>();
    attnames.set(c.relid, byNum);
    byNum.set(c.attnum, column);
  }

  const tables = new Map<string, CatalogTable & { oid: string; parentOid?: string }>();
  for (const r of rels) {
    const kind: CatalogTable['kind'] =
      r.relkind === 'v' || r.relkind === 'm'
        ? 'view'
        : r.relkind === 'p'
          ? 'partitioned'
          : r.ispartition
            ? 'partition'
            : 'table';
    tables.set(r.oid, {
      oid: r.oid,
      parentOid: r.parent ?? undefined,
      schema: r.schema,
      name: r.name,
      kind,
      columns: columnsByRel.get(r.oid) ?? [],
      primaryKey: [],
      uniqueKeys: [],
      replicaIdentity: REPLICA_IDENTITY[r.replident] ?? 'default',
      estimatedRows: kind === 'partitioned' ? 0 : Math.round(Number(r.reltuples)),
      bytes: kind === 'partitioned' ? 0 : Number(r.bytes),
    });
  }

  for (const k of keys) {
    const t = tables.get(k.relid);
    const byNum = attnames.get(k.relid);
    if (!t || !byNum) continue;
    const keyCols = k.keys.slice(0, k.nkeys).map((n) => byNum.get(n));
    if (k.primary) {
      t.primaryKey = keyCols.map((c) => c!.name);
    } else if (k.plain && keyCols.every((c) => c && !c.nullable)) {
      t.uniqueKeys.push({ name: k.name, columns: keyCols.map((c) => c!.name) });
    }
  }

  // Parents, and each partitioned table's leaves (through any number of levels), with their totals.
  for (const t of tables.values()) {
    const parent = t.parentOid ? tables.get(t.parentOid) : undefined;
    if (parent) t.parent = { schema: parent.schema, name: parent.name };
    if (t.kind === 'partitioned') t.partitions = [];
  }
  for (const t of tables.values()) {
    if (t.kind !== 'partition') continue;
    for (
      let p = t.parentOid ? tables.get(t.parentOid) : undefined;
      p;
      p = p.parentOid ? tables.get(p.parentOid) : undefined
    ) {
      p.partitions?.push({ schema: t.schema, name: t.name });
      p.estimatedRows += t.estimatedRows;
      p.bytes += t.bytes;
    }
  }

  return {
    database: info[0].db,
    serverVersion: info[0].version.split(' ')[0],
    serverMajor: Math.floor(Number(info[0].num) / 10000),
    tables: [...tables.values()].map(({ oid: _oid, parentOid: _parent, ...t }) => t),
  };
}

function isSystemSchema(schema: string): boolean {
  return schema === 'pg_catalog' || schema === 'information_schema';
}

/** The user-defined type a column stands on: itself, or the element of an array of it. */
function userType(typid: string, types: Map<string, TypeRow>): CatalogColumn['userType'] {
  let t = types.get(typid);
  if (t && t.elem !== '0') t = types.get(t.elem);
  if (!t || isSystemSchema(t.schema)) return undefined;
  const kind = USER_TYPE_KIND[t.typtype];
  return kind ? { schema: t.schema, name: t.name, kind } : undefined;
}

/** Text, bytea, json, jsonb, xml, through domains and arrays (a domain over text[] counts too). */
function isLob(typid: string, types: Map<string, TypeRow>): boolean {
  for (let t = types.get(typid), hops = 0; t && hops < 32; hops++) {
    if (t.base !== '0') t = types.get(t.base);
    else if (t.elem !== '0') t = types.get(t.elem);
    else return t.schema === 'pg_catalog' && LOB_TYPES.has(t.name);
  }
  return false;
}

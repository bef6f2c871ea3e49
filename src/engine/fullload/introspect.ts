// Catalog queries pre-data and post-data need beyond SourceCatalog: type definitions, sequences,
// collations, generated-column and partition-key dependencies, indexes, constraints and triggers.
// Each query covers every table at once; sessions run with an empty search_path (see
// prepareCatalogSession), so every name the server prints is schema-qualified.
import type { Client } from 'pg';
import { qualify } from '../ident';

/** `schema.name` key of a relation, unquoted (for maps; never SQL). */
export function relKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

export interface Relation {
  oid: string;
  schema: string;
  name: string;
  /** relkind: r, p, v, m, ... */
  kind: string;
  /** `schema.name` as pg_get_*def print it (quote_ident each part). */
  printed: string;
}

/** The relations named, by relKey; missing names are absent from the map. */
export async function resolveRelations(
  c: Client,
  names: { schema: string; name: string }[],
): Promise<Map<string, Relation>> {
  const { rows } = await c.query<Relation>(
    `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
            pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS printed
       FROM unnest($1::text[], $2::text[]) AS u(s, r)
       JOIN pg_catalog.pg_namespace n ON n.nspname = u.s
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = u.r`,
    [names.map((n) => n.schema), names.map((n) => n.name)],
  );
  return new Map(rows.map((r) => [relKey(r.schema, r.name), r]));
}

export interface TypeDef {
  oid: string;
  schema: string;
  name: string;
  /** e enum, d domain, c composite, r range, m multirange, b base. */
  typtype: string;
  isArray: boolean;
  /** Extension the type belongs to (CREATE EXTENSION makes it), and that extension's schema. */
  extension: string | null;
  extensionSchema: string | null;
  labels: string[];
  /** Domain: base type, NOT NULL, default, collation clause, `CONSTRAINT x CHECK (...)` clauses. */
  base: string | null;
  notNull: boolean;
  defaultExpr: string | null;
  collation: string | null;
  checks: string[];
  /** Composite: `name type [COLLATE x]` per attribute. */
  attributes: string[];
  /** Range: subtype, non-default opclass, collation, canonical function (user-defined: unsupported), subtype_diff. */
  subtype: string | null;
  subtypeOpclass: string | null;
  rangeCollation: string | null;
  canonical: string | null;
  subtypeDiff: string | null;
  /** oids this type is built from (domain base, array element, attributes, range subtype). */
  deps: string[];
}

/** The user-defined types named and everything they are built from, recursively. */
export async function readTypes(c: Client, names: { schema: string; name: string }[]): Promise<TypeDef[]> {
  const { rows } = await c.query<TypeDef>(
    `WITH RECURSIVE need(oid) AS (
       SELECT t.oid FROM unnest($1::text[], $2::text[]) AS u(s, n)
         JOIN pg_catalog.pg_namespace n ON n.nspname = u.s
         JOIN pg_catalog.pg_type t ON t.typnamespace = n.oid AND t.typname = u.n
       UNION
       SELECT x.dep FROM need JOIN pg_catalog.pg_type t ON t.oid = need.oid,
         LATERAL (SELECT t.typbasetype AS dep WHERE t.typtype = 'd'
                  UNION ALL SELECT t.typelem WHERE t.typcategory = 'A' AND t.typelem <> 0
                  UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
                             WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                  UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) x
     )
     SELECT t.oid::int8::text AS oid, n.nspname AS schema, t.typname AS name, t.typtype::text AS typtype,
            (t.typcategory = 'A' AND t.typelem <> 0) AS "isArray",
            e.extname AS extension, en.nspname AS "extensionSchema",
            ARRAY(SELECT l.enumlabel::text FROM pg_catalog.pg_enum l WHERE l.enumtypid = t.oid ORDER BY l.enumsortorder) AS labels,
            CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base,
            t.typnotnull AS "notNull",
            pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS "defaultExpr",
            CASE WHEN t.typtype = 'd' AND t.typcollation <> 0
                      AND t.typcollation <> (SELECT b.typcollation FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype)
                 THEN (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                         FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                        WHERE co.oid = t.typcollation) END AS collation,
            ARRAY(SELECT 'CONSTRAINT ' || pg_catalog.quote_ident(k.conname) || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
                    FROM pg_catalog.pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c' ORDER BY k.conname) AS checks,
            ARRAY(SELECT pg_catalog.quote_ident(a.attname) || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) ||
                         CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation
                              THEN ' COLLATE ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                                                     FROM pg_catalog.pg_collation co
                                                     JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                                                    WHERE co.oid = a.attcollation)
                              ELSE '' END
                    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
                   WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                   ORDER BY a.attnum) AS attributes,
            CASE WHEN r.rngtypid IS NOT NULL THEN pg_catalog.format_type(r.rngsubtype, NULL) END AS subtype,
            CASE WHEN r.rngtypid IS NOT NULL AND NOT opc.opcdefault
                 THEN pg_catalog.quote_ident(opcn.nspname) || '.' || pg_catalog.quote_ident(opc.opcname) END AS "subtypeOpclass",
            CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation
                 THEN (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                         FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                        WHERE co.oid = r.rngcollation) END AS "rangeCollation",
            CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::regprocedure::text END AS canonical,
            CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::regprocedure::text END AS "subtypeDiff",
            ARRAY(SELECT x::int8::text FROM (
                    SELECT t.typbasetype AS x WHERE t.typtype = 'd'
                    UNION ALL SELECT t.typelem WHERE t.typcategory = 'A' AND t.typelem <> 0
                    UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
                               WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                    UNION ALL SELECT r.rngsubtype WHERE r.rngtypid IS NOT NULL) d) AS deps
       FROM need
       JOIN pg_catalog.pg_type t ON t.oid = need.oid
       JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
       LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
       LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
       LEFT JOIN pg_catalog.pg_namespace en ON en.oid = e.extnamespace
       LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
       LEFT JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype
       LEFT JOIN pg_catalog.pg_opclass opc ON opc.oid = r.rngsubopc
       LEFT JOIN pg_catalog.pg_namespace opcn ON opcn.oid = opc.opcnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    [names.map((n) => n.schema), names.map((n) => n.name)],
  );
  return rows;
}

/** A sequence's definition and state, as pg_sequence and pg_sequence_last_value give them. */
export interface SequenceDef {
  seqid: string;
  seqSchema: string;
  seqName: string;
  /** As regclass prints it, i.e. as it appears in a default's nextval('...'::regclass). */
  printed: string;
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  /** The column that owns it (OWNED BY / identity), if any. */
  ownerRelid: string | null;
  ownerColumn: string | null;
  /** pg_sequence_last_value: NULL before the first nextval (or when not readable). */
  lastValue: string | null;
  /** SELECT or USAGE on the sequence: its last value can be read. */
  readable: boolean;
  /** SELECT on the sequence: readSequenceStates can read last_value and is_called from it. */
  selectable: boolean;
}

export interface ColumnSequence extends SequenceDef {
  /** Table and column the sequence serves. */
  relid: string;
  column: string;
  /** 'identity': the column's identity sequence; 'default': its DEFAULT calls nextval on it. */
  kind: 'identity' | 'default';
}

/** Sequences behind the columns of `relids`: identity sequences and sequences their defaults use. */
export async function readColumnSequences(c: Client, relids: string[]): Promise<ColumnSequence[]> {
  const { rows } = await c.query<ColumnSequence>(
    `WITH uses AS (
       SELECT d.refobjid AS relid, a.attname AS col, 'identity' AS kind, d.objid AS seqid
         FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
          AND d.deptype = 'i' AND d.refobjid = ANY ($1::oid[]) AND d.refobjsubid > 0
          AND (SELECT s.relkind FROM pg_catalog.pg_class s WHERE s.oid = d.objid) = 'S'
       UNION ALL
       SELECT ad.adrelid, a.attname, 'default', d.refobjid
         FROM pg_catalog.pg_attrdef ad
         JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
                                    AND d.refclassid = 'pg_catalog.pg_class'::regclass
        WHERE ad.adrelid = ANY ($1::oid[])
          AND (SELECT s.relkind FROM pg_catalog.pg_class s WHERE s.oid = d.refobjid) = 'S'
     )
     SELECT u.relid::int8::text AS relid, u.col AS column, u.kind, s.oid::int8::text AS seqid, sn.nspname AS "seqSchema",
            s.relname AS "seqName", s.oid::regclass::text AS printed, pg_catalog.format_type(q.seqtypid, NULL) AS type,
            q.seqstart::text AS start, q.seqincrement::text AS increment, q.seqmin::text AS min, q.seqmax::text AS max,
            q.seqcache::text AS cache, q.seqcycle AS cycle,
            o.refobjid::int8::text AS "ownerRelid", oa.attname AS "ownerColumn",
            CASE WHEN pg_catalog.has_sequence_privilege(s.oid, 'SELECT,USAGE')
                 THEN pg_catalog.pg_sequence_last_value(s.oid)::text END AS "lastValue",
            pg_catalog.has_sequence_privilege(s.oid, 'SELECT,USAGE') AS readable,
            pg_catalog.has_sequence_privilege(s.oid, 'SELECT') AS selectable
       FROM uses u
       JOIN pg_catalog.pg_class s ON s.oid = u.seqid
       JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
       LEFT JOIN pg_catalog.pg_depend o ON o.classid = 'pg_catalog.pg_class'::regclass AND o.objid = s.oid
                                      AND o.refclassid = 'pg_catalog.pg_class'::regclass AND o.deptype IN ('a', 'i')
                                      AND o.refobjsubid > 0
       LEFT JOIN pg_catalog.pg_attribute oa ON oa.attrelid = o.refobjid AND oa.attnum = o.refobjsubid`,
    [relids],
  );
  return rows;
}

/**
 * Every sequence of `schemas` that may live on its own: not part of an extension (CREATE EXTENSION
 * makes those), not an identity sequence (it belongs to its column and is made with it), and not owned
 * (OWNED BY) by a column of a table outside `relids` or their partitions, since such a sequence is
 * only that table's and the table is not migrated. Sorted by schema and name. Callers drop the ones a
 * migrated column uses (readColumnSequences), which go with their column instead.
 */
export async function readSchemaSequences(
  c: Client,
  schemas: string[],
  relids: string[],
): Promise<SequenceDef[]> {
  if (schemas.length === 0) return [];
  const { rows } = await c.query<SequenceDef>(
    `WITH RECURSIVE migrated(oid) AS (
       SELECT unnest($2::oid[])
       UNION
       SELECT i.inhrelid FROM migrated m
         JOIN pg_catalog.pg_inherits i ON i.inhparent = m.oid
         JOIN pg_catalog.pg_class p ON p.oid = i.inhrelid AND p.relispartition
     )
     SELECT s.oid::int8::text AS seqid, sn.nspname AS "seqSchema", s.relname AS "seqName",
            s.oid::regclass::text AS printed, pg_catalog.format_type(q.seqtypid, NULL) AS type,
            q.seqstart::text AS start, q.seqincrement::text AS increment, q.seqmin::text AS min, q.seqmax::text AS max,
            q.seqcache::text AS cache, q.seqcycle AS cycle,
            o.refobjid::int8::text AS "ownerRelid", oa.attname AS "ownerColumn",
            CASE WHEN pg_catalog.has_sequence_privilege(s.oid, 'SELECT,USAGE')
                 THEN pg_catalog.pg_sequence_last_value(s.oid)::text END AS "lastValue",
            pg_catalog.has_sequence_privilege(s.oid, 'SELECT,USAGE') AS readable,
            pg_catalog.has_sequence_privilege(s.oid, 'SELECT') AS selectable
       FROM pg_catalog.pg_class s
       JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
       LEFT JOIN pg_catalog.pg_depend o ON o.classid = 'pg_catalog.pg_class'::regclass AND o.objid = s.oid
                                      AND o.refclassid = 'pg_catalog.pg_class'::regclass AND o.deptype IN ('a', 'i')
                                      AND o.refobjsubid > 0
       LEFT JOIN pg_catalog.pg_attribute oa ON oa.attrelid = o.refobjid AND oa.attnum = o.refobjsubid
      WHERE s.relkind = 'S' AND sn.nspname = ANY ($1::text[])
        AND (o.objid IS NULL OR (o.deptype = 'a' AND o.refobjid IN (SELECT m.oid FROM migrated m)))
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                         WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = s.oid AND e.deptype = 'e')
      ORDER BY sn.nspname, s.relname`,
    [schemas, relids],
  );
  return rows;
}

/**
 * last_value and is_called of each sequence, by seqid, read from the sequence itself (SELECT on it
 * needed): pg_sequence_last_value gives NULL whenever is_called is false, which hides a value set by
 * setval(s, v, false). Sequences are not transactional: this is their state now, whatever the snapshot.
 */
export async function readSequenceStates(
  c: Client,
  seqs: Pick<SequenceDef, 'seqid' | 'seqSchema' | 'seqName'>[],
): Promise<Map<string, { lastValue: string; isCalled: boolean }>> {
  const out = new Map<string, { lastValue: string; isCalled: boolean }>();
  // A few hundred per statement: one round trip each, and no statement too long to plan quickly.
  for (let i = 0; i < seqs.length; i += 200) {
    const chunk = seqs.slice(i, i + 200);
    const { rows } = await c.query<{ i: number; v: string; called: boolean }>(
      chunk
        .map(
          (s, j) =>
            `SELECT ${j} AS i, last_value::text AS v, is_called AS called FROM ${qualify(s.seqSchema, s.seqName)}`,
        )
        .join(' UNION ALL '),
    );
    for (const r of rows) out.set(chunk[r.i].seqid, { lastValue: r.v, isCalled: r.called });
  }
  return out;
}

/** Non-default column collations, by relid then column: `COLLATE x` clauses. */
export async function readCollations(c: Client, relids: string[]): Promise<Map<string, Map<string, string>>> {
  const { rows } = await c.query<{ relid: string; col: string; coll: string }>(
    `SELECT a.attrelid::int8::text AS relid, a.attname AS col,
            pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) AS coll
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
       JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
      WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
        AND a.attcollation <> 0 AND a.attcollation <> t.typcollation`,
    [relids],
  );
  const out = new Map<string, Map<string, string>>();
  for (const r of rows) {
    if (!out.has(r.relid)) out.set(r.relid, new Map());
    out.get(r.relid)!.set(r.col, r.coll);
  }
  return out;
}

/** Columns each stored generated column's expression reads, by relid then column. */
export async function readGeneratedDeps(
  c: Client,
  relids: string[],
): Promise<Map<string, Map<string, string[]>>> {
  const { rows } = await c.query<{ relid: string; col: string; refs: string[] }>(
    `SELECT ad.adrelid::int8::text AS relid, a.attname AS col,
            ARRAY(SELECT ra.attname::text FROM pg_catalog.pg_depend d
                    JOIN pg_catalog.pg_attribute ra ON ra.attrelid = d.refobjid AND ra.attnum = d.refobjsubid
                   WHERE d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
                     AND d.refobjid = ad.adrelid AND d.refobjsubid > 0 AND d.refobjsubid <> ad.adnum) AS refs
       FROM pg_catalog.pg_attrdef ad
       JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
      WHERE ad.adrelid = ANY ($1::oid[]) AND a.attgenerated = 's'`,
    [relids],
  );
  const out = new Map<string, Map<string, string[]>>();
  for (const r of rows) {
    if (!out.has(r.relid)) out.set(r.relid, new Map());
    out.get(r.relid)!.set(r.col, r.refs);
  }
  return out;
}

export interface Partitioning {
  relid: string;
  /** pg_get_partkeydef: `RANGE (paid_at)`. */
  keyDef: string;
  /** Columns the key reads (plain key columns, and those its expressions use). */
  keyColumns: string[];
  hasExpressions: boolean;
  /** Direct children: name, schema, FOR VALUES ... / DEFAULT, and whether it is partitioned itself. */
  children: { schema: string; name: string; bound: string; partitioned: boolean }[];
}

export async function readPartitioning(c: Client, relids: string[]): Promise<Map<string, Partitioning>> {
  const { rows } = await c.query<Partitioning>(
    `SELECT p.partrelid::int8::text AS relid, pg_catalog.pg_get_partkeydef(p.partrelid) AS "keyDef",
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = p.partrelid AND (a.attnum = ANY (p.partattrs::int2[])
                      OR a.attnum IN (SELECT d.refobjsubid FROM pg_catalog.pg_depend d
                                       WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = p.partrelid
                                         AND d.refobjid = p.partrelid AND d.refobjsubid > 0))) AS "keyColumns",
            p.partexprs IS NOT NULL AS "hasExpressions",
            coalesce((SELECT json_agg(json_build_object('schema', cn.nspname, 'name', c.relname,
                                                        'bound', pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                                        'partitioned', c.relkind = 'p') ORDER BY c.relname)
                        FROM pg_catalog.pg_inherits i
                        JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                        JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
                       WHERE i.inhparent = p.partrelid), '[]') AS children
       FROM pg_catalog.pg_partitioned_table p
      WHERE p.partrelid = ANY ($1::oid[])`,
    [relids],
  );
  return new Map(rows.map((r) => [r.relid, r]));
}

export interface IndexDef {
  oid: string;
  relid: string;
  name: string;
  /** quote_ident(name), as pg_get_indexdef prints it. */
  printedName: string;
  def: string;
  primary: boolean;
  unique: boolean;
  valid: boolean;
  hasExpressions: boolean;
  hasPredicate: boolean;
  /** Columns the index reads: key and INCLUDE columns, and those its expressions and predicate use. */
  columns: string[];
  /** The constraint the index backs (p, u, x), if any. */
  constraintName: string | null;
  constraintType: string | null;
  constraintDef: string | null;
  deferrable: boolean;
  deferred: boolean;
  /** The partitioned index this one is a partition of. */
  parentIndex: string | null;
  bytes: string;
}

export async function readIndexes(c: Client, relids: string[]): Promise<IndexDef[]> {
  const { rows } = await c.query<IndexDef>(
    `SELECT i.indexrelid::int8::text AS oid, i.indrelid::int8::text AS relid, ic.relname AS name,
            pg_catalog.quote_ident(ic.relname) AS "printedName", pg_catalog.pg_get_indexdef(i.indexrelid) AS def,
            i.indisprimary AS primary, i.indisunique AS unique, i.indisvalid AS valid,
            i.indexprs IS NOT NULL AS "hasExpressions", i.indpred IS NOT NULL AS "hasPredicate",
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = i.indrelid AND a.attnum > 0
                     AND (a.attnum = ANY (i.indkey::int2[])
                          OR a.attnum IN (SELECT d.refobjsubid FROM pg_catalog.pg_depend d
                                           WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = i.indexrelid
                                             AND d.refobjid = i.indrelid))
                   ORDER BY a.attnum) AS columns,
            k.conname AS "constraintName", k.contype::text AS "constraintType",
            CASE WHEN k.oid IS NOT NULL THEN pg_catalog.pg_get_constraintdef(k.oid) END AS "constraintDef",
            coalesce(k.condeferrable, false) AS deferrable, coalesce(k.condeferred, false) AS deferred,
            (SELECT h.inhparent::int8::text FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid) AS "parentIndex",
            pg_catalog.pg_relation_size(i.indexrelid)::text AS bytes
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                                          AND k.contype IN ('p', 'u', 'x')
      WHERE i.indrelid = ANY ($1::oid[])
      ORDER BY i.indrelid, ic.relname`,
    [relids],
  );
  return rows;
}

export interface ConstraintDef {
  oid: string;
  relid: string;
  name: string;
  /** c check, f foreign key. */
  type: string;
  def: string;
  columns: string[];
  /** Foreign keys: referenced table and columns; printedRef as the definition prints it. */
  refRelid: string | null;
  refSchema: string | null;
  refName: string | null;
  refPrinted: string | null;
  refColumns: string[];
  /** Set on the clone of a partitioned table's constraint (the partition's or a referenced partition's). */
  parentConstraint: string | null;
  /** Check constraints: inherited from the parent (not defined on this table itself). */
  inherited: boolean;
}

export async function readConstraints(c: Client, relids: string[]): Promise<ConstraintDef[]> {
  const { rows } = await c.query<ConstraintDef>(
    `SELECT k.oid::int8::text AS oid, k.conrelid::int8::text AS relid, k.conname AS name, k.contype::text AS type,
            pg_catalog.pg_get_constraintdef(k.oid) AS def,
            ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(n, o)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o) AS columns,
            nullif(k.confrelid, 0)::int8::text AS "refRelid", rn.nspname AS "refSchema", rc.relname AS "refName",
            CASE WHEN rc.oid IS NOT NULL
                 THEN pg_catalog.quote_ident(rn.nspname) || '.' || pg_catalog.quote_ident(rc.relname) END AS "refPrinted",
            ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS u(n, o)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o) AS "refColumns",
            nullif(k.conparentid, 0)::int8::text AS "parentConstraint",
            NOT k.conislocal AS inherited
       FROM pg_catalog.pg_constraint k
       LEFT JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid
       LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE k.conrelid = ANY ($1::oid[]) AND k.contype IN ('c', 'f')
      ORDER BY k.conrelid, k.conname`,
    [relids],
  );
  return rows;
}

export interface TriggerDef {
  oid: string;
  relid: string;
  name: string;
  def: string;
  /** tgenabled: O origin, D disabled, R replica, A always. */
  enabled: string;
  /** Columns of UPDATE OF and those the WHEN clause reads. */
  columns: string[];
  /** The partitioned table's trigger this one was cloned from (13+). */
  parentTrigger: string | null;
  /** Constraint trigger naming another table (FROM ...): not rewritten. */
  hasRefTable: boolean;
  funcSchema: string;
  funcName: string;
  /** CREATE OR REPLACE FUNCTION ... of the trigger function. */
  funcDef: string;
}

export async function readTriggers(c: Client, relids: string[], serverMajor: number): Promise<TriggerDef[]> {
  // tgparentid arrived in 13; before it, clones on partitions are internal triggers (filtered out).
  const parent = serverMajor >= 13 ? 'nullif(t.tgparentid, 0)::int8::text' : 'NULL::text';
  const { rows } = await c.query<TriggerDef>(
    `SELECT t.oid::int8::text AS oid, t.tgrelid::int8::text AS relid, t.tgname AS name,
            pg_catalog.pg_get_triggerdef(t.oid) AS def, t.tgenabled::text AS enabled,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = t.tgrelid AND a.attnum > 0
                     AND (a.attnum = ANY (t.tgattr::int2[])
                          OR a.attnum IN (SELECT d.refobjsubid FROM pg_catalog.pg_depend d
                                           WHERE d.classid = 'pg_catalog.pg_trigger'::regclass AND d.objid = t.oid
                                             AND d.refobjid = t.tgrelid))) AS columns,
            ${parent} AS "parentTrigger", t.tgconstrrelid <> 0 AS "hasRefTable",
            pn.nspname AS "funcSchema", p.proname AS "funcName", pg_catalog.pg_get_functiondef(p.oid) AS "funcDef"
       FROM pg_catalog.pg_trigger t
       JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
       JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
      WHERE t.tgrelid = ANY ($1::oid[]) AND NOT t.tgisinternal
      ORDER BY t.tgrelid, t.tgname`,
    [relids],
  );
  return rows;
}

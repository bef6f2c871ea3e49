// What validation compares for one table, as SQL: the source read as the target should hold it (the
// full load's column expressions cast to the target types, the table's row filter, limited-LOB cuts),
// the target read as it is, the key both sides are ordered and ranged by, and the row hash.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import type { MigrationPlan, TablePlan } from '../../mapping/types';
import { columnExpr, lobCut } from '../fullload/copy';
import { relationSql } from '../fullload/segments';
import { andPredicates, filterSql } from '../fullload/sql';
import { displayName, qualify, quoteIdent, quoteLiteral } from '../ident';
import type { ValidationConfig } from './types';

/** Values of LOB columns longer than this are shown (and stored) as their md5 and length only. */
export const LOB_SHOW_CHARS = 256;

/** Types DMS treats as LOBs on PostgreSQL (and arrays of them), by base type after domains. */
const LOB_TYPES = new Set(['text', 'bytea', 'json', 'jsonb', 'xml']);

/**
 * Add-column expressions whose value depends on when they are evaluated: the full load and a CDC apply
 * (or a re-read) give different values, so comparing them would only report noise.
 */
const VOLATILE =
  /\b(now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random|gen_random_uuid|uuid_generate_v[14]|txid_current|pg_current_xact_id|current_timestamp|localtimestamp|current_date|current_time|localtime)\b/i;

export interface KeyColumn {
  name: string;
  type: string;
  /** The key's value on the source: the full load's expression, typed. */
  src: string;
  /** On the target: the column. */
  tgt: string;
  /** Collatable (text-like): ordered and ranged with COLLATE "C" on both sides. */
  collate: boolean;
}

export interface CompareColumn {
  name: string;
  lob: boolean;
  /** Text that goes into the row hash. */
  srcCmp: string;
  tgtCmp: string;
  /** Text recorded in a failure (LOBs above LOB_SHOW_CHARS as md5 and length). */
  srcShow: string;
  tgtShow: string;
}

export interface TableShape {
  plan: TablePlan;
  /** displayName of the source table. */
  key: string;
  source: string;
  target: string;
  /** Source relation and predicate (filter, excluded partitions); target relation. */
  from: string;
  where: string;
  into: string;
  /** Empty: no usable key, row counts only (`keyless` says why). */
  keys: KeyColumn[];
  keyless?: string;
  /** Where the key comes from when it is not the plan's primary key. */
  keyNote?: string;
  columns: CompareColumn[];
  /** Columns left out of the comparison, and why. */
  excluded: { column: string; reason: string }[];
}

interface TargetColumn {
  name: string;
  base: string;
  elem: string;
  collatable: boolean;
  notNull: boolean;
}

/** The target table's columns (types resolved through domains) and its unique keys on NOT NULL columns. */
async function describeTarget(
  c: Client,
  table: TablePlan,
): Promise<{ columns: Map<string, TargetColumn>; uniqueKeys: { name: string; columns: string[] }[] }> {
  const qualified = qualify(table.target.schema, table.target.name);
  const { rows: exists } = await c.query<{ oid: string | null }>(
    `SELECT pg_catalog.to_regclass($1)::oid::text AS oid`,
    [qualified],
  );
  if (!exists[0]?.oid) {
    throw new FerryError(
      ErrorType.SCHEMA_MISMATCH,
      `target table ${displayName(table.target.schema, table.target.name)} does not exist; load the table first`,
    );
  }
  const { rows } = await c.query<TargetColumn>(
    `WITH RECURSIVE cols AS (
       SELECT a.attnum, a.attname, a.atttypid, a.attcollation, a.attnotnull FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
     ), d(attnum, cur, depth) AS (
       SELECT attnum, atttypid, 0 FROM cols
       UNION ALL
       SELECT d.attnum, t.typbasetype, d.depth + 1 FROM d JOIN pg_catalog.pg_type t ON t.oid = d.cur
        WHERE t.typtype = 'd' AND d.depth < 32
     )
     SELECT c.attname AS name, c.attcollation <> 0 AS collatable, c.attnotnull AS "notNull",
            CASE WHEN n.nspname = 'pg_catalog' THEN b.typname::text ELSE '' END AS base,
            CASE WHEN en.nspname = 'pg_catalog' THEN e.typname::text ELSE '' END AS elem
       FROM cols c
       JOIN d ON d.attnum = c.attnum
       JOIN pg_catalog.pg_type b ON b.oid = d.cur AND b.typtype <> 'd'
       JOIN pg_catalog.pg_namespace n ON n.oid = b.typnamespace
       LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem AND b.typcategory = 'A'
       LEFT JOIN pg_catalog.pg_namespace en ON en.oid = e.typnamespace`,
    [qualified],
  );
  const { rows: uniques } = await c.query<{ name: string; columns: string[] }>(
    `SELECT i.indexrelid::regclass::text AS name, array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_catalog.pg_index i
      CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
        AND i.indexprs IS NULL AND k.ord <= i.indnkeyatts
      GROUP BY i.indexrelid, i.indisprimary
     HAVING bool_and(a.attnotnull)
      ORDER BY i.indisprimary DESC, count(*), 1`,
    [qualified],
  );
  return { columns: new Map(rows.map((r) => [r.name, r])), uniqueKeys: uniques };
}

/** A value's text for failure records: LOBs above LOB_SHOW_CHARS as md5 and length. */
function showExpr(text: string, lob: boolean): string {
  if (!lob) return text;
  return `(CASE WHEN length(${text}) > ${LOB_SHOW_CHARS} THEN 'md5:' || md5(${text}) || ' (length ' || length(${text}) || ')' ELSE ${text} END)`;
}

/** Source predicate leaving out leaf partitions an exclude rule removed from a partitioned table. */
function excludedPartitions(plan: MigrationPlan, table: TablePlan): string | undefined {
  if (table.source.kind !== 'partitioned') return undefined;
  const excluded = plan.skipped.filter((s) => s.reason.startsWith('excluded by'));
  if (!excluded.length) return undefined;
  const oids = excluded.map(
    (s) => `coalesce(pg_catalog.to_regclass(${quoteLiteral(qualify(s.schema, s.name))})::oid, 0)`,
  );
  return `tableoid <> ALL (ARRAY[${oids.join(', ')}]::oid[])`;
}

/**
 * Build the comparison of one table. Reads the target's catalog (column types, unique keys).
 * @throws SCHEMA_MISMATCH when the target table or a planned column is missing.
 */
export async function tableShape(
  target: Client,
  plan: MigrationPlan,
  table: TablePlan,
  cfg: ValidationConfig,
): Promise<TableShape> {
  const { columns: tcols, uniqueKeys } = await describeTarget(target, table);
  const targetName = displayName(table.target.schema, table.target.name);
  const shape: TableShape = {
    plan: table,
    key: displayName(table.source.schema, table.source.name),
    source: displayName(table.source.schema, table.source.name),
    target: targetName,
    from: relationSql(table.source),
    where: andPredicates(filterSql(table.filter), excludedPartitions(plan, table)),
    into: qualify(table.target.schema, table.target.name),
    keys: [],
    columns: [],
    excluded: [],
  };
  const partialChars = cfg.partialLobSizeKb * 1024;
  /** Each column's source value, typed, as the full load wrote it. */
  const values = new Map<string, string>();
  for (const c of table.columns) {
    const t = tcols.get(c.target);
    if (!t) {
      throw new FerryError(
        ErrorType.SCHEMA_MISMATCH,
        `${targetName} has no column "${c.target}" that the plan loads; create the target schema from the same plan`,
      );
    }
    const lob = LOB_TYPES.has(t.base) || LOB_TYPES.has(t.elem);
    const isKey = table.primaryKey.includes(c.target);
    let reason: string | undefined;
    if (c.masking) reason = `masked (${c.masking}): DMS does not validate masked columns`;
    else if (c.beforeImageOf)
      reason = `before-image column of "${c.beforeImageOf}" (holds old values during CDC)`;
    else if (c.headers?.length)
      reason = `computed from ${c.headers.join(', ')} (full load and CDC write different values)`;
    else if (c.expression && !c.source && VOLATILE.test(c.expression))
      reason = 'computed by a volatile expression';
    else if (lob && !isKey && cfg.skipLobColumns) reason = 'LOB column (SkipLobColumns)';
    if (reason) {
      shape.excluded.push({ column: c.target, reason });
      continue;
    }
    const value = lobCut(table, c, t.base)?.expr ?? columnExpr(c, table);
    values.set(c.target, value);
    const partial = lob && !isKey && partialChars > 0;
    const cmp = (typed: string) => (partial ? `left((${typed})::text, ${partialChars})` : `(${typed})::text`);
    shape.columns.push({
      name: c.target,
      lob: lob && !isKey,
      srcCmp: cmp(value),
      tgtCmp: cmp(quoteIdent(c.target)),
      srcShow: showExpr(`(${value})::text`, lob && !isKey),
      tgtShow: showExpr(`(${quoteIdent(c.target)})::text`, lob && !isKey),
    });
  }

  // The key: the plan's primary key, else a unique index of the target on NOT NULL compared columns.
  const compared = new Set(shape.columns.map((c) => c.name));
  let keyNames = table.primaryKey;
  if (keyNames.length === 0) {
    const u = uniqueKeys.find((k) => k.columns.every((n) => compared.has(n)));
    if (u) {
      keyNames = u.columns;
      shape.keyNote = `no primary key: rows are matched by unique index ${u.name} (${u.columns.join(', ')})`;
    }
  }
  const missing = keyNames.filter((n) => !compared.has(n));
  if (keyNames.length === 0) {
    shape.keyless = 'no primary key or unique index on NOT NULL columns: not validatable, row counts only';
  } else if (missing.length) {
    const why = missing.map((n) => shape.excluded.find((e) => e.column === n)?.reason ?? 'not in the plan');
    shape.keyless = `key column(s) ${missing.join(', ')} cannot be compared (${why.join('; ')}): row counts only`;
  } else {
    shape.keys = keyNames.map((name) => {
      const c = table.columns.find((x) => x.target === name)!;
      return {
        name,
        type: c.type,
        src: values.get(name)!,
        tgt: quoteIdent(name),
        collate: tcols.get(name)!.collatable,
      };
    });
  }
  return shape;
}

// Data types the target supports differently (SCT's "supported data types" for PostgreSQL → Aurora
// PostgreSQL), and database properties text depends on: encoding, default collation, column collations.
import type { Client } from 'pg';
import type { PgConnInfo } from '../engine/connection';
import { displayName, qualify, quoteIdent, quoteLiteral } from '../engine/ident';
import type { MigrationPlan } from '../mapping/types';
import { type EndpointFacts, errorText } from './connectivity';
import { Findings, columnDisplay, objectName } from './findings';

/**
 * One row per (selected column, type it stands on): the column's own type, then through domains and
 * array elements down to the base. `extension` names the extension owning the type, if any.
 */
const COLUMN_TYPES_SQL = `
WITH RECURSIVE cols AS (
  SELECT c.oid AS relid, n.nspname AS schema, c.relname AS tbl, a.attnum, a.attname,
         a.atttypid, a.attcollation, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
    FROM unnest($1::text[], $2::text[], $3::text[]) AS w(schema, name, col)
    JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = w.col AND a.attnum > 0 AND NOT a.attisdropped
), chain(relid, attnum, typid, depth) AS (
  SELECT relid, attnum, atttypid, 0 FROM cols
  UNION ALL
  SELECT ch.relid, ch.attnum, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END, ch.depth + 1
    FROM chain ch JOIN pg_catalog.pg_type t ON t.oid = ch.typid
   WHERE ch.depth < 8 AND (t.typtype = 'd' OR (t.typcategory = 'A' AND t.typelem <> 0))
)
SELECT cols.schema, cols.tbl, cols.attname AS column, cols.type, tn.nspname AS type_schema, t.typname AS type_name,
       t.typtype::text AS typtype,
       (SELECT e.extname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
         WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid AND d.deptype = 'e'
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass LIMIT 1) AS extension,
       (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = t.typinput) AS input_fn
  FROM cols
  JOIN chain ON chain.relid = cols.relid AND chain.attnum = cols.attnum
  JOIN pg_catalog.pg_type t ON t.oid = chain.typid
  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
 ORDER BY cols.schema, cols.tbl, cols.attnum, chain.depth`;

/** Non-default column collations of the selected tables, with what CREATE COLLATION needs. */
const COLLATIONS_SQL = `
WITH used AS (
  SELECT a.attcollation AS coll,
         pg_catalog.string_agg(pg_catalog.format('%s.%s.%s', n.nspname, c.relname, a.attname), ', ') AS columns
    FROM unnest($1::text[], $2::text[], $3::text[]) AS x(schema, name, col)
    JOIN pg_catalog.pg_namespace n ON n.nspname = x.schema
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = x.name
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = x.col AND a.attnum > 0 AND NOT a.attisdropped
   WHERE a.attcollation <> 0
   GROUP BY a.attcollation
)
SELECT cn.nspname AS schema, co.collname AS name, co.collprovider::text AS provider,
       pg_catalog.to_jsonb(co) ->> 'collcollate' AS collate, pg_catalog.to_jsonb(co) ->> 'collctype' AS ctype,
       COALESCE(pg_catalog.to_jsonb(co) ->> 'colliculocale', pg_catalog.to_jsonb(co) ->> 'colllocale') AS icu_locale,
       co.collisdeterministic AS deterministic, used.columns
  FROM used
  JOIN pg_catalog.pg_collation co ON co.oid = used.coll
  JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
 WHERE co.collname <> 'default'
 ORDER BY 1, 2`;

interface ColumnTypeRow {
  schema: string;
  tbl: string;
  column: string;
  type: string;
  type_schema: string;
  type_name: string;
  typtype: string;
  extension: string | null;
  input_fn: string | null;
}

/**
 * The source columns the plan copies, as (schema, table, column) arrays: columns a rule removes are not
 * migrated, so their types do not matter. `asIs`: only columns keeping their source type (a
 * change-data-type or an add-column expression gives the target column another type, which the mapping
 * checks look at; masking keeps it).
 */
function plannedColumns(plan: MigrationPlan, asIs: boolean): [string[], string[], string[]] {
  const out: [string[], string[], string[]] = [[], [], []];
  for (const t of plan.tables) {
    for (const c of t.columns) {
      if (c.source === undefined || c.beforeImageOf !== undefined) continue;
      if (asIs && c.expression !== undefined && c.generated === undefined && c.masking === undefined)
        continue;
      out[0].push(t.source.schema);
      out[1].push(t.source.name);
      out[2].push(c.source);
    }
  }
  return out;
}

/** Types of the columns copied as they are: user-defined base types, money, xml, tsvector/tsquery, timestamp without time zone. */
export async function checkColumnTypes(
  source: Client,
  conn: PgConnInfo,
  plan: MigrationPlan,
  sourceFacts: EndpointFacts,
  targetFacts: EndpointFacts | undefined,
  target: Client | undefined,
  findings: Findings,
): Promise<void> {
  findings.ran(
    'type-user-defined-base',
    'type-money',
    'type-xml',
    'type-tsvector',
    'type-timestamp-without-tz',
  );
  let rows: ColumnTypeRow[];
  try {
    rows = (await source.query<ColumnTypeRow>(COLUMN_TYPES_SQL, plannedColumns(plan, true))).rows;
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(conn.endpointId),
      `reading column types failed: ${errorText(err, conn)}`,
    );
    return;
  }
  const seen = new Set<string>();
  const once = (key: string) => (seen.has(key) ? false : (seen.add(key), true));
  let fullText = false;
  for (const r of rows) {
    const tname = displayName(r.schema, r.tbl);
    const object = objectName.column(tname, r.column);
    const col = columnDisplay(tname, r.column);
    const builtin = r.type_schema === 'pg_catalog';
    if (r.typtype === 'b' && !builtin && r.type_schema !== 'information_schema' && !r.extension) {
      if (!once(`base ${object}`)) continue;
      const typ = displayName(r.type_schema, r.type_name);
      findings.add(
        'type-user-defined-base',
        object,
        `${col} is of user-defined base type ${typ} (${r.type}), created with CREATE TYPE and input function ` +
          `${r.input_fn ?? '?'}: the target cannot create it without the C code behind its functions`,
      );
      continue;
    }
    if (!builtin) continue;
    switch (r.type_name) {
      case 'money':
        if (once(`money ${object}`)) {
          const lc =
            targetFacts && targetFacts.lcMonetary !== sourceFacts.lcMonetary
              ? `; lc_monetary is ${sourceFacts.lcMonetary} on the source but ${targetFacts.lcMonetary} on the target, so amounts are read with another currency format`
              : ` (lc_monetary ${sourceFacts.lcMonetary} on the source${targetFacts ? ', the same on the target' : ''})`;
          findings.add(
            'type-money',
            object,
            `${col} is money, whose text form and parsing depend on lc_monetary${lc}`,
            `keep lc_monetary equal on both sides (ALTER DATABASE ... SET lc_monetary = ${quoteLiteral(sourceFacts.lcMonetary)} on the target), or change ${col} to numeric(19,2)`,
          );
        }
        break;
      case 'xml':
        if (once(`xml ${object}`))
          findings.add(
            'type-xml',
            object,
            `${col} is xml: copied as text, a LOB to DMS (LOB size limits apply), compared as text by validation`,
          );
        break;
      case 'tsvector':
      case 'tsquery':
        if (once(`ts ${object}`)) {
          fullText = true;
          findings.add(
            'type-tsvector',
            object,
            `${col} is ${r.type_name}: its lexemes were made by a text search configuration that must exist on the target to query or rebuild it`,
          );
        }
        break;
      case 'timestamp':
        if (once(`ts-no-tz ${object}`))
          findings.add(
            'type-timestamp-without-tz',
            object,
            `${col} is ${r.type}: values carry no time zone; they are copied unchanged, and mean what the application assumes`,
            `consider ALTER TABLE ${qualify(r.schema, r.tbl)} ALTER COLUMN ${quoteIdent(r.column)} TYPE timestamptz ` +
              `USING ${quoteIdent(r.column)} AT TIME ZONE '<the zone the values are in>' (source or target), and keep TimeZone equal on both`,
          );
        break;
    }
  }
  if (!fullText) return;
  // Custom text search configurations on the source that the target lacks.
  try {
    const { rows: configs } = await source.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.cfgname AS name FROM pg_catalog.pg_ts_config c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace WHERE n.nspname <> 'pg_catalog'`,
    );
    if (configs.length === 0 || !target) return;
    const { rows: present } = await target.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.cfgname AS name FROM pg_catalog.pg_ts_config c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace`,
    );
    const have = new Set(present.map((p) => displayName(p.schema, p.name)));
    const missing = configs.map((c) => displayName(c.schema, c.name)).filter((k) => !have.has(k));
    if (missing.length) {
      findings.add(
        'type-tsvector',
        objectName.endpoint(conn.endpointId),
        `custom text search configuration(s) ${missing.join(', ')} exist on the source but not on the target`,
        `dump them with pg_dump --schema-only and create them (and their dictionaries) on the target before the load`,
      );
    }
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(conn.endpointId),
      `reading text search configurations failed: ${errorText(err, conn)}`,
    );
  }
}

/** Encoding and default collation of the two databases. */
export function checkDatabaseProperties(
  source: PgConnInfo,
  sourceFacts: EndpointFacts,
  target: PgConnInfo,
  targetFacts: EndpointFacts,
  findings: Findings,
): void {
  findings.ran('encoding-mismatch', 'encoding-sql-ascii', 'collation-mismatch');
  const object = objectName.endpoint(target.endpointId);
  const s = sourceFacts.encoding;
  const t = targetFacts.encoding;
  if (s !== t) {
    if (s === 'SQL_ASCII') {
      findings.add(
        'encoding-sql-ascii',
        objectName.endpoint(source.endpointId),
        `the source database is SQL_ASCII (bytes unchecked) and the target database is ${t}: text that is not valid ${t} fails to load`,
      );
    } else if (t !== 'UTF8') {
      findings.add(
        'encoding-mismatch',
        object,
        `the target database ${targetFacts.database} is encoded ${t}, the source ${sourceFacts.database} ${s}: ` +
          `characters ${t} cannot represent fail to load`,
        `CREATE DATABASE ${quoteIdent(targetFacts.database)} ... ENCODING 'UTF8' TEMPLATE template0 (a new name, or drop the empty one first) and point endpoint ${target.endpointId} at it`,
      );
    }
  }
  const diffs: string[] = [];
  if (sourceFacts.collate !== targetFacts.collate)
    diffs.push(`LC_COLLATE ${sourceFacts.collate} on the source, ${targetFacts.collate} on the target`);
  if (sourceFacts.ctype !== targetFacts.ctype)
    diffs.push(`LC_CTYPE ${sourceFacts.ctype} on the source, ${targetFacts.ctype} on the target`);
  if (diffs.length) {
    findings.add(
      'collation-mismatch',
      object,
      `the databases' default collation differs (${diffs.join('; ')}): ORDER BY, text comparisons, upper/lower ` +
        `and unique indexes on text can behave differently after the migration`,
      `create the target database with LC_COLLATE ${quoteLiteral(sourceFacts.collate)} LC_CTYPE ${quoteLiteral(sourceFacts.ctype)} TEMPLATE template0, or accept and test the difference`,
    );
  }
}

/** Column collations that the target does not have (by schema and name). */
export async function checkColumnCollations(
  source: Client,
  conn: PgConnInfo,
  target: Client,
  targetConn: PgConnInfo,
  plan: MigrationPlan,
  findings: Findings,
): Promise<void> {
  findings.ran('collation-missing');
  try {
    const { rows } = await source.query<{
      schema: string;
      name: string;
      provider: string;
      collate: string | null;
      ctype: string | null;
      icu_locale: string | null;
      deterministic: boolean;
      columns: string;
    }>(COLLATIONS_SQL, plannedColumns(plan, false));
    if (rows.length === 0) return;
    const { rows: present } = await target.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.collname AS name FROM pg_catalog.pg_collation c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
        WHERE c.collencoding IN (-1, pg_catalog.pg_char_to_encoding(pg_catalog.getdatabaseencoding()))`,
    );
    const have = new Set(present.map((p) => `${p.schema}\u0000${p.name}`));
    for (const r of rows) {
      if (have.has(`${r.schema}\u0000${r.name}`)) continue;
      const name = qualify(r.schema, r.name);
      const provider = r.provider === 'i' ? 'icu' : r.provider === 'c' ? 'libc' : 'default';
      const locale = r.provider === 'i' ? (r.icu_locale ?? r.collate ?? '') : (r.collate ?? '');
      const create =
        r.provider === 'c' && r.collate !== r.ctype
          ? `CREATE COLLATION ${name} (provider = libc, lc_collate = ${quoteLiteral(r.collate ?? '')}, lc_ctype = ${quoteLiteral(r.ctype ?? '')})`
          : `CREATE COLLATION ${name} (provider = ${provider}, locale = ${quoteLiteral(locale)}${r.deterministic ? '' : ', deterministic = false'})`;
      findings.add(
        'collation-missing',
        objectName.collation(displayName(r.schema, r.name)),
        `collation ${displayName(r.schema, r.name)} (${provider}, locale ${locale || '?'}) used by ${r.columns} does not exist on target ${targetConn.endpointId}`,
        `${r.schema === 'pg_catalog' ? `install the locale on the target server, or ` : ''}${create} on the target before the load (create schema ${quoteIdent(r.schema)} first if needed)`,
      );
    }
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(conn.endpointId),
      `reading column collations failed: ${errorText(err, conn)}`,
    );
  }
}

// DMS data types ↔ PostgreSQL types: what an `add-column` / `change-data-type` data-type becomes on a
// PostgreSQL target, and which DMS type a source PostgreSQL column has (for locator `data-type`
// matching, masking and range-column checks), both as tables that say where each entry comes from.
import type { CatalogColumn, DmsDataType } from './types';

/** The DMS type names a `data-type.type` may use (DMS user guide, transformation rules). */
export const DMS_TYPE_NAMES = [
  'bytes',
  'date',
  'time',
  'datetime',
  'int1',
  'int2',
  'int4',
  'int8',
  'numeric',
  'real4',
  'real8',
  'string',
  'uint1',
  'uint2',
  'uint4',
  'uint8',
  'wstring',
  'blob',
  'nclob',
  'clob',
  'boolean',
  'set',
  'list',
  'map',
  'tuple',
] as const;

/**
 * DMS type → PostgreSQL target type. Follows "DMS type → PG target" of the DMS PostgreSQL-target page;
 * where Ferry differs it says why.
 *
 * | DMS type            | PostgreSQL type                       | note |
 * |---------------------|---------------------------------------|------|
 * | string, wstring     | character varying(n) for n 1–21845    | no length, or n > 21845: text (DMS: varchar(65535); text never truncates) |
 * | int1, int2, uint1   | smallint                              | |
 * | int4, uint2         | integer                               | |
 * | int8, uint4, uint8  | bigint                                | DMS's choice for uint8 too (values above 2^63-1 do not fit) |
 * | numeric             | numeric(p,s) / numeric(p) / numeric   | precision 1–1000, scale 0–p |
 * | real4               | real                                  | |
 * | real8               | double precision                      | |
 * | date                | date                                  | |
 * | time                | time(s) without time zone             | scale 0–6, else time without time zone |
 * | datetime            | timestamp(s) without time zone        | scale (or precision) 0–6; 7–9: character varying(37), as DMS does |
 * | boolean             | boolean                               | |
 * | bytes, blob         | bytea                                 | |
 * | clob, nclob         | text                                  | |
 * | set, list, map, tuple | (refused)                           | Cassandra/DynamoDB collection types: no PostgreSQL column type |
 */
export function dmsToPostgres(dt: DmsDataType): { type: string } | { error: string } {
  switch (dt.type) {
    case 'string':
    case 'wstring':
      if (dt.length === undefined || dt.length > 21845) return { type: 'text' };
      if (dt.length < 1)
        return {
          error: `length ${dt.length} is not a string length; use 1 to 21845, or leave it out for text`,
        };
      return { type: `character varying(${dt.length})` };
    case 'int1':
    case 'int2':
    case 'uint1':
      return { type: 'smallint' };
    case 'int4':
    case 'uint2':
      return { type: 'integer' };
    case 'int8':
    case 'uint4':
    case 'uint8':
      return { type: 'bigint' };
    case 'numeric': {
      const p = dt.precision;
      const s = dt.scale;
      if (p === undefined) {
        if (s !== undefined && s !== 0)
          return { error: 'a numeric scale needs a precision; add "precision"' };
        return { type: 'numeric' };
      }
      if (p < 1 || p > 1000) return { error: `precision ${p} is out of range; use 1 to 1000` };
      if (s === undefined || s === 0) return { type: s === undefined ? `numeric(${p})` : `numeric(${p},0)` };
      if (s < 0 || s > p) return { error: `scale ${s} is out of range; use 0 to the precision (${p})` };
      return { type: `numeric(${p},${s})` };
    }
    case 'real4':
      return { type: 'real' };
    case 'real8':
      return { type: 'double precision' };
    case 'date':
      return { type: 'date' };
    case 'time': {
      const s = dt.scale ?? dt.precision;
      return {
        type: s !== undefined && s >= 0 && s <= 6 ? `time(${s}) without time zone` : 'time without time zone',
      };
    }
    case 'datetime': {
      const s = dt.scale ?? dt.precision;
      if (s === undefined) return { type: 'timestamp without time zone' };
      if (s < 0 || s > 9) return { error: `scale ${s} is out of range; use 0 to 9` };
      if (s > 6) return { type: 'character varying(37)' };
      return { type: `timestamp(${s}) without time zone` };
    }
    case 'boolean':
      return { type: 'boolean' };
    case 'bytes':
    case 'blob':
      return { type: 'bytea' };
    case 'clob':
    case 'nclob':
      return { type: 'text' };
    case 'set':
    case 'list':
    case 'map':
    case 'tuple':
      return {
        error: `DMS type "${dt.type}" is a collection type of NoSQL endpoints and has no PostgreSQL column type; use string, nclob or another scalar type`,
      };
    default:
      return { error: `"${dt.type}" is not a DMS data type` };
  }
}

/** A source column's DMS type name, or 'unknown' (a domain: its base type is not in the catalog). */
export type DmsTypeOfColumn = (typeof DMS_TYPE_NAMES)[number] | 'unknown';

/**
 * The DMS type DMS gives a PostgreSQL source column (DMS PostgreSQL-source page, "PG → DMS type"):
 *
 * | PostgreSQL                                   | DMS      |
 * |----------------------------------------------|----------|
 * | smallint / integer / bigint                  | int2 / int4 / int8 |
 * | numeric(p ≤ 38), numeric, money              | numeric  (numeric(p > 38): string) |
 * | real / double precision                      | real4 / real8 |
 * | character(n), character varying(n), "char", name | wstring |
 * | text, character varying (no length)          | nclob    |
 * | bytea                                        | blob     |
 * | timestamp [with time zone]                   | datetime |
 * | date / time [with time zone]                 | date / time |
 * | boolean                                      | boolean  |
 * | interval, uuid, inet, cidr, macaddr, bit, enum, ranges, geometric | string |
 * | json, jsonb, hstore, arrays, composite       | nclob    |
 * | xml, tsvector, tsquery                       | clob     |
 * | domain                                       | unknown (base type not in the catalog) |
 */
export function dmsTypeOf(column: Pick<CatalogColumn, 'type' | 'userType'>): DmsTypeOfColumn {
  const type = column.type;
  if (type.endsWith(']')) return 'nclob';
  if (column.userType) {
    switch (column.userType.kind) {
      case 'enum':
      case 'range':
        return 'string';
      case 'composite':
        return 'nclob';
      case 'domain':
        return 'unknown';
      case 'base':
        return 'string';
    }
  }
  const base = baseTypeName(type);
  const mods = typeModifiers(type);
  switch (base) {
    case 'smallint':
      return 'int2';
    case 'integer':
      return 'int4';
    case 'bigint':
      return 'int8';
    case 'numeric':
      return mods.length > 0 && mods[0] > 38 ? 'string' : 'numeric';
    case 'money':
      return 'numeric';
    case 'real':
      return 'real4';
    case 'double precision':
      return 'real8';
    case 'character':
    case '"char"':
    case 'name':
      return 'wstring';
    case 'character varying':
      return mods.length > 0 ? 'wstring' : 'nclob';
    case 'text':
      return 'nclob';
    case 'bytea':
      return 'blob';
    case 'timestamp without time zone':
    case 'timestamp with time zone':
      return 'datetime';
    case 'date':
      return 'date';
    case 'time without time zone':
    case 'time with time zone':
      return 'time';
    case 'boolean':
      return 'boolean';
    case 'json':
    case 'jsonb':
    case 'hstore':
      return 'nclob';
    case 'xml':
    case 'tsvector':
    case 'tsquery':
      return 'clob';
    default:
      return 'string';
  }
}

/** `numeric(12,2)` → `numeric`; `timestamp(3) with time zone` → `timestamp with time zone`. */
export function baseTypeName(type: string): string {
  return type
    .replace(/\(\s*[\d\s,]+\)/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function typeModifiers(type: string): number[] {
  const m = /\(([\d\s,]+)\)/.exec(type);
  return m ? m[1].split(',').map((x) => Number(x.trim())) : [];
}

/** `character varying(50)` → 50; `character(2)` → 2; other types → undefined (unbounded). */
export function characterLength(type: string): number | undefined {
  const base = baseTypeName(type);
  if (base !== 'character varying' && base !== 'character') return undefined;
  const mods = typeModifiers(type);
  return mods.length > 0 ? mods[0] : undefined;
}

export function isStringDmsType(t: DmsTypeOfColumn): boolean {
  return t === 'string' || t === 'wstring';
}

export function isNumericDmsType(t: DmsTypeOfColumn): boolean {
  return /^(u?int[1248]|numeric)$/.test(t);
}

export function isLobDmsType(t: DmsTypeOfColumn): boolean {
  return t === 'blob' || t === 'clob' || t === 'nclob';
}

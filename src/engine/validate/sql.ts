// The statements validation runs on either side of one table, built from its TableShape: chunk
// boundaries, a chunk's count and hash, a chunk's per-row hashes, rows by key, and row counts.
// Both sides produce the same text for the same data under SESSION_SETTINGS.
import { quoteLiteral } from '../ident';
import { andPredicates } from '../fullload/sql';
import type { KeyColumn, TableShape } from './shape';

export type Side = 'source' | 'target';

/** A key range: after `from` (exclusive) up to `to` (inclusive); an absent bound is open. */
export interface KeyRange {
  from?: string[];
  to?: string[];
}

/** Identical value text on both servers (and on PostgreSQL 12 to 17): what the row hashes are made of. */
export const SESSION_SETTINGS = `SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC'; SET lc_monetary = 'C'`;

const keyExpr = (k: KeyColumn, side: Side) => (side === 'source' ? k.src : k.tgt);
/** Collatable keys compare byte-wise on both sides, whatever the two databases' collations are. */
const ordered = (expr: string, k: KeyColumn) => (k.collate ? `(${expr}) COLLATE "C"` : expr);
const rowOf = (xs: string[]) => (xs.length === 1 ? xs[0] : `ROW(${xs.join(', ')})`);
const lit = (k: KeyColumn, v: string) => `${quoteLiteral(v)}::${k.type}`;

function relation(shape: TableShape, side: Side, predicate?: string): string {
  return side === 'source'
    ? `${shape.from} WHERE ${andPredicates(shape.where, predicate)}`
    : `${shape.into} WHERE ${andPredicates(predicate)}`;
}

export function rangePredicate(shape: TableShape, side: Side, r: KeyRange): string | undefined {
  const lhs = rowOf(shape.keys.map((k) => ordered(keyExpr(k, side), k)));
  const bound = (vs: string[]) => rowOf(vs.map((v, i) => lit(shape.keys[i], v)));
  const parts: string[] = [];
  if (r.from) parts.push(`${lhs} > ${bound(r.from)}`);
  if (r.to) parts.push(`${lhs} <= ${bound(r.to)}`);
  return parts.length ? parts.join(' AND ') : undefined;
}

function rowHash(shape: TableShape, side: Side): string {
  const cols = shape.columns.map((c) => (side === 'source' ? c.srcCmp : c.tgtCmp));
  return `md5(ROW(${cols.join(', ')})::text)`;
}

/** Key columns as "k0".. and the row hash as "h", of the rows in range. */
function inner(shape: TableShape, side: Side, r: KeyRange): string {
  const keys = shape.keys.map((k, i) => `${keyExpr(k, side)} AS "k${i}"`);
  return `SELECT ${keys.join(', ')}, ${rowHash(shape, side)} AS "h" FROM ${relation(shape, side, rangePredicate(shape, side, r))}`;
}

/** One row: `n` (count, text) and `h` (md5 of the row hashes in key order; '' for no rows). */
export function chunkSumSql(shape: TableShape, side: Side, r: KeyRange): string {
  const order = shape.keys.map((k, i) => ordered(`s."k${i}"`, k)).join(', ');
  return `SELECT count(*)::int8::text AS n, coalesce(md5(string_agg(s."h", '' ORDER BY ${order})), '') AS h
            FROM (${inner(shape, side, r)}) s`;
}

/** Array rows: key texts..., row hash. */
export function rowListSql(shape: TableShape, side: Side, r: KeyRange): string {
  const keys = shape.keys.map((_, i) => `s."k${i}"::text`);
  return `SELECT ${keys.join(', ')}, s."h" FROM (${inner(shape, side, r)}) s`;
}

/**
 * Array rows of the given keys ($1..$n: text[] per key column): key texts..., row hash, each compared
 * column's shown text, then the md5 of each LOB column's compared text. The source side applies the
 * table's filter: a key outside it belongs on neither side.
 */
export function keyedRowsSql(shape: TableShape, side: Side): string {
  const keys = shape.keys.map((k) => keyExpr(k, side));
  const shows = shape.columns.map((c) => (side === 'source' ? c.srcShow : c.tgtShow));
  const lobs = shape.columns
    .filter((c) => c.lob)
    .map((c) => `md5(${side === 'source' ? c.srcCmp : c.tgtCmp})`);
  const xs = shape.keys.map((k, i) => `x."c${i}"::${k.type}`);
  const params = shape.keys.map((_, i) => `$${i + 1}::text[]`);
  const names = shape.keys.map((_, i) => `"c${i}"`);
  const match = `(${keys.join(', ')}) IN (SELECT ${xs.join(', ')} FROM unnest(${params.join(', ')}) AS x(${names.join(', ')}))`;
  const out = [...keys.map((k) => `(${k})::text`), rowHash(shape, side), ...shows, ...lobs];
  return `SELECT ${out.join(', ')} FROM ${relation(shape, side, match)}`;
}

/** Array rows: the key texts of every `size`-th source row in key order (the chunk boundaries). */
export function boundariesSql(shape: TableShape, size: number): string {
  const keys = shape.keys.map((k, i) => `${k.src} AS "k${i}"`);
  const order = shape.keys.map((k) => ordered(k.src, k)).join(', ');
  return `SELECT ${shape.keys.map((_, i) => `s."k${i}"::text`).join(', ')}
            FROM (SELECT ${keys.join(', ')}, row_number() OVER (ORDER BY ${order}) AS rn
                    FROM ${relation(shape, 'source')}) s
           WHERE s.rn % ${Math.max(1, Math.floor(size))} = 0 ORDER BY s.rn`;
}

export function countSql(shape: TableShape, side: Side): string {
  return `SELECT count(*)::int8::text AS n FROM ${relation(shape, side)}`;
}

/** Chunks from boundaries: (-inf, b1], (b1, b2], ..., (bn, +inf). */
export function rangesOf(boundaries: string[][]): KeyRange[] {
  const out: KeyRange[] = [];
  for (let i = 0; i <= boundaries.length; i++) {
    const r: KeyRange = {};
    if (i > 0) r.from = boundaries[i - 1];
    if (i < boundaries.length) r.to = boundaries[i];
    out.push(r);
  }
  return out;
}

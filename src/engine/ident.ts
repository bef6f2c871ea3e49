// SQL identifier and literal quoting, and parsing of "schema.table" names, so odd names ("Order Items",
// MixedCase, reserved words, dots, unicode) survive every statement and pg_dump pattern Ferry builds.
import { createHash } from 'node:crypto';
import { ErrorType, FerryError } from '../errors';

/** Always-quoted identifier: `Order Items` → `"Order Items"`, `a"b` → `"a""b"`. Never case-folds. */
export function quoteIdent(s: string): string {
  if (s.includes('\0'))
    throw new FerryError(ErrorType.CONFIG_INVALID, 'an SQL identifier cannot contain a NUL byte');
  return `"${s.replace(/"/g, '""')}"`;
}

/** `"schema"."table"`. Also a pg_dump `-t` pattern that matches exactly that table (see dumpPattern). */
export function qualify(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/**
 * A string literal that is correct whatever standard_conforming_strings says: backslashes force the
 * E'' form (as PostgreSQL's own quote_literal does), quotes are doubled.
 */
export function quoteLiteral(s: string): string {
  if (s.includes('\0'))
    throw new FerryError(ErrorType.CONFIG_INVALID, 'an SQL string cannot contain a NUL byte');
  const body = s.replace(/'/g, "''");
  return s.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/**
 * A pg_dump/psql name pattern matching exactly one name. Inside double quotes pg_dump neither folds
 * case nor treats `*`, `?`, `.` or other regular-expression characters as special, and `""` is a
 * literal quote: the same syntax as quoteIdent, which is why this is just quoteIdent/qualify.
 */
export function dumpPattern(schema: string, table?: string): string {
  return table === undefined ? quoteIdent(schema) : qualify(schema, table);
}

/** `schema.table` for people: quotes only the parts that need it. */
export function displayName(schema: string, table: string): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : quoteIdent(s));
  return `${part(schema)}.${part(table)}`;
}

/** One identifier at the start of `s`: quoted (`"a""b"`) or bare lower-case. Returns name and rest. */
export function readIdent(s: string): { name: string; rest: string } | undefined {
  if (s.startsWith('"')) {
    const m = /^"((?:[^"]|"")*)"/.exec(s);
    if (!m || m[1] === '') return undefined;
    return { name: m[1].replace(/""/g, '"'), rest: s.slice(m[0].length) };
  }
  const m = /^[a-z_\u0080-\uffff][a-z0-9_$\u0080-\uffff]*/.exec(s);
  return m ? { name: m[0], rest: s.slice(m[0].length) } : undefined;
}

/**
 * Parse a scope entry into schema and table. Two spellings:
 * - `schema.table`, taken literally (no case folding) and split at the first dot, so
 *   `Sales.Order Items` is schema `Sales`, table `Order Items`;
 * - SQL-quoted parts, for names that contain dots or quotes: `public."Mixed.Case"`, `"a.b"."c"`.
 * A name without a schema is refused rather than guessed.
 */
export function parseTableName(text: string): { schema: string; table: string } {
  const bad = () =>
    new FerryError(
      ErrorType.CONFIG_INVALID,
      `scope table "${text}" is not "schema.table"; write e.g. public.orders, or quote parts that contain dots: public."my.table"`,
    );
  if (text.includes('"')) {
    // Quoted form: each part is either quoted or a bare name taken as written.
    const part = (s: string): { name: string; rest: string } | undefined => {
      if (s.startsWith('"')) return readIdent(s);
      const m = /^[^."]+/.exec(s);
      return m ? { name: m[0], rest: s.slice(m[0].length) } : undefined;
    };
    const a = part(text);
    if (!a || !a.rest.startsWith('.')) throw bad();
    const b = part(a.rest.slice(1));
    if (!b || b.rest !== '') throw bad();
    return { schema: a.name, table: b.name };
  }
  const dot = text.indexOf('.');
  if (dot <= 0 || dot === text.length - 1) throw bad();
  return { schema: text.slice(0, dot), table: text.slice(dot + 1) };
}

/** PostgreSQL truncates identifiers (slot, publication, database names) longer than this. */
const MAX_NAME_BYTES = 63;

/**
 * `<prefix><migration>` as a name PostgreSQL keeps as written: lower case, [a-z0-9_] only, at most
 * 63 bytes. When that loses information (other characters, upper case, too long) a hash of the full
 * migration name is appended, so two migrations never share a name. Stable: a retried call finds what
 * an earlier one created.
 */
export function migrationObjectName(prefix: string, migration: string): string {
  const plain = migration.toLowerCase().replace(/-/g, '_');
  const sanitized = plain.replace(/[^a-z0-9_]+/g, '_');
  const lossy = sanitized !== plain || migration !== migration.toLowerCase();
  if (!lossy && prefix.length + sanitized.length <= MAX_NAME_BYTES) return prefix + sanitized;
  const hash = createHash('sha256').update(migration).digest('hex').slice(0, 8);
  const room = MAX_NAME_BYTES - prefix.length - hash.length - 1;
  return `${prefix}${sanitized.slice(0, room).replace(/_+$/, '')}_${hash}`;
}

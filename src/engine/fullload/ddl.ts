// Reading and rewriting the DDL PostgreSQL prints (pg_get_indexdef, pg_get_constraintdef,
// pg_get_partkeydef): balanced parentheses, top-level lists, and column lists renamed per the plan.
// Only column *lists* are rewritten; an expression that names a renamed column is refused by the
// callers (see post-data.ts), never patched by text substitution.
import { quoteIdent, readIdent } from '../ident';

/** Index just past the closing parenthesis matching the `(` at `open`, skipping quoted text; -1 if none. */
export function closeParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const ch = s[i];
    if (ch === "'" || ch === '"') {
      // Doubled quotes inside are two adjacent quoted runs: the loop picks the second up again.
      const end = s.indexOf(ch, i + 1);
      if (end < 0) return -1;
      i = end;
    } else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

/** Split at commas outside parentheses and quotes; parts are trimmed. */
export function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "'" || ch === '"') {
      const end = s.indexOf(ch, i + 1);
      if (end < 0) break;
      i = end;
    } else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(s.slice(start).trim());
  return parts.filter((p) => p !== '');
}

/** The column an element of an index/key list names (`"a" DESC`, `b text_pattern_ops`); undefined for an expression. */
export function elementColumn(element: string): { name: string; rest: string } | undefined {
  const id = readIdent(element);
  if (!id) return undefined;
  // `lower(x)`, `public.f(x)`: a function call, i.e. an expression.
  if (id.rest.startsWith('(') || id.rest.startsWith('.')) return undefined;
  if (id.rest !== '' && !/^\s/.test(id.rest)) return undefined;
  return id;
}

export type ListRewrite = { ok: true; text: string } | { ok: false; column?: string; expression?: string };

/**
 * Rewrite the plain column names of a parenthesised list's *content* (`a, "B" DESC, lower(c)`) with
 * `rename`. Expression elements are kept as written (the caller checked that they name no renamed
 * column); a column `rename` does not know fails the rewrite.
 */
export function rewriteColumnList(
  content: string,
  rename: (source: string) => string | undefined,
): ListRewrite {
  const out: string[] = [];
  for (const element of splitTopLevel(content)) {
    const col = elementColumn(element);
    if (!col) {
      out.push(element);
      continue;
    }
    const target = rename(col.name);
    if (target === undefined) return { ok: false, column: col.name };
    out.push(quoteIdent(target) + col.rest);
  }
  return { ok: true, text: out.join(', ') };
}

export interface ParsedIndexDef {
  unique: boolean;
  method: string;
  /** Content of the key column list (without the parentheses). */
  keys: string;
  /** Content of INCLUDE (...), if any. */
  include?: string;
  /** Everything after the column lists: NULLS NOT DISTINCT, WITH (...), WHERE ... */
  tail: string;
}

/**
 * Parse pg_get_indexdef output, `CREATE [UNIQUE] INDEX <name> ON [ONLY] <table> USING <method> (<keys>)
 * [INCLUDE (<cols>)] <tail>`, given the index and table names exactly as the server prints them.
 */
export function parseIndexDef(
  def: string,
  printedIndex: string,
  printedTable: string,
): ParsedIndexDef | undefined {
  const m = /^CREATE (UNIQUE )?INDEX /.exec(def);
  if (!m) return undefined;
  let rest = def.slice(m[0].length);
  if (!rest.startsWith(`${printedIndex} ON `)) return undefined;
  rest = rest.slice(printedIndex.length + 4);
  if (rest.startsWith('ONLY ')) rest = rest.slice(5);
  if (!rest.startsWith(`${printedTable} USING `)) return undefined;
  rest = rest.slice(printedTable.length + 7);
  const method = /^(\w+) \(/.exec(rest);
  if (!method) return undefined;
  const open = method[1].length + 1;
  const close = closeParen(rest, open);
  if (close < 0) return undefined;
  const keys = rest.slice(open + 1, close - 1);
  let tail = rest.slice(close);
  let include: string | undefined;
  if (tail.startsWith(' INCLUDE (')) {
    const end = closeParen(tail, 9);
    if (end < 0) return undefined;
    include = tail.slice(10, end - 1);
    tail = tail.slice(end);
  }
  return { unique: !!m[1], method: method[1], keys, include, tail };
}

export interface ParsedForeignKey {
  columns: string;
  refColumns: string;
  /** MATCH / ON UPDATE / ON DELETE / DEFERRABLE / NOT VALID, as printed. */
  tail: string;
}

/** Parse `FOREIGN KEY (<cols>) REFERENCES <table>(<cols>) <tail>` given the referenced table as printed. */
export function parseForeignKeyDef(def: string, printedRef: string): ParsedForeignKey | undefined {
  if (!def.startsWith('FOREIGN KEY (')) return undefined;
  const close = closeParen(def, 12);
  if (close < 0) return undefined;
  const columns = def.slice(13, close - 1);
  const ref = ` REFERENCES ${printedRef}(`;
  if (!def.startsWith(ref, close)) return undefined;
  const open = close + ref.length - 1;
  const end = closeParen(def, open);
  if (end < 0) return undefined;
  return { columns, refColumns: def.slice(open + 1, end - 1), tail: def.slice(end) };
}

/** Parse pg_get_partkeydef output, `RANGE (a)`, `LIST (b COLLATE "C")`, `HASH (c)`. */
export function parsePartitionKey(def: string): { strategy: string; keys: string } | undefined {
  const m = /^(RANGE|LIST|HASH) \(/.exec(def);
  if (!m) return undefined;
  const close = closeParen(def, m[0].length - 1);
  if (close !== def.length) return undefined;
  return { strategy: m[1], keys: def.slice(m[0].length, -1) };
}

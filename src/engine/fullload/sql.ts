// Small SQL text helpers of the full load: bind parameters inlined as literals (COPY takes none), and
// predicates joined without redundant TRUEs.
import { ErrorType, FerryError } from '../../errors';
import type { RowFilter } from '../../mapping/types';
import { quoteLiteral } from '../ident';

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * `sql` with each `$n` replaced by `params[n-1]` as a quoted string literal, so `price >= $1::numeric`
 * becomes `price >= '10.5'::numeric` (the compiler's casts stay, and an uncast literal takes the column's
 * type exactly as an untyped bind parameter would). `$n` inside string literals, quoted identifiers,
 * dollar-quoted strings and comments is left alone.
 * @throws CONFIG_INVALID when `$n` has no parameter.
 */
export function inlineParams(sql: string, params: readonly string[]): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i];
    const next = sql[i + 1];
    let end = i + 1;
    if (ch === "'") {
      // E'...' strings honour backslash escapes; others (standard_conforming_strings) do not.
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]) && (i < 2 || !IDENT_CHAR.test(sql[i - 2]));
      end = i + 1;
      while (end < n) {
        if (escapes && sql[end] === '\\') end += 2;
        else if (sql[end] === "'" && sql[end + 1] === "'") end += 2;
        else if (sql[end] === "'") break;
        else end++;
      }
      end++;
    } else if (ch === '"') {
      end = i + 1;
      while (end < n && !(sql[end] === '"' && sql[end + 1] !== '"')) end += sql[end] === '"' ? 2 : 1;
      end++;
    } else if (ch === '-' && next === '-') {
      end = sql.indexOf('\n', i);
      if (end < 0) end = n;
    } else if (ch === '/' && next === '*') {
      let depth = 1;
      end = i + 2;
      while (end < n && depth > 0) {
        const two = sql.slice(end, end + 2);
        depth += two === '/*' ? 1 : two === '*/' ? -1 : 0;
        end += two === '/*' || two === '*/' ? 2 : 1;
      }
    } else if (ch === '$' && (i === 0 || !IDENT_CHAR.test(sql[i - 1]))) {
      const param = /^\$(\d+)/.exec(sql.slice(i, i + 12));
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 80));
      if (param) {
        const k = Number(param[1]);
        if (k < 1 || k > params.length) {
          throw new FerryError(
            ErrorType.CONFIG_INVALID,
            `filter SQL refers to $${k} but has ${params.length} parameter(s): ${sql}`,
          );
        }
        out += quoteLiteral(params[k - 1]);
        i += param[0].length;
        continue;
      }
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close < 0 ? n : close + tag[0].length;
      }
    }
    out += sql.slice(i, end);
    i = end;
  }
  return out;
}

/** A RowFilter as a plain SQL predicate (parameters inlined); undefined for no filter. */
export function filterSql(filter: RowFilter | undefined): string | undefined {
  if (!filter || !filter.sql.trim()) return undefined;
  return inlineParams(filter.sql, filter.params);
}

/** `(a) AND (b)`, leaving out absent and TRUE parts; TRUE when nothing is left. */
export function andPredicates(...parts: (string | undefined)[]): string {
  const kept = parts.filter((p): p is string => !!p && p.trim().toUpperCase() !== 'TRUE');
  if (kept.length === 0) return 'TRUE';
  if (kept.length === 1) return kept[0];
  return kept.map((p) => `(${p})`).join(' AND ');
}

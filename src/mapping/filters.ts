// Row predicates as parameterised SQL: DMS source filters (conditions OR-ed inside a filter, filters
// AND-ed) and the WHERE clauses of DMS `ranges` segments. Values stay strings, as DMS has them, and
// are cast in SQL to the column's catalog type (`"col" <= $1::integer`), so PostgreSQL compares them
// as that type rather than as text.
import { quoteIdent } from './problems';
import type { FilterCondition, FilterOperator, RowFilter, SourceFilter } from './types';

export const FILTER_OPERATORS: readonly FilterOperator[] = [
  'lte',
  'ste',
  'gte',
  'eq',
  'noteq',
  'between',
  'notbetween',
  'null',
  'notnull',
];

const INCLUSIVE: readonly FilterOperator[] = ['lte', 'ste', 'gte', 'eq', 'between'];
const NEGATIVE: readonly FilterOperator[] = ['noteq', 'notbetween', 'notnull'];

/**
 * How DMS treats NULLs in one filter (DMS user guide, "Using source filters"): a `null` condition
 * mixed with inclusive and negative conditions does not bring NULL rows back (DMS drops it), and
 * negative conditions with `null` but no inclusive one replicate nothing at all.
 */
export function nullSemantics(filter: SourceFilter): 'normal' | 'null-dropped' | 'nothing' {
  const ops = filter.conditions.map((c) => c.operator);
  const incl = ops.some((o) => INCLUSIVE.includes(o));
  const neg = ops.some((o) => NEGATIVE.includes(o));
  const nul = ops.includes('null');
  if (neg && nul && !incl) return 'nothing';
  if (neg && nul && incl) return 'null-dropped';
  return 'normal';
}

/** Builds `$n::type` placeholders in order. */
class Params {
  readonly values: string[] = [];
  add(value: string, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/**
 * Compile a rule's filters for one table. `columnType` gives the catalog type of a source column
 * (the caller has checked every filter column exists).
 */
export function compileFilters(filters: SourceFilter[], columnType: (column: string) => string): RowFilter {
  const params = new Params();
  const parts: string[] = [];
  for (const filter of filters) {
    const type = columnType(filter.column);
    const col = quoteIdent(filter.column);
    const conditions =
      nullSemantics(filter) === 'null-dropped'
        ? filter.conditions.filter((c) => c.operator !== 'null')
        : filter.conditions;
    const sql = conditions.map((c) => condition(col, type, c, params));
    parts.push(sql.length > 1 ? `(${sql.join(' OR ')})` : sql[0]);
  }
  return {
    sql: parts.join(' AND '),
    params: params.values,
    columns: [...new Set(filters.map((f) => f.column))],
  };
}

function condition(col: string, type: string, c: FilterCondition, params: Params): string {
  switch (c.operator) {
    case 'lte':
    case 'ste':
      return `${col} <= ${params.add(c.value!, type)}`;
    case 'gte':
      return `${col} >= ${params.add(c.value!, type)}`;
    case 'eq':
      return `${col} = ${params.add(c.value!, type)}`;
    case 'noteq':
      return `${col} <> ${params.add(c.value!, type)}`;
    case 'between':
      return `${col} BETWEEN ${params.add(c.start!, type)} AND ${params.add(c.end!, type)}`;
    case 'notbetween':
      return `${col} NOT BETWEEN ${params.add(c.start!, type)} AND ${params.add(c.end!, type)}`;
    case 'null':
      return `${col} IS NULL`;
    case 'notnull':
      return `${col} IS NOT NULL`;
  }
}

/**
 * The WHERE clause of each DMS `ranges` segment (table-settings page): with lt(B) =
 * (c1 < b1) OR (c1 = b1 AND c2 < b2) OR ..., segment 1 is lt(B1), segment k is
 * NOT lt(B(k-1)) AND lt(Bk), and the last is NOT lt(Bn). Rows with NULL in the first range column
 * fall in no segment, as in DMS ("records with null values aren't replicated").
 */
export function rangePredicates(
  columns: string[],
  boundaries: string[][],
  columnType: (column: string) => string,
): RowFilter[] {
  const lt = (boundary: string[], params: Params): string => {
    const terms: string[] = [];
    for (let i = 0; i < boundary.length; i++) {
      const conj: string[] = [];
      for (let j = 0; j < i; j++)
        conj.push(`${quoteIdent(columns[j])} = ${params.add(boundary[j], columnType(columns[j]))}`);
      conj.push(`${quoteIdent(columns[i])} < ${params.add(boundary[i], columnType(columns[i]))}`);
      terms.push(conj.length > 1 ? `(${conj.join(' AND ')})` : conj[0]);
    }
    return terms.length > 1 ? `(${terms.join(' OR ')})` : terms[0];
  };
  const used = columns.slice(0, Math.max(0, ...boundaries.map((b) => b.length)));
  const out: RowFilter[] = [];
  for (let k = 0; k <= boundaries.length; k++) {
    const params = new Params();
    const parts: string[] = [];
    if (k > 0) parts.push(`NOT ${wrapNot(lt(boundaries[k - 1], params))}`);
    if (k < boundaries.length) parts.push(lt(boundaries[k], params));
    out.push({ sql: parts.join(' AND '), params: params.values, columns: used });
  }
  return out;
}

function wrapNot(sql: string): string {
  return sql.startsWith('(') && sql.endsWith(')') ? sql : `(${sql})`;
}

/**
 * `a AND b` as one RowFilter: b's placeholders are renumbered after a's. Quoted identifiers and
 * string literals are skipped, so a column named "x$1" is left alone.
 */
export function andRowFilters(a: RowFilter | undefined, b: RowFilter | undefined): RowFilter | undefined {
  if (!a) return b;
  if (!b) return a;
  const offset = a.params.length;
  let out = '';
  const s = b.sql;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      while (j < s.length && !(s[j] === ch && s[j + 1] !== ch)) j += s[j] === ch ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j;
    } else if (ch === '$' && /\d/.test(s[i + 1] ?? '') && !/[\w$]/.test(s[i - 1] ?? '')) {
      const m = /^\d+/.exec(s.slice(i + 1))!;
      out += `$${Number(m[0]) + offset}`;
      i += m[0].length;
    } else {
      out += ch;
    }
  }
  const wrap = (sql: string) => (hasTopLevelOr(sql) ? `(${sql})` : sql);
  return {
    sql: `${wrap(a.sql)} AND ${wrap(out)}`,
    params: [...a.params, ...b.params],
    columns: [...new Set([...a.columns, ...b.columns])],
  };
}

/** True if `sql` has an OR outside parentheses, quoted identifiers and literals. */
function hasTopLevelOr(sql: string): boolean {
  let depth = 0;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i];
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === ch && sql[j + 1] !== ch)) j += sql[j] === ch ? 2 : 1;
      i = j;
    } else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && sql.startsWith(' OR ', i)) return true;
  }
  return false;
}

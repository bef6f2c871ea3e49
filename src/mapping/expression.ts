// DMS transformation `expression`s (SQLite syntax with `$COLUMN` references) translated to PostgreSQL
// SQL for the source SELECT: a small tokenizer, a precedence-climbing parser and a renderer. Nothing
// is evaluated; functions outside the DMS list are refused with the list of supported ones.
import { closest, quoteIdent, quoteLiteral } from './problems';

/** A problem in an expression; the caller prefixes file, rule and field. */
export class ExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionError';
  }
}

export type ExprNode =
  | { k: 'num'; text: string }
  | { k: 'str'; value: string }
  | { k: 'null' }
  | { k: 'bool'; value: boolean }
  | { k: 'col'; name: string }
  | { k: 'header'; name: string }
  | { k: 'unary'; op: '-' | '+' | 'NOT'; e: ExprNode }
  | { k: 'bin'; op: string; l: ExprNode; r: ExprNode }
  | { k: 'isnull'; e: ExprNode; not: boolean }
  | { k: 'between'; e: ExprNode; lo: ExprNode; hi: ExprNode; not: boolean }
  | { k: 'in'; e: ExprNode; list: ExprNode[]; not: boolean }
  | { k: 'like'; e: ExprNode; pattern: ExprNode; not: boolean }
  | { k: 'case'; operand?: ExprNode; whens: { when: ExprNode; then: ExprNode }[]; else?: ExprNode }
  | { k: 'cast'; e: ExprNode; type: string }
  | { k: 'call'; name: string; args: ExprNode[] };

/**
 * DMS headers and what they are during a full load (DMS: STREAM_POSITION and CHANGE_SEQ are empty,
 * the timestamps are the current time, OPERATION is INSERT). `$AR_H_USER` exists only for SQL Server
 * and Oracle sources. `$AR_M_*` are the source object names.
 */
const HEADERS: Record<string, ((ctx: TranslateContext) => string) | string> = {
  AR_H_OPERATION: "'INSERT'",
  AR_H_COMMIT_TIMESTAMP: 'now()',
  AR_H_TIMESTAMP: 'now()',
  AR_H_STREAM_POSITION: "''",
  AR_H_CHANGE_SEQ: "''",
  AR_M_SOURCE_SCHEMA: (ctx) => quoteLiteral(ctx.schema),
  AR_M_SOURCE_TABLE_NAME: (ctx) => quoteLiteral(ctx.table),
};
const UNSUPPORTED_HEADERS: Record<string, string> = {
  AR_H_USER: 'DMS sets $AR_H_USER only for SQL Server and Oracle sources',
};

// ---- tokenizer ---------------------------------------------------------------------------------

type Token =
  | { k: 'num'; v: string; pos: number }
  | { k: 'str'; v: string; pos: number }
  | { k: 'col'; v: string; pos: number }
  | { k: 'id'; v: string; raw: string; pos: number }
  | { k: 'op'; v: string; pos: number }
  | { k: 'eof'; v: ''; pos: number };

const OPERATORS = ['||', '==', '!=', '<>', '<=', '>=', '<', '>', '=', '+', '-', '*', '/', '%', '(', ')', ','];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const at = (pos: number) => `at character ${pos + 1}`;
  while (i < text.length) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const num = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(i));
    if (num) {
      tokens.push({ k: 'num', v: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    if (ch === "'" || ch === '"') {
      // SQLite takes a double-quoted word that names no column as a string (DMS examples do this).
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= text.length)
          throw new ExpressionError(`the string starting ${at(i)} is not closed; add a ${ch}`);
        if (text[j] === ch) {
          if (text[j + 1] === ch) {
            value += ch;
            j += 2;
            continue;
          }
          break;
        }
        value += text[j++];
      }
      tokens.push({ k: 'str', v: value, pos: i });
      i = j + 1;
      continue;
    }
    if ('‘’“”'.includes(ch)) {
      throw new ExpressionError(
        `typographic quote ${ch} ${at(i)}; write strings with straight single quotes: 'text'`,
      );
    }
    if (ch === '$') {
      const m = /^[\p{L}\p{N}_]+/u.exec(text.slice(i + 1));
      if (!m) throw new ExpressionError(`"$" ${at(i)} is not followed by a column name; write $column_name`);
      tokens.push({ k: 'col', v: m[0], pos: i });
      i += 1 + m[0].length;
      continue;
    }
    const id = /^[\p{L}_][\p{L}\p{N}_]*/u.exec(text.slice(i));
    if (id) {
      tokens.push({ k: 'id', v: id[0].toLowerCase(), raw: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ k: 'op', v: op, pos: i });
      i += op.length;
      continue;
    }
    throw new ExpressionError(`unexpected character "${ch}" ${at(i)}`);
  }
  tokens.push({ k: 'eof', v: '', pos: text.length });
  return tokens;
}

// ---- parser --------------------------------------------------------------------------------------

const KEYWORDS = new Set([
  'and',
  'or',
  'not',
  'is',
  'in',
  'like',
  'glob',
  'regexp',
  'match',
  'between',
  'case',
  'when',
  'then',
  'else',
  'end',
  'null',
  'cast',
  'as',
  'true',
  'false',
  'isnull',
  'notnull',
  'escape',
  'collate',
]);

/** Parse an expression; throws ExpressionError (syntax, unsupported function or header). */
export function parseExpression(text: string): ExprNode {
  if (text.trim() === '') throw new ExpressionError('the expression is empty');
  const tokens = tokenize(text);
  let p = 0;
  const peek = () => tokens[p];
  const describe = (t: Token) =>
    t.k === 'eof' ? 'the end of the expression' : `"${t.k === 'id' ? t.raw : t.v}" at character ${t.pos + 1}`;
  const isKw = (t: Token, ...words: string[]) => t.k === 'id' && words.includes(t.v);
  const isOp = (t: Token, ...ops: string[]) => t.k === 'op' && ops.includes(t.v);
  const expectKw = (word: string) => {
    const t = tokens[p];
    if (!isKw(t, word)) throw new ExpressionError(`expected ${word.toUpperCase()} but found ${describe(t)}`);
    p++;
  };
  const expectOp = (op: string) => {
    const t = tokens[p];
    if (!isOp(t, op)) throw new ExpressionError(`expected "${op}" but found ${describe(t)}`);
    p++;
  };

  const parseOr = (): ExprNode => {
    let l = parseAnd();
    while (isKw(peek(), 'or')) {
      p++;
      l = { k: 'bin', op: 'OR', l, r: parseAnd() };
    }
    return l;
  };
  const parseAnd = (): ExprNode => {
    let l = parseNot();
    while (isKw(peek(), 'and')) {
      p++;
      l = { k: 'bin', op: 'AND', l, r: parseNot() };
    }
    return l;
  };
  const parseNot = (): ExprNode => {
    if (isKw(peek(), 'not')) {
      p++;
      return { k: 'unary', op: 'NOT', e: parseNot() };
    }
    return parseEquality();
  };
  const parseEquality = (): ExprNode => {
    let l = parseRelational();
    for (;;) {
      const t = peek();
      if (isOp(t, '=', '==', '!=', '<>')) {
        p++;
        l = { k: 'bin', op: t.v === '==' ? '=' : t.v === '!=' ? '<>' : t.v, l, r: parseRelational() };
      } else if (isKw(t, 'isnull', 'notnull')) {
        p++;
        l = { k: 'isnull', e: l, not: t.v === 'notnull' };
      } else if (isKw(t, 'is')) {
        p++;
        let not = false;
        if (isKw(peek(), 'not')) {
          p++;
          not = true;
        }
        if (isKw(peek(), 'null')) {
          p++;
          l = { k: 'isnull', e: l, not };
        } else {
          l = { k: 'bin', op: not ? 'IS DISTINCT FROM' : 'IS NOT DISTINCT FROM', l, r: parseRelational() };
        }
      } else if (isKw(t, 'not') && isKw(tokens[p + 1], 'null')) {
        p += 2;
        l = { k: 'isnull', e: l, not: true };
      } else if (
        isKw(t, 'in', 'like', 'between') ||
        (isKw(t, 'not') && isKw(tokens[p + 1], 'in', 'like', 'between'))
      ) {
        let not = false;
        if (isKw(t, 'not')) {
          p++;
          not = true;
        }
        const word = peek().v;
        p++;
        if (word === 'in') {
          expectOp('(');
          const list: ExprNode[] = [parseOr()];
          while (isOp(peek(), ',')) {
            p++;
            list.push(parseOr());
          }
          expectOp(')');
          l = { k: 'in', e: l, list, not };
        } else if (word === 'like') {
          l = { k: 'like', e: l, pattern: parseRelational(), not };
          if (isKw(peek(), 'escape'))
            throw new ExpressionError('LIKE ... ESCAPE is not supported; match the character with _ instead');
        } else {
          const lo = parseRelational();
          expectKw('and');
          l = { k: 'between', e: l, lo, hi: parseRelational(), not };
        }
      } else if (isKw(t, 'glob', 'regexp', 'match', 'collate')) {
        throw new ExpressionError(
          `${t.v.toUpperCase()} is not supported in DMS expressions; use LIKE or a CASE expression`,
        );
      } else {
        return l;
      }
    }
  };
  const parseRelational = (): ExprNode => {
    let l = parseAdditive();
    while (isOp(peek(), '<', '<=', '>', '>=')) {
      const op = tokens[p++].v;
      l = { k: 'bin', op, l, r: parseAdditive() };
    }
    return l;
  };
  const parseAdditive = (): ExprNode => {
    let l = parseMultiplicative();
    while (isOp(peek(), '+', '-')) {
      const op = tokens[p++].v;
      l = { k: 'bin', op, l, r: parseMultiplicative() };
    }
    return l;
  };
  const parseMultiplicative = (): ExprNode => {
    let l = parseConcat();
    while (isOp(peek(), '*', '/', '%')) {
      const op = tokens[p++].v;
      l = { k: 'bin', op, l, r: parseConcat() };
    }
    return l;
  };
  // SQLite binds || tighter than any other binary operator (PostgreSQL does not: see render()).
  const parseConcat = (): ExprNode => {
    let l = parseUnary();
    while (isOp(peek(), '||')) {
      p++;
      l = { k: 'bin', op: '||', l, r: parseUnary() };
    }
    return l;
  };
  const parseUnary = (): ExprNode => {
    const t = peek();
    if (isOp(t, '-', '+')) {
      p++;
      return { k: 'unary', op: t.v as '-' | '+', e: parseUnary() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): ExprNode => {
    const t = tokens[p];
    switch (t.k) {
      case 'num':
        p++;
        return { k: 'num', text: t.v };
      case 'str':
        p++;
        return { k: 'str', value: t.v };
      case 'col': {
        p++;
        if (/^AR_[HM]_/.test(t.v)) {
          if (UNSUPPORTED_HEADERS[t.v]) throw new ExpressionError(`$${t.v}: ${UNSUPPORTED_HEADERS[t.v]}`);
          if (!(t.v in HEADERS)) {
            throw new ExpressionError(
              `$${t.v} is not a DMS header Ferry knows; use one of: ${Object.keys(HEADERS)
                .map((h) => `$${h}`)
                .join(', ')}`,
            );
          }
          return { k: 'header', name: t.v };
        }
        return { k: 'col', name: t.v };
      }
      case 'op':
        if (t.v === '(') {
          p++;
          const e = parseOr();
          expectOp(')');
          return e;
        }
        throw new ExpressionError(`unexpected ${describe(t)}`);
      case 'eof':
        throw new ExpressionError('the expression ends too early');
      case 'id': {
        if (t.v === 'null') {
          p++;
          return { k: 'null' };
        }
        if (t.v === 'true' || t.v === 'false') {
          p++;
          return { k: 'bool', value: t.v === 'true' };
        }
        if (t.v === 'case') {
          p++;
          let operand: ExprNode | undefined;
          if (!isKw(peek(), 'when')) operand = parseOr();
          const whens: { when: ExprNode; then: ExprNode }[] = [];
          while (isKw(peek(), 'when')) {
            p++;
            const when = parseOr();
            expectKw('then');
            whens.push({ when, then: parseOr() });
          }
          if (whens.length === 0)
            throw new ExpressionError(`CASE needs at least one WHEN; found ${describe(peek())}`);
          let elseNode: ExprNode | undefined;
          if (isKw(peek(), 'else')) {
            p++;
            elseNode = parseOr();
          }
          expectKw('end');
          return { k: 'case', operand, whens, else: elseNode };
        }
        if (t.v === 'cast') {
          p++;
          expectOp('(');
          const e = parseOr();
          expectKw('as');
          const typeTok = tokens[p];
          if (typeTok.k !== 'id')
            throw new ExpressionError(`expected a type name after AS but found ${describe(typeTok)}`);
          p++;
          expectOp(')');
          return { k: 'cast', e, type: typeTok.v };
        }
        if (KEYWORDS.has(t.v)) throw new ExpressionError(`unexpected ${describe(t)}`);
        if (!isOp(tokens[p + 1], '(')) {
          throw new ExpressionError(
            `${describe(t)} is neither a function call nor a column; write source columns as $${t.raw}`,
          );
        }
        p += 2;
        const args: ExprNode[] = [];
        if (!isOp(peek(), ')')) {
          args.push(parseOr());
          while (isOp(peek(), ',')) {
            p++;
            args.push(parseOr());
          }
        }
        expectOp(')');
        checkFunction(t.v, t.raw, args);
        return { k: 'call', name: t.v, args };
      }
    }
  };

  const node = parseOr();
  if (peek().k !== 'eof') throw new ExpressionError(`unexpected ${describe(peek())}`);
  return node;
}

// ---- functions -----------------------------------------------------------------------------------

export interface TranslateContext {
  /** Source schema and table (for $AR_M_* headers and messages). */
  schema: string;
  table: string;
  /** format_type of a source column, or undefined if the table has no such column. */
  columnType(name: string): string | undefined;
  /** All source column names, for did-you-mean. */
  columnNames: readonly string[];
}

interface Renderer {
  sql(n: ExprNode): string;
  /** The node as a PostgreSQL text value (SQLite converts operands of string functions to text). */
  text(n: ExprNode): string;
  /** A string literal's value, else undefined. */
  literal(n: ExprNode): string | undefined;
  ctx: TranslateContext;
}

interface FunctionSpec {
  min: number;
  max: number;
  render(args: ExprNode[], r: Renderer): string;
}

/**
 * The SQLite functions DMS documents for expressions and their PostgreSQL equivalents. Differences
 * that remain: SQLite max()/min() return NULL when any argument is NULL, greatest()/least() skip NULLs;
 * lower()/upper() fold only ASCII in SQLite, all letters in PostgreSQL.
 */
const FUNCTIONS: Record<string, FunctionSpec> = {
  lower: { min: 1, max: 1, render: (a, r) => `lower(${r.text(a[0])})` },
  upper: { min: 1, max: 1, render: (a, r) => `upper(${r.text(a[0])})` },
  ltrim: { min: 1, max: 2, render: (a, r) => `ltrim(${a.map((x) => r.text(x)).join(', ')})` },
  rtrim: { min: 1, max: 2, render: (a, r) => `rtrim(${a.map((x) => r.text(x)).join(', ')})` },
  trim: { min: 1, max: 2, render: (a, r) => `btrim(${a.map((x) => r.text(x)).join(', ')})` },
  replace: { min: 3, max: 3, render: (a, r) => `replace(${a.map((x) => r.text(x)).join(', ')})` },
  substr: {
    min: 2,
    max: 3,
    render: (a, r) =>
      `substr(${r.text(a[0])}, ${a
        .slice(1)
        .map((x) => integerArg(x, r))
        .join(', ')})`,
  },
  replacechars: {
    min: 3,
    max: 3,
    render: (a, r) => {
      const from = r.literal(a[1]);
      const to = r.literal(a[2]);
      if (from === undefined || to === undefined || to === '') {
        throw new ExpressionError(
          'replaceChars(x, y, z) needs y and z as string literals, z not empty (Ferry translates it to translate())',
        );
      }
      // DMS: a character of y without a counterpart in z becomes z's first character.
      const toChars = [...to];
      const padded = [...from].map((_, i) => toChars[i] ?? toChars[0]).join('');
      return `translate(${r.text(a[0])}, ${quoteLiteral(from)}, ${quoteLiteral(padded)})`;
    },
  },
  hex: {
    min: 1,
    max: 1,
    render: (a, r) => `upper(encode(${bytesOf(a[0], r)}, 'hex'))`,
  },
  zeroblob: { min: 1, max: 1, render: (a, r) => `decode(repeat('00', ${integerArg(a[0], r)}), 'hex')` },
  abs: { min: 1, max: 1, render: (a, r) => `abs(${r.sql(a[0])})` },
  random: { min: 0, max: 0, render: () => `trunc((random() * 2 - 1) * 9.2e18)::bigint` },
  round: {
    min: 1,
    max: 2,
    render: (a, r) => `round((${r.sql(a[0])})::numeric${a.length > 1 ? `, ${integerArg(a[1], r)}` : ''})`,
  },
  max: { min: 2, max: 100, render: (a, r) => `greatest(${a.map((x) => r.sql(x)).join(', ')})` },
  min: { min: 2, max: 100, render: (a, r) => `least(${a.map((x) => r.sql(x)).join(', ')})` },
  coalesce: { min: 2, max: 100, render: (a, r) => `coalesce(${a.map((x) => r.sql(x)).join(', ')})` },
  ifnull: { min: 2, max: 2, render: (a, r) => `coalesce(${a.map((x) => r.sql(x)).join(', ')})` },
  nullif: { min: 2, max: 2, render: (a, r) => `nullif(${a.map((x) => r.sql(x)).join(', ')})` },
  date: { min: 0, max: 100, render: (a, r) => `to_char(${timeValue(a, r)}, 'YYYY-MM-DD')` },
  time: { min: 0, max: 100, render: (a, r) => `to_char(${timeValue(a, r)}, 'HH24:MI:SS')` },
  datetime: { min: 0, max: 100, render: (a, r) => `to_char(${timeValue(a, r)}, 'YYYY-MM-DD HH24:MI:SS')` },
  julianday: {
    min: 0,
    max: 100,
    render: (a, r) => `(extract(epoch from ${timeValue(a, r)}) / 86400.0 + 2440587.5)`,
  },
  strftime: {
    min: 1,
    max: 100,
    render: (a, r) => {
      const format = r.literal(a[0]);
      if (format === undefined) throw new ExpressionError('strftime() needs its format as a string literal');
      return `to_char(${timeValue(a.slice(1), r)}, ${quoteLiteral(toCharFormat(format))})`;
    },
  },
  hash_sha256: { min: 1, max: 1, render: (a, r) => `encode(sha256(${bytesOf(a[0], r)}), 'hex')` },
};

/** Functions whose PostgreSQL translation already returns text (no ::text cast needed around them). */
const TEXT_FUNCTIONS = new Set([
  'lower',
  'upper',
  'ltrim',
  'rtrim',
  'trim',
  'replace',
  'substr',
  'replacechars',
  'hex',
  'date',
  'time',
  'datetime',
  'strftime',
  'hash_sha256',
]);

/** Functions DMS lists that Ferry refuses, and why. */
const REFUSED_FUNCTIONS: Record<string, string> = {
  randomblob:
    'randomblob() needs random bytes, which core PostgreSQL has only through the pgcrypto extension; use zeroblob() or hash_sha256()',
  operation_indicator:
    'operation_indicator() turns source DELETEs into flagged target rows during CDC, which a column expression in the plan cannot express; Ferry does not support soft deletes',
};

export const SUPPORTED_FUNCTIONS: readonly string[] = Object.keys(FUNCTIONS).map((f) =>
  f === 'replacechars' ? 'replaceChars' : f,
);

function checkFunction(name: string, raw: string, args: ExprNode[]): void {
  if (REFUSED_FUNCTIONS[name]) throw new ExpressionError(REFUSED_FUNCTIONS[name]);
  const spec = FUNCTIONS[name];
  if (!spec) {
    const near = closest(raw, SUPPORTED_FUNCTIONS);
    throw new ExpressionError(
      `function "${raw}" is not supported in DMS expressions${near ? ` (did you mean "${near}"?)` : ''}; use one of: ${SUPPORTED_FUNCTIONS.join(', ')}`,
    );
  }
  if ((name === 'max' || name === 'min') && args.length === 1) {
    throw new ExpressionError(
      `${name}() with one argument is an aggregate; a column expression needs two or more arguments`,
    );
  }
  if (args.length < spec.min || args.length > spec.max) {
    const want =
      spec.min === spec.max
        ? `${spec.min}`
        : spec.max >= 100
          ? `at least ${spec.min}`
          : `${spec.min} to ${spec.max}`;
    throw new ExpressionError(`${raw}() takes ${want} argument(s), got ${args.length}`);
  }
  if (name === 'substr') {
    for (const [i, arg] of args.slice(1).entries()) {
      if (arg.k === 'unary' && arg.op === '-') {
        throw new ExpressionError(
          `substr() with a negative ${i === 0 ? 'start' : 'length'} counts from the right in SQLite; PostgreSQL has no such form: use a positive ${i === 0 ? 'start' : 'length'}`,
        );
      }
    }
  }
}

function integerArg(n: ExprNode, r: Renderer): string {
  return n.k === 'num' && /^\d+$/.test(n.text) ? n.text : `(${r.sql(n)})::integer`;
}

/** The bytes SQLite hashes/hex-encodes: a bytea column as is, anything else as UTF-8 text. */
function bytesOf(n: ExprNode, r: Renderer): string {
  if (n.k === 'col' && r.ctx.columnType(n.name) === 'bytea') return r.sql(n);
  return `convert_to(${r.text(n)}, 'UTF8')`;
}

/** SQLite time value + modifiers → a PostgreSQL `timestamp without time zone` (UTC, like SQLite). */
function timeValue(args: ExprNode[], r: Renderer): string {
  const [first, ...modifiers] = args;
  let value: string;
  let rest = modifiers;
  const firstLiteral = first ? r.literal(first) : undefined;
  if (!first || (firstLiteral !== undefined && firstLiteral.toLowerCase() === 'now')) {
    value = "(now() AT TIME ZONE 'UTC')";
  } else if (firstLiteral !== undefined) {
    value = `${quoteLiteral(firstLiteral)}::timestamp`;
  } else if (first.k === 'num' || (first.k === 'unary' && first.e.k === 'num')) {
    if (modifiers.length === 0 || r.literal(modifiers[0])?.toLowerCase() !== 'unixepoch') {
      throw new ExpressionError(
        "a number as time value is a Julian day number in SQLite; Ferry supports numbers only with the 'unixepoch' modifier",
      );
    }
    value = `(to_timestamp(${r.sql(first)}) AT TIME ZONE 'UTC')`;
    rest = modifiers.slice(1);
  } else if (first.k === 'col') {
    const type = r.ctx.columnType(first.name) ?? '';
    const col = r.sql(first);
    if (type.startsWith('timestamp') && type.endsWith('with time zone'))
      value = `(${col} AT TIME ZONE 'UTC')`;
    else if (type.startsWith('time'))
      value = type.startsWith('timestamp') ? col : `(DATE '2000-01-01' + ${col}::time)`;
    else value = `${col}::timestamp`;
  } else {
    value = `(${r.sql(first)})::timestamp`;
  }
  for (const m of rest) {
    const text = r.literal(m);
    if (text === undefined)
      throw new ExpressionError("date/time modifiers must be string literals such as '+1 day'");
    const lower = text.trim().toLowerCase();
    const shift = /^([+-]?\d+(\.\d+)?)\s+(day|hour|minute|second|month|year)s?$/.exec(lower);
    const start = /^start of (day|month|year)$/.exec(lower);
    if (shift) value = `(${value} + ${quoteLiteral(`${shift[1]} ${shift[3]}s`)}::interval)`;
    else if (start) value = `date_trunc('${start[1]}', ${value})`;
    else {
      throw new ExpressionError(
        `date/time modifier '${text}' is not supported; use '±N days|hours|minutes|seconds|months|years' or 'start of day|month|year'`,
      );
    }
  }
  return value;
}

/** SQLite strftime format → to_char format; literal text is double-quoted so to_char copies it. */
function toCharFormat(format: string): string {
  const map: Record<string, string> = {
    d: 'DD',
    H: 'HH24',
    f: 'SS.MS',
    j: 'DDD',
    m: 'MM',
    M: 'MI',
    S: 'SS',
    Y: 'YYYY',
  };
  let out = '';
  let literal = '';
  const flush = () => {
    if (literal !== '') out += `"${literal.replace(/"/g, '\\"')}"`;
    literal = '';
  };
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') {
      literal += format[i];
      continue;
    }
    const spec = format[++i];
    if (spec === '%') {
      literal += '%';
    } else if (spec !== undefined && map[spec]) {
      flush();
      out += map[spec];
    } else {
      throw new ExpressionError(
        `strftime() format %${spec ?? ''} is not supported; use %d %H %f %j %m %M %S %Y or %%`,
      );
    }
  }
  flush();
  return out;
}

const CAST_TYPES: Record<string, string> = {
  integer: 'bigint',
  int: 'bigint',
  real: 'double precision',
  float: 'double precision',
  double: 'double precision',
  text: 'text',
  varchar: 'text',
  char: 'text',
  numeric: 'numeric',
  decimal: 'numeric',
  blob: 'bytea',
};

// ---- renderer -------------------------------------------------------------------------------------

export interface Translated {
  /** PostgreSQL SQL over the source row (quoted source identifiers). */
  sql: string;
  /** Source columns referenced. */
  columns: string[];
  /** `$AR_H_*` headers referenced. */
  headers: string[];
}

/** Translate a parsed expression for one source table; throws ExpressionError (unknown column). */
export function translateExpression(node: ExprNode, ctx: TranslateContext): Translated {
  const columns = new Set<string>();
  const headers = new Set<string>();
  const atomic = (n: ExprNode) =>
    ['num', 'str', 'null', 'bool', 'col', 'header', 'call', 'case', 'cast'].includes(n.k) &&
    !(n.k === 'num' && n.text.startsWith('-'));
  const wrap = (n: ExprNode) => (atomic(n) ? sql(n) : `(${sql(n)})`);
  const literal = (n: ExprNode) => (n.k === 'str' ? n.value : undefined);
  const text = (n: ExprNode) =>
    n.k === 'str' ||
    (n.k === 'call' && TEXT_FUNCTIONS.has(n.name)) ||
    (n.k === 'header' && typeof HEADERS[n.name] === 'function') ||
    (n.k === 'header' && (HEADERS[n.name] as string).startsWith("'"))
      ? sql(n)
      : `${wrap(n)}::text`;
  const concatParts = (n: ExprNode): ExprNode[] =>
    n.k === 'bin' && n.op === '||' ? [...concatParts(n.l), ...concatParts(n.r)] : [n];

  const sql = (n: ExprNode): string => {
    switch (n.k) {
      case 'num':
        return n.text;
      case 'str':
        return quoteLiteral(n.value);
      case 'null':
        return 'NULL';
      case 'bool':
        return n.value ? 'TRUE' : 'FALSE';
      case 'col': {
        if (ctx.columnType(n.name) === undefined) {
          const near = closest(n.name, ctx.columnNames);
          throw new ExpressionError(
            `$${n.name}: ${ctx.schema}.${ctx.table} has no column "${n.name}"${near ? ` (did you mean $${near}?)` : ''}; columns: ${ctx.columnNames.join(', ')}`,
          );
        }
        columns.add(n.name);
        return quoteIdent(n.name);
      }
      case 'header': {
        if (n.name.startsWith('AR_H_')) headers.add(n.name);
        const h = HEADERS[n.name];
        return typeof h === 'function' ? h(ctx) : h;
      }
      case 'unary':
        return n.op === 'NOT' ? `NOT ${wrap(n.e)}` : n.op === '-' ? `-${wrap(n.e)}` : wrap(n.e);
      case 'bin':
        // PostgreSQL binds || looser than + - * /, SQLite tighter: operands are parenthesised and
        // cast to text, as SQLite converts them (integer || integer does not exist in PostgreSQL).
        if (n.op === '||') return concatParts(n).map(text).join(' || ');
        return `${wrap(n.l)} ${n.op} ${wrap(n.r)}`;
      case 'isnull':
        return `${wrap(n.e)} IS ${n.not ? 'NOT ' : ''}NULL`;
      case 'between':
        return `${wrap(n.e)} ${n.not ? 'NOT ' : ''}BETWEEN ${wrap(n.lo)} AND ${wrap(n.hi)}`;
      case 'in':
        return `${wrap(n.e)} ${n.not ? 'NOT ' : ''}IN (${n.list.map(sql).join(', ')})`;
      case 'like':
        // SQLite LIKE ignores ASCII case.
        return `${text(n.e)} ${n.not ? 'NOT ' : ''}ILIKE ${text(n.pattern)}`;
      case 'case': {
        const parts = ['CASE'];
        if (n.operand) parts.push(sql(n.operand));
        for (const w of n.whens) parts.push(`WHEN ${sql(w.when)} THEN ${sql(w.then)}`);
        if (n.else) parts.push(`ELSE ${sql(n.else)}`);
        parts.push('END');
        return parts.join(' ');
      }
      case 'cast': {
        const type = CAST_TYPES[n.type];
        if (!type) {
          throw new ExpressionError(
            `CAST(... AS ${n.type.toUpperCase()}) is not a SQLite storage class; use INTEGER, REAL, TEXT, NUMERIC or BLOB`,
          );
        }
        return `(${sql(n.e)})::${type}`;
      }
      case 'call':
        return FUNCTIONS[n.name].render(n.args, { sql, text, literal, ctx });
    }
  };
  const out = sql(node);
  return { sql: out, columns: [...columns], headers: [...headers] };
}

/** True if the node is a plain source column reference. */
export function isPlainColumn(node: ExprNode): node is { k: 'col'; name: string } {
  return node.k === 'col';
}

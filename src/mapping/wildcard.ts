// DMS object-locator patterns: `%` (any run), `_` (one character), `[_]` (a literal underscore),
// `[ab]` (a set) and `[a-d]` (a range), matched case-sensitively against whole names.
//
// PostgreSQL endpoints have no escape character (DMS's `escapeCharacter` is Oracle-only), so the
// bracket form is the only way to match a literal `_` or `%`: `my_table` also matches `myXtable`,
// and `my[_]table` matches only `my_table`.

export interface NamePattern {
  /** The pattern as written. */
  text: string;
  /** True when the pattern contains a wildcard (%, _ or a bracket set) rather than one exact name. */
  wild: boolean;
  test(name: string): boolean;
}

/**
 * Compile a DMS pattern. Throws an Error whose message says what is wrong (an unterminated or
 * reversed bracket range), for the caller to report against the rule field.
 */
export function compilePattern(text: string): NamePattern {
  let source = '';
  let wild = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '%') {
      source += '[^]*';
      wild = true;
    } else if (ch === '_') {
      source += '[^]';
      wild = true;
    } else if (ch === '[') {
      const close = text.indexOf(']', i + 2);
      if (close < 0)
        throw new Error(`"[" at position ${i + 1} has no closing "]"; write [[] for a literal "["`);
      source += bracketClass(text.slice(i + 1, close));
      wild = true;
      i = close;
    } else {
      source += escapeRegExp(ch);
    }
  }
  const re = new RegExp(`^${source}$`, 'u');
  return { text, wild, test: (name) => re.test(name) };
}

/** An exact name (explicit selection, table-settings, define-primary-key): no wildcards at all. */
export function exactName(text: string): NamePattern {
  return { text, wild: false, test: (name) => name === text };
}

/** True if the text contains `%` — the wildcard DMS refuses where exact names are required. */
export function hasPercent(text: string): boolean {
  return text.includes('%');
}

function bracketClass(body: string): string {
  let out = '';
  const chars = [...body];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (chars[i + 1] === '-' && i + 2 < chars.length) {
      const to = chars[i + 2];
      if (to.codePointAt(0)! < ch.codePointAt(0)!)
        throw new Error(`range [${ch}-${to}] is reversed; write [${to}-${ch}]`);
      out += `${escapeClassChar(ch)}-${escapeClassChar(to)}`;
      i += 2;
    } else {
      out += escapeClassChar(ch);
    }
  }
  return `[${out}]`;
}

function escapeRegExp(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClassChar(ch: string): string {
  return ch.replace(/[\]\\^-]/g, '\\$&');
}

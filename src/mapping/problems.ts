// Collects every problem found in a mapping or settings file so one CONFIG_INVALID error lists them
// all (one per line: file, rule, field, what is wrong, the fix), plus quoting and did-you-mean helpers.
import { ErrorType, FerryError } from '../errors';
import type { Finding, RuleRef } from './types';

/** A rule's position for messages; `id` is undefined while the rule-id itself is unreadable. */
export interface RulePosition {
  index: number;
  id?: string;
}

export class Problems {
  private readonly errors: string[] = [];
  readonly findings: Finding[] = [];

  constructor(readonly file: string) {}

  /** `rules[2] (rule-id 3) filters[0].filter-operator: "lt" is not ...` */
  ruleError(rule: RulePosition, field: string | undefined, message: string): void {
    this.errors.push(`${this.file}: ${ruleLabel(rule)}${field ? ` ${field}` : ''}: ${message}`);
  }

  /** A settings-file error: `FullLoadSettings.MaxFullLoadSubTasks: got 60; ...` */
  error(field: string, message: string): void {
    this.errors.push(`${this.file}: ${field}: ${message}`);
  }

  ruleWarning(rule: RulePosition, field: string | undefined, message: string): void {
    this.ruleFinding('warning', rule, field, message);
  }

  ruleInfo(rule: RulePosition, field: string | undefined, message: string): void {
    this.ruleFinding('info', rule, field, message);
  }

  private ruleFinding(
    severity: Finding['severity'],
    rule: RulePosition,
    field: string | undefined,
    message: string,
  ): void {
    this.findings.push({
      severity,
      field: `rules[${rule.index}]${field ? `.${field}` : ''}`,
      message,
      ...(rule.id !== undefined ? { rule: rule.id } : {}),
    });
  }

  warning(field: string, message: string): void {
    this.findings.push({ severity: 'warning', field, message });
  }

  info(field: string, message: string): void {
    this.findings.push({ severity: 'info', field, message });
  }

  get hasErrors(): boolean {
    return this.errors.length > 0;
  }

  /** Throws one CONFIG_INVALID naming every problem, if there is any. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw new FerryError(ErrorType.CONFIG_INVALID, this.errors.join('\n'));
  }
}

export function ruleLabel(rule: RulePosition): string {
  return rule.id === undefined ? `rules[${rule.index}]` : `rules[${rule.index}] (rule-id ${rule.id})`;
}

export function refOf(rule: RuleRef): RulePosition {
  return { index: rule.index, id: rule.id };
}

/** Always-quoted SQL identifier (`Order Items` → `"Order Items"`); never case-folds. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** SQL string literal, correct whatever standard_conforming_strings says (backslashes → E''). */
export function quoteLiteral(value: string): string {
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/** `schema.table` for people: quotes only the parts that need it. */
export function displayName(schema: string, table: string): string {
  return `${displayIdent(schema)}.${displayIdent(table)}`;
}

export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

/** `"lt"` style quoting for values in messages. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** ` (did you mean "x"?)` or ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = closest(word, candidates);
  return match !== undefined ? ` (did you mean "${match}"?)` : '';
}

/**
 * The candidate nearest to `word`, case-insensitive: within a small edit distance (a swap of two
 * neighbours counts once, so `nmae` finds `name` and `lenght` finds `length`), or else the only
 * candidate that starts with the word (`ordered` finds `ordered_at`). Short words get a small budget.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const budget = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = budget + 1;
  for (const candidate of candidates) {
    const d = editDistance(w, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== undefined || w.length < 3) return best;
  const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(w));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

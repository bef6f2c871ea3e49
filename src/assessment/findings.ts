// The findings of one assessment run as the checks produce them: each names a rule of the catalogue,
// takes its severity from there, and records which rules were evaluated (rulesRun).
import { type RuleId, type Severity, getRule } from './rules';

export interface AssessmentFinding {
  /** Rule id from the catalogue (rules.ts). */
  id: string;
  severity: Severity;
  /**
   * What the finding is about: 'endpoint:onsite', 'table:public.orders', 'column:public.t.c',
   * 'setting:TargetMetadata.LobMaxSize', 'parameter:wal_level', 'extension:postgis', 'rule:3', ...
   */
  object: string;
  message: string;
  /** What to do: the finding's exact fix when the check knows one, else the rule's advice. */
  advice: string;
}

const ORDER: Record<Severity, number> = { blocker: 0, warning: 1, info: 2 };

export class Findings {
  private readonly items: AssessmentFinding[] = [];
  private readonly seen = new Set<string>();
  private readonly evaluated = new Set<string>();

  /** Add a finding of rule `id`; an identical one (rule, object, message) is kept once. */
  add(id: RuleId, object: string, message: string, advice?: string): void {
    const rule = getRule(id);
    const key = `${id}\u0000${object}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.evaluated.add(id);
    this.items.push({ id, severity: rule.severity, object, message, advice: advice || rule.advice });
  }

  /** True when a finding of rule `id` about `object` exists. */
  has(id: RuleId, object: string): boolean {
    return this.items.some((f) => f.id === id && f.object === object);
  }

  /** Record that these rules were evaluated (whether or not they found anything). */
  ran(...ids: RuleId[]): void {
    for (const id of ids) this.evaluated.add(id);
  }

  get rulesRun(): number {
    return this.evaluated.size;
  }

  /** Blockers first, then warnings, then infos; within a severity by rule id and object. */
  sorted(): AssessmentFinding[] {
    return [...this.items].sort(compareFindings);
  }
}

export function compareFindings(a: AssessmentFinding, b: AssessmentFinding): number {
  return (
    ORDER[a.severity] - ORDER[b.severity] ||
    cmp(a.id, b.id) ||
    cmp(a.object, b.object) ||
    cmp(a.message, b.message)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `table:schema.name` etc. with the display form of the name (quoted only where needed). */
export const objectName = {
  endpoint: (id: string) => `endpoint:${id}`,
  table: (display: string) => `table:${display}`,
  column: (tableDisplay: string, column: string) => `column:${columnDisplay(tableDisplay, column)}`,
  setting: (key: string) => `setting:${key}`,
  parameter: (name: string) => `parameter:${name}`,
  extension: (name: string) => `extension:${name}`,
  collation: (display: string) => `collation:${display}`,
  role: (name: string) => `role:${name}`,
  schema: (name: string) => `schema:${displayIdent(name)}`,
};

/** `schema.table.column` for people, quoting only what needs it. */
export function columnDisplay(tableDisplay: string, column: string): string {
  return `${tableDisplay}.${displayIdent(column)}`;
}

function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** Bytes for people: 1536 → '1.5 KiB' (one formatter for every message). */
export { bytes as formatBytes } from '../mapping/explain';

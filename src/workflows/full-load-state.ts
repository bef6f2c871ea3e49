// The full-load workflow's state as a plain class: phase, per-table statistics named as DMS names
// them (TableState, FullLoadRows, start/end times), findings. No Temporal imports: unit-testable.
import type { FullLoadPhase, FullLoadStatus, TableRef, TableStats } from './definitions';

/** DMS TableState values that a full load passes through. */
export const TABLE_STATES = {
  before: 'Before load',
  loading: 'Full load',
  completed: 'Table completed',
  error: 'Table error',
} as const;

/** A planned table's statistics before anything of it is copied. */
export function beforeLoad(t: TableRef): TableStats {
  return {
    key: t.key,
    source: t.source,
    target: t.target,
    state: TABLE_STATES.before,
    rows: 0,
    bytes: 0,
    segments: t.segments,
    segmentsDone: 0,
  };
}

export class FullLoadState {
  readonly status: FullLoadStatus;

  constructor(migration: string) {
    this.status = {
      migration,
      phase: 'preparing',
      tables: [],
      totals: { tables: 0, completed: 0, rows: 0, bytes: 0, segments: 0, segmentsDone: 0 },
      findings: [],
      timings: {},
      approvals: [],
    };
  }

  setPhase(phase: FullLoadPhase, now: Date): void {
    const prev = this.status.phase;
    const t = this.status.timings;
    if (t[prev] && t[prev].end === undefined) t[prev].end = now.toISOString();
    this.status.phase = phase;
    t[phase] = { start: now.toISOString() };
  }

  setTables(tables: TableRef[]): void {
    this.status.tables = tables.map(beforeLoad);
    this.status.totals.tables = tables.length;
    this.status.totals.segments = tables.reduce((n, t) => n + t.segments, 0);
  }

  table(key: string): TableStats | undefined {
    return this.status.tables.find((t) => t.key === key);
  }

  /** A table's statistics as reported by the child workflow loading it. Idempotent per key. */
  applyTableUpdate(u: TableStats): void {
    const t = this.table(u.key);
    if (!t) return;
    const wasDone = t.state === TABLE_STATES.completed;
    const prevRows = t.rows;
    const prevBytes = t.bytes;
    const prevSegs = t.segmentsDone;
    Object.assign(t, u);
    this.status.totals.rows += t.rows - prevRows;
    this.status.totals.bytes += t.bytes - prevBytes;
    this.status.totals.segmentsDone += t.segmentsDone - prevSegs;
    if (!wasDone && t.state === TABLE_STATES.completed) this.status.totals.completed++;
  }

  addFinding(f: string): void {
    // Bounded: a thousand tables with a finding each must not bloat the status and history.
    if (this.status.findings.length < 200) this.status.findings.push(f);
    else if (this.status.findings.length === 200)
      this.status.findings.push('… more findings in the full-load report');
  }
}

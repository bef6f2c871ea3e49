// The migration report's input: plain JSON the workflow layer assembles from statuses Ferry already
// keeps (PoC, full-load and CDC status, assessment, validation, approvals, table statistics) plus the
// inventory entry (owners, SLA). Rendering it needs nothing else, so a report can be rebuilt offline.
//
// Glossary:
//   phase        one runbook step as it ran (catalog, assess, poc, full-load, cdc, validate, cutover...)
//   write freeze the measured time between stopping source writes and the target taking writes
//   sample       one timed measurement of a rate (throughput) or of replication lag
import type { Owner } from '../config/schema';
import type {
  ApprovalRecord,
  AssessmentView,
  ServerLogsView,
  TableStatistics,
  TableStats,
  ValidationView,
} from '../workflows/definitions';

export type { ApprovalRecord, AssessmentView, ServerLogsView, TableStatistics, TableStats, ValidationView };

/** Service levels from the inventory, in seconds (config's Sla, with the unit in the name). */
export interface ReportSla {
  maxDowntimeSeconds?: number;
  rpoSeconds?: number;
  businessHours?: string;
}

export interface ReportPhase {
  name: string;
  /** ISO time. */
  startedAt: string;
  endedAt?: string;
  /** Duration; when absent and endedAt is set, derived from the two times. */
  seconds?: number;
  /** StepStatus of the workflows ('done', 'failed', ...) or any short word. */
  status: string;
}

export interface ReportPoc {
  outcome: 'approved' | 'rejected' | 'failed' | 'pending' | string;
  estimate?: { bytesPerSecond: number; estimatedSeconds: number; basis: string };
  dump?: { file?: string; bytes: number; seconds: number };
  restore?: { scratchDatabase?: string; seconds: number; warnings: number };
  verify?: { ok: boolean; tables: number; checksummed: number; differences: string[] };
}

export interface ReportLoadTotals {
  tables: number;
  completed: number;
  rows: number;
  bytes: number;
}

export interface ThroughputSample {
  /** ISO time at the end of the measured interval. */
  at: string;
  rowsPerSecond: number;
  bytesPerSecond: number;
}

export interface LagSample {
  /** ISO time. */
  at: string;
  lagSeconds: number;
  lagBytes: number;
}

export interface CutoverStep {
  name: string;
  /** ISO time. */
  at: string;
  detail?: string;
}

export interface ReportCutover {
  /** ISO time source writes stopped. */
  frozenAt: string;
  /** ISO time the target took writes. */
  switchedAt: string;
  /** Measured write freeze (switchedAt - frozenAt, as the workflow measured it). */
  writeFreezeMs: number;
  /** The inventory's maxDowntime in ms, when set. */
  slaMaxDowntimeMs?: number;
  withinSla: boolean;
  steps: CutoverStep[];
}

export interface ReportFallbackPlan {
  contacts: Owner[];
  applications: string[];
  /** Ordered, in words an operator follows. */
  steps: string[];
}

export interface MigrationReport {
  migration: string;
  workflowId: string;
  /** ISO time. */
  generatedAt: string;
  database: string;
  application?: string;
  owners: Owner[];
  sla: ReportSla;
  phases: ReportPhase[];
  assessment?: AssessmentView;
  poc?: ReportPoc;
  load?: { tables: TableStats[]; totals: ReportLoadTotals };
  /** Measured samples; when absent the report derives a series from the tables' start/finish times. */
  throughput?: ThroughputSample[];
  cdcLag?: LagSample[];
  validation?: ValidationView;
  tableStatistics?: TableStatistics[];
  approvals: ApprovalRecord[];
  cutover?: ReportCutover;
  fallbackPlan?: ReportFallbackPlan;
  serverLogs?: ServerLogsView;
  findings: string[];
}

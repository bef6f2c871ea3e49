// Names shared by workflows, the client and the CLI: updates, queries, search attributes, and the
// plain data shapes they carry. These names are recorded in history: never rename a released one.
//
// Glossary:
//   migration  a named entry of ferry.yaml: source endpoint -> target endpoint, engine, type, approvers
//   gate       a point where the workflow waits for a person (`poc`, later `assessment`, `cutover`)
//   scope      the schemas/tables a PoC dumps (empty = the whole database)
//   scratch    the throw-away database on the target server a PoC restores into
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CdcProgress, CdcTableCounters } from '../engine/cdc/types';
import type { FreezeState } from '../engine/cutover/freeze';
import type { DmsResources, DmsTaskView } from '../activities/dms';

export const GATES = ['poc', 'assessment', 'cutover'] as const;
export type GateName = (typeof GATES)[number];

/** Custom search attributes (all Keyword), registered by `ferry dev up` and the test server. */
export const SEARCH_ATTRIBUTES = [
  { name: 'FerryMigration', type: 'Keyword' },
  { name: 'FerryPhase', type: 'Keyword' },
  { name: 'FerryPendingGate', type: 'Keyword' },
  { name: 'FerryDatabase', type: 'Keyword' },
  { name: 'FerryOwner', type: 'Keyword' },
  /** CDC lag bucket: `none` (caught up), `<10s`, `<1m`, `<10m`, `>=10m`. */
  { name: 'FerryLagBucket', type: 'Keyword' },
] as const;

export interface PocScope {
  schemas: string[];
  /** "schema.table" */
  tables: string[];
}

export interface PocInput {
  migration: string;
  /** Overrides the migration's `poc` scope from ferry.yaml. */
  scope?: PocScope;
  /** Overrides `poc.sizeCapMb`. */
  sizeCapMb?: number;
  /** Timeout of the approval gate, e.g. '7 days'. Default 7 days; on timeout the PoC is rejected. */
  gateTimeout?: string;
  /** Heartbeat timeout of pg_dump/pg_restore/verify, default '30 seconds': how soon a dead worker's
   *  attempt moves elsewhere. */
  heartbeatTimeout?: string;
}

export interface ApprovalRequest {
  gate: GateName | string;
  by: string;
  reason?: string;
}

export interface ApprovalRecord {
  gate: string;
  decision: 'approved' | 'rejected' | 'timed-out';
  by: string;
  reason?: string;
  /** ISO time, from the workflow clock. */
  at: string;
}

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepRecord {
  name: string;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  seconds?: number;
  detail?: string;
}

export interface PendingGate {
  name: string;
  approvers: string[];
  since: string;
  deadline?: string;
}

export interface CompensationRecord {
  name: string;
  status: 'done' | 'failed';
  detail?: string;
}

export type PocPhase =
  | 'starting'
  | 'inspect'
  | 'dump'
  | 'restore'
  | 'verify'
  | 'plan'
  | 'awaiting-approval'
  | 'cleanup'
  | 'approved'
  | 'rejected'
  | 'failed';

export interface PocStatus {
  migration: string;
  phase: PocPhase;
  steps: StepRecord[];
  findings: string[];
  pendingGate?: PendingGate;
  approvals: ApprovalRecord[];
  compensations: CompensationRecord[];
  /** Summaries of each step's result (small: full reports live in the work dir). */
  source?: { serverVersion: string; databaseSize: number; tables: number; scopeBytes: number };
  dump?: { file: string; bytes: number; seconds: number };
  restore?: { scratchDatabase: string; seconds: number; warnings: number };
  verify?: { ok: boolean; tables: number; checksummed: number; differences: string[] };
  estimate?: { bytesPerSecond: number; estimatedSeconds: number; basis: string };
  fallbackPlanFile?: string;
  error?: string;
}

export interface PocResult {
  outcome: 'approved' | 'rejected';
  status: PocStatus;
}

export const approveGate = defineUpdate<ApprovalRecord, [ApprovalRequest]>('approveGate');
export const rejectGate = defineUpdate<ApprovalRecord, [ApprovalRequest]>('rejectGate');
export const statusQuery = defineQuery<PocStatus>('status');

// ---- assessment, validation, table statistics (shared by the full-load and CDC workflows) --------

/** Start options every data-moving workflow takes. */
export interface RunbookOptions {
  /** Who started it (`--by`, else the operator's OS user): recorded in the audit trail. */
  requestedBy?: string;
  /** Skip the premigration assessment (recorded in the audit trail). Default: run it. */
  skipAssessment?: boolean;
  /** Timeout of the `assessment` gate, e.g. '7 days' (default); on timeout the migration fails. */
  gateTimeout?: string;
}

/** One assessment finding, as `ferry assess --json` prints it. */
export interface AssessmentFindingView {
  id: string;
  severity: 'blocker' | 'warning' | 'info';
  /** The endpoint, schema, table or setting concerned, e.g. `table:public.orders`. */
  object: string;
  message: string;
  advice: string;
  /** A blocker no approval can override: the error type the migration's own step would fail with. */
  fails?: string;
}

export interface AssessmentView {
  blocked: boolean;
  counts: { blocker: number; warning: number; info: number };
  /** Blockers and warnings first; at most 50 (all of them are stored on the target). */
  findings: AssessmentFindingView[];
  startedAt: string;
  seconds: number;
  /** Set when an approver overrode the blockers at gate `assessment`. */
  overriddenBy?: string;
  skipped?: boolean;
}

/** DMS's per-table validation states. */
export type ValidationState =
  | 'Validated'
  | 'Mismatched records'
  | 'Pending records'
  | 'Not enabled'
  | 'Table error'
  | 'Pending validation'
  | 'Validation suspended'
  | 'No primary key';

export interface TableValidationView {
  key: string;
  target: string;
  state: ValidationState | string;
  sourceRows: number;
  targetRows: number;
  mismatched: number;
  pending: number;
  lastValidatedAt?: string;
  error?: string;
}

export interface ValidationView {
  enabled: boolean;
  /** Passes run so far (during CDC: one full pass, then re-checks). */
  passes: number;
  mismatches: number;
  pending: number;
  tables: TableValidationView[];
  at?: string;
}

/** DMS DescribeTableStatistics, per table. */
export interface TableStatistics {
  table: string;
  target: string;
  inserts: number;
  updates: number;
  deletes: number;
  ddls: number;
  fullLoadRows: number;
  validationState: string;
  /** ISO time of the table's last change of any of the above. */
  lastUpdateTime?: string;
}

/** Server log lines of the migration's window, kept in its record (at most 20 per endpoint). */
export interface ServerLogsView {
  since: string;
  until: string;
  endpoints: {
    side: 'source' | 'target';
    endpoint: string;
    readable: boolean;
    /** Lines that matched in the window (errors, Ferry's sessions); the latest 20 are kept here. */
    matched: number;
    errors: number;
    lines: { time: string; severity: string; message: string; database?: string; application?: string }[];
    reason?: string;
    howToFetch?: string[];
  }[];
}

export const assessmentQuery = defineQuery<AssessmentView | undefined>('assessment');
export const tableStatisticsQuery = defineQuery<TableStatistics[]>('tableStatistics');

// ---- full load ----------------------------------------------------------------------------------

export interface FullLoadInput extends RunbookOptions {
  migration: string;
  /** Tables per child workflow: keeps each history small for databases with thousands of tables. */
  tablesPerChild?: number;
  /** Heartbeat timeout of copy/index activities, default '60 seconds'. */
  heartbeatTimeout?: string;
  /** Set by the CDC workflow (full-load-and-cdc): the snapshot comes from this migration's slot. */
  cdc?: boolean;
}

/** One planned table, as the workflow sees it (small: the full plan stays in the target's ferry schema). */
export interface TableRef {
  /** `schema.table` of the source, quoted where needed: unique per plan. */
  key: string;
  source: string;
  target: string;
  bytes: number;
  estimatedRows: number;
  segments: number;
  loadOrder: number;
}

/** Per-table statistics, DMS TableStatistics style. */
export interface TableStats {
  key: string;
  source: string;
  target: string;
  /** 'Before load' | 'Full load' | 'Table completed' | 'Table error' */
  state: string;
  rows: number;
  bytes: number;
  segments: number;
  segmentsDone: number;
  startedAt?: string;
  finishedAt?: string;
  seconds?: number;
  truncatedLobs?: number;
  error?: string;
}

export type FullLoadPhase =
  | 'assessment'
  | 'awaiting-approval'
  | 'validation'
  | 'preparing'
  | 'snapshot'
  | 'pre-data'
  | 'loading'
  | 'post-data'
  | 'sequences'
  | 'completed'
  | 'failed';

export interface FullLoadStatus {
  migration: string;
  phase: FullLoadPhase;
  planId?: string;
  snapshot?: { snapshotId: string; slotName?: string; consistentLsn?: string };
  tables: TableStats[];
  totals: {
    tables: number;
    completed: number;
    rows: number;
    bytes: number;
    segments: number;
    segmentsDone: number;
  };
  findings: string[];
  timings: Record<string, { start: string; end?: string; seconds?: number }>;
  postData?: { indexes: number; constraints: number; sequences: number };
  assessment?: AssessmentView;
  validation?: ValidationView;
  serverLogs?: ServerLogsView;
  pendingGate?: PendingGate;
  approvals: ApprovalRecord[];
  /** full-load-and-cdc: where CDC picks up. */
  cdc?: CdcStart;
  error?: string;
}

export interface LoadTablesInput {
  migration: string;
  planId: string;
  parentWorkflowId: string;
  tables: TableRef[];
  concurrency: number;
  heartbeatTimeout: string;
}

export const fullLoadStatusQuery = defineQuery<FullLoadStatus>('fullLoadStatus');
/**
 * Sent by a loadTables child to its parent with finished tables, batched (every 10 tables or 5 s) so
 * the parent's history grows by well under one event per table.
 */
export const tableProgressSignal = defineSignal<[TableStats[]]>('tableProgress');

// ---- change data capture ------------------------------------------------------------------------

/** Where and how CDC streams: fixed once the slot exists, carried across continue-as-new. */
export interface CdcStart {
  planId: string;
  slotName: string;
  publication: string;
  /** Start here when the target has no stored position (cdc with CdcStartPosition); else the slot's. */
  startLsn?: string;
  /**
   * Tables copied under a later snapshot than the slot's (the holder restarted, or a table adopted while
   * CDC ran), by table key: the exact WAL boundary of that snapshot. Their changes in transactions
   * committed before it are in the copy already, and skipped.
   */
  skipBefore?: Record<string, string>;
  /** Older loads: the load read a snapshot newer than the slot; replay up to here idempotently. */
  tolerantUntil?: string;
}

export interface CdcInput extends RunbookOptions {
  migration: string;
  mode: 'full-load-and-cdc' | 'cdc';
  /** Set once the load is done (or the slot is prepared), and by continue-as-new. */
  start?: CdcStart;
  /** The status so far, carried across continue-as-new. */
  carried?: CdcStatus;
  /** Paused when continued as new: stays paused. */
  paused?: boolean;
  /** Options of the full load child. */
  fullLoad?: Pick<FullLoadInput, 'tablesPerChild' | 'heartbeatTimeout'>;
  /** Minutes per streaming activity (default: ferry.yaml cdc.windowMinutes). */
  windowMinutes?: number;
  /** Seconds between progress reports to the workflow (default: ferry.yaml cdc.progressSeconds). */
  progressSeconds?: number;
  /** Heartbeat timeout of the streaming activity, default '60 seconds'. */
  heartbeatTimeout?: string;
  /** Continue as new once history passes this many events (default 5000). */
  historyLimit?: number;
  /** Seconds between validation passes while streaming (default 300), when validation is enabled. */
  validationIntervalSeconds?: number;
  /**
   * Run as a child of the migration workflow: its summary is signalled there at once when the phase,
   * validation or readiness changes, and lag alone at most every 5 s at first, every 5 min later on.
   */
  parentWorkflowId?: string;
  /** The parent's cutover readiness threshold: crossing it is signalled at once (default 5 s). */
  parentReadyLagSeconds?: number;
}

/** What a CDC child tells its migration workflow: enough to decide when the cutover gate opens. */
export interface CdcSummary {
  phase: CdcPhase;
  planId?: string;
  slotName?: string;
  publication?: string;
  lag?: { lagBytes: number; lagSeconds: number; appliedLsn: string; sourceLsn: string; at: string };
  validation?: {
    enabled: boolean;
    passes: number;
    mismatches: number;
    pending: number;
    validated: number;
    tables: number;
  };
  /** Validation while streaming failed for good: no pass will come. */
  validationError?: string;
  error?: string;
}

export type CdcPhase =
  | 'assessment'
  | 'awaiting-approval'
  | 'full-load'
  | 'preparing'
  | 'streaming'
  | 'paused'
  | 'stopping'
  | 'stopped'
  | 'failed';

/** Live CDC figures, as the streaming activity reports them: the engine's progress minus per-table detail. */
export type CdcLag = Omit<CdcProgress, 'slotName' | 'receivedLsn' | 'tables'>;

/** Per-table CDC counters (DMS table statistics: inserts, updates, deletes, truncates). */
export type CdcTableStats = CdcTableCounters;

export interface CdcControlRequest {
  by: string;
  reason?: string;
}

export interface CdcStopRequest extends CdcControlRequest {
  /** Drop the replication slot and publication: CDC can then never resume from this position. */
  dropSlot?: boolean;
}

export interface CdcStatus {
  migration: string;
  mode: CdcInput['mode'];
  phase: CdcPhase;
  workflowId: string;
  fullLoadWorkflowId?: string;
  start?: CdcStart;
  lag?: CdcLag;
  tables: Record<string, CdcTableStats>;
  /** Source tables created after the plan and adopted while streaming (kept across continue-as-new). */
  adopted?: string[];
  /** Streaming activity windows finished, and attempts that failed and were retried. */
  windows: number;
  runs: number;
  controls: { action: 'pause' | 'resume' | 'stop'; by: string; reason?: string; at: string }[];
  slot?: { name: string; dropped: boolean; retainedWalBytes?: number; active?: boolean };
  assessment?: AssessmentView;
  validation?: ValidationView;
  serverLogs?: ServerLogsView;
  /** Full-load rows per table (full-load-and-cdc), for the table statistics. */
  fullLoadRows?: Record<string, { target: string; rows: number; at?: string }>;
  /** When each table last changed (ISO), for the table statistics. */
  tableUpdatedAt?: Record<string, string>;
  pendingGate?: PendingGate;
  approvals: ApprovalRecord[];
  findings: string[];
  timings: Record<string, { start: string; end?: string; seconds?: number }>;
  error?: string;
}

export const cdcStatusQuery = defineQuery<CdcStatus>('cdcStatus');
/** Sent by the streaming activity every progressSeconds. */
export const cdcProgressSignal =
  defineSignal<[{ lag: CdcLag; tables: Record<string, CdcTableStats> }]>('cdcProgress');
/** Sent by the streaming activity when it adopted new source tables: the plan (and catch-up) changed. */
export const cdcPlanSignal =
  defineSignal<[{ start: CdcStart; added: string[]; findings: string[] }]>('cdcPlan');
export const cdcSummarySignal = defineSignal<[CdcSummary]>('cdcSummary');
/** Stop CDC from another workflow (updates cannot be sent workflow to workflow): as the stopCdc update. */
export const stopCdcSignal = defineSignal<[CdcStopRequest]>('stopCdcSignal');
export const pauseCdc = defineUpdate<CdcStatus, [CdcControlRequest]>('pauseCdc');
export const resumeCdc = defineUpdate<CdcStatus, [CdcControlRequest]>('resumeCdc');
export const stopCdc = defineUpdate<CdcStatus, [CdcStopRequest]>('stopCdc');

// ---- the whole runbook --------------------------------------------------------------------------

export const MIGRATION_PHASES = [
  'catalog',
  'assess',
  'poc',
  'provision',
  'full-load',
  'cdc',
  'validate',
  'awaiting-cutover',
  'cutover',
  'post-cutover',
  'done',
  'fallback',
  'failed',
] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

export interface MigrationInput extends RunbookOptions {
  migration: string;
  /** Skip the proof of concept (recorded in the audit trail). */
  skipPoc?: boolean;
  /** Timeout of the `cutover` gate (default 7 days): on timeout the migration falls back. */
  cutoverGateTimeout?: string;
  /** Seconds the post-cutover watch lasts before the migration is done (default 60). */
  postCutoverSeconds?: number;
  /** Workers that must poll the task queue before data moves (the "Multi-AZ" replicas; default 1). */
  minWorkers?: number;
  /** Options of the CDC child. */
  cdc?: Pick<CdcInput, 'windowMinutes' | 'progressSeconds' | 'validationIntervalSeconds' | 'historyLimit'>;
  /** The CDC lag under which the cutover gate opens (default 5 s). */
  readyLagSeconds?: number;
}

export interface CutoverView {
  window?: { ok: boolean; reason: string };
  method?: string;
  /** What undoes the source's freeze (plain JSON): kept for the fallback. */
  freezeState?: FreezeState;
  /** The reverse replication slot on the target, created while the source was frozen. */
  reverse?: { slotName: string; publication: string; startLsn: string };
  frozenAt?: string;
  freezeLsn?: string;
  lagZeroAt?: string;
  validation?: { mismatches: number; pending: number };
  sequences?: number;
  switchedAt?: string;
  switchOutput?: string;
  writeFreezeMs?: number;
  slaMaxDowntimeMs?: number;
  withinSla?: boolean;
  steps: { name: string; at: string; detail?: string }[];
}

export interface MigrationStatus {
  migration: string;
  workflowId: string;
  phase: MigrationPhase;
  /** Each phase's start and end (ISO) and seconds. */
  phases: Partial<Record<MigrationPhase, { start: string; end?: string; seconds?: number }>>;
  database?: string;
  owner?: string;
  sla?: { maxDowntimeSeconds?: number; rpoSeconds?: number; businessHours?: string };
  assessment?: AssessmentView;
  poc?: { workflowId: string; outcome?: string };
  cdcWorkflowId?: string;
  cdc?: CdcSummary;
  /** CDC lag over time (for the report's chart): at most LAG_HISTORY_MAX samples, thinned evenly. */
  lagHistory?: LagSample[];
  pendingGate?: PendingGate;
  approvals: ApprovalRecord[];
  /** From ferry.yaml: full-load (the load runs under the freeze) or with CDC. */
  migrationType?: 'full-load' | 'full-load-and-cdc' | 'cdc';
  /** native or aws-dms (ferry.yaml `engine`). */
  engine?: 'native' | 'aws-dms';
  /** engine aws-dms: the resources (created or adopted), the task's last view, the pre-cutover snapshot. */
  dms?: {
    resources: DmsResources;
    task?: Omit<DmsTaskView, 'tables'>;
    snapshot?: { identifier: string; arn: string; created: boolean };
    teardown?: { name: string; detail: string }[];
  };
  /** Full load only: the load's child workflow. */
  fullLoadWorkflowId?: string;
  /** Full load only: the dump of the frozen source taken at the cutover, the way back if it moved. */
  restorePoint?: { file: string; bytes: number; writesFile: string };
  /** Approved, but the SLA's business hours hold the cutover until then (ISO). */
  cutoverWaitsUntil?: string;
  cutover?: CutoverView;
  fallback?: {
    by: string;
    reason: string;
    requestedAt: string;
    /** The phase it was asked in: before the cutover nothing is undone on the source. */
    fromPhase: MigrationPhase;
    steps: { name: string; at: string; detail?: string }[];
    done?: boolean;
  };
  findings: string[];
  error?: string;
}

export interface LagSample {
  at: string;
  lagSeconds: number;
  lagBytes: number;
}

export const LAG_HISTORY_MAX = 400;

/** Add a sample (a repeat of the last one is ignored); past the limit every other old sample goes. */
export function recordLag(history: LagSample[], lag: CdcSummary['lag']): void {
  if (!lag || history.at(-1)?.at === lag.at) return;
  history.push({ at: lag.at, lagSeconds: lag.lagSeconds, lagBytes: lag.lagBytes });
  if (history.length > LAG_HISTORY_MAX) {
    const kept = history.filter((_, i) => i % 2 === 0 || i === history.length - 1);
    history.splice(0, history.length, ...kept);
  }
}

export interface FallbackRequest {
  by: string;
  reason: string;
}

export const fallbackUpdate = defineUpdate<MigrationStatus, [FallbackRequest]>('fallback');

export const migrationStatusQuery = defineQuery<MigrationStatus>('migrationStatus');

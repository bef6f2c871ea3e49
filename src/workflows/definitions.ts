// Names shared by workflows, the client and the CLI: updates, queries, search attributes, and the
// plain data shapes they carry. These names are recorded in history: never rename a released one.
//
// Glossary:
//   migration  a named entry of ferry.yaml: source endpoint -> target endpoint, engine, type, approvers
//   gate       a point where the workflow waits for a person (`poc`, later `assessment`, `cutover`)
//   scope      the schemas/tables a PoC dumps (empty = the whole database)
//   scratch    the throw-away database on the target server a PoC restores into
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const GATES = ['poc'] as const;
export type GateName = (typeof GATES)[number];

/** Custom search attributes (all Keyword), registered by `ferry dev up` and the test server. */
export const SEARCH_ATTRIBUTES = [
  { name: 'FerryMigration', type: 'Keyword' },
  { name: 'FerryPhase', type: 'Keyword' },
  { name: 'FerryPendingGate', type: 'Keyword' },
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

// ---- full load ----------------------------------------------------------------------------------

export interface FullLoadInput {
  migration: string;
  /** Tables per child workflow: keeps each history small for databases with thousands of tables. */
  tablesPerChild?: number;
  /** Heartbeat timeout of copy/index activities, default '60 seconds'. */
  heartbeatTimeout?: string;
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
  'preparing' | 'snapshot' | 'pre-data' | 'loading' | 'post-data' | 'sequences' | 'completed' | 'failed';

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
  timings: Record<string, { start: string; end?: string }>;
  postData?: { indexes: number; constraints: number; sequences: number };
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

// The typed Temporal client the CLI and tests use: start a PoC, approve or reject a gate, query
// status, wait for the result, list migrations.
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowHandle,
  WorkflowHandleWithFirstExecutionRunId,
  WorkflowStartOptions,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, Workflow } from '@temporalio/common';
import { FerryError, ErrorType } from './errors';
import { cdcTableStatistics, tableStatistics } from './workflows/table-stats';
import {
  tableStatisticsQuery,
  type TableStatistics,
  type MigrationInput,
  type MigrationStatus,
  migrationStatusQuery,
  type FallbackRequest,
  fallbackUpdate,
  type PendingGate,
  type AssessmentView,
  approveGate,
  ApprovalRecord,
  CdcControlRequest,
  CdcInput,
  CdcStatus,
  CdcStopRequest,
  cdcStatusQuery,
  pauseCdc,
  resumeCdc,
  stopCdc,
  FullLoadInput,
  FullLoadStatus,
  fullLoadStatusQuery,
  ApprovalRequest,
  PocInput,
  PocResult,
  PocStatus,
  rejectGate,
  statusQuery,
} from './workflows/definitions';
import type { cdcMigration, fullLoad, migration, proofOfConcept } from './workflows';

export interface FerryClientOptions {
  address: string;
  namespace: string;
  taskQueue: string;
}

export interface MigrationListing {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  migration?: string;
  phase?: string;
  pendingGate?: string;
  startTime: Date;
  closeTime?: Date;
}

function assessmentSummary(a: AssessmentView): string {
  return `${a.counts.blocker} blocker(s), ${a.counts.warning} warning(s)`;
}

/** A gate waiting for an approver, as `ferry approvals` lists it. */
export interface PendingApproval {
  workflowId: string;
  type: string;
  migration?: string;
  database?: string;
  owner?: string;
  phase?: string;
  gate: string;
  approvers: string[];
  since?: string;
  deadline?: string;
  /** What the approver decides on: the blocker count (assessment), the verify result (poc)... */
  summary?: string;
}

export function pocWorkflowId(migration: string): string {
  return `poc-${migration}`;
}

export function fullLoadWorkflowId(migration: string): string {
  return `full-load-${migration}`;
}

export function cdcWorkflowId(migration: string): string {
  return `cdc-${migration}`;
}

/** The failure of a closed workflow: its message and the status our workflows attach as details. */
async function closedFailure(h: WorkflowHandle): Promise<{ error: string; details?: unknown }> {
  try {
    await h.result();
    return { error: 'workflow closed' };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof ApplicationFailure) return { error: cause.message, details: cause.details?.[0] };
    return { error: (cause as Error | undefined)?.message ?? (err as Error).message };
  }
}

function isStatus<T>(x: unknown, key: string): x is T {
  return typeof x === 'object' && x !== null && key in x;
}

export class FerryClient {
  private constructor(
    readonly client: Client,
    private readonly connection: Connection | undefined,
    readonly taskQueue: string,
  ) {}

  static async connect(opts: FerryClientOptions): Promise<FerryClient> {
    let connection: Connection;
    try {
      connection = await Connection.connect({ address: opts.address, connectTimeout: '5s' });
    } catch (err) {
      throw new FerryError(
        ErrorType.ENDPOINT_UNREACHABLE,
        `cannot reach Temporal at ${opts.address} (${(err as Error).message}); start it with \`ferry dev up\` or set temporal.address in ferry.yaml`,
      );
    }
    return new FerryClient(new Client({ connection, namespace: opts.namespace }), connection, opts.taskQueue);
  }

  /** Wrap an existing client (tests using TestWorkflowEnvironment). */
  static fromClient(client: Client, taskQueue: string): FerryClient {
    return new FerryClient(client, undefined, taskQueue);
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }

  /** Start a workflow once per id: a second start while one runs says where to follow the first. */
  private async startOnce<W extends Workflow>(
    type: string,
    what: string,
    workflowId: string,
    input: Parameters<W>[0],
  ): Promise<WorkflowHandleWithFirstExecutionRunId<W>> {
    try {
      const options = {
        taskQueue: this.taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
      };
      return await this.client.workflow.start<W>(type, options as unknown as WorkflowStartOptions<W>);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new FerryError(
          ErrorType.CONFIG_INVALID,
          `${what} is already running (workflow ${workflowId}); follow it with \`ferry status ${workflowId}\``,
        );
      }
      throw err;
    }
  }

  /** Start the PoC of a migration; refuses if one is already running for it. */
  startPoc(input: PocInput, workflowId = pocWorkflowId(input.migration)) {
    return this.startOnce<typeof proofOfConcept>(
      'proofOfConcept',
      `a PoC for ${input.migration}`,
      workflowId,
      input,
    );
  }

  /** Start the full load of a migration; refuses if one is already running for it. */
  startFullLoad(input: FullLoadInput, workflowId = fullLoadWorkflowId(input.migration)) {
    return this.startOnce<typeof fullLoad>(
      'fullLoad',
      `a full load of ${input.migration}`,
      workflowId,
      input,
    );
  }

  /** Start CDC (full-load-and-cdc: the load first, then CDC from its slot); refuses a second one. */
  startCdc(input: CdcInput, workflowId = cdcWorkflowId(input.migration)) {
    return this.startOnce<typeof cdcMigration>(
      'cdcMigration',
      `CDC of ${input.migration}`,
      workflowId,
      input,
    );
  }

  /** Start the whole runbook of a migration (assess, PoC, load, CDC, validate, cutover); one at a time. */
  startMigration(input: MigrationInput, workflowId = `migration-${input.migration}`) {
    return this.startOnce<typeof migration>(
      'migration',
      `the migration ${input.migration}`,
      workflowId,
      input,
    );
  }

  /** Ask the runbook to fall back (an approver, with a reason); returns its status as it starts. */
  async fallback(workflowId: string, req: FallbackRequest): Promise<MigrationStatus> {
    try {
      return await this.handle(workflowId).executeUpdate(fallbackUpdate, { args: [req] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new FerryError(
          ErrorType.APPROVAL_INVALID,
          `fallback refused: ${err.cause?.message ?? err.message}`,
        );
      }
      throw err;
    }
  }

  /** The runbook's status; from the result or failure once closed. */
  async migrationStatus(workflowId: string): Promise<MigrationStatus> {
    const h = this.handle(workflowId);
    const desc = await h.describe();
    if (desc.status.name === 'RUNNING') return h.query(migrationStatusQuery);
    if (desc.status.name === 'COMPLETED') return (await h.result()) as MigrationStatus;
    const { error, details } = await closedFailure(h);
    if (isStatus<MigrationStatus>(details, 'phases')) return details;
    const sa = desc.searchAttributes as Record<string, unknown[] | undefined>;
    return {
      migration: String(sa.FerryMigration?.[0] ?? ''),
      workflowId,
      phase: 'failed',
      phases: {},
      approvals: [],
      findings: [],
      error,
    };
  }

  /** CDC status (phase, lag, rates, per-table counters); from the result or failure once closed. */
  async cdcStatus(workflowId: string): Promise<CdcStatus> {
    const h = this.handle(workflowId);
    const desc = await h.describe();
    if (desc.status.name === 'RUNNING') return h.query(cdcStatusQuery);
    if (desc.status.name === 'COMPLETED') return (await h.result()) as CdcStatus;
    const { error, details } = await closedFailure(h);
    if (isStatus<CdcStatus>(details, 'windows')) return details;
    const sa = desc.searchAttributes as Record<string, unknown[] | undefined>;
    return {
      migration: String(sa.FerryMigration?.[0] ?? ''),
      mode: 'cdc',
      phase: 'failed',
      workflowId,
      tables: {},
      windows: 0,
      runs: 0,
      controls: [],
      approvals: [],
      findings: [],
      timings: {},
      error,
    };
  }

  /** Pause, resume or stop a running CDC workflow; returns its status after the change. */
  async controlCdc(
    workflowId: string,
    action: 'pause' | 'resume' | 'stop',
    req: CdcControlRequest | CdcStopRequest,
  ): Promise<CdcStatus> {
    const update = action === 'pause' ? pauseCdc : action === 'resume' ? resumeCdc : stopCdc;
    try {
      return await this.handle(workflowId).executeUpdate(update, { args: [req] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new FerryError(
          ErrorType.CONFIG_INVALID,
          `${action} refused: ${err.cause?.message ?? err.message}`,
        );
      }
      throw err;
    }
  }

  /** Full-load status; from the result (or failure) once the workflow has closed. */
  async fullLoadStatus(workflowId: string): Promise<FullLoadStatus> {
    const h = this.handle(workflowId);
    const desc = await h.describe();
    if (desc.status.name === 'RUNNING') return h.query(fullLoadStatusQuery);
    if (desc.status.name === 'COMPLETED') return (await h.result()) as FullLoadStatus;
    const { error, details } = await closedFailure(h);
    if (isStatus<FullLoadStatus>(details, 'totals')) return details;
    const sa = desc.searchAttributes as Record<string, unknown[] | undefined>;
    return {
      migration: String(sa.FerryMigration?.[0] ?? ''),
      phase: 'failed',
      tables: [],
      totals: { tables: 0, completed: 0, rows: 0, bytes: 0, segments: 0, segmentsDone: 0 },
      approvals: [],
      findings: [],
      timings: {},
      error,
    };
  }

  handle(workflowId: string): WorkflowHandle {
    return this.client.workflow.getHandle(workflowId);
  }

  /**
   * The workflow's status. A query needs a worker to answer, so for a closed workflow (no worker may
   * be running any more) the status comes from its result or its failure instead.
   */
  async status(workflowId: string): Promise<PocStatus> {
    const h = this.handle(workflowId);
    const desc = await h.describe();
    if (desc.status.name === 'RUNNING') return h.query(statusQuery);
    if (desc.status.name === 'COMPLETED') return ((await h.result()) as PocResult).status;
    const sa = desc.searchAttributes as Record<string, unknown[] | undefined>;
    const { error, details } = await closedFailure(h);
    if (isStatus<PocStatus>(details, 'steps')) return details;
    return {
      migration: String(sa.FerryMigration?.[0] ?? ''),
      phase: 'failed',
      steps: [],
      findings: [],
      approvals: [],
      compensations: [],
      error,
    };
  }

  /**
   * DMS-style table statistics of a full-load or CDC workflow: the query while it runs, else computed
   * from its final status.
   */
  async tableStatistics(workflowId: string): Promise<TableStatistics[]> {
    const h = this.handle(workflowId);
    const desc = await h.describe();
    if (desc.status.name === 'RUNNING') return h.query(tableStatisticsQuery);
    if (desc.type === 'cdcMigration') {
      const st = await this.cdcStatus(workflowId);
      return cdcTableStatistics(st);
    }
    const st = await this.fullLoadStatus(workflowId);
    return tableStatistics({ load: st.tables, validation: st.validation });
  }

  async describe(workflowId: string) {
    return this.handle(workflowId).describe();
  }

  async decide(
    workflowId: string,
    decision: 'approve' | 'reject',
    req: ApprovalRequest,
  ): Promise<ApprovalRecord> {
    try {
      return await this.handle(workflowId).executeUpdate(decision === 'approve' ? approveGate : rejectGate, {
        args: [req],
      });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new FerryError(
          ErrorType.APPROVAL_INVALID,
          `${decision} refused: ${err.cause?.message ?? err.message}`,
        );
      }
      throw err;
    }
  }

  async result(workflowId: string): Promise<PocResult> {
    return this.handle(workflowId).result();
  }

  /** Every running workflow of the task queue waiting at a gate, oldest first, with who may decide. */
  async pendingApprovals(): Promise<PendingApproval[]> {
    const out: PendingApproval[] = [];
    const query = `TaskQueue = '${this.taskQueue}' AND ExecutionStatus = 'Running'`;
    for await (const w of this.client.workflow.list({ query })) {
      const sa = w.searchAttributes as Record<string, unknown[] | undefined>;
      const gate = sa.FerryPendingGate?.[0] as string | undefined;
      if (!gate) continue;
      const h = this.handle(w.workflowId);
      let pending: PendingGate | undefined;
      let summary: string | undefined;
      try {
        if (w.type === 'cdcMigration') {
          const st = await h.query(cdcStatusQuery);
          pending = st.pendingGate;
          if (st.assessment) summary = assessmentSummary(st.assessment);
        } else if (w.type === 'fullLoad') {
          const st = await h.query(fullLoadStatusQuery);
          pending = st.pendingGate;
          if (st.assessment) summary = assessmentSummary(st.assessment);
        } else if (w.type === 'migration') {
          const st = await h.query(migrationStatusQuery);
          pending = st.pendingGate;
          if (gate === 'cutover' && st.cdc?.lag) {
            const v = st.cdc.validation;
            summary =
              `lag ${st.cdc.lag.lagSeconds.toFixed(1)} s` +
              (v?.enabled
                ? `, validation ${v.validated}/${v.tables} tables, ${v.mismatches} mismatched`
                : '');
          } else if (st.assessment) {
            summary = assessmentSummary(st.assessment);
          }
        } else if (w.type === 'proofOfConcept') {
          const st = await h.query(statusQuery);
          pending = st.pendingGate;
          if (st.verify) summary = `verify ${st.verify.ok ? 'ok' : 'FAILED'}, ${st.verify.tables} tables`;
        }
      } catch {
        // No worker answers queries right now: list the gate from its search attribute alone.
      }
      out.push({
        workflowId: w.workflowId,
        type: w.type,
        migration: sa.FerryMigration?.[0] as string | undefined,
        database: sa.FerryDatabase?.[0] as string | undefined,
        owner: sa.FerryOwner?.[0] as string | undefined,
        phase: sa.FerryPhase?.[0] as string | undefined,
        gate,
        approvers: pending?.approvers ?? [],
        ...(pending?.since && { since: pending.since }),
        ...(pending?.deadline && { deadline: pending.deadline }),
        ...(summary && { summary }),
      });
    }
    return out.sort((a, b) => (a.since ?? '').localeCompare(b.since ?? ''));
  }

  async list(limit = 50): Promise<MigrationListing[]> {
    const out: MigrationListing[] = [];
    for await (const w of this.client.workflow.list({ query: `TaskQueue = '${this.taskQueue}'` })) {
      const sa = w.searchAttributes as Record<string, unknown[] | undefined>;
      out.push({
        workflowId: w.workflowId,
        runId: w.runId,
        type: w.type,
        status: w.status.name,
        migration: sa.FerryMigration?.[0] as string | undefined,
        phase: sa.FerryPhase?.[0] as string | undefined,
        pendingGate: sa.FerryPendingGate?.[0] as string | undefined,
        startTime: w.startTime,
        closeTime: w.closeTime,
      });
      if (out.length >= limit) break;
    }
    return out;
  }
}

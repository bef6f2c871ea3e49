// The typed Temporal client the CLI and tests use: start a PoC, approve or reject a gate, query
// status, wait for the result, list migrations.
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowHandle,
  WorkflowHandleWithFirstExecutionRunId,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { FerryError, ErrorType } from './errors';
import {
  approveGate,
  ApprovalRecord,
  ApprovalRequest,
  PocInput,
  PocResult,
  PocStatus,
  rejectGate,
  statusQuery,
} from './workflows/definitions';
import type { proofOfConcept } from './workflows';

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

export function pocWorkflowId(migration: string): string {
  return `poc-${migration}`;
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

  /** Start the PoC of a migration; refuses if one is already running for it. */
  async startPoc(
    input: PocInput,
    workflowId = pocWorkflowId(input.migration),
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof proofOfConcept>> {
    try {
      return await this.client.workflow.start<typeof proofOfConcept>('proofOfConcept', {
        taskQueue: this.taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new FerryError(
          ErrorType.CONFIG_INVALID,
          `a PoC for ${input.migration} is already running (workflow ${workflowId}); follow it with \`ferry status ${workflowId}\``,
        );
      }
      throw err;
    }
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
    let error = `workflow ${desc.status.name.toLowerCase()}`;
    try {
      await h.result();
    } catch (err) {
      error = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    }
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

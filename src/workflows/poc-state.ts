// The PoC workflow's state as a plain class: steps and timings, the approval gate, approvals and
// compensations. No Temporal imports, so unit tests drive it without a server.
import type {
  ApprovalRecord,
  ApprovalRequest,
  CompensationRecord,
  PocPhase,
  PocStatus,
  StepRecord,
} from './definitions';

export const POC_STEPS = ['inspect', 'dump', 'restore', 'verify', 'plan', 'approval'] as const;
export type PocStep = (typeof POC_STEPS)[number];

/** Thrown by the update validators: the request is rejected before it enters history. */
export class ApprovalRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApprovalRejectedError';
  }
}

export class PocState {
  readonly status: PocStatus;
  private approvers: string[] = [];

  constructor(migration: string) {
    this.status = {
      migration,
      phase: 'starting',
      steps: POC_STEPS.map((name) => ({ name, status: 'pending' })),
      findings: [],
      approvals: [],
      compensations: [],
    };
  }

  setApprovers(approvers: string[]): void {
    this.approvers = [...approvers];
  }

  private step(name: PocStep): StepRecord {
    return this.status.steps.find((s) => s.name === name)!;
  }

  setPhase(phase: PocPhase): void {
    this.status.phase = phase;
  }

  begin(name: PocStep, now: Date): void {
    const s = this.step(name);
    s.status = 'running';
    s.startedAt = now.toISOString();
    delete s.endedAt;
    delete s.seconds;
  }

  end(name: PocStep, now: Date, detail?: string, status: 'done' | 'failed' | 'skipped' = 'done'): void {
    const s = this.step(name);
    s.status = status;
    s.endedAt = now.toISOString();
    if (s.startedAt) s.seconds = (now.getTime() - Date.parse(s.startedAt)) / 1000;
    if (detail !== undefined) s.detail = detail;
  }

  /** The running step, if any: marked failed when the workflow fails. */
  running(): PocStep | undefined {
    return this.status.steps.find((s) => s.status === 'running')?.name as PocStep | undefined;
  }

  addFinding(f: string): void {
    this.status.findings.push(f);
  }

  openGate(name: string, now: Date, deadline?: Date): void {
    this.status.pendingGate = {
      name,
      approvers: [...this.approvers],
      since: now.toISOString(),
      deadline: deadline?.toISOString(),
    };
  }

  /** Validator for approve/reject: throws ApprovalRejectedError with the reason it is refused. */
  validate(req: ApprovalRequest): void {
    const gate = this.status.pendingGate;
    if (!req || typeof req.by !== 'string' || !req.by.trim()) {
      throw new ApprovalRejectedError(
        'an approval needs `by`: who approves (one of the migration approvers)',
      );
    }
    if (!gate) {
      throw new ApprovalRejectedError(
        `no gate is waiting for approval (phase ${this.status.phase}); nothing to approve yet`,
      );
    }
    if (req.gate !== gate.name) {
      throw new ApprovalRejectedError(
        `gate "${req.gate}" is not pending; the pending gate is "${gate.name}"`,
      );
    }
    if (!this.approvers.includes(req.by)) {
      throw new ApprovalRejectedError(
        `"${req.by}" is not an approver of migration ${this.status.migration}; approvers: ${this.approvers.join(', ')}`,
      );
    }
  }

  /** Record a decision and close the gate. Call only after validate(). */
  decide(req: ApprovalRequest, decision: ApprovalRecord['decision'], now: Date): ApprovalRecord {
    const rec: ApprovalRecord = {
      gate: req.gate,
      decision,
      by: req.by,
      reason: req.reason,
      at: now.toISOString(),
    };
    this.status.approvals.push(rec);
    delete this.status.pendingGate;
    return rec;
  }

  decision(gate: string): ApprovalRecord | undefined {
    return this.status.approvals.find((a) => a.gate === gate);
  }

  compensated(rec: CompensationRecord): void {
    this.status.compensations.push(rec);
  }

  fail(message: string): void {
    const running = this.running();
    if (running) this.step(running).status = 'failed';
    this.status.phase = 'failed';
    this.status.error = message;
  }
}

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
import { ApprovalRejectedError, GateKeeper } from './gates';

export const POC_STEPS = ['inspect', 'dump', 'restore', 'verify', 'plan', 'approval'] as const;
export type PocStep = (typeof POC_STEPS)[number];

export { ApprovalRejectedError };

export class PocState {
  readonly status: PocStatus;
  private readonly gates: GateKeeper;

  constructor(migration: string) {
    this.status = {
      migration,
      phase: 'starting',
      steps: POC_STEPS.map((name) => ({ name, status: 'pending' })),
      findings: [],
      approvals: [],
      compensations: [],
    };
    this.gates = new GateKeeper(this.status);
  }

  setApprovers(approvers: string[]): void {
    this.gates.setApprovers(approvers);
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
    this.gates.open(name, now, deadline);
  }

  /** Validator for approve/reject: throws ApprovalRejectedError with the reason it is refused. */
  validate(req: ApprovalRequest): void {
    this.gates.validate(req);
  }

  /** Record a decision and close the gate. Call only after validate(). */
  decide(req: ApprovalRequest, decision: ApprovalRecord['decision'], now: Date): ApprovalRecord {
    return this.gates.decide(req, decision, now);
  }

  decision(gate: string): ApprovalRecord | undefined {
    return this.gates.decision(gate);
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

// Approval gates shared by every workflow: who may pass a gate, what a decision records. Plain code
// (no Temporal imports), so unit tests drive it without a server; workflows wire it to the
// approveGate/rejectGate updates, whose validators reject a bad request before it enters history.
import type { ApprovalRecord, ApprovalRequest, PendingGate } from './definitions';

/** Thrown by the update validators: the request is rejected before it enters history. */
export class ApprovalRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApprovalRejectedError';
  }
}

/** The part of a workflow's status a gate lives in. */
export interface GateHolder {
  migration: string;
  phase: string;
  pendingGate?: PendingGate;
  approvals: ApprovalRecord[];
}

export interface GateOptions {
  /** Gates where approving overrides a finding (`assessment`): the reason is mandatory. */
  reasonRequiredToApprove?: boolean;
}

export class GateKeeper {
  private approvers: string[] = [];
  private readonly options = new Map<string, GateOptions>();

  constructor(private readonly holder: GateHolder) {}

  setApprovers(approvers: string[]): void {
    this.approvers = [...approvers];
  }

  isApprover(who: string): boolean {
    return this.approvers.includes(who);
  }

  open(name: string, now: Date, deadline?: Date, options: GateOptions = {}): void {
    this.options.set(name, options);
    this.holder.pendingGate = {
      name,
      approvers: [...this.approvers],
      since: now.toISOString(),
      deadline: deadline?.toISOString(),
    };
  }

  /** Validator for approve/reject: throws ApprovalRejectedError with the reason it is refused. */
  validate(req: ApprovalRequest, decision: 'approved' | 'rejected' = 'approved'): void {
    const gate = this.holder.pendingGate;
    if (!req || typeof req.by !== 'string' || !req.by.trim()) {
      throw new ApprovalRejectedError(
        'an approval needs `by`: who approves (one of the migration approvers)',
      );
    }
    if (!gate) {
      throw new ApprovalRejectedError(
        `no gate is waiting for approval (phase ${this.holder.phase}); nothing to approve yet`,
      );
    }
    if (req.gate !== gate.name) {
      throw new ApprovalRejectedError(
        `gate "${req.gate}" is not pending; the pending gate is "${gate.name}"`,
      );
    }
    if (!this.approvers.includes(req.by)) {
      throw new ApprovalRejectedError(
        `"${req.by}" is not an approver of migration ${this.holder.migration}; approvers: ${this.approvers.join(', ')}`,
      );
    }
    if (
      decision === 'approved' &&
      this.options.get(gate.name)?.reasonRequiredToApprove &&
      !(typeof req.reason === 'string' && req.reason.trim())
    ) {
      throw new ApprovalRejectedError(
        `approving gate "${gate.name}" overrides its findings: say why with --reason "<why this is acceptable>"`,
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
    this.holder.approvals.push(rec);
    delete this.holder.pendingGate;
    return rec;
  }

  /** The latest decision taken at a gate. */
  decision(gate: string): ApprovalRecord | undefined {
    return [...this.holder.approvals].reverse().find((a) => a.gate === gate);
  }
}

// The runbook steps every data-moving workflow shares: who may approve and who owns the database
// (search attributes), the audit trail, the premigration assessment with its `assessment` gate, and
// validation passes. Orchestration only: the work is done by activities.
import {
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities, MigrationBrief } from '../activities';
import type { AuditAction } from '../engine/audit';
import {
  approveGate,
  type AssessmentView,
  type RunbookOptions,
  rejectGate,
  type ServerLogsView,
} from './definitions';
import { DATABASE, errorMessage, MIGRATION, OWNER, PENDING_GATE, parseTimeout, retryPolicy } from './common';
import { type GateHolder, GateKeeper } from './gates';

type Activities = ReturnType<typeof createActivities>;

// Short activities (audit, notifications, the migration's facts): a worker that dies in one holds the
// workflow up to this timeout, so keep it short.
const quick = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry: retryPolicy(10) });
const logs = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry: retryPolicy(2) });
const assess = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: retryPolicy(5),
});

/** What a gate tells people while it waits, and with what words. */
export interface GateAsk {
  migration: string;
  gate: string;
  /** The workflow phase shown in the notification. */
  phase: string;
  /** What is ready and what is asked, e.g. "Database shop is loaded, in sync and validated." */
  ready: string;
  /** Who is asked (for the escalation text). */
  approvers: string[];
}

/**
 * Wait for a decision at an open gate (`decided` turns true), telling people: the approvers that it
 * waits, a reminder half way to the deadline, and at the deadline an escalation (the notifier sends it
 * to the owners and the migration's fallback contacts). True when decided in time. A notification that
 * cannot be delivered becomes a finding through `onError`, never a failed workflow.
 */
export async function awaitGateDecision(
  ask: GateAsk,
  timeoutMs: number,
  decided: () => boolean,
  onError: (finding: string) => void,
): Promise<boolean> {
  const id = workflowInfo().workflowId;
  const since = new Date().toISOString();
  const deadline = new Date(Date.now() + timeoutMs).toISOString();
  const how = `ferry approve ${id} --gate ${ask.gate} --by <you> --reason "<why>" (or ferry reject ...)`;
  const tell = (kind: 'gate-pending' | 'gate-reminder' | 'gate-escalation', subject: string, text: string) =>
    void quick
      .notifyPeople({ migration: ask.migration, kind, phase: ask.phase, subject, text })
      .catch((err) => onError(`warning: notification "${subject}" not delivered: ${errorMessage(err)}`));
  tell(
    'gate-pending',
    `${ask.migration}: gate ${ask.gate} waits for your approval`,
    `${ask.ready} Decide with: ${how}`,
  );
  const half = Math.floor(timeoutMs / 2);
  if (await condition(decided, half)) return true;
  tell(
    'gate-reminder',
    `${ask.migration}: gate ${ask.gate} still waits for your approval`,
    `Reminder: gate ${ask.gate} has waited since ${since}; it times out at ${deadline}. ${ask.ready} Decide with: ${how}`,
  );
  if (await condition(decided, timeoutMs - half)) return true;
  tell(
    'gate-escalation',
    `${ask.migration}: nobody decided gate ${ask.gate} in time`,
    `Gate ${ask.gate} of ${ask.migration} reached its deadline (${deadline}) without a decision from ` +
      `${ask.approvers.join(', ')}; the migration stops there.`,
  );
  return false;
}

/** Audit entries are written by activities in the background; `flush` waits for them. */
export class Auditor {
  private seq = 0;
  private pending: Promise<void>[] = [];

  constructor(
    private readonly migration: string,
    private readonly onError: (message: string) => void,
  ) {}

  record(action: AuditAction, by: string, reason?: string, detail?: Record<string, unknown>): void {
    const info = workflowInfo();
    const entry = {
      migration: this.migration,
      action,
      by,
      ...(reason && { reason }),
      at: new Date().toISOString(),
      workflowId: info.workflowId,
      ...(detail && { detail }),
      // Deterministic per event: a retried activity (or a replay) writes it once.
      key: `${info.workflowId}:${info.runId}:${++this.seq}`,
    };
    this.pending.push(
      quick.recordAudit({ migration: this.migration, entries: [entry] }).then(
        () => undefined,
        (err) => this.onError(`warning: audit entry "${action}" by ${by} not recorded: ${errorMessage(err)}`),
      ),
    );
  }

  async flush(): Promise<void> {
    const p = this.pending;
    this.pending = [];
    await Promise.all(p);
  }
}

/**
 * What every data-moving workflow sets up first. The constructor (synchronous, at the top of the
 * workflow) registers the approval updates and the auditor, so nothing that arrives early is lost;
 * `begin` reads the migration, tags the workflow with its database and owner, and records who
 * started it and any config change.
 */
export class Runbook {
  readonly gates: GateKeeper;
  readonly audit: Auditor;
  brief?: MigrationBrief;

  constructor(
    private readonly input: RunbookOptions & { migration: string },
    private readonly holder: GateHolder & { findings: string[] },
  ) {
    this.gates = new GateKeeper(holder);
    this.audit = new Auditor(input.migration, (m) => holder.findings.push(m));
    const now = () => new Date();
    setHandler(approveGate, (req) => this.gates.decide(req, 'approved', now()), {
      validator: (req) => this.gates.validate(req, 'approved'),
    });
    setHandler(rejectGate, (req) => this.gates.decide(req, 'rejected', now()), {
      validator: (req) => this.gates.validate(req, 'rejected'),
    });
  }

  async begin(opts: { recordStart: boolean }): Promise<MigrationBrief> {
    const { input, holder } = this;
    const brief = await quick.describeMigration({ migration: input.migration });
    this.brief = brief;
    this.gates.setApprovers(brief.approvers);
    upsertSearchAttributes([
      { key: MIGRATION, value: input.migration },
      { key: DATABASE, value: brief.database },
      ...(brief.owner ? [{ key: OWNER, value: brief.owner }] : []),
    ]);
    if (!opts.recordStart) return brief;
    const by = input.requestedBy ?? 'unknown';
    this.audit.record('start', by, undefined, { workflowType: workflowInfo().workflowType });
    await this.audit.flush();
    try {
      const changed = await quick.recordConfig({
        migration: input.migration,
        workflowId: workflowInfo().workflowId,
        by,
        at: new Date().toISOString(),
      });
      if (changed.changed?.length) {
        holder.findings.push(`info: configuration changed since the last run: ${changed.changed.join(', ')}`);
      }
    } catch (err) {
      holder.findings.push(`warning: configuration fingerprint not recorded: ${errorMessage(err)}`);
    }
    return brief;
  }
}

/**
 * Collect both servers' log lines since the workflow started into its record. Best effort: a server
 * that cannot be read says how to fetch them; a failure only adds a finding.
 */
export async function collectServerLogs(
  migration: string,
  holder: { serverLogs?: ServerLogsView; findings: string[] },
): Promise<void> {
  try {
    holder.serverLogs = await logs.collectLogs({
      migration,
      since: workflowInfo().startTime.toISOString(),
    });
  } catch (err) {
    holder.findings.push(`warning: server logs not collected: ${errorMessage(err)}`);
  }
}

/**
 * Run the premigration assessment; with blockers, wait at gate `assessment` for an approver to
 * override (with a reason) or reject. Rejected or timed out: the workflow fails, nothing moved.
 */
export async function assessmentGate(
  input: RunbookOptions & { migration: string },
  holder: GateHolder & { assessment?: AssessmentView; findings: string[] },
  rb: Runbook,
  setPhase: (p: 'assessment' | 'awaiting-approval') => void,
): Promise<void> {
  const now = () => new Date();
  if (input.skipAssessment) {
    holder.assessment = {
      blocked: false,
      skipped: true,
      counts: { blocker: 0, warning: 0, info: 0 },
      findings: [],
      startedAt: now().toISOString(),
      seconds: 0,
    };
    rb.audit.record('override', input.requestedBy ?? 'unknown', 'premigration assessment skipped at start', {
      gate: 'assessment',
    });
    return;
  }
  setPhase('assessment');
  const view = await assess.assessMigration({
    migration: input.migration,
    workflowId: workflowInfo().workflowId,
  });
  holder.assessment = view;
  if (!view.blocked) return;
  // Blockers no approval can override (cannot connect, mapping does not compile, the source cannot
  // replicate): fail now, with the error type the step itself would fail with, and every such finding.
  const fatal = view.findings.filter((f) => f.fails);
  if (fatal.length) {
    throw ApplicationFailure.nonRetryable(
      `the premigration assessment of ${input.migration} found ${fatal.length} blocker(s) no approval can override, ` +
        `nothing was moved: ${fatal.map((f) => `${f.id} [${f.object}]: ${f.message} → ${f.advice}`).join('; ')}`,
      fatal[0].fails,
    );
  }

  const timeoutMs = parseTimeout(input.gateTimeout ?? '7 days');
  rb.gates.open('assessment', now(), new Date(now().getTime() + timeoutMs), {
    reasonRequiredToApprove: true,
  });
  setPhase('awaiting-approval');
  upsertSearchAttributes([{ key: PENDING_GATE, value: 'assessment' }]);
  // Reminders and the escalation behind a patch marker: earlier histories replay without them.
  const decided = patched('gate-reminders')
    ? await awaitGateDecision(
        {
          migration: input.migration,
          gate: 'assessment',
          phase: 'awaiting-approval',
          ready:
            `The premigration assessment of ${input.migration} found ${view.counts.blocker} blocker(s); ` +
            'an approver may override them with a reason, or reject the migration.',
          approvers: holder.pendingGate?.approvers ?? [],
        },
        timeoutMs,
        () => !holder.pendingGate,
        (m) => holder.findings.push(m),
      )
    : await condition(() => !holder.pendingGate, timeoutMs);
  upsertSearchAttributes([{ key: PENDING_GATE, value: null }]);
  const blockers = view.findings.filter((f) => f.severity === 'blocker');
  const summary = blockers
    .slice(0, 5)
    .map((f) => `${f.id} (${f.object})`)
    .join(', ');
  if (!decided) {
    rb.gates.decide(
      { gate: 'assessment', by: 'ferry', reason: 'approval gate timed out' },
      'timed-out',
      now(),
    );
    rb.audit.record('gate-timeout', 'ferry', 'approval gate timed out', { gate: 'assessment' });
    await rb.audit.flush();
    throw ApplicationFailure.nonRetryable(
      `the assessment found ${view.counts.blocker} blocker(s) (${summary}) and nobody approved an override ` +
        `within ${input.gateTimeout ?? '7 days'}: fix them (see \`ferry assess ${input.migration}\`) and start again`,
      'ASSESSMENT_BLOCKED',
    );
  }
  const d = rb.gates.decision('assessment')!;
  if (d.decision === 'approved') {
    view.overriddenBy = d.by;
    rb.audit.record('override', d.by, d.reason, { gate: 'assessment', blockers: blockers.map((b) => b.id) });
    holder.findings.push(
      `warning: assessment blockers overridden by ${d.by}: ${d.reason}; blockers: ${summary}`,
    );
    return;
  }
  rb.audit.record('reject', d.by, d.reason, { gate: 'assessment' });
  await rb.audit.flush();
  throw ApplicationFailure.nonRetryable(
    `the assessment found ${view.counts.blocker} blocker(s) (${summary}) and ${d.by} rejected the migration` +
      `${d.reason ? `: ${d.reason}` : ''}; fix them (see \`ferry assess ${input.migration}\`) and start again`,
    'ASSESSMENT_BLOCKED',
  );
}

// The whole runbook as one durable workflow per migration: catalog facts, assessment (gate
// `assessment`), proof of concept (gate `poc`, in its child), provision check, full load and CDC (a
// child that streams until cutover), validation, gate `cutover`, the cutover itself inside the SLA's
// downtime budget, a post-cutover watch, done. Orchestration only: the work is in activities.
import {
  ApplicationFailure,
  ChildWorkflowHandle,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  type CdcSummary,
  cdcSummarySignal,
  type MigrationInput,
  type MigrationPhase,
  type MigrationStatus,
  migrationStatusQuery,
  stopCdcSignal,
} from './definitions';
import { errorMessage, errorType, parseTimeout, PENDING_GATE, PHASE, retryPolicy } from './common';
import { cdcMigration } from './cdc';
import { proofOfConcept } from './poc';
import { assessmentGate, Runbook } from './runbook';

type Activities = ReturnType<typeof createActivities>;

const quick = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', retry: retryPolicy(10) });
const long = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '60 seconds',
  retry: retryPolicy(10),
});

export function migrationWorkflowId(migration: string): string {
  return `migration-${migration}`;
}

/** Caught up and validated: the cutover gate may open. */
export function readyForCutover(c: CdcSummary | undefined, readyLagSeconds: number): boolean {
  if (!c || c.phase !== 'streaming' || !c.lag) return false;
  if (c.lag.lagSeconds > readyLagSeconds) return false;
  const v = c.validation;
  return !v || !v.enabled || (v.passes > 0 && v.tables > 0);
}

export async function migration(input: MigrationInput): Promise<MigrationStatus> {
  const info = workflowInfo();
  const status: MigrationStatus = {
    migration: input.migration,
    workflowId: info.workflowId,
    phase: 'catalog',
    phases: {},
    approvals: [],
    findings: [],
  };
  const now = () => new Date();
  const setPhase = (p: MigrationPhase) => {
    const at = now().toISOString();
    const prev = status.phases[status.phase];
    if (prev && !prev.end && status.phase !== p) {
      prev.end = at;
      prev.seconds = (Date.parse(at) - Date.parse(prev.start)) / 1000;
    }
    status.phase = p;
    if (!status.phases[p]) status.phases[p] = { start: at };
    upsertSearchAttributes([
      { key: PHASE, value: `migration:${p}` },
      { key: PENDING_GATE, value: status.pendingGate?.name ?? null },
    ]);
  };
  setHandler(migrationStatusQuery, () => status);
  setHandler(cdcSummarySignal, (s) => {
    status.cdc = s;
  });
  const rb = new Runbook(input, status);
  let cdc: ChildWorkflowHandle<typeof cdcMigration> | undefined;

  try {
    // catalog: the inventory's owner and SLA for this database.
    setPhase('catalog');
    const brief = await rb.begin({ recordStart: true });
    status.database = brief.database;
    if (brief.owner) status.owner = brief.owner;
    if (brief.sla) status.sla = brief.sla;

    await assessmentGate(input, status, rb, () => setPhase('assess'));

    if (input.skipPoc) {
      rb.audit.record('override', input.requestedBy ?? 'unknown', 'proof of concept skipped at start', {
        gate: 'poc',
      });
    } else {
      setPhase('poc');
      const pocId = `poc-${input.migration}`;
      status.poc = { workflowId: pocId };
      const poc = await executeChild(proofOfConcept, {
        workflowId: pocId,
        args: [{ migration: input.migration, ...(input.gateTimeout && { gateTimeout: input.gateTimeout }) }],
      });
      status.poc.outcome = poc.outcome;
      if (poc.outcome !== 'approved') {
        const d = poc.status.approvals.at(-1);
        throw ApplicationFailure.nonRetryable(
          `the proof of concept was ${poc.outcome}${d ? ` by ${d.by}${d.reason ? `: ${d.reason}` : ''}` : ''}; ` +
            'nothing was moved to the target',
          'POC_REJECTED',
        );
      }
    }

    setPhase('provision');
    const workers = await quick.checkWorkers({
      taskQueue: info.taskQueue,
      minWorkers: input.minWorkers ?? 1,
    });
    status.findings.push(`info: ${workers.detail}`);

    // Full load and CDC: a child that streams until the cutover stops it.
    setPhase('full-load');
    status.cdcWorkflowId = `cdc-${input.migration}`;
    cdc = await startChild(cdcMigration, {
      workflowId: status.cdcWorkflowId,
      args: [
        {
          migration: input.migration,
          mode: 'full-load-and-cdc',
          // Assessed above: the child does not ask again.
          skipAssessment: true,
          requestedBy: input.requestedBy,
          parentWorkflowId: info.workflowId,
          ...input.cdc,
        },
      ],
    });
    const cdcEnded = cdc.result().then(
      () => 'ended' as const,
      (err: unknown) => {
        throw err;
      },
    );
    cdcEnded.catch(() => undefined);
    await Promise.race([condition(() => status.cdc?.phase === 'streaming'), cdcEnded]);
    setPhase('cdc');
    setPhase('validate');
    const readyLag = input.readyLagSeconds ?? 5;
    await Promise.race([condition(() => readyForCutover(status.cdc, readyLag)), cdcEnded]);
    if (!readyForCutover(status.cdc, readyLag)) {
      throw ApplicationFailure.nonRetryable(
        `CDC ended before the cutover: ${status.cdc?.error ?? 'stopped'}`,
      );
    }

    // Gate `cutover`: an approver of the application decides when.
    const timeoutMs = parseTimeout(input.cutoverGateTimeout ?? '7 days');
    rb.gates.open('cutover', now(), new Date(now().getTime() + timeoutMs));
    setPhase('awaiting-cutover');
    const decided = await condition(() => !status.pendingGate, timeoutMs);
    if (!decided) {
      rb.gates.decide(
        { gate: 'cutover', by: 'ferry', reason: 'approval gate timed out' },
        'timed-out',
        now(),
      );
      rb.audit.record('gate-timeout', 'ferry', 'approval gate timed out', { gate: 'cutover' });
      throw ApplicationFailure.nonRetryable(
        `nobody approved the cutover within ${input.cutoverGateTimeout ?? '7 days'}`,
        'CUTOVER_NOT_APPROVED',
      );
    }
    const d = rb.gates.decision('cutover')!;
    rb.audit.record(d.decision === 'approved' ? 'approve' : 'reject', d.by, d.reason, { gate: 'cutover' });
    if (d.decision !== 'approved') {
      throw ApplicationFailure.nonRetryable(
        `the cutover was rejected by ${d.by}${d.reason ? `: ${d.reason}` : ''}`,
        'CUTOVER_NOT_APPROVED',
      );
    }

    setPhase('cutover');
    const c = await long.cutover({
      migration: input.migration,
      workflowId: info.workflowId,
      planId: status.cdc!.planId!,
      slotName: status.cdc!.slotName!,
    });
    status.cutover = c;
    // Every change up to the freeze is applied: stop the forward stream (the slot is kept until done).
    await getExternalWorkflowHandle(status.cdcWorkflowId).signal(stopCdcSignal, {
      by: 'ferry',
      reason: `cutover approved by ${d.by}`,
    });
    await cdc.result();

    setPhase('post-cutover');
    await sleep((input.postCutoverSeconds ?? 60) * 1000);
    setPhase('done');
    await rb.audit.flush();
    return status;
  } catch (err) {
    status.error = errorMessage(err);
    setPhase('failed');
    await rb.audit.flush();
    throw ApplicationFailure.nonRetryable(
      `migration ${input.migration} failed in phase ${Object.keys(status.phases).at(-2) ?? 'catalog'}: ${errorMessage(err)}`,
      errorType(err) ?? 'MIGRATION_FAILED',
      status,
    );
  }
}

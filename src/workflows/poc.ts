// The proof-of-concept workflow: inspect, pg_dump, pg_restore into a scratch database, verify,
// estimate and plan the fallback, then wait for an approver at gate `poc`. Orchestration only.
import {
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { approveGate, PocInput, PocPhase, PocResult, rejectGate, statusQuery } from './definitions';
import { PocState } from './poc-state';
import { Auditor, awaitGateDecision } from './runbook';
import { errorMessage, errorType, MIGRATION, parseTimeout, PENDING_GATE, PHASE, retryPolicy } from './common';

type Activities = ReturnType<typeof createActivities>;

const retry = retryPolicy(5);

// Quick catalog calls.
const quick = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry });
// pg_dump / pg_restore / verify: long, heartbeating every few seconds, so a dead worker is noticed
// within the heartbeat timeout and the attempt moves to another worker.
const longActivities = (heartbeatTimeout: string) =>
  proxyActivities<Activities>({ startToCloseTimeout: '12 hours', heartbeatTimeout, retry });

export async function proofOfConcept(input: PocInput): Promise<PocResult> {
  const state = new PocState(input.migration);
  const long = longActivities(input.heartbeatTimeout ?? '30 seconds');
  const now = () => new Date();
  const phase = (p: PocPhase) => {
    state.setPhase(p);
    upsertSearchAttributes([
      { key: PHASE, value: p },
      { key: PENDING_GATE, value: state.status.pendingGate?.name ?? null },
    ]);
  };
  upsertSearchAttributes([{ key: MIGRATION, value: input.migration }]);

  setHandler(statusQuery, () => state.status);
  setHandler(approveGate, (req) => state.decide(req, 'approved', now()), {
    validator: (req) => state.validate(req),
  });
  setHandler(rejectGate, (req) => state.decide(req, 'rejected', now()), {
    validator: (req) => state.validate(req),
  });

  // Compensations pushed as steps succeed, run in reverse on reject or failure.
  const undo: { name: string; run: () => Promise<string> }[] = [];
  const compensate = async () => {
    phase('cleanup');
    while (undo.length) {
      const u = undo.pop()!;
      try {
        state.compensated({ name: u.name, status: 'done', detail: await u.run() });
      } catch (err) {
        // A failed undo is reported in status, not only logged: the operator must clean up by hand.
        state.compensated({ name: u.name, status: 'failed', detail: errorMessage(err) });
      }
    }
  };

  try {
    const m = await quick.describeMigration({ migration: input.migration });
    state.setApprovers(m.approvers);
    const scope = input.scope ?? m.poc.scope;
    const sizeCapBytes = (input.sizeCapMb ?? m.poc.sizeCapMb) * 1024 * 1024;

    phase('inspect');
    state.begin('inspect', now());
    const src = await quick.inspectSource({ migration: input.migration, scope });
    state.status.source = {
      serverVersion: src.serverVersion,
      databaseSize: src.databaseSize,
      tables: src.tables.length,
      scopeBytes: src.scopeBytes,
    };
    for (const f of src.findings) state.addFinding(f);
    state.end('inspect', now(), `PostgreSQL ${src.serverVersion}, ${src.tables.length} tables in scope`);

    phase('dump');
    state.begin('dump', now());
    const dump = await long.dumpSource({
      migration: input.migration,
      scope,
      compression: m.poc.compression,
      runId: workflowInfo().runId,
    });
    state.status.dump = dump;
    state.end('dump', now(), `${dump.bytes} bytes in ${dump.seconds.toFixed(1)} s`);

    phase('restore');
    state.begin('restore', now());
    // Registered before the restore starts: a restore that fails half-way leaves a scratch database.
    undo.push({
      name: 'drop scratch database',
      run: async () => {
        const r = await quick.dropScratch({ migration: input.migration });
        return r.dropped ? `dropped ${r.database}` : `${r.database}: ${r.reason}`;
      },
    });
    const restore = await long.restoreToScratch({
      migration: input.migration,
      file: dump.file,
      jobs: m.poc.jobs,
    });
    state.status.restore = {
      scratchDatabase: restore.scratchDatabase,
      seconds: restore.seconds,
      warnings: restore.warnings.length,
    };
    for (const w of restore.warnings) state.addFinding(`pg_restore: ${w}`);
    state.end('restore', now(), `into ${restore.scratchDatabase} in ${restore.seconds.toFixed(1)} s`);

    phase('verify');
    state.begin('verify', now());
    const verify = await long.verifyScratch({
      migration: input.migration,
      tables: src.tables,
      sizeCapBytes,
      ...(dump.writesBefore && { writesBefore: dump.writesBefore }),
    });
    for (const c of verify.changed ?? []) {
      state.addFinding(`written on the source during the PoC, so not compared exactly: ${c}`);
    }
    state.status.verify = verify;
    if (!verify.ok) {
      state.end('verify', now(), `${verify.differences.length} differences`, 'failed');
      throw ApplicationFailure.nonRetryable(
        `restored data differs from the source: ${verify.differences.slice(0, 10).join('; ')}`,
        'VERIFY_FAILED',
      );
    }
    state.end('verify', now(), `${verify.tables} tables equal (${verify.checksummed} checksummed)`);

    phase('plan');
    state.begin('plan', now());
    const plan = await quick.planFromPoc({
      migration: input.migration,
      dumpFile: dump.file,
      dumpBytes: dump.bytes,
      dumpSeconds: dump.seconds,
      restoreSeconds: restore.seconds,
      scopeBytes: src.scopeBytes,
      databaseBytes: src.databaseSize,
    });
    state.status.estimate = plan.estimate;
    state.status.fallbackPlanFile = plan.planFile;
    state.end('plan', now(), `full migration ≈ ${Math.round(plan.estimate.estimatedSeconds)} s`);

    phase('awaiting-approval');
    state.begin('approval', now());
    const timeoutMs = parseTimeout(input.gateTimeout ?? '7 days');
    state.openGate('poc', now(), new Date(now().getTime() + timeoutMs));
    phase('awaiting-approval');
    const pocDecided = () => state.decision('poc') !== undefined;
    // Reminders and the escalation behind a patch marker: earlier PoC histories replay without them.
    const decided = patched('gate-reminders')
      ? await awaitGateDecision(
          {
            migration: input.migration,
            gate: 'poc',
            phase: 'awaiting-approval',
            ready:
              `The proof of concept of ${input.migration} is done: the restored copy ` +
              `${state.status.verify?.ok ? 'matches' : 'does NOT match'} the source; estimate for the full ` +
              `migration ${Math.round(plan.estimate.estimatedSeconds)} s.`,
            approvers: state.status.pendingGate?.approvers ?? [],
          },
          timeoutMs,
          pocDecided,
          (m) => state.addFinding(m),
        )
      : await condition(pocDecided, timeoutMs);
    if (!decided)
      state.decide({ gate: 'poc', by: 'ferry', reason: 'approval gate timed out' }, 'timed-out', now());
    const decision = state.decision('poc')!;
    // The decision joins the migration's audit trail. Behind a patch marker: PoC histories recorded
    // before the audit trail existed replay without it.
    if (patched('audit-trail')) {
      const audit = new Auditor(input.migration, (m) => state.addFinding(m));
      const action =
        decision.decision === 'approved'
          ? 'approve'
          : decision.decision === 'rejected'
            ? 'reject'
            : 'gate-timeout';
      audit.record(action, decision.by, decision.reason, { gate: 'poc' });
      await audit.flush();
    }
    state.end(
      'approval',
      now(),
      `${decision.decision} by ${decision.by}${decision.reason ? `: ${decision.reason}` : ''}`,
    );

    // Approved or not, the scratch database has done its job: the dump stays as the restore point.
    await compensate();
    const outcome = decision.decision === 'approved' ? 'approved' : 'rejected';
    phase(outcome);
    return { outcome, status: state.status };
  } catch (err) {
    state.fail(errorMessage(err));
    await compensate();
    state.setPhase('failed');
    upsertSearchAttributes([
      { key: PHASE, value: 'failed' },
      { key: PENDING_GATE, value: null },
    ]);
    const type = errorType(err);
    // The status rides along as failure details: `ferry status` reads it without a worker.
    throw ApplicationFailure.nonRetryable(
      `PoC of ${input.migration} failed: ${errorMessage(err)}`,
      type ?? 'POC_FAILED',
      state.status,
    );
  }
}

// The whole runbook as one durable workflow per migration: catalog facts, assessment (gate
// `assessment`), proof of concept (gate `poc`, in its child), provision check, full load and CDC (a
// child that streams until cutover), validation, gate `cutover`, the cutover itself inside the SLA's
// downtime budget, a post-cutover watch, done. Orchestration only: the work is in activities.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowHandle,
  condition,
  isCancellation,
  executeChild,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { DmsResources } from '../activities/dms';
import {
  type ApprovalRecord,
  type CdcSummary,
  cdcSummarySignal,
  type FallbackRequest,
  fallbackUpdate,
  type MigrationInput,
  type MigrationPhase,
  type MigrationStatus,
  migrationStatusQuery,
  recordLag,
  stopCdcSignal,
} from './definitions';
import { errorMessage, errorType, movePhase, parseTimeout, PENDING_GATE, PHASE, retryPolicy } from './common';
import { cdcMigration } from './cdc';
import { fullLoad } from './full-load';
import { proofOfConcept } from './poc';
import { assessmentGate, awaitGateDecision, Runbook } from './runbook';

type Activities = ReturnType<typeof createActivities>;

// Short activities: a worker that dies in one holds the runbook up to this timeout, so keep it short.
const quick = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry: retryPolicy(10) });
const long = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '60 seconds',
  retry: retryPolicy(10),
});
/** Streams until cancelled: cancellation waits for the batch in flight to commit. */
const stream = proxyActivities<Activities>({
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '60 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { ...retryPolicy(10), maximumAttempts: Number.POSITIVE_INFINITY },
});

export function migrationWorkflowId(migration: string): string {
  return `migration-${migration}`;
}

/** Caught up and validated: the cutover gate may open. */
export function readyForCutover(c: CdcSummary | undefined, readyLagSeconds: number): boolean {
  if (!c || c.phase !== 'streaming' || !c.lag) return false;
  if (c.lag.lagSeconds > readyLagSeconds) return false;
  // Validation reports once its first pass ends (or that it is not enabled): wait for it.
  const v = c.validation;
  return !!v && (!v.enabled || (v.passes > 0 && v.tables > 0));
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
    movePhase(status.phases, status.phase, p, now().toISOString());
    status.phase = p;
    upsertSearchAttributes([
      { key: PHASE, value: `migration:${p}` },
      { key: PENDING_GATE, value: status.pendingGate?.name ?? null },
    ]);
  };
  setHandler(migrationStatusQuery, () => status);
  setHandler(cdcSummarySignal, (s) => {
    if (s.validationError && s.validationError !== status.cdc?.validationError) {
      status.findings.push(
        `error: validation stopped (${s.validationError}); the cutover gate opens only after a validation pass: ` +
          'fix the cause, then run `ferry validate` or restart the migration',
      );
    }
    status.cdc = s;
    recordLag((status.lagHistory ??= []), s.lag);
  });
  const rb = new Runbook(input, status);
  const opts = { readyLag: 5, gateTimeoutMs: 7 * 86400_000, postCutoverSeconds: 60, minWorkers: 1 };
  let cdc: ChildWorkflowHandle<typeof cdcMigration> | undefined;
  const step = (name: string, detail?: string) =>
    status.fallback?.steps.push({ name, at: now().toISOString(), ...(detail && { detail }) });
  const tell = (kind: 'fallback' | 'phase', subject: string, text: string) => {
    // Best effort: a notification that cannot be delivered is a finding, never a failed migration.
    void quick
      .notifyPeople({ migration: input.migration, kind, phase: status.phase, subject, text })
      .catch((err) =>
        status.findings.push(`warning: notification "${subject}" not delivered: ${errorMessage(err)}`),
      );
  };

  /** The cutover will not happen: CDC stops and drops its slot (no WAL kept on the source for nothing). */
  const stopChildDroppingSlot = async (reason: string) => {
    if (!status.cdcWorkflowId) return;
    await getExternalWorkflowHandle(status.cdcWorkflowId)
      .signal(stopCdcSignal, { by: 'ferry', reason, dropSlot: true })
      .catch(() => undefined);
    await cdc?.result().catch(() => undefined);
  };

  // Fallback may be asked for in any phase but the cutover step itself (it undoes its own freeze).
  let fallbackRequest: FallbackRequest | undefined;
  const main = new CancellationScope();
  setHandler(
    fallbackUpdate,
    (req) => {
      fallbackRequest = req;
      status.fallback = {
        by: req.by,
        reason: req.reason,
        requestedAt: now().toISOString(),
        fromPhase: status.phase,
        steps: [],
      };
      rb.audit.record('fallback', req.by, req.reason, { phase: status.phase });
      if (status.phase !== 'post-cutover') main.cancel();
      return status;
    },
    {
      validator: (req) => {
        if (!req?.by?.trim() || !req.reason?.trim()) {
          throw new Error('a fallback needs --by <approver> and --reason "<why>"');
        }
        if (!rb.gates.isApprover(req.by)) {
          throw new Error(`"${req.by}" is not an approver of migration ${input.migration}`);
        }
        if (fallbackRequest) throw new Error(`fallback already requested by ${fallbackRequest.by}`);
        if (status.phase === 'cutover') {
          throw new Error(
            'the cutover step is running (it undoes its own freeze on failure): ask again once it ends',
          );
        }
        if (status.phase === 'done' || status.phase === 'failed' || status.phase === 'fallback') {
          throw new Error(`the migration is ${status.phase}: there is nothing to fall back from`);
        }
      },
    },
  );

  /**
   * Gate `cutover`: an approver of the application decides when (a reminder half way to the deadline,
   * an escalation at it); then the SLA's window, waited for with a durable timer. `ready` says what
   * is ready, for the notification. Throws when rejected, timed out, or no window fits.
   */
  const approveCutover = async (ready: string): Promise<ApprovalRecord> => {
    // Gate `cutover`: an approver of the application decides when.
    const timeoutMs = opts.gateTimeoutMs;
    rb.gates.open('cutover', now(), new Date(now().getTime() + timeoutMs));
    setPhase('awaiting-cutover');
    const decided = await awaitGateDecision(
      {
        migration: input.migration,
        gate: 'cutover',
        phase: 'awaiting-cutover',
        ready,
        approvers: status.pendingGate?.approvers ?? [],
      },
      timeoutMs,
      () => !status.pendingGate,
      (m) => status.findings.push(m),
    );
    if (!decided) {
      rb.gates.decide(
        { gate: 'cutover', by: 'ferry', reason: 'approval gate timed out' },
        'timed-out',
        now(),
      );
      rb.audit.record('gate-timeout', 'ferry', 'approval gate timed out', { gate: 'cutover' });
      await stopChildDroppingSlot(`cutover not approved`);
      throw ApplicationFailure.nonRetryable(
        `nobody approved the cutover within ${Math.round(timeoutMs / 1000)} s (cutover.gateTimeout)`,
        'CUTOVER_NOT_APPROVED',
      );
    }
    const d = rb.gates.decision('cutover')!;
    rb.audit.record(d.decision === 'approved' ? 'approve' : 'reject', d.by, d.reason, { gate: 'cutover' });
    if (d.decision !== 'approved') {
      await stopChildDroppingSlot(`cutover not approved`);
      throw ApplicationFailure.nonRetryable(
        `the cutover was rejected by ${d.by}${d.reason ? `: ${d.reason}` : ''}`,
        'CUTOVER_NOT_APPROVED',
      );
    }

    // Approved; the cutover itself starts only inside the SLA's window (a durable timer until then).
    for (;;) {
      const w = await quick.cutoverWindow({ migration: input.migration });
      if (w.ok) break;
      if (!w.nextAt) {
        await stopChildDroppingSlot('no cutover window');
        throw ApplicationFailure.nonRetryable(
          `the cutover was approved but may not start: ${w.reason}; and no start in the next 8 days keeps ` +
            'the downtime budget outside the business hours: fix sla.businessHours or sla.maxDowntime',
          'CUTOVER_WINDOW',
        );
      }
      status.cutoverWaitsUntil = w.nextAt;
      status.findings.push(`info: cutover approved, waiting until ${w.nextAt}: ${w.reason}`);
      tell(
        'phase',
        `${input.migration}: the cutover starts at ${w.nextAt}`,
        `The cutover of ${status.database} was approved by ${d.by}; ${w.reason}. It starts at ${w.nextAt}, ` +
          'outside the business hours.',
      );
      await sleep(Math.max(1000, Date.parse(w.nextAt) - Date.now()));
    }
    delete status.cutoverWaitsUntil;
    return d;
  };

  /**
   * Run `fn` on a source frozen with `freezeState`. Compensation: if it fails (or a fallback cancels it),
   * the source takes writes again, even under cancellation, and the error goes on.
   */
  const whileFrozen = async <T>(
    freezeState: Parameters<typeof quick.unfreezeSource>[0]['state'],
    fn: () => Promise<T>,
  ): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      await CancellationScope.nonCancellable(() =>
        quick.unfreezeSource({ migration: input.migration, state: freezeState }),
      ).catch(() => undefined);
      status.cutover = { ...status.cutover!, freezeState: undefined };
      throw err;
    }
  };

  /**
   * Full load only (no CDC): the data moves while the source is frozen, so the write freeze lasts the
   * load. Gate `cutover` first (the approver accepts that downtime), then the freeze and a dump of the
   * frozen source (the restore point), the full load and its validation, sequences, the switch. Any
   * failure, or a fallback asked for meanwhile, gives the source its writes back.
   */
  const loadUnderFreeze = async () => {
    await approveCutover(
      `Database ${status.database} is assessed${status.poc ? ' and its proof of concept approved' : ''}. ` +
        'Full load only: the source stops taking writes for the whole load.',
    );
    setPhase('cutover');
    const frozen = await long.freezeForLoad({ migration: input.migration, runId: info.runId });
    status.cutover = frozen.view;
    status.restorePoint = frozen.restorePoint;
    await whileFrozen(frozen.view.freezeState!, async () => {
      setPhase('full-load');
      status.fullLoadWorkflowId = `full-load-${input.migration}`;
      const load = await executeChild(fullLoad, {
        workflowId: status.fullLoadWorkflowId,
        args: [{ migration: input.migration, skipAssessment: true, requestedBy: input.requestedBy }],
      });
      setPhase('validate');
      const v = load.validation;
      if (v?.enabled && v.mismatches > 0) {
        throw ApplicationFailure.nonRetryable(
          `validation after the load found ${v.mismatches} mismatched row(s): ferry validate ${input.migration} --report`,
          'VALIDATION_MISMATCH',
        );
      }
      status.cutover = await long.finishLoadCutover({
        migration: input.migration,
        planId: load.planId!,
        view: frozen.view,
        validation: { mismatches: v?.mismatches ?? 0, pending: v?.pending ?? 0 },
      });
    });
  };

  /** Full load only, after the switch: no reverse replication; the way back is the frozen source. */
  const watchWithoutReverse = async (): Promise<MigrationStatus> => {
    setPhase('post-cutover');
    await condition(() => !!fallbackRequest, opts.postCutoverSeconds * 1000);
    if (fallbackRequest) {
      setPhase('fallback');
      const c = status.cutover!;
      step('freeze target', (await quick.freezeTarget({ migration: input.migration })).frozenAt);
      // Has the source moved since the freeze? Known where a restore point recorded its write counters.
      const since = status.restorePoint
        ? await quick.sourceSinceFreeze({ migration: input.migration, restorePoint: status.restorePoint })
        : undefined;
      if (since?.unchanged) {
        step(
          'source unchanged',
          'no table of the source was written since the freeze: it is as at the cutover',
        );
      } else if (since) {
        step(
          'source changed',
          `written since the freeze: ${since.changedTables.slice(0, 20).join(', ')}; to go back to the ` +
            `cutover's state restore the dump: ${since.restoreCommand}`,
        );
      }
      await quick.unfreezeSource({ migration: input.migration, state: c.freezeState! });
      step('unfreeze source', 'the source takes writes again');
      await teardownDms();
      const snapshot = status.dms?.snapshot;
      tell(
        'fallback',
        `fallback of ${input.migration} done: point the application back at the source`,
        `Fallback requested by ${fallbackRequest.by} (${fallbackRequest.reason}) after the cutover. ` +
          `The source database ${status.database} takes writes again; the target is read-only. ` +
          `What the application wrote on the target since ${c.switchedAt} is NOT on the source ` +
          `(${status.engine === 'aws-dms' ? 'AWS DMS replicates one way' : 'full load only, no reverse replication'}). ` +
          (since?.unchanged === false
            ? `The source was written since the freeze (${since.changedTables.length} table(s)); the cutover's ` +
              `state is in the restore point: ${since.restoreCommand}`
            : 'The source is as it was at the cutover.') +
          (snapshot ? ` The target's state before the cutover is in snapshot ${snapshot.identifier}.` : ''),
      );
      status.fallback!.done = true;
      await rb.audit.flush();
      return status;
    }
    await teardownDms();
    setPhase('done');
    await rb.audit.flush();
    return status;
  };

  /** engine aws-dms, compensation: what Ferry created for the migration goes, in reverse order. */
  const teardownDms = async () => {
    if (!status.dms) return;
    const t = await CancellationScope.nonCancellable(() =>
      long.dmsTeardown({ migration: input.migration, resources: status.dms!.resources }),
    );
    status.dms.teardown = t.steps;
    for (const x of t.steps) step(`dms: ${x.name}`, x.detail);
  };

  /**
   * engine aws-dms, full load only: loadUnderFreeze with DMS doing the load. Gate `cutover` first (no
   * CDC: nothing may change on the source while DMS copies it), a snapshot of the target Aurora
   * cluster, the freeze and its pg_dump restore point, the task started and watched until its load
   * ends (a full-load task stops with FULL_LOAD_ONLY_FINISHED), DMS's validation waited for, then
   * sequences and the switch. Any failure, or a fallback meanwhile, gives the source its writes back;
   * the caller tears the DMS resources down.
   */
  const dmsLoadUnderFreeze = async (res: DmsResources) => {
    const dms = status.dms!;
    const taskArn = res.task.arn;
    await approveCutover(
      `AWS DMS task ${res.task.identifier} is provisioned for ${status.database}. Full load only: once ` +
        'approved, the source stops taking writes and AWS DMS loads it while it is frozen.',
    );
    setPhase('cutover');
    if (res.cluster) {
      dms.snapshot = await long.dmsSnapshot({
        migration: input.migration,
        snapshotId: `${res.cluster.identifier}-ferry-pre-cutover-${info.runId.slice(0, 8)}`,
      });
    }
    const frozen = await long.freezeForLoad({ migration: input.migration, runId: info.runId });
    status.cutover = frozen.view;
    status.restorePoint = frozen.restorePoint;
    await whileFrozen(frozen.view.freezeState!, async () => {
      setPhase('full-load');
      await quick.dmsStartTask({ migration: input.migration, taskArn });
      const { tables: _t, ...loaded } = await long.dmsWatchTask({
        migration: input.migration,
        taskArn,
        until: 'full-load-done',
      });
      dms.task = loaded;
      setPhase('validate');
      // DMS validates after the load: wait until no table is pending.
      for (;;) {
        const v = dms.task.validation;
        if (!v.enabled || v.pending === 0) break;
        await sleep(30_000);
        const { tables: _v, ...view } = await long.dmsWatchTask({
          migration: input.migration,
          taskArn,
          until: 'full-load-done',
        });
        dms.task = view;
      }
      const v = dms.task.validation;
      if (v.enabled && v.mismatched > 0) {
        throw ApplicationFailure.nonRetryable(
          `AWS DMS validation after the load found ${v.mismatched} table(s) with mismatched records ` +
            `(task ${res.task.identifier}; the target's awsdms_validation_failures_v1 table lists the rows)`,
          'VALIDATION_MISMATCH',
        );
      }
      status.cutover = await long.finishLoadCutover({
        migration: input.migration,
        view: frozen.view,
        validation: { mismatches: v.mismatched, pending: v.pending },
      });
    });
  };

  /**
   * engine aws-dms: the same phases on AWS DMS. Provision creates (or adopts) the replication
   * instance, the endpoints (connection-tested) and the task, and runs the DMS premigration
   * assessment; the task loads and streams; DMS validates; gate `cutover`; a snapshot of the target
   * Aurora cluster; the source frozen and DMS's slot drained to the freeze point; the task stopped;
   * sequences and the switch as for the native engine. Full load only: dmsLoadUnderFreeze after provision.
   */
  const onAwsDms = async () => {
    let res: DmsResources;
    try {
      res = await long.dmsProvision({ migration: input.migration });
    } catch (err) {
      // Half provisioned (a connection test failed...): delete what Ferry created of it.
      if (patched('dms-provision-teardown')) {
        await CancellationScope.nonCancellable(async () => {
          status.dms = { resources: await long.dmsFindResources({ migration: input.migration }) };
          await teardownDms();
        }).catch((e) => status.findings.push(`error: AWS DMS teardown: ${errorMessage(e)}`));
      }
      throw err;
    }
    status.dms = { resources: res };
    for (const f of res.assessment?.findings ?? []) {
      status.findings.push(`${f.severity}: AWS DMS assessment ${f.id} [${f.object}]: ${f.message}`);
    }
    try {
      if (status.migrationType === 'full-load') {
        await dmsLoadUnderFreeze(res);
        return;
      }
      const taskArn = res.task.arn;
      setPhase('full-load');
      await quick.dmsStartTask({ migration: input.migration, taskArn });
      const { tables: _t, ...loaded } = await long.dmsWatchTask({
        migration: input.migration,
        taskArn,
        until: 'full-load-done',
      });
      status.dms.task = loaded;
      setPhase('cdc');
      setPhase('validate');
      // DMS validates while it streams: wait until no table is pending or mismatched.
      for (;;) {
        const { tables: _v, ...view } = await long.dmsWatchTask({
          migration: input.migration,
          taskArn,
          until: 'full-load-done',
        });
        status.dms.task = view;
        const v = view.validation;
        if (!v.enabled || (v.pending === 0 && v.mismatched === 0)) break;
        await sleep(30_000);
      }
      const v = status.dms.task!.validation;
      await approveCutover(
        `AWS DMS task ${res.task.identifier} has loaded ${status.database} and streams its changes` +
          (v.enabled ? `; ${v.validated}/${v.tables} table(s) validated.` : '.'),
      );
      setPhase('cutover');
      if (res.cluster) {
        status.dms.snapshot = await long.dmsSnapshot({
          migration: input.migration,
          snapshotId: `${res.cluster.identifier}-ferry-pre-cutover-${info.runId.slice(0, 8)}`,
        });
      }
      const slot = await quick.dmsSourceSlot({ migration: input.migration });
      if (!slot.slotName) {
        throw ApplicationFailure.nonRetryable(
          `cannot drain AWS DMS at the cutover: ${slot.detail}`,
          'CONFIG_INVALID',
        );
      }
      const drained = await long.freezeAndDrain({ migration: input.migration, slotName: slot.slotName });
      status.cutover = drained;
      await whileFrozen(drained.freezeState!, async () => {
        const { tables: _c, ...last } = await long.dmsWatchTask({
          migration: input.migration,
          taskArn,
          until: 'full-load-done',
        });
        status.dms!.task = last;
        await long.dmsStopTask({ migration: input.migration, taskArn });
        status.cutover = await long.finishLoadCutover({
          migration: input.migration,
          view: drained,
          validation: { mismatches: last.validation.mismatched, pending: last.validation.pending },
        });
      });
    } catch (err) {
      await teardownDms().catch((e) => status.findings.push(`error: AWS DMS teardown: ${errorMessage(e)}`));
      throw err;
    }
  };

  try {
    await main.run(async () => {
      // catalog: the inventory's owner and SLA for this database.
      setPhase('catalog');
      const brief = await rb.begin({ recordStart: true });
      status.database = brief.database;
      if (brief.owner) status.owner = brief.owner;
      if (brief.sla) status.sla = brief.sla;
      status.migrationType = brief.migrationType;
      status.engine = brief.engine ?? 'native';
      // What the start command says wins over ferry.yaml's cutover: and provision: sections.
      opts.readyLag = input.readyLagSeconds ?? brief.cutover?.readyLagSeconds ?? opts.readyLag;
      opts.gateTimeoutMs = input.cutoverGateTimeout
        ? parseTimeout(input.cutoverGateTimeout)
        : (brief.cutover?.gateTimeoutSeconds ?? 7 * 86400) * 1000;
      opts.postCutoverSeconds = input.postCutoverSeconds ?? brief.cutover?.postCutoverSeconds ?? 60;
      opts.minWorkers = input.minWorkers ?? brief.provision?.replicas ?? 1;

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
          args: [
            { migration: input.migration, ...(input.gateTimeout && { gateTimeout: input.gateTimeout }) },
          ],
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
        minWorkers: opts.minWorkers,
      });
      status.findings.push(`info: ${workers.detail}`);

      if (status.engine === 'aws-dms') {
        await onAwsDms();
        return;
      }
      if (status.migrationType === 'full-load') {
        await loadUnderFreeze();
        return;
      }

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
            parentReadyLagSeconds: opts.readyLag,
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
      // cdc: streaming until caught up; validate: until a validation pass has covered every table.
      setPhase('cdc');
      const readyLag = opts.readyLag;
      await Promise.race([
        condition(() => !!status.cdc?.lag && status.cdc.lag.lagSeconds <= readyLag),
        cdcEnded,
      ]);
      setPhase('validate');
      await Promise.race([condition(() => readyForCutover(status.cdc, readyLag)), cdcEnded]);
      if (!readyForCutover(status.cdc, readyLag)) {
        throw ApplicationFailure.nonRetryable(
          `CDC ended before the cutover: ${status.cdc?.error ?? 'stopped'}`,
        );
      }

      const d = await approveCutover(
        `Database ${status.database} is loaded, in sync (lag ${status.cdc?.lag?.lagSeconds ?? '?'} s) and validated.`,
      );

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
    });

    if (status.migrationType === 'full-load' || status.engine === 'aws-dms')
      return await watchWithoutReverse();
    // Post-cutover watch: the target's writes flow back to the source, so a fallback loses nothing.
    setPhase('post-cutover');
    const c = status.cutover!;
    const planId = status.cdc!.planId!;
    const watch = new CancellationScope();
    const reverse = watch.run(() => stream.streamReverse({ migration: input.migration, planId }));
    reverse.catch(() => undefined);
    await Promise.race([
      condition(() => !!fallbackRequest, opts.postCutoverSeconds * 1000),
      reverse.then(() => undefined),
    ]);
    watch.cancel();
    await reverse.catch((err) => {
      if (isCancellation(err)) return;
      // The stream was asked to stop: if its worker died, the cancel reaches a dead attempt and comes
      // back as a timeout. The watch is over either way; a fallback drains with a fresh activity.
      status.findings.push(`warning: the reverse stream did not stop cleanly: ${errorMessage(err)}`);
    });
    if (fallbackRequest) {
      setPhase('fallback');
      step('freeze target', (await quick.freezeTarget({ migration: input.migration })).frozenAt);
      const drained = await long.streamReverse({ migration: input.migration, planId, drain: true });
      step(
        'drain reverse',
        `source applied up to ${drained.appliedLsn} (target position ${drained.untilLsn})`,
      );
      await quick.unfreezeSource({ migration: input.migration, state: c.freezeState! });
      step('unfreeze source', 'the source takes writes again');
      await quick.dropReverseReplication({ migration: input.migration });
      step('drop reverse slot');
      tell(
        'fallback',
        `fallback of ${input.migration} done: point the application back at the source`,
        `Fallback requested by ${fallbackRequest.by} (${fallbackRequest.reason}) after the cutover. The source ` +
          `database ${status.database} holds every row written on the target since the cutover and takes writes ` +
          `again; the target is read-only. Point the application back at the source.`,
      );
      status.fallback!.done = true;
      await rb.audit.flush();
      return status;
    }
    // Done: the way back closes; neither slot may keep WAL any longer.
    await quick.dropReverseReplication({ migration: input.migration });
    if (status.cdc?.slotName && status.cdc.publication) {
      await quick.dropCdcSlot({
        migration: input.migration,
        slotName: status.cdc.slotName,
        publication: status.cdc.publication,
      });
    }
    setPhase('done');
    await rb.audit.flush();
    return status;
  } catch (err) {
    if (fallbackRequest && isCancellation(err)) {
      // Before the cutover nothing on the source changed: stop, drop the slot, leave the source as it is.
      setPhase('fallback');
      if (status.cdc?.slotName && status.cdc.publication) {
        const d = await quick.dropCdcSlot({
          migration: input.migration,
          slotName: status.cdc.slotName,
          publication: status.cdc.publication,
        });
        step('drop slot', `slot ${status.cdc.slotName} ${d.slotDropped ? 'dropped' : 'already gone'}`);
      }
      step('source untouched', 'the application keeps writing to the source; the target is left as loaded');
      tell(
        'fallback',
        `migration ${input.migration} stopped before the cutover`,
        `Fallback requested by ${fallbackRequest.by} (${fallbackRequest.reason}) in phase ` +
          `${status.fallback!.fromPhase}. Nothing changed on the source database ${status.database}; the ` +
          `application stays on it.`,
      );
      status.fallback!.done = true;
      await rb.audit.flush();
      return status;
    }
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

// Change data capture as a workflow that runs for weeks: (full load with the slot's snapshot, or a slot
// prepared now) then streaming activities one window at a time, each resuming from the position stored
// on the target. Lag and rates arrive as signals; pause/resume/stop are updates; the history is kept
// small with continue-as-new. Orchestration only.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  type CdcControlRequest,
  type CdcInput,
  type CdcPhase,
  type CdcStart,
  type CdcStatus,
  type CdcStopRequest,
  type ValidationView,
  assessmentQuery,
  tableStatisticsQuery,
  cdcPlanSignal,
  cdcProgressSignal,
  cdcStatusQuery,
  pauseCdc,
  resumeCdc,
  stopCdc,
  stopCdcSignal,
  cdcSummarySignal,
  type CdcSummary,
} from './definitions';
import {
  errorMessage,
  errorType,
  LAG_BUCKET,
  lagBucket,
  MIGRATION,
  movePhase,
  PENDING_GATE,
  PHASE,
  retryPolicy,
} from './common';
import { fullLoad } from './full-load';
import { assessmentGate, collectServerLogs, Runbook } from './runbook';
import { cdcTableStatistics } from './table-stats';

type Activities = ReturnType<typeof createActivities>;

const quick = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', retry: retryPolicy(10) });

/** 'X/Y' hex LSN as a number (exact up to 2^53 bytes of WAL: 8 PiB). */
function lsnValue(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi, 16) * 2 ** 32 + parseInt(lo, 16);
}

export function cdcWorkflowId(migration: string): string {
  return `cdc-${migration}`;
}

function initialStatus(input: CdcInput): CdcStatus {
  return {
    migration: input.migration,
    mode: input.mode,
    phase: input.start ? 'streaming' : input.mode === 'cdc' ? 'preparing' : 'full-load',
    workflowId: workflowInfo().workflowId,
    tables: {},
    windows: 0,
    runs: 1,
    controls: [],
    approvals: [],
    findings: [],
    timings: {},
  };
}

/** After the first full pass, re-check pending keys each interval and run a full pass every this many. */
const FULL_VALIDATION_EVERY = 12;

export async function cdcMigration(input: CdcInput): Promise<CdcStatus> {
  const status: CdcStatus = input.carried
    ? { ...input.carried, runs: input.carried.runs + 1 }
    : initialStatus(input);
  const now = () => new Date().toISOString();
  const setPhase = (p: CdcPhase) => {
    movePhase(status.timings, status.phase, p, now());
    status.phase = p;
    upsertSearchAttributes([
      { key: PHASE, value: `cdc:${p}` },
      { key: PENDING_GATE, value: null },
    ]);
  };
  upsertSearchAttributes([{ key: MIGRATION, value: input.migration }]);
  const rb = new Runbook(input, status);

  let paused = input.paused ?? false;
  let stopRequest: CdcStopRequest | undefined;
  const record = (action: 'pause' | 'resume' | 'stop', req: CdcControlRequest) => {
    status.controls.push({ action, by: req.by, ...(req.reason && { reason: req.reason }), at: now() });
    const dropSlot = action === 'stop' && !!(req as CdcStopRequest).dropSlot;
    rb.audit.record(action, req.by, req.reason, dropSlot ? { dropSlot } : undefined);
  };
  const validate = (req: CdcControlRequest) => {
    if (!req || typeof req.by !== 'string' || !req.by.trim()) {
      throw new Error('say who asks: --by <name> is required');
    }
    if (stopRequest || status.phase === 'stopping' || status.phase === 'stopped') {
      throw new Error(`CDC of ${input.migration} is stopping or stopped`);
    }
  };
  let start: CdcStart | undefined = input.start ?? status.start;
  // Carried in the status, so tables adopted before a continue-as-new stay adopted (and counted) after it.
  let adopted = new Set<string>(status.adopted ?? []);
  /** The plan grew (new source tables): later windows and continue-as-new use the new one. */
  const adopt = (r: { start: CdcStart; added: string[]; findings: string[] }) => {
    start = r.start;
    status.start = r.start;
    const fresh = r.added.filter((t) => !adopted.has(t));
    if (!fresh.length) return;
    adopted = new Set([...adopted, ...fresh]);
    status.adopted = [...adopted];
    status.findings.push(
      `info: new table(s) matching the selection adopted (published, created, loaded, streamed): ${fresh.join(', ')}`,
      ...r.findings,
    );
  };
  setHandler(cdcPlanSignal, adopt);
  setHandler(cdcStatusQuery, () => status);
  setHandler(assessmentQuery, () => status.assessment);
  setHandler(tableStatisticsQuery, () => cdcTableStatistics(status));
  let bucket = '';
  const progress = (p: { lag: CdcStatus['lag'] & object; tables: CdcStatus['tables'] }) => {
    const changed = status.tableUpdatedAt ?? {};
    for (const [key, c] of Object.entries(p.tables)) {
      const before = status.tables[key];
      if (
        !before ||
        before.inserts !== c.inserts ||
        before.updates !== c.updates ||
        before.deletes !== c.deletes
      ) {
        if (c.inserts + c.updates + c.deletes + c.truncates > 0) changed[key] = p.lag.at;
      }
    }
    status.tableUpdatedAt = changed;
    status.lag = p.lag;
    status.tables = p.tables;
    const b = lagBucket(p.lag.lagSeconds, p.lag.lagBytes);
    if (b !== bucket) {
      bucket = b;
      upsertSearchAttributes([{ key: LAG_BUCKET, value: b }]);
    }
  };
  setHandler(cdcProgressSignal, (p) => {
    // Signals from a window that ended may arrive late: never move the position back. (Counters are
    // not monotonic across windows: each window counts from the position stored on the target.)
    if (status.lag && lsnValue(p.lag.appliedLsn) < lsnValue(status.lag.appliedLsn)) return;
    progress(p);
  });
  setHandler(
    pauseCdc,
    (req) => {
      paused = true;
      record('pause', req);
      return status;
    },
    { validator: validate },
  );
  setHandler(
    resumeCdc,
    (req) => {
      paused = false;
      record('resume', req);
      return status;
    },
    { validator: validate },
  );
  setHandler(
    stopCdc,
    (req) => {
      stopRequest = req;
      record('stop', req);
      return status;
    },
    { validator: validate },
  );
  setHandler(stopCdcSignal, (req) => {
    if (stopRequest || !req?.by) return;
    stopRequest = req;
    record('stop', req);
  });

  const hb = input.heartbeatTimeout ?? '60 seconds';
  const stream = proxyActivities<Activities>({
    startToCloseTimeout: '2 days',
    heartbeatTimeout: hb,
    // A pause or stop waits for the batch in flight to commit and be confirmed.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // A source restart or a dead worker is retried for as long as it takes; bad data or config is not.
    retry: { ...retryPolicy(10), maximumAttempts: Number.POSITIVE_INFINITY },
  });
  const historyLimit = input.historyLimit ?? 5000;
  const historyFull = () =>
    workflowInfo().historyLength > historyLimit || workflowInfo().continueAsNewSuggested;

  const validation = proxyActivities<Activities>({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: hb,
    retry: retryPolicy(10),
  });
  let validationError: string | undefined;
  /** Validation while streaming: a full pass, then re-checks of pending keys, a full pass now and then. */
  const validateWhileStreaming = async () => {
    const every = Math.max(10, input.validationIntervalSeconds ?? 300);
    let passes = status.validation?.passes ?? 0;
    for (;;) {
      await condition(() => status.phase === 'streaming');
      const mode = passes % FULL_VALIDATION_EVERY === 0 ? 'full' : 'pending';
      const v: ValidationView = await validation.validateData({
        migration: input.migration,
        planId: start!.planId,
        mode,
        cdc: true,
      });
      passes++;
      status.validation = { ...v, passes };
      if (!v.enabled) return;
      await sleep(every * 1000);
    }
  };
  /** The parent migration workflow's view: phase, lag, validation counts. */
  const summary = (): CdcSummary => {
    const v = status.validation;
    return {
      phase: status.phase,
      ...(start && { planId: start.planId, slotName: start.slotName, publication: start.publication }),
      ...(status.lag && {
        lag: {
          lagBytes: status.lag.lagBytes,
          lagSeconds: status.lag.lagSeconds,
          appliedLsn: status.lag.appliedLsn,
          sourceLsn: status.lag.sourceLsn,
          at: status.lag.at,
        },
      }),
      ...(v && {
        validation: {
          enabled: v.enabled,
          passes: v.passes,
          mismatches: v.mismatches,
          pending: v.pending,
          validated: v.tables.filter((t) => t.state === 'Validated' || t.state === 'No primary key').length,
          tables: v.tables.length,
        },
      }),
      ...(validationError && { validationError }),
      ...(status.error && { error: status.error }),
    };
  };
  const parent = input.parentWorkflowId ? getExternalWorkflowHandle(input.parentWorkflowId) : undefined;
  // The parent's history grows with every signal, and CDC may stream for weeks before the cutover:
  // what the parent decides on (phase, validation, errors, lag under its threshold) goes at once, the
  // lag figures alone ever more rarely (every 5 s at first, every 5 min after an hour).
  const readyLag = input.parentReadyLagSeconds ?? 5;
  const decisive = () => {
    const s = summary();
    return JSON.stringify({ ...s, lag: undefined, caughtUp: !!s.lag && s.lag.lagSeconds <= readyLag });
  };
  const notifyStart = Date.now();
  const lagEveryMs = () => Math.min(300_000, Math.max(5_000, (Date.now() - notifyStart) / 12));
  let lastSent = '';
  const tellParent = async () => {
    if (!parent) return;
    const s = summary();
    const text = JSON.stringify({ ...s, lag: s.lag && { ...s.lag, at: undefined } });
    if (text === lastSent) return;
    lastSent = text;
    await parent.signal(cdcSummarySignal, s).catch(() => undefined);
  };
  const notifyScope = new CancellationScope();
  const notifying = parent
    ? notifyScope
        .run(async () => {
          for (;;) {
            await tellParent();
            const sent = decisive();
            await condition(() => decisive() !== sent, lagEveryMs());
          }
        })
        .catch(() => undefined)
    : undefined;
  const validationScope = new CancellationScope();
  let validating: Promise<void> | undefined;

  try {
    if (!input.carried) {
      await rb.begin({ recordStart: true });
      await assessmentGate(input, status, rb, setPhase);
    } else {
      await rb.begin({ recordStart: false });
    }
    if (!start) {
      if (input.mode === 'full-load-and-cdc') {
        setPhase('full-load');
        status.fullLoadWorkflowId = `full-load-${input.migration}`;
        const loaded = await executeChild(fullLoad, {
          workflowId: status.fullLoadWorkflowId,
          args: [{ migration: input.migration, ...input.fullLoad, cdc: true }],
        });
        for (const f of loaded.findings) status.findings.push(`full load: ${f}`);
        status.fullLoadRows = Object.fromEntries(
          loaded.tables.map((t) => [t.key, { target: t.target, rows: t.rows, at: t.finishedAt }]),
        );
        if (!loaded.cdc) {
          throw ApplicationFailure.nonRetryable('the full load returned no CDC start point', 'LOAD_FAILED');
        }
        start = loaded.cdc;
      } else {
        setPhase('preparing');
        const prepared = await quick.prepareCdc({ migration: input.migration });
        status.findings.push(...prepared.findings);
        start = {
          planId: prepared.planId,
          slotName: prepared.slotName,
          publication: prepared.publication,
          ...(prepared.startLsn && { startLsn: prepared.startLsn }),
        };
      }
      status.start = start;
    }
    status.slot = { name: start.slotName, dropped: false };
    await quick.ensureCdcControl({ migration: input.migration });

    validating = validationScope.run(validateWhileStreaming).catch((err) => {
      if (isCancellation(err)) return;
      validationError = errorMessage(err);
      status.findings.push(`warning: validation stopped: ${validationError}`);
    });
    const windowSeconds = Math.max(60, (input.windowMinutes ?? 60) * 60);
    const progressSeconds = Math.max(1, input.progressSeconds ?? 10);
    while (!stopRequest) {
      if (historyFull()) {
        validationScope.cancel();
        await validating;
        notifyScope.cancel();
        await notifying;
        await rb.audit.flush();
        await continueAsNew<typeof cdcMigration>({ ...input, start, paused, carried: { ...status } });
      }
      if (paused) {
        setPhase('paused');
        await condition(() => !paused || !!stopRequest || historyFull());
        continue;
      }
      setPhase('streaming');
      const scope = new CancellationScope();
      const run = scope.run(() =>
        stream.streamChanges({
          migration: input.migration,
          start: start!,
          workflowId: workflowInfo().workflowId,
          windowSeconds,
          progressSeconds,
        }),
      );
      let finished = false;
      let cancelled = false;
      const ended = run.then(
        (r) => {
          finished = true;
          progress(r);
          status.windows++;
          if (r.added.length) adopt(r);
        },
        (err) => {
          finished = true;
          if (isCancellation(err)) return;
          // Asked to stop: if the stream's worker died, the cancel reaches a dead attempt and comes back
          // as a timeout. Nothing is lost (the next window resumes from the stored position).
          if (cancelled) {
            status.findings.push(`warning: the stream did not stop cleanly: ${errorMessage(err)}`);
            return;
          }
          throw err;
        },
      );
      await Promise.race([ended, condition(() => finished || paused || !!stopRequest || historyFull())]);
      if (!finished) {
        cancelled = true;
        scope.cancel();
        await ended;
      }
    }

    setPhase('stopping');
    validationScope.cancel();
    await validating;
    if (stopRequest.dropSlot) {
      const dropped = await quick.dropCdcSlot({
        migration: input.migration,
        slotName: start.slotName,
        publication: start.publication,
      });
      status.slot = { name: start.slotName, dropped: dropped.slotDropped };
      status.findings.push(
        `info: slot ${start.slotName} ${dropped.slotDropped ? 'dropped' : 'was already gone'}, publication ` +
          `${start.publication} ${dropped.publicationDropped ? 'dropped' : 'was already gone'}`,
      );
    } else {
      const s = await quick.cdcSlotStatus({ migration: input.migration, slotName: start.slotName });
      status.slot = {
        name: start.slotName,
        dropped: false,
        retainedWalBytes: s.retainedWalBytes,
        active: s.active,
      };
      if (s.exists) {
        status.findings.push(
          `warning: slot ${start.slotName} is kept and retains ${s.retainedWalBytes} bytes of WAL on the source, ` +
            `growing with every write: resume with \`ferry migrate start ${input.migration}\` (migrationType cdc), ` +
            `or drop it with \`ferry migrate stop ${input.migration} --drop-slot\` or ` +
            `SELECT pg_drop_replication_slot('${start.slotName}')`,
        );
      }
    }
    await collectServerLogs(input.migration, status);
    setPhase('stopped');
    notifyScope.cancel();
    await notifying;
    await tellParent();
    await rb.audit.flush();
    return status;
  } catch (err) {
    if (isCancellation(err) || err instanceof ContinueAsNew) throw err;
    validationScope.cancel();
    await rb.audit.flush();
    await collectServerLogs(input.migration, status);
    notifyScope.cancel();
    await notifying;
    status.error = errorMessage(err);
    setPhase('failed');
    await tellParent();
    throw ApplicationFailure.nonRetryable(
      `CDC of ${input.migration} failed: ${errorMessage(err)}`,
      errorType(err) ?? 'CDC_FAILED',
      status,
    );
  }
}

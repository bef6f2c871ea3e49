// Activities of the cutover and the provision check: thin wrappers of engine/cutover and the
// Temporal task queue's pollers.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';
import { getInventoryFor, type MigrationConfig, type Sla } from '../config';
import type { PgConnInfo } from '../engine/connection';
import { dumpDatabase } from '../engine/poc/dump';
import { writeCounters } from '../engine/poc/verify';
import {
  checkWindow,
  describeHook,
  nextCutoverWindow,
  type FreezeState,
  freezeVerdict,
  freezeWrites,
  runSwitchHook,
  syncSequencesAbove,
  undoFreeze,
  waitForZeroLag,
  type WaitForZeroLagOptions,
  type ZeroLag,
} from '../engine/cutover';
import { loadPlan } from '../engine/plan-store';
import { readSourceCatalog } from '../engine/catalog';
import { compilePlan, loadMappingFiles } from '../mapping';
import type { MigrationPlan } from '../mapping/types';
import { prepareReverse } from '../engine/reverse';
import { validateMigration } from '../engine/validate';
import { ErrorType, FerryError } from '../errors';
import type { CutoverView } from '../workflows/definitions';
import { migrationEndpoints, sourceDatabase } from './context';
import { wrap } from './failures';

export interface CutoverActivityDeps {
  configPath: string;
  heartbeatMs?: number;
}

/** What a retried cutover attempt takes over from the one before (heartbeat details). */
interface CutoverProgress {
  step: string;
  frozenAt?: string;
  freezeLsn?: string;
  freeze?: FreezeState;
}

/**
 * One attempt at a cutover step that freezes the source: its view, its steps and heartbeats. The
 * heartbeat details carry the freeze, so a retried attempt takes over the freeze (and freeze point)
 * its predecessor made instead of freezing twice (a second read-only freeze would record "on" as the
 * setting to restore).
 */
class CutoverAttempt {
  readonly view: CutoverView = { steps: [] };
  private readonly ctx = Context.current();

  constructor(private readonly hbMs: number) {
    const prev = this.ctx.info.heartbeatDetails as CutoverProgress | undefined;
    if (prev?.freeze && prev.frozenAt) {
      this.view.freezeState = prev.freeze;
      this.view.frozenAt = prev.frozenAt;
      this.view.method = prev.freeze.method;
      if (prev.freezeLsn) this.view.freezeLsn = prev.freezeLsn;
    }
  }

  beat(extra: Record<string, unknown> = {}): void {
    const v = this.view;
    this.ctx.heartbeat({
      step: v.steps.at(-1)?.name ?? 'start',
      frozenAt: v.frozenAt,
      freezeLsn: v.freezeLsn,
      freeze: v.freezeState,
      ...extra,
    } satisfies CutoverProgress & Record<string, unknown>);
  }

  step(name: string, detail?: string): void {
    this.view.steps.push({ name, at: new Date().toISOString(), ...(detail && { detail }) });
    this.beat();
  }

  /** Beat on a timer while `work` runs: a long drain, dump or switch hook outlasts a heartbeat timeout. */
  async keepAlive<T>(work: () => Promise<T>, extra?: () => Record<string, unknown>): Promise<T> {
    const timer = setInterval(() => this.beat(extra?.()), this.hbMs);
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Wait until `slotName`'s consumer (Ferry's CDC, or AWS DMS) has applied up to the freeze point (a
   * retried attempt keeps the first one), beating meanwhile; records the point and when it was reached.
   */
  async drain(
    opts: Pick<WaitForZeroLagOptions, 'source' | 'target' | 'migration' | 'slotName'>,
  ): Promise<ZeroLag> {
    const v = this.view;
    const lag = await this.keepAlive(() =>
      waitForZeroLag({
        ...opts,
        ...(v.freezeLsn && { freezeLsn: v.freezeLsn }),
        signal: this.ctx.cancellationSignal,
        onProgress: (p) => (v.freezeLsn = p.freezeLsn),
      }),
    );
    v.freezeLsn = lag.freezeLsn;
    v.lagZeroAt = lag.lagZeroAt.toISOString();
    return lag;
  }

  /**
   * The SLA's window (a fresh freeze is refused outside it), then the freeze of the source's writes,
   * as ferry.yaml's `cutover:` says, or the one a previous attempt made.
   */
  async windowAndFreeze(m: MigrationConfig, sla: Sla, sourceConn: PgConnInfo): Promise<FreezeState> {
    const v = this.view;
    const window = checkWindow(sla, new Date());
    v.window = { ok: window.ok, reason: window.reason };
    if (!window.ok && !v.freezeState) {
      throw new FerryError(ErrorType.CONFIG_INVALID, `cutover refused: ${window.reason}`);
    }
    this.step('window', window.reason);
    if (v.freezeState) {
      this.step('freeze', 'kept from the previous attempt');
      return v.freezeState;
    }
    const h = await freezeWrites(sourceConn, {
      databases: [sourceConn.database],
      method: m.cutover.freeze,
      ...(m.cutover.freezeHook && { hook: m.cutover.freezeHook }),
      terminate: m.cutover.terminateSessions,
    });
    v.freezeState = h.state;
    v.frozenAt = h.frozenAt.toISOString();
    v.method = h.method;
    this.step('freeze', h.description + (h.warnings.length ? `; ${h.warnings.join('; ')}` : ''));
    return h.state;
  }
}

/** A dump of the frozen source (full load only): what a fallback restores from if the source moved. */
export interface RestorePoint {
  file: string;
  bytes: number;
  /** JSON of each table's write counters at the freeze (writeCounters). */
  writesFile: string;
}

/**
 * The application goes to the target: the operator's switch hook (DNS, pgbouncer, a deploy), or,
 * without one, its operators do it now (the step says where to). Returns when it switched.
 */
async function switchApplication(
  m: MigrationConfig,
  targetConn: PgConnInfo,
  view: CutoverView,
  step: (name: string, detail?: string) => void,
): Promise<Date> {
  const where = `${targetConn.endpointId} (${targetConn.host}:${targetConn.port}/${targetConn.database})`;
  if (m.cutover.switchHook) {
    const r = await runSwitchHook(m.cutover.switchHook, { migration: m.name, target: targetConn });
    view.switchOutput = r.stdout;
    view.switchedAt = r.switchedAt.toISOString();
    step(
      'switch',
      `${describeHook(m.cutover.switchHook)} pointed the application at ${where} in ${r.durationMs} ms`,
    );
    return r.switchedAt;
  }
  const switchedAt = new Date();
  view.switchedAt = switchedAt.toISOString();
  step('switch', `point the application at ${where}`);
  return switchedAt;
}

/** The migration's plan compiled now against the live source (its mapping and settings files). */
async function livePlan(m: MigrationConfig, sourceConn: PgConnInfo): Promise<MigrationPlan> {
  const files = await loadMappingFiles(m.tableMappings, m.taskSettings);
  const catalog = await readSourceCatalog(sourceConn);
  return compilePlan(files.mapping, catalog, files.settings, { findings: files.findings });
}

export function createCutoverActivities(deps: CutoverActivityDeps) {
  return {
    /** The replication instance: enough workers poll the task queue before data moves. */
    async checkWorkers(input: {
      taskQueue: string;
      minWorkers: number;
    }): Promise<{ workers: number; detail: string }> {
      return wrap(async () => {
        const ctx = Context.current();
        const r = await ctx.client.workflowService.describeTaskQueue({
          namespace: ctx.info.workflowNamespace,
          taskQueue: { name: input.taskQueue },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        });
        const identities = [...new Set((r.pollers ?? []).map((p) => p.identity ?? '?'))];
        if (identities.length < input.minWorkers) {
          // Retried by the activity's policy: a worker starting up shows up on a later attempt.
          throw new FerryError(
            ErrorType.ENDPOINT_UNREACHABLE,
            `task queue ${input.taskQueue} has ${identities.length} worker(s) polling, ${input.minWorkers} required ` +
              `(provision.minWorkers): start more with \`ferry worker\` on other machines`,
          );
        }
        return {
          workers: identities.length,
          detail: `${identities.length} worker(s) poll task queue ${input.taskQueue}: ${identities.join(', ')}`,
        };
      });
    },

    /**
     * Full load only, first half of the cutover: writes stop on the source, then a pg_dump of it is the
     * restore point (with each table's write counters, to tell later whether the source moved since).
     * A retried attempt keeps the freeze it already made (heartbeat details). Fails → freeze undone.
     */
    async freezeForLoad(input: { migration: string; runId: string }): Promise<{
      view: CutoverView;
      restorePoint: RestorePoint;
    }> {
      return wrap(async () => {
        const ctx = Context.current();
        const { cfg, m, source, sourceConn } = await migrationEndpoints(deps.configPath, input.migration);
        const sla = getInventoryFor(cfg, m.source, sourceDatabase(m, source))?.sla ?? {};
        const attempt = new CutoverAttempt(deps.heartbeatMs ?? 5000);
        const freeze = await attempt.windowAndFreeze(m, sla, sourceConn);
        try {
          const dir = path.join(cfg.workDir, m.name);
          await fs.mkdir(dir, { recursive: true, mode: 0o700 });
          const base = path.join(dir, `pre-cutover-${input.runId}`);
          let bytes = 0;
          const d = await attempt.keepAlive(
            () =>
              dumpDatabase({
                conn: sourceConn,
                scope: { schemas: [], tables: [] },
                compression: m.poc.compression,
                outFile: `${base}.dump`,
                signal: ctx.cancellationSignal,
                onProgress: (p) => (bytes = p.bytes),
              }),
            () => ({ bytes }),
          );
          // Read after the dump: the statistics of the last writes before the freeze have arrived by now.
          const writes = await writeCounters(sourceConn);
          await fs.writeFile(`${base}.writes.json`, JSON.stringify(writes));
          attempt.step(
            'restore point',
            `pg_dump of the frozen source: ${d.file} (${d.bytes} bytes in ${d.seconds.toFixed(1)} s)`,
          );
          return {
            view: attempt.view,
            restorePoint: { file: d.file, bytes: d.bytes, writesFile: `${base}.writes.json` },
          };
        } catch (err) {
          await undoFreeze(sourceConn, freeze).catch(() => undefined);
          throw err;
        }
      });
    },

    /**
     * Second half of a cutover whose data moved while the source was frozen (full load only) or was
     * drained by AWS DMS: sequences go above the source's (the stored plan, or without `planId` one
     * compiled now from the live source, as `ferry plan` does) and the application switches. Measures
     * the write freeze. Fails → freeze undone.
     */
    async finishLoadCutover(input: {
      migration: string;
      planId?: string;
      view: CutoverView;
      validation: { mismatches: number; pending: number };
    }): Promise<CutoverView> {
      return wrap(async () => {
        const { cfg, m, source, sourceConn, targetConn } = await migrationEndpoints(
          deps.configPath,
          input.migration,
        );
        const sla = getInventoryFor(cfg, m.source, sourceDatabase(m, source))?.sla ?? {};
        const view: CutoverView = { ...input.view, steps: [...input.view.steps] };
        const step = (name: string, detail?: string) =>
          view.steps.push({ name, at: new Date().toISOString(), ...(detail && { detail }) });
        view.validation = input.validation;
        step(
          'validated',
          `${input.validation.mismatches} mismatched, ${input.validation.pending} pending row(s) ` +
            (input.planId ? 'after the full load' : 'as AWS DMS validated them'),
        );
        const ctx = Context.current();
        const timer = setInterval(
          () => ctx.heartbeat({ step: view.steps.at(-1)?.name }),
          deps.heartbeatMs ?? 5000,
        );
        try {
          const plan = input.planId
            ? (await loadPlan(targetConn, m.name, input.planId)).plan
            : await livePlan(m, sourceConn);
          const seq = await syncSequencesAbove(sourceConn, targetConn, plan, m.cutover.sequenceMargin);
          view.sequences = seq.sequences.length;
          step('sequences', `${seq.sequences.length} sequence(s) set ${seq.margin} above the source's`);
          const switchedAt = await switchApplication(m, targetConn, view, step);
          Object.assign(view, freezeVerdict({ frozenAt: view.frozenAt! }, switchedAt, sla.maxDowntime));
          return view;
        } catch (err) {
          if (view.freezeState) await undoFreeze(sourceConn, view.freezeState).catch(() => undefined);
          throw err;
        } finally {
          clearInterval(timer);
        }
      });
    },

    /**
     * AWS DMS cutover, first half: writes stop on the source, then DMS's slot on the source must confirm
     * the freeze point (everything before it is applied on the target). A retried attempt keeps its
     * freeze and freeze point (heartbeat details). Fails → freeze undone.
     */
    async freezeAndDrain(input: { migration: string; slotName: string }): Promise<CutoverView> {
      return wrap(async () => {
        const { cfg, m, source, sourceConn, targetConn } = await migrationEndpoints(
          deps.configPath,
          input.migration,
        );
        const sla = getInventoryFor(cfg, m.source, sourceDatabase(m, source))?.sla ?? {};
        const attempt = new CutoverAttempt(deps.heartbeatMs ?? 5000);
        const view = attempt.view;
        const freeze = await attempt.windowAndFreeze(m, sla, sourceConn);
        try {
          const lag = await attempt.drain({
            source: sourceConn,
            target: targetConn,
            migration: m.name,
            slotName: input.slotName,
          });
          attempt.step(
            'drained',
            `AWS DMS confirmed ${lag.appliedLsn} ≥ freeze point ${lag.freezeLsn} on slot ${input.slotName}`,
          );
          return view;
        } catch (err) {
          await undoFreeze(sourceConn, freeze).catch(() => undefined);
          throw err;
        }
      });
    },

    /** May the cutover start now (the SLA's business hours and downtime budget)? If not, from when. */
    async cutoverWindow(input: {
      migration: string;
    }): Promise<{ ok: boolean; reason: string; nextAt?: string }> {
      return wrap(async () => {
        const { cfg, m, source } = await migrationEndpoints(deps.configPath, input.migration);
        const sla = getInventoryFor(cfg, m.source, sourceDatabase(m, source))?.sla ?? {};
        const now = new Date();
        const w = checkWindow(sla, now);
        if (w.ok) return { ok: true, reason: w.reason };
        const next = nextCutoverWindow(sla, now);
        return { ok: false, reason: w.reason, ...(next && { nextAt: next.toISOString() }) };
      });
    },

    /**
     * The cutover in one step: window check, source writes frozen, CDC drained to the freeze point,
     * final validation of what is pending, sequences set above the source's, the application switched.
     * Any failure after the freeze undoes it (the source takes writes again) before failing.
     */
    async cutover(input: {
      migration: string;
      workflowId: string;
      planId: string;
      slotName: string;
    }): Promise<CutoverView> {
      return wrap(async () => {
        const ctx = Context.current();
        const { cfg, m, source, sourceConn, targetConn } = await migrationEndpoints(
          deps.configPath,
          input.migration,
        );
        const sla = getInventoryFor(cfg, m.source, sourceDatabase(m, source))?.sla ?? {};
        const attempt = new CutoverAttempt(deps.heartbeatMs ?? 5000);
        const view = attempt.view;
        const step = (name: string, detail?: string) => attempt.step(name, detail);
        const freeze = await attempt.windowAndFreeze(m, sla, sourceConn);
        try {
          return await attempt.keepAlive(async () => {
            const lag = await attempt.drain({
              source: sourceConn,
              target: targetConn,
              migration: m.name,
              slotName: input.slotName,
            });
            step(
              'drained',
              `applied ${lag.appliedLsn} ≥ freeze point ${lag.freezeLsn} after ${lag.waitedMs} ms`,
            );

            const { plan, catalog } = await loadPlan(targetConn, m.name, input.planId);
            const v = await validateMigration({
              migration: m.name,
              plan,
              source: sourceConn,
              target: targetConn,
              mode: 'pending',
              cdc: true,
              signal: ctx.cancellationSignal,
            });
            view.validation = { mismatches: v.mismatches, pending: v.pending };
            step(
              'validated',
              `${v.mismatches} mismatched, ${v.pending} pending row(s) after the final re-check`,
            );

            const seq = await syncSequencesAbove(sourceConn, targetConn, plan, m.cutover.sequenceMargin);
            view.sequences = seq.sequences.length;
            step('sequences', `${seq.sequences.length} sequence(s) set ${seq.margin} above the source's`);

            // Fallback from here on loses nothing: the target's writes are captured from this point.
            const rev = await prepareReverse({
              migration: m.name,
              plan,
              catalog,
              target: targetConn,
              source: sourceConn,
            });
            view.reverse = { slotName: rev.slotName, publication: rev.publication, startLsn: rev.startLsn };
            step('reverse', `reverse replication slot ${rev.slotName} on the target from ${rev.startLsn}`);

            const switchedAt = await switchApplication(m, targetConn, view, step);
            Object.assign(view, freezeVerdict({ frozenAt: view.frozenAt! }, switchedAt, sla.maxDowntime));
            return view;
          });
        } catch (err) {
          // Compensation: the source takes writes again; CDC keeps the target in step.
          await undoFreeze(sourceConn, freeze).catch(() => undefined);
          throw err;
        }
      });
    },
  };
}

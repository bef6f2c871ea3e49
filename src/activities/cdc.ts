// CDC activities: thin adapters from the CDC workflow to engine/cdc. The streaming activity runs for a
// window (an hour by default), heartbeating its position and signalling lag and rates to its workflow;
// its position lives on the target (ferry.cdc_progress), so a retry anywhere resumes exactly there.
import { Context } from '@temporalio/activity';
import { connectPg, type PgConnInfo } from '../engine/connection';
import { ensureControlTables } from '../engine/fullload';
import { savePlan, loadPlan } from '../engine/plan-store';
import {
  assertCdcReady,
  cdcTables,
  createSlot,
  dropPublication,
  ensurePublication,
  slotInfo,
} from '../engine/cdc/source';
import { dropSlot } from '../engine/fullload/snapshot';
import { ensureCdcTables, tableCounters } from '../engine/cdc/progress';
import { runCdc } from '../engine/cdc/runner';
import { adoptNewTables } from '../engine/cdc/new-tables';
import type { CdcProgress } from '../engine/cdc/types';
import { compilePlan, loadMappingFiles } from '../mapping';
import { metrics } from '../metrics';
import { withHeartbeat } from './heartbeat';

import {
  type CdcLag,
  type CdcStart,
  type CdcTableStats,
  cdcPlanSignal,
  cdcProgressSignal,
} from '../workflows/definitions';
import { migrationEndpoints } from './context';
import { wrap } from './failures';
import { cdcNames, compileMigrationPlan } from './full-load';

export interface CdcActivityDeps {
  configPath: string;
  heartbeatMs?: number;
}

export function lagOf(p: CdcProgress): CdcLag {
  return {
    appliedLsn: p.appliedLsn,
    sourceLsn: p.sourceLsn,
    lagBytes: p.lagBytes,
    lagSeconds: Math.round(p.lagSeconds * 1000) / 1000,
    ...(p.lastCommitTime && { lastCommitTime: p.lastCommitTime }),
    txns: p.txns,
    changes: p.changes,
    batches: p.batches,
    applied: p.applied,
    conflicts: p.conflicts,
    changesPerSecond: Math.round(p.changesPerSecond),
    at: p.at,
  };
}

export function createCdcActivities(deps: CdcActivityDeps) {
  const endpoints = (migration: string) => migrationEndpoints(deps.configPath, migration);

  async function tablesOf(targetConn: PgConnInfo, migration: string): Promise<Record<string, CdcTableStats>> {
    const c = await connectPg(targetConn, 'ferry-cdc-status');
    try {
      const all = await tableCounters(c, migration);
      const out: Record<string, CdcTableStats> = {};
      for (const [k, v] of Object.entries(all)) {
        out[k] = {
          inserts: v.inserts,
          updates: v.updates,
          deletes: v.deletes,
          truncates: v.truncates,
          applied: v.applied,
          conflicts: v.conflicts,
        };
      }
      return out;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  return {
    /**
     * migrationType cdc: compile the plan, check the source, create the publication and then (when
     * missing) the slot, starting now; with cdc.startPosition the slot must exist and still hold it.
     */
    async prepareCdc(input: { migration: string }): Promise<CdcStart & { findings: string[] }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan, catalog } = await compileMigrationPlan(m, sourceConn, targetConn);
        const names = cdcNames(m);
        const pre = await assertCdcReady(sourceConn, plan, {
          ...names,
          mode: 'cdc',
          ...(m.cdc.startPosition && { startLsn: m.cdc.startPosition }),
        });
        const findings = pre.findings
          .filter((f) => f.severity !== 'error')
          .map((f) => `${f.severity}: ${f.object}: ${f.message}${f.advice ? `; ${f.advice}` : ''}`);
        await ensurePublication(sourceConn, names.publication, cdcTables(plan));
        if (!pre.slot) {
          const created = await createSlot(sourceConn, names.slotName);
          findings.push(`info: created slot ${created.slotName} at ${created.lsn}: CDC starts there`);
        }
        await ensureControlTables(targetConn);
        const planId = await savePlan(targetConn, m.name, plan, catalog);
        return {
          planId,
          ...names,
          ...(m.cdc.startPosition && { startLsn: m.cdc.startPosition }),
          findings,
        };
      }, input.migration);
    },

    /**
     * Stream and apply for up to `windowSeconds`, or until cancelled (the batch in flight commits
     * first). Throws on a source/target failure: the retry resumes from the stored position.
     */
    async streamChanges(input: {
      migration: string;
      start: CdcStart;
      workflowId: string;
      windowSeconds: number;
      progressSeconds: number;
    }): Promise<{
      lag: CdcLag;
      tables: Record<string, CdcTableStats>;
      start: CdcStart;
      added: string[];
      findings: string[];
    }> {
      return wrap(async () => {
        const ctx = Context.current();
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        let { plan, catalog } = await loadPlan(targetConn, m.name, input.start.planId);
        let start = input.start;
        // Tables created on the source since the plan was made, and matching the selection: adopted.
        const files = await loadMappingFiles(m.tableMappings, m.taskSettings);
        const adopted = await withHeartbeat(
          deps.heartbeatMs ?? 2_000,
          () => ({ step: 'new tables' }),
          () =>
            adoptNewTables({
              migration: m.name,
              source: sourceConn,
              target: targetConn,
              publication: start.publication,
              slotName: start.slotName,
              plan,
              compile: (cat) => compilePlan(files.mapping, cat, files.settings, { findings: files.findings }),
            }),
        );
        if (adopted) {
          plan = adopted.plan;
          catalog = adopted.catalog;
          const planId = await savePlan(targetConn, m.name, plan, catalog);
          const skipBefore = { ...start.skipBefore };
          for (const t of adopted.added) skipBefore[t] = adopted.copiedAt;
          start = { ...start, planId, skipBefore };
          await ctx.client.workflow
            .getHandle(input.workflowId)
            .signal(cdcPlanSignal, { start, added: adopted.added, findings: adopted.findings });
        }
        const window = new AbortController();
        const timer = setTimeout(() => window.abort(), input.windowSeconds * 1000);
        const cancel = () => window.abort();
        ctx.cancellationSignal.addEventListener('abort', cancel, { once: true });
        const workflow = ctx.client.workflow.getHandle(input.workflowId);
        let lastSignal = 0;
        let sending = false;
        const count = metrics.runningTotals(m.name, 'cdc');
        try {
          const final = await runCdc({
            migration: m.name,
            source: sourceConn,
            target: targetConn,
            plan,
            catalog,
            slotName: start.slotName,
            publication: start.publication,
            startLsn: start.startLsn,
            tolerantUntil: start.tolerantUntil,
            skipBefore: start.skipBefore,
            signal: window.signal,
            progressIntervalMs: Math.min(deps.heartbeatMs ?? 2_000, input.progressSeconds * 1000),
            ...(m.cdc.journal?.enabled && {
              journal: {
                retentionSeconds: m.cdc.journal.retention,
                pruneIntervalSeconds: m.cdc.journal.pruneMinutes * 60,
                tables: m.cdc.journal.tables,
              },
            }),
            onBatch: (b) => metrics.applyBatch(m.name, b.changes),
            onProgress: (p) => {
              const lag = lagOf(p);
              ctx.heartbeat(lag);
              metrics.cdcLag(m.name, p.lagBytes, p.lagSeconds);
              for (const [t, c] of Object.entries(p.tables))
                count(t, { rows: c.inserts + c.updates + c.deletes });
              if (sending || Date.now() - lastSignal < input.progressSeconds * 1000) return;
              sending = true;
              lastSignal = Date.now();
              // The workflow's lag query answers from these; a lost one is replaced by the next.
              void tablesOf(targetConn, m.name)
                .then((tables) => workflow.signal(cdcProgressSignal, { lag, tables }))
                .catch(() => undefined)
                .finally(() => (sending = false));
            },
          });
          return {
            lag: lagOf(final),
            tables: await tablesOf(targetConn, m.name),
            start,
            added: adopted?.added ?? [],
            findings: adopted?.findings ?? [],
          };
        } finally {
          clearTimeout(timer);
          ctx.cancellationSignal.removeEventListener('abort', cancel);
          metrics.cdcStopped(m.name);
        }
      }, input.migration);
    },

    /** The slot as the source reports it (is it there, active, how much WAL it keeps). */
    async cdcSlotStatus(input: {
      migration: string;
      slotName: string;
    }): Promise<{ exists: boolean; active: boolean; retainedWalBytes: number; confirmedFlushLsn?: string }> {
      return wrap(async () => {
        const { sourceConn } = await endpoints(input.migration);
        const s = await slotInfo(sourceConn, input.slotName);
        if (!s) return { exists: false, active: false, retainedWalBytes: 0 };
        return {
          exists: true,
          active: s.active,
          retainedWalBytes: s.retainedWalBytes,
          ...(s.confirmedFlushLsn && { confirmedFlushLsn: s.confirmedFlushLsn }),
        };
      }, input.migration);
    },

    /** Drop the slot and the publication (asked for with --drop-slot; CDC can never resume after it). */
    async dropCdcSlot(input: {
      migration: string;
      slotName: string;
      publication: string;
    }): Promise<{ slotDropped: boolean; publicationDropped: boolean }> {
      return wrap(async () => {
        const { sourceConn } = await endpoints(input.migration);
        const slotDropped = await dropSlot(sourceConn, input.slotName, { waitMs: 30_000 });
        const publicationDropped = await dropPublication(sourceConn, input.publication);
        return { slotDropped, publicationDropped };
      }, input.migration);
    },

    /** Make sure the CDC control tables exist (status reads them before the first batch). */
    async ensureCdcControl(input: { migration: string }): Promise<void> {
      return wrap(async () => {
        const { targetConn } = await endpoints(input.migration);
        const c = await connectPg(targetConn, 'ferry-cdc-status');
        try {
          await ensureCdcTables(c);
        } finally {
          await c.end().catch(() => undefined);
        }
      }, input.migration);
    },
  };
}

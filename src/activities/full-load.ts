// Full-load activities: thin adapters from the workflow's small JSON to the native engine. The plan
// lives in the target's ferry schema (every worker reaches it); the exported snapshot is published
// there by the activity holding it, and copies look it up, so a restarted holder's new snapshot is
// found without the workflow passing ids around.
import { Context } from '@temporalio/activity';

import { readSourceCatalog } from '../engine/catalog';
import type { PgConnInfo } from '../engine/connection';
import {
  ANY_SNAPSHOT,
  type Segment,
  copySegment as engineCopySegment,
  createPostData as engineCreatePostData,
  createPreData as engineCreatePreData,
  ensureControlTables,
  holdSnapshot as engineHoldSnapshot,
  withSnapshot as engineWithSnapshot,
  planSegments,
  recordedSegments,
  recordSegments,
  resetTableLoad,
  segmentRows,
  setTableState,
  syncSequences as engineSyncSequences,
  filterSql,
} from '../engine/fullload';
import { displayName } from '../engine/ident';
import { checkPrivileges } from '../engine/privileges';
import {
  currentSnapshot,
  loadPlan,
  publishSnapshot,
  retractSnapshot,
  savePlan,
  snapshotBoundaries,
  snapshotGenerations,
} from '../engine/plan-store';
import { compareLsn } from '../engine/cdc/types';
import { ErrorType, FerryError } from '../errors';
import { metrics } from '../metrics';
import { compilePlan, loadMappingFiles } from '../mapping';
import {
  assertCdcReady,
  cdcTables,
  defaultPublicationName,
  defaultSlotName,
  ensurePublication,
  slotInfo,
} from '../engine/cdc/source';
import type { MigrationConfig } from '../config';
import type { Finding, MigrationPlan, SourceCatalog, TablePlan } from '../mapping/types';
import type { TableRef } from '../workflows/definitions';
import { migrationEndpoints } from './context';
import { wrap } from './failures';
import { withHeartbeat } from './heartbeat';

export interface FullLoadActivityDeps {
  configPath: string;
  heartbeatMs?: number;
}

/**
 * Read the source catalog and compile the migration's DMS mapping and settings against it; every
 * mapping error, an empty selection and missing privileges surface here, before any data moves.
 */
export async function compileMigrationPlan(
  m: MigrationConfig,
  sourceConn: PgConnInfo,
  targetConn: PgConnInfo,
): Promise<{ plan: MigrationPlan; catalog: SourceCatalog }> {
  const files = await loadMappingFiles(m.tableMappings, m.taskSettings);
  const catalog = await readSourceCatalog(sourceConn);
  const plan = compilePlan(files.mapping, catalog, files.settings, { findings: files.findings });
  if (plan.tables.length === 0) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `${m.tableMappings ?? 'the default mapping'}: the selection matches no table on endpoint ${m.source}`,
    );
  }
  await checkPrivileges(sourceConn, targetConn, plan);
  return { plan, catalog };
}

/** The migration's slot and publication: ferry.yaml cdc.slotName/publication, else ferry_<migration>. */
export function cdcNames(m: MigrationConfig): { slotName: string; publication: string } {
  return {
    slotName: m.cdc.slotName ?? defaultSlotName(m.name),
    publication: m.cdc.publication ?? defaultPublicationName(m.name),
  };
}

export function findingText(f: Finding): string {
  return `${f.severity}: ${f.field}: ${f.message}`;
}

export function tableKey(t: TablePlan): string {
  return displayName(t.source.schema, t.source.name);
}

function tableOf(plan: MigrationPlan, key: string): TablePlan {
  const t = plan.tables.find((x) => tableKey(x) === key);
  if (!t) throw new FerryError(ErrorType.CONFIG_INVALID, `table ${key} is not in the migration plan`);
  return t;
}

export function createFullLoadActivities(deps: FullLoadActivityDeps) {
  const hbMs = deps.heartbeatMs ?? 5_000;

  const endpoints = (migration: string) => migrationEndpoints(deps.configPath, migration);

  async function planFor(target: PgConnInfo, migration: string, planId: string) {
    return loadPlan(target, migration, planId);
  }

  /** The snapshot copies must import; SNAPSHOT_LOST (retryable) while no holder has published one. */
  async function snapshotFor(target: PgConnInfo, migration: string, planId: string) {
    const s = await currentSnapshot(target, migration, planId);
    if (!s) {
      throw new FerryError(
        ErrorType.SNAPSHOT_LOST,
        `no exported snapshot is held for ${migration}; the holder is (re)starting, retrying`,
      );
    }
    return s;
  }

  /** Copy one segment under `snapshotId` (exactly once: see engine copySegment). */
  function copyOne(
    sourceConn: PgConnInfo,
    targetConn: PgConnInfo,
    migration: string,
    table: TablePlan,
    segment: Segment,
    snapshotId: string,
    signal: AbortSignal,
    onProgress?: (p: { rows: number; bytes: number }) => void,
  ) {
    return engineCopySegment({
      migration,
      source: sourceConn,
      target: targetConn,
      snapshotId,
      table,
      segment,
      signal,
      ...(onProgress && { onProgress }),
    });
  }

  /**
   * Empty a table on the target and copy it again whole under `snapshotId`; `rewritten`: the source
   * truncated it after that snapshot too (see copySegment).
   */
  async function reloadTable(
    sourceConn: PgConnInfo,
    targetConn: PgConnInfo,
    migration: string,
    catalog: SourceCatalog,
    table: TablePlan,
    snapshotId: string,
    signal: AbortSignal,
  ): Promise<{ rows: number; rewritten: boolean }> {
    await resetTableLoad(targetConn, migration, table);
    const segments = await planTable(sourceConn, targetConn, migration, catalog, table, snapshotId);
    let rows = 0;
    let rewritten = false;
    for (const segment of segments) {
      const r = await copyOne(sourceConn, targetConn, migration, table, segment, snapshotId, signal);
      rows += r.rows;
      rewritten ||= !!r.rewritten;
    }
    await setTableState(targetConn, migration, table, 'loaded', { rows });
    return { rows, rewritten };
  }

  /** Split a table into segments under `snapshotId`, and record them (and the table as loading). */
  async function planTable(
    sourceConn: PgConnInfo,
    targetConn: PgConnInfo,
    migration: string,
    catalog: SourceCatalog,
    table: TablePlan,
    snapshotId: string,
  ) {
    const cat = catalog.tables.find((t) => t.schema === table.source.schema && t.name === table.source.name);
    if (!cat)
      throw new FerryError(ErrorType.CONFIG_INVALID, `table ${tableKey(table)} is not in the stored catalog`);
    const segments = await planSegments(sourceConn, snapshotId, table, cat);
    await recordSegments(targetConn, {
      migration,
      table,
      segments,
      filter: filterSql(table.filter),
      snapshot: snapshotId,
    });
    await setTableState(targetConn, migration, table, 'loading', {
      snapshot: snapshotId,
      segments: segments.length,
    });
    return segments;
  }

  return {
    /**
     * Read the source catalog, compile the DMS mapping and settings into a plan, store it on the
     * target. Every mapping error surfaces here, before any data moves.
     */
    async prepareFullLoad(input: { migration: string; cdc?: boolean }): Promise<{
      planId: string;
      concurrency: number;
      tables: TableRef[];
      skipped: number;
      findings: string[];
      /** full-load-and-cdc: the slot the snapshot will come from, and its publication. */
      cdc?: { slotName: string; publication: string };
    }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan, catalog } = await compileMigrationPlan(m, sourceConn, targetConn);
        let cdc: { slotName: string; publication: string } | undefined;
        const cdcFindings: string[] = [];
        if (input.cdc) {
          // Before the slot exists: decoding sees a publication only from its creation on.
          cdc = cdcNames(m);
          const pre = await assertCdcReady(sourceConn, plan, { ...cdc, mode: 'full-load-and-cdc' });
          for (const f of pre.findings) {
            if (f.severity === 'warning') cdcFindings.push(`warning: ${f.object}: ${f.message}; ${f.advice}`);
          }
          await ensurePublication(sourceConn, cdc.publication, cdcTables(plan));
        }
        await ensureControlTables(targetConn);
        const planId = await savePlan(targetConn, m.name, plan, catalog);
        return {
          ...(cdc && { cdc }),
          planId,
          concurrency: Math.max(1, plan.settings.maxFullLoadSubTasks),
          tables: plan.tables.map((t) => ({
            key: tableKey(t),
            source: tableKey(t),
            target: displayName(t.target.schema, t.target.name),
            bytes: t.bytes,
            estimatedRows: t.estimatedRows,
            segments:
              t.segments.method === 'partitions' ? (t.segments.partitions?.length ?? 1) : t.segments.count,
            loadOrder: t.loadOrder,
          })),
          skipped: plan.skipped.length,
          findings: [...plan.findings.filter((f) => f.severity !== 'info').map(findingText), ...cdcFindings],
        };
      }, input.migration);
    },

    /**
     * Export one snapshot and keep its session open until cancelled, publishing its id on the target.
     * If this worker dies, the retry exports a new snapshot (a new generation) and copies that had not
     * started import that one.
     */
    async holdSnapshot(input: { migration: string; planId: string; slotName?: string }): Promise<void> {
      return wrap(async () => {
        const { sourceConn, targetConn } = await endpoints(input.migration);
        // full-load-and-cdc: the first holder creates the slot with its snapshot. A retry finds the slot
        // (still at its consistent point: nothing streams it yet) and exports a later snapshot from a
        // temporary slot, whose consistent point is that snapshot's exact WAL boundary: CDC skips, for
        // each table copied under it, exactly the changes the copy holds (settleSnapshots).
        const withSlot =
          input.slotName && !(await slotInfo(sourceConn, input.slotName)) ? input.slotName : undefined;
        const ctx = Context.current();
        const temporarySlot =
          input.slotName && !withSlot ? `${input.slotName.slice(0, 50)}_snap${ctx.info.attempt}` : undefined;
        const holder = `${ctx.info.workflowExecution?.workflowId}/${ctx.info.activityId}#${ctx.info.attempt}`;
        let published: Promise<unknown> = Promise.resolve();
        try {
          await engineHoldSnapshot(sourceConn, {
            slotName: withSlot,
            temporarySlot,
            signal: ctx.cancellationSignal,
            // Short: the keepalive heartbeat is how the holder hears it is cancelled.
            keepaliveMs: Math.min(hbMs, 1_000),
            onKeepalive: () => ctx.heartbeat(),
            onReady: (s) => {
              const snap = { ...s, slotName: input.slotName ?? s.slotName };
              published = publishSnapshot(targetConn, input.migration, input.planId, snap, holder);
              ctx.heartbeat();
            },
          });
          await published;
        } finally {
          await retractSnapshot(targetConn, input.migration, input.planId).catch(() => undefined);
        }
      }, input.migration);
    },

    async waitForSnapshot(input: {
      migration: string;
      planId: string;
    }): Promise<{ snapshotId: string; slotName?: string; consistentLsn?: string }> {
      return wrap(async () => {
        const { targetConn } = await endpoints(input.migration);
        const ctx = Context.current();
        for (;;) {
          const s = await currentSnapshot(targetConn, input.migration, input.planId);
          if (s) return { snapshotId: s.snapshotId, slotName: s.slotName, consistentLsn: s.consistentLsn };
          ctx.heartbeat();
          await ctx.sleep(250);
        }
      }, input.migration);
    },

    async createPreData(input: {
      migration: string;
      planId: string;
    }): Promise<{ tables: number; findings: string[] }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan, catalog } = await planFor(targetConn, m.name, input.planId);
        const snap = await snapshotFor(targetConn, m.name, input.planId);
        const r = await withHeartbeat(
          hbMs,
          () => ({ step: 'pre-data' }),
          () =>
            engineCreatePreData({
              migration: m.name,
              source: sourceConn,
              target: targetConn,
              plan,
              catalog,
              snapshotId: snap.snapshotId,
            }),
        );
        return {
          tables: r.tables.length,
          findings: r.findings.filter((f) => f.severity !== 'info').map(findingText),
        };
      }, input.migration);
    },

    /** Plan a table's segments once and record them; a retry or a restarted load reuses them. */
    async planTableSegments(input: {
      migration: string;
      planId: string;
      table: string;
    }): Promise<{ segments: number; notes: string[] }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan, catalog } = await planFor(targetConn, m.name, input.planId);
        const table = tableOf(plan, input.table);
        const existing = await recordedSegments(targetConn, m.name, table, ANY_SNAPSHOT);
        if (existing) return { segments: existing.length, notes: [] };
        const snap = await snapshotFor(targetConn, m.name, input.planId);
        const segments = await planTable(sourceConn, targetConn, m.name, catalog, table, snap.snapshotId);
        return { segments: segments.length, notes: segments.flatMap((s) => (s.note ? [s.note] : [])) };
      }, input.migration);
    },

    /** Copy one segment in one target transaction with its control row: exactly once. */
    async copySegment(input: { migration: string; planId: string; table: string; segment: number }): Promise<{
      rows: number;
      bytes: number;
      seconds: number;
      truncated: number;
      skipped: boolean;
    }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan } = await planFor(targetConn, m.name, input.planId);
        const table = tableOf(plan, input.table);
        const segments = await recordedSegments(targetConn, m.name, table, ANY_SNAPSHOT);
        const segment = segments?.[input.segment];
        if (!segment) {
          throw new FerryError(
            ErrorType.CONFIG_INVALID,
            `segment ${input.segment} of ${input.table} was never planned`,
          );
        }
        const snap = await snapshotFor(targetConn, m.name, input.planId);
        let progress = { rows: 0, bytes: 0 };
        const count = metrics.runningTotals(m.name, 'full-load');
        const r = await withHeartbeat(
          hbMs,
          () => progress,
          (signal) =>
            copyOne(sourceConn, targetConn, m.name, table, segment, snap.snapshotId, signal, (p) => {
              progress = p;
              count(input.table, p);
            }),
        );
        if (r.skipped) {
          // Done by an earlier attempt or run: report what that copy recorded, not zero.
          const done = (await segmentRows(targetConn, m.name, table)).find(
            (x) => x.segment === input.segment,
          );
          return {
            rows: Number(done?.rows ?? 0),
            bytes: Number(done?.bytes ?? 0),
            seconds: r.seconds,
            truncated: Object.values(done?.truncated ?? {}).reduce((a, b) => a + b, 0),
            skipped: true,
          };
        }
        return {
          rows: r.rows,
          bytes: r.bytes,
          seconds: r.seconds,
          truncated: Object.values(r.truncated).reduce((a, b) => a + b, 0),
          skipped: r.skipped === 'already-done',
        };
      }, input.migration);
    },

    async createPostData(input: {
      migration: string;
      planId: string;
    }): Promise<{ indexes: number; constraints: number; findings: string[] }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan, catalog } = await planFor(targetConn, m.name, input.planId);
        let last = '';
        const r = await withHeartbeat(
          hbMs,
          () => ({ step: last }),
          (signal) =>
            engineCreatePostData({
              migration: m.name,
              source: sourceConn,
              target: targetConn,
              plan,
              catalog,
              concurrency: Math.max(1, Math.min(plan.settings.maxFullLoadSubTasks, 8)),
              signal,
              onEvent: (e) => (last = `${e.step} ${e.table} ${e.name}`),
            }),
        );
        return {
          indexes: r.indexes,
          constraints: r.constraints,
          findings: r.findings.filter((f) => f.severity !== 'info').map(findingText),
        };
      }, input.migration);
    },

    /** Snapshots exported for the load: more than one means segments read different points in time. */
    /** How many snapshots the load used, and the WAL position of the current one. */
    async snapshotCount(input: {
      migration: string;
      planId: string;
    }): Promise<{ snapshots: number; consistentLsn?: string }> {
      return wrap(async () => {
        const { m, targetConn } = await endpoints(input.migration);
        const current = await currentSnapshot(targetConn, m.name, input.planId);
        return {
          snapshots: await snapshotGenerations(targetConn, m.name, input.planId),
          ...(current?.consistentLsn && { consistentLsn: current.consistentLsn }),
        };
      }, input.migration);
    },

    /**
     * After every segment is in, while the snapshot is still held: which snapshot each table was read
     * under. More than one (the holder restarted) and CDC follows (`slotName`):
     * - a table whose segments read different snapshots is emptied and copied again, whole, under the
     *   current one (a key-less table's rows cannot be told apart by snapshot afterwards);
     * - a table read under a later snapshot than the slot's gets its exact boundary in `skipBefore`:
     *   CDC skips that table's transactions committed before it, which the copy already holds.
     * Without CDC nothing is reloaded: `snapshots` > 1 is reported (segments read different instants).
     * `tolerantUntil` is set only for a load that recorded no exact boundary (started by an older Ferry).
     */
    async settleSnapshots(input: { migration: string; planId: string; slotName?: string }): Promise<{
      snapshots: number;
      skipBefore: Record<string, string>;
      reloaded: { table: string; rows: number }[];
      tolerantUntil?: string;
    }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan, catalog } = await planFor(targetConn, m.name, input.planId);
        const bounds = await snapshotBoundaries(targetConn, m.name, input.planId);
        // The snapshots each table's segments were read under; undefined: not every segment is done
        // (a reload below died half way).
        const readBy = new Map<string, Set<string> | undefined>();
        const rewritten = new Set<string>();
        for (const table of plan.tables) {
          const rows = await segmentRows(targetConn, m.name, table);
          if (rows.some((r) => r.state === 'done' && r.rewritten)) rewritten.add(tableKey(table));
          const complete = rows.length > 0 && rows.every((r) => r.state === 'done' && r.snapshot);
          readBy.set(tableKey(table), complete ? new Set(rows.map((r) => r.snapshot!)) : undefined);
        }
        const used = new Set([...readBy.values()].flatMap((x) => [...(x ?? [])]));
        const result: {
          snapshots: number;
          skipBefore: Record<string, string>;
          reloaded: { table: string; rows: number }[];
          tolerantUntil?: string;
        } = { snapshots: used.size, skipBefore: {}, reloaded: [] };
        const slotName = input.slotName;
        const settleBoundaries = async (): Promise<void> => {
          // Without CDC nothing depends on which snapshot a table was read under (see above). With CDC,
          // even one snapshot may not be the slot's: its first holder died before any copy used it.
          if (!slotName) return;
          if ([...used].some((id) => !bounds.get(id)?.exact)) {
            if (used.size <= 1) return;
            // Exported before boundaries were recorded: only the idempotent catch-up (keyed tables) is left.
            const current = await currentSnapshot(targetConn, m.name, input.planId);
            if (current?.consistentLsn) result.tolerantUntil = current.consistentLsn;
            return;
          }
          const slot = await slotInfo(sourceConn, slotName);
          if (!slot?.confirmedFlushLsn) {
            throw new FerryError(
              ErrorType.REPLICATION_NOT_READY,
              `slot ${slotName} of ${m.name} is gone from the source: CDC cannot follow this load; start the migration again`,
            );
          }
          // Nothing streamed from the slot yet: its confirmed position is its snapshot's boundary.
          const slotLsn = slot.confirmedFlushLsn;
          const boundaries = new Set([slotLsn, ...[...used].map((id) => bounds.get(id)?.lsn ?? '')]);
          result.snapshots = boundaries.size;
          // Most loads: every table read in full under the slot's own snapshot, nothing to settle.
          if (boundaries.size === 1 && [...readBy.values()].every((r) => r !== undefined)) return;
          const snap = await snapshotFor(targetConn, m.name, input.planId);
          let step = '';
          await withHeartbeat(
            hbMs,
            () => ({ step }),
            async (signal) => {
              for (const table of plan.tables) {
                const key = tableKey(table);
                if (rewritten.has(key)) continue; // copied again below, under a later snapshot
                const read = readBy.get(key);
                // A table no segment of which was planned (no rows at all) has nothing to settle.
                if (read === undefined && !(await segmentRows(targetConn, m.name, table)).length) continue;
                let ids = [...(read ?? [])];
                if (read === undefined || ids.length > 1) {
                  step = `reloading ${key} under snapshot ${snap.snapshotId}`;
                  const { rows, rewritten: dirty } = await reloadTable(
                    sourceConn,
                    targetConn,
                    m.name,
                    catalog,
                    table,
                    snap.snapshotId,
                    signal,
                  );
                  result.reloaded.push({ table: key, rows });
                  if (dirty) rewritten.add(key); // truncated since this snapshot too: again below
                  ids = [snap.snapshotId];
                }
                const lsn =
                  bounds.get(ids[0])?.lsn ?? (ids[0] === snap.snapshotId ? snap.consistentLsn : undefined);
                if (lsn && compareLsn(lsn, slotLsn) > 0) result.skipBefore[key] = lsn;
              }
            },
          );
        };
        await settleBoundaries();

        // Tables truncated or rewritten on the source after the snapshot their copy read: copied again
        // under a fresh snapshot (exact, from a temporary slot, under CDC), until one copy sees no
        // rewrite. CDC skips, for each, what that copy holds.
        let again = plan.tables.filter((t) => rewritten.has(tableKey(t)));
        for (let round = 1; again.length; round++) {
          const names = again.map(tableKey);
          if (round > 5) {
            throw new FerryError(
              ErrorType.DATABASE_ERROR,
              `${names.join(', ')} were truncated or rewritten on the source during each of 5 copies; pause ` +
                'what truncates them (TRUNCATE, ALTER TABLE ... rewriting it) until the load is done; retrying',
            );
          }
          const tmp = slotName ? `${slotName.slice(0, 44)}_r${Date.now().toString(36)}` : undefined;
          again = await withHeartbeat(
            hbMs,
            () => ({ step: `copying ${names.join(', ')} again (truncated on the source during the load)` }),
            (signal) =>
              engineWithSnapshot(sourceConn, { temporarySlot: tmp }, async (snap) => {
                const redo: TablePlan[] = [];
                for (const table of again) {
                  const key = tableKey(table);
                  const { rows, rewritten: dirty } = await reloadTable(
                    sourceConn,
                    targetConn,
                    m.name,
                    catalog,
                    table,
                    snap.snapshotId,
                    signal,
                  );
                  result.reloaded.push({ table: key, rows });
                  if (slotName && snap.consistentLsn) result.skipBefore[key] = snap.consistentLsn;
                  if (dirty) redo.push(table);
                }
                return redo;
              }),
          );
        }
        return result;
      }, input.migration);
    },

    async syncSequences(input: { migration: string; planId: string }): Promise<{ sequences: number }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan } = await planFor(targetConn, m.name, input.planId);
        const r = await engineSyncSequences(sourceConn, targetConn, plan);
        return { sequences: r.sequences };
      }, input.migration);
    },
  };
}

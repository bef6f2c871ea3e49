// The whole full load in one process, without Temporal: snapshot → pre-data → segments copied by a
// bounded pool → post-data → sequences → snapshot released. Used by tests and by the benchmark as the
// engine-only path; the Temporal workflow calls the same steps one activity at a time.
import type { CatalogTable, Finding, MigrationPlan, SourceCatalog, TablePlan } from '../../mapping/types';
import type { PgConnInfo } from '../connection';
import { displayName } from '../ident';
import {
  ensureControlTables,
  recordSegments,
  recordedSegments,
  resetTableLoad,
  setTableState,
  tableStates,
} from './control';
import { type CopySegmentResult, copySegment, copySessions } from './copy';
import { relKey } from './introspect';
import { Sessions, runPool } from './pool';
import { type PostDataReport, createPostData } from './post-data';
import { type PreDataReport, createPreData } from './schema';
import { type Segment, planSegments } from './segments';
import { type SequenceReport, syncSequences } from './sequences';
import { type ExportedSnapshot, dropSlot, holdSnapshot } from './snapshot';
import { filterSql } from './sql';

export interface FullLoadLocalOptions {
  /** Names this load in the control tables: a rerun with the same name resumes it. */
  migration: string;
  source: PgConnInfo;
  target: PgConnInfo;
  plan: MigrationPlan;
  catalog: SourceCatalog;
  /** Segments copied at once (and post-data sessions, unless postDataConcurrency is given). */
  concurrency: number;
  postDataConcurrency?: number;
  /** ANALYZE the target tables after post-data (see PostDataOptions.analyze); default false. */
  analyze?: boolean;
  /** Create this logical slot with the snapshot (for CDC afterwards); kept on success, dropped on failure. */
  slotName?: string;
  /** Read under the snapshot of a temporary slot of this name: its exact WAL boundary (see holdSnapshot). */
  temporarySlot?: string;
  onEvent?: (e: FullLoadEvent) => void;
  signal?: AbortSignal;
}

export type FullLoadEvent =
  | { type: 'snapshot'; snapshot: ExportedSnapshot }
  | { type: 'pre-data'; seconds: number; tables: number }
  | { type: 'segments'; table: string; segments: number }
  | { type: 'progress'; table: string; segment: number; rows: number; bytes: number }
  | ({ type: 'segment-done'; table: string; segment: number; total: number } & CopySegmentResult)
  | { type: 'table-loaded'; table: string; rows: number; bytes: number; seconds: number }
  | { type: 'post-data'; step: string; table: string; name: string; seconds: number }
  | { type: 'sequences'; sequences: number }
  | { type: 'done'; seconds: number };

export interface TableLoadResult {
  /** `schema.table` for people. */
  source: string;
  target: string;
  rows: number;
  bytes: number;
  /** From the first segment's start to the last one's end. */
  seconds: number;
  segments: number;
  /** Segments a previous run had already loaded. */
  skippedSegments: number;
  format: 'binary' | 'text';
  formatReason?: string;
  truncated: Record<string, number>;
  /** Loaded completely by an earlier run under this migration name: not copied again. */
  skipped?: 'already-loaded';
}

export interface FullLoadReport {
  migration: string;
  snapshot: ExportedSnapshot;
  preData: PreDataReport;
  tables: TableLoadResult[];
  postData: PostDataReport;
  sequences: SequenceReport;
  /** Everything an operator should read: pre-data, segments, LOB truncation, text fallback, post-data, sequences. */
  findings: Finding[];
  rows: number;
  bytes: number;
  seconds: number;
  timings: { snapshot: number; preData: number; copy: number; postData: number; sequences: number };
}

/**
 * Run the whole full load of `plan` in this process. The snapshot is held until every segment is
 * copied. Resumable under the same `migration`: tables an earlier run loaded completely are kept and
 * not copied again; a table it left half loaded was read under that run's snapshot, which is gone, so
 * it is emptied and copied again whole (resetTableLoad) rather than mixing two snapshots in one table.
 * That suits a full load only: after a run that created a slot for CDC, a new load needs a new slot
 * and every table again (dropSlot, forgetLoad, DROP_AND_CREATE or TRUNCATE_BEFORE_LOAD).
 * On failure the snapshot is released, a slot created here is dropped (its snapshot is gone with it,
 * and a leaked slot keeps WAL forever), and the error is rethrown.
 */
export async function runFullLoadLocal(opts: FullLoadLocalOptions): Promise<FullLoadReport> {
  const t0 = Date.now();
  const since = (t: number) => (Date.now() - t) / 1000;
  const emit = (e: FullLoadEvent) => opts.onEvent?.(e);
  await ensureControlTables(opts.target);

  const holder = new AbortController();
  const stop = () => holder.abort();
  opts.signal?.addEventListener('abort', stop, { once: true });
  let ready: (s: ExportedSnapshot) => void = () => undefined;
  const readyP = new Promise<ExportedSnapshot>((r) => (ready = r));
  const held = holdSnapshot(opts.source, {
    slotName: opts.slotName,
    temporarySlot: opts.temporarySlot,
    signal: holder.signal,
    onReady: ready,
  });
  held.catch(() => undefined);
  let slotCreated = false;
  try {
    const snapshot = await Promise.race([
      readyP,
      held.then(() => Promise.reject(new Error('snapshot holder ended before ready'))),
    ]);
    slotCreated = !!snapshot.slotName;
    const timings = { snapshot: since(t0), preData: 0, copy: 0, postData: 0, sequences: 0 };
    emit({ type: 'snapshot', snapshot });

    let t = Date.now();
    const preData = await createPreData({
      migration: opts.migration,
      source: opts.source,
      target: opts.target,
      plan: opts.plan,
      catalog: opts.catalog,
      snapshotId: snapshot.snapshotId,
    });
    timings.preData = since(t);
    emit({ type: 'pre-data', seconds: timings.preData, tables: preData.tables.length });

    t = Date.now();
    const findings: Finding[] = [...preData.findings];
    const tables = await loadTables(opts, snapshot, findings, held, emit);
    timings.copy = since(t);
    holder.abort();
    await held;

    t = Date.now();
    const postData = await createPostData({
      migration: opts.migration,
      source: opts.source,
      target: opts.target,
      plan: opts.plan,
      catalog: opts.catalog,
      concurrency: opts.postDataConcurrency ?? opts.concurrency,
      analyze: opts.analyze,
      signal: opts.signal,
      onEvent: (e) => emit(e),
    });
    timings.postData = since(t);
    findings.push(...postData.findings);

    t = Date.now();
    const sequences = await syncSequences(opts.source, opts.target, opts.plan);
    timings.sequences = since(t);
    findings.push(...sequences.findings);
    emit({ type: 'sequences', sequences: sequences.sequences });

    const seconds = since(t0);
    emit({ type: 'done', seconds });
    return {
      migration: opts.migration,
      snapshot,
      preData,
      tables,
      postData,
      sequences,
      findings,
      rows: tables.reduce((n, x) => n + x.rows, 0),
      bytes: tables.reduce((n, x) => n + x.bytes, 0),
      seconds,
      timings,
    };
  } catch (err) {
    holder.abort();
    await held.catch(() => undefined);
    if (slotCreated && opts.slotName) await dropSlot(opts.source, opts.slotName).catch(() => undefined);
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', stop);
  }
}

interface TableRun {
  plan: TablePlan;
  name: string;
  segments: Segment[];
  left: number;
  result: TableLoadResult;
  started?: number;
}

/** Plan (or reuse) every table's segments, then copy them all with a bounded pool, largest tables first. */
async function loadTables(
  opts: FullLoadLocalOptions,
  snapshot: ExportedSnapshot,
  findings: Finding[],
  held: Promise<void>,
  emit: (e: FullLoadEvent) => void,
): Promise<TableLoadResult[]> {
  const catalog = new Map(opts.catalog.tables.map((t) => [relKey(t.schema, t.name), t]));
  const ordered = [...opts.plan.tables].sort((a, b) => b.loadOrder - a.loadOrder || b.bytes - a.bytes);
  const runs: TableRun[] = ordered.map((plan) => ({
    plan,
    name: displayName(plan.source.schema, plan.source.name),
    segments: [],
    left: 0,
    result: {
      source: displayName(plan.source.schema, plan.source.name),
      target: displayName(plan.target.schema, plan.target.name),
      rows: 0,
      bytes: 0,
      seconds: 0,
      segments: 0,
      skippedSegments: 0,
      format: 'binary',
      truncated: {},
    },
  }));

  // Sessions kept open across segments and control updates (a handshake each would dominate small tables).
  const sessions = copySessions(opts.source, opts.target);
  try {
    return await copyTables(opts, snapshot, findings, held, emit, runs, catalog, sessions);
  } finally {
    await Promise.all([sessions.source.close(), sessions.target.close()]);
  }
}

async function copyTables(
  opts: FullLoadLocalOptions,
  snapshot: ExportedSnapshot,
  findings: Finding[],
  held: Promise<void>,
  emit: (e: FullLoadEvent) => void,
  runs: TableRun[],
  catalog: Map<string, CatalogTable>,
  sessions: { source: Sessions; target: Sessions },
): Promise<TableLoadResult[]> {
  const { source, target } = sessions;
  const states = await tableStates(target, opts.migration);
  await runPool(
    runs,
    opts.concurrency,
    async (run) => {
      const state = states.get(relKey(run.plan.source.schema, run.plan.source.name));
      if (state && (state.state === 'loaded' || state.state === 'completed')) {
        run.result.skipped = 'already-loaded';
        return;
      }
      const key = {
        migration: opts.migration,
        table: run.plan,
        filter: filterSql(run.plan.filter),
        snapshot: snapshot.snapshotId,
      };
      let segments = await recordedSegments(target, opts.migration, run.plan, snapshot.snapshotId);
      if (!segments && state?.snapshot && state.snapshot !== snapshot.snapshotId) {
        await resetTableLoad(target, opts.migration, run.plan);
      }
      if (!segments) {
        const cat = catalog.get(relKey(run.plan.source.schema, run.plan.source.name))!;
        segments = await planSegments(source, snapshot.snapshotId, run.plan, cat);
        await recordSegments(target, { ...key, segments });
      }
      for (const s of segments) {
        if (s.note) findings.push({ severity: 'warning', field: run.name, message: s.note });
      }
      run.segments = segments;
      run.left = segments.length;
      run.result.segments = segments.length;
      emit({ type: 'segments', table: run.name, segments: segments.length });
    },
    opts.signal,
  );

  // A holder that dies stops new copies at once (they could not import the snapshot anyway).
  const stopCopies = new AbortController();
  held.catch((err) => stopCopies.abort(err));
  const signal = opts.signal ? AbortSignal.any([opts.signal, stopCopies.signal]) : stopCopies.signal;
  const tasks = runs.flatMap((run) => run.segments.map((segment) => ({ run, segment })));
  await runPool(
    tasks,
    opts.concurrency,
    async ({ run, segment }) => {
      if (run.started === undefined) {
        run.started = Date.now();
        await setTableState(target, opts.migration, run.plan, 'loading', {
          snapshot: snapshot.snapshotId,
          segments: run.segments.length,
        });
      }
      const r = await copySegment({
        migration: opts.migration,
        source,
        target,
        snapshotId: snapshot.snapshotId,
        table: run.plan,
        segment,
        signal,
        onProgress: (p) => emit({ type: 'progress', table: run.name, segment: segment.index, ...p }),
      });
      emit({ type: 'segment-done', table: run.name, segment: segment.index, total: segment.total, ...r });
      const res = run.result;
      if (r.skipped) res.skippedSegments++;
      else {
        res.rows += r.rows;
        res.bytes += r.bytes;
        if (r.format === 'text') {
          res.format = 'text';
          res.formatReason = r.formatReason;
        }
        for (const [col, n] of Object.entries(r.truncated))
          res.truncated[col] = (res.truncated[col] ?? 0) + n;
      }
      if (--run.left === 0) {
        res.seconds = (Date.now() - run.started) / 1000;
        await tableLoaded(opts, target, run, snapshot, findings);
        emit({
          type: 'table-loaded',
          table: run.name,
          rows: res.rows,
          bytes: res.bytes,
          seconds: res.seconds,
        });
      }
    },
    signal,
  );
  return runs.map((r) => r.result);
}

async function tableLoaded(
  opts: FullLoadLocalOptions,
  target: Sessions,
  run: TableRun,
  snapshot: ExportedSnapshot,
  findings: Finding[],
): Promise<void> {
  const res = run.result;
  await setTableState(target, opts.migration, run.plan, 'loaded', {
    snapshot: snapshot.snapshotId,
    rows: res.rows,
    bytes: res.bytes,
  });
  for (const [col, n] of Object.entries(res.truncated)) {
    findings.push({
      severity: 'warning',
      field: `${run.name}.${col}`,
      message: `${n} value(s) of ${res.target}."${col}" exceeded the LOB limit (${run.plan.lob.maxBytes} bytes, limited LOB mode) and were truncated (json, jsonb and xml values set to NULL), as AWS DMS does`,
    });
  }
  if (res.format === 'text') {
    findings.push({
      severity: 'info',
      field: run.name,
      message: `${res.target} was copied in text format: ${res.formatReason}`,
    });
  }
}

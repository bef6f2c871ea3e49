// The native full load as workflows: `fullLoad` prepares the plan, holds one exported snapshot,
// creates the target schema, fans tables out to `loadTables` children (bounded history per child),
// then builds indexes/constraints and syncs sequences. Orchestration only.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  assessmentQuery,
  tableStatisticsQuery,
  FullLoadInput,
  FullLoadPhase,
  FullLoadStatus,
  fullLoadStatusQuery,
  LoadTablesInput,
  TableRef,
  TableStats,
  tableProgressSignal,
} from './definitions';
import { beforeLoad, FullLoadState, TABLE_STATES } from './full-load-state';
import { errorMessage, errorType, MIGRATION, PENDING_GATE, PHASE, retryPolicy } from './common';
import { assessmentGate, collectServerLogs, Runbook } from './runbook';
import { tableStatistics } from './table-stats';

type Activities = ReturnType<typeof createActivities>;

const retry = retryPolicy(10);

const quick = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', retry });
const long = (heartbeatTimeout: string) =>
  proxyActivities<Activities>({ startToCloseTimeout: '24 hours', heartbeatTimeout, retry });

/** Order DMS uses: higher load-order first; then largest first so the long pole starts early. */
export function orderTables(tables: TableRef[]): TableRef[] {
  return [...tables].sort(
    (a, b) => b.loadOrder - a.loadOrder || b.bytes - a.bytes || (a.key < b.key ? -1 : 1),
  );
}

/** Split into child batches, each holding at most `size` tables. */
export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function fullLoad(input: FullLoadInput): Promise<FullLoadStatus> {
  const state = new FullLoadState(input.migration);
  const now = () => new Date();
  const hb = input.heartbeatTimeout ?? '60 seconds';
  const phase = (p: FullLoadPhase) => {
    state.setPhase(p, now());
    upsertSearchAttributes([
      { key: PHASE, value: `full-load:${p}` },
      { key: PENDING_GATE, value: null },
    ]);
  };
  upsertSearchAttributes([{ key: MIGRATION, value: input.migration }]);
  setHandler(fullLoadStatusQuery, () => state.status);
  setHandler(assessmentQuery, () => state.status.assessment);
  setHandler(tableStatisticsQuery, () =>
    tableStatistics({ load: state.status.tables, validation: state.status.validation }),
  );
  setHandler(tableProgressSignal, (updates) => updates.forEach((u) => state.applyTableUpdate(u)));

  const holderScope = new CancellationScope();
  let holder: Promise<void> | undefined;
  // Under full-load-and-cdc the parent CDC workflow has assessed and holds the gates and audit trail.
  const rb = input.cdc ? undefined : new Runbook(input, state.status);
  try {
    if (rb) {
      await rb.begin({ recordStart: true });
      await assessmentGate(input, state.status, rb, phase);
    }
    phase('preparing');
    const prep = await quick.prepareFullLoad({ migration: input.migration, cdc: input.cdc });
    state.status.planId = prep.planId;
    state.setTables(prep.tables);
    for (const f of prep.findings) state.addFinding(f);

    phase('snapshot');
    // The exporting session must stay open while copies import its snapshot: a heartbeating
    // activity holds it, and is cancelled once every segment is in.
    holder = holderScope.run(() =>
      proxyActivities<Activities>({
        startToCloseTimeout: '30 days',
        heartbeatTimeout: hb,
        // The session is closed before post-data starts, and no completion arrives after the workflow ends.
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        // Unlimited attempts: a dead holder's retry exports a fresh snapshot for the remaining copies.
        retry: { ...retry, maximumAttempts: Number.POSITIVE_INFINITY },
      }).holdSnapshot({ migration: input.migration, planId: prep.planId, slotName: prep.cdc?.slotName }),
    );
    // A holder that ends (or cannot even start) must fail the wait, never leave it hanging.
    const holderEnded = holder.then(() => {
      throw ApplicationFailure.nonRetryable(
        'the snapshot holder ended before the snapshot was published',
        'SNAPSHOT_LOST',
      );
    });
    holderEnded.catch(() => undefined);
    const snap = await Promise.race([
      long(hb).waitForSnapshot({ migration: input.migration, planId: prep.planId }),
      holderEnded,
    ]);
    state.status.snapshot = snap;

    phase('pre-data');
    const pre = await long(hb).createPreData({ migration: input.migration, planId: prep.planId });
    for (const f of pre.findings) state.addFinding(f);

    phase('loading');
    const ordered = orderTables(prep.tables);
    const size = Math.max(1, input.tablesPerChild ?? 100);
    const parts = batches(ordered, size);
    for (let i = 0; i < parts.length; i++) {
      const results = await executeChild(loadTables, {
        workflowId: `${workflowInfo().workflowId}-tables-${i + 1}-of-${parts.length}`,
        args: [
          {
            migration: input.migration,
            planId: prep.planId,
            parentWorkflowId: workflowInfo().workflowId,
            tables: parts[i],
            concurrency: prep.concurrency,
            heartbeatTimeout: hb,
          },
        ],
      });
      // Signals may still be in flight: the child's result is authoritative.
      for (const r of results) {
        state.applyTableUpdate(r);
        if (r.truncatedLobs) {
          state.addFinding(
            `warning: ${r.source}: ${r.truncatedLobs} LOB value(s) truncated at LobMaxSize (limited LOB mode); ` +
              'set TargetMetadata.FullLobMode or raise LobMaxSize to copy them whole',
          );
        }
      }
      const failed = results.filter((r) => r.state === TABLE_STATES.error);
      if (failed.length) {
        throw ApplicationFailure.nonRetryable(
          `${failed.length} table(s) failed to load: ${failed
            .slice(0, 5)
            .map((f) => `${f.source}: ${f.error}`)
            .join('; ')}`,
          'LOAD_FAILED',
        );
      }
    }
    if (patched('exact-snapshots')) {
      // Which snapshot each table was read under (the holder may have restarted): see settleSnapshots.
      const settled = await long(hb).settleSnapshots({
        migration: input.migration,
        planId: prep.planId,
        slotName: prep.cdc?.slotName,
      });
      const moved = Object.keys(settled.skipBefore);
      if (prep.cdc) {
        state.status.cdc = {
          planId: prep.planId,
          ...prep.cdc,
          ...(moved.length && { skipBefore: settled.skipBefore }),
          ...(settled.tolerantUntil && { tolerantUntil: settled.tolerantUntil }),
        };
        const reloaded = settled.reloaded.map((r) => `${r.table} (${r.rows} rows)`).join(', ');
        const parts = [
          ...(settled.snapshots > 1
            ? [`the snapshot holder restarted (${settled.snapshots} snapshots)`]
            : []),
          ...(settled.tolerantUntil
            ? [`CDC replays from slot ${prep.cdc.slotName} idempotently up to ${settled.tolerantUntil}`]
            : []),
          ...(moved.length
            ? [
                `${moved.length} table(s) were read under a later snapshot than slot ${prep.cdc.slotName}'s; CDC ` +
                  'skips, for each, exactly the transactions its copy already holds',
              ]
            : []),
          ...(reloaded
            ? [
                'copied again whole (their segments read different snapshots, or the source truncated them ' +
                  `during the load): ${reloaded}`,
              ]
            : []),
        ];
        if (parts.length) state.addFinding(`info: ${parts.join('; ')}`);
      } else if (settled.snapshots > 1) {
        state.addFinding(
          `warning: the snapshot holder restarted (${settled.snapshots} snapshots): segments copied after a restart ` +
            'read a later point in time than those before, so a source written to during the load is not copied as ' +
            'of one instant; rerun the load on a quiet source, or use full-load-and-cdc, which settles it exactly',
        );
      }
      if (!prep.cdc && settled.reloaded.length) {
        state.addFinding(
          `warning: truncated on the source during the load, so copied again under a later snapshot: ` +
            settled.reloaded.map((r) => `${r.table} (${r.rows} rows)`).join(', '),
        );
      }
    } else {
      const { snapshots, consistentLsn } = await quick.snapshotCount({
        migration: input.migration,
        planId: prep.planId,
      });
      if (prep.cdc) {
        state.status.cdc = {
          planId: prep.planId,
          ...prep.cdc,
          // The slot still sits at the first snapshot's point; later snapshots saw more, up to here.
          ...(snapshots > 1 && consistentLsn && { tolerantUntil: consistentLsn }),
        };
        if (snapshots > 1) {
          state.addFinding(
            `info: the snapshot holder restarted (${snapshots} snapshots): CDC replays from slot ` +
              `${prep.cdc.slotName} idempotently up to ${consistentLsn}, so the target converges on the source`,
          );
        }
      } else if (snapshots > 1) {
        state.addFinding(
          `warning: the snapshot holder restarted (${snapshots} snapshots): segments copied after a restart read ` +
            'a later point in time than those before, so a source written to during the load is not copied as of ' +
            'one instant; rerun the load on a quiet source, or use full-load-and-cdc, whose catch-up converges',
        );
      }
    }
    // Every segment is in: release the snapshot, and build indexes meanwhile (post-data does not
    // read it). The holder notices on its next heartbeat; it is awaited before the workflow ends.
    holderScope.cancel();
    const released = holder.catch((e) => {
      if (!isCancellation(e)) state.addFinding(`snapshot holder ended with: ${errorMessage(e)}`);
    });

    phase('post-data');
    const post = await long(hb).createPostData({ migration: input.migration, planId: prep.planId });
    for (const f of post.findings) state.addFinding(f);

    phase('sequences');
    const seq = await quick.syncSequences({ migration: input.migration, planId: prep.planId });
    state.status.postData = {
      indexes: post.indexes,
      constraints: post.constraints,
      sequences: seq.sequences,
    };
    state.addFinding(
      `AWS DMS creates neither secondary indexes nor sequences; Ferry created ${post.indexes} indexes, ` +
        `${post.constraints} constraints and set ${seq.sequences} sequences`,
    );
    await released;
    if (!input.cdc) {
      // Under full-load-and-cdc validation runs while CDC streams (the rows keep changing).
      phase('validation');
      const v = await long(hb).validateData({
        migration: input.migration,
        planId: prep.planId,
        mode: 'full',
      });
      state.status.validation = v;
      if (v.enabled && v.mismatches > 0) {
        state.addFinding(
          `warning: validation found ${v.mismatches} mismatched row(s) in ` +
            `${v.tables.filter((t) => t.mismatched > 0).length} table(s): \`ferry validate ${input.migration}\` lists them`,
        );
      }
    }
    await rb?.audit.flush();
    if (rb) await collectServerLogs(input.migration, state.status);
    phase('completed');
    return state.status;
  } catch (err) {
    holderScope.cancel();
    await rb?.audit.flush();
    if (rb) await collectServerLogs(input.migration, state.status);
    state.status.error = errorMessage(err);
    phase('failed');
    throw ApplicationFailure.nonRetryable(
      `full load of ${input.migration} failed: ${errorMessage(err)}`,
      errorType(err) ?? 'LOAD_FAILED',
      state.status,
    );
  }
}

/**
 * Load a batch of tables: plan each table's segments, copy segments with bounded concurrency,
 * report each finished table to the parent. Returns the batch's statistics.
 */
export async function loadTables(input: LoadTablesInput): Promise<TableStats[]> {
  const acts = long(input.heartbeatTimeout);
  const parent = getExternalWorkflowHandle(input.parentWorkflowId);
  const stats = new Map<string, TableStats>();
  for (const t of input.tables) stats.set(t.key, beforeLoad(t));
  type Task = { kind: 'plan'; table: TableRef } | { kind: 'copy'; table: TableRef; segment: number };
  const queue: Task[] = input.tables.map((table) => ({ kind: 'plan', table }));
  const remaining = new Map<string, number>();

  let pending: TableStats[] = [];
  let lastSent = Date.now();
  const finishTable = async (key: string, error?: string) => {
    const s = stats.get(key)!;
    s.state = error ? TABLE_STATES.error : TABLE_STATES.completed;
    s.finishedAt = new Date().toISOString();
    if (s.startedAt) s.seconds = (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000;
    if (error) s.error = error;
    pending.push({ ...s });
    // Batched: each signal costs the parent a few history events.
    if (pending.length >= 10 || Date.now() - lastSent >= 5000) {
      const batch = pending;
      pending = [];
      lastSent = Date.now();
      await parent.signal(tableProgressSignal, batch).catch(() => undefined);
    }
  };

  const lane = async () => {
    for (;;) {
      const task = queue.shift();
      if (!task) return;
      const s = stats.get(task.table.key)!;
      if (s.state === TABLE_STATES.error) continue;
      try {
        if (task.kind === 'plan') {
          s.state = TABLE_STATES.loading;
          s.startedAt = new Date().toISOString();
          const planned = await acts.planTableSegments({
            migration: input.migration,
            planId: input.planId,
            table: task.table.key,
          });
          s.segments = planned.segments;
          remaining.set(task.table.key, planned.segments);
          if (planned.segments === 0) await finishTable(task.table.key);
        } else {
          const r = await acts.copySegment({
            migration: input.migration,
            planId: input.planId,
            table: task.table.key,
            segment: task.segment,
          });
          s.rows += r.rows;
          s.bytes += r.bytes;
          s.segmentsDone++;
          if (r.truncated) s.truncatedLobs = (s.truncatedLobs ?? 0) + r.truncated;
          const left = remaining.get(task.table.key)! - 1;
          remaining.set(task.table.key, left);
          if (left === 0) await finishTable(task.table.key);
        }
      } catch (err) {
        await finishTable(task.table.key, errorMessage(err));
      }
    }
  };
  const lanes = () => Promise.all(Array.from({ length: Math.max(1, input.concurrency) }, () => lane()));
  // Plan every table of the batch first, then copy segments largest table first: the big table's
  // segments start together instead of waiting behind small tables' plans and copies.
  await lanes();
  for (const table of input.tables) {
    for (let segment = 0; segment < (remaining.get(table.key) ?? 0); segment++) {
      queue.push({ kind: 'copy', table, segment });
    }
  }
  await lanes();
  return [...stats.values()];
}

// Replication tasks: create or adopt by identifier with the same table-mapping and task-settings JSON the
// native engine reads, start / resume / reload-target, stop, describe (status, stop reason, stats),
// wait for a status with failure stop reasons turned into errors that name them, table statistics in
// Ferry's shape, reload tables, delete.
import {
  CreateReplicationTaskCommand,
  type DatabaseMigrationServiceClient,
  DeleteReplicationTaskCommand,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  type DescribeTableStatisticsCommandOutput,
  ReloadTablesCommand,
  type ReloadTablesCommandOutput,
  type ReplicationTask,
  type ReplicationTaskStats,
  StartReplicationTaskCommand,
  type StartReplicationTaskCommandInput,
  type StartReplicationTaskTypeValue,
  StopReplicationTaskCommand,
  type TableStatistics as DmsTableStatistics,
} from '@aws-sdk/client-database-migration-service';
import type { TableStatistics } from '../workflows/definitions';
import { DmsError, DmsErrorType, awsErrorName, isAlreadyExists, isNotFound } from './errors';
import { type EnsureResult, busyIfInvalidState } from './instance';
import { type DeleteOptions, type DeleteResult, createdByFerry, refuseDelete } from './ownership';
import { replicationTaskRequest } from './requests';
import { findOne, type RetryOptions, type WaitOptions, poll, withRetry } from './retry';
import type { FerryTagInfo, ReplicationTaskSpec } from './spec';

export interface TaskArns {
  replicationInstanceArn: string;
  sourceEndpointArn: string;
  targetEndpointArn: string;
}

export async function findReplicationTask(
  dms: DatabaseMigrationServiceClient,
  identifier: string,
  retry?: RetryOptions,
): Promise<ReplicationTask | undefined> {
  return describeTaskBy(dms, 'replication-task-id', identifier, retry);
}

async function describeTaskBy(
  dms: DatabaseMigrationServiceClient,
  filter: 'replication-task-id' | 'replication-task-arn',
  value: string,
  retry?: RetryOptions,
): Promise<ReplicationTask | undefined> {
  return findOne(
    () =>
      dms.send(
        new DescribeReplicationTasksCommand({
          Filters: [{ Name: filter, Values: [value] }],
          // The mapping and settings can be large; status and stats are what is needed here.
          WithoutSettings: true,
        }),
      ),
    (out) => out.ReplicationTasks?.[0],
    retry,
  );
}

/**
 * Create the task, or adopt the one with the same identifier. An adopted task must use the same
 * instance and endpoints (else CONFIG_INVALID: it would move other data); a different migration type
 * is reported as drift.
 */
export async function ensureReplicationTask(
  dms: DatabaseMigrationServiceClient,
  spec: ReplicationTaskSpec,
  arns: TaskArns,
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<EnsureResult> {
  const request = replicationTaskRequest(spec, arns, tags); // validates JSON and type before any call
  const existing = await findReplicationTask(dms, spec.identifier, retry);
  if (existing) return adoptTask(dms, existing, spec, arns, tags, retry);
  try {
    const out = await dms.send(new CreateReplicationTaskCommand(request));
    const arn = out.ReplicationTask?.ReplicationTaskArn;
    if (!arn) throw new DmsError(DmsErrorType.DMS_REQUEST_FAILED, 'CreateReplicationTask returned no ARN');
    return { arn, created: true, existed: false, drift: [] };
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const found = await findReplicationTask(dms, spec.identifier, retry);
    if (!found) throw err;
    return adoptTask(dms, found, spec, arns, tags, retry);
  }
}

async function adoptTask(
  dms: DatabaseMigrationServiceClient,
  task: ReplicationTask,
  spec: ReplicationTaskSpec,
  arns: TaskArns,
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<EnsureResult> {
  const arn = task.ReplicationTaskArn;
  if (!arn) throw new DmsError(DmsErrorType.DMS_REQUEST_FAILED, `task ${spec.identifier} has no ARN`);
  const wrong = [
    ['replication instance', arns.replicationInstanceArn, task.ReplicationInstanceArn],
    ['source endpoint', arns.sourceEndpointArn, task.SourceEndpointArn],
    ['target endpoint', arns.targetEndpointArn, task.TargetEndpointArn],
  ].filter(([, want, have]) => have !== undefined && want !== have);
  if (wrong.length)
    throw new DmsError(
      DmsErrorType.DMS_REQUEST_FAILED,
      `replication task ${spec.identifier} exists but uses another ` +
        wrong.map(([what, want, have]) => `${what} (${have}, not ${want})`).join(', ') +
        ": give Ferry's task another identifier or delete the old task",
      { details: { arn } },
    );
  if (task.Status === 'deleting')
    throw new DmsError(
      DmsErrorType.DMS_RESOURCE_BUSY,
      `replication task ${spec.identifier} is being deleted`,
      {
        details: { arn },
      },
    );
  const drift: string[] = [];
  if (task.MigrationType && task.MigrationType !== spec.migrationType)
    drift.push(`migrationType: ${task.MigrationType} != ${spec.migrationType}`);
  const created = await createdByFerry(dms, arn, tags.migration, retry);
  return { arn, created, existed: true, drift };
}

// ---- status -------------------------------------------------------------------------------------

/** Stop reasons that mean the task failed (the others are a normal or requested stop). */
export const FAILURE_STOP_REASONS = [
  'RECOVERABLE_ERROR',
  'FATAL_ERROR',
  'STOPPED_DUE_TO_LOW_MEMORY',
  'STOPPED_DUE_TO_LOW_DISK',
  'EXPRESS_LICENSE_LIMITS_REACHED',
] as const;

/** `Stop Reason FATAL_ERROR` → `FATAL_ERROR`; undefined when there is none. */
export function stopReasonCode(stopReason: string | undefined): string | undefined {
  if (!stopReason) return undefined;
  const m = /([A-Z][A-Z_]+)\s*$/.exec(stopReason.trim());
  return m ? m[1] : stopReason.trim();
}

export interface TaskView {
  arn: string;
  identifier?: string;
  /** DMS status: creating, ready, starting, running, stopping, stopped, failed, deleting, modifying... */
  status: string;
  migrationType?: string;
  /** As DMS reports it (`Stop Reason FULL_LOAD_ONLY_FINISHED`). */
  stopReason?: string;
  /** The code alone (`FULL_LOAD_ONLY_FINISHED`). */
  stopReasonCode?: string;
  lastFailureMessage?: string;
  stats?: TaskStatsView;
  /** True when the task failed (status failed, or stopped with a failure stop reason). */
  failed: boolean;
}

/** ReplicationTaskStats, JSON-safe (dates as ISO strings) for heartbeats and workflow state. */
export interface TaskStatsView {
  fullLoadProgressPercent?: number;
  elapsedTimeMillis?: number;
  tablesLoaded?: number;
  tablesLoading?: number;
  tablesQueued?: number;
  tablesErrored?: number;
  freshStartDate?: string;
  startDate?: string;
  stopDate?: string;
  fullLoadStartDate?: string;
  fullLoadFinishDate?: string;
}

function iso(d: Date | undefined): string | undefined {
  return d ? d.toISOString() : undefined;
}

function statsView(s: ReplicationTaskStats | undefined): TaskStatsView | undefined {
  if (!s) return undefined;
  const v: TaskStatsView = {
    fullLoadProgressPercent: s.FullLoadProgressPercent,
    elapsedTimeMillis: s.ElapsedTimeMillis,
    tablesLoaded: s.TablesLoaded,
    tablesLoading: s.TablesLoading,
    tablesQueued: s.TablesQueued,
    tablesErrored: s.TablesErrored,
    freshStartDate: iso(s.FreshStartDate),
    startDate: iso(s.StartDate),
    stopDate: iso(s.StopDate),
    fullLoadStartDate: iso(s.FullLoadStartDate),
    fullLoadFinishDate: iso(s.FullLoadFinishDate),
  };
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as TaskStatsView;
}

export function taskView(t: ReplicationTask): TaskView {
  const code = stopReasonCode(t.StopReason);
  const status = t.Status ?? 'unknown';
  const failed =
    status === 'failed' ||
    (status === 'stopped' &&
      code !== undefined &&
      (FAILURE_STOP_REASONS as readonly string[]).includes(code));
  return {
    arn: t.ReplicationTaskArn ?? '',
    ...(t.ReplicationTaskIdentifier && { identifier: t.ReplicationTaskIdentifier }),
    status,
    ...(t.MigrationType && { migrationType: t.MigrationType }),
    ...(t.StopReason && { stopReason: t.StopReason }),
    ...(code && { stopReasonCode: code }),
    ...(t.LastFailureMessage && { lastFailureMessage: t.LastFailureMessage }),
    ...(t.ReplicationTaskStats && { stats: statsView(t.ReplicationTaskStats) }),
    failed,
  };
}

/** The error a failed task is reported with: names the stop reason and DMS's last failure message. */
export function taskFailure(v: TaskView): DmsError {
  return new DmsError(
    DmsErrorType.DMS_TASK_FAILED,
    `replication task ${v.identifier ?? v.arn} ${v.status}` +
      (v.stopReasonCode ? ` with stop reason ${v.stopReasonCode}` : '') +
      `: ${v.lastFailureMessage ?? 'DMS gave no failure message'}` +
      (v.stats?.tablesErrored ? ` (${v.stats.tablesErrored} table(s) errored)` : '') +
      '. The task log in CloudWatch (dms-tasks-<instance>) has the details; fix the cause, then resume-processing or reload-target.',
    {
      details: {
        arn: v.arn,
        status: v.status,
        stopReason: v.stopReasonCode,
        lastFailureMessage: v.lastFailureMessage,
      },
    },
  );
}

export async function describeReplicationTask(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  retry?: RetryOptions,
): Promise<TaskView> {
  const t = await describeTaskBy(dms, 'replication-task-arn', arn, retry);
  if (!t)
    throw new DmsError(DmsErrorType.DMS_RESOURCE_NOT_FOUND, `replication task ${arn} does not exist`, {
      details: { arn },
    });
  return taskView(t);
}

/**
 * Wait until `until` holds (a status list, or a predicate over the view). A failed task ends the wait
 * with taskFailure (naming StopReason and LastFailureMessage) unless `until` accepts it.
 */
export async function waitTaskStatus(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  until: readonly string[] | ((v: TaskView) => boolean),
  opts: WaitOptions = {},
): Promise<TaskView> {
  const done = typeof until === 'function' ? until : (v: TaskView) => until.includes(v.status);
  return poll<TaskView, TaskView>(
    `replication task ${arn}`,
    () => describeReplicationTask(dms, arn, opts.retry),
    (v) => {
      if (done(v)) return { done: v };
      if (v.failed) throw taskFailure(v);
      if (v.status === 'deleting')
        throw new DmsError(
          DmsErrorType.DMS_RESOURCE_FAILED,
          `replication task ${v.identifier ?? arn} is being deleted`,
        );
      return {
        status: v.status,
        detail: {
          ...(v.stats?.fullLoadProgressPercent !== undefined && { percent: v.stats.fullLoadProgressPercent }),
          ...(v.stats?.tablesLoaded !== undefined && { tablesLoaded: v.stats.tablesLoaded }),
          ...(v.stats?.tablesLoading !== undefined && { tablesLoading: v.stats.tablesLoading }),
          ...(v.stats?.tablesQueued !== undefined && { tablesQueued: v.stats.tablesQueued }),
        },
      };
    },
    opts,
  );
}

/**
 * True once the full load is over: a full-load task stopped with FULL_LOAD_ONLY_FINISHED (or a requested
 * stop after full load), a full-load-and-cdc task running with nothing loading or queued at 100 %.
 */
export function fullLoadFinished(v: TaskView): boolean {
  if (v.failed) return false;
  if (v.status === 'stopped')
    return ['FULL_LOAD_ONLY_FINISHED', 'STOPPED_AFTER_FULL_LOAD', 'STOPPED_AFTER_CACHED_EVENTS'].includes(
      v.stopReasonCode ?? '',
    );
  const s = v.stats;
  return (
    v.status === 'running' &&
    s?.fullLoadProgressPercent === 100 &&
    (s.tablesLoading ?? 0) === 0 &&
    (s.tablesQueued ?? 0) === 0
  );
}

// ---- start / stop -------------------------------------------------------------------------------

export interface StartOptions {
  cdcStartPosition?: string;
  cdcStopPosition?: string;
  retry?: RetryOptions;
}

export interface StartResult {
  /** false when the start was a no-op (already running/starting, or already started once). */
  started: boolean;
  status: string;
}

/**
 * Start, resume or reload the task. Idempotent for a retried activity: `start-replication` on a task
 * already started (running, starting, or stopped after a start) does nothing, since DMS allows it only
 * for the first start; resume/reload on a running task do nothing either.
 */
export async function startReplicationTask(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  type: StartReplicationTaskTypeValue,
  opts: StartOptions = {},
): Promise<StartResult> {
  const t = await describeTaskBy(dms, 'replication-task-arn', arn, opts.retry);
  if (!t) throw new DmsError(DmsErrorType.DMS_RESOURCE_NOT_FOUND, `replication task ${arn} does not exist`);
  const status = t.Status ?? 'unknown';
  if (status === 'running' || status === 'starting') return { started: false, status };
  if (type === 'start-replication' && (t.ReplicationTaskStartDate || t.ReplicationTaskStats?.FreshStartDate))
    return { started: false, status };
  if (!['ready', 'stopped', 'failed'].includes(status))
    throw new DmsError(
      DmsErrorType.DMS_RESOURCE_BUSY,
      `replication task ${t.ReplicationTaskIdentifier ?? arn} is ${status}; it can start once ready or stopped`,
      { details: { arn, status } },
    );
  const input: StartReplicationTaskCommandInput = {
    ReplicationTaskArn: arn,
    StartReplicationTaskType: type,
    ...(opts.cdcStartPosition && { CdcStartPosition: opts.cdcStartPosition }),
    ...(opts.cdcStopPosition && { CdcStopPosition: opts.cdcStopPosition }),
  };
  const out = await dms.send(new StartReplicationTaskCommand(input));
  return { started: true, status: out.ReplicationTask?.Status ?? 'starting' };
}

/** Stop the task; a task not running (ready, stopped, stopping, failed) is left as it is. */
export async function stopReplicationTask(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  retry?: RetryOptions,
): Promise<StartResult> {
  const t = await describeTaskBy(dms, 'replication-task-arn', arn, retry);
  if (!t) return { started: false, status: 'gone' };
  const status = t.Status ?? 'unknown';
  if (status !== 'running' && status !== 'starting') return { started: false, status };
  try {
    const out = await dms.send(new StopReplicationTaskCommand({ ReplicationTaskArn: arn }));
    return { started: true, status: out.ReplicationTask?.Status ?? 'stopping' };
  } catch (err) {
    // Stopped in between (it finished, or another attempt stopped it): that is the goal.
    if (awsErrorName(err) === 'InvalidResourceStateFault') return { started: false, status: 'stopping' };
    throw err;
  }
}

/**
 * Delete the task if Ferry created it; a running task is stopped and awaited first (DMS deletes only
 * stopped, ready or failed tasks).
 */
export async function deleteReplicationTask(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  opts: DeleteOptions & { wait?: WaitOptions },
): Promise<DeleteResult> {
  const refused = await refuseDelete(dms, arn, opts);
  if (refused) return refused;
  const t = await describeTaskBy(dms, 'replication-task-arn', arn, opts.retry);
  if (!t) return { deleted: false, reason: 'already gone' };
  if (t.Status === 'running' || t.Status === 'starting' || t.Status === 'stopping') {
    await stopReplicationTask(dms, arn, opts.retry);
    await waitTaskStatus(
      dms,
      arn,
      (v) => ['stopped', 'failed', 'ready'].includes(v.status) || v.failed,
      opts.wait,
    );
  }
  try {
    await dms.send(new DeleteReplicationTaskCommand({ ReplicationTaskArn: arn }));
    return { deleted: true };
  } catch (err) {
    if (isNotFound(err)) return { deleted: false, reason: 'already gone' };
    throw busyIfInvalidState(err, `replication task ${arn}`);
  }
}

// ---- table statistics -----------------------------------------------------------------------------

/** Ferry's per-table statistics plus the DMS-only facts. */
export interface DmsTableStatisticsView extends TableStatistics {
  tableState?: string;
  fullLoadReloaded?: boolean;
  fullLoadStartTime?: string;
  fullLoadEndTime?: string;
  validationPending?: number;
  validationFailed?: number;
  validationSuspended?: number;
}

/** `schema.table` for people, quoting only what needs it (the rule of Ferry's table keys). */
export function tableKey(schema: string, table: string): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return `${part(schema)}.${part(table)}`;
}

export function mapTableStatistics(
  s: DmsTableStatistics,
  targets: Record<string, string> = {},
): DmsTableStatisticsView {
  const table = tableKey(s.SchemaName ?? '', s.TableName ?? '');
  const v: DmsTableStatisticsView = {
    table,
    target: targets[table] ?? table,
    inserts: s.Inserts ?? 0,
    updates: s.Updates ?? 0,
    deletes: s.Deletes ?? 0,
    ddls: s.Ddls ?? 0,
    fullLoadRows: s.FullLoadRows ?? 0,
    validationState: s.ValidationState ?? 'Not enabled',
    lastUpdateTime: iso(s.LastUpdateTime),
    tableState: s.TableState,
    fullLoadReloaded: s.FullLoadReloaded,
    fullLoadStartTime: iso(s.FullLoadStartTime),
    fullLoadEndTime: iso(s.FullLoadEndTime),
    validationPending: s.ValidationPendingRecords,
    validationFailed: s.ValidationFailedRecords,
    validationSuspended: s.ValidationSuspendedRecords,
  };
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as DmsTableStatisticsView;
}

/**
 * Every table's statistics (all pages of DescribeTableStatistics), sorted by table key.
 * `targets` maps a source key to its target name where the mapping renames it.
 */
export async function tableStatistics(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  opts: { targets?: Record<string, string>; retry?: RetryOptions; pageSize?: number } = {},
): Promise<DmsTableStatisticsView[]> {
  const out: DmsTableStatisticsView[] = [];
  let marker: string | undefined;
  do {
    const page: DescribeTableStatisticsCommandOutput = await withRetry(
      () =>
        dms.send(
          new DescribeTableStatisticsCommand({
            ReplicationTaskArn: arn,
            MaxRecords: opts.pageSize ?? 500,
            ...(marker && { Marker: marker }),
          }),
        ),
      opts.retry,
    );
    for (const s of page.TableStatistics ?? []) out.push(mapTableStatistics(s, opts.targets));
    marker = page.Marker;
  } while (marker);
  return out.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/** Reload (or only re-validate) some tables of a running task. */
export async function reloadTables(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  tables: readonly { schema: string; table: string }[],
  option: 'data-reload' | 'validate-only' = 'data-reload',
): Promise<ReloadTablesCommandOutput> {
  if (!tables.length) throw new DmsError(DmsErrorType.DMS_REQUEST_FAILED, 'reloadTables: no tables given');
  return dms.send(
    new ReloadTablesCommand({
      ReplicationTaskArn: arn,
      TablesToReload: tables.map((t) => ({ SchemaName: t.schema, TableName: t.table })),
      ReloadOption: option,
    }),
  );
}

// Activities of the aws-dms engine: thin adapters from plain JSON to src/dms/ (provision, start, watch,
// stop, table statistics, the pre-cutover Aurora snapshot, teardown) and the source slot lookup the
// cutover needs. Waits heartbeat their progress and stop on cancellation; DmsErrors leave as typed
// failures (retryable or not per src/errors.ts), raw AWS errors as AWS_TRANSIENT (retried by the
// activity's retry policy) or DMS_REQUEST_FAILED. No secret is ever put in a result, heartbeat or message.
import { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import { RDSClient } from '@aws-sdk/client-rds';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { type FerryConfig, type MigrationConfig, resolveSecret } from '../config';
import { dmsSpecFromConfig } from '../dms/config';
import {
  DmsError,
  DmsErrorType,
  type DmsMigrationSpec,
  type DmsTableStatisticsView,
  type EnsureResult,
  type RetryOptions,
  type TaskView,
  type WaitOptions,
  type WaitProgress,
  awsErrorName,
  createClusterSnapshot,
  createdByFerry,
  deleteEndpoint,
  deleteReplicationInstance,
  deleteReplicationTask,
  describeReplicationTask,
  errorMessage,
  findEndpoint,
  findReplicationInstance,
  findReplicationTask,
  fullLoadFinished,
  isRetryable,
  poll,
  provisionDms,
  sleep,
  startReplicationTask,
  stopReplicationTask,
  tableStatistics,
  tagInfo,
  taskFailure,
  waitClusterSnapshotAvailable,
  waitTaskStatus,
} from '../dms';
import { connectPg, type PgConnInfo } from '../engine/connection';
import { ErrorType, FerryError } from '../errors';
import type { AssessmentFindingView, TableStatistics } from '../workflows/definitions';
import { migrationContext, sourceDatabase } from './context';
import { wrap } from './failures';
import { withHeartbeat } from './heartbeat';

/** The two SDK clients of one migration's AWS calls. */
export interface AwsClients {
  dms: DatabaseMigrationServiceClient;
  rds: RDSClient;
}

export interface DmsActivityDeps {
  configPath: string;
  /** Heartbeat period while waiting (default 5 000 ms); every poll heartbeats too. */
  heartbeatMs?: number;
  /** The clients for a migration (default: awsClients). Tests pass mocked ones. */
  awsClients?: (cfg: FerryConfig, migration: string) => AwsClients;
  /** Delay between describes while waiting on AWS (default 15 000 ms). */
  dmsPollMs?: number;
  /** Backoff of each describe call inside a wait (default: the adapter's, 5 attempts from 500 ms). */
  dmsRetry?: Omit<RetryOptions, 'signal'>;
  /**
   * Reads an `aws-secretsmanager:` password for dmsSourceSlot (default: the Secrets Manager client, which
   * needs @aws-sdk/client-secrets-manager on the worker). Tests pass a stub.
   */
  secretsManager?: (arn: string) => Promise<string>;
}

/**
 * SDK clients for the migration's region: credentials from the default provider chain, or, when
 * ferry.yaml sets aws.roleArn, temporary credentials of that role (session `ferry-<migration>`, so
 * CloudTrail says which migration called). Credentials are never read, logged or stored by Ferry.
 */
export function awsClients(cfg: FerryConfig, migration = 'worker'): AwsClients {
  if (!cfg.aws) throw new FerryError(ErrorType.CONFIG_INVALID, 'ferry.yaml has no aws: { region } section');
  const region = cfg.aws.region;
  const credentials = cfg.aws.roleArn
    ? fromTemporaryCredentials({
        params: {
          RoleArn: cfg.aws.roleArn,
          // RoleSessionName: 2-64 of [\w+=,.@-].
          RoleSessionName: `ferry-${migration}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64),
        },
        clientConfig: { region },
      })
    : undefined;
  return {
    dms: new DatabaseMigrationServiceClient({ region, ...(credentials && { credentials }) }),
    rds: new RDSClient({ region, ...(credentials && { credentials }) }),
  };
}

/** One resource of the migration: its ARN, its DMS identifier, and whether Ferry created it. */
export interface DmsResourceRef {
  arn: string;
  identifier: string;
  /** true: Ferry created it for this migration (teardown deletes it); false: adopted (kept). */
  created: boolean;
  /** Adopted with settings that differ from ferry.yaml (`class: dms.t3.medium != dms.r6i.large`). */
  drift?: string[];
}

/** What dmsProvision built or adopted: the workflow keeps it for the load, the cutover and teardown. */
export interface DmsResources {
  region: string;
  instance: DmsResourceRef;
  source: DmsResourceRef;
  target: DmsResourceRef;
  task: DmsResourceRef;
  cluster?: { identifier: string; status: string; engineVersion?: string };
  assessment?: {
    resultLocation: string;
    counts: { blocker: number; warning: number; info: number; passed: number };
    findings: AssessmentFindingView[];
  };
}

/** DMS's per-table validation states summed over the task's tables. */
export interface DmsValidationSummary {
  /** Some table has validation on (a state other than `Not enabled`). */
  enabled: boolean;
  validated: number;
  mismatched: number;
  /** `Pending records`, `Pending validation`, `Pending revalidation`. */
  pending: number;
  tables: number;
}

/** A replication task as the workflow sees it: status, progress, and per-table statistics. */
export interface DmsTaskView {
  status: string;
  /** The stop reason code (`FULL_LOAD_ONLY_FINISHED`, `FATAL_ERROR`...). */
  stopReason?: string;
  lastFailureMessage?: string;
  fullLoadProgressPercent?: number;
  tablesLoaded?: number;
  tablesLoading?: number;
  tablesQueued?: number;
  tablesErrored?: number;
  tables: TableStatistics[];
  validation: DmsValidationSummary;
}

export interface DmsTeardownStep {
  /** `task`, `target endpoint`, `source endpoint`, `instance`. */
  name: string;
  /** `deleted ferry-x`, `kept: adopted`, `already gone`, `failed: ...`. */
  detail: string;
}

const TASK_STOPPED = ['stopped', 'ready', 'failed'];

export function validationSummary(tables: readonly TableStatistics[]): DmsValidationSummary {
  const states = tables.map((t) => t.validationState);
  return {
    enabled: states.some((s) => s !== 'Not enabled'),
    validated: states.filter((s) => s === 'Validated').length,
    mismatched: states.filter((s) => s === 'Mismatched records').length,
    pending: states.filter((s) => s.startsWith('Pending')).length,
    tables: tables.length,
  };
}

export function dmsTaskView(v: TaskView, tables: TableStatistics[]): DmsTaskView {
  const s = v.stats;
  return {
    status: v.status,
    ...(v.stopReasonCode && { stopReason: v.stopReasonCode }),
    ...(v.lastFailureMessage && { lastFailureMessage: v.lastFailureMessage }),
    ...(s?.fullLoadProgressPercent !== undefined && { fullLoadProgressPercent: s.fullLoadProgressPercent }),
    ...(s?.tablesLoaded !== undefined && { tablesLoaded: s.tablesLoaded }),
    ...(s?.tablesLoading !== undefined && { tablesLoading: s.tablesLoading }),
    ...(s?.tablesQueued !== undefined && { tablesQueued: s.tablesQueued }),
    ...(s?.tablesErrored !== undefined && { tablesErrored: s.tablesErrored }),
    tables,
    validation: validationSummary(tables),
  };
}

function resourceRef(r: EnsureResult, identifier: string): DmsResourceRef {
  return { arn: r.arn, identifier, created: r.created, ...(r.drift.length && { drift: r.drift }) };
}

/** An AWS SDK service error (it carries the response's $metadata) or a network failure. */
function isAwsFailure(err: unknown): boolean {
  return (
    (!!err && typeof err === 'object' && '$metadata' in err) ||
    awsErrorName(err) === 'CredentialsProviderError' ||
    isRetryable(err)
  );
}

/**
 * What leaves a DMS activity: the cancellation itself when the activity was cancelled (so Temporal
 * records a cancel, not a failure), a FerryError as is (wrap maps it), a raw AWS error as AWS_TRANSIENT
 * (retryable: throttling, 5xx, network) or DMS_REQUEST_FAILED (access denied, invalid parameter...).
 */
function dmsFailure(err: unknown): unknown {
  let signal: AbortSignal | undefined;
  try {
    signal = Context.current().cancellationSignal;
  } catch {
    // Outside an activity: nothing was cancelled.
  }
  if (signal?.aborted && signal.reason instanceof CancelledFailure) {
    const aborted = err instanceof DmsError && err.type === DmsErrorType.DMS_ABORTED;
    if (aborted || err instanceof CancelledFailure || awsErrorName(err) === 'AbortError')
      return signal.reason;
  }
  if (err instanceof FerryError || err instanceof ApplicationFailure || !isAwsFailure(err)) return err;
  const name = awsErrorName(err) ?? 'error';
  const retryable = isRetryable(err);
  return ApplicationFailure.create({
    type: retryable ? ErrorType.AWS_TRANSIENT : ErrorType.DMS_REQUEST_FAILED,
    message:
      `AWS answered ${name}: ${errorMessage(err)}` +
      (retryable
        ? ' (throttled or transient: retried with backoff)'
        : name === 'CredentialsProviderError'
          ? ' (no AWS credentials: give the worker a role, AWS_PROFILE or environment credentials)'
          : /AccessDenied/i.test(name)
            ? ' (the worker role lacks this permission: see the IAM policy in src/dms/README.md)'
            : ''),
    nonRetryable: !retryable,
  });
}

export function createDmsActivities(deps: DmsActivityDeps) {
  const hbMs = deps.heartbeatMs ?? 5_000;
  const pollMs = deps.dmsPollMs ?? 15_000;
  const cache = new Map<string, AwsClients>();

  /** The migration's config, spec and clients (clients reused per region/role/migration). */
  async function open(migration: string): Promise<{
    cfg: FerryConfig;
    m: MigrationConfig;
    spec: DmsMigrationSpec;
    clients: AwsClients;
  }> {
    const { cfg, m } = await migrationContext(deps.configPath, migration);
    const spec = await dmsSpecFromConfig(cfg, m);
    const key = `${cfg.aws?.region}|${cfg.aws?.roleArn ?? ''}|${m.name}`;
    let clients = cache.get(key);
    if (!clients) {
      clients = (deps.awsClients ?? awsClients)(cfg, m.name);
      cache.set(key, clients);
    }
    return { cfg, m, spec, clients };
  }

  /** Run `work` heartbeating its latest progress on a timer and at every report, cancellable. */
  function heartbeating<T>(
    first: unknown,
    work: (signal: AbortSignal, beat: (details: unknown) => void) => Promise<T>,
  ): Promise<T> {
    const ctx = Context.current();
    let last = first;
    const beat = (details: unknown) => {
      last = details;
      ctx.heartbeat(details);
    };
    return withHeartbeat(
      hbMs,
      () => last,
      (signal) => work(signal, beat),
    );
  }

  const waitOptions = (signal: AbortSignal, beat: (p: WaitProgress) => void): WaitOptions => ({
    signal,
    onProgress: beat,
    pollMs,
    ...(deps.dmsRetry && { retry: deps.dmsRetry }),
  });
  const retry = (signal?: AbortSignal): RetryOptions => ({ ...deps.dmsRetry, ...(signal && { signal }) });

  /** wrap (typed failures, metrics) around the DMS mapping above. */
  const run = <T>(migration: string, fn: () => Promise<T>): Promise<T> =>
    wrap(async () => {
      try {
        return await fn();
      } catch (err) {
        throw dmsFailure(err);
      }
    }, migration);

  return {
    /**
     * Replication instance, endpoints (connection-tested), task, assessment run: each created or
     * adopted by identifier, so a retry after a crash or a cancel creates nothing twice.
     */
    async dmsProvision(input: { migration: string }): Promise<DmsResources> {
      return run(input.migration, async () => {
        const { spec, clients } = await open(input.migration);
        const r = await heartbeating({ step: 'provision' }, (signal, beat) =>
          provisionDms(clients, spec, { wait: waitOptions(signal, beat), retry: retry(signal) }),
        );
        return {
          region: spec.region,
          instance: resourceRef(r.instance, spec.instance.identifier),
          source: resourceRef(r.source, spec.source.identifier),
          target: resourceRef(r.target, spec.target.identifier),
          task: resourceRef(r.task, spec.task.identifier),
          ...(r.cluster && {
            cluster: {
              identifier: r.cluster.identifier,
              status: r.cluster.status,
              ...(r.cluster.engineVersion && { engineVersion: r.cluster.engineVersion }),
            },
          }),
          ...(r.assessment && {
            assessment: {
              resultLocation: r.assessment.resultLocation,
              counts: { ...r.assessment.results.counts },
              findings: r.assessment.results.findings.map((f) => ({
                id: f.id,
                severity: f.severity,
                object: f.object,
                message: f.message,
                advice: f.advice,
              })),
            },
          }),
        };
      });
    },

    /**
     * Start the task: start-replication when it never ran, resume-processing when stopped or failed,
     * nothing when it is running or starting (a retried activity must not restart a load).
     */
    async dmsStartTask(input: {
      migration: string;
      taskArn: string;
    }): Promise<{ status: string; action: 'start-replication' | 'resume-processing' | 'none' }> {
      return run(input.migration, async () => {
        const { clients } = await open(input.migration);
        const v = await describeReplicationTask(clients.dms, input.taskArn, retry());
        if (v.status === 'running' || v.status === 'starting') return { status: v.status, action: 'none' };
        // A full-load task that finished has nothing to resume (a retried start after the load).
        if (v.status === 'stopped' && v.stopReasonCode === 'FULL_LOAD_ONLY_FINISHED')
          return { status: v.status, action: 'none' };
        const action = v.status === 'ready' ? 'start-replication' : 'resume-processing';
        const r = await startReplicationTask(clients.dms, input.taskArn, action, { retry: retry() });
        return { status: r.status, action: r.started ? action : 'none' };
      });
    },

    /**
     * Poll the task (and its table statistics) until the full load is done or the task stopped,
     * heartbeating the latest view every poll. A failed task → DMS_TASK_FAILED naming its stop reason.
     */
    async dmsWatchTask(input: {
      migration: string;
      taskArn: string;
      until: 'full-load-done' | 'stopped';
    }): Promise<DmsTaskView> {
      return run(input.migration, async () => {
        const { clients } = await open(input.migration);
        const dms = clients.dms;
        return heartbeating({ step: `watch ${input.until}` }, async (signal, beat) => {
          for (;;) {
            const v = await describeReplicationTask(dms, input.taskArn, retry(signal));
            const tables = await statisticsIfStarted(clients.dms, v, retry(signal));
            const view = dmsTaskView(v, tables);
            beat(view);
            if (v.failed) throw taskFailure(v);
            if (input.until === 'stopped' ? TASK_STOPPED.includes(v.status) : loadDone(v)) return view;
            if (v.status === 'deleting')
              throw new DmsError(
                DmsErrorType.DMS_RESOURCE_FAILED,
                `replication task ${v.identifier ?? v.arn} is being deleted`,
              );
            if (input.until === 'full-load-done' && v.status === 'stopped')
              // Stopped by someone before its load finished: waiting would never end.
              throw new DmsError(
                DmsErrorType.DMS_TASK_FAILED,
                `replication task ${v.identifier ?? v.arn} stopped before its full load finished` +
                  ` (stop reason ${v.stopReasonCode ?? 'none'}): resume it (resume-processing) and watch again`,
                { details: { arn: v.arn, stopReason: v.stopReasonCode } },
              );
            await sleep(pollMs, signal);
          }
        });
      });
    },

    async dmsTableStatistics(input: { migration: string; taskArn: string }): Promise<TableStatistics[]> {
      return run(input.migration, async () => {
        const { clients } = await open(input.migration);
        return tableStatistics(clients.dms, input.taskArn, { retry: retry() });
      });
    },

    /** Stop the task and wait until it is stopped (a task not running is left as it is). */
    async dmsStopTask(input: { migration: string; taskArn: string }): Promise<{ status: string }> {
      return run(input.migration, async () => {
        const { clients } = await open(input.migration);
        const r = await stopReplicationTask(clients.dms, input.taskArn, retry());
        if (r.status === 'gone') return { status: 'gone' };
        const v = await heartbeating({ step: 'stop task' }, (signal, beat) =>
          waitTaskStatus(
            clients.dms,
            input.taskArn,
            (t) => TASK_STOPPED.includes(t.status) || t.failed,
            waitOptions(signal, beat),
          ),
        );
        return { status: v.status };
      });
    },

    /** The Aurora target's cluster snapshot before cutover (adopted if it exists), waited available. */
    async dmsSnapshot(input: {
      migration: string;
      snapshotId: string;
    }): Promise<{ identifier: string; arn: string; created: boolean }> {
      return run(input.migration, async () => {
        const { spec, clients } = await open(input.migration);
        if (!spec.aurora)
          throw new FerryError(
            ErrorType.CONFIG_INVALID,
            `migration ${input.migration} has no dms.auroraClusterId: set it in ferry.yaml to snapshot the target before cutover`,
          );
        const cluster = spec.aurora.clusterIdentifier;
        return heartbeating({ step: 'snapshot', snapshot: input.snapshotId }, async (signal, beat) => {
          const ref = await createClusterSnapshot(
            clients.rds,
            cluster,
            input.snapshotId,
            tagInfo(spec),
            retry(signal),
          );
          const s = await waitClusterSnapshotAvailable(
            clients.rds,
            input.snapshotId,
            waitOptions(signal, beat),
          );
          return {
            identifier: input.snapshotId,
            arn: s.DBClusterSnapshotArn ?? ref.arn ?? '',
            created: ref.created,
          };
        });
      });
    },

    /**
     * After a provisioning that failed half way (a connection test failed, an instance never came up):
     * the resources of this migration's identifiers that exist, each marked created only when its tags
     * say Ferry created it for this migration, for dmsTeardown. A missing one has no ARN.
     */
    async dmsFindResources(input: { migration: string }): Promise<DmsResources> {
      return run(input.migration, async () => {
        const { spec, clients } = await open(input.migration);
        const dms = clients.dms;
        const ref = async (identifier: string, arn: string | undefined): Promise<DmsResourceRef> => ({
          arn: arn ?? '',
          identifier,
          created: !!arn && (await createdByFerry(dms, arn, input.migration, retry())),
        });
        return {
          region: spec.region,
          instance: await ref(
            spec.instance.identifier,
            (await findReplicationInstance(dms, spec.instance.identifier, retry()))?.ReplicationInstanceArn,
          ),
          source: await ref(
            spec.source.identifier,
            (await findEndpoint(dms, spec.source.identifier, retry()))?.EndpointArn,
          ),
          target: await ref(
            spec.target.identifier,
            (await findEndpoint(dms, spec.target.identifier, retry()))?.EndpointArn,
          ),
          task: await ref(
            spec.task.identifier,
            (await findReplicationTask(dms, spec.task.identifier, retry()))?.ReplicationTaskArn,
          ),
        };
      });
    },

    /**
     * Compensation: task → target endpoint → source endpoint → instance, deleting only what Ferry
     * created (the adapter checks the tags too). Idempotent: what is gone counts as done. A retryable
     * error fails the attempt (the retry starts over and skips what is gone); any other is reported as
     * that step's `failed: ...` and the steps that do not depend on it still run.
     */
    async dmsTeardown(input: {
      migration: string;
      resources: DmsResources;
    }): Promise<{ steps: DmsTeardownStep[]; ok: boolean }> {
      return run(input.migration, async () => {
        const { clients } = await open(input.migration);
        const dms = clients.dms;
        const res = input.resources;
        const steps: DmsTeardownStep[] = [];
        let ok = true;
        await heartbeating({ step: 'teardown', steps }, async (signal, beat) => {
          const step = async (
            name: string,
            ref: DmsResourceRef,
            del: () => Promise<{ deleted: boolean; reason?: string }>,
          ): Promise<boolean> => {
            if (!ref.arn) {
              // Never created (provisioning failed before it).
              steps.push({ name, detail: `not created (${ref.identifier})` });
              return true;
            }
            try {
              const r = await del();
              const detail = r.deleted
                ? `deleted ${ref.identifier}`
                : r.reason === 'already gone'
                  ? `already gone (${ref.identifier})`
                  : `kept: ${r.reason ?? 'adopted'} (${ref.identifier})`;
              steps.push({ name, detail });
              beat({ step: 'teardown', steps });
              return true;
            } catch (err) {
              if (isRetryable(err) || signal.aborted) throw err;
              ok = false;
              steps.push({ name, detail: `failed: ${errorMessage(err)}` });
              beat({ step: 'teardown', steps });
              return false;
            }
          };
          const del = { migration: input.migration, retry: retry(signal) };
          const wait = waitOptions(signal, beat);
          const taskGone = await step('task', res.task, async () => {
            const r = await deleteReplicationTask(dms, res.task.arn, {
              ...del,
              created: res.task.created,
              wait,
            });
            // DMS deletes a task in the background; its endpoints and instance are busy until it is gone.
            if (r.deleted) await waitTaskGone(dms, res.task.arn, wait);
            return r;
          });
          const tgt = await step('target endpoint', res.target, () =>
            deleteEndpoint(dms, res.target.arn, { ...del, created: res.target.created }),
          );
          const src = await step('source endpoint', res.source, () =>
            deleteEndpoint(dms, res.source.arn, { ...del, created: res.source.created }),
          );
          if (taskGone && tgt && src)
            await step('instance', res.instance, () =>
              deleteReplicationInstance(dms, res.instance.arn, { ...del, created: res.instance.created }),
            );
          else
            steps.push({
              name: 'instance',
              detail: `kept for now (${res.instance.identifier}): a step before it failed`,
            });
        });
        return { steps, ok };
      });
    },

    /**
     * The logical replication slot the DMS task reads on the source database: cdc.slotName when set,
     * else the one logical slot of the database with the configured plugin that is not Ferry's own
     * (`ferry_*`). None or several → no slotName, and a detail saying to set cdc.slotName.
     */
    async dmsSourceSlot(input: { migration: string }): Promise<{ slotName?: string; detail: string }> {
      return run(input.migration, async () => {
        const { cfg, m, source } = await migrationContext(deps.configPath, input.migration);
        const database = sourceDatabase(m, source);
        const conn: PgConnInfo = {
          endpointId: source.id,
          host: source.host,
          port: source.port,
          database,
          user: source.user,
          password: await resolveSecret(source.password, {
            baseDir: cfg.configDir,
            ...(deps.secretsManager && { awsFetch: deps.secretsManager }),
          }),
          sslmode: source.sslmode,
          sslrootcert: source.sslrootcert,
        };
        const c = await connectPg(conn, 'ferry-dms');
        try {
          const { rows } = await c.query<{ slot_name: string; plugin: string; active: boolean }>(
            `SELECT slot_name, plugin, active FROM pg_replication_slots
              WHERE slot_type = 'logical' AND database = current_database() ORDER BY slot_name`,
          );
          return pickSlot(rows, m.cdc.slotName, m.dms?.pluginName ?? 'test_decoding', database);
        } finally {
          await c.end().catch(() => undefined);
        }
      });
    },
  };
}

/** The full load is over (a `cdc` task has none: running is enough). */
function loadDone(v: TaskView): boolean {
  return v.migrationType === 'cdc' ? v.status === 'running' : fullLoadFinished(v);
}

/** Table statistics once the task has run (DMS refuses them for a task never started). */
async function statisticsIfStarted(
  dms: DatabaseMigrationServiceClient,
  v: TaskView,
  retry: RetryOptions,
): Promise<DmsTableStatisticsView[]> {
  if (v.status === 'creating' || v.status === 'ready') return [];
  try {
    return await tableStatistics(dms, v.arn, { retry });
  } catch (err) {
    if (awsErrorName(err) === 'InvalidResourceStateFault') return [];
    throw err;
  }
}

/** Poll until DescribeReplicationTasks no longer finds the task. */
async function waitTaskGone(
  dms: DatabaseMigrationServiceClient,
  arn: string,
  opts: WaitOptions,
): Promise<void> {
  await poll<string, true>(
    `deletion of replication task ${arn}`,
    async () => {
      try {
        return (await describeReplicationTask(dms, arn, opts.retry)).status;
      } catch (err) {
        if (err instanceof DmsError && err.type === DmsErrorType.DMS_RESOURCE_NOT_FOUND) return 'gone';
        throw err;
      }
    },
    (status) => (status === 'gone' ? { done: true } : { status }),
    opts,
  );
}

/** The output plugin names pg_replication_slots shows for each of dms.pluginName's values. */
const PLUGINS: Record<string, readonly string[]> = {
  test_decoding: ['test_decoding'],
  pglogical: ['pglogical', 'pglogical_output'],
};

export function pickSlot(
  slots: readonly { slot_name: string; plugin: string; active: boolean }[],
  configured: string | undefined,
  pluginName: string,
  database: string,
): { slotName?: string; detail: string } {
  if (configured) {
    const s = slots.find((x) => x.slot_name === configured);
    return s
      ? {
          slotName: s.slot_name,
          detail: `cdc.slotName ${s.slot_name} (${s.plugin}, ${s.active ? 'active' : 'inactive'}) on ${database}`,
        }
      : {
          detail:
            `cdc.slotName ${configured} is not a logical slot of database ${database} on the source` +
            ' (DMS creates or uses it once the task runs CDC; check the name)',
        };
  }
  const plugins = PLUGINS[pluginName] ?? [pluginName];
  const candidates = slots.filter((s) => plugins.includes(s.plugin) && !s.slot_name.startsWith('ferry_'));
  if (candidates.length === 1)
    return {
      slotName: candidates[0].slot_name,
      detail: `the only ${pluginName} slot of ${database} that is not Ferry's: ${candidates[0].slot_name}`,
    };
  return {
    detail:
      (candidates.length === 0
        ? `no ${pluginName} logical slot on source database ${database} besides Ferry's own`
        : `${candidates.length} ${pluginName} slots on source database ${database} (${candidates
            .map((s) => s.slot_name)
            .join(', ')}): cannot tell which one the DMS task uses`) +
      '; set migrations[].cdc.slotName in ferry.yaml to the slot DMS uses',
  };
}

// One worker process: registers every workflow and activity on the task queue, logs JSON lines,
// and on SIGINT/SIGTERM stops polling and lets in-flight activities finish (or heartbeat) first.
import {
  DefaultLogger,
  LogLevel,
  NativeConnection,
  Runtime,
  Worker,
  WorkerOptions,
} from '@temporalio/worker';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createActivities } from './activities';
import { loadConfig } from './config';
import { metricsPortFromEnv, startMetricsServer } from './metrics';

export interface WorkerRunOptions {
  configPath: string;
  taskQueue?: string;
  /** Overrides config.temporal.address. */
  address?: string;
  namespace?: string;
  /** Pre-built workflow bundle (tests); default: bundle src/workflows at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  shutdownGraceTime?: string;
  heartbeatMs?: number;
  maxConcurrentActivityTaskExecutions?: number;
  logLevel?: LogLevel;
  /**
   * Serve Prometheus metrics at http://<host>:<port>/metrics (docs/metrics.md); 0 picks a free port.
   * Default: FERRY_METRICS_PORT, and no endpoint when that is unset.
   */
  metricsPort?: number;
  /** Interface the metrics endpoint listens on; default FERRY_METRICS_HOST, else every interface. */
  metricsHost?: string;
}

/**
 * Heartbeats reach the server at most every 2 s. The SDK's default holds them for 0.8 × the heartbeat
 * timeout, and an activity learns it is cancelled only from a heartbeat's reply: the snapshot holder
 * kept every full load waiting ~48 s after its last copy (found by the benchmark).
 */
export const WORKER_TUNING = {
  maxHeartbeatThrottleInterval: '2s',
  defaultHeartbeatThrottleInterval: '2s',
} as const;

let runtimeInstalled = false;

/** Structured logs: one JSON object per line on stderr. Install before anything creates a Runtime. */
export function installRuntime(level: LogLevel = 'INFO'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      const { level: lvl, message, meta, timestampNanos } = entry;
      const line = {
        time: new Date(Number(timestampNanos / 1_000_000n)).toISOString(),
        level: lvl.toLowerCase(),
        msg: message,
        ...scrub(meta),
      };
      process.stderr.write(JSON.stringify(line) + '\n');
    }),
    // Let the Worker react to these signals: it stops polling and drains in-flight tasks.
    shutdownSignals: ['SIGINT', 'SIGTERM'],
  });
}

/** Log metadata never carries secrets, but activity inputs could grow: keep lines small and flat. */
function scrub(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!meta) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (/password|secret|token/i.test(k)) continue;
    out[k] = typeof v === 'object' && v !== null ? JSON.stringify(v).slice(0, 500) : v;
  }
  return out;
}

/** The bundle `npm run build` wrote (dist/workflow-bundle.js), else bundle the workflows now. */
function workflowSource(
  given: WorkerOptions['workflowBundle'],
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (given) return { workflowBundle: given };
  const prebuilt = path.resolve(__dirname, '..', 'workflow-bundle.js');
  if (existsSync(prebuilt)) return { workflowBundle: { codePath: prebuilt } };
  return { workflowsPath: require.resolve('./workflows') };
}

/**
 * Activities a worker runs at once when `--max-activities` is not given: the largest
 * `provision.concurrency` (the "instance class") of the migrations in ferry.yaml, else 16.
 */
export function instanceClass(cfg: { migrations: { provision: { concurrency: number } }[] }): number {
  return cfg.migrations.reduce((n, m) => Math.max(n, m.provision.concurrency), 0) || 16;
}

export async function createWorker(
  opts: WorkerRunOptions,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const cfg = await loadConfig(opts.configPath);
  // TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (as in docker-compose) override the file, flags override both.
  const address = opts.address ?? process.env.TEMPORAL_ADDRESS ?? cfg.temporal.address;
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? process.env.TEMPORAL_NAMESPACE ?? cfg.temporal.namespace,
    taskQueue: opts.taskQueue ?? cfg.temporal.taskQueue,
    ...workflowSource(opts.workflowBundle),
    activities: createActivities({ configPath: opts.configPath, heartbeatMs: opts.heartbeatMs }),
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions ?? instanceClass(cfg),
    ...WORKER_TUNING,
  });
  return { worker, connection };
}

/** Run until a shutdown signal (or worker.shutdown()). */
export async function runWorker(opts: WorkerRunOptions): Promise<void> {
  installRuntime(opts.logLevel);
  // Before connecting: a taken port fails the start at once, not after the worker began polling.
  const port = opts.metricsPort ?? metricsPortFromEnv();
  const metrics =
    port === undefined
      ? undefined
      : await startMetricsServer({
          port,
          host: opts.metricsHost ?? (process.env.FERRY_METRICS_HOST || undefined),
        });
  if (metrics) Runtime.instance().logger.info('metrics endpoint listening', { url: metrics.url });
  try {
    const { worker, connection } = await createWorker(opts);
    try {
      await worker.run();
    } finally {
      await connection.close();
    }
  } finally {
    await metrics?.close();
  }
}

if (require.main === module) {
  // `node dist/src/worker.js <config> [taskQueue]`: used by tests that kill a worker process.
  const [configPath, taskQueue] = process.argv.slice(2);
  runWorker({
    configPath: configPath ?? 'ferry.yaml',
    taskQueue,
    heartbeatMs: process.env.FERRY_HEARTBEAT_MS ? Number(process.env.FERRY_HEARTBEAT_MS) : undefined,
  }).catch((err) => {
    process.stderr.write(`ferry worker: ${(err as Error).message}\n`);
    process.exit(1);
  });
}

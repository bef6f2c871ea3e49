// The worker's Prometheus metrics: one module-level registry (not prom-client's global one, so tests
// and embedders see only Ferry's series), typed helpers the activities call where they already report
// progress, and a node:http endpoint serving /metrics. Names and PromQL examples: docs/metrics.md.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ErrorType, FerryError } from './errors';

/** What the rows and bytes counters count: copying (full load), applying changes (cdc), comparing (validation). */
export type Phase = 'full-load' | 'cdc' | 'validation';

/** Every series Ferry exports, process and Node.js default metrics included. */
export const registry = new Registry();
// process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_seconds, nodejs_gc_*...
collectDefaultMetrics({ register: registry });

const rowsTotal = new Counter({
  name: 'ferry_rows_total',
  help: 'Rows moved by phase: copied (full-load), source row changes applied (cdc), compared (validation)',
  labelNames: ['migration', 'table', 'phase'] as const,
  registers: [registry],
});

const bytesTotal = new Counter({
  name: 'ferry_bytes_total',
  help: 'Bytes moved by phase (full-load: COPY stream bytes; cdc reports no per-table bytes)',
  labelNames: ['migration', 'table', 'phase'] as const,
  registers: [registry],
});

const cdcLagBytes = new Gauge({
  name: 'ferry_cdc_lag_bytes',
  help: 'Source WAL position minus the applied position, in bytes, while this worker streams the migration',
  labelNames: ['migration'] as const,
  registers: [registry],
});

const cdcLagSeconds = new Gauge({
  name: 'ferry_cdc_lag_seconds',
  help: 'Age of the oldest received but unapplied source transaction (0 when caught up)',
  labelNames: ['migration'] as const,
  registers: [registry],
});

/**
 * Bucket bounds around the runner's batching: a caught-up source applies a few changes per batch, a
 * backlog waits for 20,000 (MIN_BACKLOG_BATCH) and stops at 100,000 (MAX_BATCH_CHANGES).
 */
const BATCH_BUCKETS = [1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000];

const cdcApplyBatch = new Histogram({
  name: 'ferry_cdc_apply_batch_changes',
  help: 'Source changes per CDC apply batch (one target transaction)',
  labelNames: ['migration'] as const,
  buckets: BATCH_BUCKETS,
  registers: [registry],
});

const errorsTotal = new Counter({
  name: 'ferry_errors_total',
  help: 'Activity failures by error type (src/errors.ts; UNCLASSIFIED: outside the vocabulary)',
  labelNames: ['migration', 'activity', 'type'] as const,
  registers: [registry],
});

const validationMismatched = new Gauge({
  name: 'ferry_validation_mismatched_rows',
  help: 'Rows that differ between source and target at the last validation of the table',
  labelNames: ['migration', 'table'] as const,
  registers: [registry],
});

const validationPending = new Gauge({
  name: 'ferry_validation_pending_rows',
  help: 'Rows of the table not yet validated (or waiting to be re-validated)',
  labelNames: ['migration', 'table'] as const,
  registers: [registry],
});

/** The error type label of anything an activity threw: our vocabulary, else UNCLASSIFIED. */
export function errorTypeOf(err: unknown): string {
  if (err instanceof FerryError) return err.type;
  if (err instanceof ApplicationFailure && err.type) return err.type;
  return 'UNCLASSIFIED';
}

/** Counters only go up: a negative or non-finite amount (a caller's bug) must not throw mid-activity. */
function amount(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export const metrics = {
  /** Count rows and bytes moved for a table of the plan in a phase (increments, not running totals). */
  rowsCopied(migration: string, table: string, phase: Phase, rows: number, bytes: number): void {
    const labels = { migration, table, phase };
    rowsTotal.inc(labels, amount(rows));
    // No bytes, no series: CDC measures none per table, and a phase may count rows only.
    if (bytes > 0) bytesTotal.inc(labels, amount(bytes));
  },

  /**
   * For callbacks that report running totals per table (a segment's rows so far, a CDC run's per-table
   * counters): returns a function that counts only the increase since its last call for that table.
   * One per activity attempt: a retried attempt starts from zero again and counts what it moves.
   */
  runningTotals(
    migration: string,
    phase: Phase,
  ): (table: string, p: { rows: number; bytes?: number }) => void {
    const seen = new Map<string, { rows: number; bytes: number }>();
    return (table, p) => {
      const last = seen.get(table) ?? { rows: 0, bytes: 0 };
      const now = { rows: Math.max(last.rows, p.rows), bytes: Math.max(last.bytes, p.bytes ?? 0) };
      // Rows reported mid-segment are estimated from bytes; a lower exact count at the end is not subtracted.
      metrics.rowsCopied(migration, table, phase, now.rows - last.rows, now.bytes - last.bytes);
      seen.set(table, now);
    };
  },

  /** The migration's CDC lag as the streaming activity last measured it. */
  cdcLag(migration: string, lagBytes: number, lagSeconds: number): void {
    cdcLagBytes.set({ migration }, lagBytes);
    cdcLagSeconds.set({ migration }, lagSeconds);
  },

  /**
   * This worker stopped streaming the migration (window over, failed, cancelled): drop its lag series,
   * or a stale value would go on firing alerts while another worker streams it.
   */
  cdcStopped(migration: string): void {
    cdcLagBytes.remove({ migration });
    cdcLagSeconds.remove({ migration });
  },

  /** One applied CDC batch. Batches of transactions on other tables only (0 changes) are not observed. */
  applyBatch(migration: string, changes: number): void {
    if (changes > 0) cdcApplyBatch.observe({ migration }, changes);
  },

  /** One activity failure; `type` is from src/errors.ts (errorTypeOf maps anything thrown to it). */
  error(migration: string, activity: string, type: ErrorType | string): void {
    errorsTotal.inc({ migration, activity, type });
  },
};

/** Validation's result for one table (called by the validation activity after each pass). */
export function recordValidation(
  migration: string,
  table: string,
  mismatched: number,
  pending: number,
): void {
  validationMismatched.set({ migration, table }, mismatched);
  validationPending.set({ migration, table }, pending);
}

/** The registry in Prometheus text format (what /metrics serves). */
export function metricsText(): Promise<string> {
  return registry.metrics();
}

/** The port FERRY_METRICS_PORT asks for: undefined when unset or empty (no endpoint), 0 for any free port. */
export function metricsPortFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.FERRY_METRICS_PORT?.trim();
  if (!v) return undefined;
  const port = Number(v);
  if (!/^\d+$/.test(v) || port > 65535) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `FERRY_METRICS_PORT=${JSON.stringify(v)}: use a TCP port 1..65535 (0: any free port), or leave it unset for no metrics endpoint`,
    );
  }
  return port;
}

export interface MetricsServer {
  /** The port it listens on (the one picked when asked for 0). */
  port: number;
  /** e.g. http://127.0.0.1:9464/metrics */
  url: string;
  close(): Promise<void>;
}

/**
 * Serve GET /metrics on `port` (0: any free port) of `host` (default: every interface, as Prometheus
 * exporters do; FERRY_METRICS_HOST=127.0.0.1 keeps it local). Rejects if the port is taken.
 */
export async function startMetricsServer(opts: { port: number; host?: string }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`metrics failed: ${(err as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) =>
      reject(
        new FerryError(
          ErrorType.CONFIG_INVALID,
          `metrics endpoint: cannot listen on ${opts.host ?? '*'}:${opts.port} (${err.code ?? err.message}); ` +
            `pick another FERRY_METRICS_PORT, or 0 for any free port`,
          { cause: err },
        ),
      );
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  return {
    port,
    url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Prometheus keeps its connection alive between scrapes: close would wait for it forever.
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

// Retry and wait helpers: which AWS errors a retry can fix (throttling, 5xx, network), a bounded
// exponential backoff for describe calls, and the abortable poll every wait of the adapter uses, so an
// activity can heartbeat from onProgress and cancel through its AbortSignal. No loop here gives up
// silently: each ends in a value, a DmsError, or the abort.
import { DmsError, DmsErrorType, awsErrorName, isNotFound } from './errors';

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'KMSThrottlingFault',
  'PriorRequestNotComplete',
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
]);

const TRANSIENT = new Set([
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'NetworkingError',
]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
]);

/**
 * True when retrying the same AWS call later can succeed: throttling, a 5xx or 429 answer, a
 * transient service error or a network failure. False for an abort, a DmsError that says so, and
 * everything else (access denied, invalid parameter, not found), which a retry would only repeat.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof DmsError) return err.retryable;
  if (!err || typeof err !== 'object') return false;
  const e = err as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: { throttling?: boolean };
  };
  if (e.name === 'AbortError') return false;
  const name = awsErrorName(err);
  if (name && (THROTTLING.has(name) || TRANSIENT.has(name))) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  return false;
}

export interface RetryOptions {
  /** Total attempts including the first (default 5). */
  attempts?: number;
  /** First backoff in ms, doubled each attempt with full jitter (default 500). */
  baseMs?: number;
  /** Cap of one backoff (default 20 000). */
  maxMs?: number;
  signal?: AbortSignal;
  /** Called before each backoff (for a log line or a heartbeat). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Jitter source, for tests (default Math.random). */
  random?: () => number;
}

/** Run `fn`, retrying retryable errors (isRetryable) with exponential backoff and full jitter. */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, opts.attempts ?? 5);
  const base = opts.baseMs ?? 500;
  const max = opts.maxMs ?? 20_000;
  const random = opts.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(opts.signal);
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isRetryable(err)) throw err;
      const delay = Math.round(random() * Math.min(max, base * 2 ** (attempt - 1)));
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
    }
  }
}

/** Resolves after `ms`, or rejects with DMS_ABORTED as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw aborted(signal);
}

function aborted(signal?: AbortSignal): DmsError {
  const reason =
    signal?.reason instanceof Error ? signal.reason.message : String(signal?.reason ?? 'aborted');
  return new DmsError(DmsErrorType.DMS_ABORTED, `wait cancelled: ${reason}`, { cause: signal?.reason });
}

/** Progress of a wait, for an activity heartbeat (small, JSON-safe, resumable by ARN). */
export interface WaitProgress {
  /** What is awaited, e.g. `replication instance ferry-orders`. */
  what: string;
  status: string;
  polls: number;
  elapsedMs: number;
  /** Extra facts (percent loaded, tables loading...). */
  detail?: Record<string, string | number | undefined>;
}

export interface WaitOptions {
  signal?: AbortSignal;
  onProgress?: (p: WaitProgress) => void;
  /** Delay between describes (default 15 000 ms; tests pass 1). */
  pollMs?: number;
  /** Give up with DMS_WAIT_TIMEOUT after this long (default: no deadline, the activity's own timeouts rule). */
  timeoutMs?: number;
  /** Retry options of each describe call. */
  retry?: Omit<RetryOptions, 'signal'>;
}

/**
 * Poll `describe` until `check` returns a value (done) or throws (failed); reports each status through
 * onProgress. Every describe is retried on throttling; the loop ends on abort or on the deadline.
 */
export async function poll<S, T>(
  what: string,
  describe: () => Promise<S>,
  check: (s: S) => { done: T } | { status: string; detail?: WaitProgress['detail'] },
  opts: WaitOptions = {},
): Promise<T> {
  const started = Date.now();
  const pollMs = opts.pollMs ?? 15_000;
  for (let polls = 1; ; polls++) {
    const s = await withRetry(describe, { ...opts.retry, signal: opts.signal });
    const r = check(s);
    if ('done' in r) return r.done;
    const elapsedMs = Date.now() - started;
    opts.onProgress?.({ what, status: r.status, polls, elapsedMs, ...(r.detail && { detail: r.detail }) });
    if (opts.timeoutMs !== undefined && elapsedMs + pollMs > opts.timeoutMs)
      throw new DmsError(
        DmsErrorType.DMS_WAIT_TIMEOUT,
        `${what} is still ${r.status} after ${Math.round(elapsedMs / 1000)} s (deadline ${Math.round(opts.timeoutMs / 1000)} s)`,
        { details: { status: r.status } },
      );
    await sleep(pollMs, opts.signal);
  }
}

/**
 * A describe that may find nothing: `pick` takes the one result from the answer. DMS answers a filter
 * that matches nothing with ResourceNotFoundFault (RDS with DBCluster*NotFoundFault), not an empty list:
 * both mean undefined. Other errors are retried (`withRetry`) and then thrown.
 */
export async function findOne<O, T>(
  call: () => Promise<O>,
  pick: (out: O) => T | undefined,
  retry?: RetryOptions,
): Promise<T | undefined> {
  try {
    return pick(await withRetry(call, retry));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

// Bounded parallelism and reusable sessions for the full load: runPool runs jobs with at most N at a
// time; Sessions keeps connections open between segments, so a load of a thousand small tables does
// not pay a TCP + SCRAM handshake (10-30 ms) per segment and per control-table update.
import type { Client } from 'pg';
import { type PgConnInfo, classifyPgError, connectPg } from '../connection';

/**
 * Run `worker` over `items` in order, at most `concurrency` at a time. The first failure stops new
 * jobs from starting and is rethrown once the running ones settle.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, lane: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async (id: number) => {
    while (!failure && next < items.length) {
      if (signal?.aborted) {
        failure ??= { err: signal.reason };
        return;
      }
      const item = items[next++];
      try {
        await worker(item, id);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  const lanes = Math.max(1, Math.min(Math.floor(concurrency) || 1, items.length));
  await Promise.all(Array.from({ length: lanes }, (_, i) => lane(i)));
  if (failure) throw failure.err;
}

/**
 * Idle sessions to one endpoint, opened on demand and handed out one caller at a time. A session whose
 * user failed is closed rather than reused: it may sit in an aborted transaction or a broken COPY.
 */
export class Sessions {
  private idle: Client[] = [];
  private open = new Set<Client>();
  private closed = false;

  constructor(
    readonly conn: PgConnInfo,
    private readonly applicationName: string,
    /** Session settings, run once on each new session. */
    private readonly prepare?: (c: Client) => Promise<void>,
  ) {}

  async acquire(): Promise<Client> {
    if (this.closed) throw new Error('Sessions used after close()');
    const idle = this.idle.pop();
    if (idle) return idle;
    const c = await connectPg(this.conn, this.applicationName);
    this.open.add(c);
    try {
      await this.prepare?.(c);
    } catch (err) {
      await this.discard(c);
      throw classifyPgError(err, this.conn);
    }
    return c;
  }

  /** Back to the idle list if `reusable`, else closed. */
  async release(c: Client, reusable: boolean): Promise<void> {
    if (reusable && !this.closed) this.idle.push(c);
    else await this.discard(c);
  }

  /** Run `fn` on a session; errors are classified for this endpoint. */
  async use<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await this.acquire();
    try {
      const out = await fn(c);
      await this.release(c, true);
      return out;
    } catch (err) {
      await this.release(c, false);
      throw classifyPgError(err, this.conn);
    }
  }

  private async discard(c: Client): Promise<void> {
    this.open.delete(c);
    await closeHard(c);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.idle = [];
    await Promise.all([...this.open].map((c) => this.discard(c)));
  }
}

/** A PgConnInfo (a session per call) or Sessions to reuse. */
export type Endpoint = PgConnInfo | Sessions;

export function connOf(e: Endpoint): PgConnInfo {
  return e instanceof Sessions ? e.conn : e;
}

/** Run `fn` on a session of `e`: a reused one, or a new one closed afterwards. Errors are classified. */
export async function withSession<T>(e: Endpoint, app: string, fn: (c: Client) => Promise<T>): Promise<T> {
  if (e instanceof Sessions) return e.use(fn);
  const c = await connectPg(e, app);
  try {
    return await fn(c);
  } catch (err) {
    throw classifyPgError(err, e);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export function socketOf(c: Client): { destroy(): void } | undefined {
  return (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
}

/** End a session; drop the socket if the server does not say goodbye within 3 s (a COPY mid-stream). */
export async function closeHard(c: Client): Promise<void> {
  // A socket already dropped (a broken COPY) would never answer the goodbye.
  if ((socketOf(c) as { destroyed?: boolean } | undefined)?.destroyed) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      socketOf(c)?.destroy();
      resolve();
    }, 3000);
  });
  await Promise.race([c.end().catch(() => socketOf(c)?.destroy()), late]);
  clearTimeout(timer);
}

// The sample application for the demo: a writer that keeps placing orders in the `shop` database the
// whole time the runbook runs (a new order with a line item and a payment, a price change, an event in
// the key-less log), first on the source, then, once the cutover switches it, on the target. Every
// committed order id is remembered per side, so the demo can check that none was lost either way.
//
// When the cutover freezes the source, the writer's session is ended and the database turns read-only:
// the writer counts those refusals as the application's downtime and retries until it is switched.
import { Client, type ClientConfig } from 'pg';

export type WriterSide = 'source' | 'target';

export interface WriterStats {
  /** Transactions committed on each side. */
  commits: Record<WriterSide, number>;
  /** Writes refused because the database was frozen (read-only, or the session was ended). */
  refused: number;
  /** Other errors (each retried after a pause); the last one is kept. */
  errors: number;
  lastError?: string;
  /** Order ids committed on each side, in commit order. */
  orders: Record<WriterSide, string[]>;
  /** Longest time between two commits while the writer was running (the outage the application saw). */
  longestGapMs: number;
}

/** SQLSTATEs of a frozen database: read-only transaction, admin shutdown / terminated session. */
const FROZEN = new Set(['25006', '57P01', '57P02', '57P03']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SampleAppWriter {
  private side: WriterSide = 'source';
  private running = false;
  private loop?: Promise<void>;
  private client?: Client;
  private clientSide?: WriterSide;
  private lastCommitAt?: number;
  /** The session was ended under us (the freeze terminates the application's sessions). */
  private broken = false;
  readonly stats: WriterStats = {
    commits: { source: 0, target: 0 },
    refused: 0,
    errors: 0,
    orders: { source: [], target: [] },
    longestGapMs: 0,
  };

  /** `pauseMs` between transactions (default 25 ms: about 30 orders a second on the embedded stack). */
  constructor(
    private readonly conn: Record<WriterSide, ClientConfig>,
    private readonly pauseMs = 25,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Point the application at the other database (the cutover's switch). */
  switchTo(side: WriterSide): void {
    this.side = side;
  }

  get current(): WriterSide {
    return this.side;
  }

  async stop(): Promise<WriterStats> {
    this.running = false;
    await this.loop;
    await this.disconnect();
    return this.stats;
  }

  private async disconnect(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.clientSide = undefined;
    this.broken = false;
    await c?.end().catch(() => undefined);
  }

  private async connection(): Promise<Client> {
    if (this.client && this.clientSide === this.side) return this.client;
    await this.disconnect();
    const c = new Client({ ...this.conn[this.side], application_name: 'shop-app' });
    // A terminated session errors on the client object; the next transaction reconnects.
    c.on('error', () => {
      this.broken = true;
    });
    await c.connect();
    this.client = c;
    this.clientSide = this.side;
    return c;
  }

  private async run(): Promise<void> {
    let ids: { customers: string[]; products: string[] } | undefined;
    while (this.running) {
      const side = this.side;
      try {
        const c = await this.connection();
        ids ??= await pickIds(c);
        const orderId = await placeOrder(c, ids);
        const now = Date.now();
        if (this.lastCommitAt !== undefined) {
          this.stats.longestGapMs = Math.max(this.stats.longestGapMs, now - this.lastCommitAt);
        }
        this.lastCommitAt = now;
        this.stats.commits[side]++;
        this.stats.orders[side].push(orderId);
        await sleep(this.pauseMs);
      } catch (err) {
        const code = (err as { code?: string }).code;
        const ended = this.broken || /Connection terminated|not queryable/i.test(String(err));
        if ((code && FROZEN.has(code)) || ended) this.stats.refused++;
        else {
          this.stats.errors++;
          this.stats.lastError = err instanceof Error ? err.message : String(err);
        }
        await this.disconnect();
        await sleep(100);
      }
    }
  }
}

async function pickIds(c: Client): Promise<{ customers: string[]; products: string[] }> {
  const r = await c.query<{ customers: string[]; products: string[] }>(
    `SELECT ARRAY(SELECT id::text FROM sales.customers ORDER BY id LIMIT 500) AS customers,
            ARRAY(SELECT id::text FROM inventory.products ORDER BY id LIMIT 500) AS products`,
  );
  const ids = r.rows[0];
  if (!ids.customers.length || !ids.products.length) {
    throw new Error(
      'the sample database has no customers or products: reseed it with `ferry dev up --reseed`',
    );
  }
  return ids;
}

const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)];

/** One order as the shop application places it, in one transaction; returns the order id. */
async function placeOrder(c: Client, ids: { customers: string[]; products: string[] }): Promise<string> {
  const product = pick(ids.products);
  const qty = 1 + Math.floor(Math.random() * 5);
  await c.query('BEGIN');
  try {
    const o = await c.query<{ id: string }>(
      `INSERT INTO sales.orders (customer_id, status, ordered_at, total, currency, notes)
       VALUES ($1, 'pending', now(), $2, 'EUR', 'placed by the demo application') RETURNING id::text`,
      [pick(ids.customers), (qty * 9.99).toFixed(2)],
    );
    const orderId = o.rows[0].id;
    await c.query(
      `INSERT INTO sales."Order Items" (order_id, "order", product_id, quantity, "UnitPrice")
       VALUES ($1, 1, $2, $3, 9.99)`,
      [orderId, product, qty],
    );
    await c.query(
      `INSERT INTO sales.payments (order_id, paid_at, amount, method) VALUES ($1, now(), $2, 'card')`,
      [orderId, (qty * 9.99).toFixed(2)],
    );
    await c.query(
      `UPDATE inventory.products SET "UnitPrice" = round(("UnitPrice" * 1.01)::numeric, 2), updated_at = now()
       WHERE id = $1`,
      [product],
    );
    await c.query(
      `INSERT INTO audit.events_log (occurred_at, actor, action, table_name, row_id)
       VALUES (now(), 'shop-app', 'order placed', 'sales.orders', $1)`,
      [orderId],
    );
    await c.query('COMMIT');
    return orderId;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Order ids of `ids` that `c`'s database does not hold. */
export async function missingOrders(c: Client, ids: string[]): Promise<string[]> {
  if (!ids.length) return [];
  const r = await c.query<{ id: string }>(
    `SELECT x.id::text FROM unnest($1::bigint[]) AS x(id)
     WHERE NOT EXISTS (SELECT 1 FROM sales.orders o WHERE o.id = x.id)`,
    [ids],
  );
  return r.rows.map((row) => row.id);
}

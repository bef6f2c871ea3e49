// Test fixtures for change data capture: a DMS mapping that renames, filters, drops and adds columns
// on the sample database, a writer that keeps changing the source (every kind of change, odd names,
// TOASTed values left unchanged, a partitioned table, a key-less table, TRUNCATE), and a comparison of
// the whole target with the source as the mapping says the target should hold it.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import type { FerryClient } from '../../src/client';
import { seedSampleDatabase } from '../../src/dev/seed';
import { compareLsn } from '../../src/engine/cdc/types';
import type { CdcStatus } from '../../src/workflows/definitions';
import { fingerprint, STABLE_SESSION, userTables } from './compare';
import { SAMPLE_MAPPING } from './mappings';
import { connect, freshDatabase, type TestServer, testServer } from './pg';

/**
 * The full-load tests' mapping (filter on hr.timesheets, customers renamed to clients, a column
 * removed, one added from an expression) without its schema exclusion and lower-casing, plus a
 * column rename: audit's key-less table stays in, so CDC meets REPLICA IDENTITY FULL too.
 */
export const CDC_MAPPING = {
  rules: [
    ...SAMPLE_MAPPING.rules.filter((r) => ['1', '3', '10', '11', '12'].includes(r['rule-id'])),
    {
      'rule-type': 'transformation',
      'rule-id': '20',
      'rule-name': 'price-column',
      'rule-target': 'column',
      'object-locator': { 'schema-name': 'inventory', 'table-name': 'products', 'column-name': 'UnitPrice' },
      'rule-action': 'rename',
      value: 'unit_price',
    },
  ],
};

/**
 * Target query -> the source query the mapping says it must equal. `label` is a string of length 300
 * (rule 12): the target keeps its first 300 characters, which a long run reaches (the writer appends
 * a dot to full_name at every update).
 */
const MAPPED: Record<string, string> = {
  'sales.clients': `SELECT id, external_id, email, full_name, "user", country_code, birth_date, preferences, tags,
      loyalty_points, is_active, created_at, updated_at,
      left(upper(full_name) || ' <' || country_code || '>', 300) AS label
      FROM sales.customers`,
  'hr.timesheets': `SELECT * FROM hr.timesheets WHERE work_date >= '2023-01-20'`,
};
const TARGET_SQL: Record<string, string> = {
  'sales.clients': `SELECT id, external_id, email, full_name, "user", country_code, birth_date, preferences, tags,
      loyalty_points, is_active, created_at, updated_at, label FROM sales.clients`,
};

/** A fresh sample database on the source server, ready for CDC (the key-less table gets REPLICA IDENTITY FULL). */
export async function cdcSource(label: string, scale = 1): Promise<{ server: TestServer; db: string }> {
  const server = await testServer(13);
  const db = await freshDatabase(server, label);
  const c = await connect(server, db);
  try {
    await seedSampleDatabase(c, { scale });
    await c.query('ALTER TABLE audit.events_log REPLICA IDENTITY FULL');
  } finally {
    await c.end();
  }
  return { server, db };
}

/** Every target table equals the source as mapped by CDC_MAPPING. Returns the tables compared. */
export async function assertMappedEqual(src: Client, tgt: Client): Promise<number> {
  const tables = await userTables(tgt);
  assert.ok(tables.includes('sales.clients') && !tables.includes('sales.customers'), tables.join(', '));
  const diffs: string[] = [];
  for (const t of tables) {
    const srcSql = MAPPED[t] ?? `SELECT * FROM ${t === 'sales.clients' ? 'sales.customers' : t}`;
    const tgtSql = TARGET_SQL[t] ?? `SELECT * FROM ${t}`;
    const [a, b] = [await fingerprint(src, srcSql), await fingerprint(tgt, tgtSql)];
    if (a.rows !== b.rows || a.sum !== b.sum)
      diffs.push(`${t}: source ${JSON.stringify(a)}, target ${JSON.stringify(b)}`);
  }
  assert.deepEqual(diffs, [], `tables differ:\n${diffs.join('\n')}`);
  return tables.length;
}

export interface Workload {
  /** Stop after the transaction in flight; resolves with the number of committed transactions. */
  stop(): Promise<number>;
  committed(): number;
}

/**
 * Keep changing the sample database until stopped: inserts, updates (one moving rows in and out of
 * the timesheets filter by changing their key), deletes, a key-less table, a partitioned table, an
 * unchanged TOASTed column, odd names, and a TRUNCATE now and then. `pauseMs` between transactions.
 */
export function startWorkload(server: TestServer, db: string, pauseMs = 5): Workload {
  let stopping = false;
  let txns = 0;
  const run = (async () => {
    const c = await connect(server, db);
    // A cutover's write freeze ends this session: that ends the workload, it is not a test failure.
    c.on('error', () => undefined);
    try {
      for (let i = 1; !stopping; i++) {
        await c.query('BEGIN');
        const ops = workloadStatements(i);
        for (const sql of ops) {
          await c.query('SAVEPOINT w');
          // A rare key collision of a moved row is the writer's problem, not the migration's.
          await c.query(sql).then(
            () => c.query('RELEASE SAVEPOINT w'),
            () => c.query('ROLLBACK TO SAVEPOINT w'),
          );
        }
        await c.query('COMMIT');
        txns++;
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    } finally {
      await c.end();
    }
  })();
  run.catch(() => undefined);
  return {
    async stop() {
      stopping = true;
      await run;
      return txns;
    },
    committed: () => txns,
  };
}

function workloadStatements(i: number): string[] {
  switch (i % 9) {
    case 0:
      return [
        `INSERT INTO sales.customers (external_id, email, full_name, country_code, created_at, preferences, tags)
         VALUES (md5('cdc${i}')::uuid, 'cdc${i}@example.com', 'Cdc Kunde ${i} ü', (SELECT min(code) FROM public.countries),
                 now(), '{"cdc": ${i}}', ARRAY['a', 'b ${i}'])`,
      ];
    case 1:
      return [
        `UPDATE sales.customers SET full_name = full_name || '.', loyalty_points = coalesce(loyalty_points, 0) + 1
          WHERE id IN (SELECT id FROM sales.customers ORDER BY id OFFSET ${(i * 7) % 50} LIMIT 3)`,
      ];
    case 2:
      // Into the filter's range (a later date) and out of it (an earlier one): the key changes too.
      return i % 4 === 2
        ? [
            `UPDATE hr.timesheets SET work_date = work_date + ${4000 + (i % 97)}
              WHERE (employee_id, work_date) IN (SELECT employee_id, work_date FROM hr.timesheets
                                                  WHERE work_date < '2023-01-20' ORDER BY 1, 2 LIMIT 2)`,
          ]
        : [
            `UPDATE hr.timesheets SET work_date = work_date - ${5000 + (i % 89)}
              WHERE (employee_id, work_date) IN (SELECT employee_id, work_date FROM hr.timesheets
                                                  WHERE work_date >= '2023-01-20' ORDER BY 2 DESC, 1 LIMIT 1)`,
            `UPDATE hr.timesheets SET hours = least(24, coalesce(hours, 0) + 0.25)
              WHERE (employee_id, work_date) IN (SELECT employee_id, work_date FROM hr.timesheets ORDER BY 2 DESC LIMIT 2)`,
          ];
    case 3:
      // The big body stays as it is: the change carries it as "unchanged TOAST".
      return [
        `UPDATE public.documents SET is_published = NOT coalesce(is_published, false)
          WHERE id = (SELECT id FROM public.documents ORDER BY length(body) DESC NULLS LAST, id LIMIT 1 OFFSET ${i % 5})`,
      ];
    case 4:
      return [
        `INSERT INTO "Legacy"."CustomerNotes" ("CustomerId", "NoteText", "CreatedAt", "IsPinned")
         VALUES (${i}, 'Notiz ${i} "quoted" ''x''', '2024-02-29 12:00:00.123456', ${i % 2 === 0})`,
        `DELETE FROM "Legacy"."CustomerNotes" WHERE "NoteId" = (SELECT min("NoteId") FROM "Legacy"."CustomerNotes")`,
      ];
    case 5:
      return [
        `UPDATE inventory.products SET "UnitPrice" = "UnitPrice" + 1, updated_at = now() WHERE id = ${1 + (i % 40)}`,
        `UPDATE sales."Order Items" SET quantity = quantity + 1
          WHERE (order_id, "order") IN (SELECT order_id, "order" FROM sales."Order Items" ORDER BY 1, 2 LIMIT 1 OFFSET ${i % 30})`,
      ];
    case 6:
      return [
        `INSERT INTO audit.events_log (occurred_at, actor, action, payload) VALUES ('2025-01-01', 'cdc', 'write', '{"i": 1}')`,
        `INSERT INTO audit.events_log (occurred_at, actor, action, payload) VALUES ('2025-01-01', 'cdc', 'write', '{"i": 1}')`,
        `DELETE FROM audit.events_log WHERE ctid = (SELECT ctid FROM audit.events_log WHERE actor = 'cdc' LIMIT 1)`,
      ];
    case 7:
      return [
        `UPDATE sales.payments SET amount = amount + 0.01
          WHERE (id, paid_at) IN (SELECT id, paid_at FROM sales.payments ORDER BY id LIMIT 1 OFFSET ${i % 20})`,
        `INSERT INTO sales.payments (order_id, paid_at, amount, method)
         VALUES ((SELECT min(id) FROM sales.orders), '2024-06-01'::timestamptz + ${i} * interval '1 minute', 1.5, 'card')`,
      ];
    default:
      return i % 36 === 8
        ? [
            // TRUNCATE and refill: the target must end with the refilled rows only.
            `CREATE TEMP TABLE keep_settings ON COMMIT DROP AS SELECT * FROM public.app_settings`,
            `TRUNCATE public.app_settings`,
            `INSERT INTO public.app_settings SELECT key, jsonb_build_object('after_truncate', ${i}), raw, now() FROM keep_settings`,
          ]
        : [
            `UPDATE public.app_settings SET value = jsonb_build_object('i', ${i}), updated_at = now()
              WHERE key = (SELECT key FROM public.app_settings ORDER BY key LIMIT 1 OFFSET ${i % 3})`,
          ];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll the workflow's status until `pred` holds (or fail after `ms`). */
export async function waitStatus(
  client: FerryClient,
  id: string,
  what: string,
  pred: (s: CdcStatus) => boolean,
  ms = 180_000,
): Promise<CdcStatus> {
  const until = Date.now() + ms;
  let last: CdcStatus | undefined;
  while (Date.now() < until) {
    last = await client.cdcStatus(id).catch(() => last);
    if (last && pred(last)) return last;
    if (last?.phase === 'failed') assert.fail(`CDC failed while waiting for ${what}: ${last.error}`);
    await sleep(250);
  }
  assert.fail(`timed out waiting for ${what}; last status: ${JSON.stringify(last)?.slice(0, 2000)}`);
}

/** Applied position at or past `lsn`. */
export const appliedPast = (lsn: string) => (s: CdcStatus) =>
  s.phase === 'streaming' && !!s.lag && compareLsn(s.lag.appliedLsn, lsn) >= 0 && s.lag.lagSeconds === 0;

/**
 * For a post-mortem of assertMappedEqual: the rows of one target table that differ from the source as
 * mapped, by `id` (source side, target side; undefined where the row is missing), at most `limit`.
 */
export async function mappedRowDiff(
  src: Client,
  tgt: Client,
  table: string,
  limit = 5,
): Promise<{ id: string; source?: string; target?: string }[]> {
  const srcSql = MAPPED[table] ?? `SELECT * FROM ${table === 'sales.clients' ? 'sales.customers' : table}`;
  const tgtSql = TARGET_SQL[table] ?? `SELECT * FROM ${table}`;
  const rows = async (c: Client, sql: string) => {
    await c.query(STABLE_SESSION);
    const r = await c.query<{ id: string; j: string }>(
      `SELECT (to_jsonb(q)->>'id') AS id, q::text AS j FROM (${sql}) q`,
    );
    const m = new Map<string, string[]>();
    for (const x of r.rows) m.set(x.id, [...(m.get(x.id) ?? []), x.j]);
    return m;
  };
  const [a, b] = [await rows(src, srcSql), await rows(tgt, tgtSql)];
  const out: { id: string; source?: string; target?: string }[] = [];
  for (const id of new Set([...a.keys(), ...b.keys()])) {
    const [x, y] = [(a.get(id) ?? []).sort().join('\n'), (b.get(id) ?? []).sort().join('\n')];
    if (x !== y) out.push({ id, ...(x && { source: x }), ...(y && { target: y }) });
    if (out.length >= limit) break;
  }
  return out;
}

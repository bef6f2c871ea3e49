// The sample-database seed on a real PostgreSQL 13: every feature a migration must carry is present,
// every nullable column holds NULLs, and seeding is deterministic and scales linearly.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { SAMPLE_DATABASE, seedSampleDatabase, SeedSummary } from '../../src/dev/seed';
import { connect, dropDatabase, freshDatabase, testServer, TestServer } from '../support/pg';

const MiB = 1024 * 1024;

/** Tables whose row counts follow the scale (the rest are lookups or fixed). */
const SCALED_TABLES = [
  'sales.customers',
  'sales.orders',
  'sales.Order Items',
  'sales.payments',
  'sales.invoices',
  'inventory.products',
  'inventory.stock',
  'hr.employees',
  'hr.timesheets',
  'audit.events_log',
  'Legacy.CustomerNotes',
];
const FIXED_TABLES = ['public.countries', 'hr.departments', 'inventory.categories', 'inventory.warehouses'];

const key = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;
const rowsOf = (s: SeedSummary) => new Map(s.tables.map((t) => [key(t), t.rows]));

/** md5 of each table's rows, ordered by their text form (no primary key needed). */
async function tableChecksums(c: Client, s: SeedSummary): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const t of s.tables) {
    const rel = `${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}`;
    const { rows } = await c.query<{ md5: string }>(
      `SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text COLLATE "C"), '')) AS md5 FROM ${rel} r`,
    );
    out.set(key(t), rows[0].md5);
  }
  return out;
}

describe('seedSampleDatabase (PostgreSQL 13)', function () {
  this.timeout(120_000);

  let server: TestServer;
  let c: Client;
  let summary: SeedSummary;
  const progress: string[] = [];
  const databases: string[] = [];
  let failed = false;

  async function seeded(label: string, scale: number): Promise<{ client: Client; summary: SeedSummary }> {
    const db = await freshDatabase(server, label);
    databases.push(db);
    const client = await connect(server, db);
    await client.query(`SET TimeZone = 'UTC'`);
    return { client, summary: await seedSampleDatabase(client, { scale }) };
  }

  const rows = async <T>(sql: string, params?: unknown[]): Promise<T[]> =>
    (await c.query(sql, params)).rows as T[];
  const one = async <T>(sql: string, params?: unknown[]): Promise<T> => (await rows<T>(sql, params))[0];

  before(async () => {
    server = await testServer(13);
    const db = await freshDatabase(server, 'seed');
    databases.push(db);
    c = await connect(server, db);
    await c.query(`SET TimeZone = 'UTC'`);
    summary = await seedSampleDatabase(c, { scale: 1 }, (m) => progress.push(m));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    await c?.end();
    if (failed) {
      // Not dropped, for a post-mortem while the server runs.
      console.error(
        `seed test failed; databases not dropped (port ${server?.port}): ${databases.join(', ')}`,
      );
      return;
    }
    for (const db of databases) await dropDatabase(server, db);
  });

  it('names the sample database and reports progress, exact counts and size', async () => {
    assert.equal(SAMPLE_DATABASE, 'shop');
    assert.ok(progress.length >= 20, `one progress line per step, got ${progress.length}`);
    assert.ok(progress.some((m) => m.startsWith('loaded sales."Order Items": ')));
    assert.deepEqual(summary.schemas, ['Legacy', 'audit', 'hr', 'inventory', 'public', 'sales']);
    assert.ok(summary.tables.length >= 15, `${summary.tables.length} tables`);
    for (const t of summary.tables) {
      const { n } = await one<{ n: string }>(
        `SELECT count(*) AS n FROM ${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}`,
      );
      assert.equal(t.rows, Number(n), key(t));
      assert.ok(t.rows > 0, `${key(t)} is empty`);
    }
    const { size } = await one<{ size: string }>(`SELECT pg_database_size(current_database()) AS size`);
    assert.ok(Math.abs(summary.bytes - Number(size)) < 2 * MiB, `${summary.bytes} vs ${size}`);
    assert.ok(summary.bytes > 10 * MiB && summary.bytes < 40 * MiB, `scale 1 is ${summary.bytes} bytes`);
    assert.ok(summary.seconds < 15, `seeding took ${summary.seconds} s`);
    const r = rowsOf(summary);
    assert.equal(r.get('sales.customers'), 2000);
    assert.equal(r.get('sales.orders'), 10000);
    const items = r.get('sales.Order Items')!;
    assert.ok(items > 27000 && items < 33000, `${items} order items`);
  });

  it('refuses a database that is not empty', async () => {
    await assert.rejects(seedSampleDatabase(c, { scale: 1 }), /is not empty/);
    await assert.rejects(seedSampleDatabase(c, { scale: 0.5 }), RangeError);
  });

  it('has primary keys everywhere but audit.events_log, and foreign keys between the tables', async () => {
    const noPk = await rows<{ t: string }>(
      `SELECT n.nspname || '.' || c.relname AS t
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')`,
      [summary.schemas],
    );
    assert.deepEqual(
      noPk.map((x) => x.t),
      ['audit.events_log'],
    );
    const { dups } = await one<{ dups: string }>(
      `SELECT count(*) AS dups FROM (SELECT 1 FROM audit.events_log e GROUP BY e.* HAVING count(*) > 1) d`,
    );
    assert.ok(Number(dups) > 0, 'events_log has exact duplicate rows');
    // Foreign keys on partitioned tables are cloned onto partitions; count those declared once.
    const { fks, crossSchema } = await one<{ fks: string; crossSchema: string }>(
      `SELECT count(*) AS fks,
              count(*) FILTER (WHERE c.relnamespace <> r.relnamespace) AS "crossSchema"
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
        WHERE k.contype = 'f' AND k.conparentid = 0 AND NOT c.relispartition`,
    );
    assert.ok(Number(fks) >= 15, `${fks} foreign keys`);
    assert.ok(Number(crossSchema) >= 5, `${crossSchema} foreign keys across schemas`);
  });

  it('has identifiers that need quoting, spelled exactly', async () => {
    assert.ok((await one<{ r: string | null }>(`SELECT to_regclass('sales."Order Items"')::text AS r`)).r);
    assert.ok(
      (await one<{ r: string | null }>(`SELECT to_regclass('"Legacy"."CustomerNotes"')::text AS r`)).r,
    );
    const cols = await rows<{ rel: string; col: string }>(
      `SELECT a.attrelid::regclass::text AS rel, a.attname AS col
         FROM pg_attribute a
        WHERE a.attrelid IN ('sales."Order Items"'::regclass, 'inventory.products'::regclass,
                             'sales.customers'::regclass, '"Legacy"."CustomerNotes"'::regclass)
          AND a.attnum > 0 AND NOT a.attisdropped`,
    );
    const has = (rel: string, col: string) =>
      assert.ok(
        cols.some((x) => x.rel === rel && x.col === col),
        `${rel} has column ${col}`,
      );
    has('sales."Order Items"', 'UnitPrice');
    has('sales."Order Items"', 'order');
    has('inventory.products', 'UnitPrice');
    has('inventory.products', 'größe');
    has('sales.customers', 'user');
    has('"Legacy"."CustomerNotes"', 'CustomerId');
    const { n } = await one<{ n: string }>(
      `SELECT count(*) AS n FROM pg_indexes WHERE schemaname = 'Legacy' AND indexname = 'IX_CustomerNotes_CustomerId'`,
    );
    assert.equal(Number(n), 1);
  });

  it('stores text with quotes, tabs, CR/LF, backslashes and a COPY end marker line', async () => {
    const found = await one<Record<string, boolean>>(
      `SELECT bool_or(strpos("NoteText", chr(9)) > 0) AS tab,
              bool_or(strpos("NoteText", chr(10)) > 0) AS lf,
              bool_or(strpos("NoteText", chr(13)) > 0) AS cr,
              bool_or(strpos("NoteText", chr(92)) > 0) AS backslash,
              bool_or(strpos("NoteText", '"') > 0) AS dquote,
              bool_or(strpos("NoteText", '''') > 0) AS squote,
              bool_or(strpos("NoteText", chr(10) || chr(92) || '.' || chr(10)) > 0) AS copy_marker,
              bool_or("NoteText" LIKE '%🙂%') AS emoji
         FROM "Legacy"."CustomerNotes"`,
    );
    for (const [what, ok] of Object.entries(found)) assert.ok(ok, `a note contains ${what}`);
  });

  it('has an enum, domains and every data type the migration must carry', async () => {
    const labels = await rows<{ l: string }>(
      `SELECT enumlabel AS l FROM pg_enum WHERE enumtypid = 'sales.order_status'::regtype ORDER BY enumsortorder`,
    );
    assert.deepEqual(
      labels.map((x) => x.l),
      ['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'],
    );
    const { domains } = await one<{ domains: string[] }>(
      `SELECT array_agg(t.oid::regtype::text ORDER BY t.oid::regtype::text COLLATE "C") AS domains FROM pg_type t
        WHERE t.typtype = 'd' AND t.typnamespace IN ('sales'::regnamespace, 'public'::regnamespace)`,
    );
    assert.deepEqual(domains, ['money_amount', 'sales.email']);
    const types = new Set(
      (
        await rows<{ t: string }>(
          `SELECT DISTINCT format_type(a.atttypid, a.atttypmod) AS t
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped`,
          [summary.schemas],
        )
      ).map((x) => x.t),
    );
    for (const t of [
      'jsonb',
      'json',
      'text[]',
      'integer[]',
      'numeric(12,2)',
      'numeric',
      'timestamp with time zone',
      'timestamp without time zone',
      'date',
      'uuid',
      'boolean',
      'bytea',
      'sales.order_status',
      'sales.email',
      'money_amount',
      'inet',
      'interval',
      'time without time zone',
      'double precision',
    ]) {
      assert.ok(types.has(t), `a column of type ${t} (have ${[...types].sort().join(', ')})`);
    }
    const num = await one<{ scale: number; nan: boolean; huge: boolean }>(
      `SELECT (SELECT max(scale(exchange_rate)) FROM sales.payments WHERE exchange_rate <> 'NaN') AS scale,
              (SELECT bool_or(weight_kg = 'NaN') FROM inventory.products) AS nan,
              (SELECT bool_or(weight_kg > 1e29) FROM inventory.products) AS huge`,
    );
    assert.ok(num.scale >= 30, `exchange_rate has ${num.scale} decimals`);
    assert.ok(num.nan && num.huge);
    const { generated } = await one<{ generated: string }>(
      `SELECT attgenerated AS generated FROM pg_attribute
        WHERE attrelid = 'sales."Order Items"'::regclass AND attname = 'line_total'`,
    );
    assert.equal(generated, 's');
  });

  it('has bytea over 1 MiB and text over 64 KiB, stored out of line (TOAST)', async () => {
    const b = await one<{ big: string; max: string; toast: string }>(
      `SELECT count(*) FILTER (WHERE octet_length(content) > ${MiB}) AS big, max(octet_length(content)) AS max,
              pg_relation_size((SELECT reltoastrelid FROM pg_class WHERE oid = 'inventory.product_images'::regclass)) AS toast
         FROM inventory.product_images`,
    );
    assert.ok(Number(b.big) >= 3, `${b.big} images over 1 MiB`);
    assert.ok(Number(b.max) <= 2 * MiB, `largest image ${b.max} bytes`);
    assert.ok(Number(b.toast) > 3 * MiB, `TOAST of product_images is ${b.toast} bytes`);
    const { long } = await one<{ long: string }>(
      `SELECT count(*) AS long FROM public.documents WHERE octet_length(body) > 65536`,
    );
    assert.ok(Number(long) >= 3, `${long} documents over 64 KiB`);
  });

  it('has NULLs in every nullable column of every table', async () => {
    const cols = await rows<{ rel: string; col: string }>(
      `SELECT c.oid::regclass::text AS rel, a.attname AS col
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND NOT a.attnotnull
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1)
        ORDER BY 1, 2`,
      [summary.schemas],
    );
    assert.ok(cols.length > 80, `${cols.length} nullable columns`);
    const withoutNulls: string[] = [];
    for (const { rel, col } of cols) {
      const { n } = await one<{ n: string }>(
        `SELECT count(*) AS n FROM ${rel} WHERE ${c.escapeIdentifier(col)} IS NULL`,
      );
      if (Number(n) === 0) withoutNulls.push(`${rel}.${col}`);
    }
    assert.deepEqual(withoutNulls, []);
  });

  it('has a range-partitioned table with yearly partitions and a default one, all filled', async () => {
    const { kind } = await one<{ kind: string }>(
      `SELECT relkind AS kind FROM pg_class WHERE oid = 'sales.payments'::regclass`,
    );
    assert.equal(kind, 'p');
    const parts = await rows<{ name: string; bound: string; n: string }>(
      `SELECT c.oid::regclass::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound,
              (SELECT count(*) FROM sales.payments p WHERE p.tableoid = c.oid) AS n
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'sales.payments'::regclass ORDER BY 1`,
    );
    assert.ok(parts.filter((p) => p.bound.startsWith('FOR VALUES FROM')).length >= 3);
    assert.ok(parts.some((p) => p.bound === 'DEFAULT'));
    for (const p of parts) assert.ok(Number(p.n) > 0, `${p.name} is empty`);
  });

  it('has identity columns, serials and an explicit sequence, all ahead of the data', async () => {
    const ident = await rows<{ col: string; kind: string }>(
      `SELECT attrelid::regclass || '.' || attname AS col, attidentity AS kind
         FROM pg_attribute WHERE attidentity <> '' ORDER BY 1`,
    );
    assert.ok(ident.some((x) => x.kind === 'a') && ident.some((x) => x.kind === 'd'), JSON.stringify(ident));
    const { def } = await one<{ def: string }>(
      `SELECT pg_get_expr(d.adbin, d.adrelid) AS def FROM pg_attrdef d
         JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE d.adrelid = 'sales.orders'::regclass AND a.attname = 'id'`,
    );
    assert.match(def, /nextval\('sales\.order_number_seq'/);
    // Every sequence's last value is at least the largest value of the column it feeds.
    const seqs = await rows<{ seq: string; rel: string; col: string; last: string | null }>(
      `SELECT s.oid::regclass::text AS seq, t.oid::regclass::text AS rel, a.attname AS col, q.last_value AS last
         FROM pg_class s JOIN pg_sequences q ON q.schemaname = s.relnamespace::regnamespace::text
                                              AND q.sequencename = s.relname
         JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refobjsubid > 0
                         AND d.deptype IN ('a', 'i')
         JOIN pg_class t ON t.oid = d.refobjid
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        WHERE s.relkind = 'S'`,
    );
    assert.ok(seqs.length >= 10, `${seqs.length} owned sequences`);
    for (const s of seqs) {
      const { max } = await one<{ max: string | null }>(
        `SELECT max(${c.escapeIdentifier(s.col)}) AS max FROM ${s.rel}`,
      );
      assert.ok(
        max !== null && s.last !== null && BigInt(s.last) >= BigInt(max),
        `${s.seq}: ${s.last} < ${max}`,
      );
    }
    // Defaults hand out fresh ids.
    await c.query('BEGIN');
    try {
      const cust = await one<{ id: string }>(
        `INSERT INTO sales.customers (external_id, full_name, created_at)
         VALUES (md5('new')::uuid, 'New Customer', now()) RETURNING id`,
      );
      const order = await one<{ id: string }>(
        `INSERT INTO sales.orders (customer_id, ordered_at) VALUES ($1, now()) RETURNING id`,
        [cust.id],
      );
      const img = await one<{ id: string }>(
        `INSERT INTO inventory.product_images (product_id, content) VALUES (1, '\\x00') RETURNING id`,
      );
      assert.equal(Number(cust.id), 2001);
      assert.equal(Number(order.id), 10001);
      assert.ok(Number(img.id) > (3 + 500) * 10);
    } finally {
      await c.query('ROLLBACK');
    }
  });

  it('has views (one joining tables), a materialized view, constraints, indexes, a trigger and comments', async () => {
    const views = await rows<{ name: string; kind: string }>(
      `SELECT c.oid::regclass::text AS name, c.relkind AS kind
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY($1) ORDER BY 1`,
      [summary.schemas],
    );
    assert.deepEqual(views, [
      { name: 'inventory.product_stock', kind: 'v' },
      { name: 'sales.active_customers', kind: 'v' },
      { name: 'sales.monthly_revenue', kind: 'm' },
      { name: 'sales.order_summary', kind: 'v' },
    ]);
    const { summaryRows } = await one<{ summaryRows: string }>(
      `SELECT count(*) AS "summaryRows" FROM sales.order_summary`,
    );
    assert.equal(Number(summaryRows), rowsOf(summary).get('sales.orders'));
    const { months } = await one<{ months: string }>(`SELECT count(*) AS months FROM sales.monthly_revenue`);
    assert.ok(Number(months) >= 40, `${months} months of revenue`);

    const k = await one<{ checks: string; uniques: string }>(
      `SELECT count(*) FILTER (WHERE contype = 'c' AND conrelid <> 0) AS checks,
              count(*) FILTER (WHERE contype = 'u') AS uniques
         FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
        WHERE n.nspname = ANY($1) AND k.conparentid = 0`,
      [summary.schemas],
    );
    assert.ok(Number(k.checks) >= 8, `${k.checks} check constraints`);
    assert.ok(Number(k.uniques) >= 5, `${k.uniques} unique constraints`);
    const idx = await rows<{ name: string; method: string }>(
      `SELECT i.indexrelid::regclass::text AS name, am.amname AS method
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT i.indisprimary AND NOT i.indisunique AND n.nspname = ANY($1)`,
      [summary.schemas],
    );
    assert.ok(idx.some((x) => x.name === 'inventory.products_attributes_gin' && x.method === 'gin'));
    assert.ok(idx.filter((x) => x.method === 'btree').length >= 5, JSON.stringify(idx));

    const triggers = await rows<{ tg: string; lang: string }>(
      `SELECT t.tgrelid::regclass || ':' || t.tgname AS tg, l.lanname AS lang
         FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_language l ON l.oid = p.prolang
        WHERE NOT t.tgisinternal ORDER BY 1`,
    );
    assert.deepEqual(triggers, [
      { tg: 'inventory.products:log_price_change', lang: 'plpgsql' },
      { tg: 'sales.customers:touch_updated_at', lang: 'plpgsql' },
    ]);
    assert.ok(rowsOf(summary).get('audit.price_changes')! > 100, 'the trigger logged the repricing');

    const comments = await one<{ t: string | null; col: string | null }>(
      `SELECT obj_description('sales."Order Items"'::regclass, 'pg_class') AS t,
              col_description('sales.customers'::regclass,
                              (SELECT attnum FROM pg_attribute WHERE attrelid = 'sales.customers'::regclass
                                  AND attname = 'user')::int) AS col`,
    );
    assert.match(comments.t ?? '', /line/);
    assert.match(comments.col ?? '', /reserved word/);
  });

  describe('reseeding', () => {
    // Both seeds run at once (each on its own connection and backend) to keep the file's run time down.
    let again: { client: Client; summary: SeedSummary };
    let two: { client: Client; summary: SeedSummary };
    before(async () => {
      [again, two] = await Promise.all([seeded('seed_again', 1), seeded('seed_scale2', 2)]);
    });
    after(async () => {
      await again?.client.end();
      await two?.client.end();
    });

    it('is deterministic: a second seed at scale 1 has the same rows, table by table', async () => {
      assert.deepEqual(again.summary.tables, summary.tables);
      assert.deepEqual(await tableChecksums(again.client, again.summary), await tableChecksums(c, summary));
    });

    it('scale 2 doubles the scaled tables and keeps the lookups', () => {
      const r1 = rowsOf(summary);
      const r2 = rowsOf(two.summary);
      for (const t of SCALED_TABLES) {
        const ratio = r2.get(t)! / r1.get(t)!;
        assert.ok(ratio > 1.9 && ratio < 2.1, `${t}: ${r1.get(t)} -> ${r2.get(t)}`);
      }
      for (const t of FIXED_TABLES) assert.equal(r2.get(t), r1.get(t), t);
      assert.ok(two.summary.bytes > summary.bytes);
    });
  });
});

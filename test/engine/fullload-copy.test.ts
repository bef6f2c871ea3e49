// The full load's building blocks on real servers: odd names and awkward values through binary and text
// COPY, a plan with renames, casts, added columns and a filter, LOB truncation, TargetTablePrepMode.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import type { PgConnInfo } from '../../src/engine/connection';
import {
  copySegment,
  createPostData,
  createPreData,
  ensureControlTables,
  planSegments,
  runFullLoadLocal,
  syncSequences,
} from '../../src/engine/fullload';
import { FerryError } from '../../src/errors';
import type { MigrationPlan, SourceCatalog, TablePlan } from '../../src/mapping/types';
import { dropDatabase } from '../support/pg';
import {
  Leftovers,
  STABLE_TEXT,
  assertSameRows,
  catalogTable,
  fingerprint,
  identityPlan,
  settings,
  tablePlan,
  openPair,
} from './fixtures/fullload';

const ODD = `
CREATE SCHEMA "Odd ""Schema"" ü";
CREATE TYPE "Odd ""Schema"" ü"."Mood" AS ENUM ('sad', 'ok', 'happy ''quoted''');
CREATE TYPE "Odd ""Schema"" ü".pair AS (a int, b text);
CREATE TYPE "Odd ""Schema"" ü".span AS RANGE (subtype = float8);
CREATE DOMAIN "Odd ""Schema"" ü".pos AS int CHECK (VALUE > 0);
CREATE TABLE "Odd ""Schema"" ü"."Tab le ""Ä""" (
  "select" int PRIMARY KEY,
  "Mixed Case" text,
  "naïve" text,
  "a""b" numeric,
  "user" text,
  f8 float8, f4 real, d date, ts timestamp, tstz timestamptz, iv interval, t time, ttz timetz,
  ints int[], texts text[], moods "Odd ""Schema"" ü"."Mood"[], mood "Odd ""Schema"" ü"."Mood",
  j jsonb, js json, p "Odd ""Schema"" ü".pair, s "Odd ""Schema"" ü".span, ps "Odd ""Schema"" ü".pos,
  u uuid, ip inet, bits bit varying(8), x xml, tsv tsvector, b bytea, r int4range, pt point
);
INSERT INTO "Odd ""Schema"" ü"."Tab le ""Ä""" VALUES
  (1, 'Grüße 日本 🚀', 'naïve', 'NaN', 'select', 'NaN', '-Infinity', 'infinity', '-infinity', 'infinity', '-1 year 2 mons 3 days 04:05:06.789',
   '24:00', '23:59:59.999999+14',
   '{1,NULL,3}', '{"a,b","c\\"d","",NULL,"NULL"}', '{sad,"happy ''quoted''"}', 'happy ''quoted''',
   '{"k": [1, 2.50, "x\\u00e9y"], "n": null}', '{"b": 1, "a": 2, "b": 3}', ROW(1, 'x"y'), '[1.5,2.5)', 7,
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', B'101', '<a x="1">t</a>', 'a fat cat', '\\x00ff5c27', '[1,5)', '(1.5,-2)'),
  (2, E'tab\\there\\nnew line\\r\\\\ back \\\\.', '', 0.1, NULL, 'Infinity', 3.4e38, '-infinity', 'infinity', '-infinity', '0',
   '00:00', '00:00+00', '{}', '{}', '{}', 'sad', '[]', 'null', ROW(NULL, NULL), 'empty', NULL,
   NULL, NULL, NULL, NULL, '', 'a''b', NULL, NULL),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE INDEX "IX ""Mixed"" Case" ON "Odd ""Schema"" ü"."Tab le ""Ä""" ("Mixed Case" DESC NULLS LAST, "naïve");
CREATE UNIQUE INDEX ON "Odd ""Schema"" ü"."Tab le ""Ä""" ("user") WHERE "user" IS NOT NULL;
ALTER TABLE "Odd ""Schema"" ü"."Tab le ""Ä""" ADD CONSTRAINT "check ""a""" CHECK ("a""b" <> 42);
CREATE TABLE "Odd ""Schema"" ü"."Child" ("id" serial PRIMARY KEY, "Parent" int REFERENCES "Odd ""Schema"" ü"."Tab le ""Ä""" ("select"));
INSERT INTO "Odd ""Schema"" ü"."Child" ("Parent") VALUES (1), (2), (NULL);
CREATE TABLE public.plain (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n numeric(20,5), f float8, t text, ts timestamptz, a int[]);
INSERT INTO public.plain (n, f, t, ts, a)
SELECT g * 1.00001, g / 7.0, repeat(md5(g::text), 1 + g % 5), timestamptz '2024-01-01' + g * interval '1 minute', ARRAY[g, -g]
  FROM generate_series(1, 5000) g;
CREATE TABLE public.big (id int PRIMARY KEY, b bytea NOT NULL);
ALTER TABLE public.big ALTER COLUMN b SET STORAGE EXTERNAL;
INSERT INTO public.big SELECT 1, decode(repeat(md5('x') || md5('y'), 1638400), 'hex');
ANALYZE;
`;

const SHOP = `
CREATE SCHEMA shop;
CREATE TABLE shop.items (id int PRIMARY KEY, "Name" text NOT NULL, price numeric(10,2) CHECK (price > 0), secret text,
                         qty int NOT NULL, created date, cat text);
INSERT INTO shop.items
SELECT g, 'Item ' || g, g * 1.25, md5(g::text), g % 10, date '2024-01-01' + g, CASE WHEN g % 7 = 0 THEN 'x''y' ELSE 'c' || g % 3 END
  FROM generate_series(1, 1000) g;
CREATE INDEX items_name_idx ON shop.items ("Name");
CREATE INDEX items_lower_name_idx ON shop.items (lower("Name"));
CREATE INDEX items_qty_idx ON shop.items (qty) INCLUDE (cat);
CREATE TABLE shop.lobs (id int PRIMARY KEY, t text, b bytea, j jsonb, short text);
INSERT INTO shop.lobs
SELECT g, repeat('é', 500 * g), decode(repeat('ab', 600 * g), 'hex'),
       jsonb_build_object('pad', repeat('z', 700 * g)), 'short'
  FROM generate_series(1, 6) g;
CREATE TABLE shop.bookings (id int PRIMARY KEY, room int NOT NULL, during tsrange NOT NULL, code text,
  CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&) WHERE (room > 0),
  CONSTRAINT code_unique UNIQUE (code) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO shop.bookings
SELECT g, g % 5, tsrange(timestamp '2024-01-01' + g * interval '1 day', timestamp '2024-01-01' + g * interval '1 day' + interval '2 hours'), 'B' || g
  FROM generate_series(1, 300) g;
CREATE TABLE shop.events (id int NOT NULL, at date NOT NULL, kind text, CONSTRAINT events_id_at UNIQUE (id, at)) PARTITION BY RANGE (at);
CREATE TABLE shop.events_2024 PARTITION OF shop.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.events_rest PARTITION OF shop.events DEFAULT;
CREATE INDEX events_2024_kind_idx ON shop.events_2024 (kind);
INSERT INTO shop.events SELECT g, date '2023-10-01' + g, 'k' || g % 3 FROM generate_series(1, 600) g;
CREATE TABLE shop.prep (id int PRIMARY KEY, v text);
INSERT INTO shop.prep SELECT g, 'v' || g FROM generate_series(1, 10) g;
ANALYZE;
`;

describe('engine/fullload: copy, schema and plans on PostgreSQL 13 → 15', function () {
  this.timeout(300_000);
  let source: PgConnInfo;
  let target: PgConnInfo;
  let src: Client;
  let dst: Client;
  let catalog: SourceCatalog;
  const left = new Leftovers();

  before(async () => {
    ({ source, target, src, dst } = await openPair('fullload_copy', left));
    await src.query(ODD);
    await src.query(SHOP);
    catalog = await readSourceCatalog(source);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await src?.end();
    await dst?.end();
    await left.cleanup(dropDatabase);
  });

  const odd = () => ({
    ...identityPlan(catalog),
    tables: identityPlan(catalog).tables.filter((t) => t.source.schema !== 'shop'),
  });

  it('copies odd names and awkward values exactly, text format where binary cannot carry the types', async () => {
    const plan = odd();
    const report = await runFullLoadLocal({
      migration: 'odd',
      source,
      target,
      plan,
      catalog,
      concurrency: 2,
    });
    await assertSameRows(src, dst, { ...plan, tables: plan.tables.filter((t) => t.source.name !== 'big') });
    const tab = report.tables.find((t) => t.source.includes('Tab le'))!;
    assert.equal(tab.format, 'text');
    assert.match(tab.formatReason ?? '', /"moods".*array of a user-defined type/);
    assert.match(tab.formatReason ?? '', /"p".*composite/);
    assert.equal(report.tables.find((t) => t.source === 'public.plain')!.format, 'binary');
    assert.ok(report.findings.some((f) => f.severity === 'info' && /text format/.test(f.message)));
    // The types exist on the target under their source names; the enum keeps its label order.
    const { rows: labels } = await dst.query(
      `SELECT array_agg(enumlabel::text ORDER BY enumsortorder) AS l FROM pg_enum WHERE enumtypid = '"Odd ""Schema"" ü"."Mood"'::regtype`,
    );
    assert.deepEqual(labels[0].l, ['sad', 'ok', "happy 'quoted'"]);
    // Indexes, the partial unique index, the check and the foreign key with odd names.
    const { rows: idx } = await dst.query<{ d: string }>(
      `SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = '"Odd ""Schema"" ü"."Tab le ""Ä"""'::regclass ORDER BY 1`,
    );
    const { rows: srcIdx } = await src.query<{ d: string }>(
      `SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = '"Odd ""Schema"" ü"."Tab le ""Ä"""'::regclass ORDER BY 1`,
    );
    assert.deepEqual(idx, srcIdx);
    assert.equal(idx.length, 3);
    const { rows: cons } = await dst.query<{ n: string }>(
      `SELECT conname AS n FROM pg_constraint WHERE connamespace = '"Odd ""Schema"" ü"'::regnamespace ORDER BY 1`,
    );
    assert.deepEqual(
      cons.map((r) => r.n),
      ['Child_Parent_fkey', 'Child_pkey', 'Tab le "Ä"_pkey', 'check "a"', 'pos_check'],
    );
    // The 50 MB bytea row, streamed through binary COPY.
    const sum = `SELECT md5(b) AS m, length(b) AS n FROM public.big`;
    assert.deepEqual((await dst.query(sum)).rows, (await src.query(sum)).rows);
    assert.equal((await dst.query(sum)).rows[0].n, 52_428_800);
    // Identity ALWAYS values were copied as they were, and the sequences follow.
    assert.deepEqual(await fingerprint(dst, 'public', 'plain'), await fingerprint(src, 'public', 'plain'));
    const { rows: next } = await dst.query(`INSERT INTO public.plain (t) VALUES ('new') RETURNING id`);
    assert.equal(next[0].id, '5001');
    const { rows: child } = await dst.query(
      `INSERT INTO "Odd ""Schema"" ü"."Child" ("Parent") VALUES (1) RETURNING id`,
    );
    assert.equal(child[0].id, 4);
  });

  /** shop.items: renamed table and columns, a removed column, a cast, computed columns, a filter. */
  function mappedPlan(): MigrationPlan {
    const items = catalogTable(catalog, 'shop', 'items');
    const table: TablePlan = {
      ...tablePlan(items),
      target: { schema: 'renamed', name: 'goods' },
      columns: [
        { source: 'id', target: 'item_id', type: 'integer', nullable: false, rules: ['1'] },
        { source: 'Name', target: 'name', type: 'text', nullable: false, rules: ['2'] },
        {
          source: 'price',
          target: 'price_cents',
          type: 'bigint',
          expression: '"price" * 100',
          nullable: true,
          rules: ['3'],
        },
        { source: 'qty', target: 'qty', type: 'integer', nullable: false, rules: [] },
        {
          target: 'label',
          type: 'character varying(40)',
          expression: `'#' || "id"::text || ' ' || "Name"`,
          nullable: true,
          rules: ['4'],
        },
        {
          source: 'created',
          target: 'created_text',
          type: 'text',
          expression: '"created"::text',
          nullable: true,
          rules: ['5'],
        },
        { source: 'cat', target: 'cat', type: 'text', nullable: true, rules: [] },
      ],
      primaryKey: ['item_id'],
      removedColumns: [{ source: 'secret', reason: 'remove-column', rule: '6' }],
      filter: { sql: `"qty" >= $1::integer AND "cat" <> $2`, params: ['3', "x'y"], columns: ['qty', 'cat'] },
      segments: { method: 'pk-range', count: 3, columns: ['id'] },
    };
    return { tables: [table], skipped: [], settings: settings(), findings: [] };
  }

  it('loads exactly the mapped rows: renames, removed and computed columns, a cast, a filter', async () => {
    const plan = mappedPlan();
    const table = plan.tables[0];
    const pre = await createPreData({ migration: 'mapped', source, target, plan, catalog });
    assert.deepEqual(
      pre.tables.map((t) => [t.source, t.target, t.action]),
      [['shop.items', 'renamed.goods', 'created']],
    );
    assert.ok(pre.schemas.includes('renamed'));
    const segments = await planSegments(source, undefined, table, catalogTable(catalog, 'shop', 'items'));
    assert.equal(segments.length, 3);
    let rows = 0;
    for (const segment of segments) {
      const r = await copySegment({ migration: 'mapped', source, target, table, segment });
      assert.equal(r.format, 'binary');
      rows += r.rows;
    }
    const expected = await src.query(
      `SELECT id, "Name", (price * 100)::bigint AS p, qty, ('#' || id::text || ' ' || "Name")::varchar(40) AS l, created::text AS c, cat
         FROM shop.items WHERE qty >= 3 AND cat <> 'x''y' ORDER BY id`,
    );
    const actual = await dst.query(
      `SELECT item_id, name, price_cents, qty, label, created_text, cat FROM renamed.goods ORDER BY item_id`,
    );
    assert.equal(rows, expected.rowCount);
    assert.ok(rows > 500 && rows < 1000);
    assert.deepEqual(actual.rows.map(Object.values), expected.rows.map(Object.values));

    const post = await createPostData({ migration: 'mapped', source, target, plan, catalog, concurrency: 2 });
    assert.equal(post.primaryKeys, 1);
    const { rows: idx } = await dst.query<{ d: string }>(
      `SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = 'renamed.goods'::regclass ORDER BY 1`,
    );
    assert.deepEqual(
      idx.map((r) => r.d),
      [
        'CREATE INDEX items_name_idx ON renamed.goods USING btree (name)',
        'CREATE INDEX items_qty_idx ON renamed.goods USING btree (qty) INCLUDE (cat)',
        'CREATE UNIQUE INDEX items_pkey ON renamed.goods USING btree (item_id)',
      ],
    );
    // Refused rather than rewritten as text: the expression index and the check on a renamed/removed column.
    assert.ok(post.findings.some((f) => /items_lower_name_idx.*renamed column/.test(f.message)));
    assert.ok(post.findings.some((f) => /items_price_check/.test(f.message)));
    const seq = await syncSequences(source, target, plan);
    assert.equal(seq.sequences, 0);
  });

  it('post-data: exclusion, deferrable unique, a partitioned unique key and a partition index, renamed', async () => {
    const bookings = tablePlan(catalogTable(catalog, 'shop', 'bookings'));
    const events = catalogTable(catalog, 'shop', 'events');
    const renamed = tablePlan(events, {
      target: { schema: 'shop', name: 'happenings' },
      columns: tablePlan(events).columns.map((c) => (c.source === 'kind' ? { ...c, target: 'category' } : c)),
    });
    const plan: MigrationPlan = {
      tables: [bookings, renamed],
      skipped: [],
      settings: settings(),
      findings: [],
    };
    const r = await runFullLoadLocal({ migration: 'post', source, target, plan, catalog, concurrency: 2 });
    assert.deepEqual(
      r.findings.filter((f) => f.severity !== 'info'),
      [],
    );
    assert.equal(r.rows, 900);
    const defs = async (c: Client, tables: string[]) =>
      (
        await c.query<{ d: string }>(
          `SELECT conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint
            WHERE conrelid = ANY ($1::regclass[]) ORDER BY 1`,
          [tables],
        )
      ).rows.map((x) => x.d);
    assert.deepEqual(await defs(dst, ['shop.bookings']), await defs(src, ['shop.bookings']));
    assert.deepEqual(await defs(dst, ['shop.happenings', 'shop.events_2024', 'shop.events_rest']), [
      'events_2024_id_at_key UNIQUE (id, at)',
      'events_id_at UNIQUE (id, at)',
      'events_rest_id_at_key UNIQUE (id, at)',
    ]);
    const { rows } = await dst.query(`SELECT pg_get_indexdef('shop.events_2024_kind_idx'::regclass) AS d`);
    assert.equal(rows[0].d, 'CREATE INDEX events_2024_kind_idx ON shop.events_2024 USING btree (category)');
    const { rows: parts } = await dst.query(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'shop.happenings'::regclass`,
    );
    assert.equal(parts[0].n, 2);
    assert.equal(r.postData.exclusionConstraints, 1);
    assert.equal(r.postData.uniqueConstraints, 2);
  });

  it('truncates LOBs above the limit in limited LOB mode and counts them', async () => {
    const lobs = catalogTable(catalog, 'shop', 'lobs');
    const table = tablePlan(lobs, { lob: { mode: 'limited', maxBytes: 2000 } });
    const plan: MigrationPlan = { tables: [table], skipped: [], settings: settings(), findings: [] };
    await createPreData({ migration: 'lobs', source, target, plan, catalog });
    const [segment] = await planSegments(source, undefined, table, lobs);
    const r = await copySegment({ migration: 'lobs', source, target, table, segment });
    // text: 500·g characters vs 1000 (2 bytes a character); bytea: 600·g bytes vs 2000; jsonb: 700·g + 11 bytes.
    assert.deepEqual(r.truncated, { t: 4, b: 3, j: 4 });
    const { rows } = await dst.query(
      `SELECT id, length(t) AS t, length(b) AS b, j IS NULL AS jnull, short FROM shop.lobs ORDER BY id`,
    );
    assert.deepEqual(
      rows.map((x) => [x.id, x.t, x.b, x.jnull, x.short]),
      [
        [1, 500, 600, false, 'short'],
        [2, 1000, 1200, false, 'short'],
        [3, 1000, 1800, true, 'short'],
        [4, 1000, 2000, true, 'short'],
        [5, 1000, 2000, true, 'short'],
        [6, 1000, 2000, true, 'short'],
      ],
    );
    const { rows: prefix } = await dst.query(
      `SELECT t = repeat('é', 1000) AS ok FROM shop.lobs WHERE id = 6`,
    );
    assert.equal(prefix[0].ok, true);
  });

  describe('TargetTablePrepMode', () => {
    const prep = (mode: 'DO_NOTHING' | 'DROP_AND_CREATE' | 'TRUNCATE_BEFORE_LOAD'): MigrationPlan => ({
      tables: [tablePlan(catalogTable(catalog, 'shop', 'prep'))],
      skipped: [],
      settings: settings({ targetTablePrepMode: mode }),
      findings: [],
    });
    const load = (mode: Parameters<typeof prep>[0], migration: string) =>
      runFullLoadLocal({ migration, source, target, plan: prep(mode), catalog, concurrency: 1 });
    const count = async () => Number((await dst.query(`SELECT count(*) AS n FROM shop.prep`)).rows[0].n);

    beforeEach(async () => {
      await dst.query(`CREATE SCHEMA IF NOT EXISTS shop; DROP TABLE IF EXISTS shop.prep`);
      await dst.query(
        `CREATE TABLE shop.prep (id int, v text, extra text); INSERT INTO shop.prep VALUES (1001, 'kept', 'x'), (1002, 'kept', 'y')`,
      );
    });

    it('DO_NOTHING keeps the table and its rows, and adds the loaded ones', async () => {
      const r = await load('DO_NOTHING', 'prep-nothing');
      assert.equal(r.preData.tables[0].action, 'kept');
      assert.equal(await count(), 12);
    });

    it('DO_NOTHING refuses a kept table whose columns do not match, naming each problem', async () => {
      await dst.query(
        `ALTER TABLE shop.prep ALTER COLUMN v TYPE int USING NULL, ADD COLUMN must int NOT NULL DEFAULT 0`,
      );
      await dst.query(`ALTER TABLE shop.prep ALTER COLUMN must DROP DEFAULT`);
      await assert.rejects(load('DO_NOTHING', 'prep-mismatch'), (e: unknown) => {
        assert.ok(e instanceof FerryError);
        assert.equal(e.type, 'SCHEMA_MISMATCH');
        assert.equal(e.retryable, false);
        assert.match(e.message, /shop\.prep\."v" is not of type text/);
        assert.match(e.message, /shop\.prep\."must" is NOT NULL without a default/);
        return true;
      });
    });

    it('TRUNCATE_BEFORE_LOAD empties the kept table first', async () => {
      const r = await load('TRUNCATE_BEFORE_LOAD', 'prep-truncate');
      assert.equal(r.preData.tables[0].action, 'truncated');
      assert.equal(await count(), 10);
      const { rows } = await dst.query(`SELECT count(extra) AS n FROM shop.prep`);
      assert.equal(rows[0].n, '0');
    });

    it('DROP_AND_CREATE recreates it from the plan', async () => {
      const r = await load('DROP_AND_CREATE', 'prep-drop');
      assert.equal(r.preData.tables[0].action, 'recreated');
      assert.equal(await count(), 10);
      const { rows } = await dst.query(
        `SELECT attname FROM pg_attribute WHERE attrelid = 'shop.prep'::regclass AND attnum > 0 ORDER BY attnum`,
      );
      assert.deepEqual(
        rows.map((x) => x.attname),
        ['id', 'v'],
      );
      assert.deepEqual(await fingerprint(dst, 'shop', 'prep'), await fingerprint(src, 'shop', 'prep'));
    });
  });

  it('a selected view is loaded into a table, as DMS does', async () => {
    await src.query(
      `CREATE VIEW shop.cheap AS SELECT id, "Name" AS name, price FROM shop.items WHERE price < 100`,
    );
    const withView = await readSourceCatalog(source);
    const view = catalogTable(withView, 'shop', 'cheap');
    assert.equal(view.kind, 'view');
    const plan: MigrationPlan = {
      tables: [tablePlan(view, { target: { schema: 'shop', name: 'cheap_rows' } })],
      skipped: [],
      settings: settings(),
      findings: [],
    };
    const r = await runFullLoadLocal({
      migration: 'view',
      source,
      target,
      plan,
      catalog: withView,
      concurrency: 1,
    });
    assert.equal(r.rows, 79);
    const expected = await src.query(`SELECT * FROM shop.cheap ORDER BY id`);
    const actual = await dst.query(`SELECT * FROM shop.cheap_rows ORDER BY id`);
    assert.deepEqual(actual.rows, expected.rows);
    assert.equal(
      (await dst.query(`SELECT relkind FROM pg_class WHERE oid = 'shop.cheap_rows'::regclass`)).rows[0]
        .relkind,
      'r',
    );
  });

  it('control tables are created once, even by concurrent workers', async () => {
    await Promise.all([
      ensureControlTables(target),
      ensureControlTables(target),
      ensureControlTables(target),
    ]);
    const { rows } = await dst.query(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'ferry'`);
    assert.equal(rows[0].n, '2');
    await dst.query(STABLE_TEXT);
  });
});

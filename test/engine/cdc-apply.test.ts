// The change applier on a real PostgreSQL 15 target, with hand-built change lists: net-change
// compaction, key changes, unchanged TOAST values, the mapping (renames, removed and added columns, a
// filter, a computed key, before-image columns), TRUNCATE, keyless FULL-identity tables, conflicts
// per ErrorBehavior, data errors, tolerant mode, odd identifiers, and compaction on/off agreeing.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import { Applier, type ApplyResult } from '../../src/engine/cdc/apply';
import { type Change, type RowImage, tableKeyOf } from '../../src/engine/cdc/types';
import { quoteIdent } from '../../src/engine/ident';
import { FerryError } from '../../src/errors';
import type { MigrationPlan, SourceCatalog, TablePlan } from '../../src/mapping/types';
import { dropDatabase } from '../support/pg';
import { Leftovers, catalogTable, openPair, q, settings, tablePlan } from './fixtures/fullload';

const ODD_SCHEMA = 'Odd "Schema" ü';
const ODD_TABLE = 'Tab le "Ä"';

const SOURCE = `
CREATE SCHEMA shop;
CREATE TABLE shop.items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL, note text);
CREATE TABLE shop.log (a int, b text);
ALTER TABLE shop.log REPLICA IDENTITY FULL;
CREATE TABLE shop.codes (id int PRIMARY KEY, v text);
CREATE TABLE shop.versions (id int PRIMARY KEY, v text);
ALTER TABLE shop.versions REPLICA IDENTITY FULL;
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Items" ("Item Id" int PRIMARY KEY, "Name" text, secret text, price numeric(10,2), qty int);
CREATE SCHEMA "Odd ""Schema"" ü";
CREATE TYPE "Odd ""Schema"" ü"."Mood" AS ENUM ('sad', 'ok', 'happy ''quoted''');
CREATE TABLE "Odd ""Schema"" ü"."Tab le ""Ä""" (
  "select" int PRIMARY KEY, "Mixed Case" text, "naïve" text, "a""b" numeric, mood "Odd ""Schema"" ü"."Mood", tags text[]
);
`;

const ITEMS_DDL = `(id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL CHECK (qty >= 0), note text)`;

describe('engine/cdc: applying changes to PostgreSQL 15', function () {
  this.timeout(300_000);
  const left = new Leftovers();
  let src: Client;
  let dst: Client;
  let catalog: SourceCatalog;
  let schemas = 0;

  before(async () => {
    const pair = await openPair('cdc_apply', left);
    ({ src, dst } = pair);
    await src.query(SOURCE);
    catalog = await readSourceCatalog(pair.source);
    await dst.query(
      `CREATE SCHEMA "Odd ""Schema"" ü"; CREATE TYPE "Odd ""Schema"" ü"."Mood" AS ENUM ('sad', 'ok', 'happy ''quoted''')`,
    );
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await src?.end();
    await dst?.end();
    await left.cleanup(dropDatabase);
  });

  const ITEMS = tableKeyOf('shop', 'items');

  /** A fresh target schema holding `ddl` tables (name → column list), for one test's state. */
  async function targetSchema(tables: Record<string, string>, label = 'cdc'): Promise<string> {
    const schema = `${label} ${++schemas}`;
    await dst.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    for (const [name, cols] of Object.entries(tables))
      await dst.query(`CREATE TABLE ${q(schema, name)} ${cols}`);
    return schema;
  }

  /** shop.items copied as it is into `schema`.items. */
  function itemsPlan(schema: string): TablePlan {
    return tablePlan(catalogTable(catalog, 'shop', 'items'), { target: { schema, name: 'items' } });
  }

  function applier(
    tables: TablePlan[],
    o: { compact?: boolean; errorBehavior?: Record<string, string> } = {},
  ): Applier {
    const plan: MigrationPlan = {
      tables,
      skipped: [],
      settings: settings({ errorBehavior: o.errorBehavior ?? {} }),
      findings: [],
    };
    return new Applier({ migration: 'cdc-apply', plan, catalog, compact: o.compact ?? true });
  }

  /** One target transaction as the runner opens it. */
  async function applyTx(a: Applier, changes: Change[], tolerant = false): Promise<ApplyResult> {
    await dst.query('BEGIN');
    try {
      await dst.query('SET LOCAL session_replication_role = replica');
      const r = await a.apply(dst, changes, { commitLsn: '0/16B3748', tolerant });
      await dst.query('COMMIT');
      return r;
    } catch (err) {
      await dst.query('ROLLBACK');
      throw err;
    }
  }

  /** Rows as arrays of text, in the order the query gives. */
  async function rows(sql: string): Promise<(string | null)[][]> {
    return (await dst.query<(string | null)[]>({ text: sql, rowMode: 'array' })).rows;
  }

  const items = (schema: string) =>
    rows(`SELECT t.id::text, t.name, t.qty::text, t.note FROM ${q(schema, 'items')} AS t ORDER BY t.id`);

  async function seedItems(schema: string, values: string): Promise<void> {
    await dst.query(`INSERT INTO ${q(schema, 'items')} VALUES ${values}`);
  }

  const ins = (table: string, img: RowImage): Change => ({ kind: 'insert', table, new: img });
  const upd = (table: string, img: RowImage, old?: RowImage): Change =>
    old ? { kind: 'update', table, old, new: img } : { kind: 'update', table, new: img };
  const del = (table: string, old: RowImage): Change => ({ kind: 'delete', table, old });
  const item = (id: number, name: string, qty: number, note: string | null | undefined = null): RowImage => ({
    id: String(id),
    name,
    qty: String(qty),
    note,
  });

  /** An update image whose note is an unchanged TOAST value (not sent). */
  const unsentNote = (id: number, name: string, qty: number): RowImage => ({
    id: String(id),
    name,
    qty: String(qty),
    note: undefined,
  });

  /** A mixed list over shop.items: a key born and gone, hot keys, a delete + reinsert. */
  function compactionChanges(): Change[] {
    const changes: Change[] = [
      ins(ITEMS, item(10, 'x', 5)),
      upd(ITEMS, item(10, 'x', 6)),
      del(ITEMS, { id: '10' }),
    ];
    for (let i = 1; i <= 50; i++) changes.push(upd(ITEMS, item(1, 'a', i)));
    changes.push(
      del(ITEMS, { id: '2' }),
      ins(ITEMS, item(11, 'y', 7)),
      upd(ITEMS, item(11, 'y2', 7)),
      upd(ITEMS, item(3, 'c2', 3)),
      del(ITEMS, { id: '3' }),
      ins(ITEMS, item(3, 'c3', 9, 'back')),
    );
    return changes;
  }

  it('compacts inserts, updates and deletes per key into one row operation each', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await seedItems(schema, `(1, 'a', 1, NULL), (2, 'b', 2, NULL), (3, 'c', 3, NULL)`);
    const r = await applyTx(applier([itemsPlan(schema)]), compactionChanges());
    assert.deepEqual(await items(schema), [
      ['1', 'a', '50', null],
      ['3', 'c3', '9', 'back'],
      ['11', 'y2', '7', null],
    ]);
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(r.tables[ITEMS], {
      inserts: 3,
      updates: 53,
      deletes: 3,
      truncates: 0,
      // key 10: nothing; keys 1, 2, 3, 11: one each
      applied: 4,
      conflicts: 0,
    });
    assert.equal(r.applied, 4);
    assert.deepEqual(r.suspended, []);
  });

  it('without compaction applies every change, to the same final state', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await seedItems(schema, `(1, 'a', 1, NULL), (2, 'b', 2, NULL), (3, 'c', 3, NULL)`);
    const r = await applyTx(applier([itemsPlan(schema)], { compact: false }), compactionChanges());
    assert.deepEqual(await items(schema), [
      ['1', 'a', '50', null],
      ['3', 'c3', '9', 'back'],
      ['11', 'y2', '7', null],
    ]);
    assert.deepEqual(r.conflicts, []);
    assert.equal(r.tables[ITEMS].applied, 59);
  });

  it('applies key changes as a delete of the old key and an upsert of the new one', async () => {
    for (const compact of [true, false]) {
      const schema = await targetSchema({ items: ITEMS_DDL });
      await seedItems(schema, `(1, 'a', 1, 'n1'), (2, 'b', 2, 'n2')`);
      const r = await applyTx(applier([itemsPlan(schema)], { compact }), [
        upd(ITEMS, item(100, 'a', 1, 'n1'), { id: '1' }),
        ins(ITEMS, item(30, 'm', 1)),
        upd(ITEMS, item(31, 'm', 2), { id: '30' }),
        upd(ITEMS, item(32, 'm', 3), { id: '31' }),
        upd(ITEMS, item(3, 'b3', 2, 'n2'), { id: '2' }),
        upd(ITEMS, item(2, 'b2', 2, 'n2'), { id: '3' }),
      ]);
      assert.deepEqual(
        await items(schema),
        [
          ['2', 'b2', '2', 'n2'],
          ['32', 'm', '3', null],
          ['100', 'a', '1', 'n1'],
        ],
        `compact ${compact}`,
      );
      assert.deepEqual(r.conflicts, [], `compact ${compact}`);
    }
  });

  it('keeps unchanged TOAST values the update did not send', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await seedItems(schema, `(1, 'a', 1, repeat('x', 100000)), (2, 'b', 2, repeat('z', 90000))`);
    const big = 'y'.repeat(80_000);
    const r = await applyTx(applier([itemsPlan(schema)]), [
      upd(ITEMS, unsentNote(1, 'a2', 2)),
      ins(ITEMS, item(5, 'e', 1, big)),
      // merged with the insert's image: the insert is complete
      upd(ITEMS, { id: '5', name: 'e2', qty: '2' }),
      // a key change whose new image lacks the note: the row is moved in place
      upd(ITEMS, { id: '7', name: 'b7', qty: '7', note: undefined }, { id: '2' }),
    ]);
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(
      await rows(
        `SELECT id::text, name, qty::text, length(note)::text, left(note, 1) FROM ${q(schema, 'items')} ORDER BY id`,
      ),
      [
        ['1', 'a2', '2', '100000', 'x'],
        ['5', 'e2', '2', '80000', 'y'],
        ['7', 'b7', '7', '90000', 'z'],
      ],
    );
  });

  it('maps renames, a removed column, an added expression and a filter; rows move in and out of range', async () => {
    const schema = await targetSchema({
      order_items: `(item_id int PRIMARY KEY, name text, price numeric(10,2), qty int, total numeric(12,2))`,
    });
    const source = catalogTable(catalog, 'Sales', 'Order Items');
    const plan: TablePlan = {
      ...tablePlan(source),
      target: { schema, name: 'order_items' },
      columns: [
        { source: 'Item Id', target: 'item_id', type: 'integer', nullable: false, rules: ['1'] },
        { source: 'Name', target: 'name', type: 'text', nullable: true, rules: ['2'] },
        { source: 'price', target: 'price', type: 'numeric(10,2)', nullable: true, rules: [] },
        { source: 'qty', target: 'qty', type: 'integer', nullable: true, rules: [] },
        {
          target: 'total',
          type: 'numeric(12,2)',
          expression: `("price" * "qty")::numeric(12,2)`,
          nullable: true,
          rules: ['3'],
        },
      ],
      primaryKey: ['item_id'],
      removedColumns: [{ source: 'secret', reason: 'remove-column', rule: '4' }],
      filter: { sql: `"qty" >= $1::int`, params: ['5'], columns: ['qty'] },
    };
    const T = tableKeyOf('Sales', 'Order Items');
    const row = (id: number, name: string, price: string, qty: number): RowImage => ({
      'Item Id': String(id),
      Name: name,
      secret: 'hush',
      price,
      qty: String(qty),
    });
    const a = applier([plan]);
    const r1 = await applyTx(a, [
      ins(T, row(1, 'A', '1.50', 10)),
      ins(T, row(2, 'B', '3.00', 1)),
      ins(T, row(3, 'C', '1.00', 6)),
      ins(T, row(4, 'D', '2.00', 7)),
      ins(T, row(5, 'E', '2.00', 2)),
      upd(T, row(5, 'E', '2.00', 3)),
    ]);
    assert.deepEqual(r1.conflicts, []);
    const contents = () =>
      rows(
        `SELECT item_id::text, name, price::text, qty::text, total::text FROM ${q(schema, 'order_items')} ORDER BY 1`,
      );
    assert.deepEqual(await contents(), [
      ['1', 'A', '1.50', '10', '15.00'],
      ['3', 'C', '1.00', '6', '6.00'],
      ['4', 'D', '2.00', '7', '14.00'],
    ]);
    const r2 = await applyTx(a, [
      upd(T, row(3, 'C', '1.00', 2)), // out of range: deleted on the target
      upd(T, row(2, 'B', '3.00', 8)), // into range: inserted
      upd(T, row(1, 'A', '2.00', 10)),
      upd(T, { 'Item Id': '4', Name: undefined, secret: 'hush', price: '2.50', qty: '7' }),
      del(T, { 'Item Id': '5' }), // never on the target (filtered): no conflict
    ]);
    assert.deepEqual(r2.conflicts, []);
    assert.deepEqual(await contents(), [
      ['1', 'A', '2.00', '10', '20.00'],
      ['2', 'B', '3.00', '8', '24.00'],
      ['4', 'D', '2.50', '7', '17.50'],
    ]);
  });

  it('computes a key that is an expression, and before-image columns from a FULL old image', async () => {
    const schema = await targetSchema({
      codes: `(code text PRIMARY KEY, v text)`,
      versions: `(id int PRIMARY KEY, v text, bi_v text)`,
    });
    const codes: TablePlan = {
      ...tablePlan(catalogTable(catalog, 'shop', 'codes')),
      target: { schema, name: 'codes' },
      columns: [
        {
          target: 'code',
          type: 'text',
          expression: `('K' || "id"::text)::text`,
          nullable: false,
          rules: ['1'],
        },
        { source: 'v', target: 'v', type: 'text', nullable: true, rules: [] },
      ],
      primaryKey: ['code'],
    };
    const versions = tablePlan(catalogTable(catalog, 'shop', 'versions'), {
      target: { schema, name: 'versions' },
    });
    versions.columns.push({
      source: 'v',
      target: 'bi_v',
      type: 'text',
      nullable: true,
      rules: ['9'],
      beforeImageOf: 'v',
    });
    const C = tableKeyOf('shop', 'codes');
    const V = tableKeyOf('shop', 'versions');
    await dst.query(`INSERT INTO ${q(schema, 'versions')} VALUES (1, 'a', 'a')`);
    const r = await applyTx(applier([codes, versions]), [
      ins(C, { id: '1', v: 'one' }),
      upd(C, { id: '1', v: 'uno' }),
      ins(C, { id: '2', v: 'two' }),
      del(C, { id: '2' }),
      upd(C, { id: '3', v: 'tres' }, { id: '1' }),
      upd(V, { id: '1', v: 'b' }, { id: '1', v: 'a' }),
      ins(V, { id: '2', v: 'c' }),
    ]);
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(await rows(`SELECT code, v FROM ${q(schema, 'codes')} ORDER BY 1`), [['K3', 'tres']]);
    // K1 was inserted and moved to K3, K2 came and went: one upsert.
    assert.equal(r.tables[C].applied, 1);
    assert.deepEqual(await rows(`SELECT id::text, v, bi_v FROM ${q(schema, 'versions')} ORDER BY 1`), [
      ['1', 'b', 'a'],
      ['2', 'c', 'c'],
    ]);
  });

  it('applies a TRUNCATE in the middle of the list in order', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await seedItems(schema, `(1, 'a', 1, NULL), (2, 'b', 2, NULL)`);
    const r = await applyTx(applier([itemsPlan(schema)]), [
      ins(ITEMS, item(3, 'c', 3)),
      upd(ITEMS, item(1, 'a1', 1)),
      { kind: 'truncate', tables: [ITEMS, 'shop.not_planned'], cascade: false, restartIdentity: false },
      ins(ITEMS, item(4, 'd', 4)),
      ins(ITEMS, item(5, 'e', 5)),
      upd(ITEMS, item(4, 'd2', 4)),
    ]);
    assert.deepEqual(await items(schema), [
      ['4', 'd2', '4', null],
      ['5', 'e', '5', null],
    ]);
    assert.equal(r.tables[ITEMS].truncates, 1);
    assert.equal(r.tables[ITEMS].applied, 2);
    assert.equal(r.tables['shop.not_planned'], undefined);
  });

  it('applies a keyless FULL-identity table in order, one row per update or delete', async () => {
    for (const compact of [true, false]) {
      const schema = await targetSchema({ log: `(a int, b text)` });
      await dst.query(
        `INSERT INTO ${q(schema, 'log')} VALUES (1, 'x'), (1, 'x'), (2, 'y'), (NULL, 'n'), (NULL, 'n')`,
      );
      const L = tableKeyOf('shop', 'log');
      const plan = tablePlan(catalogTable(catalog, 'shop', 'log'), { target: { schema, name: 'log' } });
      assert.deepEqual(plan.primaryKey, []);
      const r = await applyTx(applier([plan], { compact }), [
        del(L, { a: '1', b: 'x' }),
        upd(L, { a: '2', b: 'z' }, { a: '2', b: 'y' }),
        ins(L, { a: '3', b: 'w' }),
        ins(L, { a: '3', b: 'w' }),
        del(L, { a: null, b: 'n' }),
        del(L, { a: '9', b: 'q' }),
        upd(L, { a: '3', b: 'v' }, { a: '3', b: 'w' }),
      ]);
      assert.deepEqual(
        await rows(`SELECT a::text, b FROM ${q(schema, 'log')} ORDER BY a NULLS FIRST, b`),
        [
          [null, 'n'],
          ['1', 'x'],
          ['2', 'z'],
          ['3', 'v'],
          ['3', 'w'],
        ],
        `compact ${compact}`,
      );
      assert.deepEqual(
        r.conflicts.map((c) => [c.kind, c.policy, c.key]),
        [['delete-missing', 'IGNORE_RECORD', '{"a":"9","b":"q"}']],
      );
      assert.equal(r.tables[L].applied, 7);
    }
  });

  it('records conflicts per the default policies and keeps the target row', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await seedItems(schema, `(1, 'a', 1, NULL), (2, 'b', 2, NULL)`);
    const r = await applyTx(applier([itemsPlan(schema)]), [
      ins(ITEMS, item(1, 'dup', 9)),
      upd(ITEMS, item(5, 'ghost', 5)),
      del(ITEMS, { id: '6' }),
      ins(ITEMS, item(7, 'g', 7)),
    ]);
    assert.deepEqual(await items(schema), [
      ['1', 'a', '1', null],
      ['2', 'b', '2', null],
      ['7', 'g', '7', null],
    ]);
    assert.deepEqual(r.conflicts, [
      { table: ITEMS, kind: 'insert-exists', key: '{"id":"1"}', policy: 'LOG_ERROR', commitLsn: '0/16B3748' },
      {
        table: ITEMS,
        kind: 'update-missing',
        key: '{"id":"5"}',
        policy: 'LOG_ERROR',
        commitLsn: '0/16B3748',
      },
      {
        table: ITEMS,
        kind: 'delete-missing',
        key: '{"id":"6"}',
        policy: 'IGNORE_RECORD',
        commitLsn: '0/16B3748',
      },
    ]);
    assert.equal(r.tables[ITEMS].conflicts, 3);
    assert.equal(r.tables[ITEMS].applied, 1);
  });

  it('INSERT_RECORD overwrites, UPDATE_RECORD inserts, SUSPEND_TABLE stops the table', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await seedItems(schema, `(1, 'a', 1, NULL)`);
    const r = await applyTx(
      applier([itemsPlan(schema)], {
        errorBehavior: { ApplyErrorInsertPolicy: 'INSERT_RECORD', ApplyErrorUpdatePolicy: 'UPDATE_RECORD' },
      }),
      [ins(ITEMS, item(1, 'over', 9)), upd(ITEMS, item(5, 'made', 5))],
    );
    assert.deepEqual(await items(schema), [
      ['1', 'over', '9', null],
      ['5', 'made', '5', null],
    ]);
    assert.deepEqual(
      r.conflicts.map((c) => [c.kind, c.policy]),
      [
        ['insert-exists', 'INSERT_RECORD'],
        ['update-missing', 'UPDATE_RECORD'],
      ],
    );

    const s2 = await targetSchema({ items: ITEMS_DDL });
    await seedItems(s2, `(1, 'a', 1, NULL)`);
    const r2 = await applyTx(
      applier([itemsPlan(s2)], { errorBehavior: { ApplyErrorInsertPolicy: 'SUSPEND_TABLE' } }),
      [ins(ITEMS, item(8, 'h', 8)), ins(ITEMS, item(1, 'dup', 1)), ins(ITEMS, item(9, 'i', 9))],
    );
    assert.deepEqual(r2.suspended, [ITEMS]);
    assert.deepEqual(await items(s2), [
      ['1', 'a', '1', null],
      ['8', 'h', '8', null],
    ]);
    assert.deepEqual(
      r2.conflicts.map((c) => [c.kind, c.policy]),
      [['insert-exists', 'SUSPEND_TABLE']],
    );
  });

  it('STOP_TASK throws DATA_REJECTED naming the table, key and setting', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await seedItems(schema, `(1, 'a', 1, NULL)`);
    await assert.rejects(
      applyTx(applier([itemsPlan(schema)], { errorBehavior: { ApplyErrorInsertPolicy: 'STOP_TASK' } }), [
        ins(ITEMS, item(2, 'b', 2)),
        ins(ITEMS, item(1, 'dup', 1)),
      ]),
      (e: unknown) => {
        assert.ok(e instanceof FerryError);
        assert.equal(e.type, 'DATA_REJECTED');
        assert.match(e.message, /shop\.items/);
        assert.match(e.message, /\{"id":"1"\}/);
        assert.match(e.message, /ApplyErrorInsertPolicy is STOP_TASK/);
        return true;
      },
    );
    // Rolled back: nothing of the list is on the target.
    assert.deepEqual(await items(schema), [['1', 'a', '1', null]]);
  });

  it('records rows the target refuses (CHECK) and applies the rest of the list', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL, log: `(a int, b text)` });
    await seedItems(schema, `(1, 'a', 1, NULL)`);
    const L = tableKeyOf('shop', 'log');
    const logPlan = tablePlan(catalogTable(catalog, 'shop', 'log'), { target: { schema, name: 'log' } });
    const changes = [
      // flushed before the failing table: rolled back with the whole call and applied again, once
      ins(L, { a: '1', b: 'before' }),
      ins(ITEMS, item(20, 't', 5)),
      ins(ITEMS, item(21, 'bad', -1)),
      upd(ITEMS, item(1, 'a', -5)),
      ins(ITEMS, item(22, 'u', 3)),
      del(ITEMS, { id: '20' }),
      ins(ITEMS, item(20, 't2', 6)),
      ins(L, { a: '2', b: 'after' }),
    ];
    const r = await applyTx(applier([logPlan, itemsPlan(schema)]), changes);
    assert.deepEqual(await items(schema), [
      ['1', 'a', '1', null],
      ['20', 't2', '6', null],
      ['22', 'u', '3', null],
    ]);
    assert.deepEqual(await rows(`SELECT a::text, b FROM ${q(schema, 'log')} ORDER BY 1`), [
      ['1', 'before'],
      ['2', 'after'],
    ]);
    assert.deepEqual(
      r.conflicts.map((c) => [c.kind, c.key, c.policy]),
      [
        ['error', '{"id":"21"}', 'LOG_ERROR'],
        ['error', '{"id":"1"}', 'LOG_ERROR'],
      ],
    );
    for (const c of r.conflicts) assert.match(c.message ?? '', /check constraint.*23514/);
    assert.equal(r.tables[ITEMS].applied, 2);
    assert.equal(r.tables[ITEMS].conflicts, 2);
    assert.equal(r.tables[L].applied, 2);
    assert.equal(r.applied, 4);

    // DataErrorPolicy STOP_TASK: the first refused row stops the task.
    const s2 = await targetSchema({ items: ITEMS_DDL });
    await assert.rejects(
      applyTx(applier([itemsPlan(s2)], { errorBehavior: { DataErrorPolicy: 'STOP_TASK' } }), [
        ins(ITEMS, item(30, 'ok', 1)),
        ins(ITEMS, item(31, 'bad', -1)),
      ]),
      (e: unknown) => {
        assert.ok(e instanceof FerryError);
        assert.equal(e.type, 'DATA_REJECTED');
        assert.match(e.message, /\{"id":"31"\}.*check constraint.*DataErrorPolicy is STOP_TASK/);
        return true;
      },
    );
    assert.deepEqual(await items(s2), []);
  });

  it('tolerant mode upserts and deletes if present, recording nothing', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await seedItems(schema, `(1, 'a', 1, NULL), (2, 'b', 2, NULL), (3, 'c', 3, 'keep')`);
    const r = await applyTx(
      applier([itemsPlan(schema)]),
      [
        ins(ITEMS, item(1, 'again', 1)),
        upd(ITEMS, item(5, 'five', 5)),
        del(ITEMS, { id: '6' }),
        del(ITEMS, { id: '2' }),
        upd(ITEMS, { id: '3', name: 'c2', qty: '3' }),
        upd(ITEMS, { id: '4', name: 'd', qty: '4' }),
      ],
      true,
    );
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(await items(schema), [
      ['1', 'again', '1', null],
      ['3', 'c2', '3', 'keep'],
      ['5', 'five', '5', null],
    ]);
  });

  it('quotes odd schema, table and column names and casts to a user-defined type', async () => {
    await dst.query(
      `CREATE TABLE "Odd ""Schema"" ü"."Tab le ""Ä""" (
         "select" int PRIMARY KEY, "Mixed Case" text, "naïve" text, "a""b" numeric, mood "Odd ""Schema"" ü"."Mood", tags text[])`,
    );
    const T = tableKeyOf(ODD_SCHEMA, ODD_TABLE);
    assert.equal(T, `"Odd ""Schema"" ü"."Tab le ""Ä"""`);
    const plan = tablePlan(catalogTable(catalog, ODD_SCHEMA, ODD_TABLE));
    const row = (id: number, mixed: string | null, mood: string, over: RowImage = {}): RowImage => ({
      select: String(id),
      'Mixed Case': mixed,
      naïve: 'naïve "q" \\ back',
      'a"b': '1.5',
      mood,
      tags: '{"a,b","c\\"d",NULL}',
      ...over,
    });
    const a = applier([plan]);
    const r = await applyTx(a, [
      ins(T, row(1, 'Grüße 🚀', "happy 'quoted'")),
      ins(T, row(2, null, 'sad')),
      upd(T, row(2, 'two', 'ok')),
      ins(T, row(3, 'x', 'ok')),
      del(T, { select: '3' }),
      upd(T, row(4, 'four', 'sad'), { select: '1' }),
    ]);
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(
      await rows(
        `SELECT "select"::text, "Mixed Case", "naïve", "a""b"::text, mood::text, tags::text FROM ${q(ODD_SCHEMA, ODD_TABLE)} ORDER BY 1`,
      ),
      [
        ['2', 'two', 'naïve "q" \\ back', '1.5', 'ok', '{"a,b","c\\"d",NULL}'],
        ['4', 'four', 'naïve "q" \\ back', '1.5', 'sad', '{"a,b","c\\"d",NULL}'],
      ],
    );
  });

  it('finds conflicts from the statements themselves on a large list, as a probe first would', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    // Target rows 1..3500 but every 500th.
    await dst.query(
      `INSERT INTO ${q(schema, 'items')} SELECT i, 'n' || i, 1, 'old' FROM generate_series(1, 3500) i WHERE i % 500 <> 0`,
    );
    type Model = Map<number, [string, string, string, string | null]>;
    const model: Model = new Map();
    for (let i = 1; i <= 3500; i++) if (i % 500) model.set(i, [String(i), `n${i}`, '1', 'old']);
    const set = (id: number, name: string, qty: number, note: string | null = null) =>
      model.set(id, [String(id), name, String(qty), note]);
    const changes: Change[] = [];
    const conflicts: [string, string][] = [];
    const expect = (kind: string, id: number) => conflicts.push([kind, `{"id":"${id}"}`]);
    for (let i = 1; i <= 2000; i++) {
      changes.push(upd(ITEMS, item(i, `u${i}`, 2, 'new')));
      if (model.has(i)) set(i, `u${i}`, 2, 'new');
      else expect('update-missing', i);
    }
    // The note is not sent: kept on the target; a missing row cannot be inserted.
    for (let i = 2001; i <= 2500; i++) {
      changes.push(upd(ITEMS, unsentNote(i, `p${i}`, 3)));
      if (model.has(i)) set(i, `p${i}`, 3, 'old');
      else expect('update-missing', i);
    }
    for (let i = 2501; i <= 3000; i++) {
      changes.push(del(ITEMS, { id: String(i) }));
      if (!model.delete(i)) expect('delete-missing', i);
    }
    // Inserts of rows that are there keep the target row.
    for (let i = 3001; i <= 3010; i++) {
      changes.push(ins(ITEMS, item(i, `dup${i}`, 9)));
      expect('insert-exists', i);
    }
    for (let i = 4001; i <= 6000; i++) {
      changes.push(ins(ITEMS, item(i, `i${i}`, 4)));
      set(i, `i${i}`, 4);
    }
    // There, inserted and updated: the later change applies to the row that is there.
    changes.push(ins(ITEMS, item(3011, 'x', 1)), upd(ITEMS, item(3011, 'x2', 2)));
    expect('insert-exists', 3011);
    set(3011, 'x2', 2);
    // Missing, updated, deleted, inserted again: the row is known whole, so it is written.
    changes.push(upd(ITEMS, item(3500, 'y', 1)), del(ITEMS, { id: '3500' }), ins(ITEMS, item(3500, 'y2', 2)));
    expect('update-missing', 3500);
    set(3500, 'y2', 2);
    // There, deleted and inserted again.
    changes.push(del(ITEMS, { id: '3499' }), ins(ITEMS, item(3499, 'z', 3)));
    set(3499, 'z', 3);
    // Missing, deleted and inserted again.
    changes.push(del(ITEMS, { id: '7000' }), ins(ITEMS, item(7000, 'w', 4)));
    expect('delete-missing', 7000);
    set(7000, 'w', 4);
    // Inserted and deleted, but there before: the insert conflicts, the row is deleted.
    changes.push(ins(ITEMS, item(3012, 'v', 1)), del(ITEMS, { id: '3012' }));
    expect('insert-exists', 3012);
    model.delete(3012);
    // Inserted and deleted, not there: nothing.
    changes.push(ins(ITEMS, item(7001, 'u', 1)), del(ITEMS, { id: '7001' }));

    const sent: string[] = [];
    const query = dst.query.bind(dst);
    const spy = (...args: unknown[]) => {
      const first = args[0] as string | { text: string };
      sent.push(typeof first === 'string' ? first : first.text);
      return (query as (...a: unknown[]) => unknown)(...args);
    };
    Object.assign(dst, { query: spy });
    let r: ApplyResult;
    try {
      r = await applyTx(applier([itemsPlan(schema)]), changes);
    } finally {
      Object.assign(dst, { query });
    }
    assert.deepEqual(
      r.conflicts.map((c) => [c.kind, c.key]),
      conflicts,
    );
    const expected = [...model.entries()].sort((x, y) => x[0] - y[0]).map(([, v]) => v);
    assert.deepEqual(await items(schema), expected);
    // 1996 + 499 updates, 499 deletes, 2000 inserts, keys 3011, 3500, 3499, 7000 written, 3012 deleted.
    assert.equal(r.tables[ITEMS].applied, 1996 + 499 + 499 + 2000 + 5);
    // No probe before the statements; one after the UPDATEs that found fewer rows than they were sent.
    const probes = sent.filter((t) => /ctid IS NOT NULL/.test(t));
    assert.equal(probes.length, 2, sent.join('\n---\n'));

    // Policies that write the row after all, and a row that has only its key.
    const s2 = await targetSchema({ items: ITEMS_DDL });
    await seedItems(s2, `(1, 'a', 1, 'n1'), (2, 'b', 2, 'n2'), (3, 'c', 3, 'n3')`);
    const r2 = await applyTx(
      applier([itemsPlan(s2)], {
        errorBehavior: { ApplyErrorInsertPolicy: 'INSERT_RECORD', ApplyErrorUpdatePolicy: 'UPDATE_RECORD' },
      }),
      [
        ins(ITEMS, item(1, 'a2', 5, 'over')),
        upd(ITEMS, item(4, 'd', 4, 'made')),
        upd(ITEMS, unsentNote(5, 'e', 5)),
        upd(ITEMS, { id: '2', name: undefined, qty: undefined, note: undefined }),
        upd(ITEMS, { id: '6', name: undefined, qty: undefined, note: undefined }),
        upd(ITEMS, unsentNote(3, 'c2', 6)),
      ],
    );
    assert.deepEqual(await items(s2), [
      ['1', 'a2', '5', 'over'],
      ['2', 'b', '2', 'n2'],
      ['3', 'c2', '6', 'n3'],
      ['4', 'd', '4', 'made'],
    ]);
    assert.deepEqual(
      r2.conflicts.map((c) => [c.kind, c.key, c.policy]),
      [
        ['insert-exists', '{"id":"1"}', 'INSERT_RECORD'],
        ['update-missing', '{"id":"4"}', 'UPDATE_RECORD'],
        // not sent whole: not inserted
        ['update-missing', '{"id":"5"}', 'UPDATE_RECORD'],
        ['update-missing', '{"id":"6"}', 'UPDATE_RECORD'],
      ],
    );
  });

  /** The plans (auto_explain) of the statements `run` sends on `dst`. */
  async function plansOf(run: () => Promise<void>): Promise<string[]> {
    const plans: string[] = [];
    const onNotice = (n: { message?: string }) => void (n.message && plans.push(n.message));
    dst.on('notice', onNotice);
    await dst.query(
      `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_level = notice`,
    );
    try {
      await run();
    } finally {
      await dst.query('SET auto_explain.log_min_duration = -1');
      dst.off('notice', onNotice);
    }
    return plans;
  }

  /** Statements joining the rows to `table` go by nested loops over its key index. */
  function assertNestedLoops(plans: string[], table: string, joins: number): void {
    const mine = plans.filter((p) => new RegExp(` on ${table}\\b`).test(p));
    for (const p of mine) assert.doesNotMatch(p, new RegExp(`Hash Join|Merge Join|Seq Scan on ${table}`), p);
    const joined = mine.filter((p) => new RegExp(`(Update|Delete) on ${table}`).test(p));
    assert.ok(joined.length >= joins, plans.join('\n---\n'));
    for (const p of joined) {
      assert.match(p, /Nested Loop/, p);
      assert.match(p, new RegExp(`Index (Only )?Scan using ${table}_pkey on ${table}`), p);
    }
  }

  it('joins the rows to the target by nested loops over its key index, and restores the planner settings', async () => {
    const schema = await targetSchema({ items: ITEMS_DDL });
    await dst.query(
      `INSERT INTO ${q(schema, 'items')} SELECT i, 'n' || i, 1, NULL FROM generate_series(1, 20000) i;
       ANALYZE ${q(schema, 'items')}`,
    );
    const changes: Change[] = [];
    for (let i = 1; i <= 6000; i += 2) changes.push(upd(ITEMS, item(i, `u${i}`, 2)));
    for (let i = 8000; i < 8400; i++) changes.push(upd(ITEMS, unsentNote(i, `p${i}`, 3)));
    for (let i = 10000; i < 11000; i++) changes.push(del(ITEMS, { id: String(i) }));
    for (let i = 30000; i < 31000; i++) changes.push(ins(ITEMS, item(i, `i${i}`, 4)));
    // conflicts: the statements' checks run too
    changes.push(
      upd(ITEMS, item(40000, 'gone', 1)),
      ins(ITEMS, item(2, 'dup', 1)),
      del(ITEMS, { id: '40001' }),
    );
    let after: { h: string; m: string } | undefined;
    // A session setting of the caller stays as it was.
    await dst.query('SET enable_mergejoin = off');
    const plans = await plansOf(async () => {
      try {
        await dst.query('BEGIN');
        await dst.query('SET LOCAL session_replication_role = replica');
        const r = await applier([itemsPlan(schema)]).apply(dst, changes, {
          commitLsn: '0/1',
          tolerant: false,
        });
        after = (
          await dst.query<{ h: string; m: string }>(
            `SELECT current_setting('enable_hashjoin') AS h, current_setting('enable_mergejoin') AS m`,
          )
        ).rows[0];
        await dst.query('COMMIT');
        assert.deepEqual(
          r.conflicts.map((c) => c.kind),
          ['update-missing', 'insert-exists', 'delete-missing'],
        );
      } finally {
        await dst.query('ROLLBACK; RESET enable_mergejoin');
      }
    });
    assert.deepEqual(after, { h: 'on', m: 'off' });
    // UPDATE of full rows, of partial rows, the gated DELETE, the probe's join
    assertNestedLoops(plans, 'items', 3);

    // A target key column whose type differs from the plan's (bigint = numeric is not indexable): the
    // rows' keys are cast to the target's type.
    const s2 = await targetSchema({
      items: `(id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL, note text)`,
    });
    await dst.query(
      `INSERT INTO ${q(s2, 'items')} SELECT i, 'n' || i, 1, NULL FROM generate_series(1, 20000) i;
       ANALYZE ${q(s2, 'items')}`,
    );
    const plan = itemsPlan(s2);
    plan.columns = plan.columns.map((c) => (c.target === 'id' ? { ...c, type: 'numeric' } : c));
    const plans2 = await plansOf(async () => {
      const r = await applyTx(applier([plan]), changes);
      assert.equal(r.conflicts.length, 3);
    });
    assertNestedLoops(plans2, 'items', 3);
    assert.deepEqual(
      await rows(
        `SELECT t.id::text, t.name FROM ${q(s2, 'items')} AS t WHERE t.id IN (5, 8001, 10000, 30000) ORDER BY t.id`,
      ),
      [
        ['5', 'u5'],
        ['8001', 'p8001'],
        ['30000', 'i30000'],
      ],
    );
  });

  it('reports a target table that does not exist as a schema mismatch naming it', async () => {
    const schema = await targetSchema({});
    const name = `it'em\\s "x"`;
    await assert.rejects(
      applyTx(applier([itemsPlan(schema)].map((t) => ({ ...t, target: { schema, name } }))), [
        ins(ITEMS, item(1, 'a', 1)),
      ]),
      (e: unknown) => {
        assert.ok(e instanceof FerryError);
        assert.equal(e.type, 'SCHEMA_MISMATCH');
        assert.ok(e.message.includes(q(schema, name)), e.message);
        assert.match(e.message, /does not exist; the target does not match the plan/);
        return true;
      },
    );
  });

  it('inserts rows of a table of plain columns by COPY, escaping what COPY reads specially', async () => {
    const schema = await targetSchema({ log: `(a int CHECK (a IS NULL OR a >= 0), b text)` });
    const L = tableKeyOf('shop', 'log');
    const plan = tablePlan(catalogTable(catalog, 'shop', 'log'), { target: { schema, name: 'log' } });
    const texts = [
      'tab\there',
      'line\nbreak',
      'cr\rx',
      'back\\slash',
      '\\N',
      '\\.',
      'quo"te',
      'ünï 🚀',
      '',
      null,
    ];
    const sent: string[] = [];
    const query = dst.query.bind(dst);
    Object.assign(dst, {
      query: (...args: unknown[]) => {
        const first = args[0] as string | { text: string };
        sent.push(typeof first === 'string' ? first : first.text);
        return (query as (...a: unknown[]) => unknown)(...args);
      },
    });
    let r: ApplyResult;
    try {
      r = await applyTx(applier([plan]), [
        ...texts.map((b, i) => ins(L, { a: String(i), b })),
        ins(L, { a: '-1', b: 'refused' }),
        ins(L, { a: null, b: undefined }),
      ]);
    } finally {
      Object.assign(dst, { query });
    }
    assert.ok(
      sent.some((t) => t.startsWith('COPY ')),
      sent.join('\n'),
    );
    assert.deepEqual(
      r.conflicts.map((c) => [c.kind, c.key]),
      [['error', '{"a":"-1","b":"refused"}']],
    );
    const contents = () =>
      rows(`SELECT t.a::text, t.b FROM ${q(schema, 'log')} AS t ORDER BY t.a NULLS LAST, t.b`);
    assert.deepEqual(await contents(), [...texts.map((b, i) => [String(i), b]), [null, null]]);

    // Tolerant mode inserts only rows that are not there (by INSERT ... WHERE NOT EXISTS).
    await applyTx(applier([plan]), [ins(L, { a: '0', b: 'tab\there' }), ins(L, { a: '20', b: 'new' })], true);
    assert.deepEqual(await contents(), [...texts.map((b, i) => [String(i), b]), ['20', 'new'], [null, null]]);
  });

  it('reaches the same state with and without compaction over a long random history', async () => {
    // A source history simulated in memory: each change valid against the source state.
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const state = new Map<number, { name: string; qty: number; note: string }>();
    const changes: Change[] = [];
    for (let step = 0; step < 1500; step++) {
      const id = 1 + rnd(25);
      const cur = state.get(id);
      const roll = rnd(10);
      if (!cur) {
        const v = { name: `n${step}`, qty: rnd(100), note: `note ${step} ${'z'.repeat(rnd(3) * 1000)}` };
        state.set(id, v);
        changes.push(ins(ITEMS, item(id, v.name, v.qty, v.note)));
      } else if (roll < 2) {
        state.delete(id);
        changes.push(del(ITEMS, { id: String(id) }));
      } else if (roll < 3) {
        const to = 1 + rnd(40);
        if (state.has(to)) continue;
        state.delete(id);
        state.set(to, cur);
        changes.push(upd(ITEMS, item(to, cur.name, cur.qty, cur.note), { id: String(id) }));
      } else {
        cur.qty = rnd(100);
        if (roll < 6) {
          // note unchanged and not sent (TOAST)
          changes.push(upd(ITEMS, unsentNote(id, cur.name, cur.qty)));
        } else {
          cur.note = `note ${step}`;
          changes.push(upd(ITEMS, item(id, cur.name, cur.qty, cur.note)));
        }
      }
    }
    const expected = [...state.entries()]
      .sort((x, y) => x[0] - y[0])
      .map(([id, v]) => [String(id), v.name, String(v.qty), v.note]);
    const results: ApplyResult[] = [];
    for (const compact of [true, false]) {
      const schema = await targetSchema({ items: ITEMS_DDL });
      const a = applier([itemsPlan(schema)], { compact });
      // In several transactions, as the runner batches them.
      for (let i = 0; i < changes.length; i += 400) results.push(await applyTx(a, changes.slice(i, i + 400)));
      assert.deepEqual(await items(schema), expected, `compact ${compact}`);
    }
    assert.ok(results.every((r) => r.conflicts.length === 0));
    const applied = (rs: ApplyResult[]) => rs.reduce((n, r) => n + r.applied, 0);
    const half = results.length / 2;
    assert.ok(
      applied(results.slice(0, half)) < applied(results.slice(half)),
      'compaction sends fewer row ops',
    );
  });
});

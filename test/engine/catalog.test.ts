// readSourceCatalog on a real PostgreSQL 13: the seeded sample database (every kind of table, column,
// key and type it has), user types the sample lacks, a snapshot, and a 1,000-table database.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import { holdSnapshot } from '../../src/engine/fullload';
import type { ExportedSnapshot } from '../../src/engine/fullload';
import { seedSampleDatabase } from '../../src/dev/seed';
import type { SourceCatalog } from '../../src/mapping/types';
import { type TestServer, connect, dropDatabase, freshDatabase, testServer } from '../support/pg';
import { Leftovers, catalogTable, connInfo } from './fixtures/fullload';

describe('engine/catalog: readSourceCatalog', function () {
  this.timeout(180_000);
  let pg13: TestServer;
  let db: string;
  let client: Client;
  let catalog: SourceCatalog;
  const left = new Leftovers();

  before(async () => {
    pg13 = await testServer(13);
    db = await freshDatabase(pg13, 'catalog');
    left.databases.push({ server: pg13, name: db });
    client = await connect(pg13, db);
    await seedSampleDatabase(client, { scale: 1 });
    // Ferry's own control schema must never show up as something to migrate.
    await client.query(`CREATE SCHEMA ferry; CREATE TABLE ferry.load_tables (x int)`);
    catalog = await readSourceCatalog(connInfo(pg13, db, 'src'));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await client?.end();
    await left.cleanup(dropDatabase);
  });

  it('describes the server and leaves out system and ferry schemas', () => {
    assert.equal(catalog.database, db);
    assert.equal(catalog.serverMajor, 13);
    assert.match(catalog.serverVersion, /^13\.\d+$/);
    const schemas = new Set(catalog.tables.map((t) => t.schema));
    assert.deepEqual([...schemas].sort(), ['Legacy', 'audit', 'hr', 'inventory', 'public', 'sales']);
  });

  it('lists tables, the partitioned table with its leaf partitions, and views', () => {
    const kinds = (k: string) =>
      catalog.tables
        .filter((t) => t.kind === k)
        .map((t) => `${t.schema}.${t.name}`)
        .sort();
    assert.equal(kinds('table').length, 19);
    assert.ok(kinds('table').includes('sales.Order Items'));
    assert.ok(kinds('table').includes('Legacy.CustomerNotes'));
    assert.deepEqual(kinds('partitioned'), ['sales.payments']);
    assert.deepEqual(kinds('partition'), [
      'sales.payments_2022',
      'sales.payments_2023',
      'sales.payments_2024',
      'sales.payments_default',
    ]);
    assert.deepEqual(kinds('view'), [
      'inventory.product_stock',
      'sales.active_customers',
      'sales.monthly_revenue',
      'sales.order_summary',
    ]);
    const payments = catalogTable(catalog, 'sales', 'payments');
    assert.equal(payments.partitions?.length, 4);
    const p2023 = catalogTable(catalog, 'sales', 'payments_2023');
    assert.deepEqual(p2023.parent, { schema: 'sales', name: 'payments' });
    // A parent stores nothing: its size and rows are its partitions' sums.
    const leaves = catalog.tables.filter((t) => t.kind === 'partition');
    assert.equal(
      payments.bytes,
      leaves.reduce((n, t) => n + t.bytes, 0),
    );
    assert.equal(
      payments.estimatedRows,
      leaves.reduce((n, t) => n + t.estimatedRows, 0),
    );
    assert.ok(payments.estimatedRows > 0);
    assert.deepEqual(payments.primaryKey, ['id', 'paid_at']);
  });

  it('describes columns: types, identity, generated, defaults, user types, LOBs, positions', () => {
    const col = (schema: string, table: string, name: string) => {
      const c = catalogTable(catalog, schema, table).columns.find((x) => x.name === name);
      assert.ok(c, `${schema}.${table}.${name}`);
      return c;
    };
    assert.equal(col('public', 'documents', 'id').identity, 'always');
    assert.equal(col('hr', 'employees', 'id').identity, 'by-default');
    assert.equal(col('hr', 'employees', 'id').default, undefined);
    const lineTotal = col('sales', 'Order Items', 'line_total');
    assert.match(lineTotal.generated ?? '', /round\(/);
    assert.equal(lineTotal.default, undefined);
    assert.equal(col('sales', 'orders', 'id').default, `nextval('sales.order_number_seq'::regclass)`);
    assert.equal(col('sales', 'orders', 'status').default, `'pending'::sales.order_status`);
    assert.deepEqual(col('sales', 'orders', 'status').userType, {
      schema: 'sales',
      name: 'order_status',
      kind: 'enum',
    });
    assert.equal(col('sales', 'orders', 'status').type, 'sales.order_status');
    assert.deepEqual(col('sales', 'customers', 'email').userType, {
      schema: 'sales',
      name: 'email',
      kind: 'domain',
    });
    assert.equal(col('sales', 'invoices', 'amount_due').type, 'public.money_amount');
    assert.equal(col('sales', 'orders', 'total').type, 'numeric(12,2)');
    assert.equal(col('inventory', 'products', 'sku').type, 'character varying(32)');
    assert.equal(col('inventory', 'products', 'größe').type, 'text');
    assert.equal(col('hr', 'employees', 'skills').type, 'text[]');
    for (const [s, t, c, lob] of [
      ['public', 'documents', 'body', true],
      ['hr', 'employees', 'photo', true],
      ['public', 'documents', 'metadata', true],
      ['public', 'app_settings', 'raw', true],
      ['hr', 'employees', 'skills', true],
      ['sales', 'customers', 'email', true], // a domain over text
      ['inventory', 'products', 'sku', false],
      ['inventory', 'stock', 'bin_slots', false],
      ['sales', 'orders', 'status', false],
    ] as const) {
      assert.equal(col(s, t, c).lob, lob, `${s}.${t}.${c} lob`);
    }
    assert.equal(col('hr', 'employees', 'first_name').nullable, false);
    assert.equal(col('hr', 'employees', 'email').nullable, true);
    const items = catalogTable(catalog, 'sales', 'Order Items').columns;
    assert.deepEqual(
      items.map((c) => c.position),
      items.map((_, i) => i + 1),
    );
    assert.deepEqual(
      items.slice(0, 2).map((c) => c.name),
      ['order_id', 'order'],
    );
  });

  it('describes keys, usable unique keys and replica identity', () => {
    assert.deepEqual(catalogTable(catalog, 'hr', 'timesheets').primaryKey, ['employee_id', 'work_date']);
    assert.deepEqual(catalogTable(catalog, 'sales', 'Order Items').primaryKey, ['order_id', 'order']);
    assert.deepEqual(catalogTable(catalog, 'audit', 'events_log').primaryKey, []);
    // NOT NULL unique columns are usable keys; a nullable unique column (employees.email) is not.
    assert.deepEqual(catalogTable(catalog, 'hr', 'departments').uniqueKeys, [
      { name: 'departments_name_key', columns: ['name'] },
    ]);
    assert.deepEqual(catalogTable(catalog, 'hr', 'employees').uniqueKeys, []);
    assert.deepEqual(catalogTable(catalog, 'inventory', 'products').uniqueKeys, [
      { name: 'products_sku_key', columns: ['sku'] },
    ]);
    assert.deepEqual(catalogTable(catalog, 'sales', 'customers').uniqueKeys, [
      { name: 'customers_external_id_key', columns: ['external_id'] },
    ]);
    assert.equal(catalogTable(catalog, 'sales', 'orders').replicaIdentity, 'default');
    const orders = catalogTable(catalog, 'sales', 'orders');
    assert.ok(orders.estimatedRows > 0 && orders.bytes > 0);
    assert.equal(catalogTable(catalog, 'sales', 'order_summary').bytes, 0);
  });

  it('reads composite, range, domain-array and enum-array columns, and as of a snapshot', async () => {
    const db2 = await freshDatabase(pg13, 'catalog_types');
    left.databases.push({ server: pg13, name: db2 });
    const c = await connect(pg13, db2);
    try {
      await c.query(`
        CREATE SCHEMA "Types";
        CREATE TYPE "Types".mood AS ENUM ('sad', 'ok');
        CREATE TYPE "Types".pair AS (a int, b text);
        CREATE TYPE "Types".span AS RANGE (subtype = float8);
        CREATE DOMAIN "Types".pos AS int CHECK (VALUE > 0);
        CREATE TABLE "Types".t (id int PRIMARY KEY, moods "Types".mood[], p "Types".pair, s "Types".span,
                                ps "Types".pos[], x xml, u uuid, j json[]);
        ALTER TABLE "Types".t REPLICA IDENTITY FULL;`);
      const conn = connInfo(pg13, db2, 'src');
      const ac = new AbortController();
      let ready!: (s: ExportedSnapshot) => void;
      const snap = new Promise<ExportedSnapshot>((r) => (ready = r));
      const held = holdSnapshot(conn, { signal: ac.signal, onReady: ready });
      const { snapshotId } = await snap;
      await c.query(`CREATE TABLE "Types".later (id int)`);
      const before = await readSourceCatalog(conn, { snapshotId });
      const now = await readSourceCatalog(conn);
      ac.abort();
      await held;
      assert.equal(
        before.tables.find((t) => t.name === 'later'),
        undefined,
      );
      assert.ok(now.tables.find((t) => t.name === 'later'));
      const t = catalogTable(before, 'Types', 't');
      const byName = new Map(t.columns.map((x) => [x.name, x]));
      assert.equal(t.replicaIdentity, 'full');
      assert.deepEqual(byName.get('moods')?.userType, { schema: 'Types', name: 'mood', kind: 'enum' });
      assert.equal(byName.get('moods')?.type, '"Types".mood[]');
      assert.deepEqual(byName.get('p')?.userType, { schema: 'Types', name: 'pair', kind: 'composite' });
      assert.deepEqual(byName.get('s')?.userType, { schema: 'Types', name: 'span', kind: 'range' });
      assert.deepEqual(byName.get('ps')?.userType, { schema: 'Types', name: 'pos', kind: 'domain' });
      assert.equal(byName.get('u')?.userType, undefined);
      assert.equal(byName.get('x')?.lob, true);
      assert.equal(byName.get('j')?.lob, true);
      assert.equal(byName.get('u')?.lob, false);
    } finally {
      await c.end();
    }
  });

  it('reads 1,000 tables in a fixed number of queries, fast', async () => {
    const db3 = await freshDatabase(pg13, 'catalog_many');
    left.databases.push({ server: pg13, name: db3 });
    const c = await connect(pg13, db3);
    try {
      await c.query(`DO $$ BEGIN FOR i IN 1..1000 LOOP
        EXECUTE format('CREATE TABLE public.t%s (id bigint PRIMARY KEY, a text NOT NULL UNIQUE, b numeric(10,2) DEFAULT 0,
                        c timestamptz, d jsonb)', i);
      END LOOP; END $$`);
    } finally {
      await c.end();
    }
    const started = Date.now();
    const many = await readSourceCatalog(connInfo(pg13, db3, 'src'));
    const ms = Date.now() - started;
    assert.equal(many.tables.length, 1000);
    assert.ok(
      many.tables.every(
        (t) => t.columns.length === 5 && t.primaryKey[0] === 'id' && t.uniqueKeys.length === 1,
      ),
    );
    assert.ok(ms < 10_000, `read in ${ms} ms`);
    console.log(`      1,000 tables read in ${ms} ms`);
  });
});

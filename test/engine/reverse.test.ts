// Reverse replication for fallback, PostgreSQL 13 source and 15 target: a full load under a mapping that
// renames a table and a column, retypes one, removes one and adds one; then prepareReverse at "cutover",
// writes on the target, and runReverse brings them back onto the source (renames reversed, the added
// column gone, the removed one at its source default), exactly once across a stop, into a source frozen
// read-only; the reversal of a plan alone; and the preflight errors on a target without wal_level=logical
// or a role without REPLICATION. Every reverse slot is dropped after the file, which fails if one leaks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'pg';
import { pickPort, startServer, stopServer } from '../../src/dev/postgres';
import { readSourceCatalog } from '../../src/engine/catalog';
import { currentWalLsn } from '../../src/engine/cdc/source';
import type { PgConnInfo } from '../../src/engine/connection';
import { runFullLoadLocal } from '../../src/engine/fullload';
import { quoteIdent } from '../../src/engine/ident';
import {
  dropReverse,
  prepareReverse,
  reverseMigrationName,
  reversePlan,
  reverseSlotName,
  runReverse,
} from '../../src/engine/reverse';
import { ErrorType, FerryError } from '../../src/errors';
import { compilePlan, defaultEngineSettings, parseTableMapping } from '../../src/mapping';
import type { MigrationPlan, SourceCatalog } from '../../src/mapping/types';
import { connect, dropDatabase } from '../support/pg';
import { type DbPair, Leftovers, connInfo, identityPlan, openPair } from './fixtures/fullload';

const noop = () => undefined;
const hex = () => randomBytes(3).toString('hex');

const SCHEMA_SQL = `
  CREATE SCHEMA shop;
  CREATE TABLE shop.customers (
    id int PRIMARY KEY,
    name text NOT NULL,
    email text,
    notes text DEFAULT 'n/a',
    score numeric(8,2)
  );
  CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id int, total numeric(12,2), status text);
  INSERT INTO shop.customers SELECT g, 'Kunde ' || g, 'k' || g || '@example.com', 'note ' || g, g * 1.25
    FROM generate_series(1, 50) g;
  INSERT INTO shop.orders SELECT g, 1 + g % 50, g * 10.5, 'new' FROM generate_series(1, 200) g;`;

const MAPPING = {
  rules: [
    {
      'rule-type': 'selection',
      'rule-id': '1',
      'rule-name': 'shop',
      'object-locator': { 'schema-name': 'shop', 'table-name': '%' },
      'rule-action': 'include',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '2',
      'rule-name': 'customers-are-clients',
      'rule-target': 'table',
      'object-locator': { 'schema-name': 'shop', 'table-name': 'customers' },
      'rule-action': 'rename',
      value: 'clients',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '3',
      'rule-name': 'name-is-full-name',
      'rule-target': 'column',
      'object-locator': { 'schema-name': 'shop', 'table-name': 'customers', 'column-name': 'name' },
      'rule-action': 'rename',
      value: 'full_name',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '4',
      'rule-name': 'no-notes',
      'rule-target': 'column',
      'object-locator': { 'schema-name': 'shop', 'table-name': 'customers', 'column-name': 'notes' },
      'rule-action': 'remove-column',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '5',
      'rule-name': 'label',
      'rule-target': 'column',
      'object-locator': { 'schema-name': 'shop', 'table-name': 'customers' },
      'rule-action': 'add-column',
      value: 'label',
      expression: 'upper($name)',
      'data-type': { type: 'string', length: 200 },
    },
    {
      'rule-type': 'transformation',
      'rule-id': '6',
      'rule-name': 'score-as-text',
      'rule-target': 'column',
      'object-locator': { 'schema-name': 'shop', 'table-name': 'customers', 'column-name': 'score' },
      'rule-action': 'change-data-type',
      'data-type': { type: 'string', length: 20 },
    },
  ],
};

/** What the source must hold: the target's rows mapped back. */
const CLIENTS_BACK = `SELECT id::text, full_name, email, (score::numeric(8,2))::text FROM shop.clients ORDER BY id`;
const CUSTOMERS = `SELECT id::text, name, email, score::text FROM shop.customers ORDER BY id`;
const ORDERS = `SELECT id::text, customer_id::text, total::text, status FROM shop.orders ORDER BY id`;

async function rowsOf(c: Client, sql: string): Promise<(string | null)[][]> {
  const { rows } = await c.query({ text: sql, rowMode: 'array' });
  return rows as (string | null)[][];
}

describe('engine/reverse: reverse replication target → source for fallback', function () {
  this.timeout(600_000);
  const left = new Leftovers();
  let pair: DbPair;
  let src: Client;
  let dst: Client;
  let plan: MigrationPlan;
  let catalog: SourceCatalog;
  const migration = `rev-${hex()}`;
  /** Migrations whose reverse slot this file may have created on the target. */
  const created: { target: PgConnInfo; migration: string }[] = [];

  before(async () => {
    pair = await openPair('reverse', left);
    ({ src, dst } = pair);
    src.on('error', noop);
    dst.on('error', noop);
    await src.query(SCHEMA_SQL);
    catalog = await readSourceCatalog(pair.source);
    plan = compilePlan(parseTableMapping(MAPPING, 'mappings.json'), catalog, defaultEngineSettings());
    await runFullLoadLocal({
      migration,
      source: pair.source,
      target: pair.target,
      plan,
      catalog,
      concurrency: 2,
    });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    for (const r of created) await dropReverse(r).catch(noop);
    await src?.end().catch(noop);
    await dst?.end().catch(noop);
    let leaked: string[] = [];
    if (pair) {
      const c = await connect(pair.pg15);
      try {
        const { rows } = await c.query<{ slot_name: string }>(
          `SELECT slot_name FROM pg_replication_slots WHERE slot_name = ANY ($1)`,
          [created.map((r) => reverseSlotName(r.migration))],
        );
        leaked = rows.map((r) => r.slot_name);
      } finally {
        await c.end();
      }
    }
    await left.cleanup(dropDatabase);
    assert.deepEqual(leaked, [], 'reverse slots left behind');
  });

  it('reverses the plan: renames and casts back, added column dropped, removed column left to the source', () => {
    const rev = reversePlan(plan, catalog);
    assert.deepEqual(rev.skipped, []);
    const clients = rev.tables.find((t) => t.source.name === 'clients');
    assert.ok(clients);
    assert.deepEqual(clients.target, { schema: 'shop', name: 'customers' });
    assert.deepEqual(
      clients.columns.map((c) => `${c.source}→${c.target}:${c.type}`),
      ['id→id:integer', 'full_name→name:text', 'email→email:text', 'score→score:numeric(8,2)'],
    );
    assert.deepEqual(clients.primaryKey, ['id']);
    assert.equal(clients.filter, undefined);
    assert.ok(
      rev.findings.some(
        (f) => f.field.includes('shop.clients') && /"label": added on the target/.test(f.message),
      ),
      JSON.stringify(rev.findings),
    );

    // A key computed by an expression cannot be found on the source: the table is excluded, with why.
    const broken: MigrationPlan = JSON.parse(JSON.stringify(plan));
    const orders = broken.tables.find((t) => t.source.name === 'orders')!;
    const idCol = orders.columns.find((c) => c.target === 'id')!;
    idCol.expression = `("id" + 1000)::bigint`;
    const brokenCatalog: SourceCatalog = JSON.parse(JSON.stringify(catalog));
    brokenCatalog.tables.find((t) => t.name === 'orders')!.primaryKey = [];
    const rev2 = reversePlan(broken, brokenCatalog);
    assert.deepEqual(
      rev2.tables.map((t) => t.source.name),
      ['clients'],
    );
    assert.equal(rev2.skipped.length, 1);
    assert.equal(rev2.skipped[0].name, 'orders');
    assert.match(rev2.skipped[0].reason, /key column\(s\) "id" \(computed by an expression/);
  });

  it('brings target writes back onto the source, resumes after a stop without duplicates, and writes into a frozen source', async () => {
    // Cutover: prepare while nothing writes; idempotent.
    const setup = await prepareReverse({ migration, plan, target: pair.target, source: pair.source });
    created.push({ target: pair.target, migration });
    assert.equal(setup.slotName, reverseSlotName(migration));
    assert.equal(setup.publication, setup.slotName);
    assert.ok(setup.created);
    const again = await prepareReverse({ migration, plan, target: pair.target, source: pair.source });
    assert.equal(again.created, false);
    assert.equal(again.slotName, setup.slotName);
    const { rows: pubTables } = await dst.query<{ t: string }>(
      `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
      [setup.publication],
    );
    assert.deepEqual(
      pubTables.map((r) => r.t),
      ['shop.clients', 'shop.orders'],
    );

    // The application now writes to the target.
    await dst.query(`
      INSERT INTO shop.clients (id, full_name, email, score, label) VALUES (101, 'Neu 101', 'n101@x', '3.50', 'NEU');
      UPDATE shop.clients SET full_name = full_name || ' (renamed col)', score = '99.99' WHERE id IN (2, 3);
      DELETE FROM shop.clients WHERE id = 4;
      INSERT INTO shop.orders VALUES (1001, 101, 12.34, 'new');
      UPDATE shop.orders SET status = 'shipped' WHERE id <= 5;
      DELETE FROM shop.orders WHERE id BETWEEN 10 AND 12;`);
    const base = { migration, plan, target: pair.target, source: pair.source, progressIntervalMs: 100 };
    const first = await runReverse({ ...base, untilLsn: await currentWalLsn(pair.target) });
    assert.ok(first.changes >= 10, `changes ${first.changes}`);
    assert.deepEqual(await rowsOf(src, CUSTOMERS), await rowsOf(dst, CLIENTS_BACK), 'customers after run 1');
    assert.deepEqual(await rowsOf(src, ORDERS), await rowsOf(dst, ORDERS), 'orders after run 1');
    // Inserted on the target: the removed column takes its source default.
    assert.deepEqual(await rowsOf(src, `SELECT notes FROM shop.customers WHERE id = 101`), [['n/a']]);
    assert.deepEqual(await rowsOf(src, `SELECT notes FROM shop.customers WHERE id = 2`), [['note 2']]);

    // Stop a run mid-way (no end position, aborted), then resume: nothing applied twice.
    await dst.query(`
      INSERT INTO shop.clients (id, full_name, email, score) VALUES (102, 'Neu 102', NULL, '1.00');
      UPDATE shop.orders SET total = total + 1 WHERE id BETWEEN 20 AND 40;`);
    const ac = new AbortController();
    await runReverse({
      ...base,
      signal: ac.signal,
      onProgress: (p) => {
        // The insert and the 21 order updates are on the source: stop there.
        if (p.changes >= first.changes + 22) ac.abort();
      },
    });
    await dst.query(`
      INSERT INTO shop.clients (id, full_name, email, score) VALUES (103, 'Neu 103', 'n103@x', '2.00');
      DELETE FROM shop.clients WHERE id = 102;
      INSERT INTO shop.orders VALUES (1002, 103, 1, 'new');`);

    // Freeze the source for cutover as an operator would: new sessions are read-only.
    await src.query(
      `ALTER DATABASE ${quoteIdent(pair.source.database)} SET default_transaction_read_only = on`,
    );
    try {
      const frozen = await connect(pair.pg13, pair.source.database);
      try {
        await assert.rejects(frozen.query(`INSERT INTO shop.orders VALUES (9999, 1, 1, 'x')`), {
          code: '25006',
        });
      } finally {
        await frozen.end();
      }
      const last = await runReverse({ ...base, untilLsn: await currentWalLsn(pair.target) });
      assert.ok(last.txns >= first.txns, 'the totals continue');
    } finally {
      await src.query(
        `ALTER DATABASE ${quoteIdent(pair.source.database)} RESET default_transaction_read_only`,
      );
    }
    assert.deepEqual(await rowsOf(src, CUSTOMERS), await rowsOf(dst, CLIENTS_BACK), 'customers at the end');
    assert.deepEqual(await rowsOf(src, ORDERS), await rowsOf(dst, ORDERS), 'orders at the end');
    const { rows: exc } = await src.query(`SELECT kind, key FROM ferry.cdc_exceptions WHERE migration = $1`, [
      reverseMigrationName(migration),
    ]);
    assert.deepEqual(exc, [], 'no conflicts: nothing applied twice');
    const { rows: prog } = await src.query<{ slot_name: string }>(
      `SELECT slot_name FROM ferry.cdc_progress WHERE migration = $1`,
      [reverseMigrationName(migration)],
    );
    assert.deepEqual(
      prog.map((r) => r.slot_name),
      [setup.slotName],
    );

    const dropped = await dropReverse({ target: pair.target, migration });
    assert.deepEqual(dropped, { slotDropped: true, publicationDropped: true });
    assert.deepEqual(await dropReverse({ target: pair.target, migration }), {
      slotDropped: false,
      publicationDropped: false,
    });
    await assert.rejects(
      runReverse({ ...base, untilLsn: '0/0' }),
      (err: unknown) =>
        err instanceof FerryError &&
        err.type === ErrorType.REPLICATION_NOT_READY &&
        /run prepareReverse at cutover/.test(err.message),
    );
  });

  it('refuses a target role without REPLICATION, naming rds_replication', async () => {
    const role = `ferry_norepl_${hex()}`;
    await dst.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
    try {
      const target = { ...pair.target, user: role, password: 'pw' };
      const m = `rev-norepl-${hex()}`;
      await assert.rejects(
        prepareReverse({ migration: m, plan, target, source: pair.source }),
        (err: unknown) => {
          assert.ok(err instanceof FerryError, String(err));
          assert.equal(err.type, ErrorType.REPLICATION_NOT_READY);
          assert.match(err.message, /cannot feed reverse replication/);
          assert.match(err.message, /no REPLICATION attribute/);
          assert.match(err.message, /GRANT rds_replication TO/);
          return true;
        },
      );
    } finally {
      await dst.query(`DROP ROLE ${role}`);
    }
  });

  describe('a target server without wal_level = logical', () => {
    let dir: string;
    let conn: PgConnInfo;

    before(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-reverse-'));
      await fs.chmod(dir, 0o755);
      const port = await pickPort();
      const password = randomBytes(12).toString('hex');
      await startServer({
        major: 15,
        dataDir: path.join(dir, 'pg15'),
        port,
        password,
        settings: { wal_level: 'replica' },
      });
      const server = { major: 15 as const, host: '127.0.0.1', port, user: 'postgres', password, dataDir: '' };
      const c = await connect(server);
      try {
        await c.query(`CREATE DATABASE rev`);
      } finally {
        await c.end();
      }
      conn = connInfo(server, 'rev', 'aurora');
      const d = await connect(server, 'rev');
      try {
        await d.query(
          `CREATE TABLE public.nokey (a int, b text); CREATE TABLE public.keyed (id int PRIMARY KEY)`,
        );
      } finally {
        await d.end();
      }
    });

    after(async () => {
      if (dir) {
        await stopServer(path.join(dir, 'pg15'));
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('is refused with the fix for wal_level (and rds.logical_replication = 1 for Aurora); a key-less table gets REPLICA IDENTITY FULL', async () => {
      const cat = await readSourceCatalog(conn);
      const idPlan = identityPlan(cat);
      await assert.rejects(
        prepareReverse({ migration: 'rev-wal', plan: idPlan, target: conn, source: conn, catalog: cat }),
        (err: unknown) => {
          assert.ok(err instanceof FerryError, String(err));
          assert.equal(err.type, ErrorType.REPLICATION_NOT_READY);
          assert.match(err.message, /wal_level is replica/);
          assert.match(err.message, /ALTER SYSTEM SET wal_level = logical/);
          assert.match(err.message, /rds\.logical_replication = 1/);
          // Key-less tables Ferry created are given REPLICA IDENTITY FULL, so they are not a problem.
          assert.doesNotMatch(err.message, /public\.nokey/);
          assert.doesNotMatch(err.message, /public\.keyed/);
          return true;
        },
      );
      const c = await connect(
        {
          major: 15,
          host: conn.host,
          port: conn.port,
          user: conn.user,
          password: conn.password,
          dataDir: '',
        },
        'rev',
      );
      try {
        const { rows } = await c.query(`SELECT 1 FROM pg_publication`);
        assert.equal(rows.length, 0, 'no publication on a refused target');
        const ident = await c.query(`SELECT relreplident FROM pg_class WHERE oid = 'public.nokey'::regclass`);
        assert.equal(ident.rows[0].relreplident, 'f');
      } finally {
        await c.end();
      }
    });
  });
});

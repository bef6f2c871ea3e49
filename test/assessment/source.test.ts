// Assessment of the source against real servers: the CDC settings on a server with wal_level=replica and
// no slots or senders, a role without REPLICATION and without SELECT on one table, tables without a key,
// unlogged and temporary tables, large objects and LOB values above LobMaxSize; and silence on a clean
// database. The assessment changes nothing on the source: no slot or publication is left behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import type { PgConnInfo } from '../../src/engine/connection';
import { type TestServer, connect, testServer } from '../support/pg';
import {
  Databases,
  assertFires,
  assertSilent,
  assess,
  connInfo,
  describeResult,
  extraServer,
} from './fixtures';

const CDC_BLOCKERS = [
  'source-wal-level',
  'source-replication-slots',
  'source-wal-senders',
  'source-replication-privilege',
  'cdc-server',
  'cdc-replica-identity',
  'cdc-unlogged-table',
  'cdc-slot',
  'cdc-publication',
];
const SOURCE_RULES = [
  'source-version',
  'source-select-privilege',
  'source-table-without-key',
  'source-unlogged-table',
  'source-temp-table',
  'source-large-objects',
  'source-lob-truncation',
];

describe('assessment: source', function () {
  this.timeout(120_000);
  const dbs = new Databases();
  const role = `assess_norepl_${randomBytes(3).toString('hex')}`;
  const rolePassword = randomBytes(12).toString('hex');
  let pg13: TestServer;
  let target: PgConnInfo;
  let clean: PgConnInfo;
  let dirty: PgConnInfo;
  let dirtyDb: string;
  let asRole: PgConnInfo;
  let holder: Client;

  before(async () => {
    let pg15: TestServer;
    [pg13, pg15] = await Promise.all([testServer(13), testServer(15)]);
    const [c, d, t] = await Promise.all([
      dbs.create(
        pg13,
        'assess_src_clean',
        'CREATE TABLE public.orders (id int PRIMARY KEY, note varchar(100))',
      ),
      dbs.create(
        pg13,
        'assess_src_dirty',
        `CREATE TABLE public.orders (id int PRIMARY KEY, note varchar(100));
         CREATE TABLE public.nokey (a int, b text);
         CREATE UNLOGGED TABLE public.scratch (id int PRIMARY KEY, v text);
         CREATE TABLE public.secret (id int PRIMARY KEY, body text);
         CREATE VIEW public.recent_orders AS SELECT * FROM public.orders WHERE id > 100;
         CREATE PUBLICATION assess_no_truncate FOR TABLE public.orders WITH (publish = 'insert, update, delete');
         CREATE TABLE public.docs (id int PRIMARY KEY, body text, data bytea, meta jsonb);
         INSERT INTO public.docs SELECT g, repeat('x', 100 * 1024), decode(repeat('ab', 10), 'hex'), '{"a": 1}'
           FROM generate_series(1, 3) g;
         INSERT INTO public.docs VALUES (4, 'short', NULL, NULL);
         SELECT pg_catalog.lo_from_bytea(0, 'a large object');
         CREATE ROLE ${role} LOGIN PASSWORD '${rolePassword}';
         GRANT SELECT ON public.orders, public.nokey, public.scratch, public.docs TO ${role};`,
      ),
      dbs.create(pg15, 'assess_src_tgt'),
    ]);
    clean = connInfo(pg13, c, 'onsite');
    dirtyDb = d;
    dirty = connInfo(pg13, d, 'onsite');
    asRole = { ...dirty, user: role, password: rolePassword };
    target = connInfo(pg15, t, 'aurora');
    // A session holding a temporary table in the dirty database for the whole file.
    holder = await connect(pg13, d);
    await holder.query('CREATE TEMP TABLE session_scratch (id int)');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') dbs.failed = true;
  });

  after(async () => {
    await holder?.end();
    const c = await connect(pg13, dirtyDb);
    try {
      await c.query(`DROP OWNED BY ${role}`);
    } finally {
      await c.end();
    }
    await dbs.cleanup();
    const admin = await connect(pg13);
    try {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await admin.end();
    }
  });

  it('a clean database: no source finding, and CDC only says what Ferry will create', async () => {
    // (cdc-only needs the tables on the target already: see target.test.ts.)
    for (const migrationType of ['full-load', 'full-load-and-cdc'] as const) {
      const r = await assess({ source: clean, target, migrationType });
      assertSilent(r, ...CDC_BLOCKERS, ...SOURCE_RULES, 'cdc-warning', 'assessment-check-failed');
      assert.equal(r.blocked, false, describeResult(r));
      if (migrationType !== 'full-load') assertFires(r, 'cdc-plan');
    }
  });

  it('wal_level, replication slots and WAL senders, for CDC migration types only', async () => {
    const replica = connInfo(await extraServer(), 'postgres', 'onsite');
    const c = await connect({ ...(await extraServer()) });
    try {
      await c.query('CREATE TABLE IF NOT EXISTS public.orders (id int PRIMARY KEY)');
    } finally {
      await c.end();
    }
    const r = await assess({ source: replica, target, migrationType: 'full-load-and-cdc' });
    const [wal] = assertFires(r, 'source-wal-level', 'parameter:wal_level');
    assert.match(wal.message, /wal_level is replica/);
    assert.match(wal.advice, /ALTER SYSTEM SET wal_level = logical/);
    assertFires(r, 'source-replication-slots', 'parameter:max_replication_slots');
    assertFires(r, 'source-wal-senders', 'parameter:max_wal_senders');
    assert.ok(r.blocked);
    const full = await assess({ source: replica, target, migrationType: 'full-load' });
    assertSilent(full, 'source-wal-level', 'source-replication-slots', 'source-wal-senders');
  });

  it('CDC: no REPLICATION, no SELECT, no replica identity, an unlogged table', async () => {
    const r = await assess({ source: asRole, target, migrationType: 'full-load-and-cdc' });
    const [repl] = assertFires(r, 'source-replication-privilege', `role:${role}`);
    assert.match(repl.advice, new RegExp(`ALTER ROLE "${role}" REPLICATION`));
    assertFires(r, 'cdc-replica-identity', 'table:public.nokey');
    assertFires(r, 'cdc-unlogged-table', 'table:public.scratch');
    const select = assertFires(r, 'source-select-privilege', 'table:public.secret');
    assert.equal(select.length, 1, 'reported once, by checkPrivileges and the CDC preflight together');
    assert.match(select[0].advice, /GRANT SELECT ON public\.secret/);
    // The role neither owns the tables nor may create in the database: no publication can be made.
    const [pub] = assertFires(r, 'cdc-publication');
    assert.match(pub.message, /Ferry cannot create publication/);
    // Full-load rules stay silent under CDC: the CDC rules say it.
    assertSilent(r, 'source-table-without-key', 'source-unlogged-table');
    // Nothing was created on the source.
    const c = await connect(pg13, dirtyDb);
    try {
      const { rows } = await c.query(
        `SELECT 1 FROM pg_replication_slots WHERE database = current_database()`,
      );
      assert.equal(rows.length, 0, 'no slot left by the assessment');
      const pubs = await c.query(`SELECT 1 FROM pg_publication WHERE pubname <> 'assess_no_truncate'`);
      assert.equal(pubs.rows.length, 0, 'no publication left by the assessment');
    } finally {
      await c.end();
    }
  });

  it('CDC: an unusable slot name, a view that has no changes, a publication without truncate', async () => {
    const badSlot = await assess({
      source: dirty,
      target,
      migrationType: 'cdc',
      cdc: { slotName: 'Bad-Slot', publication: 'assess_pub' },
    });
    const [slot] = assertFires(badSlot, 'cdc-slot', 'slot:Bad-Slot');
    assert.match(slot.message, /not a valid replication slot name/);

    const r = await assess({
      source: dirty,
      target,
      migrationType: 'cdc',
      cdc: { slotName: 'ferry_assess_no_truncate', publication: 'assess_no_truncate' },
      tableMappings: {
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': 'orders-and-view',
            'object-locator': { 'schema-name': 'public', 'table-name': '%orders', 'table-type': 'all' },
            'rule-action': 'include',
          },
        ],
      },
    });
    assertFires(r, 'cdc-view-not-captured', 'table:public.recent_orders');
    const [trunc] = assertFires(r, 'cdc-warning', 'publication:assess_no_truncate');
    assert.match(trunc.message, /does not publish truncate/);
    assertSilent(r, 'cdc-slot', 'cdc-publication');
  });

  it('full load: tables without a key, unlogged and temporary tables, large objects, long LOBs', async () => {
    const r = await assess({ source: asRole, target, migrationType: 'full-load' });
    assertFires(r, 'source-select-privilege', 'table:public.secret');
    const [nokey] = assertFires(r, 'source-table-without-key', 'table:public.nokey');
    assert.equal(nokey.severity, 'warning');
    assertFires(r, 'source-unlogged-table', 'table:public.scratch');
    const [temp] = assertFires(r, 'source-temp-table');
    assert.match(temp.message, /session_scratch/);
    const [lo] = assertFires(r, 'source-large-objects', 'endpoint:onsite');
    assert.match(lo.message, /1 large object/);
    const [lob] = assertFires(r, 'source-lob-truncation', 'column:public.docs.body');
    assert.match(
      lob.message,
      /largest value is 100\.0 KiB, above TargetMetadata\.LobMaxSize \(32 KB\); 3 value/,
    );
    assert.match(lob.advice, /at least 100 \(KB\)/);
    assertSilent(r, ...CDC_BLOCKERS);
    // A check that cannot read a table says so (the privilege finding names the fix).
    const [failed] = assertFires(r, 'assessment-check-failed', 'table:public.secret');
    assert.match(failed.message, /measuring LOB sizes of public\.secret failed: 42501/);
    // Only the long column: data and meta are small.
    assert.deepEqual(
      r.findings.filter((f) => f.id === 'source-lob-truncation').map((f) => f.object),
      ['column:public.docs.body'],
    );
  });

  it('LOB sizes are silent in full LOB mode and under a large enough LobMaxSize', async () => {
    for (const TargetMetadata of [{ FullLobMode: true }, { LobMaxSize: 200 }]) {
      const r = await assess({ source: dirty, target, taskSettings: { TargetMetadata } });
      assertSilent(r, 'source-lob-truncation');
    }
    const perTable = await assess({
      source: dirty,
      target,
      tableMappings: {
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': '1',
            'object-locator': { 'schema-name': 'public', 'table-name': 'docs' },
            'rule-action': 'include',
          },
          {
            'rule-type': 'table-settings',
            'rule-id': '2',
            'rule-name': '2',
            'object-locator': { 'schema-name': 'public', 'table-name': 'docs' },
            'lob-settings': { mode: 'limited', 'bulk-max-size': '64' },
          },
        ],
      },
    });
    const [f] = assertFires(perTable, 'source-lob-truncation', 'column:public.docs.body');
    assert.match(f.message, /the lob-settings bulk-max-size of public\.docs \(64 KB\)/);
  });
});

// Assessment of the target against real servers: a target older than the source (PostgreSQL 15 → 13)
// missing an extension the source uses, tables already holding rows under each TargetTablePrepMode,
// tables a cdc-only migration needs, a user that may not create, and the space estimate.
import assert from 'node:assert/strict';
import { ensureControlTables } from '../../src/engine/fullload/control';
import { randomBytes } from 'node:crypto';
import type { PgConnInfo } from '../../src/engine/connection';
import { type TestServer, connect, testServer } from '../support/pg';
import { Databases, assertFires, assertSilent, assess, connInfo, describeResult } from './fixtures';

const TARGET_RULES = [
  'target-version-older',
  'target-table-not-empty',
  'target-data-overwritten',
  'target-table-missing',
  'target-create-privilege',
  'target-extension-missing',
  'target-extension-version',
  'assessment-check-failed',
];

describe('assessment: target', function () {
  this.timeout(120_000);
  const dbs = new Databases();
  const role = `assess_nocreate_${randomBytes(3).toString('hex')}`;
  const rolePassword = randomBytes(12).toString('hex');
  let pg13: TestServer;
  let pg15: TestServer;
  let source: PgConnInfo;
  let emptyTarget: PgConnInfo;
  let fullTarget: PgConnInfo;
  let fullTargetDb: string;

  before(async () => {
    [pg13, pg15] = await Promise.all([testServer(13), testServer(15)]);
    const [s, e, f] = await Promise.all([
      dbs.create(
        pg13,
        'assess_tgt_src',
        `CREATE TABLE public.orders (id int PRIMARY KEY, note text);
         CREATE TABLE public.items (id int PRIMARY KEY, order_id int);
         CREATE SCHEMA sales;
         CREATE TABLE sales.invoices (id int PRIMARY KEY, amount numeric(12,2));
         INSERT INTO public.orders SELECT g, 'order ' || g FROM generate_series(1, 500) g;`,
      ),
      dbs.create(pg15, 'assess_tgt_empty'),
      dbs.create(
        pg15,
        'assess_tgt_full',
        `CREATE TABLE public.orders (id int PRIMARY KEY, note text);
         INSERT INTO public.orders VALUES (1, 'a'), (2, 'b'), (3, 'c');
         CREATE SCHEMA sales;
         CREATE TABLE sales.invoices (id int PRIMARY KEY, amount numeric(12,2));
         CREATE ROLE ${role} LOGIN PASSWORD '${rolePassword}';
         GRANT SELECT ON ALL TABLES IN SCHEMA public, sales TO ${role};
         GRANT USAGE ON SCHEMA sales TO ${role};`,
      ),
    ]);
    source = connInfo(pg13, s, 'onsite');
    emptyTarget = connInfo(pg15, e, 'aurora');
    fullTargetDb = f;
    fullTarget = connInfo(pg15, f, 'aurora');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') dbs.failed = true;
  });

  after(async () => {
    const c = await connect(pg15, fullTargetDb);
    try {
      await c.query(`DROP OWNED BY ${role}`);
    } finally {
      await c.end();
    }
    await dbs.cleanup();
    const admin = await connect(pg15);
    try {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await admin.end();
    }
  });

  it('an empty target of a later version: no target finding, and the space estimate', async () => {
    const r = await assess({ source, target: emptyTarget });
    assertSilent(r, ...TARGET_RULES);
    assert.equal(r.blocked, false, describeResult(r));
    const [space] = assertFires(r, 'target-free-space', 'endpoint:aurora');
    assert.match(space.message, /the 3 selected table\(s\) take \d+\.\d KiB on source onsite/);
    assert.match(space.advice, /SHOW data_directory; then df -h/);
  });

  it('a target older than the source, without an extension the source uses', async () => {
    const src15 = await dbs.create(
      pg15,
      'assess_tgt_src15',
      `CREATE EXTENSION pg_surgery; CREATE EXTENSION hstore; CREATE TABLE public.t (id int PRIMARY KEY)`,
    );
    const tgt13 = await dbs.create(pg13, 'assess_tgt_old');
    const r = await assess({
      source: connInfo(pg15, src15, 'onsite'),
      target: connInfo(pg13, tgt13, 'aurora'),
    });
    const [f] = assertFires(r, 'target-version-older', 'endpoint:aurora');
    assert.match(f.message, /target runs PostgreSQL 13\.\d+, older than the source's 15\.\d+/);
    assertFires(r, 'target-extension-missing', 'extension:pg_surgery');
    // hstore 1.8 (PostgreSQL 15) is newer than any hstore PostgreSQL 13 offers.
    const [v] = assertFires(r, 'target-extension-version', 'extension:hstore');
    assert.match(v.message, /extension hstore is 1\.8 on the source; target aurora offers .*1\.7/);
    assert.ok(r.blocked);
  });

  it("DO_NOTHING over the migration's own earlier load is a resume, not someone else's data", async () => {
    await ensureControlTables(fullTarget);
    const c = await connect(pg15, fullTargetDb);
    try {
      await c.query(
        `INSERT INTO ferry.load_tables (migration, source_schema, source_table, target_schema, target_table, state)
         VALUES ('resume-me', 'public', 'orders', 'public', 'orders', 'completed')`,
      );
      const mine = await assess({ source, target: fullTarget, migration: 'resume-me' });
      assertSilent(mine, 'target-table-not-empty');
      const other = await assess({ source, target: fullTarget, migration: 'someone-else' });
      assertFires(other, 'target-table-not-empty', 'table:public.orders');
    } finally {
      await c.query(`DELETE FROM ferry.load_tables WHERE migration = 'resume-me'`);
      await c.end();
    }
  });

  it('tables holding rows: a blocker with DO_NOTHING, the data lost named otherwise', async () => {
    const r = await assess({ source, target: fullTarget });
    const [f] = assertFires(r, 'target-table-not-empty', 'table:public.orders');
    assert.match(f.message, /holding 3 row\(s\) and TargetTablePrepMode is DO_NOTHING/);
    assert.deepEqual(
      r.findings.filter((x) => x.id === 'target-table-not-empty').map((x) => x.object),
      ['table:public.orders'],
      'empty or missing tables are fine',
    );
    assertSilent(r, 'target-data-overwritten');

    const drop = await assess({
      source,
      target: fullTarget,
      taskSettings: { FullLoadSettings: { TargetTablePrepMode: 'DROP_AND_CREATE' } },
    });
    const [d] = assertFires(drop, 'target-data-overwritten', 'table:public.orders');
    assert.match(
      d.message,
      /holding 3 row\(s\); TargetTablePrepMode DROP_AND_CREATE drops the table with its rows/,
    );
    assertSilent(drop, 'target-table-not-empty');

    const truncate = await assess({
      source,
      target: fullTarget,
      taskSettings: { FullLoadSettings: { TargetTablePrepMode: 'TRUNCATE_BEFORE_LOAD' } },
    });
    const [t] = assertFires(truncate, 'target-data-overwritten', 'table:public.orders');
    assert.match(t.message, /deletes its rows/);
  });

  it('cdc only: the tables must be on the target already', async () => {
    const r = await assess({ source, target: fullTarget, migrationType: 'cdc' });
    const missing = assertFires(r, 'target-table-missing');
    assert.deepEqual(
      missing.map((f) => f.object),
      ['table:public.items'],
    );
    assertSilent(r, 'target-table-not-empty', 'target-data-overwritten');
  });

  it('a target user without CREATE on the database and the target schemas', async () => {
    const r = await assess({ source, target: { ...fullTarget, user: role, password: rolePassword } });
    const privs = assertFires(r, 'target-create-privilege');
    assert.deepEqual(
      privs.map((f) => f.object),
      ['endpoint:aurora', 'schema:public', 'schema:sales'],
      describeResult(r),
    );
    assert.match(privs[0].advice, /GRANT CREATE ON DATABASE/);
    assert.match(privs[2].advice, /GRANT CREATE ON SCHEMA "sales" TO "assess_nocreate_/);
  });
});

// The cutover engine against real PostgreSQL 13 (source) and 15 (target): the business-hours window,
// the three write freezes and their exact undo, draining a live CDC run to the freeze point, sequences
// moved past the source's by a margin, the switch hook's environment, and the freeze measured.
// Every session the tests keep open is named 'ferry-test…' so the freezes leave it alone; roles,
// slots, publications and temp dirs are removed after the file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import { runCdc } from '../../src/engine/cdc/runner';
import { cdcTables, createSlot, dropPublication, ensurePublication } from '../../src/engine/cdc/source';
import { compareLsn, tableKeyOf } from '../../src/engine/cdc/types';
import { type PgConnInfo, connectPg, withDatabase } from '../../src/engine/connection';
import {
  checkWindow,
  nextCutoverWindow,
  freezeVerdict,
  freezeWrites,
  measureFreeze,
  parseBusinessHours,
  runSwitchHook,
  syncSequencesAbove,
  undoFreeze,
  waitForZeroLag,
} from '../../src/engine/cutover';
import { ErrorType, FerryError } from '../../src/errors';
import { dropDatabase } from '../support/pg';
import { type DbPair, Leftovers, fingerprint, identityPlan, openPair } from './fixtures/fullload';

const noop = () => undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = () => randomBytes(3).toString('hex');

describe('engine/cutover: window', () => {
  // 2026-11-30 is a Monday.
  const sla = { businessHours: 'Mon-Fri 08:00-18:00 Europe/Berlin', maxDowntime: 900 };

  it('refuses inside business hours and when the downtime budget runs into them', () => {
    // 10:00 Berlin (CET, UTC+1) on a Monday.
    const inside = checkWindow(sla, new Date('2026-11-30T09:00:00Z'));
    assert.equal(inside.ok, false, inside.reason);
    assert.match(inside.reason, /inside the business hours/);
    // 07:50 Berlin: 15 minutes of downtime reach 08:05.
    const late = checkWindow(sla, new Date('2026-11-30T06:50:00Z'));
    assert.equal(late.ok, false, late.reason);
    assert.match(late.reason, /downtime budget/);
    // 07:30 Berlin: done by 07:45.
    assert.equal(checkWindow(sla, new Date('2026-11-30T06:30:00Z')).ok, true);
    // Saturday noon and Monday 19:00 are free.
    assert.equal(checkWindow(sla, new Date('2026-11-28T11:00:00Z')).ok, true);
    assert.equal(checkWindow(sla, new Date('2026-11-30T18:00:00Z')).ok, true);
    // No business hours: always.
    assert.equal(checkWindow({ maxDowntime: 60 }, new Date('2026-11-30T09:00:00Z')).ok, true);
  });

  it('reads lists, wrapping ranges and night shifts, and refuses what it cannot read', () => {
    const h = parseBusinessHours('Mon-Fri 22:00-06:00, Sat,Sun 10:00-12:00 UTC');
    assert.ok(typeof h !== 'string', String(h));
    const night = { businessHours: 'Mon-Fri 22:00-06:00, Sat,Sun 10:00-12:00 UTC' };
    assert.equal(checkWindow(night, new Date('2026-12-01T03:00:00Z')).ok, false); // Tue 03:00
    assert.equal(checkWindow(night, new Date('2026-12-05T03:00:00Z')).ok, false); // Sat 03:00: Fri's night
    assert.equal(checkWindow(night, new Date('2026-12-06T03:00:00Z')).ok, true); // Sun 03:00
    assert.equal(checkWindow(night, new Date('2026-12-06T11:00:00Z')).ok, false); // Sun 11:00
    const bad = checkWindow({ businessHours: 'office hours' }, new Date());
    assert.equal(bad.ok, false);
    assert.match(bad.reason, /cannot be read/);
    assert.match(String(parseBusinessHours('Mon-Fri 08:00-18:00 Mars/Olympus')), /unknown time zone/);
  });

  it('finds the next instant a cutover may start, or none when no window is long enough', () => {
    // Monday 10:00 Berlin: the window opens at 18:00 Berlin (17:00 UTC).
    assert.equal(
      nextCutoverWindow(sla, new Date('2026-11-30T09:00:00Z'))?.toISOString(),
      '2026-11-30T17:00:00.000Z',
    );
    // Already open: now.
    assert.equal(
      nextCutoverWindow(sla, new Date('2026-11-28T11:00:00Z'))?.toISOString(),
      '2026-11-28T11:00:00.000Z',
    );
    // A 15-hour downtime budget never fits between 18:00 and 08:00 on weekdays: the weekend.
    const long = { ...sla, maxDowntime: 15 * 3600 };
    const next = nextCutoverWindow(long, new Date('2026-11-30T09:00:00Z'));
    assert.equal(next?.toISOString(), '2026-12-04T17:00:00.000Z', 'Friday 18:00 Berlin');
    assert.equal(checkWindow(long, next!).ok, true, 'checkWindow agrees');
    assert.equal(checkWindow(long, new Date(next!.getTime() - 60_000)).ok, false, 'and not a minute earlier');
    // Around the clock, every day: never.
    assert.equal(
      nextCutoverWindow({ businessHours: 'daily 00:00-24:00 UTC' }, new Date('2026-11-30T09:00:00Z')),
      undefined,
    );
    assert.equal(nextCutoverWindow({ businessHours: 'office hours' }, new Date()), undefined);
  });

  it('measures the write freeze against the SLA', () => {
    const frozenAt = new Date('2026-11-30T01:00:00Z');
    assert.equal(measureFreeze({ frozenAt }, new Date('2026-11-30T01:00:42Z')), 42_000);
    assert.deepEqual(freezeVerdict({ frozenAt }, new Date('2026-11-30T01:00:42Z'), 30), {
      writeFreezeMs: 42_000,
      slaMaxDowntimeMs: 30_000,
      withinSla: false,
    });
    assert.deepEqual(freezeVerdict({ frozenAt: frozenAt.toISOString() }, new Date('2026-11-30T01:00:10Z')), {
      writeFreezeMs: 10_000,
      withinSla: true,
    });
  });
});

describe('engine/cutover: PostgreSQL 13 → 15', function () {
  this.timeout(600_000);
  const left = new Leftovers();
  let pair: DbPair;
  let source: PgConnInfo;
  let target: PgConnInfo;
  /** Ferry-named control sessions: a freeze never terminates them. */
  let src: Client;
  let dst: Client;
  let tmp: string;
  const roles: string[] = [];
  const pubs: string[] = [];
  const open: Client[] = [];

  before(async () => {
    pair = await openPair('cutover', left);
    // The pair's own clients have no application_name: a freeze would end them.
    await pair.src.end();
    await pair.dst.end();
    ({ source, target } = pair);
    src = await connectPg(source, 'ferry-test');
    dst = await connectPg(target, 'ferry-test');
    src.on('error', noop);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-cutover-'));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    for (const c of open) await c.end().catch(noop);
    // Never leave the shared source frozen.
    await src
      ?.query(`ALTER DATABASE "${source.database.replace(/"/g, '""')}" RESET default_transaction_read_only`)
      .catch(noop);
    for (const p of pubs) await dropPublication(source, p).catch(noop);
    const leaked = src
      ? (
          await src.query<{ slot_name: string }>(
            `SELECT slot_name FROM pg_replication_slots WHERE starts_with(slot_name, 'ferry_t_cutover_')`,
          )
        ).rows.map((r) => r.slot_name)
      : [];
    await src?.end().catch(noop);
    await dst?.end().catch(noop);
    await left.cleanup(dropDatabase);
    if (roles.length) {
      const c = await connectPg(withDatabase(source, 'postgres'), 'ferry-test');
      for (const r of roles) await c.query(`DROP ROLE IF EXISTS "${r}"`).catch(noop);
      await c.end();
    }
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    assert.deepEqual(leaked, [], 'replication slots left behind');
  });

  /** A session of the source database as an application (or Ferry, by its name) would open it. */
  async function session(applicationName: string, as?: { user: string; password: string }): Promise<Client> {
    const c = new Client({
      host: source.host,
      port: source.port,
      database: source.database,
      user: as?.user ?? source.user,
      password: as?.password ?? source.password,
      application_name: applicationName,
    });
    c.on('error', noop);
    await c.connect();
    open.push(c);
    return c;
  }

  const code = (err: unknown) => (err as { code?: string }).code;

  /** A script in the temp dir that writes its environment to $OUT/<FERRY_ACTION>.env and fails when FAIL is set. */
  async function script(name: string): Promise<string> {
    const file = path.join(tmp, name);
    await fs.writeFile(
      file,
      `#!/bin/sh\nenv | sort > "$OUT/$FERRY_ACTION.env"\necho "did $FERRY_ACTION $FERRY_DATABASE$FERRY_TARGET_DATABASE"\n` +
        `if [ -n "$FAIL" ]; then echo "boom: pgbouncer refused PAUSE" >&2; exit 3; fi\n`,
      { mode: 0o755 },
    );
    return file;
  }

  it('read-only: new sessions cannot write, open app sessions end, Ferry sessions read on, undo restores writes', async () => {
    await src.query(`CREATE SCHEMA ro; CREATE TABLE ro.items (id serial PRIMARY KEY, v text)`);
    const app = await session('shop');
    await app.query(`INSERT INTO ro.items (v) VALUES ('before')`);
    const ferry = await session('ferry-cdc-test');
    const appPid = (await app.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;

    const handle = await freezeWrites(source, {
      databases: [source.database],
      method: 'read-only',
      exceptApplicationPrefix: 'ferry',
      terminate: true,
    });
    assert.equal(handle.method, 'read-only');
    assert.ok(
      handle.terminated.some((t) => t.pid === appPid),
      JSON.stringify(handle.terminated),
    );
    assert.ok(!handle.terminated.some((t) => t.applicationName.startsWith('ferry')));
    assert.match(handle.description, /default_transaction_read_only/);
    await assert.rejects(app.query('SELECT 1'));

    const late = await session('shop');
    await assert.rejects(
      late.query(`INSERT INTO ro.items (v) VALUES ('during')`),
      (e) => code(e) === '25006',
    );
    assert.equal((await ferry.query('SELECT count(*)::int AS n FROM ro.items')).rows[0].n, 1);

    // Undo twice (a retried activity): the second is a no-op.
    await handle.undo();
    await undoFreeze(source, handle.state);
    const after = await session('shop');
    await after.query(`INSERT INTO ro.items (v) VALUES ('after')`);
    const { rows } = await src.query(
      `SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`,
      [source.database],
    );
    assert.equal(rows.length, 0, 'the database setting is reset');
  });

  it('read-only: a setting the database had before comes back on undo', async () => {
    const db = `"${source.database.replace(/"/g, '""')}"`;
    await src.query(`ALTER DATABASE ${db} SET default_transaction_read_only = off`);
    try {
      const handle = await freezeWrites(source, {
        databases: [source.database],
        method: 'read-only',
        terminate: false,
      });
      assert.deepEqual(handle.state, {
        method: 'read-only',
        databases: [{ name: source.database, previous: 'off' }],
      });
      await handle.undo();
      const { rows } = await src.query<{ cfg: string[] }>(
        `SELECT setconfig AS cfg FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`,
        [source.database],
      );
      assert.deepEqual(rows[0].cfg, ['default_transaction_read_only=off']);
    } finally {
      await src.query(`ALTER DATABASE ${db} RESET default_transaction_read_only`);
    }
  });

  it('revoke: a non-superuser app role cannot write, and gets exactly its grants back', async () => {
    const role = `ferry_t_app_${hex()}`;
    const password = hex() + hex();
    roles.push(role);
    await src.query(`
      CREATE ROLE ${role} LOGIN PASSWORD '${password}';
      CREATE SCHEMA rv;
      CREATE TABLE rv.orders (id serial PRIMARY KEY, v text);
      CREATE TABLE rv.notes (id int PRIMARY KEY, note text, secret text);
      CREATE TABLE rv.owned (id int PRIMARY KEY);
      CREATE TABLE public.outside (id int);
      GRANT USAGE ON SCHEMA rv TO ${role};
      GRANT SELECT, INSERT, UPDATE ON rv.orders TO ${role} WITH GRANT OPTION;
      GRANT USAGE ON SEQUENCE rv.orders_id_seq TO ${role};
      GRANT DELETE ON rv.orders TO PUBLIC;
      GRANT SELECT (id, note), INSERT (id, note), UPDATE (note) ON rv.notes TO ${role};
      ALTER TABLE rv.owned OWNER TO ${role};
      GRANT INSERT ON public.outside TO ${role};`);
    const acl = async () =>
      (
        await src.query<{ r: string }>(
          `SELECT c.relname || ' ' || a.grantee::regrole::text || ' ' || a.privilege_type || ' ' || a.is_grantable ||
                  ' by ' || a.grantor::regrole::text AS r
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
            WHERE n.nspname = 'rv' AND c.relkind = 'r'
           UNION ALL
           SELECT c.relname || '.' || at.attname || ' ' || a.grantee::regrole::text || ' ' || a.privilege_type || ' ' ||
                  a.is_grantable || ' by ' || a.grantor::regrole::text
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute at ON at.attrelid = c.oid AND at.attnum > 0 AND at.attacl IS NOT NULL
             CROSS JOIN LATERAL aclexplode(at.attacl) a
            WHERE n.nspname = 'rv' AND c.relkind = 'r'
            ORDER BY 1`,
        )
      ).rows.map((r) => r.r);
    const before = await acl();
    const app = await session('shop', { user: role, password });
    await app.query(`INSERT INTO rv.orders (v) VALUES ('before')`);

    const handle = await freezeWrites(source, {
      databases: [source.database],
      method: 'revoke',
      schemas: ['rv'],
      terminate: false,
    });
    assert.equal(handle.state.method, 'revoke');
    const grants = handle.state.method === 'revoke' ? handle.state.databases[0].grants : [];
    assert.ok(grants.some((g) => g.grantee === 'PUBLIC' && g.privilege === 'DELETE'));
    assert.ok(grants.some((g) => g.column === 'note' && g.privilege === 'UPDATE'));
    assert.ok(!grants.some((g) => g.grantee === source.user), 'superusers are not in the list');
    assert.ok(!grants.some((g) => g.table === 'outside'), 'only the named schemas');
    // The open session is stopped too: privileges are checked at every statement.
    for (const sql of [
      `INSERT INTO rv.orders (v) VALUES ('during')`,
      `UPDATE rv.orders SET v = 'x'`,
      `DELETE FROM rv.orders`,
      `INSERT INTO rv.notes (id, note) VALUES (1, 'n')`,
      `INSERT INTO rv.owned VALUES (1)`,
    ])
      await assert.rejects(app.query(sql), (e) => code(e) === '42501', sql);
    assert.equal((await app.query('SELECT count(*)::int AS n FROM rv.orders')).rows[0].n, 1, 'reads go on');
    await app.query(`INSERT INTO public.outside VALUES (1)`);

    await handle.undo();
    assert.deepEqual(await acl(), before, 'the same grants as before');
    await app.query(`INSERT INTO rv.orders (v) VALUES ('after')`);
    await app.query(`INSERT INTO rv.notes (id, note) VALUES (1, 'n')`);
    await app.query(`INSERT INTO rv.owned VALUES (1)`);
    await app.end();
    await src.query(`DROP OWNED BY ${role}; DROP SCHEMA rv CASCADE; DROP TABLE public.outside`);
  });

  it('hook: runs the command with FERRY_* variables and no secrets, undo unfreezes, failure names stderr', async () => {
    const file = await script('freeze.sh');
    const out = await fs.mkdtemp(path.join(tmp, 'out-'));
    process.env.FERRY_TEST_SECRET = 'hunter2';
    try {
      const handle = await freezeWrites(source, {
        databases: [source.database],
        method: 'hook',
        hook: { command: file, env: { OUT: out } },
        exceptApplicationPrefix: 'ferry',
        terminate: false,
      });
      const env = await fs.readFile(path.join(out, 'freeze.env'), 'utf8');
      assert.match(env, new RegExp(`^FERRY_DATABASE=${source.database}$`, 'm'));
      assert.match(env, /^FERRY_ACTION=freeze$/m);
      assert.match(env, new RegExp(`^FERRY_SOURCE_PORT=${source.port}$`, 'm'));
      assert.doesNotMatch(env, /hunter2|PGPASSWORD/);
      assert.ok(!env.includes(source.password));
      await handle.undo();
      assert.match(await fs.readFile(path.join(out, 'unfreeze.env'), 'utf8'), /^FERRY_ACTION=unfreeze$/m);

      const err = await freezeWrites(source, {
        databases: [source.database],
        method: 'hook',
        hook: { command: file, args: ['--pause'], env: { OUT: out, FAIL: '1' } },
        terminate: false,
      }).then(
        () => assert.fail('the failing hook must reject'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof FerryError);
      assert.equal(err.type, ErrorType.TOOL_FAILED);
      assert.match(err.message, /freeze\.sh --pause exited with 3/);
      assert.match(err.message, /boom: pgbouncer refused PAUSE/);
    } finally {
      delete process.env.FERRY_TEST_SECRET;
    }
  });

  it('runSwitchHook passes the target host, port and database, never the password', async () => {
    const file = await script('switch.sh');
    const out = await fs.mkdtemp(path.join(tmp, 'out-'));
    const r = await runSwitchHook(
      { command: file, env: { OUT: out } },
      { migration: 'shop-to-aurora', target },
    );
    assert.equal(r.stdout, `did switch ${target.database}`);
    assert.ok(r.switchedAt instanceof Date);
    const env = await fs.readFile(path.join(out, 'switch.env'), 'utf8');
    assert.match(env, /^FERRY_MIGRATION=shop-to-aurora$/m);
    assert.match(env, new RegExp(`^FERRY_TARGET_HOST=${target.host.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(env, new RegExp(`^FERRY_TARGET_PORT=${target.port}$`, 'm'));
    assert.match(env, new RegExp(`^FERRY_TARGET_DATABASE=${target.database}$`, 'm'));
    assert.ok(!env.includes(target.password), 'no password in the environment');
    await assert.rejects(
      runSwitchHook({ command: file, env: { OUT: out, FAIL: 'y' } }, { migration: 'm', target }),
      (e: unknown) => e instanceof FerryError && /boom/.test(e.message) && e.type === ErrorType.TOOL_FAILED,
    );
    await assert.rejects(
      runSwitchHook({ command: path.join(tmp, 'missing.sh') }, { migration: 'm', target }),
      (e: unknown) => e instanceof FerryError && e.type === ErrorType.TOOL_MISSING,
    );
  });

  it('syncSequencesAbove sets target sequences past max(source, target) by the margin', async () => {
    const ddl = `
      CREATE SCHEMA sq;
      CREATE TABLE sq.orders (id serial PRIMARY KEY, v text);
      CREATE TABLE sq.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
      CREATE SEQUENCE sq.ticket_seq;
      CREATE SEQUENCE sq.down_seq INCREMENT BY -1 MAXVALUE -1 START -1;`;
    await src.query(ddl);
    await dst.query(ddl);
    await src.query(`
      INSERT INTO sq.orders (v) SELECT 'o' FROM generate_series(1, 5);
      INSERT INTO sq.events (v) SELECT 'e' FROM generate_series(1, 3);
      SELECT setval('sq.ticket_seq', 42);
      SELECT setval('sq.down_seq', -50);`);
    // The target's orders sequence is ahead already (an earlier attempt): the margin goes on top of it.
    await dst.query(`SELECT setval('sq.orders_id_seq', 10000)`);
    const catalog = await readSourceCatalog(source);
    const full = identityPlan(catalog);
    const plan = { ...full, tables: full.tables.filter((t) => t.source.schema === 'sq') };
    const r = await syncSequencesAbove(source, target, plan, 1000);
    assert.deepEqual(r.findings, []);
    const by = new Map(r.sequences.map((s) => [s.target, s]));
    assert.deepEqual([...by.keys()].sort(), [
      'sq.down_seq',
      'sq.events_id_seq',
      'sq.orders_id_seq',
      'sq.ticket_seq',
    ]);
    assert.equal(by.get('sq.orders_id_seq')!.value, '11000');
    assert.equal(by.get('sq.orders_id_seq')!.targetValue, '10000');
    assert.equal(by.get('sq.events_id_seq')!.value, '1003');
    assert.equal(by.get('sq.ticket_seq')!.value, '1042');
    assert.equal(by.get('sq.down_seq')!.value, '-1050');
    const next = async (seq: string) =>
      (await dst.query<{ v: string }>(`SELECT nextval($1)::text AS v`, [seq])).rows[0].v;
    assert.equal(await next('sq.orders_id_seq'), '11001');
    assert.equal(await next('sq.ticket_seq'), '1043');
    assert.equal(await next('sq.down_seq'), '-1051');
    const ins = await dst.query<{ id: string }>(
      `INSERT INTO sq.events (v) VALUES ('new') RETURNING id::text`,
    );
    assert.equal(ins.rows[0].id, '1004');
  });

  it('waitForZeroLag returns once a live CDC run has applied up to the freeze point', async () => {
    const ddl = `CREATE SCHEMA lag; CREATE TABLE lag.t (id bigint PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);`;
    await src.query(ddl);
    await dst.query(ddl);
    const catalog = await readSourceCatalog(source);
    const full = identityPlan(catalog);
    const plan = {
      ...full,
      tables: full.tables.filter((t) => tableKeyOf(t.source.schema, t.source.name) === 'lag.t'),
    };
    const publication = `ferry_t_pub_cutover_${hex()}`;
    pubs.push(publication);
    await ensurePublication(source, publication, cdcTables(plan));
    const slotName = `ferry_t_cutover_${hex()}`;
    left.slots.push({ server: pair.pg13, database: source.database, name: slotName });
    await createSlot(source, slotName);
    const migration = `cutover-${hex()}`;
    const stop = new AbortController();
    const cdc = runCdc({
      migration,
      source,
      target,
      plan,
      catalog,
      slotName,
      publication,
      signal: stop.signal,
      progressIntervalMs: 200,
    });
    cdc.catch(noop);

    // The application writes until the freeze ends its session.
    const app = await session('shop');
    let committed = 0;
    const writer = (async () => {
      try {
        for (let i = 1; ; i++) {
          await app.query('BEGIN');
          await app.query(`INSERT INTO lag.t VALUES ($1, $2)`, [i, `row ${i}`]);
          await app.query(`UPDATE lag.t SET n = n + 1 WHERE id = $1`, [1 + (i % 10)]);
          await app.query('COMMIT');
          committed++;
        }
      } catch (err) {
        return err;
      }
    })();
    while (committed < 300) await sleep(20);

    const handle = await freezeWrites(source, {
      databases: [source.database],
      method: 'read-only',
      terminate: true,
    });
    try {
      const stopped = await writer;
      assert.ok(stopped, 'the writer was stopped by the freeze');
      const progress: string[] = [];
      const lag = await waitForZeroLag({
        source,
        target,
        migration,
        slotName,
        timeoutMs: 120_000,
        onProgress: (p) => progress.push(p.appliedLsn),
      });
      assert.ok(compareLsn(lag.appliedLsn, lag.freezeLsn) >= 0, JSON.stringify(lag));
      assert.ok(progress.length >= 1);
      assert.ok(lag.lagZeroAt.getTime() >= handle.frozenAt.getTime());
      assert.deepEqual(await fingerprint(dst, 'lag', 't'), await fingerprint(src, 'lag', 't'));
      assert.ok((await fingerprint(src, 'lag', 't')).rows >= 300);

      // Nothing can reach a point past the end of WAL: the timeout says how far behind.
      await assert.rejects(
        waitForZeroLag({ source, target, migration, slotName, timeoutMs: 300, freezeLsn: 'FFFFFFF/0' }),
        (e: unknown) => e instanceof FerryError && /bytes of WAL behind/.test(e.message),
      );
    } finally {
      stop.abort();
      await cdc.catch(noop);
      await handle.undo();
      await src.query(`SELECT pg_drop_replication_slot($1)`, [slotName]).catch(async () => {
        await sleep(1000);
        await src.query(
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
          [slotName],
        );
      });
    }
  });
});

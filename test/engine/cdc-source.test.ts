// CDC on the source, against real PostgreSQL 13 (wal_level=logical, the shared test server), an extra 13
// with wal_level=replica, and 15 for publication row filters: preflight findings and their advice,
// publications with odd names, slots and the WAL they keep. Every slot a test creates is dropped in
// afterEach (a leaked slot keeps WAL forever), and the last test fails if one is left.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import {
  type CdcFinding,
  type CdcPreflight,
  assertCdcReady,
  cdcTables,
  checkCdcSource,
  createSlot,
  currentWalLsn,
  defaultPublicationName,
  defaultSlotName,
  dropPublication,
  ensurePublication,
  listFerrySlots,
  slotInfo,
} from '../../src/engine/cdc/source';
import { bigIntToLsn, lsnToBigInt } from '../../src/engine/cdc/types';
import type { PgConnInfo } from '../../src/engine/connection';
import { dropSlot } from '../../src/engine/fullload';
import { displayName } from '../../src/engine/ident';
import { pickPort, startServer, stopServer } from '../../src/dev/postgres';
import { ErrorType, FerryError } from '../../src/errors';
import type { MigrationPlan } from '../../src/mapping/types';
import { type TestServer, connect, dropDatabase, freshDatabase, testServer } from '../support/pg';
import { Leftovers, connInfo, identityPlan } from './fixtures/fullload';

const SLOT_PREFIX = `ferry_t_cdcsrc_${process.pid}_`;
const ODD_SCHEMA = 'Sales Dept';
const ODD_TABLE = 'Order "Items" ü';

const errorsOf = (r: CdcPreflight): CdcFinding[] => r.findings.filter((f) => f.severity === 'error');
const describeFindings = (r: CdcPreflight): string =>
  r.findings.map((f) => `${f.severity} ${f.object}: ${f.message} | ${f.advice}`).join('\n');

/** The identity plan of the named tables only (displayName keys). */
async function planOf(conn: PgConnInfo, ...keys: string[]): Promise<MigrationPlan> {
  const plan = identityPlan(await readSourceCatalog(conn));
  const tables = plan.tables.filter((t) => keys.includes(displayName(t.source.schema, t.source.name)));
  assert.equal(tables.length, keys.length, `plan has ${keys.join(', ')}`);
  return { ...plan, tables };
}

function isFerryError(type: ErrorType, ...mentions: string[]) {
  return (e: unknown) => {
    assert.ok(e instanceof FerryError, `a FerryError, got ${String(e)}`);
    assert.equal(e.type, type, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `message mentions ${m}: ${e.message}`);
    return true;
  };
}

describe('engine/cdc/source: preflight, publication and slots', function () {
  this.timeout(300_000);
  const left = new Leftovers();
  /** Slots created by the current test; dropped after it whatever happened. */
  let slots: string[] = [];
  let pg13: TestServer;
  let db: string;
  let conn: PgConnInfo;
  let admin: Client;
  const odd = displayName(ODD_SCHEMA, ODD_TABLE);
  const slotName = (label: string) => {
    const name = `${SLOT_PREFIX}${label}`;
    slots.push(name);
    return name;
  };

  before(async () => {
    pg13 = await testServer(13);
    db = await freshDatabase(pg13, 'cdc_source');
    left.databases.push({ server: pg13, name: db });
    conn = connInfo(pg13, db, 'onsite');
    admin = await connect(pg13, db);
    await admin.query(`
      CREATE TABLE public.orders (id int PRIMARY KEY, note text);
      CREATE SCHEMA "Sales Dept";
      CREATE TABLE "Sales Dept"."Order ""Items"" ü" (id int PRIMARY KEY, qty int NOT NULL);
      CREATE TABLE public.nokey (a int, b text);
      CREATE TABLE public.events (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
      CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE public.measures (id int, at date, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE public.measures_2024 PARTITION OF public.measures FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    `);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
    for (const s of slots) await dropSlot(conn, s);
    slots = [];
  });

  after(async () => {
    // The backstop of afterEach: drop whatever is left, then fail the run if anything was.
    const leaked = conn ? await listFerrySlots(conn, SLOT_PREFIX) : [];
    for (const s of leaked) await dropSlot(conn, s.name);
    await admin?.end();
    await left.cleanup(dropDatabase);
    assert.deepEqual(
      leaked.map((s) => s.name),
      [],
      'replication slots leaked by the tests',
    );
  });

  it('finds no error on a clean database, in both modes, and says what Ferry will create', async () => {
    const plan = await planOf(conn, 'public.orders', odd);
    const slot = slotName('clean');
    for (const mode of ['full-load-and-cdc', 'cdc'] as const) {
      const r = await checkCdcSource(conn, plan, { slotName: slot, publication: 'ferry_clean', mode });
      assert.deepEqual(errorsOf(r), [], describeFindings(r));
      assert.match(r.serverVersion, /^13\./);
      assert.equal(r.slot, undefined);
      assert.ok(
        r.findings.some((f) => f.severity === 'info' && f.object === 'publication ferry_clean'),
        describeFindings(r),
      );
      assert.ok(r.findings.some((f) => f.severity === 'info' && f.object === `slot ${slot}`));
    }
    const ready = await assertCdcReady(conn, plan, {
      slotName: slot,
      publication: 'ferry_clean',
      mode: 'cdc',
    });
    assert.equal(errorsOf(ready).length, 0);
    // The preflight changes nothing.
    assert.equal(await slotInfo(conn, slot), undefined);
    const pubs = await admin.query(`SELECT 1 FROM pg_publication WHERE pubname = 'ferry_clean'`);
    assert.equal(pubs.rowCount, 0);
  });

  it('reports a table without primary key under REPLICA IDENTITY DEFAULT, accepts FULL, refuses NOTHING', async () => {
    const plan = await planOf(conn, 'public.orders', 'public.nokey');
    const opts = {
      slotName: slotName('ident'),
      publication: 'ferry_ident',
      mode: 'full-load-and-cdc',
    } as const;
    try {
      let r = await checkCdcSource(conn, plan, opts);
      let errors = errorsOf(r);
      assert.equal(errors.length, 1, describeFindings(r));
      assert.equal(errors[0].object, 'table public.nokey');
      assert.match(errors[0].message, /no primary key/);
      assert.match(errors[0].advice, /ALTER TABLE "public"\."nokey" REPLICA IDENTITY FULL/);
      await assert.rejects(
        assertCdcReady(conn, plan, opts),
        isFerryError(ErrorType.REPLICATION_NOT_READY, 'public.nokey', 'REPLICA IDENTITY FULL'),
      );
      await assert.rejects(assertCdcReady(conn, plan, opts), (e: unknown) => !(e as FerryError).retryable);

      await admin.query('ALTER TABLE public.nokey REPLICA IDENTITY FULL');
      r = await checkCdcSource(conn, plan, opts);
      assert.deepEqual(errorsOf(r), [], describeFindings(r));

      await admin.query('ALTER TABLE public.nokey REPLICA IDENTITY NOTHING');
      r = await checkCdcSource(conn, plan, opts);
      errors = errorsOf(r);
      assert.equal(errors.length, 1, describeFindings(r));
      assert.equal(errors[0].object, 'table public.nokey');
      assert.match(errors[0].message, /NOTHING/);
    } finally {
      await admin.query('ALTER TABLE public.nokey REPLICA IDENTITY DEFAULT');
    }
  });

  it('checks the partitions of a partitioned table for a replica identity', async () => {
    const plan = await planOf(conn, 'public.events', 'public.measures');
    const opts = {
      slotName: slotName('parts'),
      publication: 'ferry_parts',
      mode: 'full-load-and-cdc',
    } as const;
    try {
      let r = await checkCdcSource(conn, plan, opts);
      const errors = errorsOf(r);
      assert.equal(errors.length, 1, describeFindings(r));
      assert.equal(errors[0].object, 'table public.events');
      assert.match(errors[0].message, /partition public\.events_2024 of public\.events/);
      assert.match(errors[0].advice, /ALTER TABLE "public"\."events_2024" REPLICA IDENTITY FULL/);
      await admin.query('ALTER TABLE public.events_2024 REPLICA IDENTITY FULL');
      r = await checkCdcSource(conn, plan, opts);
      assert.deepEqual(errorsOf(r), [], describeFindings(r));
    } finally {
      await admin.query('ALTER TABLE public.events_2024 REPLICA IDENTITY DEFAULT');
    }
  });

  describe('a role without REPLICATION', () => {
    const role = `ferry_norepl_${process.pid}`;
    const password = randomBytes(8).toString('hex');
    let asRole: PgConnInfo;

    before(async () => {
      await admin.query(
        `SET password_encryption = 'scram-sha-256'; CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`,
      );
      await admin.query(
        `GRANT CONNECT ON DATABASE "${db}" TO "${role}"; GRANT SELECT ON public.orders TO "${role}"`,
      );
      asRole = { ...conn, user: role, password };
    });

    after(async () => {
      await admin.query(`DROP OWNED BY "${role}"`).catch(() => undefined);
      const c = await connect(pg13);
      try {
        await c.query(`DROP ROLE IF EXISTS "${role}"`);
      } finally {
        await c.end();
      }
    });

    it('is an error naming the role with ALTER ROLE, as are unreadable tables and a publication it cannot create', async () => {
      const plan = await planOf(conn, 'public.orders', odd);
      const opts = {
        slotName: slotName('role'),
        publication: 'ferry_role',
        mode: 'full-load-and-cdc',
      } as const;
      let r = await checkCdcSource(asRole, plan, opts);
      const byObject = (object: string) => errorsOf(r).filter((f) => f.object === object);
      const roleErr = byObject(`role ${role}`);
      assert.equal(roleErr.length, 1, describeFindings(r));
      assert.match(roleErr[0].message, /no REPLICATION attribute/);
      assert.ok(roleErr[0].advice.includes(`ALTER ROLE "${role}" REPLICATION`), roleErr[0].advice);
      const readErr = byObject(`table ${odd}`);
      assert.equal(readErr.length, 1, describeFindings(r));
      assert.ok(readErr[0].advice.includes(`GRANT SELECT ON "Sales Dept"."Order ""Items"" ü" TO "${role}"`));
      assert.equal(byObject('table public.orders').length, 0, describeFindings(r));
      const pubErr = byObject('publication ferry_role');
      assert.equal(pubErr.length, 1, describeFindings(r));
      assert.match(pubErr[0].message, /does not own/);
      assert.match(pubErr[0].advice, /CREATE PUBLICATION "ferry_role" FOR TABLE/);

      await admin.query(`ALTER ROLE "${role}" REPLICATION`);
      r = await checkCdcSource(asRole, plan, opts);
      assert.equal(byObject(`role ${role}`).length, 0, describeFindings(r));
      assert.equal(byObject(`table ${odd}`).length, 1);
    });
  });

  it('refuses full-load-and-cdc when the slot exists, naming its database, state and WAL', async () => {
    const slot = slotName('taken');
    const created = await createSlot(conn, slot);
    assert.equal(created.slotName, slot);
    assert.ok(lsnToBigInt(created.lsn) > 0n);
    const plan = await planOf(conn, 'public.orders');
    const r = await checkCdcSource(conn, plan, {
      slotName: slot,
      publication: 'ferry_taken',
      mode: 'full-load-and-cdc',
    });
    const errors = errorsOf(r);
    assert.equal(errors.length, 1, describeFindings(r));
    assert.equal(errors[0].object, `slot ${slot}`);
    assert.ok(errors[0].message.includes(`in database ${db}`), errors[0].message);
    assert.match(errors[0].message, /inactive, retaining .* of WAL/);
    assert.ok(errors[0].advice.includes(`pg_drop_replication_slot('${slot}')`), errors[0].advice);
    assert.match(errors[0].advice, /migrationType cdc/);
    assert.equal(r.slot?.name, slot);
    await assert.rejects(createSlot(conn, slot), isFerryError(ErrorType.REPLICATION_SLOT_EXISTS, slot));
  });

  it('refuses cdc from a start position when the slot does not exist, and accepts cdc without one', async () => {
    const slot = slotName('missing');
    const plan = await planOf(conn, 'public.orders');
    const lsn = await currentWalLsn(conn);
    let r = await checkCdcSource(conn, plan, {
      slotName: slot,
      publication: 'ferry_missing',
      mode: 'cdc',
      startLsn: lsn,
    });
    const errors = errorsOf(r);
    assert.equal(errors.length, 1, describeFindings(r));
    assert.equal(errors[0].object, `slot ${slot}`);
    assert.match(errors[0].message, /does not exist/);
    r = await checkCdcSource(conn, plan, { slotName: slot, publication: 'ferry_missing', mode: 'cdc' });
    assert.deepEqual(errorsOf(r), [], describeFindings(r));
  });

  it('continues cdc from an existing slot only from its confirmed position on, with a complete publication', async () => {
    const plan = await planOf(conn, 'public.orders', odd);
    const pub = 'ferry_cont';
    await ensurePublication(conn, pub, cdcTables(plan));
    const slot = slotName('cont');
    const { lsn } = await createSlot(conn, slot);
    try {
      const opts = { slotName: slot, publication: pub, mode: 'cdc' } as const;
      let r = await checkCdcSource(conn, plan, { ...opts, startLsn: lsn });
      assert.deepEqual(errorsOf(r), [], describeFindings(r));
      assert.equal(r.slot?.confirmedFlushLsn, lsn);
      assert.ok(r.findings.some((f) => f.severity === 'info' && /continues from slot/.test(f.message)));
      r = await checkCdcSource(conn, plan, opts);
      assert.deepEqual(errorsOf(r), [], describeFindings(r));

      const before = bigIntToLsn(lsnToBigInt(lsn) - 1n);
      r = await checkCdcSource(conn, plan, { ...opts, startLsn: before });
      assert.equal(errorsOf(r).length, 1, describeFindings(r));
      assert.match(errorsOf(r)[0].message, /is before .* the changes in between are gone/);
      assert.ok(errorsOf(r)[0].advice.includes(lsn));

      r = await checkCdcSource(conn, plan, { ...opts, startLsn: 'FF/0' });
      assert.equal(errorsOf(r).length, 1, describeFindings(r));
      assert.match(errorsOf(r)[0].message, /past the end/);

      r = await checkCdcSource(conn, plan, { ...opts, startLsn: 'yesterday' });
      assert.equal(errorsOf(r)[0]?.object, 'cdcStartPosition', describeFindings(r));

      // A publication made later than the slot cannot decode what the slot holds: an error, not an info.
      r = await checkCdcSource(conn, plan, { ...opts, publication: 'ferry_cont_absent' });
      assert.equal(errorsOf(r).length, 1, describeFindings(r));
      assert.match(errorsOf(r)[0].message, /does not exist, but slot/);
      assert.match(
        errorsOf(r)[0].advice,
        /CREATE PUBLICATION "ferry_cont_absent" FOR TABLE .*"public"\."orders"/,
      );

      // A table missing from the publication: its changes since the slot's position are lost.
      await ensurePublication(conn, 'ferry_cont_part', [{ schema: 'public', name: 'orders' }]);
      r = await checkCdcSource(conn, plan, { ...opts, publication: 'ferry_cont_part' });
      assert.equal(errorsOf(r).length, 1, describeFindings(r));
      assert.ok(errorsOf(r)[0].message.includes(`lacks ${odd}`), errorsOf(r)[0].message);
      assert.ok(errorsOf(r)[0].advice.includes(`ALTER PUBLICATION "ferry_cont_part" ADD TABLE "Sales Dept"`));
      // The same gap before the slot exists is Ferry's to fix: info.
      r = await checkCdcSource(conn, plan, {
        slotName: slotName('cont_new'),
        publication: 'ferry_cont_part',
        mode: 'full-load-and-cdc',
      });
      assert.deepEqual(errorsOf(r), [], describeFindings(r));
    } finally {
      await dropPublication(conn, pub);
      await dropPublication(conn, 'ferry_cont_part');
    }
  });

  it('refuses a slot of another output plugin', async () => {
    const slot = slotName('testdec');
    await admin.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [slot]);
    const plan = await planOf(conn, 'public.orders');
    const r = await checkCdcSource(conn, plan, { slotName: slot, publication: 'ferry_testdec', mode: 'cdc' });
    const slotErrors = errorsOf(r).filter((f) => f.object === `slot ${slot}`);
    assert.equal(slotErrors.length, 1, describeFindings(r));
    assert.match(slotErrors[0].message, /test_decoding/);
    assert.match(slotErrors[0].message, /pgoutput/);
  });

  it('creates a publication for odd names and a partitioned root, extends it, refuses a keyless table', async () => {
    const pub = 'Ferry "Pub" ü';
    const measures = { schema: 'public', name: 'measures' };
    try {
      const first = await ensurePublication(conn, pub, [{ schema: ODD_SCHEMA, name: ODD_TABLE }, measures]);
      assert.deepEqual(first, { created: true, added: [odd, 'public.measures'] });
      const published = async () =>
        (
          await admin.query<{ t: string }>(
            `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
            [pub],
          )
        ).rows.map((r) => r.t);
      assert.deepEqual(await published(), ['"Sales Dept"."Order ""Items"" ü"', 'public.measures']);
      const meta = await admin.query<{ pubviaroot: boolean; rels: string[] }>(
        `SELECT p.pubviaroot, array_agg(r.prrelid::regclass::text ORDER BY 1) AS rels
           FROM pg_publication p JOIN pg_publication_rel r ON r.prpubid = p.oid WHERE p.pubname = $1 GROUP BY 1`,
        [pub],
      );
      assert.equal(meta.rows[0].pubviaroot, true);
      assert.ok(meta.rows[0].rels.includes('measures') && !meta.rows[0].rels.includes('measures_2024'));

      await admin.query(`CREATE TABLE "Sales Dept"."New Täble" (id bigint PRIMARY KEY)`);
      const second = await ensurePublication(conn, pub, [
        { schema: ODD_SCHEMA, name: ODD_TABLE },
        measures,
        { schema: ODD_SCHEMA, name: 'New Täble' },
      ]);
      assert.deepEqual(second, { created: false, added: ['"Sales Dept"."New Täble"'] });
      assert.equal((await published()).length, 3);
      const again = await ensurePublication(conn, pub, [{ schema: ODD_SCHEMA, name: 'New Täble' }]);
      assert.deepEqual(again, { created: false, added: [] });

      await assert.rejects(
        ensurePublication(conn, pub, [{ schema: 'public', name: 'nokey' }]),
        isFerryError(ErrorType.REPLICATION_NOT_READY, 'public.nokey'),
      );
      await assert.rejects(
        ensurePublication(conn, pub, [{ schema: 'public', name: 'no_such_table' }]),
        isFerryError(ErrorType.SCHEMA_MISMATCH, 'public.no_such_table'),
      );
      assert.equal((await published()).length, 3);

      // pgoutput sends the changes of the publication's tables, a partition's under its root's name.
      const slot = slotName('pubout');
      await createSlot(conn, slot);
      await admin.query(`INSERT INTO "Sales Dept"."Order ""Items"" ü" VALUES (1, 2);
        INSERT INTO public.measures VALUES (1, '2024-05-01', 3); INSERT INTO public.orders VALUES (99, 'x')`);
      const { rows } = await admin.query<{ data: Buffer }>(
        `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)`,
        [slot, `"${pub.replace(/"/g, '""')}"`],
      );
      // Relation messages ('R': oid, namespace, name) name the relations; inserts ('I': oid, ...) say which
      // one a row was sent under. (13-15 also describe the partition itself before its root; the insert
      // refers to the root.)
      const names = new Map<number, string>();
      const inserted: string[] = [];
      for (const { data } of rows) {
        if (data[0] === 0x52) {
          const [schema, name] = data.subarray(5).toString('utf8').split('\0');
          names.set(data.readUInt32BE(1), displayName(schema, name));
        } else if (data[0] === 0x49) {
          inserted.push(names.get(data.readUInt32BE(1)) ?? `oid ${data.readUInt32BE(1)}`);
        }
      }
      assert.deepEqual(inserted, [odd, 'public.measures']);
      assert.ok(![...names.values()].includes('public.orders'));

      assert.equal(await dropPublication(conn, pub), true);
      assert.equal(await dropPublication(conn, pub), false);
    } finally {
      await dropPublication(conn, pub);
      await admin.query(`DELETE FROM public.orders WHERE id = 99`);
    }
  });

  it('reports a slot and the WAL it retains, growing with writes', async () => {
    const slot = slotName('wal');
    await createSlot(conn, slot);
    const before = await slotInfo(conn, slot);
    assert.ok(before);
    assert.equal(before.type, 'logical');
    assert.equal(before.plugin, 'pgoutput');
    assert.equal(before.database, db);
    assert.equal(before.active, false);
    assert.ok(before.restartLsn && before.confirmedFlushLsn);
    await admin.query(
      `INSERT INTO public.orders SELECT g, repeat('x', 200) FROM generate_series(1000, 5000) g`,
    );
    await admin.query(`DELETE FROM public.orders WHERE id >= 1000`);
    const after = await slotInfo(conn, slot);
    assert.ok(after);
    assert.ok(after.retainedWalBytes > 0, `retained ${after.retainedWalBytes}`);
    assert.ok(
      after.retainedWalBytes > before.retainedWalBytes + 100_000,
      `${before.retainedWalBytes} → ${after.retainedWalBytes}`,
    );
    const listed = await listFerrySlots(conn, SLOT_PREFIX);
    assert.deepEqual(
      listed.map((s) => s.name),
      [slot],
    );
    assert.ok(listed[0].retainedWalBytes >= after.retainedWalBytes);
    assert.equal(await slotInfo(conn, `${SLOT_PREFIX}nope`), undefined);
    assert.deepEqual(await listFerrySlots(conn, `${SLOT_PREFIX}nope`), []);
  });

  it('derives stable slot and publication names that PostgreSQL accepts', () => {
    assert.equal(defaultSlotName('orders-prod'), 'ferry_orders_prod');
    assert.equal(defaultPublicationName('orders-prod'), 'ferry_orders_prod');
    const mixed = defaultSlotName('Orders Prod');
    assert.match(mixed, /^ferry_orders_prod_[0-9a-f]{8}$/);
    assert.equal(defaultSlotName('Orders Prod'), mixed);
    assert.notEqual(defaultSlotName('orders_prod'), mixed);
    const long = 'a'.repeat(80);
    const a = defaultSlotName(long);
    const b = defaultSlotName(`${long}b`);
    for (const n of [a, b, defaultSlotName('Übersee-Lager 2')]) {
      assert.match(n, /^[a-z0-9_]+$/);
      assert.ok(Buffer.byteLength(n) <= 63, n);
    }
    assert.notEqual(a, b);
  });

  it('refuses an invalid slot name before asking the server', async () => {
    await assert.rejects(createSlot(conn, 'Bad-Name'), isFerryError(ErrorType.CONFIG_INVALID, 'Bad-Name'));
    const plan = await planOf(conn, 'public.orders');
    const r = await checkCdcSource(conn, plan, { slotName: 'Bad-Name', publication: 'p', mode: 'cdc' });
    assert.equal(errorsOf(r)[0]?.object, 'slot Bad-Name', describeFindings(r));
  });

  describe('a server with wal_level = replica', () => {
    let dir: string;
    let replica: PgConnInfo;

    before(async function () {
      this.timeout(180_000);
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-cdcsrc-'));
      await fs.chmod(dir, 0o755);
      const password = randomBytes(12).toString('hex');
      const port = await pickPort();
      await startServer({
        major: 13,
        dataDir: path.join(dir, 'pg13'),
        port,
        password,
        settings: { wal_level: 'replica' },
      });
      replica = {
        endpointId: 'replica',
        host: '127.0.0.1',
        port,
        database: 'postgres',
        user: 'postgres',
        password,
      };
      const c = await connect({
        major: 13,
        host: '127.0.0.1',
        port,
        user: 'postgres',
        password,
        dataDir: '',
      });
      try {
        await c.query('CREATE TABLE public.orders (id int PRIMARY KEY)');
      } finally {
        await c.end();
      }
    });

    after(async function () {
      this.timeout(120_000);
      if (dir) {
        await stopServer(path.join(dir, 'pg13'));
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('is an error whose advice sets wal_level = logical (and the RDS parameter)', async () => {
      const plan = await planOf(replica, 'public.orders');
      const r = await checkCdcSource(replica, plan, {
        slotName: 'ferry_replica',
        publication: 'ferry_replica',
        mode: 'full-load-and-cdc',
      });
      const errors = errorsOf(r);
      assert.equal(errors.length, 1, describeFindings(r));
      assert.equal(errors[0].object, 'setting wal_level');
      assert.match(errors[0].message, /wal_level is replica/);
      assert.match(errors[0].advice, /ALTER SYSTEM SET wal_level = logical/);
      assert.match(errors[0].advice, /rds\.logical_replication = 1/);
      await assert.rejects(
        assertCdcReady(replica, plan, {
          slotName: 'ferry_replica',
          publication: 'ferry_replica',
          mode: 'cdc',
        }),
        isFerryError(ErrorType.REPLICATION_NOT_READY, 'wal_level'),
      );
      await assert.rejects(
        createSlot(replica, 'ferry_replica'),
        isFerryError(ErrorType.REPLICATION_NOT_READY, 'wal_level'),
      );
    });
  });

  describe('a PostgreSQL 15 source', () => {
    let pg15: TestServer;
    let db15: string;
    let conn15: PgConnInfo;

    before(async () => {
      pg15 = await testServer(15);
      db15 = await freshDatabase(pg15, 'cdc_source15');
      left.databases.push({ server: pg15, name: db15 });
      conn15 = connInfo(pg15, db15, 'onsite15');
      const c = await connect(pg15, db15);
      try {
        await c.query(`CREATE TABLE public.orders (id int PRIMARY KEY, region text);
          CREATE PUBLICATION ferry_filtered FOR TABLE public.orders WHERE (region = 'eu')`);
      } finally {
        await c.end();
      }
    });

    it('passes a clean check and refuses a publication with a row filter', async () => {
      const plan = await planOf(conn15, 'public.orders');
      const base = { slotName: `${SLOT_PREFIX}pg15`, mode: 'full-load-and-cdc' } as const;
      let r = await checkCdcSource(conn15, plan, { ...base, publication: 'ferry_new' });
      assert.deepEqual(errorsOf(r), [], describeFindings(r));
      assert.match(r.serverVersion, /^15\./);
      r = await checkCdcSource(conn15, plan, { ...base, publication: 'ferry_filtered' });
      assert.equal(errorsOf(r).length, 1, describeFindings(r));
      assert.equal(errorsOf(r)[0].object, 'table public.orders');
      assert.match(errorsOf(r)[0].message, /row filter/);
      const made = await ensurePublication(conn15, 'ferry_new', cdcTables(plan));
      assert.deepEqual(made, { created: true, added: ['public.orders'] });
    });
  });

  it('leaves no replication slot behind', async () => {
    assert.deepEqual(await listFerrySlots(conn, SLOT_PREFIX), []);
  });
});

// runCdc end to end, from a real PostgreSQL 13 source to a 15 target: odd identifiers, unchanged TOAST,
// keyless FULL-identity tables with duplicate rows, a spilled 100 MB transaction, a DMS mapping with a
// filter and a rename, exactly once across aborts, lost slot confirmations and a source restart, untilLsn
// under a concurrent writer, lag reports, conflicts, and an idle stream outliving wal_sender_timeout.
// Each test has its own tables, publication and slot; every slot is dropped after its test (a leaked
// slot keeps WAL on the shared server), and the file fails if one is left.
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'pg';
import { startServer, stopServer } from '../../src/dev/postgres';
import { readSourceCatalog } from '../../src/engine/catalog';
import { tableCounters } from '../../src/engine/cdc/progress';
import { type BatchReport, type RunCdcOptions, runCdc } from '../../src/engine/cdc/runner';
import {
  cdcTables,
  createSlot,
  currentWalLsn,
  dropPublication,
  ensurePublication,
} from '../../src/engine/cdc/source';
import { type CdcProgress, compareLsn, isLsn, lsnToBigInt, tableKeyOf } from '../../src/engine/cdc/types';
import { runFullLoadLocal } from '../../src/engine/fullload';
import { quoteIdent } from '../../src/engine/ident';
import { ErrorType, FerryError } from '../../src/errors';
import { compilePlan, defaultEngineSettings, parseTableMapping } from '../../src/mapping';
import type { EngineSettings, MigrationPlan, SourceCatalog } from '../../src/mapping/types';
import { type TestServer, connect, dropDatabase } from '../support/pg';
import { type DbPair, Leftovers, assertSameRows, identityPlan, openPair, q } from './fixtures/fullload';

const SLOT_PREFIX = `ferry_t_cdcrun_${randomBytes(3).toString('hex')}_`;
const noop = () => undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

/** One test's CDC setup: its tables in the plan, publication, slot and migration name. */
interface Cdc {
  migration: string;
  slotName: string;
  publication: string;
  plan: MigrationPlan;
  catalog: SourceCatalog;
  /** The slot's start position. */
  slotLsn: string;
  options: RunCdcOptions;
}

interface ProgressRow {
  applied_lsn: string;
  txns: string;
  changes: string;
  batches: string;
  conflicts: string;
}

describe('engine/cdc/runner: runCdc from PostgreSQL 13 to 15', function () {
  this.timeout(600_000);
  const left = new Leftovers();
  let pair: DbPair;
  let pg13: TestServer;
  let src: Client;
  let dst: Client;
  /** Slots and publications of the current test, dropped after it whatever happened. */
  let slots: string[] = [];
  let pubs: string[] = [];

  before(async () => {
    pair = await openPair('cdc_runner', left);
    ({ pg13, src, dst } = pair);
    // The restart test terminates every source session: a client without a listener would crash mocha.
    src.on('error', noop);
    dst.on('error', noop);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
    const c = await connect(pg13, pair.source.database);
    c.on('error', noop);
    try {
      for (const s of slots) {
        // A runCdc left running (a failed test) still holds its slot: end its walsender first.
        await c.query(
          `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`,
          [s],
        );
        for (let i = 0; ; i++) {
          try {
            await c.query(
              `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
              [s],
            );
            break;
          } catch (err) {
            if (i >= 50) throw err;
            await sleep(200);
          }
        }
      }
    } finally {
      await c.end();
    }
    for (const p of pubs) await dropPublication(pair.source, p);
    slots = [];
    pubs = [];
  });

  after(async () => {
    await src?.end().catch(noop);
    await dst?.end().catch(noop);
    let leaked: string[] = [];
    if (pg13) {
      const c = await connect(pg13);
      try {
        const { rows } = await c.query<{ slot_name: string }>(
          `SELECT slot_name FROM pg_replication_slots WHERE starts_with(slot_name, $1)`,
          [SLOT_PREFIX],
        );
        leaked = rows.map((r) => r.slot_name);
        for (const s of leaked) await c.query(`SELECT pg_drop_replication_slot($1)`, [s]).catch(noop);
      } finally {
        await c.end();
      }
    }
    await left.cleanup(dropDatabase);
    assert.deepEqual(leaked, [], 'replication slots left behind');
  });

  // ---- helpers ------------------------------------------------------------------------------------

  const hex = () => randomBytes(3).toString('hex');
  /** Journal keys, unique across writers. */
  let journalSeq = 0;

  /** A slot name for this test, dropped after it. */
  function newSlot(label: string): string {
    const name = `${SLOT_PREFIX}${label}_${hex()}`;
    slots.push(name);
    left.slots.push({ server: pg13, database: pair.source.database, name });
    return name;
  }

  function optionsOf(c: Omit<Cdc, 'options'>): RunCdcOptions {
    return {
      migration: c.migration,
      source: pair.source,
      target: pair.target,
      plan: c.plan,
      catalog: c.catalog,
      slotName: c.slotName,
      publication: c.publication,
      progressIntervalMs: 500,
    };
  }

  /**
   * `ddl` on the source and (or `targetDdl`) on the target, `seed` on both (or `targetSeed` on the
   * target), then the identity plan of `tables`, the publication and the slot, in that order: pgoutput
   * reads the publication as of each change, so it must exist before the slot's first change.
   */
  async function setup(o: {
    label: string;
    ddl: string;
    targetDdl?: string;
    seed?: string;
    targetSeed?: string;
    tables: [string, string][];
    settings?: Partial<EngineSettings>;
  }): Promise<Cdc> {
    await src.query(o.ddl);
    await dst.query(o.targetDdl ?? o.ddl);
    if (o.seed) await src.query(o.seed);
    if (o.targetSeed ?? o.seed) await dst.query((o.targetSeed ?? o.seed)!);
    const catalog = await readSourceCatalog(pair.source);
    const full = identityPlan(catalog, { settings: o.settings ?? {} });
    const keys = o.tables.map(([s, n]) => tableKeyOf(s, n));
    const plan = {
      ...full,
      tables: full.tables.filter((t) => keys.includes(tableKeyOf(t.source.schema, t.source.name))),
    };
    assert.equal(plan.tables.length, keys.length, `plan has ${keys.join(', ')}`);
    const publication = `ferry_t_pub_${o.label}_${hex()}`;
    pubs.push(publication);
    await ensurePublication(pair.source, publication, cdcTables(plan));
    const slotName = newSlot(o.label);
    const { lsn } = await createSlot(pair.source, slotName);
    const c = {
      migration: `cdc-runner-${o.label}-${hex()}`,
      slotName,
      publication,
      plan,
      catalog,
      slotLsn: lsn,
    };
    return { ...c, options: optionsOf(c) };
  }

  /** runCdc up to the source's current WAL position; fails (not hangs) when it does not get there. */
  async function catchUp(
    c: Cdc,
    extra: Partial<RunCdcOptions> = {},
    timeoutMs = 180_000,
  ): Promise<CdcProgress> {
    const untilLsn = await currentWalLsn(pair.source);
    const watchdog = new AbortController();
    const timer = setTimeout(() => watchdog.abort(), timeoutMs);
    try {
      const p = await runCdc({ ...c.options, untilLsn, signal: watchdog.signal, ...extra });
      assert.ok(
        !watchdog.signal.aborted,
        `runCdc did not reach ${untilLsn} in ${timeoutMs} ms (applied ${p.appliedLsn})`,
      );
      return p;
    } finally {
      clearTimeout(timer);
    }
  }

  async function progressRow(migration: string): Promise<ProgressRow | undefined> {
    const { rows } = await dst.query<ProgressRow>(
      `SELECT applied_lsn::text, txns::text, changes::text, batches::text, conflicts::text
         FROM ferry.cdc_progress WHERE migration = $1`,
      [migration],
    );
    return rows[0];
  }

  async function exceptions(migration: string) {
    const { rows } = await dst.query<{
      table_name: string;
      kind: string;
      key: string;
      policy: string;
      commit_lsn: string | null;
    }>(
      `SELECT table_name, kind, key, policy, commit_lsn::text FROM ferry.cdc_exceptions
        WHERE migration = $1 ORDER BY id`,
      [migration],
    );
    return rows;
  }

  /** Statements in one source transaction; the rows each one changed. */
  async function tx(...statements: string[]): Promise<number[]> {
    await src.query('BEGIN');
    try {
      const counts: number[] = [];
      for (const s of statements) counts.push((await src.query(s)).rowCount ?? 0);
      await src.query('COMMIT');
      return counts;
    } catch (err) {
      await src.query('ROLLBACK').catch(noop);
      throw err;
    }
  }

  /** Rows as arrays of text (numbers too), in the query's order. */
  const rowsOf = async (c: Client, sql: string): Promise<(string | null)[][]> =>
    (await c.query<unknown[]>({ text: sql, rowMode: 'array' })).rows.map((r) =>
      r.map((v) => (v === null ? null : String(v))),
    );

  /**
   * A source writer in its own session: each transaction appends one journal row (k unique, so a
   * replayed insert shows as an extra row on the keyless target) and changes accounts.
   */
  function startWriter(schema: string, opts: { tolerateErrors?: boolean; noise?: boolean } = {}) {
    /** `lastK`: the journal key of the last committed transaction. */
    const stats = { txns: 0, changes: 0, journal: 0, lastK: 0, error: undefined as unknown };
    let stopped = false;
    const run = (async () => {
      const c = await connect(pg13, pair.source.database);
      c.on('error', noop);
      try {
        while (!stopped) {
          const i = ++journalSeq;
          const k = i;
          const acct = 1 + (i % 50);
          let changes = 0;
          let journal = 0;
          await c.query('BEGIN');
          const j = await c.query(`INSERT INTO ${q(schema, 'journal')} VALUES ($1, $2, $3, $4)`, [
            String(k),
            acct,
            i % 17,
            `note ${i} ü "q"`,
          ]);
          journal += j.rowCount ?? 0;
          changes += j.rowCount ?? 0;
          const u = await c.query(
            `UPDATE ${q(schema, 'accounts')} SET balance = balance + $2, touched = touched + 1 WHERE id = $1`,
            [acct, i % 17],
          );
          changes += u.rowCount ?? 0;
          if (i % 7 === 0) {
            const n = await c.query(`INSERT INTO ${q(schema, 'accounts')} VALUES ($1, 0, 0)`, [100_000 + i]);
            changes += n.rowCount ?? 0;
          }
          if (i % 11 === 0) {
            const d = await c.query(
              `DELETE FROM ${q(schema, 'accounts')} WHERE id = (SELECT min(id) FROM ${q(schema, 'accounts')} WHERE id >= 100000)`,
            );
            changes += d.rowCount ?? 0;
          }
          await c.query('COMMIT');
          stats.txns++;
          stats.changes += changes;
          stats.journal += journal;
          stats.lastK = k;
          // A transaction of an unpublished table: an empty one in the stream, between others.
          if (opts.noise && i % 2 === 0) await c.query(`INSERT INTO ${q(schema, 'noise')} VALUES ($1)`, [i]);
          if (i % 20 === 0) await sleep(5);
        }
      } catch (err) {
        stats.error = err;
        if (!opts.tolerateErrors) throw err;
      } finally {
        await c.end().catch(noop);
      }
    })();
    run.catch(noop);
    return {
      stats,
      async stop() {
        stopped = true;
        await run;
        return stats;
      },
    };
  }

  const ACCOUNTS_DDL = (schema: string) => `
    CREATE SCHEMA ${quoteIdent(schema)};
    CREATE TABLE ${q(schema, 'accounts')} (id int PRIMARY KEY, balance bigint NOT NULL, touched int NOT NULL DEFAULT 0);
    CREATE TABLE ${q(schema, 'journal')} (k bigint NOT NULL, account int, amount bigint, note text);
    ALTER TABLE ${q(schema, 'journal')} REPLICA IDENTITY FULL;
    CREATE TABLE ${q(schema, 'noise')} (i int);`;
  const ACCOUNTS_SEED = (schema: string) =>
    `INSERT INTO ${q(schema, 'accounts')} SELECT g, 1000, 0 FROM generate_series(1, 50) g`;

  /** Drop slot `name` (once its walsender is gone) and create it again as a copy of `from`. */
  async function replaceSlot(name: string, from: string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await src.query(`SELECT pg_drop_replication_slot($1)`, [name]);
        break;
      } catch (err) {
        // 55006 object_in_use: the walsender of the run that just ended is still exiting.
        if ((err as { code?: string }).code !== '55006' || i >= 50) throw err;
        await sleep(100);
      }
    }
    await src.query(`SELECT pg_copy_logical_replication_slot($1, $2)`, [from, name]);
  }

  /** The keyless journal on the target has no row twice, and as many as the source. */
  async function assertNoDuplicates(schema: string): Promise<void> {
    const sql = `SELECT count(*)::int AS n, count(DISTINCT k)::int AS d FROM ${q(schema, 'journal')}`;
    const [s] = (await src.query<{ n: number; d: number }>(sql)).rows;
    const [t] = (await dst.query<{ n: number; d: number }>(sql)).rows;
    assert.equal(t.n, t.d, `journal rows on the target are unique (${t.n} rows, ${t.d} distinct)`);
    assert.equal(t.n, s.n, 'journal rows on target and source');
  }

  // ---- 1. odd identifiers, every kind of change ---------------------------------------------------

  for (const compact of [false, true]) {
    it(`applies inserts, updates, deletes and TRUNCATE of oddly named tables (compaction ${compact ? 'on' : 'off'})`, async () => {
      const schema = `Cdc "Odd" ü ${compact ? 'C' : 'N'}`;
      const items = 'Order "Items" Ä';
      const group = 'group';
      const I = q(schema, items);
      const G = q(schema, group);
      const c = await setup({
        label: `odd_${compact ? 'c' : 'n'}`,
        ddl: `
          CREATE SCHEMA ${quoteIdent(schema)};
          CREATE TABLE ${I} (
            "select" int NOT NULL, "Key Part" text NOT NULL, "Mixed Case" text, "naïve ✓" text,
            "a""b" numeric(12,2), "user" text, "from" timestamptz, tags text[], doc jsonb,
            PRIMARY KEY ("select", "Key Part"));
          CREATE TABLE ${G} ("order" bigint PRIMARY KEY, "Value" text);`,
        tables: [
          [schema, items],
          [schema, group],
        ],
        settings: { batchApplyEnabled: compact },
      });
      const expect = {
        items: { inserts: 0, updates: 0, deletes: 0, truncates: 0 },
        group: { inserts: 0, updates: 0, deletes: 0, truncates: 0 },
      };
      let changes = 0;
      const count = (t: 'items' | 'group', kind: 'inserts' | 'updates' | 'deletes', n: number) => {
        expect[t][kind] += n;
        changes += n;
      };

      const [ins1, ins2] = await tx(
        `INSERT INTO ${I} SELECT i, 'k ' || (i % 3) || ' "q"', 'Mixed ' || i, 'ü ✓ ' || i, i * 1.5,
                CASE WHEN i % 5 = 0 THEN NULL ELSE 'u''' || i END,
                '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 hour',
                ARRAY['a', 'b "c"', NULL, E'back\\\\slash'], jsonb_build_object('i', i, 'q', E'x"y\\\\z')
           FROM generate_series(1, 50) i`,
        `INSERT INTO ${G} SELECT g, 'v' || g FROM generate_series(1, 20) g`,
      );
      count('items', 'inserts', ins1);
      count('group', 'inserts', ins2);
      const [upd1] = await tx(
        `UPDATE ${I} SET "Mixed Case" = E'upd\\n' || "select", "a""b" = NULL WHERE "select" % 4 = 0`,
      );
      count('items', 'updates', upd1);
      // A key change, deletes, a deleted key inserted again, a key born and gone.
      const [moved, deleted, back, born, gone] = await tx(
        `UPDATE ${I} SET "Key Part" = "Key Part" || ' moved' WHERE "select" IN (1, 2)`,
        `DELETE FROM ${I} WHERE "select" BETWEEN 40 AND 45`,
        `INSERT INTO ${I} ("select", "Key Part", "Mixed Case") VALUES (40, 'k 1 "q"', 'back again')`,
        `INSERT INTO ${I} ("select", "Key Part") VALUES (1000, 'born')`,
        `DELETE FROM ${I} WHERE "select" = 1000`,
      );
      count('items', 'updates', moved);
      count('items', 'deletes', deleted + gone);
      count('items', 'inserts', back + born);
      await tx(`TRUNCATE ${G}`);
      expect.group.truncates++;
      changes++;
      const [gIns, gUpd, gDel] = await tx(
        `INSERT INTO ${G} SELECT g, 'again ' || g FROM generate_series(1, 5) g`,
        `UPDATE ${G} SET "Value" = 'v2' WHERE "order" = 3`,
        `DELETE FROM ${G} WHERE "order" = 4`,
      );
      count('group', 'inserts', gIns);
      count('group', 'updates', gUpd);
      count('group', 'deletes', gDel);
      // A hot key: several updates of one row in one transaction.
      const lastBefore = await currentWalLsn(pair.source);
      const hot = await tx(
        `UPDATE ${I} SET doc = doc || '{"more": true}' WHERE "select" = 10`,
        `UPDATE ${I} SET "user" = 'first' WHERE "select" = 11`,
        `UPDATE ${I} SET "user" = 'second', "from" = NULL WHERE "select" = 11`,
        `UPDATE ${I} SET "user" = NULL, tags = '{}' WHERE "select" = 11`,
      );
      count(
        'items',
        'updates',
        hot.reduce((a, x) => a + x, 0),
      );

      const final = await catchUp(c);
      await assertSameRows(src, dst, c.plan);
      assert.ok((await rowsOf(dst, `SELECT 1 FROM ${I}`)).length > 0, 'the target has rows');

      const p = await progressRow(c.migration);
      assert.ok(p, 'ferry.cdc_progress has the migration');
      assert.ok(
        compareLsn(p.applied_lsn, c.slotLsn) > 0,
        `applied_lsn ${p.applied_lsn} moved past ${c.slotLsn}`,
      );
      assert.ok(
        compareLsn(p.applied_lsn, lastBefore) > 0,
        `applied_lsn ${p.applied_lsn} covers the last commit`,
      );
      assert.equal(p.applied_lsn, final.appliedLsn);
      assert.equal(Number(p.changes), changes, 'changes recorded');
      assert.equal(Number(p.conflicts), 0);
      assert.deepEqual(await exceptions(c.migration), []);

      const counters = await tableCounters(dst, c.migration);
      const pick = (k: string) => {
        const t = counters[k];
        assert.ok(t, `ferry.cdc_tables has ${k}: ${JSON.stringify(Object.keys(counters))}`);
        return { inserts: t.inserts, updates: t.updates, deletes: t.deletes, truncates: t.truncates };
      };
      assert.deepEqual(pick(tableKeyOf(schema, items)), expect.items);
      assert.deepEqual(pick(tableKeyOf(schema, group)), expect.group);
      assert.equal(counters[tableKeyOf(schema, items)].conflicts, 0);
      assert.ok(counters[tableKeyOf(schema, items)].applied > 0);
    });
  }

  // ---- 2. unchanged TOAST ---------------------------------------------------------------------------

  it('keeps a large TOASTed value that an UPDATE did not send (DEFAULT and FULL identity, key change too)', async () => {
    const big = `(SELECT string_agg(md5(i::text || ':' || g::text), '') FROM generate_series(1, 6400) g)`;
    const c = await setup({
      label: 'toast',
      ddl: `
        CREATE SCHEMA toast;
        CREATE TABLE toast.docs (id int PRIMARY KEY, n int NOT NULL, big text, small text);
        CREATE TABLE toast.docs_full (id int PRIMARY KEY, n int NOT NULL, big text, small text);
        ALTER TABLE toast.docs_full REPLICA IDENTITY FULL;
        -- Out of line and uncompressed whatever the data: the UPDATE then sends it as 'unchanged'.
        ALTER TABLE toast.docs ALTER COLUMN big SET STORAGE EXTERNAL;
        ALTER TABLE toast.docs_full ALTER COLUMN big SET STORAGE EXTERNAL;`,
      seed: `
        INSERT INTO toast.docs SELECT i, 0, ${big}, 's' || i FROM generate_series(1, 3) i;
        INSERT INTO toast.docs_full SELECT i, 0, ${big}, 's' || i FROM generate_series(1, 3) i;`,
      tables: [
        ['toast', 'docs'],
        ['toast', 'docs_full'],
      ],
    });
    const { rows } = await src.query<{ n: number }>(
      `SELECT pg_column_size(big) AS n FROM toast.docs WHERE id = 1`,
    );
    assert.ok(rows[0].n >= 200_000, `the value is ${rows[0].n} bytes, stored uncompressed`);
    for (const t of ['toast.docs', 'toast.docs_full']) {
      await tx(`UPDATE ${t} SET n = n + 1 WHERE id = 1`);
      await tx(`UPDATE ${t} SET small = 'changed', n = 5 WHERE id = 2`);
      await tx(`UPDATE ${t} SET id = 30 WHERE id = 3`);
      await tx(`UPDATE ${t} SET n = 7 WHERE id = 1`, `UPDATE ${t} SET small = NULL WHERE id = 1`);
    }
    await catchUp(c);
    await assertSameRows(src, dst, c.plan);
    const sql = (t: string) => `SELECT id, n, length(big), md5(big), small FROM ${t} ORDER BY id`;
    for (const t of ['toast.docs', 'toast.docs_full']) {
      const target = await rowsOf(dst, sql(t));
      assert.deepEqual(target, await rowsOf(src, sql(t)), `${t} on the target`);
      assert.deepEqual(
        target.map((r) => [r[0], r[2]]),
        [
          ['1', '204800'],
          ['2', '204800'],
          ['30', '204800'],
        ],
      );
    }
  });

  // ---- 3. keyless FULL identity with duplicate rows ------------------------------------------------

  it('deletes and updates exactly one of two identical rows of a keyless REPLICA IDENTITY FULL table', async () => {
    const c = await setup({
      label: 'dup',
      ddl: `
        CREATE SCHEMA dup;
        CREATE TABLE dup.events (a int, b text, c numeric);
        ALTER TABLE dup.events REPLICA IDENTITY FULL;`,
      seed: `INSERT INTO dup.events VALUES
               (1, 'x', 1.0), (1, 'x', 1.0), (2, 'y', NULL), (2, 'y', NULL),
               (3, 'z', 3), (3, 'z', 3), (4, NULL, NULL), (4, NULL, NULL)`,
      tables: [['dup', 'events']],
    });
    const one = (where: string) => `(SELECT ctid FROM dup.events WHERE ${where} LIMIT 1)`;
    assert.deepEqual(await tx(`DELETE FROM dup.events WHERE ctid = ${one('a = 1')}`), [1]);
    assert.deepEqual(await tx(`UPDATE dup.events SET b = 'y2' WHERE ctid = ${one('a = 2')}`), [1]);
    assert.deepEqual(
      await tx(
        `INSERT INTO dup.events VALUES (3, 'z', 3)`,
        `DELETE FROM dup.events WHERE ctid = ${one('a = 4')}`,
      ),
      [1, 1],
    );
    // Three identical rows, each updated: every change must find a row not yet updated.
    assert.deepEqual(await tx(`UPDATE dup.events SET c = 9 WHERE a = 3`), [3]);
    await catchUp(c);
    await assertSameRows(src, dst, c.plan);
    const groups = `SELECT a, b, c::text, count(*)::text FROM dup.events GROUP BY a, b, c ORDER BY a, b, c`;
    assert.deepEqual(await rowsOf(dst, groups), [
      ['1', 'x', '1.0', '1'],
      ['2', 'y', null, '1'],
      ['2', 'y2', null, '1'],
      ['3', 'z', '9', '3'],
      ['4', null, null, '1'],
    ]);
  });

  // ---- 4. a spilled 100 MB transaction --------------------------------------------------------------

  it('spills a 100 MB source transaction to disk and applies it in one target transaction', async () => {
    const c = await setup({
      label: 'bulk',
      ddl: `CREATE SCHEMA bulk; CREATE TABLE bulk.rows (id int PRIMARY KEY, grp int NOT NULL, pad text NOT NULL);`,
      tables: [['bulk', 'rows']],
    });
    const before = await currentWalLsn(pair.source);
    const [ins, upd, del] = await tx(
      `INSERT INTO bulk.rows SELECT g, g % 97, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)
         FROM generate_series(1, 1000000) g`,
      `UPDATE bulk.rows SET pad = 'u' || left(pad, 60), grp = -grp WHERE id % 10 = 0`,
      `DELETE FROM bulk.rows WHERE id % 100 = 1`,
    );
    const after = await currentWalLsn(pair.source);
    const walBytes = Number(lsnToBigInt(after) - lsnToBigInt(before));
    assert.ok(walBytes > 100 * MiB, `the transaction wrote ${(walBytes / MiB).toFixed(0)} MiB of WAL`);
    const expectedRows = ins - del;

    const spillDir = path.join(os.tmpdir(), 'ferry-cdc-spill');
    const spillFiles = async () =>
      (await fs.readdir(spillDir).catch(() => [] as string[])).filter((f) =>
        f.startsWith(`ferry-txn-${process.pid}-`),
      );
    assert.deepEqual(await spillFiles(), [], 'no spill file before');

    // Watch from outside: another target session must only ever see none or all of the rows, and a
    // spill file must appear while the transaction is received.
    const watcher = await connect(pair.pg15, pair.target.database);
    watcher.on('error', noop);
    const seen = new Set<number>();
    let sawSpill = false;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const { rows } = await watcher.query<{ n: number }>(`SELECT count(*)::int AS n FROM bulk.rows`);
        seen.add(rows[0].n);
        if ((await spillFiles()).length) sawSpill = true;
        await sleep(100);
      }
    })();
    // Memory held, not memory V8 has not collected yet: RSS growth depends on how much the process ran
    // before (a long suite lets the heap grow lazily), so the bound is on live memory after a full GC,
    // sampled every 500 ms. A transaction held whole (1.1M changes as objects) would be well over 1 GiB.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const live = () => {
      gc();
      const u = process.memoryUsage();
      return u.heapUsed + u.external + u.arrayBuffers;
    };
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const live0 = live();
    let livePeak = live0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const liveSampler = setInterval(() => (livePeak = Math.max(livePeak, live())), 500);
    const batches: BatchReport[] = [];
    const t0 = Date.now();
    try {
      await catchUp(c, { spillBytes: 8 * MiB, onBatch: (b) => batches.push(b) }, 480_000);
    } finally {
      clearInterval(sampler);
      clearInterval(liveSampler);
      watching = false;
      await watch.catch(noop);
      await watcher.end();
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const growth = livePeak - live0;
    console.log(
      `      bulk: ${(walBytes / MiB).toFixed(0)} MiB WAL, ${ins + upd + del} changes applied in ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s; RSS ${(rss0 / MiB).toFixed(0)} → peak ` +
        `${(peak / MiB).toFixed(0)} MiB (+${((peak - rss0) / MiB).toFixed(0)} MiB); live memory after GC ` +
        `${(live0 / MiB).toFixed(0)} → peak ${(livePeak / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(0)} MiB)`,
    );
    await assertSameRows(src, dst, c.plan);
    const big = batches.filter((b) => b.changes > 0);
    assert.deepEqual(
      big.map((b) => ({ txns: b.txns, changes: b.changes })),
      [{ txns: 1, changes: ins + upd + del }],
      'one batch holds the whole transaction',
    );
    assert.ok(sawSpill, 'the transaction was spilled to a file');
    assert.deepEqual(await spillFiles(), [], 'the spill file is removed once applied');
    assert.ok(
      [...seen].every((n) => n === 0 || n === expectedRows),
      `other sessions saw only 0 or ${expectedRows} rows, never a part: ${[...seen].join(', ')}`,
    );
    const p = await progressRow(c.migration);
    assert.equal(p?.batches, '1');
    assert.ok(
      growth < 128 * MiB,
      `live memory grew by ${(growth / MiB).toFixed(0)} MiB for a ${(walBytes / MiB).toFixed(0)} MiB transaction`,
    );
  });

  // ---- 5. a DMS mapping with a filter and a rename ----------------------------------------------------

  it('follows a selection filter (rows leave and re-enter its range) and a column rename', async () => {
    await src.query(`
      CREATE SCHEMA flt;
      CREATE TABLE flt.scores (id int PRIMARY KEY, score int, label text);
      INSERT INTO flt.scores SELECT g, g * 50, 'L' || g FROM generate_series(1, 20) g;`);
    const catalog = await readSourceCatalog(pair.source);
    const mapping = {
      rules: [
        {
          'rule-type': 'selection',
          'rule-id': '1',
          'rule-name': 'scores',
          'object-locator': { 'schema-name': 'flt', 'table-name': 'scores' },
          'rule-action': 'include',
          filters: [
            {
              'filter-type': 'source',
              'column-name': 'score',
              'filter-conditions': [{ 'filter-operator': 'between', 'start-value': '0', 'end-value': '500' }],
            },
          ],
        },
        {
          'rule-type': 'transformation',
          'rule-id': '2',
          'rule-name': 'label-to-title',
          'rule-target': 'column',
          'object-locator': { 'schema-name': 'flt', 'table-name': 'scores', 'column-name': 'label' },
          'rule-action': 'rename',
          value: 'title',
        },
      ],
    };
    const plan = compilePlan(parseTableMapping(mapping, 'mappings.json'), catalog, defaultEngineSettings());
    assert.deepEqual(
      plan.tables.map((t) => t.columns.map((col) => `${col.source}→${col.target}`)),
      [['id→id', 'score→score', 'label→title']],
    );
    const publication = `ferry_t_pub_flt_${hex()}`;
    pubs.push(publication);
    await ensurePublication(pair.source, publication, cdcTables(plan));
    // The full load creates the target table and the slot with its snapshot: CDC starts where it ends.
    const slotName = newSlot('flt');
    const migration = `cdc-runner-flt-${hex()}`;
    await runFullLoadLocal({
      migration,
      source: pair.source,
      target: pair.target,
      plan,
      catalog,
      concurrency: 2,
      slotName,
    });
    const expected = `SELECT id, score, label AS title FROM flt.scores WHERE score BETWEEN 0 AND 500 ORDER BY id`;
    const actual = `SELECT id, score, title FROM flt.scores ORDER BY id`;
    assert.deepEqual(await rowsOf(dst, actual), await rowsOf(src, expected), 'the full load');
    const base = { migration, slotName, publication, plan, catalog, slotLsn: '0/0' };
    const c: Cdc = { ...base, options: optionsOf(base) };

    await tx(`UPDATE flt.scores SET score = 600 WHERE id = 2`); // leaves the range
    await tx(`UPDATE flt.scores SET score = 250 WHERE id = 15`); // enters it (was never loaded)
    await tx(`UPDATE flt.scores SET label = 'renamed ok' WHERE id = 3`);
    await tx(
      `INSERT INTO flt.scores VALUES (21, 5, 'new in'), (22, 9999, 'new out')`,
      `DELETE FROM flt.scores WHERE id = 16`, // out of range: not on the target, not a conflict
      `DELETE FROM flt.scores WHERE id = 4`,
      `UPDATE flt.scores SET score = 700, label = 'gone' WHERE id = 5`,
      `UPDATE flt.scores SET score = 50 WHERE id = 5`,
      `UPDATE flt.scores SET score = 800 WHERE id = 17`, // out of range, stays out
    );
    await catchUp(c);
    const mid = await rowsOf(dst, actual);
    assert.deepEqual(mid, await rowsOf(src, expected), 'after rows left and entered the range');
    assert.ok(!mid.some((r) => r[0] === '2'), 'row 2 left the target');
    assert.ok(
      mid.some((r) => r[0] === '15'),
      'row 15 entered the target',
    );

    await tx(`UPDATE flt.scores SET score = 100 WHERE id = 2`); // back into the range
    await tx(`UPDATE flt.scores SET label = 'back' WHERE id = 2`);
    await catchUp(c);
    const end = await rowsOf(dst, actual);
    assert.deepEqual(end, await rowsOf(src, expected), 'after row 2 came back');
    assert.deepEqual(
      end.find((r) => r[0] === '2'),
      ['2', '100', 'back'],
    );
    assert.deepEqual(await exceptions(migration), []);
  });

  // ---- 6. exactly once across aborts ------------------------------------------------------------------

  it('applies every change exactly once when runs are aborted mid-stream and resumed', async () => {
    const c = await setup({
      label: 'once',
      ddl: ACCOUNTS_DDL('once'),
      seed: ACCOUNTS_SEED('once'),
      tables: [
        ['once', 'accounts'],
        ['once', 'journal'],
      ],
      settings: { batchApplyEnabled: true },
    });
    // A copy of the slot at its start: put back after the first run, it is a slot whose confirmations
    // were lost (a crash between the target commit and the ack): the stored position must win.
    const backup = newSlot('once_backup');
    await src.query(`SELECT pg_copy_logical_replication_slot($1, $2)`, [c.slotName, backup]);
    const writer = startWriter('once', { noise: true });
    const runs: CdcProgress[] = [];
    try {
      for (let run = 0; run < 3; run++) {
        if (run === 1) await replaceSlot(c.slotName, backup);
        await sleep(300 + run * 200);
        const ac = new AbortController();
        let batches = 0;
        const t0 = Date.now();
        runs.push(
          await runCdc({
            ...c.options,
            signal: ac.signal,
            onBatch: (b) => {
              if (b.changes > 0) batches++;
              if (batches >= 3 && Date.now() - t0 > 500) ac.abort();
            },
          }),
        );
        assert.ok(writer.stats.error === undefined, `writer: ${String(writer.stats.error)}`);
      }
      await sleep(300); // the writer goes on after the last abort
    } finally {
      await writer.stop();
    }
    assert.ok(writer.stats.txns > 50, `the writer committed ${writer.stats.txns} transactions`);
    const journalMid = await rowsOf(dst, `SELECT count(*) FROM once.journal`);
    assert.ok(Number(journalMid[0][0]) < writer.stats.journal, 'the aborted runs stopped mid-stream');
    assert.ok(
      compareLsn(runs[0].appliedLsn, runs[1].appliedLsn) < 0 &&
        compareLsn(runs[1].appliedLsn, runs[2].appliedLsn) < 0,
      `each run went further: ${runs.map((r) => r.appliedLsn).join(' → ')}`,
    );
    await catchUp(c);
    await assertSameRows(src, dst, c.plan);
    await assertNoDuplicates('once');
    const p = await progressRow(c.migration);
    assert.equal(Number(p?.changes), writer.stats.changes, 'every change counted once');
    const counters = await tableCounters(dst, c.migration);
    assert.equal(counters[tableKeyOf('once', 'journal')].inserts, writer.stats.journal);
  });

  it('has applied everything committed before untilLsn when it returns, with empty transactions between', async () => {
    const c = await setup({
      label: 'until',
      ddl: ACCOUNTS_DDL('until'),
      seed: ACCOUNTS_SEED('until'),
      tables: [
        ['until', 'accounts'],
        ['until', 'journal'],
      ],
    });
    const writer = startWriter('until', { noise: true });
    try {
      for (let round = 0; round < 12; round++) {
        await sleep(150);
        const lastK = writer.stats.lastK;
        await catchUp(c);
        const { rows } = await dst.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM until.journal WHERE k <= $1`,
          [lastK],
        );
        const [{ n: expected }] = (
          await src.query<{ n: number }>(`SELECT count(*)::int AS n FROM until.journal WHERE k <= $1`, [
            lastK,
          ])
        ).rows;
        assert.equal(rows[0].n, expected, `round ${round}: journal rows up to k ${lastK} on the target`);
      }
    } finally {
      await writer.stop();
    }
    assert.equal(writer.stats.error, undefined);
    await catchUp(c);
    await assertSameRows(src, dst, c.plan);
    await assertNoDuplicates('until');
  });

  // ---- 8. lag ---------------------------------------------------------------------------------------------

  it('reports lag in bytes and seconds and the source position, small once caught up', async () => {
    const c = await setup({
      label: 'lag',
      ddl: `CREATE SCHEMA lag; CREATE TABLE lag.items (id int PRIMARY KEY, v text);`,
      tables: [['lag', 'items']],
    });
    // A backlog written before the run starts, at least a second old when it starts.
    for (let i = 0; i < 20; i++) {
      await tx(
        `INSERT INTO lag.items SELECT g, repeat('x', 100) FROM generate_series(${i * 5000 + 1}, ${(i + 1) * 5000}) g`,
      );
    }
    const written = await currentWalLsn(pair.source);
    await sleep(1200);
    // A run stopped at its first report, before anything is applied or confirmed: the lag counts from
    // the slot's position already, not from LSN 0.
    const early: CdcProgress[] = [];
    const first = new AbortController();
    await runCdc({
      ...c.options,
      signal: first.signal,
      progressIntervalMs: 10,
      onProgress: (p) => {
        early.push(p);
        first.abort();
      },
    });
    const reports: CdcProgress[] = [];
    const final = await catchUp(c, { progressIntervalMs: 100, onProgress: (p) => reports.push(p) });
    await assertSameRows(src, dst, c.plan);
    assert.ok(reports.length >= 2, `${reports.length} progress reports`);
    const maxLag = Number(lsnToBigInt(final.sourceLsn) - lsnToBigInt(c.slotLsn));
    assert.ok(early.length > 0);
    for (const r of [...early, ...reports]) {
      assert.ok(isLsn(r.sourceLsn) && isLsn(r.appliedLsn) && isLsn(r.receivedLsn), JSON.stringify(r));
      assert.ok(Number.isFinite(r.lagBytes) && r.lagBytes >= 0, `lagBytes ${r.lagBytes}`);
      // Never more than the WAL written since the slot's start: a lag from LSN 0 would be far more.
      assert.ok(
        r.lagBytes <= maxLag,
        `lagBytes ${r.lagBytes} > ${maxLag}, the WAL written since the slot started`,
      );
      assert.ok(Number.isFinite(r.lagSeconds) && r.lagSeconds >= 0, `lagSeconds ${r.lagSeconds}`);
    }
    const behind = reports.find((r) => r.lagBytes > 0 && r.lagSeconds >= 1);
    assert.ok(
      behind,
      `a report while behind shows the lag: ${JSON.stringify(reports.map((r) => [r.lagBytes, r.lagSeconds]))}`,
    );
    assert.ok(compareLsn(behind.sourceLsn, written) >= 0, `sourceLsn ${behind.sourceLsn} ≥ ${written}`);
    const last = reports[reports.length - 1];
    for (const r of [final, last]) {
      assert.ok(r.lagBytes < MiB, `caught up: lagBytes ${r.lagBytes}`);
      assert.equal(r.lagSeconds, 0);
      assert.ok(compareLsn(r.sourceLsn, written) >= 0);
    }
    assert.equal(final.changes, 100_000);
  });

  // ---- 9. conflicts -----------------------------------------------------------------------------------------

  it('records a delete of a row missing on the target in ferry.cdc_exceptions and goes on', async () => {
    const c = await setup({
      label: 'conflict',
      ddl: `CREATE SCHEMA cfl; CREATE TABLE cfl.items (id int PRIMARY KEY, v text);`,
      seed: `INSERT INTO cfl.items SELECT g, 'v' || g FROM generate_series(1, 6) g`,
      targetSeed: `INSERT INTO cfl.items SELECT g, 'v' || g FROM generate_series(1, 4) g`,
      tables: [['cfl', 'items']],
    });
    await tx(`DELETE FROM cfl.items WHERE id = 5`);
    await tx(`INSERT INTO cfl.items VALUES (7, 'seven')`, `UPDATE cfl.items SET v = 'one' WHERE id = 1`);
    await tx(`UPDATE cfl.items SET v = 'six' WHERE id = 6`);
    await tx(`DELETE FROM cfl.items WHERE id = 2`);
    const until = await currentWalLsn(pair.source);
    const final = await catchUp(c);
    assert.deepEqual(await rowsOf(dst, `SELECT id, v FROM cfl.items ORDER BY id`), [
      ['1', 'one'],
      ['3', 'v3'],
      ['4', 'v4'],
      ['7', 'seven'],
    ]);
    const ex = await exceptions(c.migration);
    assert.deepEqual(
      ex.map((e) => [e.table_name, e.kind, e.key, e.policy]),
      [
        ['cfl.items', 'delete-missing', '{"id":"5"}', 'IGNORE_RECORD'],
        ['cfl.items', 'update-missing', '{"id":"6"}', 'LOG_ERROR'],
      ],
    );
    for (const e of ex) {
      assert.ok(
        e.commit_lsn && compareLsn(e.commit_lsn, c.slotLsn) > 0 && compareLsn(e.commit_lsn, until) <= 0,
      );
    }
    assert.equal(final.conflicts, 2);
    assert.equal(Number((await progressRow(c.migration))?.conflicts), 2);
    assert.equal((await tableCounters(dst, c.migration))['cfl.items'].conflicts, 2);
  });

  // ---- 10. an idle stream ------------------------------------------------------------------------------------

  it('keeps an idle stream alive past wal_sender_timeout', async () => {
    const c = await setup({
      label: 'idle',
      ddl: `CREATE SCHEMA idle; CREATE TABLE idle.items (id int PRIMARY KEY, v text);`,
      tables: [['idle', 'items']],
    });
    const admin = await connect(pg13);
    admin.on('error', noop);
    try {
      await admin.query(`ALTER SYSTEM SET wal_sender_timeout = '2s'`);
      await admin.query(`SELECT pg_reload_conf()`);
      await sleep(300);
      const ac = new AbortController();
      let applied = 0;
      const running = runCdc({ ...c.options, signal: ac.signal, onBatch: (b) => (applied += b.changes) });
      let failed: unknown;
      running.catch((e: unknown) => (failed = e));
      await tx(`INSERT INTO idle.items VALUES (1, 'before the pause')`);
      // Quiet for three timeouts: nothing to send, yet the walsender must keep hearing from us.
      await sleep(7000);
      assert.equal(failed, undefined, `runCdc failed while idle: ${String(failed)}`);
      await tx(`INSERT INTO idle.items VALUES (2, 'after the pause')`);
      const deadline = Date.now() + 30_000;
      while (applied < 2 && !failed && Date.now() < deadline) await sleep(100);
      ac.abort();
      await running;
      assert.equal(applied, 2);
      await assertSameRows(src, dst, c.plan);
    } finally {
      await admin.query(`ALTER SYSTEM RESET wal_sender_timeout`);
      await admin.query(`SELECT pg_reload_conf()`);
      await admin.end();
    }
  });

  // ---- 7. a source restart (last: it ends every session on the source) --------------------------------------

  it('fails with a retryable error when the source restarts mid-stream, and the next run resumes', async () => {
    const c = await setup({
      label: 'restart',
      ddl: ACCOUNTS_DDL('restart'),
      seed: ACCOUNTS_SEED('restart'),
      tables: [
        ['restart', 'accounts'],
        ['restart', 'journal'],
      ],
    });
    let writer = startWriter('restart', { tolerateErrors: true, noise: true });
    let err: unknown;
    let stopping: Promise<unknown> | undefined;
    const ac = new AbortController();
    try {
      let batches = 0;
      const running = runCdc({
        ...c.options,
        signal: ac.signal,
        onBatch: (b) => {
          if (b.changes > 0) batches++;
          if (batches >= 3 && !stopping) stopping = stopServer(pg13.dataDir);
        },
      });
      const outcome = await Promise.race([
        running.then(
          () => 'resolved',
          (e: unknown) => ((err = e), 'rejected'),
        ),
        sleep(120_000).then(() => 'timed out'),
      ]);
      assert.equal(outcome, 'rejected', 'runCdc ends with an error when the source goes away');
      assert.ok(stopping, 'the server was stopped while streaming');
    } finally {
      ac.abort();
      await stopping?.catch(noop);
      await writer.stop();
      // Running again whatever happened: the other tests of this process share the server.
      await startServer({ major: 13, dataDir: pg13.dataDir, port: pg13.port, password: pg13.password });
      src = await connect(pg13, pair.source.database);
      src.on('error', noop);
    }
    assert.ok(err instanceof FerryError, `a FerryError, got ${String(err)}`);
    console.log(`      restart: runCdc rejected with ${err.type}: ${err.message.split('\n')[0]}`);
    const retryable: string[] = [ErrorType.ENDPOINT_UNREACHABLE, ErrorType.DATABASE_ERROR];
    assert.ok(retryable.includes(err.type), `${err.type}: ${err.message}`);
    assert.equal(err.retryable, true);
    assert.ok(writer.stats.txns > 0, 'the writer wrote before the restart');

    // More writes after the restart, then the next run catches up from the stored position.
    writer = startWriter('restart', { noise: true });
    await sleep(1500);
    await writer.stop();
    assert.equal(writer.stats.error, undefined);
    await catchUp(c);
    await assertSameRows(src, dst, c.plan);
    await assertNoDuplicates('restart');
  });
});

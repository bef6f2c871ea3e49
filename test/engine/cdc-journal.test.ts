// The change journal (ferry.cdc_journal) end to end, PostgreSQL 13 → 15 through runCdc: off by default;
// on, every applied change of the journalled tables with its commit LSN, commit time, operation and
// target key (a renamed table and key column), in source order, compaction or not; exactly once across
// aborted runs and lost slot confirmations; a spilled transaction in chunks; retention pruning; and
// queryJournal's filters. Each test has its own tables, publication and slot, dropped after it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import { type JournalOptions, type JournalRow, parseSince, queryJournal } from '../../src/engine/cdc/journal';
import { type RunCdcOptions, runCdc } from '../../src/engine/cdc/runner';
import {
  cdcTables,
  createSlot,
  currentWalLsn,
  dropPublication,
  ensurePublication,
} from '../../src/engine/cdc/source';
import { type CdcProgress, compareLsn, tableKeyOf } from '../../src/engine/cdc/types';
import { quoteIdent } from '../../src/engine/ident';
import { FerryError } from '../../src/errors';
import type { EngineSettings, MigrationPlan } from '../../src/mapping/types';
import { connect, dropDatabase } from '../support/pg';
import { type DbPair, Leftovers, identityPlan, openPair, q } from './fixtures/fullload';

const SLOT_PREFIX = `ferry_t_cdcjrn_${randomBytes(3).toString('hex')}_`;
const noop = () => undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = () => randomBytes(3).toString('hex');
const WEEK = 7 * 86_400;

interface Cdc {
  migration: string;
  slotName: string;
  plan: MigrationPlan;
  options: RunCdcOptions;
}

describe('engine/cdc/journal: the change journal through runCdc, PostgreSQL 13 to 15', function () {
  this.timeout(600_000);
  const left = new Leftovers();
  let pair: DbPair;
  let src: Client;
  let dst: Client;
  let slots: string[] = [];
  let pubs: string[] = [];

  before(async () => {
    pair = await openPair('cdc_journal', left);
    ({ src, dst } = pair);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
    const c = await connect(pair.pg13, pair.source.database);
    try {
      for (const s of slots) {
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
    if (pair) {
      const c = await connect(pair.pg13);
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

  function newSlot(label: string): string {
    const name = `${SLOT_PREFIX}${label}_${hex()}`;
    slots.push(name);
    left.slots.push({ server: pair.pg13, database: pair.source.database, name });
    return name;
  }

  /** DDL on both sides (or `targetDdl` on the target), the plan of `tables` (then `shape`), publication, slot. */
  async function setup(o: {
    label: string;
    ddl: string;
    targetDdl?: string;
    tables: [string, string][];
    settings?: Partial<EngineSettings>;
    shape?: (plan: MigrationPlan) => void;
    journal?: JournalOptions;
  }): Promise<Cdc> {
    await src.query(o.ddl);
    await dst.query(o.targetDdl ?? o.ddl);
    const catalog = await readSourceCatalog(pair.source);
    const full = identityPlan(catalog, { settings: o.settings ?? {} });
    const keys = o.tables.map(([s, n]) => tableKeyOf(s, n));
    const plan = {
      ...full,
      tables: full.tables.filter((t) => keys.includes(tableKeyOf(t.source.schema, t.source.name))),
    };
    assert.equal(plan.tables.length, keys.length);
    o.shape?.(plan);
    const publication = `ferry_t_pub_${o.label}_${hex()}`;
    pubs.push(publication);
    await ensurePublication(pair.source, publication, cdcTables(plan));
    const slotName = newSlot(o.label);
    await createSlot(pair.source, slotName);
    const migration = `cdc-journal-${o.label}-${hex()}`;
    return {
      migration,
      slotName,
      plan,
      options: {
        migration,
        source: pair.source,
        target: pair.target,
        plan,
        catalog,
        slotName,
        publication,
        progressIntervalMs: 500,
        ...(o.journal && { journal: o.journal }),
      },
    };
  }

  async function catchUp(c: Cdc, extra: Partial<RunCdcOptions> = {}): Promise<CdcProgress> {
    const untilLsn = await currentWalLsn(pair.source);
    const watchdog = new AbortController();
    const timer = setTimeout(() => watchdog.abort(), 180_000);
    try {
      const p = await runCdc({ ...c.options, untilLsn, signal: watchdog.signal, ...extra });
      assert.ok(!watchdog.signal.aborted, `runCdc did not reach ${untilLsn} (applied ${p.appliedLsn})`);
      return p;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One source transaction; the WAL position and clock before and after it. */
  async function tx(...statements: string[]): Promise<{ lsn0: string; lsn1: string; t0: Date; t1: Date }> {
    const mark = async () =>
      (
        await src.query<{ lsn: string; t: Date }>(
          `SELECT pg_current_wal_lsn()::text AS lsn, clock_timestamp() AS t`,
        )
      ).rows[0];
    const a = await mark();
    await src.query('BEGIN');
    try {
      for (const s of statements) await src.query(s);
      await src.query('COMMIT');
    } catch (err) {
      await src.query('ROLLBACK').catch(noop);
      throw err;
    }
    const b = await mark();
    return { lsn0: a.lsn, lsn1: b.lsn, t0: a.t, t1: b.t };
  }

  interface Stored {
    table_name: string;
    target_table: string;
    lsn: string;
    seq: number;
    commit_time: Date;
    operation: string;
    key: Record<string, string> | null;
    old_key: Record<string, string> | null;
  }
  async function journalOf(migration: string): Promise<Stored[]> {
    const { rows: ok } = await dst.query<{ ok: boolean }>(
      `SELECT to_regclass('ferry.cdc_journal') IS NOT NULL AS ok`,
    );
    if (!ok[0].ok) return [];
    return (
      await dst.query<Stored>(
        `SELECT table_name, target_table, lsn::text, seq, commit_time, operation, key, old_key
           FROM ferry.cdc_journal WHERE migration = $1 ORDER BY lsn, seq, table_name`,
        [migration],
      )
    ).rows;
  }

  const ITEMS_DDL = (schema: string) => `
    CREATE SCHEMA ${quoteIdent(schema)};
    CREATE TABLE ${q(schema, 'Order Items')} ("select" int, "Key Part" text, note text, PRIMARY KEY ("select", "Key Part"));
    CREATE TABLE ${q(schema, 'grp')} (id bigint PRIMARY KEY, v text);
    CREATE TABLE ${q(schema, 'keyless')} (a int, b text);
    ALTER TABLE ${q(schema, 'keyless')} REPLICA IDENTITY FULL;`;
  /** The target renames the items table and a key column: the journal keys by the target's names. */
  const ITEMS_TARGET_DDL = (schema: string) => `
    CREATE SCHEMA ${quoteIdent(schema)};
    CREATE TABLE ${q(schema, 'items_t')} ("select" int, key_part text, note text, PRIMARY KEY ("select", key_part));
    CREATE TABLE ${q(schema, 'grp')} (id bigint PRIMARY KEY, v text);
    CREATE TABLE ${q(schema, 'keyless')} (a int, b text);`;
  const renameItems = (plan: MigrationPlan) => {
    const t = plan.tables.find((x) => x.source.name === 'Order Items')!;
    t.target = { schema: t.target.schema, name: 'items_t' };
    for (const c of t.columns) if (c.target === 'Key Part') c.target = 'key_part';
    t.primaryKey = ['select', 'key_part'];
  };

  // ---- off ------------------------------------------------------------------------------------------

  it('keeps no journal unless asked', async () => {
    const c = await setup({
      label: 'off',
      ddl: `CREATE SCHEMA joff; CREATE TABLE joff.t (id int PRIMARY KEY, v text);`,
      tables: [['joff', 't']],
    });
    await tx(
      `INSERT INTO joff.t SELECT g, 'v' FROM generate_series(1, 10) g`,
      `DELETE FROM joff.t WHERE id = 3`,
    );
    const p = await catchUp(c);
    assert.equal(p.changes, 11);
    assert.deepEqual(await journalOf(c.migration), []);
  });

  // ---- on -------------------------------------------------------------------------------------------

  for (const compact of [true, false]) {
    it(`records every change of the journalled tables in order: LSN, commit time, operation, target key (compaction ${compact ? 'on' : 'off'})`, async () => {
      const s = `Jour ${compact ? 'C' : 'N'}`;
      const I = q(s, 'Order Items');
      const c = await setup({
        label: `on_${compact ? 'c' : 'n'}`,
        ddl: ITEMS_DDL(s),
        targetDdl: ITEMS_TARGET_DDL(s),
        tables: [
          [s, 'Order Items'],
          [s, 'grp'],
          [s, 'keyless'],
        ],
        settings: { batchApplyEnabled: compact },
        shape: renameItems,
        journal: { retentionSeconds: WEEK, tables: [`${s}.Order Items`, `${s}.keyless`] },
      });
      const txns = [
        await tx(
          `INSERT INTO ${I} VALUES (1, 'a', 'n1'), (2, 'b', 'n2'), (3, 'c "q" \\ ü', 'n3')`,
          `INSERT INTO ${q(s, 'grp')} VALUES (1, 'x'), (2, 'y')`,
          `INSERT INTO ${q(s, 'keyless')} VALUES (7, 'secret value')`,
        ),
        // A hot key: two updates of one row (compaction folds them on the target, not in the journal).
        await tx(
          `UPDATE ${I} SET note = 'u1' WHERE "select" = 1`,
          `UPDATE ${I} SET note = 'u2' WHERE "select" = 1`,
        ),
        await tx(`UPDATE ${I} SET "Key Part" = 'a2' WHERE "select" = 1`),
        await tx(`DELETE FROM ${I} WHERE "select" = 2`, `UPDATE ${q(s, 'grp')} SET v = 'z'`),
        await tx(`TRUNCATE ${I}, ${q(s, 'grp')}`),
        // Born and gone in one transaction: nothing of it reaches the target with compaction.
        await tx(`INSERT INTO ${I} VALUES (5, 'e', NULL)`, `DELETE FROM ${I} WHERE "select" = 5`),
      ];
      const p = await catchUp(c);
      assert.equal(p.conflicts, 0);

      const items = tableKeyOf(s, 'Order Items');
      const keyless = tableKeyOf(s, 'keyless');
      const k = (sel: number, part: string) => ({ select: String(sel), key_part: part });
      const expected: [
        number,
        string,
        string,
        Record<string, string> | null,
        Record<string, string> | null,
      ][] = [
        [0, items, 'insert', k(1, 'a'), null],
        [0, items, 'insert', k(2, 'b'), null],
        [0, items, 'insert', k(3, 'c "q" \\ ü'), null],
        [0, keyless, 'insert', null, null],
        [1, items, 'update', k(1, 'a'), null],
        [1, items, 'update', k(1, 'a'), null],
        [2, items, 'update', k(1, 'a2'), k(1, 'a')],
        [3, items, 'delete', k(2, 'b'), null],
        [4, items, 'truncate', null, null],
        [5, items, 'insert', k(5, 'e'), null],
        [5, items, 'delete', k(5, 'e'), null],
      ];
      const rows = await journalOf(c.migration);
      assert.deepEqual(
        rows.map((r) => [r.table_name, r.operation, r.key, r.old_key]),
        expected.map(([, t, op, key, old]) => [t, op, key, old]),
      );
      for (const [i, r] of rows.entries()) {
        const t = txns[expected[i][0]];
        assert.ok(
          compareLsn(r.lsn, t.lsn0) >= 0 && compareLsn(r.lsn, t.lsn1) <= 0,
          `row ${i}: LSN ${r.lsn} within its transaction's WAL (${t.lsn0}..${t.lsn1})`,
        );
        assert.ok(
          r.commit_time.getTime() >= t.t0.getTime() - 1 && r.commit_time.getTime() <= t.t1.getTime() + 1,
          `row ${i}: commit time ${r.commit_time.toISOString()} within ${t.t0.toISOString()}..${t.t1.toISOString()}`,
        );
        assert.equal(r.target_table, r.table_name === items ? tableKeyOf(s, 'items_t') : keyless);
      }
      // One LSN per transaction, seq in source order within it.
      const byTxn = new Map<number, Stored[]>();
      rows.forEach((r, i) => byTxn.set(expected[i][0], [...(byTxn.get(expected[i][0]) ?? []), r]));
      for (const list of byTxn.values()) {
        assert.equal(new Set(list.map((r) => r.lsn)).size, 1);
        for (let j = 1; j < list.length; j++) assert.ok(list[j].seq > list[j - 1].seq);
      }
      // Keys only: no other column value anywhere in the journal.
      const text = JSON.stringify(rows);
      for (const v of ['n1', 'u2', 'secret value']) assert.ok(!text.includes(v), `journal holds no ${v}`);
    });
  }

  // ---- exactly once ---------------------------------------------------------------------------------

  it('journals every change exactly once across aborted runs and lost slot confirmations', async () => {
    const c = await setup({
      label: 'once',
      ddl: `CREATE SCHEMA jonce; CREATE TABLE jonce.acc (id int PRIMARY KEY, n int NOT NULL);
            INSERT INTO jonce.acc SELECT g, 0 FROM generate_series(1, 20) g;`,
      tables: [['jonce', 'acc']],
      settings: { batchApplyEnabled: true },
      journal: { retentionSeconds: WEEK },
    });
    // A copy of the slot at its start, put back after the first run: confirmations lost in a crash
    // between the target commit and the ack. The first run's transactions come again and must be skipped.
    const backup = newSlot('once_backup');
    await src.query(`SELECT pg_copy_logical_replication_slot($1, $2)`, [c.slotName, backup]);
    let stopped = false;
    let inserts = 0;
    let updates = 0;
    const writer = (async () => {
      const w = await connect(pair.pg13, pair.source.database);
      try {
        for (let i = 1; !stopped; i++) {
          await w.query('BEGIN');
          await w.query(`INSERT INTO jonce.acc VALUES ($1, 0)`, [1000 + i]);
          await w.query(`UPDATE jonce.acc SET n = n + 1 WHERE id = $1`, [1 + (i % 20)]);
          await w.query('COMMIT');
          inserts++;
          updates++;
          if (i % 10 === 0) await sleep(5);
        }
      } finally {
        await w.end();
      }
    })();
    try {
      for (let run = 0; run < 3; run++) {
        if (run === 1) {
          for (let i = 0; ; i++) {
            try {
              await src.query(`SELECT pg_drop_replication_slot($1)`, [c.slotName]);
              break;
            } catch (err) {
              if ((err as { code?: string }).code !== '55006' || i >= 50) throw err;
              await sleep(100);
            }
          }
          await src.query(`SELECT pg_copy_logical_replication_slot($1, $2)`, [backup, c.slotName]);
        }
        await sleep(300);
        const ac = new AbortController();
        let batches = 0;
        await runCdc({
          ...c.options,
          signal: ac.signal,
          onBatch: (b) => {
            if (b.changes > 0 && ++batches >= 3) ac.abort();
          },
        });
      }
    } finally {
      stopped = true;
      await writer;
    }
    await catchUp(c);
    const { rows } = await dst.query<{ n: number; d: number; ins: number; upd: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (lsn, seq))::int AS d,
              count(*) FILTER (WHERE operation = 'insert')::int AS ins,
              count(*) FILTER (WHERE operation = 'update')::int AS upd
         FROM ferry.cdc_journal WHERE migration = $1`,
      [c.migration],
    );
    assert.ok(inserts > 30, `the writer committed ${inserts} transactions`);
    assert.equal(rows[0].n, rows[0].d, 'no journal row twice');
    assert.equal(rows[0].ins, inserts, 'every insert once');
    assert.equal(rows[0].upd, updates, 'every update once');
  });

  it('journals a spilled transaction chunk by chunk, in order, in its one target transaction', async () => {
    const c = await setup({
      label: 'spill',
      ddl: `CREATE SCHEMA jspill; CREATE TABLE jspill.t (id int PRIMARY KEY, v text);`,
      tables: [['jspill', 't']],
      journal: { retentionSeconds: WEEK },
    });
    const N = 45_000; // three chunks of the spill file
    await tx(`INSERT INTO jspill.t SELECT g, 'v' || g FROM generate_series(1, ${N}) g`);
    const p = await catchUp(c, { spillBytes: 64 * 1024 });
    assert.equal(p.changes, N);
    const { rows } = await dst.query<{
      n: number;
      lsns: number;
      seqs: number;
      lo: number;
      hi: number;
      ok: boolean;
    }>(
      `SELECT count(*)::int AS n, count(DISTINCT lsn)::int AS lsns, count(DISTINCT seq)::int AS seqs,
              min(seq) AS lo, max(seq) AS hi, bool_and((key->>'id')::int = seq + 1) AS ok
         FROM ferry.cdc_journal WHERE migration = $1`,
      [c.migration],
    );
    assert.deepEqual(rows[0], { n: N, lsns: 1, seqs: N, lo: 0, hi: N - 1, ok: true });
  });

  // ---- retention ------------------------------------------------------------------------------------

  it('prunes rows older than the retention, only of its migration', async () => {
    const c = await setup({
      label: 'prune',
      ddl: `CREATE SCHEMA jprune; CREATE TABLE jprune.t (id int PRIMARY KEY);`,
      tables: [['jprune', 't']],
      journal: { retentionSeconds: WEEK, pruneIntervalSeconds: 3600 },
    });
    await tx(`INSERT INTO jprune.t SELECT generate_series(1, 10)`);
    await catchUp(c);
    assert.equal((await journalOf(c.migration)).length, 10);
    // Six of them eight days old; another migration's old row must stay.
    await dst.query(
      `UPDATE ferry.cdc_journal SET commit_time = commit_time - interval '8 days' WHERE migration = $1 AND seq < 6`,
      [c.migration],
    );
    const other = `${c.migration}-other`;
    await dst.query(
      `INSERT INTO ferry.cdc_journal (migration, table_name, target_table, lsn, seq, commit_time, operation, key)
       VALUES ($1, 'jprune.t', 'jprune.t', '0/1', 0, now() - interval '30 days', 'insert', '{"id": "1"}')`,
      [other],
    );
    // A new run prunes after its first batch; the second prune waits for the interval.
    await tx(`INSERT INTO jprune.t VALUES (11)`);
    await catchUp(c);
    const left1 = await journalOf(c.migration);
    assert.deepEqual(
      left1.map((r) => r.key?.id),
      ['7', '8', '9', '10', '11'],
    );
    const { rows } = await dst.query(`SELECT 1 FROM ferry.cdc_journal WHERE migration = $1`, [other]);
    assert.equal(rows.length, 1, "another migration's rows are its own retention's business");
    await dst.query(`DELETE FROM ferry.cdc_journal WHERE migration = $1`, [other]);
  });

  // ---- queryJournal ---------------------------------------------------------------------------------

  it('queryJournal filters by table (source, target or bare name), window, operation and limit', async () => {
    const s = 'jq';
    const c = await setup({
      label: 'query',
      ddl: ITEMS_DDL(s),
      targetDdl: ITEMS_TARGET_DDL(s),
      tables: [
        [s, 'Order Items'],
        [s, 'grp'],
      ],
      shape: renameItems,
      journal: { retentionSeconds: WEEK },
    });
    const I = q(s, 'Order Items');
    const a = await tx(
      `INSERT INTO ${I} VALUES (1, 'a', NULL), (2, 'b', NULL)`,
      `INSERT INTO jq.grp VALUES (1, 'x')`,
    );
    await sleep(50);
    const b = await tx(`UPDATE ${I} SET note = 'n' WHERE "select" = 1`, `DELETE FROM jq.grp WHERE id = 1`);
    await sleep(50);
    const d = await tx(`DELETE FROM ${I} WHERE "select" = 2`);
    await catchUp(c);
    const get = (o: Partial<Parameters<typeof queryJournal>[2]>) =>
      queryJournal(pair.target, c.migration, { limit: 100, ...o });
    // Commit times are kept to the millisecond (truncated): windows get a margin the sleeps leave room for.
    const shift = (t: Date, ms: number) => new Date(t.getTime() + ms);
    const ops = (rows: JournalRow[]) =>
      rows.map((r) => `${r.targetTable}:${r.operation}:${JSON.stringify(r.key)}`);

    const all = await get({});
    assert.equal(all.length, 6);
    assert.deepEqual(
      all.map((r) => r.table),
      [
        tableKeyOf(s, 'Order Items'),
        tableKeyOf(s, 'Order Items'),
        'jq.grp',
        tableKeyOf(s, 'Order Items'),
        'jq.grp',
        tableKeyOf(s, 'Order Items'),
      ],
    );
    const items = [
      'jq.items_t:insert:{"select":"1","key_part":"a"}',
      'jq.items_t:insert:{"select":"2","key_part":"b"}',
      'jq.items_t:update:{"select":"1","key_part":"a"}',
      'jq.items_t:delete:{"select":"2","key_part":"b"}',
    ];
    assert.deepEqual(ops(await get({ table: `${s}."Order Items"` })), items, 'by source name');
    assert.deepEqual(ops(await get({ table: `${s}.Order Items` })), items, 'by source name, unquoted');
    assert.deepEqual(ops(await get({ table: 'jq.items_t' })), items, 'by target name');
    assert.deepEqual(ops(await get({ table: 'items_t' })), items, 'by bare name');
    assert.deepEqual(await get({ table: 'nope' }), []);
    assert.deepEqual(
      ops(await get({ since: shift(b.t0, -20), until: shift(b.t1, 20) })),
      ['jq.items_t:update:{"select":"1","key_part":"a"}', 'jq.grp:delete:{"id":"1"}'],
      'window of the second transaction',
    );
    assert.deepEqual(ops(await get({ since: shift(d.t0, -20) })), [
      'jq.items_t:delete:{"select":"2","key_part":"b"}',
    ]);
    assert.deepEqual(await get({ until: shift(a.t0, -5) }), []);
    assert.deepEqual(ops(await get({ operation: 'delete', table: 'grp' })), ['jq.grp:delete:{"id":"1"}']);
    // Without since: the latest, oldest first; with since: the first from there.
    assert.deepEqual(ops(await get({ limit: 2 })), ops(all.slice(4)));
    assert.deepEqual(ops(await get({ limit: 2, since: shift(a.t0, -5) })), ops(all.slice(0, 2)));
    const first = all[0];
    assert.ok(compareLsn(first.lsn, a.lsn0) >= 0 && compareLsn(first.lsn, a.lsn1) <= 0);
    assert.ok(!Number.isNaN(Date.parse(first.commitTime)));
    assert.deepEqual(await queryJournal(pair.target, 'no-such-migration', { limit: 5 }), []);
    await assert.rejects(get({ limit: 0 }), FerryError);
  });

  // ---- parseSince -----------------------------------------------------------------------------------

  it('parseSince reads ISO times and times ago, and says what to write otherwise', () => {
    const now = new Date('2025-03-01T12:00:00Z');
    const ago = (text: string) => now.getTime() - parseSince(text, now).getTime();
    assert.equal(ago('15m'), 15 * 60_000);
    assert.equal(ago('2h'), 2 * 3_600_000);
    assert.equal(ago('1 day'), 86_400_000);
    assert.equal(ago('3 days ago'), 3 * 86_400_000);
    assert.equal(ago('30 minutes ago'), 30 * 60_000);
    assert.equal(ago('90s'), 90_000);
    assert.equal(ago('1w'), 7 * 86_400_000);
    assert.equal(parseSince('2025-02-28T10:00:00Z', now).toISOString(), '2025-02-28T10:00:00.000Z');
    assert.equal(parseSince('2025-02-28T10:00:00+02:00', now).toISOString(), '2025-02-28T08:00:00.000Z');
    assert.equal(
      parseSince('2025-02-28 10:00', now).getTime(),
      new Date(2025, 1, 28, 10, 0).getTime(),
      'no zone: local time',
    );
    assert.equal(parseSince('2025-02-28', now).getTime(), new Date(2025, 1, 28).getTime());
    for (const bad of ['yesterday', '1', '15 parsecs', '', '2025-13-45']) {
      assert.throws(
        () => parseSince(bad, now),
        (e: unknown) => e instanceof FerryError && /write an ISO time .* 15m/.test(e.message),
        bad,
      );
    }
  });
});

// The load's one snapshot on a real PostgreSQL 13: copies see the source as of onReady and nothing
// later, a snapshot whose holder is gone is SNAPSHOT_LOST, and a replication slot created with
// EXPORT_SNAPSHOT (refused when it exists, dropped by the test: a leaked slot keeps WAL forever).
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import type { PgConnInfo } from '../../src/engine/connection';
import {
  type ExportedSnapshot,
  copySegment,
  createPreData,
  dropSlot,
  holdSnapshot,
  planSegments,
  resetTableLoad,
  segmentRows,
} from '../../src/engine/fullload';
import { FerryError } from '../../src/errors';
import type { SourceCatalog, TablePlan } from '../../src/mapping/types';
import { type TestServer, dropDatabase } from '../support/pg';
import { Leftovers, openPair, catalogTable, settings, tablePlan } from './fixtures/fullload';

/** Start holding a snapshot; resolves once it is ready, with the way to release it. */
async function hold(
  conn: PgConnInfo,
  slotName?: string,
): Promise<{ snapshot: ExportedSnapshot; held: Promise<void>; release: () => Promise<void> }> {
  const ac = new AbortController();
  let ready!: (s: ExportedSnapshot) => void;
  const readyP = new Promise<ExportedSnapshot>((r) => (ready = r));
  const held = holdSnapshot(conn, { slotName, signal: ac.signal, onReady: ready, keepaliveMs: 100 });
  held.catch(() => undefined);
  const snapshot = await Promise.race([
    readyP,
    held.then(() => Promise.reject(new Error('holder ended early'))),
  ]);
  return {
    snapshot,
    held,
    release: async () => {
      ac.abort();
      await held;
    },
  };
}

describe('engine/fullload: the consistent snapshot', function () {
  this.timeout(120_000);
  let pg13: TestServer;
  let source: PgConnInfo;
  let target: PgConnInfo;
  let src: Client;
  let dst: Client;
  let catalog: SourceCatalog;
  let table: TablePlan;
  const slot = `ferry_test_snapshot_${process.pid}`;
  const left = new Leftovers();

  before(async () => {
    ({ pg13, source, target, src, dst } = await openPair('fullload_snapshot', left));
    left.slots.push({ server: pg13, database: source.database, name: slot });
    await src.query(`CREATE TABLE public.accounts (id int PRIMARY KEY, balance int NOT NULL);
      INSERT INTO public.accounts SELECT g, 100 FROM generate_series(1, 1000) g`);
    catalog = await readSourceCatalog(source);
    table = tablePlan(catalogTable(catalog, 'public', 'accounts'));
    await createPreData({
      migration: 'snap',
      source,
      target,
      plan: { tables: [table], skipped: [], settings: settings(), findings: [] },
      catalog,
    });
  });

  beforeEach(async () => {
    await src.query(`DELETE FROM public.accounts WHERE id > 1000; UPDATE public.accounts SET balance = 100`);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await src?.end();
    await dst?.end();
    await left.cleanup(dropDatabase);
  });

  async function copyUnder(migration: string, snapshotId: string | undefined) {
    await resetTableLoad(target, migration, table);
    const [segment] = await planSegments(
      source,
      snapshotId,
      table,
      catalogTable(catalog, 'public', 'accounts'),
    );
    return copySegment({ migration, source, target, snapshotId, table, segment });
  }

  const targetState = async () =>
    (await dst.query(`SELECT count(*)::int AS n, sum(balance)::int AS total FROM public.accounts`)).rows[0];

  it('copies the source as of the exported snapshot: later inserts and updates are not seen', async () => {
    const h = await hold(source);
    try {
      assert.match(h.snapshot.snapshotId, /^[0-9A-F]+-[0-9A-F]+-\d+$/);
      assert.equal(h.snapshot.slotName, undefined);
      await src.query(
        `INSERT INTO public.accounts SELECT g, 1 FROM generate_series(1001, 1100) g; UPDATE public.accounts SET balance = 0 WHERE id <= 10`,
      );
      const r = await copyUnder('snap', h.snapshot.snapshotId);
      assert.equal(r.rows, 1000);
      assert.deepEqual(await targetState(), { n: 1000, total: 100000 });
      // Without a snapshot, the same copy sees the latest data.
      await copyUnder('latest', undefined);
      assert.deepEqual(await targetState(), { n: 1100, total: 100000 - 1000 + 100 });
    } finally {
      await h.release();
    }
  });

  it('a copy whose snapshot holder is gone fails with SNAPSHOT_LOST (retryable), leaving nothing', async () => {
    const h = await hold(source);
    await h.release();
    await resetTableLoad(target, 'lost', table);
    const segment = { index: 0, total: 1, predicate: 'TRUE', description: 'whole table' };
    await assert.rejects(
      copySegment({ migration: 'lost', source, target, snapshotId: h.snapshot.snapshotId, table, segment }),
      (e: unknown) => {
        assert.ok(e instanceof FerryError, String(e));
        assert.equal(e.type, 'SNAPSHOT_LOST');
        assert.equal(e.retryable, true);
        return true;
      },
    );
    assert.deepEqual(await targetState(), { n: 0, total: null });
    const [row] = await segmentRows(target, 'lost', table);
    assert.notEqual(row.state, 'done');
    await assert.rejects(
      readSourceCatalog(source, { snapshotId: h.snapshot.snapshotId }),
      /SNAPSHOT_LOST|can no longer be imported/,
    );
  });

  it('a holder whose session dies rejects with SNAPSHOT_LOST', async () => {
    const h = await hold(source);
    await src.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ferry-snapshot'`,
    );
    await assert.rejects(h.held, (e: unknown) => e instanceof FerryError && e.type === 'SNAPSHOT_LOST');
  });

  it('creates a logical slot with EXPORT_SNAPSHOT, refuses an existing one, and drops it', async () => {
    const h = await hold(source, slot);
    try {
      assert.equal(h.snapshot.slotName, slot);
      assert.match(h.snapshot.consistentLsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
      const { rows } = await src.query(
        `SELECT plugin, slot_type, confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`,
        [slot],
      );
      assert.deepEqual(rows[0], { plugin: 'pgoutput', slot_type: 'logical', lsn: h.snapshot.consistentLsn });
      await src.query(`INSERT INTO public.accounts VALUES (5000, 1)`);
      const r = await copyUnder('slot', h.snapshot.snapshotId);
      assert.equal(r.rows, 1000);
      await assert.rejects(hold(source, slot), (e: unknown) => {
        assert.ok(e instanceof FerryError);
        assert.equal(e.type, 'REPLICATION_SLOT_EXISTS');
        assert.equal(e.retryable, false);
        assert.match(e.message, /already exists/);
        return true;
      });
    } finally {
      await h.release();
    }
    // The slot outlives its exporting session (CDC starts from it); dropping it is separate and idempotent.
    const { rowCount } = await src.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    assert.equal(rowCount, 1);
    assert.equal(await dropSlot(source, slot), true);
    assert.equal(await dropSlot(source, slot), false);
  });
});

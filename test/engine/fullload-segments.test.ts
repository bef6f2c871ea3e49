// Segments on real servers: complete and disjoint for pk ranges (with and without statistics), ctid
// ranges (PostgreSQL 14+; one segment on 13), DMS ranges (rows with NULL range columns left out, as DMS
// does); and a segment copied exactly once: run twice, aborted mid-stream, its source backend killed.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import type { PgConnInfo } from '../../src/engine/connection';
import {
  type Segment,
  copySegment,
  createPreData,
  planSegments,
  recordSegments,
  recordedSegments,
  resetTableLoad,
  segmentRows,
} from '../../src/engine/fullload';
import { FerryError } from '../../src/errors';
import type { MigrationPlan, SegmentPlan, SourceCatalog, TablePlan } from '../../src/mapping/types';
import { type TestServer, connect, dropDatabase, freshDatabase, testServer } from '../support/pg';
import { Leftovers, catalogTable, connInfo, settings, tablePlan } from './fixtures/fullload';

const SOURCE = `
CREATE TABLE public.big_pk (id bigint PRIMARY KEY, v text);
INSERT INTO public.big_pk SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
ANALYZE public.big_pk;
CREATE TABLE public.text_pk (k text PRIMARY KEY, n int);
INSERT INTO public.text_pk SELECT 'key ' || md5(g::text), g FROM generate_series(1, 20000) g;
CREATE TABLE public.ranged (a int, b text, v int);
INSERT INTO public.ranged SELECT g % 100, CASE WHEN g % 13 = 0 THEN NULL ELSE chr(97 + g % 5) END, g FROM generate_series(1, 5000) g;
INSERT INTO public.ranged VALUES (NULL, 'a', -1), (NULL, NULL, -2);
CREATE TABLE public.slow (id int PRIMARY KEY, pad text);
INSERT INTO public.slow SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g;
ANALYZE;
`;

describe('engine/fullload: segments and exactly-once copies', function () {
  this.timeout(300_000);
  let pg13: TestServer;
  let pg15: TestServer;
  let source: PgConnInfo;
  let target: PgConnInfo;
  let source15: PgConnInfo;
  let src: Client;
  let dst: Client;
  let catalog: SourceCatalog;
  const left = new Leftovers();

  before(async () => {
    [pg13, pg15] = await Promise.all([testServer(13), testServer(15)]);
    const [s, t, s15] = await Promise.all([
      freshDatabase(pg13, 'fullload_segments'),
      freshDatabase(pg15, 'fullload_segments'),
      freshDatabase(pg15, 'fullload_segments_src15'),
    ]);
    left.databases.push({ server: pg13, name: s }, { server: pg15, name: t }, { server: pg15, name: s15 });
    source = connInfo(pg13, s, 'onsite');
    target = connInfo(pg15, t, 'aurora');
    source15 = connInfo(pg15, s15, 'onsite15');
    src = await connect(pg13, s);
    dst = await connect(pg15, t);
    await src.query(SOURCE);
    catalog = await readSourceCatalog(source);
    const plan: MigrationPlan = {
      tables: catalog.tables.map((t) => tablePlan(t)),
      skipped: [],
      settings: settings(),
      findings: [],
    };
    await createPreData({ migration: 'seg', source, target, plan, catalog });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await src?.end();
    await dst?.end();
    await left.cleanup(dropDatabase);
  });

  const plan = (name: string, segments: SegmentPlan): TablePlan =>
    tablePlan(catalogTable(catalog, 'public', name), { segments });

  async function copyAll(
    migration: string,
    table: TablePlan,
    segments: Segment[],
    from = source,
  ): Promise<number> {
    const results = await Promise.all(
      segments.map((segment) => copySegment({ migration, source: from, target, table, segment })),
    );
    return results.reduce((n, r) => n + r.rows, 0);
  }

  async function targetCounts(table: string, key: string): Promise<{ n: number; distinct: number }> {
    const { rows } = await dst.query(
      `SELECT count(*) AS n, count(DISTINCT ${key}) AS d FROM public.${table}`,
    );
    return { n: Number(rows[0].n), distinct: Number(rows[0].d) };
  }

  it('pk ranges from the histogram cover every row once (200k rows, 4 segments)', async () => {
    const table = plan('big_pk', { method: 'pk-range', count: 4, columns: ['id'] });
    const segments = await planSegments(source, undefined, table, catalogTable(catalog, 'public', 'big_pk'));
    assert.equal(segments.length, 4);
    assert.match(segments[0].predicate, /^"id" < '\d+'::bigint$/);
    assert.match(segments[1].predicate, /^"id" >= '\d+'::bigint AND "id" < '\d+'::bigint$/);
    assert.match(segments[3].predicate, /^"id" >= '\d+'::bigint$/);
    const counts: number[] = [];
    for (const s of segments) {
      const { rows } = await src.query(`SELECT count(*) AS n FROM public.big_pk WHERE ${s.predicate}`);
      counts.push(Number(rows[0].n));
    }
    // Balanced to within a few percent: boundaries are the histogram's quartiles.
    assert.ok(
      counts.every((n) => n > 40000 && n < 60000),
      counts.join(', '),
    );
    assert.equal(await copyAll('seg', table, segments), 200000);
    assert.deepEqual(await targetCounts('big_pk', 'id'), { n: 200000, distinct: 200000 });
  });

  it('pk ranges from a TABLESAMPLE when there are no statistics, on a text key', async () => {
    await src.query(`SELECT pg_stat_reset()`);
    await src
      .query(`DELETE FROM pg_statistic WHERE starelid = 'public.text_pk'::regclass`)
      .catch(() => undefined);
    const table = plan('text_pk', { method: 'pk-range', count: 5, columns: ['k'] });
    const segments = await planSegments(source, undefined, table, catalogTable(catalog, 'public', 'text_pk'));
    assert.equal(segments.length, 5);
    assert.equal(await copyAll('seg', table, segments), 20000);
    assert.deepEqual(await targetCounts('text_pk', 'k'), { n: 20000, distinct: 20000 });
  });

  it('ctid ranges: one segment on PostgreSQL 13, page ranges on 15 that cover every row once', async () => {
    const t13 = plan('slow', { method: 'ctid-range', count: 4 });
    assert.equal(
      (await planSegments(source, undefined, t13, catalogTable(catalog, 'public', 'slow'))).length,
      1,
    );

    const c15 = await connect(pg15, source15.database);
    try {
      await c15.query(`CREATE TABLE public.big_pk (id bigint PRIMARY KEY, v text);
        INSERT INTO public.big_pk SELECT g, md5(g::text) FROM generate_series(200001, 300000) g; ANALYZE public.big_pk`);
    } finally {
      await c15.end();
    }
    const cat15 = await readSourceCatalog(source15);
    const table = tablePlan(catalogTable(cat15, 'public', 'big_pk'), {
      segments: { method: 'ctid-range', count: 4 },
    });
    const segments = await planSegments(source15, undefined, table, catalogTable(cat15, 'public', 'big_pk'));
    assert.equal(segments.length, 4);
    assert.match(segments[1].predicate, /^ctid >= '\(\d+,0\)'::tid AND ctid < '\(\d+,0\)'::tid$/);
    assert.equal(await copyAll('seg-ctid', table, segments, source15), 100000);
    assert.deepEqual(await targetCounts('big_pk', 'id'), { n: 300000, distinct: 300000 });
  });

  it('DMS ranges: lexicographic boundaries, rows with NULL range columns left out and counted', async () => {
    const table = plan('ranged', {
      method: 'ranges',
      count: 3,
      columns: ['a', 'b'],
      boundaries: [
        ['30', 'c'],
        ['70', 'b'],
      ],
    });
    const segments = await planSegments(source, undefined, table, catalogTable(catalog, 'public', 'ranged'));
    assert.equal(segments.length, 3);
    assert.match(
      segments[0].note ?? '',
      /^\d+ row\(s\) of public\.ranged have NULL in a range column \(a, b\)/,
    );
    const { rows } = await src.query(
      `SELECT count(*) FILTER (WHERE a IS NULL OR b IS NULL) AS nulls, count(*) AS n FROM public.ranged`,
    );
    assert.equal(segments[0].note?.split(' ')[0], rows[0].nulls);
    const copied = await copyAll('seg', table, segments);
    assert.equal(copied, Number(rows[0].n) - Number(rows[0].nulls));
    const { rows: t } = await dst.query(
      `SELECT count(*) AS n, count(DISTINCT v) AS d, count(*) FILTER (WHERE a IS NULL OR b IS NULL) AS nulls FROM public.ranged`,
    );
    assert.deepEqual(t[0], { n: String(copied), d: String(copied), nulls: '0' });
  });

  it('a segment already copied is skipped: copySegment twice', async () => {
    const table = plan('text_pk', { method: 'none', count: 1 });
    await resetTableLoad(target, 'twice', table);
    const [segment] = await planSegments(
      source,
      undefined,
      table,
      catalogTable(catalog, 'public', 'text_pk'),
    );
    const first = await copySegment({ migration: 'twice', source, target, table, segment });
    assert.equal(first.rows, 20000);
    assert.equal(first.skipped, undefined);
    const second = await copySegment({ migration: 'twice', source, target, table, segment });
    assert.deepEqual({ rows: second.rows, skipped: second.skipped }, { rows: 0, skipped: 'already-done' });
    assert.deepEqual(await targetCounts('text_pk', 'k'), { n: 20000, distinct: 20000 });
    const [row] = await segmentRows(target, 'twice', table);
    assert.deepEqual([row.state, row.rows, row.attempt], ['done', '20000', 1]);
  });

  it('recorded segments are reused, and other boundaries are refused once part of the table is done', async () => {
    const table = plan('big_pk', { method: 'pk-range', count: 4, columns: ['id'] });
    const segments = await recordedSegments(target, 'seg', table, undefined);
    assert.equal(segments?.length, 4);
    const other: Segment = { index: 0, total: 2, predicate: '"id" < 5', description: 'other' };
    await assert.rejects(
      recordSegments(target, {
        migration: 'seg',
        table,
        segments: [other, { ...other, index: 1, predicate: '"id" >= 5' }],
      }),
      (e: unknown) => e instanceof FerryError && e.type === 'LOAD_STATE_CONFLICT' && !e.retryable,
    );
    await assert.rejects(
      copySegment({ migration: 'seg', source, target, table, segment: other }),
      (e: unknown) => e instanceof FerryError && e.type === 'LOAD_STATE_CONFLICT',
    );
  });

  describe('a copy that dies mid-stream leaves nothing and is redone whole', () => {
    const slow = () => plan('slow', { method: 'none', count: 1 });

    beforeEach(async () => {
      await resetTableLoad(target, 'abort', slow());
    });

    async function interrupted(interrupt: () => Promise<void> | void): Promise<unknown> {
      const table = slow();
      const [segment] = await planSegments(source, undefined, table, catalogTable(catalog, 'public', 'slow'));
      let fired = false;
      try {
        await copySegment({
          migration: 'abort',
          source,
          target,
          table,
          segment,
          progressIntervalMs: 20,
          onProgress: (p) => {
            if (!fired && p.bytes > 1_000_000) {
              fired = true;
              void interrupt();
            }
          },
        });
      } catch (err) {
        assert.ok(fired, 'interrupted mid-stream');
        assert.equal(await targetCounts('slow', 'id').then((c) => c.n), 0);
        const [row] = await segmentRows(target, 'abort', table);
        assert.equal(row.state, 'running');
        assert.equal(row.attempt, 1);
        const redo = await copySegment({ migration: 'abort', source, target, table, segment });
        assert.equal(redo.rows, 400000);
        assert.deepEqual(await targetCounts('slow', 'id'), { n: 400000, distinct: 400000 });
        const [done] = await segmentRows(target, 'abort', table);
        assert.deepEqual([done.state, done.attempt], ['done', 2]);
        return err;
      }
      assert.fail('the copy was not interrupted');
    }

    it('by its AbortSignal', async () => {
      const ac = new AbortController();
      const table = slow();
      const [segment] = await planSegments(source, undefined, table, catalogTable(catalog, 'public', 'slow'));
      let fired = false;
      const err = await copySegment({
        migration: 'abort',
        source,
        target,
        table,
        segment,
        signal: ac.signal,
        progressIntervalMs: 20,
        onProgress: (p) => {
          if (!fired && p.bytes > 1_000_000) {
            fired = true;
            ac.abort(new Error('stopped by the test'));
          }
        },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(fired);
      assert.equal((err as Error)?.message, 'stopped by the test');
      assert.equal((await targetCounts('slow', 'id')).n, 0);
      const [row] = await segmentRows(target, 'abort', table);
      assert.notEqual(row.state, 'done');
      const redo = await copySegment({ migration: 'abort', source, target, table, segment });
      assert.equal(redo.rows, 400000);
      assert.deepEqual(await targetCounts('slow', 'id'), { n: 400000, distinct: 400000 });
    });

    it('by pg_terminate_backend of its source session', async () => {
      const err = await interrupted(async () => {
        await src.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ferry-copy' AND datname = current_database()`,
        );
      });
      assert.ok(err instanceof FerryError, String(err));
      assert.equal(err.retryable, true);
    });

    it('by pg_terminate_backend of its target session', async () => {
      const err = await interrupted(async () => {
        await dst.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ferry-copy' AND datname = current_database()`,
        );
      });
      assert.ok(err instanceof FerryError, String(err));
      assert.equal(err.retryable, true);
    });
  });
});

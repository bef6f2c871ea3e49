// The whole full load of the seeded sample database, PostgreSQL 13 → 15, through runFullLoadLocal with a
// replication slot: the same rows, indexes, constraints, foreign keys, triggers and sequence values.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import type { PgConnInfo } from '../../src/engine/connection';
import { type FullLoadReport, dropSlot, runFullLoadLocal, segmentRows } from '../../src/engine/fullload';
import { seedSampleDatabase } from '../../src/dev/seed';
import type { MigrationPlan, SourceCatalog } from '../../src/mapping/types';
import { type TestServer, dropDatabase } from '../support/pg';
import { Leftovers, openPair, assertSameRows, catalogTable, identityPlan } from './fixtures/fullload';

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname NOT LIKE 'pg\\_%'`;

/** Index definitions of tables (not materialized views), sorted. */
async function indexes(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ d: string }>(
    `SELECT pg_get_indexdef(i.indexrelid) AS d FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace WHERE t.relkind IN ('r', 'p') AND ${USER_SCHEMAS} ORDER BY 1`,
  );
  return rows.map((r) => r.d);
}

async function constraints(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ d: string }>(
    `SELECT coalesce(k.conrelid::regclass::text, k.contypid::regtype::text) || ' ' || k.conname || ' ' ||
            pg_get_constraintdef(k.oid) || CASE WHEN k.convalidated THEN '' ELSE ' (not valid)' END AS d
       FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE ${USER_SCHEMAS} ORDER BY 1`,
  );
  return rows.map((r) => r.d);
}

async function sequences(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ d: string }>(
    `SELECT schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'unused') || ' ' || increment_by AS d
       FROM pg_sequences WHERE schemaname <> 'ferry' ORDER BY 1`,
  );
  return rows.map((r) => r.d);
}

async function triggers(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ d: string }>(
    `SELECT pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text AS d FROM pg_trigger t
       JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
      WHERE NOT t.tgisinternal AND ${USER_SCHEMAS} ORDER BY 1`,
  );
  return rows.map((r) => r.d);
}

describe('engine/fullload: the sample database, PostgreSQL 13 → 15', function () {
  this.timeout(300_000);
  let pg13: TestServer;
  let source: PgConnInfo;
  let target: PgConnInfo;
  let src: Client;
  let dst: Client;
  let catalog: SourceCatalog;
  let plan: MigrationPlan;
  let report: FullLoadReport;
  const slot = `ferry_test_sample_${process.pid}`;
  const left = new Leftovers();

  before(async () => {
    ({ pg13, source, target, src, dst } = await openPair('fullload_sample', left));
    left.slots.push({ server: pg13, database: source.database, name: slot });
    await seedSampleDatabase(src, { scale: 1 });
    catalog = await readSourceCatalog(source);
    // The larger tables in pk ranges, the key-less log in ctid ranges (one segment on 13), payments by partition.
    plan = identityPlan(catalog, {
      segments: (t) =>
        t.kind === 'table' && t.primaryKey.length && t.estimatedRows > 2000
          ? { method: 'pk-range', count: 4, columns: t.primaryKey }
          : t.name === 'events_log'
            ? { method: 'ctid-range', count: 4 }
            : undefined,
    });
    const started = Date.now();
    report = await runFullLoadLocal({
      migration: 'sample',
      source,
      target,
      plan,
      catalog,
      concurrency: 2,
      slotName: slot,
      analyze: true,
    });
    console.log(
      `      scale-1 sample: ${report.tables.length} tables, ${report.rows} rows, ${(report.bytes / 1048576).toFixed(1)} MiB ` +
        `in ${((Date.now() - started) / 1000).toFixed(2)} s (snapshot ${report.timings.snapshot.toFixed(2)}, ` +
        `pre-data ${report.timings.preData.toFixed(2)}, copy ${report.timings.copy.toFixed(2)}, ` +
        `post-data ${report.timings.postData.toFixed(2)}, sequences ${report.timings.sequences.toFixed(2)})`,
    );
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await src?.end();
    await dst?.end();
    await left.cleanup(dropDatabase);
  });

  it('copies exactly the same rows into every table', async () => {
    await assertSameRows(src, dst, plan);
    assert.equal(report.tables.length, plan.tables.length);
    const sum = report.tables.reduce((n, t) => n + t.rows, 0);
    const { rows } = await src.query<{ n: string }>(
      `SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::int8)::text AS n
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND ${USER_SCHEMAS}`,
    );
    assert.equal(sum, Number(rows[0].n));
  });

  it('splits as planned: pk ranges, partitions, one ctid segment on PostgreSQL 13', async () => {
    const orders = await segmentRows(
      target,
      'sample',
      plan.tables.find((t) => t.source.name === 'orders')!,
    );
    assert.equal(orders.length, 4);
    assert.ok(orders.every((r) => r.state === 'done' && r.snapshot === report.snapshot.snapshotId));
    const payments = await segmentRows(
      target,
      'sample',
      plan.tables.find((t) => t.source.name === 'payments')!,
    );
    assert.deepEqual(
      payments.map((r) => r.relation),
      [
        '"sales"."payments_2022"',
        '"sales"."payments_2023"',
        '"sales"."payments_2024"',
        '"sales"."payments_default"',
      ],
    );
    const log = await segmentRows(
      target,
      'sample',
      plan.tables.find((t) => t.source.name === 'events_log')!,
    );
    assert.equal(log.length, 1);
    const { rows } = await dst.query(`SELECT relkind FROM pg_class WHERE oid = 'sales.payments'::regclass`);
    assert.equal(rows[0].relkind, 'p');
  });

  it('creates the same indexes, constraints, foreign keys and triggers', async () => {
    assert.deepEqual(await indexes(dst), await indexes(src));
    assert.deepEqual(await constraints(dst), await constraints(src));
    assert.deepEqual(await triggers(dst), await triggers(src));
    assert.ok(report.postData.indexes >= 13, `${report.postData.indexes} secondary indexes`);
    assert.equal(report.postData.foreignKeys, 21);
    assert.equal(report.postData.functions, 2);
    assert.equal(report.postData.triggers, 2);
    assert.equal(report.postData.analyzed, plan.tables.length);
    const errors = report.findings.filter((f) => f.severity === 'error');
    assert.deepEqual(errors, []);
    assert.ok(report.findings.some((f) => f.field === 'views' && /4 view/.test(f.message)));
  });

  it('sets every sequence to its source value and keeps identity columns', async () => {
    assert.deepEqual(await sequences(dst), await sequences(src));
    const { rows } = await dst.query<{ a: string }>(
      `SELECT attidentity AS a FROM pg_attribute WHERE attrelid = 'public.documents'::regclass AND attname = 'id'`,
    );
    assert.equal(rows[0].a, 'a');
    // New rows get new keys: the sequences are past the copied ones.
    await dst.query(
      `INSERT INTO sales.orders (customer_id, ordered_at) SELECT min(id), now() FROM sales.customers`,
    );
    await dst.query(`INSERT INTO public.documents (title) VALUES ('after the load')`);
    await dst.query(`DELETE FROM sales.orders WHERE ordered_at > now() - interval '1 hour'`);
    await dst.query(`DELETE FROM public.documents WHERE title = 'after the load'`);
    assert.ok(report.sequences.sequences >= 10);
  });

  it('keeps the slot created with the snapshot for CDC, at the snapshot LSN', async () => {
    assert.equal(report.snapshot.slotName, slot);
    assert.match(report.snapshot.consistentLsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
    const { rows } = await src.query(
      `SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    assert.equal(rows[0].lsn, report.snapshot.consistentLsn);
  });

  it('a rerun under the same migration skips every loaded segment and changes nothing', async () => {
    const rerun = await runFullLoadLocal({
      migration: 'sample',
      source,
      target,
      plan,
      catalog,
      concurrency: 2,
    });
    assert.ok(rerun.preData.tables.every((t) => t.action === 'resumed'));
    // The rerun's snapshot differs, so the recorded segments are planned again but all are done under the old one...
    assert.equal(rerun.rows, 0);
    assert.equal(rerun.postData.indexes + rerun.postData.constraints, 0);
    assert.ok(rerun.postData.existing > 0);
    await assertSameRows(src, dst, plan);
    assert.deepEqual(await indexes(dst), await indexes(src));
  });

  it('dropSlot drops the slot the load kept, and again is a no-op', async () => {
    assert.equal(catalogTable(catalog, 'sales', 'payments').kind, 'partitioned');
    assert.equal(await dropSlot(source, slot), true);
    assert.equal(await dropSlot(source, slot), false);
    const { rowCount } = await src.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    assert.equal(rowCount, 0);
  });
});

// Data validation after a full load of the sample database, PostgreSQL 13 → 15: a clean load validates,
// a corrupted target is found key by key (missing, extra, different; LOBs hashed) and recorded in the
// control tables, repairs resolve on a re-check, limits suspend, GROUP_LEVEL reports chunks, a key-less
// table gets row counts only, and a mapping with renames, removed and added columns, a filter, a cast
// and limited-LOB truncation validates without false positives.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import type { PgConnInfo } from '../../src/engine/connection';
import { runFullLoadLocal } from '../../src/engine/fullload';
import {
  LOB_SHOW_CHARS,
  type TableValidation,
  type ValidationOptions,
  type ValidationResult,
  validateMigration,
  validationConfig,
  validationReport,
} from '../../src/engine/validate';
import { seedSampleDatabase } from '../../src/dev/seed';
import { compilePlan, defaultEngineSettings, parseTableMapping } from '../../src/mapping';
import type { MigrationPlan, SourceCatalog } from '../../src/mapping/types';
import { SAMPLE_MAPPING } from '../support/mappings';
import { type TestServer, connect, dropDatabase, freshDatabase } from '../support/pg';
import { Leftovers, connInfo, identityPlan, openPair } from './fixtures/fullload';

const ENABLED = { EnableValidation: true, PartitionSize: 400, ThreadCount: 4 };

const byKey = (r: ValidationResult) => new Map(r.tables.map((t) => [t.key, t]));
const states = (tables: TableValidation[]) =>
  Object.fromEntries(tables.filter((t) => t.state !== 'Validated').map((t) => [t.key, t.state]));

describe('engine/validate: after a full load of the sample database', function () {
  this.timeout(300_000);
  const left = new Leftovers();
  let pg15: TestServer;
  let source: PgConnInfo;
  let target: PgConnInfo;
  let src: Client;
  let dst: Client;
  let catalog: SourceCatalog;
  let plan: MigrationPlan;
  const migration = 'validate-sample';

  const validate = (over: Partial<ValidationOptions> = {}) =>
    validateMigration({
      migration,
      plan,
      source,
      target,
      settings: ENABLED,
      cdc: false,
      ...over,
    });

  /** Change the target behind the migration's back (no triggers, no foreign keys). */
  const onTarget = async (...sql: string[]) => {
    await dst.query('BEGIN; SET LOCAL session_replication_role = replica');
    for (const s of sql) await dst.query(s);
    await dst.query('COMMIT');
  };

  before(async () => {
    let pg13: TestServer;
    ({ pg13, pg15, source, target, src, dst } = await openPair('validate', left));
    void pg13;
    await seedSampleDatabase(src, { scale: 1 });
    catalog = await readSourceCatalog(source);
    plan = identityPlan(catalog, {
      segments: (t) =>
        t.kind === 'table' && t.primaryKey.length && t.estimatedRows > 2000
          ? { method: 'pk-range', count: 4, columns: t.primaryKey }
          : undefined,
    });
    await runFullLoadLocal({ migration, source, target, plan, catalog, concurrency: 4 });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await src?.end();
    await dst?.end();
    await left.cleanup(dropDatabase);
  });

  it('finds every table of a clean load Validated, and counts the key-less one', async () => {
    const progress: TableValidation[] = [];
    const started = Date.now();
    const r = await validate({ onProgress: (t) => progress.push(t) });
    console.log(
      `      ${r.tables.length} tables, ${r.tables.reduce((n, t) => n + t.rowsCompared, 0)} rows, ` +
        `${r.tables.reduce((n, t) => n + t.chunks, 0)} chunks in ${((Date.now() - started) / 1000).toFixed(2)} s`,
    );
    assert.equal(r.enabled, true);
    assert.equal(r.cdc, false);
    assert.deepEqual(states(r.tables), { 'audit.events_log': 'No primary key' });
    assert.equal(r.mismatches, 0);
    assert.deepEqual(r.failures, []);
    const t = byKey(r);
    const log = t.get('audit.events_log')!;
    assert.ok(log.sourceRows > 0 && log.sourceRows === log.targetRows);
    assert.match(log.note ?? '', /no primary key or unique index.*row counts only.*row counts equal/);
    const orders = t.get('sales.orders')!;
    assert.ok(orders.chunks > 2, `orders in ${orders.chunks} chunks`);
    assert.equal(orders.sourceRows, orders.targetRows);
    assert.equal(orders.rowsCompared, orders.sourceRows);
    assert.equal(orders.chunksMismatched, 0);
    assert.ok(orders.lastValidatedAt);
    // The partitioned table is read through its parent on both sides.
    assert.equal(t.get('sales.payments')!.state, 'Validated');
    assert.ok(t.get('sales.payments')!.sourceRows > 0);
    assert.ok(progress.some((p) => p.state === 'Pending validation'));
    // Read back as `ferry validate` would.
    const rep = await validationReport(target, migration);
    assert.equal(rep.tables.length, plan.tables.length);
    assert.equal(rep.totals.validated, plan.tables.length - 1);
    assert.deepEqual(rep.totals.byState, { Validated: plan.tables.length - 1, 'No primary key': 1 });
  });

  it('finds a changed value, a deleted row, an extra row and a changed LOB, by key, with both sides', async () => {
    const { rows: o } = await src.query(
      `SELECT id::text, total::text FROM sales.orders ORDER BY id LIMIT 1 OFFSET 700`,
    );
    const { rows: e } = await src.query(`SELECT id::text FROM hr.employees ORDER BY id LIMIT 1 OFFSET 5`);
    const { rows: d } = await src.query(
      `SELECT id::text, length(body) AS n FROM public.documents ORDER BY length(body) DESC NULLS LAST LIMIT 1`,
    );
    const { rows: ts } = await src.query(
      `SELECT employee_id::text, work_date::text, hours::text FROM hr.timesheets ORDER BY 1, 2 LIMIT 1 OFFSET 40`,
    );
    assert.ok(d[0].n > LOB_SHOW_CHARS, 'a document body long enough to be hashed');
    await onTarget(
      `CREATE TABLE public.kept_employee AS SELECT * FROM hr.employees WHERE id = ${e[0].id}`,
      `UPDATE sales.orders SET total = total + 1 WHERE id = ${o[0].id}`,
      `DELETE FROM hr.employees WHERE id = ${e[0].id}`,
      `INSERT INTO inventory.categories (id, name) VALUES (999999, 'not on the source')`,
      `UPDATE public.documents SET body = body || ' tampered' WHERE id = ${d[0].id}`,
      `UPDATE hr.timesheets SET hours = 23.5 WHERE employee_id = ${ts[0].employee_id} AND work_date = '${ts[0].work_date}'`,
    );
    const r = await validate();
    assert.deepEqual(states(r.tables), {
      'audit.events_log': 'No primary key',
      'hr.employees': 'Mismatched records',
      'hr.timesheets': 'Mismatched records',
      'inventory.categories': 'Mismatched records',
      'public.documents': 'Mismatched records',
      'sales.orders': 'Mismatched records',
    });
    assert.equal(r.mismatches, 5);
    const t = byKey(r);
    assert.equal(t.get('sales.orders')!.chunksMismatched, 1);
    assert.equal(t.get('hr.employees')!.targetRows, t.get('hr.employees')!.sourceRows - 1);
    assert.equal(t.get('inventory.categories')!.targetRows, t.get('inventory.categories')!.sourceRows + 1);

    const f = new Map(r.failures.map((x) => [x.table, x]));
    assert.equal(r.failures.length, 5);
    assert.ok(r.failures.every((x) => x.status === 'mismatched' && x.rechecks === 0));
    const order = f.get('sales.orders')!;
    assert.deepEqual(order.key, { id: o[0].id });
    assert.equal(order.kind, 'different');
    assert.deepEqual(order.columns, ['total']);
    assert.equal(order.source!.total, o[0].total);
    assert.equal(Number(order.target!.total), Number(o[0].total) + 1);
    assert.equal(order.source!.id, o[0].id);

    const emp = f.get('hr.employees')!;
    assert.deepEqual([emp.key, emp.kind, emp.target], [{ id: e[0].id }, 'missing-on-target', undefined]);
    assert.ok(emp.source!.first_name);

    const cat = f.get('inventory.categories')!;
    assert.deepEqual([cat.key, cat.kind, cat.source], [{ id: '999999' }, 'extra-on-target', undefined]);
    assert.equal(cat.target!.name, 'not on the source');

    const doc = f.get('public.documents')!;
    assert.deepEqual([doc.key, doc.kind, doc.columns], [{ id: d[0].id }, 'different', ['body']]);
    // LOB values are never stored, only their hash and length.
    assert.match(doc.source!.body!, /^md5:[0-9a-f]{32} \(length \d+\)$/);
    assert.match(doc.target!.body!, /^md5:[0-9a-f]{32} \(length \d+\)$/);
    assert.notEqual(doc.source!.body, doc.target!.body);
    assert.ok(doc.source!.title, 'short values are kept');

    const sheet = f.get('hr.timesheets')!;
    assert.deepEqual(sheet.key, { employee_id: ts[0].employee_id, work_date: ts[0].work_date });
    assert.deepEqual(sheet.columns, ['hours']);
    assert.deepEqual([sheet.source!.hours, sheet.target!.hours], [ts[0].hours, '23.50']);

    // The control table on the target holds the same, both sides' values as jsonb.
    const { rows } = await dst.query(
      `SELECT table_name, key, kind, status, source_values->>'total' AS s, target_values->>'total' AS t
         FROM ferry.validation_failures WHERE migration = $1 AND table_name = 'sales.orders' AND resolved_at IS NULL`,
      [migration],
    );
    assert.deepEqual(rows, [
      {
        table_name: 'sales.orders',
        key: { id: o[0].id },
        kind: 'different',
        status: 'mismatched',
        s: o[0].total,
        t: order.target!.total,
      },
    ]);
    const rep = await validationReport(target, migration, { tables: ['hr.employees'] });
    assert.deepEqual(
      rep.failures.map((x) => [x.table, x.key, x.kind]),
      [['hr.employees', { id: e[0].id }, 'missing-on-target']],
    );
    assert.equal(rep.tables[0].state, 'Mismatched records');

    // Repaired: a re-check of only the failures resolves them; the tables are Validated again.
    await onTarget(
      `UPDATE sales.orders SET total = total - 1 WHERE id = ${o[0].id}`,
      `INSERT INTO hr.employees SELECT * FROM public.kept_employee`,
      `DROP TABLE public.kept_employee`,
      `DELETE FROM inventory.categories WHERE id = 999999`,
      `UPDATE public.documents SET body = left(body, length(body) - length(' tampered')) WHERE id = ${d[0].id}`,
      `UPDATE hr.timesheets SET hours = ${ts[0].hours} WHERE employee_id = ${ts[0].employee_id} AND work_date = '${ts[0].work_date}'`,
    );
    const again = await validate({ mode: 'pending' });
    assert.deepEqual(states(again.tables), { 'audit.events_log': 'No primary key' });
    assert.equal(again.mismatches, 0);
    const { rows: open } = await dst.query(
      `SELECT count(*) FILTER (WHERE resolved_at IS NULL)::int AS open, count(*)::int AS all FROM ferry.validation_failures WHERE migration = $1`,
      [migration],
    );
    assert.deepEqual(open, [{ open: 0, all: 5 }]);
    const history = await validationReport(target, migration, { includeResolved: true });
    assert.equal(history.failures.filter((x) => x.resolvedAt).length, 5);
  });

  it('suspends a table above TableFailureMaxCount, and reports chunks in GROUP_LEVEL mode', async () => {
    await onTarget(`UPDATE inventory.suppliers SET rating = 6 - rating WHERE id <= 6 AND rating <> 3`);
    const tables = ['inventory.suppliers', 'inventory.products'];
    const limited = await validate({ tables, settings: { ...ENABLED, TableFailureMaxCount: 2 } });
    const s = byKey(limited).get('inventory.suppliers')!;
    assert.equal(s.state, 'Validation suspended');
    assert.match(s.note ?? '', /TableFailureMaxCount \(2\)/);
    assert.ok(s.mismatched > 2);
    assert.equal(byKey(limited).get('inventory.products')!.state, 'Validated');
    // A re-check only run leaves a suspended table alone; a full run starts over.
    const pending = await validate({
      tables,
      mode: 'pending',
      settings: { ...ENABLED, TableFailureMaxCount: 2 },
    });
    assert.equal(byKey(pending).get('inventory.suppliers')!.state, 'Validation suspended');

    const group = await validate({ tables, settings: { ...ENABLED, ValidationMode: 'GROUP_LEVEL' } });
    const g = byKey(group).get('inventory.suppliers')!;
    assert.equal(g.state, 'Mismatched records');
    assert.equal(g.mismatched, 1, 'one chunk');
    assert.equal(group.chunkFailures.length, 1);
    assert.equal(group.chunkFailures[0].status, 'mismatched');
    assert.equal(group.failures.length, 0, 'the earlier keys were resolved by the full pass');

    await onTarget(`UPDATE inventory.suppliers SET rating = 6 - rating WHERE id <= 6 AND rating <> 3`);
    const clean = await validate({
      tables,
      mode: 'pending',
      settings: { ...ENABLED, ValidationMode: 'GROUP_LEVEL' },
    });
    assert.deepEqual(states(clean.tables), {});
    assert.deepEqual(clean.chunkFailures, []);
  });

  it('reports Not enabled when EnableValidation is off, unless forced', async () => {
    const off = await validate({ settings: {}, tables: ['hr.departments'] });
    assert.equal(off.enabled, false);
    assert.deepEqual(
      off.tables.map((t) => t.state),
      ['Not enabled'],
    );
    const forced = await validate({ settings: {}, force: true, tables: ['hr.departments'] });
    assert.deepEqual(
      forced.tables.map((t) => t.state),
      ['Validated'],
    );
    await assert.rejects(validate({ tables: ['no.such_table'] }), /no planned table is named no\.such_table/);
  });

  it('leaves LOBs out with SkipLobColumns, and compares only their start with ValidationPartialLobSize', async () => {
    const { rows: d } = await src.query(
      `SELECT id::text FROM public.documents WHERE length(body) > 3000 ORDER BY id LIMIT 1`,
    );
    await onTarget(`UPDATE public.documents SET body = body || ' tail' WHERE id = ${d[0].id}`);
    const tables = ['public.documents'];
    const whole = await validate({ tables });
    assert.equal(whole.tables[0].state, 'Mismatched records');
    const skipped = await validate({ tables, settings: { ...ENABLED, SkipLobColumns: true } });
    assert.equal(skipped.tables[0].state, 'Validated');
    assert.match(skipped.tables[0].note ?? '', /not compared: .*body \(LOB column \(SkipLobColumns\)\)/);
    const partial = await validate({ tables, settings: { ...ENABLED, ValidationPartialLobSize: 1 } });
    assert.equal(partial.tables[0].state, 'Validated');
    await onTarget(`UPDATE public.documents SET body = 'X' || body WHERE id = ${d[0].id}`);
    const head = await validate({ tables, settings: { ...ENABLED, ValidationPartialLobSize: 1 } });
    assert.deepEqual(head.failures[0].columns, ['body']);
    await onTarget(
      `UPDATE public.documents SET body = substr(body, 2, length(body) - 6) WHERE id = ${d[0].id}`,
    );
    const fixed = await validate({ tables, mode: 'pending' });
    assert.equal(fixed.tables[0].state, 'Validated');
    assert.deepEqual(validationConfig({}), {
      enabled: false,
      mode: 'ROW_LEVEL',
      threadCount: 5,
      partitionSize: 10000,
      failureMaxCount: 10000,
      tableFailureMaxCount: 1000,
      recordFailureDelayLimitMinutes: 0,
      skipLobColumns: false,
      partialLobSizeKb: 0,
      cdcDelaySeconds: 0,
    });
    assert.equal(validationConfig(defaultEngineSettings().validation).enabled, false);
    assert.equal(validationConfig({ ValidationOnly: true }).enabled, true);
  });

  it('keys a table without a primary key by a unique index (text, byte order), and finds a duplicated key', async () => {
    await src.query(`
      CREATE TABLE public.codes (code text NOT NULL, label text, CONSTRAINT codes_code_key UNIQUE (code));
      INSERT INTO public.codes
        SELECT (ARRAY['a', 'B', 'ä', 'Z', '_', 'é', ' '])[1 + g % 7] || g, 'label ' || g FROM generate_series(1, 1500) g;`);
    const cat = await readSourceCatalog(source);
    const only = identityPlan(cat);
    const codesPlan = { ...only, tables: only.tables.filter((t) => t.source.name === 'codes') };
    assert.deepEqual(codesPlan.tables[0].primaryKey, []);
    const name = 'validate-codes';
    await runFullLoadLocal({
      migration: name,
      source,
      target,
      plan: codesPlan,
      catalog: cat,
      concurrency: 2,
    });
    const ok = await validate({ migration: name, plan: codesPlan });
    assert.equal(ok.tables[0].state, 'Validated');
    assert.ok(ok.tables[0].chunks >= 4);
    assert.match(ok.tables[0].note ?? '', /matched by unique index .*codes_code_key \(code\)/);

    // Keyed by the plan (define-primary-key), on a target that lost its unique constraint and holds a row twice.
    const keyed = { ...codesPlan, tables: [{ ...codesPlan.tables[0], primaryKey: ['code'] }] };
    await onTarget(
      `ALTER TABLE public.codes DROP CONSTRAINT codes_code_key`,
      `INSERT INTO public.codes SELECT * FROM public.codes WHERE code = 'B1'`,
    );
    const dup = await validate({ migration: name, plan: keyed });
    assert.equal(dup.tables[0].state, 'Mismatched records');
    assert.deepEqual(
      dup.failures.map((f) => [f.key, f.kind]),
      [[{ code: 'B1' }, 'extra-on-target']],
    );
  });

  it('validates a mapping (renames, removed and added columns, a filter, a cast, cut LOBs) without false positives', async () => {
    const mapping = {
      rules: [
        ...SAMPLE_MAPPING.rules,
        {
          'rule-type': 'transformation',
          'rule-id': '30',
          'rule-name': 'weight-as-real',
          'rule-target': 'column',
          'object-locator': {
            'schema-name': 'inventory',
            'table-name': 'products',
            'column-name': 'weight_kg',
          },
          'rule-action': 'change-data-type',
          'data-type': { type: 'real4' },
        },
        {
          'rule-type': 'transformation',
          'rule-id': '31',
          'rule-name': 'sku-renamed',
          'rule-target': 'column',
          'object-locator': { 'schema-name': 'inventory', 'table-name': 'products', 'column-name': 'sku' },
          'rule-action': 'rename',
          value: 'article_number',
        },
      ],
    };
    // Limited LOB mode at 4 KB: long document bodies arrive cut, as the full load writes them.
    const settings = { ...defaultEngineSettings(), lobMaxSizeKb: 4 };
    const mapped = compilePlan(parseTableMapping(mapping, 'mappings.json'), catalog, settings);
    const docs = mapped.tables.find((t) => t.source.name === 'documents')!;
    assert.equal(docs.lob.mode, 'limited');
    const db = await freshDatabase(pg15, 'validate_mapped');
    left.databases.push({ server: pg15, name: db });
    const mappedTarget = connInfo(pg15, db, 'aurora');
    const name = 'validate-mapped';
    await runFullLoadLocal({
      migration: name,
      source,
      target: mappedTarget,
      plan: mapped,
      catalog,
      concurrency: 4,
    });
    const r = await validateMigration({
      migration: name,
      plan: mapped,
      source,
      target: mappedTarget,
      settings: ENABLED,
    });
    assert.deepEqual(states(r.tables), {});
    const t = byKey(r);
    const clients = t.get('sales.customers')!;
    assert.equal(clients.target, 'sales.clients');
    const sheets = t.get('hr.timesheets')!;
    const { rows } = await src.query(
      `SELECT count(*)::int AS n FROM hr.timesheets WHERE work_date >= '2023-01-20'`,
    );
    assert.equal(sheets.sourceRows, rows[0].n, 'the filter applies to the source side');
    assert.ok(t.get('"Legacy"."CustomerNotes"'), 'the lower-cased legacy table');
    const c = await connect(pg15, db);
    try {
      const { rows: cut } = await c.query(`SELECT max(length(body))::int AS n FROM public.documents`);
      assert.equal(cut[0].n, 2048, 'bodies were cut by limited LOB mode');
      // A computed column is compared too.
      await c.query(`UPDATE sales.clients SET label = 'X' WHERE id = (SELECT min(id) FROM sales.clients)`);
    } finally {
      await c.end();
    }
    const bad = await validateMigration({
      migration: name,
      plan: mapped,
      source,
      target: mappedTarget,
      settings: ENABLED,
      tables: ['sales.clients'],
    });
    assert.deepEqual(states(bad.tables), { 'sales.customers': 'Mismatched records' });
    assert.deepEqual(bad.failures[0].columns, ['label']);
    assert.equal(bad.failures[0].target!.label, 'X');
  });
});

// The full-load workflow end to end with real activities: the sample database (PostgreSQL 13) into
// PostgreSQL 15 under a realistic DMS mapping, bad inputs refused before any data moves.
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { WORKER_TUNING } from '../../src/worker';
import { createActivities } from '../../src/activities';
import { FerryClient, fullLoadWorkflowId } from '../../src/client';
import type { FullLoadStatus } from '../../src/workflows/definitions';
import { connect } from '../support/pg';
import { fingerprint, userTables } from '../support/compare';
import { temporalEnv, workflowBundle } from '../support/temporal';
import { testMigration, TestMigration } from '../support/stack';
import { SAMPLE_MAPPING } from '../support/mappings';

describe('full-load workflow (real activities, PostgreSQL 13 -> 15)', function () {
  this.timeout(300_000);
  const cleanups: TestMigration[] = [];
  after(async () => {
    for (const m of cleanups) await m.cleanup();
  });

  async function run(m: TestMigration) {
    const env = await temporalEnv();
    const taskQueue = `full-load-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 1000 }),
      maxConcurrentActivityTaskExecutions: 16,
    });
    const client = FerryClient.fromClient(env.client, taskQueue);
    return worker.runUntil(async () => {
      await client.startFullLoad({ migration: m.name, tablesPerChild: 5 });
      return (await client.handle(fullLoadWorkflowId(m.name)).result()) as FullLoadStatus;
    });
  }

  it('loads exactly the mapped rows, with indexes, constraints and sequences', async () => {
    const m = await testMigration({
      label: 'fl-map',
      tableMappings: SAMPLE_MAPPING,
      taskSettings: {
        FullLoadSettings: { MaxFullLoadSubTasks: 4 },
        TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false },
      },
    });
    cleanups.push(m);
    const status = await run(m);
    assert.equal(status.phase, 'completed');
    assert.equal(status.totals.completed, status.totals.tables);
    assert.ok(status.totals.tables >= 15, `${status.totals.tables} tables`);
    assert.ok(status.postData!.indexes > 0 && status.postData!.sequences > 0);
    // Several child workflows: 5 tables each.
    assert.ok(status.tables.every((t) => t.state === 'Table completed'));
    assert.ok(
      status.tables.every((t) => !t.truncatedLobs),
      'full LOB mode truncates nothing',
    );

    const src = await connect(m.source, m.sourceDb);
    const tgt = await connect(m.target, m.targetDb);
    try {
      // Excluded schema absent; renamed and lower-cased names present.
      const targetTables = await userTables(tgt);
      assert.ok(!targetTables.some((t) => t.startsWith('audit.')), targetTables.join(', '));
      assert.ok(targetTables.includes('sales.clients'));
      assert.ok(!targetTables.includes('sales.customers'));
      assert.ok(targetTables.includes('legacy.customernotes'));
      assert.ok(targetTables.includes('sales."Order Items"'));

      const same = async (srcSql: string, tgtSql: string) => {
        const [a, b] = [await fingerprint(src, srcSql), await fingerprint(tgt, tgtSql)];
        assert.deepEqual(b, a, `${tgtSql} differs from ${srcSql}`);
        return a;
      };
      // Filtered rows only.
      const ts = await same(
        `SELECT * FROM hr.timesheets WHERE work_date >= '2023-01-20'`,
        'SELECT * FROM hr.timesheets',
      );
      const all = await fingerprint(src, 'SELECT * FROM hr.timesheets');
      assert.ok(ts.rows > 0 && ts.rows < all.rows, `filter kept ${ts.rows} of ${all.rows}`);
      // Renamed table, dropped column, computed column.
      await same(
        `SELECT id, external_id, email, full_name, "user", country_code, birth_date, preferences, tags, loyalty_points,
                is_active, created_at, updated_at, upper(full_name) || ' <' || country_code || '>' AS label
           FROM sales.customers`,
        `SELECT id, external_id, email, full_name, "user", country_code, birth_date, preferences, tags, loyalty_points,
                is_active, created_at, updated_at, label FROM sales.clients`,
      );
      const cols = await tgt.query(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = 'sales' AND table_name = 'clients'`,
      );
      assert.ok(!cols.rows.some((r) => r.column_name === 'notes'));
      // Lower-cased schema, table and columns.
      await same(
        'SELECT "NoteId", "CustomerId", "NoteText", "CreatedAt", "IsPinned" FROM "Legacy"."CustomerNotes"',
        'SELECT noteid, customerid, notetext, createdat, ispinned FROM legacy.customernotes',
      );
      // Every other table unchanged, odd names included.
      for (const t of [
        'sales.orders',
        'sales."Order Items"',
        'sales.payments',
        'inventory.products',
        'inventory.product_images',
        'public.documents',
        'hr.employees',
        'sales.invoices',
      ]) {
        await same(`SELECT * FROM ${t}`, `SELECT * FROM ${t}`);
      }
      // Indexes and constraints per table as on the source (renamed table included).
      const shape = async (c: typeof src, rel: string) =>
        (
          await c.query<{ i: string; k: string }>(
            `SELECT (SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass)::text AS i,
                    (SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p','u','f','c'))::text AS k`,
            [rel],
          )
        ).rows[0];
      assert.deepEqual(await shape(tgt, 'sales.orders'), await shape(src, 'sales.orders'));
      assert.deepEqual(await shape(tgt, 'sales.clients'), await shape(src, 'sales.customers'));
      assert.deepEqual(await shape(tgt, 'inventory.products'), await shape(src, 'inventory.products'));
      // Sequences continue where the source is.
      const seq = async (c: typeof src) =>
        (await c.query(`SELECT last_value::text AS v FROM sales.order_number_seq`)).rows[0].v;
      assert.equal(await seq(tgt), await seq(src));
      const next = await tgt.query(`INSERT INTO public.documents (title) VALUES ('after load') RETURNING id`);
      const maxSrc = await src.query('SELECT max(id) AS m FROM public.documents');
      assert.ok(
        Number(next.rows[0].id) > Number(maxSrc.rows[0].m),
        'identity continues after the source values',
      );
    } finally {
      await src.end();
      await tgt.end();
    }
  });

  for (const [label, mapping, expected] of [
    [
      'a mapping that selects nothing',
      {
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': 'nothing',
            'object-locator': { 'schema-name': 'nosuchschema', 'table-name': '%' },
            'rule-action': 'include',
          },
        ],
      },
      /matches no table/,
    ],
    [
      'a filter on a missing column',
      {
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': 'orders',
            'object-locator': { 'schema-name': 'sales', 'table-name': 'orders' },
            'rule-action': 'include',
            filters: [
              {
                'filter-type': 'source',
                'column-name': 'no_such_column',
                'filter-conditions': [{ 'filter-operator': 'eq', value: '1' }],
              },
            ],
          },
        ],
      },
      /no_such_column/,
    ],
    [
      'a transformation to an invalid type',
      {
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': 'orders',
            'object-locator': { 'schema-name': 'sales', 'table-name': 'orders' },
            'rule-action': 'include',
          },
          {
            'rule-type': 'transformation',
            'rule-id': '2',
            'rule-name': 'bad-type',
            'rule-target': 'column',
            'object-locator': { 'schema-name': 'sales', 'table-name': 'orders', 'column-name': 'total' },
            'rule-action': 'change-data-type',
            'data-type': { type: 'decimal128' },
          },
        ],
      },
      /decimal128/,
    ],
  ] as const) {
    it(`refuses ${label} before any data moves`, async () => {
      const m = await testMigration({ label: 'fl-bad', tableMappings: mapping });
      cleanups.push(m);
      await assert.rejects(run(m), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure, String(e));
        assert.equal(e.cause.type, 'CONFIG_INVALID');
        assert.match(e.cause.message, expected);
        assert.match(e.cause.message, /mappings\.json/);
        return true;
      });
      const tgt = await connect(m.target, m.targetDb);
      try {
        assert.deepEqual(await userTables(tgt), [], 'nothing created on the target');
      } finally {
        await tgt.end();
      }
    });
  }

  it('refuses a target user without privileges before any data moves', async () => {
    const m = await testMigration({ label: 'fl-priv' });
    cleanups.push(m);
    // A login role that may connect but not create anything in the target database.
    const admin = await connect(m.target, m.targetDb);
    const role = `ferry_weak_${m.name.replace(/-/g, '_')}`;
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'weak-pw-123'`);
    await admin.query(
      `REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE CREATE ON DATABASE "${m.targetDb}" FROM PUBLIC`,
    );
    await admin.end();
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const cfg = (await fs.readFile(m.configPath, 'utf8')).replace(
      /user: postgres\n(\s+)password: file:target.pw/,
      `user: ${role}\n$1password: file:weak.pw`,
    );
    await fs.writeFile(path.join(m.dir, 'weak.pw'), 'weak-pw-123\n', { mode: 0o600 });
    await fs.writeFile(m.configPath, cfg);
    await assert.rejects(run(m), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure, String(e));
      assert.equal(e.cause.type, 'PRIVILEGE_MISSING');
      assert.match(e.cause.message, /aurora/);
      return true;
    });
  });
});

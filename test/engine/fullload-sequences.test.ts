// Standalone sequences in the full load, PostgreSQL 13 → 15: sequences no migrated column uses (the
// application calls nextval on them itself) are created in the schema's target schema and synced, while
// those of excluded schemas and those owned by excluded tables stay behind; a rerun changes nothing.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import type { PgConnInfo } from '../../src/engine/connection';
import { runFullLoadLocal } from '../../src/engine/fullload';
import type { SequenceDef } from '../../src/engine/fullload/introspect';
import { placeStandaloneSequences, sequenceSchemas } from '../../src/engine/fullload/sequences';
import { compilePlan, defaultEngineSettings, parseTableMapping } from '../../src/mapping';
import type { CatalogTable, Finding, MigrationPlan, SourceCatalog } from '../../src/mapping/types';
import { type TestServer, connect, dropDatabase } from '../support/pg';
import { Leftovers, openPair, settings, tablePlan } from './fixtures/fullload';

const SOURCE = `
CREATE SCHEMA mixed;
CREATE TABLE mixed.orders (id serial PRIMARY KEY, ref int);
INSERT INTO mixed.orders (ref) SELECT g FROM generate_series(1, 5) g;
CREATE SEQUENCE mixed.ticket_seq;
SELECT setval('mixed.ticket_seq', 42);
CREATE SEQUENCE mixed."Never ""Used"" Seq" AS integer INCREMENT BY 5 MINVALUE 10 MAXVALUE 500 START WITH 100 CACHE 3 CYCLE;
CREATE SEQUENCE mixed.reset_seq START 1000;
SELECT setval('mixed.reset_seq', 424242, false);
CREATE SEQUENCE mixed.order_ref_seq OWNED BY mixed.orders.ref;
SELECT setval('mixed.order_ref_seq', 7);
CREATE TABLE mixed.audit (id bigserial PRIMARY KEY, note text);
INSERT INTO mixed.audit (note) VALUES ('a'), ('b');
CREATE SEQUENCE mixed.audit_note_seq OWNED BY mixed.audit.note;
CREATE SCHEMA legacy;
CREATE TABLE legacy.old (id int);
CREATE SEQUENCE legacy.legacy_seq;
SELECT setval('legacy.legacy_seq', 9);
`;

/** Everything but legacy and mixed.audit, with mixed renamed to app. */
const MAPPING = {
  rules: [
    {
      'rule-type': 'selection',
      'rule-id': '1',
      'rule-name': 'all',
      'object-locator': { 'schema-name': '%', 'table-name': '%' },
      'rule-action': 'include',
    },
    {
      'rule-type': 'selection',
      'rule-id': '2',
      'rule-name': 'no-legacy',
      'object-locator': { 'schema-name': 'legacy', 'table-name': '%' },
      'rule-action': 'exclude',
    },
    {
      'rule-type': 'selection',
      'rule-id': '3',
      'rule-name': 'no-audit',
      'object-locator': { 'schema-name': 'mixed', 'table-name': 'audit' },
      'rule-action': 'exclude',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '4',
      'rule-name': 'rename-mixed',
      'rule-target': 'schema',
      'object-locator': { 'schema-name': 'mixed' },
      'rule-action': 'rename',
      value: 'app',
    },
  ],
};

const NEVER_USED = 'Never "Used" Seq';

/** Definition and state of every user sequence, `schema.name` → fields. */
async function sequenceDefs(c: Client): Promise<Record<string, string>> {
  const { rows } = await c.query<{ k: string; d: string }>(
    `SELECT schemaname || '.' || sequencename AS k,
            concat_ws(' ', data_type, start_value, min_value, max_value, increment_by, cycle, cache_size) AS d
       FROM pg_sequences WHERE schemaname <> 'ferry' ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.d]));
}

/** nextval in a new session: a session keeps the values it cached (CACHE > 1) even across setval. */
async function nextval(server: TestServer, database: string, seq: string): Promise<string> {
  const c = await connect(server, database);
  try {
    const { rows } = await c.query<{ v: string }>(`SELECT nextval($1::regclass)::text AS v`, [seq]);
    return rows[0].v;
  } finally {
    await c.end();
  }
}

describe('engine/fullload: standalone sequences on PostgreSQL 13 → 15', function () {
  this.timeout(300_000);
  let pg15: TestServer;
  let source: PgConnInfo;
  let target: PgConnInfo;
  let src: Client;
  let dst: Client;
  let catalog: SourceCatalog;
  let plan: MigrationPlan;
  const left = new Leftovers();

  before(async () => {
    ({ pg15, source, target, src, dst } = await openPair('fullload_sequences', left));
    await src.query(SOURCE);
    catalog = await readSourceCatalog(source);
    plan = compilePlan(parseTableMapping(MAPPING, 'mappings.json'), catalog, defaultEngineSettings());
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await src?.end();
    await dst?.end();
    await left.cleanup(dropDatabase);
  });

  const next = (seq: string) => nextval(pg15, target.database, seq);
  const problems = (findings: Finding[]) => findings.filter((f) => f.severity !== 'info');

  it('creates and syncs the standalone sequences of migrated schemas, in the target schema', async () => {
    assert.deepEqual(
      plan.tables.map((t) => `${t.source.schema}.${t.source.name} → ${t.target.schema}.${t.target.name}`),
      ['mixed.orders → app.orders'],
    );
    const r = await runFullLoadLocal({ migration: 'seq', source, target, plan, catalog, concurrency: 2 });
    assert.deepEqual(problems(r.findings), []);
    assert.deepEqual([...r.preData.sequences].sort(), [
      `app."${NEVER_USED.replace(/"/g, '""')}"`,
      'app.order_ref_seq',
      'app.orders_id_seq',
      'app.reset_seq',
      'app.ticket_seq',
    ]);
    assert.equal(r.preData.standaloneSequences, 4);
    assert.equal(r.sequences.sequences, 5);
    assert.equal(r.sequences.standalone, 4);
    const synced = Object.fromEntries(
      r.sequences.synced.map((s) => [s.target, [s.value, s.isCalled, s.standalone]]),
    );
    assert.deepEqual(synced['app.ticket_seq'], ['42', true, true]);
    assert.deepEqual(synced[`app."${NEVER_USED.replace(/"/g, '""')}"`], ['100', false, true]);
    assert.deepEqual(synced['app.reset_seq'], ['424242', false, true]);
    assert.deepEqual(synced['app.orders_id_seq'], ['5', true, false]);

    // Same definitions as the source, under the renamed schema; nothing of legacy or of mixed.audit.
    const srcDefs = await sequenceDefs(src);
    const dstDefs = await sequenceDefs(dst);
    assert.deepEqual(Object.keys(dstDefs), [
      `app.${NEVER_USED}`,
      'app.order_ref_seq',
      'app.orders_id_seq',
      'app.reset_seq',
      'app.ticket_seq',
    ]);
    for (const name of [NEVER_USED, 'order_ref_seq', 'orders_id_seq', 'reset_seq', 'ticket_seq'])
      assert.equal(dstDefs[`app.${name}`], srcDefs[`mixed.${name}`], name);
    const { rows: schemas } = await dst.query(
      `SELECT 1 FROM pg_namespace WHERE nspname IN ('legacy', 'mixed')`,
    );
    assert.equal(schemas.length, 0);

    // The application's next nextval calls return what they would have on the source.
    assert.equal(await next('app.ticket_seq'), '43');
    assert.equal(await next(`app."${NEVER_USED.replace(/"/g, '""')}"`), '100');
    assert.equal(await next('app.reset_seq'), '424242');
    assert.equal(await next('app.order_ref_seq'), '8');
    const { rows: ins } = await dst.query(`INSERT INTO app.orders (ref) VALUES (0) RETURNING id`);
    assert.equal(ins[0].id, 6);
    // OWNED BY follows a migrated owning column.
    const { rows: owned } = await dst.query(`SELECT pg_get_serial_sequence('app.orders', 'ref') AS s`);
    assert.equal(owned[0].s, 'app.order_ref_seq');
  });

  it('a rerun creates nothing and sets the values again', async () => {
    await src.query(`SELECT setval('mixed.ticket_seq', 50)`);
    const r = await runFullLoadLocal({ migration: 'seq', source, target, plan, catalog, concurrency: 2 });
    assert.deepEqual(problems(r.findings), []);
    assert.deepEqual(r.preData.sequences, []);
    assert.equal(r.preData.standaloneSequences, 0);
    assert.deepEqual(
      r.preData.tables.map((t) => t.action),
      ['resumed'],
    );
    assert.equal(r.sequences.sequences, 5);
    assert.equal(r.sequences.standalone, 4);
    assert.equal(await next('app.ticket_seq'), '51');
    assert.equal(await next(`app."${NEVER_USED.replace(/"/g, '""')}"`), '100');
    assert.equal(await next('app.reset_seq'), '424242');
    assert.equal(Object.keys(await sequenceDefs(dst)).length, 5);
  });

  it('DROP_AND_CREATE under a new migration recreates what the dropped table owned, and keeps the rest', async () => {
    const r = await runFullLoadLocal({
      migration: 'seq-2',
      source,
      target,
      plan: { ...plan, settings: { ...plan.settings, targetTablePrepMode: 'DROP_AND_CREATE' } },
      catalog,
      concurrency: 2,
    });
    assert.deepEqual(problems(r.findings), []);
    assert.deepEqual(
      r.preData.tables.map((t) => t.action),
      ['recreated'],
    );
    // DROP TABLE ... CASCADE took the sequences the table owned; the standalone ones were kept.
    assert.deepEqual([...r.preData.sequences].sort(), ['app.order_ref_seq', 'app.orders_id_seq']);
    assert.equal(r.preData.standaloneSequences, 1);
    assert.equal(await next('app.order_ref_seq'), '8');
    assert.equal(await next('app.ticket_seq'), '51');
    assert.equal(Object.keys(await sequenceDefs(dst)).length, 5);
  });
});

describe('engine/fullload: standalone sequence placement', () => {
  const table = (schema: string, name: string): CatalogTable => ({
    schema,
    name,
    kind: 'table',
    columns: [],
    primaryKey: [],
    uniqueKeys: [],
    replicaIdentity: 'default',
    estimatedRows: 0,
    bytes: 0,
  });
  const planOf = (...moves: [string, string, string][]): MigrationPlan => ({
    tables: moves.map(([s, n, to]) => tablePlan(table(s, n), { target: { schema: to, name: n } })),
    skipped: [],
    settings: settings(),
    findings: [],
  });
  const seq = (seqid: string, seqSchema: string, seqName: string): SequenceDef => ({
    seqid,
    seqSchema,
    seqName,
    printed: `${seqSchema}.${seqName}`,
    type: 'bigint',
    start: '1',
    increment: '1',
    min: '1',
    max: '9223372036854775807',
    cache: '1',
    cycle: false,
    ownerRelid: null,
    ownerColumn: null,
    lastValue: null,
    readable: true,
    selectable: true,
  });

  it('maps a schema to the one target schema its tables go to, else keeps its name', () => {
    const plan = planOf(
      ['a', 't1', 'x'],
      ['a', 't2', 'x'],
      ['b', 't3', 'x'],
      ['b', 't4', 'y'],
      ['c', 't5', 'c'],
    );
    assert.deepEqual(
      [...sequenceSchemas(plan)],
      [
        ['a', 'x'],
        ['b', 'b'],
        ['c', 'c'],
      ],
    );
  });

  it('skips used sequences and unplanned schemas, and refuses a second sequence on a taken name', () => {
    const plan = planOf(['a', 't1', 'x'], ['b', 't2', 'x']);
    const findings: Finding[] = [];
    const placed = placeStandaloneSequences(
      plan,
      [
        seq('1', 'a', 's'),
        seq('2', 'a', 'used'),
        seq('3', 'b', 's'),
        seq('4', 'b', 'Odd"Name'),
        seq('5', 'z', 'q'),
      ],
      new Set(['2']),
      findings,
    );
    assert.deepEqual(
      placed.map((p) => [p.source.seqid, p.qualified]),
      [
        ['1', '"x"."s"'],
        ['4', '"x"."Odd""Name"'],
      ],
    );
    assert.equal(findings.length, 1);
    assert.match(findings[0].message, /b\.s would be x\.s on the target, where a\.s goes already/);
  });
});

// Assessment of the mapping and task settings against a real source: selections matching nothing, a
// filter on a missing column, a cast the source refuses, values that do not convert, change-data-type
// rules that narrow a type, unsupported task settings; silence for the default mapping.
import assert from 'node:assert/strict';
import type { PgConnInfo } from '../../src/engine/connection';
import { type TestServer, testServer } from '../support/pg';
import { Databases, assertFires, assertSilent, assess, connInfo, describeResult } from './fixtures';

const MAPPING_RULES = [
  'mapping-selection-empty',
  'mapping-filter-column',
  'mapping-transformation-invalid',
  'mapping-invalid',
  'mapping-cast-fails',
  'mapping-type-narrowing',
  'setting-not-supported',
  'setting-effect',
  'mapping-warning',
  'endpoint-checks-skipped',
  'assessment-check-failed',
];

const select = (id: string, schema: string, table: string, extra: Record<string, unknown> = {}) => ({
  'rule-type': 'selection',
  'rule-id': id,
  'rule-name': `r${id}`,
  'object-locator': { 'schema-name': schema, 'table-name': table },
  'rule-action': 'include',
  ...extra,
});

const changeType = (id: string, column: string, dataType: Record<string, unknown>) => ({
  'rule-type': 'transformation',
  'rule-id': id,
  'rule-name': `r${id}`,
  'rule-target': 'column',
  'object-locator': { 'schema-name': 'public', 'table-name': 'orders', 'column-name': column },
  'rule-action': 'change-data-type',
  'data-type': dataType,
});

describe('assessment: mapping and task settings', function () {
  this.timeout(120_000);
  const dbs = new Databases();
  let source: PgConnInfo;
  let target: PgConnInfo;

  before(async () => {
    const [pg13, pg15]: TestServer[] = await Promise.all([testServer(13), testServer(15)]);
    const [s, t] = await Promise.all([
      dbs.create(
        pg13,
        'assess_map_src',
        `CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric(12,2), code varchar(50), big bigint,
                                     wide varchar(10), note text, blob bytea);
         INSERT INTO public.orders VALUES (1, 10.5, 'A1', 5, 'x', '42', '\\x00'),
                                          (2, 20, 'B2', 7, 'y', 'not a number', NULL);`,
      ),
      dbs.create(pg15, 'assess_map_tgt'),
    ]);
    source = connInfo(pg13, s, 'onsite');
    target = connInfo(pg15, t, 'aurora');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') dbs.failed = true;
  });

  after(() => dbs.cleanup());

  it('the default mapping and settings: no mapping finding', async () => {
    const r = await assess({ source, target });
    assertSilent(r, ...MAPPING_RULES);
    assert.equal(r.blocked, false, describeResult(r));
  });

  it('a selection that matches no table, and one whose tables are all excluded', async () => {
    const none = await assess({ source, target, tableMappings: { rules: [select('1', 'nosuch', '%')] } });
    const [f] = assertFires(none, 'mapping-selection-empty', 'rule:1');
    assert.match(f.message, /selection matches no table; the source has schemas: public/);
    assertFires(none, 'endpoint-checks-skipped', 'mapping:mappings.json');
    assertSilent(none, 'target-free-space');

    const excluded = await assess({
      source,
      target,
      tableMappings: {
        rules: [select('1', 'public', '%'), { ...select('2', 'public', 'orders'), 'rule-action': 'exclude' }],
      },
    });
    assertFires(excluded, 'mapping-selection-empty', 'mapping:mappings.json');
    assert.ok(excluded.blocked);
  });

  it('a filter on a column the table does not have', async () => {
    const r = await assess({
      source,
      target,
      tableMappings: {
        rules: [
          select('1', 'public', 'orders', {
            filters: [
              {
                'filter-type': 'source',
                'column-name': 'amunt',
                'filter-conditions': [{ 'filter-operator': 'gte', value: '1' }],
              },
            ],
          }),
        ],
      },
    });
    const [f] = assertFires(r, 'mapping-filter-column', 'rule:1');
    assert.match(f.message, /has no column "amunt" \(did you mean "amount"\?\)/);
    assertSilent(r, 'mapping-selection-empty');
  });

  it('other mapping errors, and the compiler notes', async () => {
    const r = await assess({
      source,
      target,
      tableMappings: {
        rules: [
          select('1', 'public', 'ord%', {
            filters: [
              {
                'filter-type': 'source',
                'column-name': 'id',
                'filter-conditions': [{ 'filter-operator': 'gte', value: '1' }],
              },
            ],
          }),
          { ...select('2', 'pg_catalog', 'pg_class'), 'rule-action': 'explicit' },
        ],
      },
    });
    const [f] = assertFires(r, 'mapping-invalid', 'rule:2');
    assert.match(f.message, /"pg_catalog" is a system schema/);
    const ok = await assess({
      source,
      target,
      tableMappings: {
        rules: [
          select('1', 'public', 'ord%', {
            filters: [
              {
                'filter-type': 'source',
                'column-name': 'id',
                'filter-conditions': [{ 'filter-operator': 'gte', value: '1' }],
              },
            ],
          }),
        ],
      },
    });
    const [note] = assertFires(ok, 'mapping-note', 'rule:1');
    assert.match(note.message, /Ferry applies them to every table the pattern selects/);
  });

  it('a cast the source refuses, and values that do not convert', async () => {
    const r = await assess({
      source,
      target,
      tableMappings: {
        rules: [
          select('1', 'public', 'orders'),
          changeType('2', 'blob', { type: 'int4' }),
          changeType('3', 'note', { type: 'int4' }),
        ],
      },
    });
    const [bad] = assertFires(r, 'mapping-transformation-invalid', 'column:public.orders.blob');
    assert.match(bad.message, /"blob"::integer, which the source refuses: 42846/);
    const [fails] = assertFires(r, 'mapping-cast-fails', 'column:public.orders.note');
    assert.match(fails.message, /22P02/);
    assert.deepEqual(
      r.findings.filter((f) => f.id.startsWith('mapping-')).map((f) => `${f.id} ${f.object}`),
      [
        'mapping-transformation-invalid column:public.orders.blob',
        'mapping-cast-fails column:public.orders.note',
      ],
    );
  });

  it('change-data-type rules that narrow a type, and one that widens', async () => {
    const r = await assess({
      source,
      target,
      tableMappings: {
        rules: [
          select('1', 'public', 'orders'),
          changeType('2', 'amount', { type: 'numeric', precision: 8, scale: 1 }),
          changeType('3', 'code', { type: 'string', length: 10 }),
          changeType('4', 'big', { type: 'int4' }),
          changeType('5', 'wide', { type: 'string', length: 100 }),
        ],
      },
    });
    const narrowed = assertFires(r, 'mapping-type-narrowing');
    assert.deepEqual(
      narrowed.map((f) => f.object),
      ['column:public.orders.amount', 'column:public.orders.big', 'column:public.orders.code'],
    );
    assert.match(
      narrowed[0].message,
      /numeric\(12,2\); change-data-type rule-id 2 makes it numeric\(8,1\): .*rounded/,
    );
    assert.match(narrowed[1].message, /integer holds a smaller range than bigint/);
    assert.match(narrowed[2].message, /character varying\(10\) is shorter than character varying\(50\)/);
    assertSilent(r, 'mapping-cast-fails', 'mapping-transformation-invalid');
  });

  it('task settings the native engine does not support, and rule caveats', async () => {
    const r = await assess({
      source,
      target,
      tableMappings: {
        rules: [select('1', 'public', '%'), { ...select('2', 'nosuch', 'x'), 'rule-action': 'exclude' }],
      },
      taskSettings: {
        StreamBufferSettings: { StreamBufferCount: 5 },
        Foo: {},
        TargetMetadata: { SupportLobs: false },
      },
    });
    assertFires(r, 'setting-not-supported', 'setting:StreamBufferSettings.StreamBufferCount');
    assertFires(r, 'setting-not-supported', 'setting:Foo');
    const [lobs] = assertFires(r, 'setting-effect', 'setting:TargetMetadata.SupportLobs');
    assert.match(lobs.message, /LOB columns .* are left out/);
    const [rule] = assertFires(r, 'mapping-warning', 'rule:2');
    assert.match(rule.message, /exclude rule matches no table/);
    assert.equal(r.blocked, false, describeResult(r));
  });
});

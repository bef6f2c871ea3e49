// compilePlan on small catalogs: selection precedence, views, system schemas, partitions, segments,
// target names (every name action, TargetSchema), column actions, filters per operator, LOB modes,
// and the errors and warnings DMS semantics call for.
import assert from 'node:assert/strict';
import { FerryError } from '../../src/errors';
import { andRowFilters, compilePlan, defaultTableMapping } from '../../src/mapping';
import type { MigrationPlan, SourceCatalog, TableMapping } from '../../src/mapping/types';
import { catalogOf, col, exclude, include, mappingOf, settingsOf, table, transform } from './helpers';

const MiB = 1024 * 1024;
const notNull = { nullable: false };

function shop(): SourceCatalog {
  return catalogOf(
    table(
      'app',
      'orders',
      [
        col('id', 'bigint', notNull),
        col('total', 'numeric(12,2)'),
        col('status', 'character varying(20)'),
        col('placed', 'date'),
        col('note', 'text'),
        col('phone', 'character varying(20)'),
      ],
      { primaryKey: ['id'], estimatedRows: 5_000_000, bytes: 700 * MiB },
    ),
    table('app', 'DMS_tmp', [col('id', 'integer')]),
    table('app', 'logs', [col('at', 'timestamp with time zone'), col('msg', 'text')], {
      estimatedRows: 9_000_000,
      bytes: 200 * MiB,
    }),
    table('app', 'v_orders', [col('id', 'bigint'), col('total', 'numeric(12,2)')], { kind: 'view' }),
    table(
      'app',
      'items',
      [
        col('order_id', 'bigint', notNull),
        col('qty', 'integer'),
        col('line', 'numeric', { generated: 'qty * 2' }),
      ],
      {
        primaryKey: ['order_id'],
      },
    ),
    table(
      'app',
      'events',
      [col('id', 'bigint', notNull), col('at', 'date', notNull), col('payload', 'jsonb')],
      {
        kind: 'partitioned',
        primaryKey: ['id', 'at'],
        partitions: [
          { schema: 'app', name: 'events_2024' },
          { schema: 'app', name: 'events_2025' },
        ],
        estimatedRows: 0,
        bytes: 0,
      },
    ),
    table(
      'app',
      'events_2024',
      [col('id', 'bigint', notNull), col('at', 'date', notNull), col('payload', 'jsonb')],
      {
        kind: 'partition',
        parent: { schema: 'app', name: 'events' },
        primaryKey: ['id', 'at'],
        estimatedRows: 10,
        bytes: 1000,
      },
    ),
    table(
      'app',
      'events_2025',
      [col('id', 'bigint', notNull), col('at', 'date', notNull), col('payload', 'jsonb')],
      {
        kind: 'partition',
        parent: { schema: 'app', name: 'events' },
        primaryKey: ['id', 'at'],
        estimatedRows: 20,
        bytes: 2000,
      },
    ),
    table('other', 'orders', [col('id', 'bigint')], { primaryKey: ['id'] }),
    table('pg_catalog', 'pg_class', [col('oid', 'oid')]),
    table('ferry', 'applied', [col('lsn', 'pg_lsn')]),
  );
}

const plan = (mapping: TableMapping, settings = {}, catalog = shop()) =>
  compilePlan(mapping, catalog, settingsOf(settings));
const names = (p: MigrationPlan) => p.tables.map((t) => `${t.source.schema}.${t.source.name}`);
const tableOf = (p: MigrationPlan, name: string) =>
  p.tables.find((t) => `${t.source.schema}.${t.source.name}` === name)!;
const messages = (p: MigrationPlan) => p.findings.map((f) => f.message);
const fails = (run: () => unknown, ...expected: RegExp[]) =>
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof FerryError, String(e));
    for (const re of expected) assert.match(e.message, re);
    return true;
  });

describe('mapping/compile: selection', () => {
  it('lets exclude win over include whatever the rule order (the DMS Test.% / Test.DMS% example)', () => {
    for (const rules of [
      [include('app', '%'), exclude('app', 'DMS%')],
      [exclude('app', 'DMS%'), include('app', '%')],
    ]) {
      const p = plan(mappingOf(...rules));
      assert.ok(!names(p).includes('app.DMS_tmp'));
      assert.ok(names(p).includes('app.orders'));
      const skip = p.skipped.find((s) => s.name === 'DMS_tmp')!;
      assert.equal(skip.reason, `excluded by rule-id ${rules[0]['rule-action'] === 'exclude' ? 1 : 2}`);
    }
  });

  it('selects exactly one table with explicit, taking _ literally', () => {
    const p = plan(mappingOf({ ...include('app', 'orders'), 'rule-action': 'explicit' }));
    assert.deepEqual(names(p), ['app.orders']);
    fails(
      () => plan(mappingOf({ ...include('app', 'DMS_tm_'), 'rule-action': 'explicit' })),
      /selection matches no table/,
    );
  });

  it('selects views only with table-type view or all, and lands them as tables with one segment', () => {
    const tables = plan(
      mappingOf(include('app', 'v%')),
      {},
      catalogOf(
        ...shop().tables.filter((t) => t.name !== 'v_orders'),
        table('app', 'v_x', [col('a', 'integer')]),
      ),
    );
    assert.deepEqual(names(tables), ['app.v_x']);
    const views = plan(
      mappingOf(
        include('app', '%', {
          'object-locator': { 'schema-name': 'app', 'table-name': 'v%', 'table-type': 'view' },
        }),
      ),
    );
    assert.deepEqual(names(views), ['app.v_orders']);
    assert.deepEqual(tableOf(views, 'app.v_orders').segments, { method: 'none', count: 1 });
    assert.equal(tableOf(views, 'app.v_orders').source.kind, 'view');
    const p = plan(mappingOf(include('app', '%')));
    assert.match(
      p.skipped.find((s) => s.name === 'v_orders')!.reason,
      /a view; rule-id 1 selects tables only/,
    );
  });

  it('never lets a wildcard reach system schemas or the ferry schema; naming one is an error', () => {
    const p = plan(defaultTableMapping());
    assert.ok(!names(p).some((n) => n.startsWith('pg_catalog.') || n.startsWith('ferry.')));
    assert.deepEqual(names(p).sort(), [
      'app.DMS_tmp',
      'app.events',
      'app.items',
      'app.logs',
      'app.orders',
      'other.orders',
    ]);
    fails(
      () =>
        plan(mappingOf(include('app', '%'), { ...include('ferry', 'applied'), 'rule-action': 'explicit' })),
      /rules\[1\] \(rule-id 2\) object-locator.schema-name: "ferry" is a system schema \(Ferry's own control schema\)/,
    );
  });

  it('keeps the highest load-order of the matching rules and plans higher first', () => {
    const p = plan(
      mappingOf(
        include('app', 'o%', { 'load-order': 1 }),
        include('app', 'orders', { 'load-order': 9 }),
        include('other', '%'),
      ),
    );
    assert.deepEqual(names(p), ['app.orders', 'other.orders']);
    assert.equal(tableOf(p, 'app.orders').loadOrder, 9);
  });

  it('refuses two include rules that both filter one table', () => {
    const f = {
      filters: [
        {
          'filter-type': 'source',
          'column-name': 'id',
          'filter-conditions': [{ 'filter-operator': 'gte', value: '1' }],
        },
      ],
    };
    fails(
      () => plan(mappingOf(include('app', 'orders', f), include('app', 'ord%', f))),
      /rules\[1\] \(rule-id 2\) filters: app.orders is also selected with filters by rule-id 1/,
    );
  });
});

describe('mapping/compile: partitions', () => {
  it('plans a partitioned table once, its leaves as segments, and lists the leaves as skipped', () => {
    const p = plan(mappingOf(include('app', 'events%')));
    assert.deepEqual(names(p), ['app.events']);
    const t = tableOf(p, 'app.events');
    assert.deepEqual(t.segments, {
      method: 'partitions',
      count: 2,
      partitions: [
        { schema: 'app', name: 'events_2024' },
        { schema: 'app', name: 'events_2025' },
      ],
    });
    assert.equal(t.estimatedRows, 30);
    assert.equal(t.bytes, 3000);
    assert.deepEqual(
      p.skipped.filter((s) => s.name.startsWith('events_')).map((s) => s.reason),
      [
        'partition of app.events: copied as one of its segments',
        'partition of app.events: copied as one of its segments',
      ],
    );
  });

  it('leaves an excluded partition out of its parent', () => {
    const p = plan(mappingOf(include('app', 'events'), exclude('app', 'events_2024')));
    assert.deepEqual(tableOf(p, 'app.events').segments.partitions, [{ schema: 'app', name: 'events_2025' }]);
    assert.match(
      p.skipped.find((s) => s.name === 'events_2024')!.reason,
      /excluded by rule-id 2: its rows are not copied/,
    );
  });

  it('copies a partition selected without its parent as a plain table', () => {
    const p = plan(mappingOf(include('app', 'events_2025')));
    assert.deepEqual(names(p), ['app.events_2025']);
    assert.equal(tableOf(p, 'app.events_2025').source.kind, 'partition');
    assert.ok(
      p.findings.some(
        (f) => f.severity === 'info' && /not selected: copied as a plain table/.test(f.message),
      ),
    );
  });

  it('honours partitions-auto and partitions-list on a partitioned table', () => {
    const ts = (pl: unknown) => ({
      'rule-type': 'table-settings',
      'object-locator': { 'schema-name': 'app', 'table-name': 'events' },
      'parallel-load': pl,
    });
    const auto = plan(mappingOf(include('app', 'events'), ts({ type: 'partitions-auto' })));
    assert.equal(tableOf(auto, 'app.events').segments.count, 2);
    const list = plan(
      mappingOf(include('app', 'events'), ts({ type: 'partitions-list', partitions: ['events_2025'] })),
    );
    assert.deepEqual(
      tableOf(list, 'app.events').segments.partitions!.map((x) => x.name),
      ['events_2025', 'events_2024'],
    );
    fails(
      () =>
        plan(
          mappingOf(include('app', 'events'), ts({ type: 'partitions-list', partitions: ['events_2023'] })),
        ),
      /"events_2023" is not a copied partition of app.events/,
    );
  });
});

describe('mapping/compile: segments', () => {
  it('splits a large table with a key into pk ranges, capped by MaxFullLoadSubTasks', () => {
    const p = plan(mappingOf(include('app', 'orders')));
    // 700 MiB / 64 MiB = 11 → capped at the default 8.
    assert.deepEqual(tableOf(p, 'app.orders').segments, { method: 'pk-range', count: 8, columns: ['id'] });
    const four = plan(mappingOf(include('app', 'orders')), { FullLoadSettings: { MaxFullLoadSubTasks: 4 } });
    assert.equal(tableOf(four, 'app.orders').segments.count, 4);
    const one = plan(mappingOf(include('app', 'orders')), { FullLoadSettings: { MaxFullLoadSubTasks: 1 } });
    assert.deepEqual(tableOf(one, 'app.orders').segments, { method: 'none', count: 1 });
  });

  it('splits a large table without a key by ctid, and counts rows as well as bytes', () => {
    const p = plan(mappingOf(include('app', 'logs')));
    // 200 MiB → 4 by size, 9,000,000 rows → 9 by rows → capped at 8.
    assert.deepEqual(tableOf(p, 'app.logs').segments, { method: 'ctid-range', count: 8 });
  });

  it('takes the thresholds as options, and copies small tables in one segment', () => {
    const m = mappingOf(include('app', 'orders'), include('app', 'DMS_tmp'));
    const p = compilePlan(m, shop(), settingsOf(), { segmentBytes: 500 * MiB, segmentRows: 10_000_000 });
    assert.deepEqual(tableOf(p, 'app.orders').segments, { method: 'pk-range', count: 2, columns: ['id'] });
    assert.deepEqual(tableOf(p, 'app.DMS_tmp').segments, { method: 'none', count: 1 });
  });

  it('builds the DMS ranges WHERE clauses, and parallel-load none forces one segment', () => {
    const ts = (pl: unknown) => ({
      'rule-type': 'table-settings',
      'object-locator': { 'schema-name': 'app', 'table-name': 'orders' },
      'parallel-load': pl,
    });
    const p = plan(
      mappingOf(
        include('app', 'orders'),
        ts({
          type: 'ranges',
          columns: ['placed', 'id'],
          boundaries: [
            ['2024-01-01', '10'],
            ['2025-01-01', '20'],
          ],
        }),
      ),
    );
    const s = tableOf(p, 'app.orders').segments;
    assert.equal(s.method, 'ranges');
    assert.equal(s.count, 3);
    assert.deepEqual(s.predicates, [
      {
        sql: '("placed" < $1::date OR ("placed" = $2::date AND "id" < $3::bigint))',
        params: ['2024-01-01', '2024-01-01', '10'],
        columns: ['placed', 'id'],
      },
      {
        sql: 'NOT ("placed" < $1::date OR ("placed" = $2::date AND "id" < $3::bigint)) AND ("placed" < $4::date OR ("placed" = $5::date AND "id" < $6::bigint))',
        params: ['2024-01-01', '2024-01-01', '10', '2025-01-01', '2025-01-01', '20'],
        columns: ['placed', 'id'],
      },
      {
        sql: 'NOT ("placed" < $1::date OR ("placed" = $2::date AND "id" < $3::bigint))',
        params: ['2025-01-01', '2025-01-01', '20'],
        columns: ['placed', 'id'],
      },
    ]);
    assert.ok(
      messages(p).some((m) =>
        m.startsWith('app.orders.placed is nullable; rows with NULL range values fall in no segment'),
      ),
    );
    const none = plan(mappingOf(include('app', 'orders'), ts({ type: 'none' })));
    assert.deepEqual(tableOf(none, 'app.orders').segments, { method: 'none', count: 1 });
  });
});

describe('mapping/compile: target names', () => {
  const renamed = (action: string, extra: Record<string, unknown>, table = 'orders') =>
    tableOf(
      plan(
        mappingOf(
          include('app', '%'),
          transform('table', action, { 'schema-name': 'app', 'table-name': table }, extra),
        ),
      ),
      `app.${table}`,
    ).target.name;

  it('applies every table name action', () => {
    assert.equal(renamed('rename', { value: 'purchases' }), 'purchases');
    assert.equal(renamed('convert-uppercase', {}), 'ORDERS');
    assert.equal(renamed('convert-lowercase', {}, 'DMS_tmp'), 'dms_tmp');
    assert.equal(renamed('add-prefix', { value: 'x_' }), 'x_orders');
    assert.equal(renamed('add-suffix', { value: '_v1' }), 'orders_v1');
    assert.equal(renamed('remove-prefix', { value: 'ord' }), 'ers');
    assert.equal(renamed('remove-prefix', { value: 'zz' }), 'orders', 'a name without the prefix stays');
    assert.equal(renamed('remove-suffix', { value: 'ers' }), 'ord');
    assert.equal(renamed('replace-prefix', { 'old-value': 'ord', value: 'purch' }), 'purchers');
    assert.equal(renamed('replace-suffix', { 'old-value': 's', value: '_all' }), 'order_all');
  });

  it('puts every table in TargetSchema unless a schema rule renames its schema', () => {
    const p = plan(
      mappingOf(
        include('app', 'orders'),
        include('other', 'orders'),
        transform('schema', 'rename', { 'schema-name': 'other' }, { value: 'legacy' }),
      ),
      { TargetMetadata: { TargetSchema: 'shop' } },
    );
    assert.deepEqual(tableOf(p, 'app.orders').target, { schema: 'shop', name: 'orders' });
    assert.deepEqual(tableOf(p, 'other.orders').target, { schema: 'legacy', name: 'orders' });
  });

  it('refuses two source tables landing on one target table', () => {
    fails(
      () =>
        plan(mappingOf(include('app', 'orders'), include('other', 'orders')), {
          TargetMetadata: { TargetSchema: 'shop' },
        }),
      /^mappings\.json: TargetMetadata\.TargetSchema \(task settings\): app\.orders and other\.orders both map to target shop\.orders; DMS cannot load two source tables into one target table/,
    );
  });

  it('applies the lowest rule-id when several rules of one kind match, and says so', () => {
    const p = plan(
      mappingOf(
        include('app', 'orders'),
        transform('column', 'convert-uppercase', {
          'schema-name': 'app',
          'table-name': '%',
          'column-name': '%',
        }),
        transform(
          'column',
          'rename',
          { 'schema-name': 'app', 'table-name': 'orders', 'column-name': 'total' },
          { value: 'amount' },
        ),
      ),
    );
    const t = tableOf(p, 'app.orders');
    assert.equal(t.columns.find((c) => c.source === 'total')!.target, 'TOTAL');
    assert.ok(
      p.findings.some(
        (f) =>
          f.rule === '3' &&
          /rename does not apply to app.orders.total: rules\[1\] \(rule-id 2\) \(convert-uppercase\) does; DMS applies the lowest rule-id/.test(
            f.message,
          ),
      ),
    );
  });

  it('refuses names PostgreSQL would truncate', () => {
    fails(
      () =>
        plan(
          mappingOf(
            include('app', 'orders'),
            transform(
              'table',
              'add-prefix',
              { 'schema-name': 'app', 'table-name': 'orders' },
              { value: 'x'.repeat(60) },
            ),
          ),
        ),
      /longer than PostgreSQL's 63-byte identifier limit/,
    );
  });

  it('warns about transformation rules that match nothing selected', () => {
    const p = plan(
      mappingOf(
        include('app', 'orders'),
        transform('table', 'rename', { 'schema-name': 'app', 'table-name': 'logs' }, { value: 'l' }),
      ),
    );
    assert.ok(
      p.findings.some((f) => f.rule === '2' && f.message === 'matches no selected object; DMS ignores it'),
    );
  });
});

describe('mapping/compile: columns', () => {
  const orders = (...rules: Record<string, unknown>[]) =>
    tableOf(plan(mappingOf(include('app', 'orders'), ...rules)), 'app.orders');
  const loc = (column: string) => ({ 'schema-name': 'app', 'table-name': 'orders', 'column-name': column });

  it('removes columns by name or pattern', () => {
    const t = orders(
      transform('column', 'remove-column', loc('p%')),
      transform('column', 'remove-column', loc('note')),
    );
    assert.deepEqual(
      t.columns.map((c) => c.target),
      ['id', 'total', 'status'],
    );
    assert.deepEqual(t.removedColumns, [
      { source: 'placed', reason: 'removed by rule-id 2', rule: '2' },
      { source: 'note', reason: 'removed by rule-id 3', rule: '3' },
      { source: 'phone', reason: 'removed by rule-id 2', rule: '2' },
    ]);
  });

  it('keeps only the listed columns once include-column is used', () => {
    const t = orders(
      transform('column', 'include-column', loc('id')),
      transform('column', 'include-column', loc('total')),
    );
    assert.deepEqual(
      t.columns.map((c) => c.target),
      ['id', 'total'],
    );
    assert.equal(t.removedColumns!.length, 4);
  });

  it('adds columns from expressions (cast to the DMS data type) or as NULL', () => {
    const t = orders(
      transform(
        'column',
        'add-column',
        { 'schema-name': 'app', 'table-name': 'orders' },
        {
          value: 'gross',
          expression: 'round($total * 1.2, 2)',
          'data-type': { type: 'numeric', precision: 14, scale: 2 },
        },
      ),
      transform(
        'column',
        'add-column',
        { 'schema-name': 'app', 'table-name': 'orders' },
        { value: 'batch', 'data-type': { type: 'int4' } },
      ),
      transform(
        'column',
        'add-column',
        { 'schema-name': 'app', 'table-name': 'orders' },
        { value: 'total_copy', expression: '$total', 'data-type': { type: 'real8' } },
      ),
    );
    const added = t.columns.slice(-3);
    assert.deepEqual(added, [
      {
        target: 'gross',
        type: 'numeric(14,2)',
        nullable: true,
        rules: ['2'],
        expression: '(round(("total" * 1.2)::numeric, 2))::numeric(14,2)',
      },
      { target: 'batch', type: 'integer', nullable: true, rules: ['3'], expression: 'NULL::integer' },
      {
        target: 'total_copy',
        type: 'double precision',
        nullable: true,
        rules: ['4'],
        expression: '"total"::double precision',
        source: 'total',
      },
    ]);
  });

  it('changes data types as a cast in the source SELECT, also type-wide through the locator data-type', () => {
    const t = orders(
      transform('column', 'change-data-type', loc('total'), { 'data-type': { type: 'string', length: 30 } }),
      transform(
        'column',
        'change-data-type',
        { ...loc('%'), 'data-type': 'date' },
        { 'data-type': { type: 'datetime', scale: 3 } },
      ),
    );
    const total = t.columns.find((c) => c.source === 'total')!;
    assert.deepEqual(
      [total.type, total.expression],
      ['character varying(30)', '"total"::character varying(30)'],
    );
    const placed = t.columns.find((c) => c.source === 'placed')!;
    assert.deepEqual(
      [placed.type, placed.expression],
      ['timestamp(3) without time zone', '"placed"::timestamp(3) without time zone'],
    );
    assert.equal(t.columns.find((c) => c.source === 'id')!.expression, undefined);
  });

  it('defines a primary key or a unique index on target columns', () => {
    const pk = orders(
      transform('column', 'rename', loc('status'), { value: 'state' }),
      transform(
        'table',
        'define-primary-key',
        { 'schema-name': 'app', 'table-name': 'orders' },
        { 'primary-key-def': { name: 'orders_pk', columns: ['id', 'state'] } },
      ),
    );
    assert.deepEqual(pk.primaryKey, ['id', 'state']);
    assert.deepEqual(pk.keyDefinition, {
      name: 'orders_pk',
      origin: 'primary-key',
      columns: ['id', 'state'],
      rule: '3',
    });
    const uk = orders(
      transform(
        'table',
        'define-primary-key',
        { 'schema-name': 'app', 'table-name': 'orders' },
        { 'primary-key-def': { name: 'orders_uk', origin: 'unique-index', columns: ['phone'] } },
      ),
    );
    assert.deepEqual(uk.primaryKey, ['id']);
    assert.equal(uk.keyDefinition!.origin, 'unique-index');
  });

  it('adds before-image columns that equal the current values during full load', () => {
    const bi = (filter: string) =>
      orders(
        transform(
          'column',
          'add-before-image-columns',
          { 'schema-name': 'app', 'table-name': 'orders' },
          { 'before-image-def': { 'column-prefix': 'BI_', 'column-filter': filter } },
        ),
      )
        .columns.filter((c) => c.beforeImageOf)
        .map((c) => `${c.target}=${c.expression ?? c.source}`);
    assert.deepEqual(bi('pk-only'), ['BI_id=id']);
    assert.deepEqual(bi('non-lob'), [
      'BI_id=id',
      'BI_total=total',
      'BI_status=status',
      'BI_placed=placed',
      'BI_phone=phone',
    ]);
    assert.ok(bi('all').includes('BI_note=NULL::text'), 'DMS creates a void column for LOBs');
  });

  it('masks digits, randomizes digits and hashes, refusing types DMS cannot mask', () => {
    const t = orders(
      transform('column', 'data-masking-digits-mask', loc('phone'), { value: '*' }),
      transform('column', 'data-masking-digits-randomize', loc('total')),
      transform('column', 'change-data-type', loc('status'), { 'data-type': { type: 'string', length: 64 } }),
      transform('column', 'data-masking-hash-mask', loc('status')),
    );
    const byName = (n: string) => t.columns.find((c) => c.source === n)!;
    assert.equal(
      byName('phone').expression,
      `(regexp_replace("phone"::text, '[0-9]', '*', 'g'))::character varying(20)`,
    );
    assert.equal(byName('phone').masking, 'digits-mask');
    assert.match(
      byName('total').expression!,
      /^\(CASE WHEN "total" IS NULL THEN NULL ELSE array_to_string\(.*random\(\).*\)::numeric\(12,2\)$/,
    );
    assert.equal(
      byName('status').expression,
      `(upper(encode(sha256(convert_to("status"::character varying(64)::text, 'UTF8')), 'hex')))::character varying(64)`,
    );
    assert.deepEqual(byName('status').rules, ['4', '5']);
    fails(
      () => orders(transform('column', 'data-masking-hash-mask', loc('phone'))),
      /app.orders.phone is character varying\(20\), too short for the 64-character SHA-256 hash/,
    );
    fails(
      () => orders(transform('column', 'data-masking-digits-mask', loc('placed'), { value: '#' })),
      /app.orders.placed is a DMS date \(date\); DMS masks digits only in string and wstring columns/,
    );
  });

  it('keeps generated columns with their expression but never copies them', () => {
    const p = plan(mappingOf(include('app', 'items')));
    assert.deepEqual(tableOf(p, 'app.items').columns[2], {
      source: 'line',
      target: 'line',
      type: 'numeric',
      nullable: true,
      rules: [],
      generated: 'qty * 2',
    });
    fails(
      () =>
        plan(
          mappingOf(
            include('app', 'items'),
            transform(
              'column',
              'change-data-type',
              { 'schema-name': 'app', 'table-name': 'items', 'column-name': 'line' },
              { 'data-type': { type: 'int4' } },
            ),
          ),
        ),
      /generated column/,
    );
  });
});

describe('mapping/compile: filters', () => {
  const filtered = (column: string, ...conditions: Record<string, unknown>[]) =>
    tableOf(
      plan(
        mappingOf(
          include('app', 'orders', {
            filters: [{ 'filter-type': 'source', 'column-name': column, 'filter-conditions': conditions }],
          }),
        ),
      ),
      'app.orders',
    ).filter!;

  const OPERATORS: [Record<string, unknown>, string, string[]][] = [
    [{ 'filter-operator': 'lte', value: '10' }, '"id" <= $1::bigint', ['10']],
    [{ 'filter-operator': 'ste', value: '10' }, '"id" <= $1::bigint', ['10']],
    [{ 'filter-operator': 'gte', value: '10' }, '"id" >= $1::bigint', ['10']],
    [{ 'filter-operator': 'eq', value: '10' }, '"id" = $1::bigint', ['10']],
    [{ 'filter-operator': 'noteq', value: '10' }, '"id" <> $1::bigint', ['10']],
    [
      { 'filter-operator': 'between', 'start-value': '1', 'end-value': '9' },
      '"id" BETWEEN $1::bigint AND $2::bigint',
      ['1', '9'],
    ],
    [
      { 'filter-operator': 'notbetween', 'start-value': '1', 'end-value': '9' },
      '"id" NOT BETWEEN $1::bigint AND $2::bigint',
      ['1', '9'],
    ],
    [{ 'filter-operator': 'null' }, '"id" IS NULL', []],
    [{ 'filter-operator': 'notnull' }, '"id" IS NOT NULL', []],
  ];
  for (const [condition, sql, params] of OPERATORS) {
    it(`compiles ${String(condition['filter-operator'])} to a parameterised predicate cast to the column type`, () => {
      assert.deepEqual(filtered('id', condition), { sql, params, columns: ['id'] });
    });
  }

  it('ORs the conditions of one filter and ANDs the filters', () => {
    const p = plan(
      mappingOf(
        include('app', 'orders', {
          filters: [
            {
              'filter-type': 'source',
              'column-name': 'id',
              'filter-conditions': [
                { 'filter-operator': 'lte', value: '10' },
                { 'filter-operator': 'between', 'start-value': '50', 'end-value': '75' },
              ],
            },
            {
              'filter-type': 'source',
              'column-name': 'placed',
              'filter-conditions': [{ 'filter-operator': 'gte', value: '2024-01-01' }],
            },
          ],
        }),
      ),
    );
    assert.deepEqual(tableOf(p, 'app.orders').filter, {
      sql: '("id" <= $1::bigint OR "id" BETWEEN $2::bigint AND $3::bigint) AND "placed" >= $4::date',
      params: ['10', '50', '75', '2024-01-01'],
      columns: ['id', 'placed'],
    });
  });

  it('drops a null condition mixed with inclusive and negative ones, as DMS does', () => {
    assert.equal(
      filtered(
        'status',
        { 'filter-operator': 'eq', value: 'paid' },
        { 'filter-operator': 'noteq', value: 'x' },
        { 'filter-operator': 'null' },
      ).sql,
      '("status" = $1::character varying(20) OR "status" <> $2::character varying(20))',
    );
  });

  it('ANDs a filter with a segment predicate, renumbering safely', () => {
    const combined = andRowFilters(
      { sql: '("a$1" = $1::integer OR "b" IS NULL)', params: ['1'], columns: ['a$1', 'b'] },
      { sql: '"c" < $1::integer AND \'$1\' = $2::text', params: ['5', 'x'], columns: ['c'] },
    );
    assert.deepEqual(combined, {
      sql: '("a$1" = $1::integer OR "b" IS NULL) AND "c" < $2::integer AND \'$1\' = $3::text',
      params: ['1', '5', 'x'],
      columns: ['a$1', 'b', 'c'],
    });
  });
});

describe('mapping/compile: LOBs', () => {
  const lobOf = (settings: Record<string, unknown>, ...rules: Record<string, unknown>[]) =>
    plan(mappingOf(include('app', 'orders'), include('other', 'orders'), ...rules), settings);

  it('limits LOBs to LobMaxSize KB by default and warns for each table with LOB columns', () => {
    const p = lobOf({});
    assert.deepEqual(tableOf(p, 'app.orders').lob, { mode: 'limited', maxBytes: 32 * 1024 });
    assert.deepEqual(
      tableOf(p, 'other.orders').lob,
      { mode: 'none', maxBytes: 0 },
      'no LOB columns, nothing to truncate',
    );
    assert.deepEqual(
      p.findings.filter((f) => /truncated/.test(f.message)).map((f) => f.message),
      [
        'app.orders: LOB column(s) note may be truncated above 32 KB in limited LOB mode (the engine reports actual truncations); raise LobMaxSize, add a lob-settings rule for the table, or set FullLobMode',
      ],
    );
  });

  it('copies LOBs whole in full LOB mode, and lets a lob-settings rule override the task', () => {
    assert.deepEqual(tableOf(lobOf({ TargetMetadata: { FullLobMode: true } }), 'app.orders').lob, {
      mode: 'full',
      maxBytes: 0,
    });
    const ts = (lob: unknown) => ({
      'rule-type': 'table-settings',
      'object-locator': { 'schema-name': 'app', 'table-name': 'orders' },
      'lob-settings': lob,
    });
    assert.deepEqual(tableOf(lobOf({}, ts({ mode: 'limited', 'bulk-max-size': '512' })), 'app.orders').lob, {
      mode: 'limited',
      maxBytes: 512 * 1024,
    });
    assert.deepEqual(tableOf(lobOf({}, ts({ mode: 'unlimited', 'bulk-max-size': '0' })), 'app.orders').lob, {
      mode: 'full',
      maxBytes: 0,
    });
    assert.deepEqual(
      tableOf(lobOf({ TargetMetadata: { FullLobMode: true } }, ts({ mode: 'none' })), 'app.orders').lob,
      { mode: 'full', maxBytes: 0 },
    );
  });

  it('leaves LOB columns out when SupportLobs is false, as DMS does', () => {
    const t = tableOf(lobOf({ TargetMetadata: { SupportLobs: false } }), 'app.orders');
    assert.ok(!t.columns.some((c) => c.source === 'note'));
    assert.deepEqual(t.removedColumns, [
      { source: 'note', reason: 'a LOB column and TargetMetadata.SupportLobs is false' },
    ]);
    assert.deepEqual(t.lob, { mode: 'none', maxBytes: 0 });
  });
});

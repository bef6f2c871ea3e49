// parseTableMapping on valid files: every selection action, filter operator, transformation action and
// table-settings type is read into the normalised rule shape, with warnings for what DMS ignores.
import assert from 'node:assert/strict';
import { parseTableMapping } from '../../src/mapping';
import type { SelectionRule, TableSettingsRule, TransformationRule } from '../../src/mapping/types';
import { include, mappingOf, transform } from './helpers';

const only = <T>(rules: unknown[], i = 0) => rules[i] as T;

describe('mapping/parse', () => {
  it('reads include, exclude and explicit selection rules with DMS defaults', () => {
    const m = mappingOf(
      include('sales', '%', { 'load-order': '3' }),
      { ...include('hr', 'DMS%'), 'rule-action': 'exclude' },
      { ...include('public', 'my_table'), 'rule-action': 'explicit', 'rule-id': 7 },
      include('report', '%', {
        'object-locator': { 'schema-name': 'report', 'table-name': '%', 'table-type': 'all' },
      }),
    );
    const [inc, exc, exp, all] = m.rules as SelectionRule[];
    assert.deepEqual(inc, {
      type: 'selection',
      index: 0,
      id: '1',
      name: '1',
      action: 'include',
      schema: 'sales',
      table: '%',
      tableType: 'table',
      loadOrder: 3,
      filters: [],
    });
    assert.equal(exc.action, 'exclude');
    assert.equal(exp.action, 'explicit');
    assert.equal(exp.id, '7', 'a numeric rule-id is kept as its string');
    assert.equal(all.tableType, 'all');
    assert.deepEqual(m.findings, []);
    assert.equal(m.file, 'mappings.json');
    assert.equal(m.implicit, false);
  });

  it('reads every DMS filter operator, values as strings', () => {
    const conditions = [
      { 'filter-operator': 'lte', value: '10' },
      { 'filter-operator': 'ste', value: 10 },
      { 'filter-operator': 'gte', value: '2024-01-01' },
      { 'filter-operator': 'eq', value: 'DE' },
      { 'filter-operator': 'between', 'start-value': '50', 'end-value': 75 },
      { 'filter-operator': 'null' },
    ];
    const m = mappingOf(
      include('sales', 'orders', {
        filters: [
          { 'filter-type': 'source', 'column-name': 'id', 'filter-conditions': conditions },
          {
            'filter-type': 'source',
            'column-name': 'status',
            'filter-conditions': [{ 'filter-operator': 'noteq', value: 'x' }],
          },
          {
            'filter-type': 'source',
            'column-name': 'total',
            'filter-conditions': [{ 'filter-operator': 'notbetween', 'start-value': '1', 'end-value': '2' }],
          },
          {
            'filter-type': 'source',
            'column-name': 'note',
            'filter-conditions': [{ 'filter-operator': 'notnull' }],
          },
        ],
      }),
    );
    const rule = only<SelectionRule>(m.rules);
    assert.deepEqual(rule.filters[0].conditions, [
      { operator: 'lte', value: '10' },
      { operator: 'ste', value: '10' },
      { operator: 'gte', value: '2024-01-01' },
      { operator: 'eq', value: 'DE' },
      { operator: 'between', start: '50', end: '75' },
      { operator: 'null' },
    ]);
    assert.deepEqual(
      rule.filters.slice(1).map((f) => f.conditions[0]),
      [
        { operator: 'noteq', value: 'x' },
        { operator: 'notbetween', start: '1', end: '2' },
        { operator: 'notnull' },
      ],
    );
  });

  it('warns that a null condition mixed with inclusive and negative ones is dropped, as DMS does', () => {
    const m = mappingOf(
      include('sales', 'orders', {
        filters: [
          {
            'filter-type': 'source',
            'column-name': 'status',
            'filter-conditions': [
              { 'filter-operator': 'eq', value: 'paid' },
              { 'filter-operator': 'noteq', value: 'x' },
              { 'filter-operator': 'null' },
            ],
          },
        ],
      }),
    );
    assert.equal(m.findings.length, 1);
    assert.match(m.findings[0].message, /does not bring NULL rows back/);
    assert.equal(m.findings[0].field, 'rules[0].filters[0].filter-conditions');
  });

  const loc = { 'schema-name': 'sales', 'table-name': 'orders', 'column-name': 'total' };
  const tableLoc = { 'schema-name': 'sales', 'table-name': 'orders' };
  const ACTIONS: [
    string,
    string,
    Record<string, string>,
    Record<string, unknown>,
    Partial<TransformationRule>,
  ][] = [
    ['schema', 'rename', { 'schema-name': 'sales' }, { value: 'store' }, { value: 'store' }],
    ['table', 'rename', tableLoc, { value: 'orders2' }, { value: 'orders2' }],
    ['column', 'rename', loc, { value: 'amount' }, { value: 'amount' }],
    ['table', 'convert-lowercase', tableLoc, {}, {}],
    ['column', 'convert-uppercase', loc, {}, {}],
    ['table', 'add-prefix', tableLoc, { value: 'x_' }, { value: 'x_' }],
    ['table', 'remove-prefix', tableLoc, { value: 'or' }, { value: 'or' }],
    [
      'table',
      'replace-prefix',
      tableLoc,
      { 'old-value': 'or', value: 'OR' },
      { oldValue: 'or', value: 'OR' },
    ],
    ['column', 'add-suffix', loc, { value: '_eur' }, { value: '_eur' }],
    ['column', 'remove-suffix', loc, { value: 'al' }, { value: 'al' }],
    [
      'schema',
      'replace-suffix',
      { 'schema-name': 'sales' },
      { 'old-value': 'es', value: '' },
      { oldValue: 'es', value: '' },
    ],
    ['column', 'remove-column', loc, {}, {}],
    ['column', 'include-column', loc, {}, {}],
    [
      'column',
      'add-column',
      tableLoc,
      {
        value: 'total_x2',
        expression: '$total * 2',
        'data-type': { type: 'numeric', precision: 14, scale: '2' },
      },
      { value: 'total_x2', expression: '$total * 2', dataType: { type: 'numeric', precision: 14, scale: 2 } },
    ],
    [
      'column',
      'change-data-type',
      loc,
      { 'data-type': { type: 'string', length: '4092', scale: '' } },
      { dataType: { type: 'string', length: 4092 } },
    ],
    [
      'table',
      'define-primary-key',
      tableLoc,
      { 'primary-key-def': { name: 'orders_pk', columns: ['id'] } },
      { primaryKey: { name: 'orders_pk', origin: 'primary-key', columns: ['id'] } },
    ],
    [
      'column',
      'add-before-image-columns',
      tableLoc,
      { 'before-image-def': { 'column-filter': 'non-lob' } },
      { beforeImage: { prefix: 'BI_', suffix: '', filter: 'non-lob' } },
    ],
    ['column', 'data-masking-digits-mask', loc, { value: '#' }, { value: '#' }],
    ['column', 'data-masking-digits-randomize', loc, {}, {}],
    ['column', 'data-masking-hash-mask', loc, {}, {}],
  ];
  for (const [target, action, locator, extra, expected] of ACTIONS) {
    it(`reads transformation ${action} (${target})`, () => {
      const m = mappingOf(include('sales', '%'), transform(target, action, locator, extra));
      const rule = only<TransformationRule>(m.rules, 1);
      assert.equal(rule.action, action);
      assert.equal(rule.target, target);
      assert.equal(rule.locator.schema, 'sales');
      for (const [k, v] of Object.entries(expected))
        assert.deepEqual(rule[k as keyof TransformationRule], v, k);
    });
  }

  it('reads a locator data-type for type-wide column rules', () => {
    const m = mappingOf(
      include('%', '%'),
      transform(
        'column',
        'change-data-type',
        { 'schema-name': '%', 'table-name': '%', 'column-name': '%', 'data-type': 'int4' },
        {
          'data-type': { type: 'int8' },
        },
      ),
    );
    assert.equal(only<TransformationRule>(m.rules, 1).locator.dataType, 'int4');
  });

  it('reads every table-settings form and warns about the ones DMS refuses on a PostgreSQL source', () => {
    const ts = (table: string, body: Record<string, unknown>) => ({
      'rule-type': 'table-settings',
      'object-locator': { 'schema-name': 'sales', 'table-name': table },
      ...body,
    });
    const m = mappingOf(
      include('sales', '%'),
      ts('orders', { 'parallel-load': { type: 'ranges', columns: ['id'], boundaries: [[1000], ['2000']] } }),
      ts('customers', {
        'parallel-load': { type: 'none' },
        'lob-settings': { mode: 'unlimited', 'bulk-max-size': '0' },
      }),
      ts('payments', { 'parallel-load': { type: 'partitions-auto' } }),
      ts('refunds', { 'parallel-load': { type: 'partitions-list', partitions: ['refunds_2024'] } }),
      ts('invoices', { 'lob-settings': { 'bulk-max-size': 64 } }),
      ts('notes', { 'lob-settings': { mode: 'none' } }),
    );
    const rules = m.rules.slice(1) as TableSettingsRule[];
    assert.deepEqual(rules[0].parallelLoad, {
      type: 'ranges',
      columns: ['id'],
      boundaries: [['1000'], ['2000']],
    });
    assert.deepEqual(rules[1].parallelLoad, { type: 'none' });
    assert.deepEqual(rules[1].lob, { mode: 'unlimited', bulkMaxSizeKb: 0 });
    assert.deepEqual(rules[2].parallelLoad, { type: 'partitions-auto' });
    assert.deepEqual(rules[3].parallelLoad, { type: 'partitions-list', partitions: ['refunds_2024'] });
    assert.deepEqual(rules[4].lob, { mode: 'limited', bulkMaxSizeKb: 64 });
    assert.deepEqual(rules[5].lob, { mode: 'none', bulkMaxSizeKb: 0 });
    const warnings = m.findings.map((f) => `${f.rule} ${f.field}: ${f.message}`);
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(
      warnings[0],
      /^4 rules\[3\]\.parallel-load\.type: DMS supports only "ranges" for a PostgreSQL source and would not run this file/,
    );
    assert.match(warnings[1], /^5 rules\[4\]\.parallel-load\.type: DMS supports only "ranges"/);
  });

  it('checks a rule body even when its rule-id is unusable, so every problem is reported at once', () => {
    assert.throws(
      () =>
        parseTableMapping(
          {
            rules: [
              {
                'rule-type': 'selection',
                'rule-action': 'includ',
                'object-locator': { 'schema-name': 's', 'table-name': 't' },
              },
            ],
          },
          'm.json',
        ),
      {
        message: [
          'm.json: rules[0] rule-id: missing; add a unique numeric "rule-id", e.g. "rule-id": "1"',
          'm.json: rules[0] rule-action: "includ" is not a selection rule-action; use one of: include, exclude, explicit (did you mean "include"?)',
        ].join('\n'),
      },
    );
  });

  it('warns about keys DMS ignores, with a did-you-mean (the DMS docs themselves misspell "length")', () => {
    const m = parseTableMapping(
      {
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': '1',
            'rule-action': 'include',
            'object-locator': { 'schema-name': 's', 'table-name': 't' },
            filter: [],
          },
          {
            'rule-type': 'transformation',
            'rule-id': '2',
            'rule-name': '2',
            'rule-action': 'add-column',
            'rule-target': 'column',
            'object-locator': { 'schema-name': 's', 'table-name': 't' },
            value: 'x',
            'data-type': { type: 'string', lenght: 50 },
          },
        ],
        comment: 'x',
      },
      'm.json',
    );
    assert.deepEqual(
      m.findings.map((f) => `${f.field}: ${f.message}`),
      [
        'comment: unknown key; a table-mapping file has only "rules". It is ignored',
        'rules[0].filter: unknown key in a selection rule; it is ignored (did you mean "filters"?)',
        'rules[1].data-type.lenght: unknown key; it is ignored (did you mean "length"?)',
      ],
    );
  });
});

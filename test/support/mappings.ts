// DMS table mappings the workflow tests share.

/** A realistic mapping: exclude a schema, filter rows, rename a table, drop a column, add a computed
 *  column, lower-case a schema's names. */
export const SAMPLE_MAPPING = {
  rules: [
    {
      'rule-type': 'selection',
      'rule-id': '1',
      'rule-name': 'everything',
      'object-locator': { 'schema-name': '%', 'table-name': '%' },
      'rule-action': 'include',
    },
    {
      'rule-type': 'selection',
      'rule-id': '2',
      'rule-name': 'not-audit',
      'object-locator': { 'schema-name': 'audit', 'table-name': '%' },
      'rule-action': 'exclude',
    },
    {
      'rule-type': 'selection',
      'rule-id': '3',
      'rule-name': 'recent-timesheets',
      'object-locator': { 'schema-name': 'hr', 'table-name': 'timesheets' },
      'rule-action': 'include',
      filters: [
        {
          'filter-type': 'source',
          'column-name': 'work_date',
          'filter-conditions': [{ 'filter-operator': 'gte', value: '2023-01-20' }],
        },
      ],
    },
    {
      'rule-type': 'transformation',
      'rule-id': '10',
      'rule-name': 'customers-are-clients',
      'rule-target': 'table',
      'object-locator': { 'schema-name': 'sales', 'table-name': 'customers' },
      'rule-action': 'rename',
      value: 'clients',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '11',
      'rule-name': 'drop-notes',
      'rule-target': 'column',
      'object-locator': { 'schema-name': 'sales', 'table-name': 'customers', 'column-name': 'notes' },
      'rule-action': 'remove-column',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '12',
      'rule-name': 'label',
      'rule-target': 'column',
      'object-locator': { 'schema-name': 'sales', 'table-name': 'customers' },
      'rule-action': 'add-column',
      value: 'label',
      expression: "upper($full_name)||' <'||$country_code||'>'",
      'data-type': { type: 'string', length: 300 },
    },
    {
      'rule-type': 'transformation',
      'rule-id': '13',
      'rule-name': 'lower-legacy-schema',
      'rule-target': 'schema',
      'object-locator': { 'schema-name': 'Legacy' },
      'rule-action': 'convert-lowercase',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '14',
      'rule-name': 'lower-legacy-tables',
      'rule-target': 'table',
      'object-locator': { 'schema-name': 'Legacy', 'table-name': '%' },
      'rule-action': 'convert-lowercase',
    },
    {
      'rule-type': 'transformation',
      'rule-id': '15',
      'rule-name': 'lower-legacy-columns',
      'rule-target': 'column',
      'object-locator': { 'schema-name': 'Legacy', 'table-name': '%', 'column-name': '%' },
      'rule-action': 'convert-lowercase',
    },
  ],
};

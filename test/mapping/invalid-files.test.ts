// Every file in fixtures/invalid is a DMS table mapping DMS would reject (or Ferry cannot honour), and
// every file in fixtures/invalid-settings a bad task-settings file. Each must fail with CONFIG_INVALID
// naming the file, the rule and field, what is wrong and the fix. The tables below are the contract.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorType, FerryError } from '../../src/errors';
import { compilePlan, defaultEngineSettings, parseTableMapping, parseTaskSettings } from '../../src/mapping';
import { FIXTURES, readJson, shopCatalog } from './helpers';

interface Case {
  /** Substrings the message must contain. */
  expect: string[];
  /** Problem lines; 1 unless the fixture has more. */
  lines?: number;
}

const OPERATORS = 'use one of: lte, ste, gte, eq, noteq, between, notbetween, null, notnull';

/** Checked by parseTableMapping alone. */
const MAPPING_CASES: Record<string, Case> = {
  'not-an-object.json': {
    expect: ['not-an-object.json: (top level): got a list; a table-mapping file is a JSON object'],
  },
  'no-rules.json': {
    expect: ['no-rules.json: rules: missing; add "rules": [ ... ] with at least one selection rule'],
  },
  'no-selection.json': { expect: ['no-selection.json: rules: no selection rule; DMS needs at least one'] },
  'bad-filter-operator.json': {
    expect: [
      `bad-filter-operator.json: rules[2] (rule-id 3) filters[0].filter-conditions[0].filter-operator: "lt" is not a DMS filter operator; ${OPERATORS}`,
    ],
  },
  'missing-rule-id.json': {
    expect: ['missing-rule-id.json: rules[0] rule-id: missing; add a unique numeric "rule-id"'],
  },
  'duplicate-rule-id.json': {
    expect: [
      'duplicate-rule-id.json: rules[1] (rule-id 1) rule-id: rule-id 1 is already used by rules[0]; give every rule its own rule-id',
    ],
  },
  'non-numeric-rule-id.json': {
    expect: ['non-numeric-rule-id.json: rules[0] rule-id: got "first"; DMS rule ids are numeric'],
  },
  'bad-rule-type.json': {
    expect: [
      'bad-rule-type.json: rules[1] (rule-id 2) rule-type: "selektion" is not a DMS rule type; use one of: selection, transformation, table-settings (did you mean "selection"?)',
    ],
  },
  'bad-selection-action.json': {
    expect: [
      'rules[0] (rule-id 1) rule-action: "includ" is not a selection rule-action; use one of: include, exclude, explicit (did you mean "include"?)',
    ],
  },
  'explicit-wildcard.json': {
    expect: [
      'rules[0] (rule-id 1) object-locator.table-name: "order%" has a wildcard',
      'use "rule-action": "include" for patterns',
    ],
  },
  'missing-table-name.json': {
    expect: [
      'rules[0] (rule-id 1) object-locator.table-name: missing; name the table, or "%" for all tables',
    ],
  },
  'bad-table-type.json': {
    expect: [
      'rules[0] (rule-id 1) object-locator.table-type: "views" is not a DMS table-type; use one of: table, view, all (did you mean "view"?)',
    ],
  },
  'filters-on-exclude.json': {
    expect: [
      'rules[1] (rule-id 2) filters: DMS applies filters only to include rules',
      'move the filters to the include rule',
    ],
  },
  'between-missing-end.json': {
    expect: [
      'rules[0] (rule-id 1) filters[0].filter-conditions[0].end-value: missing; use a string such as "10"',
    ],
  },
  'null-replicates-nothing.json': {
    expect: [
      'rules[0] (rule-id 1) filters[0].filter-conditions: negative conditions',
      'replicate no row at all in DMS',
      'add an inclusive condition',
    ],
  },
  'tablespace-target.json': {
    expect: [
      'rules[1] (rule-id 2) rule-target: "table-tablespace" works only for Oracle endpoints (DMS)',
      'remove the rule',
    ],
  },
  'rename-without-value.json': {
    expect: ['rules[1] (rule-id 2) value: missing; write the new name in "value"'],
  },
  'wrong-target-for-action.json': {
    expect: [
      'rules[1] (rule-id 2) rule-target: "change-data-type" does not apply to rule-target "table"; use "column"',
    ],
  },
  'bad-data-type.json': {
    expect: [
      'rules[1] (rule-id 2) data-type.type: "strng" is not a DMS data type; use one of: bytes, date',
      '(did you mean "string"?)',
    ],
  },
  'unsupported-function.json': {
    expect: [
      'rules[1] (rule-id 2) expression: function "concat" is not supported in DMS expressions; use one of: lower, upper,',
      'hash_sha256',
    ],
  },
  'define-pk-wildcard.json': {
    expect: [
      'rules[1] (rule-id 2) object-locator.table-name: "%" has a wildcard; define-primary-key needs the exact schema and table name',
    ],
  },
  'digits-mask-bad-value.json': {
    expect: [
      'rules[1] (rule-id 2) value: got "##"; the digits mask is one printable, non-space ASCII character, e.g. "#"',
    ],
  },
  'table-settings-wildcard.json': {
    expect: [
      'rules[1] (rule-id 2) object-locator.table-name: "%" has a wildcard; DMS needs the exact schema and table name in table-settings rules',
    ],
  },
  'ranges-boundary-length.json': {
    expect: [
      'rules[1] (rule-id 2) parallel-load.boundaries[1]: has 1 value(s) for 2 range column(s); give one value per column',
    ],
  },
  'subpartitions-auto.json': {
    expect: [
      'rules[1] (rule-id 2) parallel-load.type: "subpartitions-auto" works only for Oracle sources (DMS); use "ranges"',
    ],
  },
  'lob-limited-zero.json': {
    expect: [
      'rules[1] (rule-id 2) lob-settings.bulk-max-size: is 0; limited LOB mode needs a non-zero maximum in KB',
    ],
  },
  'many-problems.json': {
    expect: [
      'many-problems.json: rules[0] (rule-id 1) rule-action: "includ"',
      `many-problems.json: rules[1] (rule-id 2) filters[0].filter-conditions[0].filter-operator: "in" is not a DMS filter operator; ${OPERATORS}`,
      'many-problems.json: rules[2] (rule-id 3) object-locator.column-name: missing',
      'many-problems.json: rules[3] (rule-id 4) parallel-load.boundaries: missing',
    ],
    lines: 4,
  },
};

/** Valid to parse; refused by compilePlan against the sample catalog. */
const COMPILE_CASES: Record<string, Case> = {
  'filter-missing-column.json': {
    expect: [
      'filter-missing-column.json: rules[0] (rule-id 1) filters[0].column-name: sales.orders has no column "ordered" (did you mean "ordered_at"?); available columns: id, customer_id,',
    ],
  },
  'selection-matches-nothing.json': {
    expect: [
      'rules[0] (rule-id 1) object-locator: selection matches no table; the source has schemas: Legacy, audit, hr, inventory, public, sales (did you mean "sales"?)',
    ],
  },
  'two-tables-one-target.json': {
    expect: [
      'rules[2] (rule-id 3) value: sales.invoices and sales.orders both map to target sales.archive (rules 2, 3); DMS cannot load two source tables into one target table',
    ],
  },
  'hash-mask-on-text.json': {
    expect: [
      'rules[1] (rule-id 2) rule-action: sales.customers.full_name is a DMS nclob (text)',
      'add a change-data-type rule to "string" with a lower rule-id',
    ],
  },
  'ranges-on-float.json': {
    expect: [
      'rules[1] (rule-id 2) parallel-load.columns[0]: hr.employees.performance is double precision (DMS real8)',
      'use an integer, string or date column',
    ],
  },
  'partitions-auto-plain-table.json': {
    expect: [
      'rules[1] (rule-id 2) parallel-load.type: sales.orders is not a declaratively partitioned table',
      'use "ranges"',
    ],
  },
  'add-column-clash.json': {
    expect: [
      'rules[1] (rule-id 2) value: sales.customers already has a column "email"',
      'choose another name',
    ],
  },
  'expression-missing-column.json': {
    expect: [
      'rules[1] (rule-id 2) expression: $fullname: sales.customers has no column "fullname" (did you mean $full_name?)',
    ],
  },
  'include-column-missing.json': {
    expect: [
      'rules[2] (rule-id 3) object-locator.column-name: public.countries has no column "nmae" (did you mean "name"?); available columns: code, name',
    ],
  },
  'table-settings-missing-table.json': {
    expect: [
      'rules[1] (rule-id 2) object-locator: sales.order does not exist in the source (did you mean sales.orders?)',
    ],
  },
  'view-needs-table-type.json': {
    expect: [
      'rules[0] (rule-id 1) object-locator.table-type: "table" matches none of sales.order_summary (view); set "table-type": "view" or "all"',
    ],
  },
  'pk-def-missing-column.json': {
    expect: [
      'rules[1] (rule-id 2) primary-key-def.columns: audit.events_log has no target column "occured_at" (did you mean "occurred_at"?)',
    ],
  },
};

const SETTINGS_CASES: Record<string, Case> = {
  'not-an-object.json': {
    expect: ['not-an-object.json: (top level): got "settings"; a task-settings file is a JSON object'],
  },
  'max-subtasks-60.json': {
    expect: [
      'max-subtasks-60.json: FullLoadSettings.MaxFullLoadSubTasks: got 60; use a whole number from 1 to 49',
    ],
  },
  'prep-mode-typo.json': {
    expect: [
      'FullLoadSettings.TargetTablePrepMode: got "DROP_AND_CREAT"; use one of: DO_NOTHING, DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD (did you mean "DROP_AND_CREATE"?)',
    ],
  },
  'boolean-as-string.json': {
    expect: ['TargetMetadata.SupportLobs: got "true" (a string); use true or false (without quotes)'],
  },
  'lob-mode-missing.json': {
    expect: [
      'TargetMetadata.SupportLobs: is true but neither FullLobMode nor LimitedSizeLobMode is; set one of them to true',
    ],
  },
  'lob-max-zero.json': {
    expect: ['TargetMetadata.LobMaxSize: got 0; LimitedSizeLobMode needs a maximum from 1 to 102400 KB'],
  },
  'section-not-object.json': { expect: ['FullLoadSettings: got a list; use an object of settings'] },
  'validation-only-prep.json': {
    expect: [
      'ValidationSettings.ValidationOnly: is true with TargetTablePrepMode DROP_AND_CREATE; a validation-only task needs TargetTablePrepMode DO_NOTHING',
    ],
  },
  'stop-both.json': {
    expect: ['FullLoadSettings.StopTaskCachedChangesNotApplied: both StopTaskCachedChangesApplied and'],
  },
  'many-problems.json': {
    expect: [
      'many-problems.json: TargetMetadata.LobMaxSize: got 200000; use a whole number from 0 to 102400',
      'many-problems.json: TargetMetadata.TargetSchema: got 7; use a string',
      'many-problems.json: FullLoadSettings.CommitRate: got "10000" (a string); use a whole number from 1 to 50000',
      'many-problems.json: FullLoadSettings.MaxFullLoadSubTasks: got 0; use a whole number from 1 to 49',
      'many-problems.json: ErrorBehavior.DataErrorPolicy: got "IGNORE"; use one of: IGNORE_RECORD, LOG_ERROR, SUSPEND_TABLE, STOP_TASK',
      'many-problems.json: ChangeProcessingTuning.BatchApplyTimeoutMin: got 60, above BatchApplyTimeoutMax (30)',
    ],
    lines: 6,
  },
};

function expectInvalid(run: () => unknown, c: Case, file: string): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof FerryError, `${file}: expected a FerryError, got ${String(e)}`);
    assert.equal(e.type, ErrorType.CONFIG_INVALID);
    for (const s of c.expect)
      assert.ok(e.message.includes(s), `${file}: message lacks\n  ${s}\ngot\n  ${e.message}`);
    assert.equal(e.message.split('\n').length, c.lines ?? 1, `${file}: problem lines in\n${e.message}`);
    for (const line of e.message.split('\n'))
      assert.ok(line.startsWith(`${file}: `), `${file}: every line names the file: ${line}`);
    return true;
  });
}

describe('mapping: invalid table-mapping files', () => {
  const dir = path.join(FIXTURES, 'invalid');
  it('has a case for every fixture file, and at least 20', () => {
    const files = fs.readdirSync(dir).sort();
    assert.deepEqual(files, Object.keys({ ...MAPPING_CASES, ...COMPILE_CASES }).sort());
    assert.ok(files.length >= 20);
  });
  for (const [file, c] of Object.entries(MAPPING_CASES)) {
    it(file, () => expectInvalid(() => parseTableMapping(readJson(path.join(dir, file)), file), c, file));
  }
  for (const [file, c] of Object.entries(COMPILE_CASES)) {
    it(`${file} (against the catalog)`, () => {
      const mapping = parseTableMapping(readJson(path.join(dir, file)), file);
      expectInvalid(() => compilePlan(mapping, shopCatalog(), defaultEngineSettings()), c, file);
    });
  }
});

describe('mapping: invalid task-settings files', () => {
  const dir = path.join(FIXTURES, 'invalid-settings');
  it('has a case for every fixture file, and at least 5', () => {
    const files = fs.readdirSync(dir).sort();
    assert.deepEqual(files, Object.keys(SETTINGS_CASES).sort());
    assert.ok(files.length >= 5);
  });
  for (const [file, c] of Object.entries(SETTINGS_CASES)) {
    it(file, () => expectInvalid(() => parseTaskSettings(readJson(path.join(dir, file)), file), c, file));
  }
});

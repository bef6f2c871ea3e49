// DMS table-mapping JSON → TableMapping: every rule checked the way DMS checks it (and a few things DMS
// accepts but Ferry cannot honour refused with the reason), every problem collected, then one
// CONFIG_INVALID listing them all. Catalog-dependent checks (missing columns, empty selections)
// happen in compilePlan.
import { DMS_TYPE_NAMES, dmsToPostgres } from './data-types';
import { ExpressionError, parseExpression } from './expression';
import { FILTER_OPERATORS, nullSemantics } from './filters';
import { Problems, closest, didYouMean, show, type RulePosition } from './problems';
import type {
  DmsDataType,
  FilterCondition,
  FilterOperator,
  MappingRule,
  ParallelLoad,
  SelectionRule,
  SourceFilter,
  TableMapping,
  TableSettingsRule,
  TransformationAction,
  TransformationRule,
} from './types';
import { compilePattern, hasPercent } from './wildcard';

const RULE_TYPES = ['selection', 'transformation', 'table-settings'] as const;
const SELECTION_ACTIONS = ['include', 'exclude', 'explicit'] as const;
const TABLE_TYPES = ['table', 'view', 'all'] as const;
const RULE_TARGETS = ['schema', 'table', 'column', 'table-tablespace', 'index-tablespace'] as const;

/** Actions that change a name: they apply to schema, table and column targets alike. */
export const NAME_ACTIONS: readonly TransformationAction[] = [
  'rename',
  'convert-lowercase',
  'convert-uppercase',
  'add-prefix',
  'remove-prefix',
  'replace-prefix',
  'add-suffix',
  'remove-suffix',
  'replace-suffix',
];
const COLUMN_ACTIONS: readonly TransformationAction[] = [
  'remove-column',
  'include-column',
  'add-column',
  'change-data-type',
  'add-before-image-columns',
  'data-masking-digits-mask',
  'data-masking-digits-randomize',
  'data-masking-hash-mask',
];
const TRANSFORMATION_ACTIONS: readonly TransformationAction[] = [
  ...NAME_ACTIONS,
  ...COLUMN_ACTIONS,
  'define-primary-key',
];

const KNOWN_KEYS: Record<string, readonly string[]> = {
  selection: ['rule-type', 'rule-id', 'rule-name', 'rule-action', 'object-locator', 'load-order', 'filters'],
  transformation: [
    'rule-type',
    'rule-id',
    'rule-name',
    'rule-action',
    'rule-target',
    'object-locator',
    'value',
    'old-value',
    'data-type',
    'expression',
    'primary-key-def',
    'before-image-def',
  ],
  'table-settings': ['rule-type', 'rule-id', 'rule-name', 'object-locator', 'parallel-load', 'lob-settings'],
};
const LOCATOR_KEYS: Record<string, readonly string[]> = {
  selection: ['schema-name', 'table-name', 'table-type'],
  transformation: [
    'schema-name',
    'table-name',
    'column-name',
    'data-type',
    'table-tablespace-name',
    'index-tablespace-name',
  ],
  'table-settings': ['schema-name', 'table-name'],
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parse and validate a DMS table-mapping document. `file` prefixes every message. Throws FerryError
 * CONFIG_INVALID listing every problem; returns the rules with warnings in `findings`.
 */
export function parseTableMapping(json: unknown, file: string): TableMapping {
  const problems = new Problems(file);
  if (!isObject(json)) {
    problems.error(
      '(top level)',
      `got ${show(json)}; a table-mapping file is a JSON object: {"rules": [...]}`,
    );
    problems.throwIfAny();
  }
  const root = json as Json;
  for (const key of Object.keys(root)) {
    if (key !== 'rules')
      problems.warning(key, `unknown key; a table-mapping file has only "rules". It is ignored`);
  }
  if (!Array.isArray(root.rules)) {
    problems.error(
      'rules',
      root.rules === undefined
        ? 'missing; add "rules": [ ... ] with at least one selection rule'
        : `got ${show(root.rules)}; use a list of rules`,
    );
    problems.throwIfAny();
  }
  const rawRules = root.rules as unknown[];
  const rules: MappingRule[] = [];
  const ids = new Map<string, number>();

  rawRules.forEach((raw, index) => {
    const rule = parseRule(raw, index, problems);
    if (!rule) return;
    const earlier = ids.get(rule.id);
    if (earlier !== undefined) {
      problems.ruleError(
        { index, id: rule.id },
        'rule-id',
        `rule-id ${rule.id} is already used by rules[${earlier}]; give every rule its own rule-id`,
      );
    } else {
      ids.set(rule.id, index);
    }
    rules.push(rule);
  });

  if (!rawRules.some((r) => isObject(r) && r['rule-type'] === 'selection')) {
    problems.error(
      'rules',
      'no selection rule; DMS needs at least one, e.g. {"rule-type": "selection", "rule-id": "1", "rule-name": "1", "object-locator": {"schema-name": "%", "table-name": "%"}, "rule-action": "include"}',
    );
  }
  checkDuplicateTableSettings(rules, problems);
  problems.throwIfAny();
  return { file, rules, findings: problems.findings, implicit: false };
}

function parseRule(raw: unknown, index: number, problems: Problems): MappingRule | undefined {
  if (!isObject(raw)) {
    problems.ruleError(
      { index },
      undefined,
      `got ${show(raw)}; each rule is an object with "rule-type", "rule-id", ...`,
    );
    return undefined;
  }
  // rule-id first: every later message names it.
  const rawId = raw['rule-id'];
  let id: string | undefined;
  if (rawId === undefined) {
    problems.ruleError({ index }, 'rule-id', 'missing; add a unique numeric "rule-id", e.g. "rule-id": "1"');
  } else if (typeof rawId === 'number' && Number.isInteger(rawId) && rawId >= 0) {
    id = String(rawId);
  } else if (typeof rawId === 'string' && /^\d+$/.test(rawId.trim())) {
    id = rawId.trim();
  } else {
    problems.ruleError(
      { index },
      'rule-id',
      `got ${show(rawId)}; DMS rule ids are numeric, e.g. "rule-id": "1"`,
    );
  }
  const pos: RulePosition = { index, id };
  const rawName = raw['rule-name'];
  if (rawName !== undefined && typeof rawName !== 'string' && typeof rawName !== 'number') {
    problems.ruleError(pos, 'rule-name', `got ${show(rawName)}; use a string`);
  }
  const name = rawName === undefined ? (id ?? '') : String(rawName);

  const type = raw['rule-type'];
  if (type === undefined) {
    problems.ruleError(pos, 'rule-type', `missing; add "rule-type": one of ${RULE_TYPES.join(', ')}`);
    return undefined;
  }
  if (type === 'post-processing') {
    problems.ruleError(
      pos,
      'rule-type',
      '"post-processing" rules tag S3 objects (DMS S3 targets only); a PostgreSQL target has nothing to tag: remove the rule',
    );
    return undefined;
  }
  if (typeof type !== 'string' || !(RULE_TYPES as readonly string[]).includes(type)) {
    problems.ruleError(
      pos,
      'rule-type',
      `${show(type)} is not a DMS rule type; use one of: ${RULE_TYPES.join(', ')}${typeof type === 'string' ? didYouMean(type, RULE_TYPES) : ''}`,
    );
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS[type].includes(key)) {
      const near = closest(key, KNOWN_KEYS[type]);
      problems.ruleWarning(
        pos,
        key,
        `unknown key in a ${type} rule; it is ignored${near ? ` (did you mean "${near}"?)` : ''}`,
      );
    }
  }
  // Without a usable rule-id the body is still checked, so every problem is reported at once.
  const ref = { index, id: id ?? '', name };
  const ctx = new RuleContext(problems, pos);
  const rule =
    type === 'selection'
      ? parseSelection(raw, ref, ctx)
      : type === 'transformation'
        ? parseTransformation(raw, ref, ctx)
        : parseTableSettings(raw, ref, ctx);
  return id === undefined ? undefined : rule;
}

/** Field readers that report against one rule. */
class RuleContext {
  constructor(
    readonly problems: Problems,
    readonly pos: RulePosition,
  ) {}

  error(field: string | undefined, message: string): void {
    this.problems.ruleError(this.pos, field, message);
  }

  warn(field: string | undefined, message: string): void {
    this.problems.ruleWarning(this.pos, field, message);
  }

  /** A required non-empty string (names, values). */
  string(obj: Json, key: string, field: string, fix: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) {
      this.error(field, `missing; ${fix}`);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.error(field, `got ${show(v)}; use a string`);
      return undefined;
    }
    if (v === '') {
      this.error(field, `is empty; ${fix}`);
      return undefined;
    }
    return v;
  }

  optionalString(obj: Json, key: string, field: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      this.error(field, `got ${show(v)}; use a string`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[], what: string): T | undefined {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    this.error(
      field,
      `${show(value)} is not ${what}; use one of: ${allowed.join(', ')}${typeof value === 'string' ? didYouMean(value, allowed) : ''}`,
    );
    return undefined;
  }

  /** A DMS value that is a string in the docs but often written as a number. */
  scalar(value: unknown, field: string, fix: string): string | undefined {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    this.error(field, value === undefined ? `missing; ${fix}` : `got ${show(value)}; ${fix}`);
    return undefined;
  }

  /** A whole number written as a number or a numeric string ("4092"); '' counts as absent. */
  integer(value: unknown, field: string, min: number, max: number): number | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.error(field, `got ${show(value)}; use a whole number from ${min} to ${max}`);
      return undefined;
    }
    return n;
  }

  locator(raw: Json, ruleType: string): Json | undefined {
    const loc = raw['object-locator'];
    if (!isObject(loc)) {
      this.error(
        'object-locator',
        loc === undefined
          ? 'missing; add "object-locator": {"schema-name": ..., "table-name": ...}'
          : `got ${show(loc)}; use an object with "schema-name" and "table-name"`,
      );
      return undefined;
    }
    for (const key of Object.keys(loc)) {
      if (!LOCATOR_KEYS[ruleType].includes(key)) {
        const near = closest(key, LOCATOR_KEYS[ruleType]);
        this.warn(
          `object-locator.${key}`,
          `unknown key; it is ignored${near ? ` (did you mean "${near}"?)` : ''}`,
        );
      }
    }
    return loc;
  }

  /** Checks a DMS pattern compiles (brackets); returns false when it does not. */
  pattern(text: string, field: string): boolean {
    try {
      compilePattern(text);
      return true;
    } catch (e) {
      this.error(field, `${show(text)} is not a valid DMS name pattern: ${(e as Error).message}`);
      return false;
    }
  }
}

// ---- selection ----------------------------------------------------------------------------------

function parseSelection(
  raw: Json,
  ref: { index: number; id: string; name: string },
  c: RuleContext,
): SelectionRule | undefined {
  const action = c.oneOf(raw['rule-action'], 'rule-action', SELECTION_ACTIONS, 'a selection rule-action');
  const loc = c.locator(raw, 'selection');
  if (!loc || !action) return undefined;
  const schema = c.string(
    loc,
    'schema-name',
    'object-locator.schema-name',
    'name the schema, or "%" for all schemas',
  );
  const table = c.string(
    loc,
    'table-name',
    'object-locator.table-name',
    'name the table, or "%" for all tables',
  );
  const tableType =
    loc['table-type'] === undefined
      ? 'table'
      : c.oneOf(loc['table-type'], 'object-locator.table-type', TABLE_TYPES, 'a DMS table-type');
  if (schema === undefined || table === undefined || tableType === undefined) return undefined;
  if (action === 'explicit') {
    for (const [field, value] of [
      ['object-locator.schema-name', schema],
      ['object-locator.table-name', table],
    ] as const) {
      if (hasPercent(value)) {
        c.error(
          field,
          `${show(value)} has a wildcard, but an explicit rule selects exactly one table by its exact name; use "rule-action": "include" for patterns`,
        );
      }
    }
  } else {
    c.pattern(schema, 'object-locator.schema-name');
    c.pattern(table, 'object-locator.table-name');
  }

  let loadOrder = 0;
  if (raw['load-order'] !== undefined)
    loadOrder = c.integer(raw['load-order'], 'load-order', 0, 2147483647) ?? 0;

  const filters: SourceFilter[] = [];
  const rawFilters = raw.filters;
  if (rawFilters !== undefined && rawFilters !== null) {
    if (!Array.isArray(rawFilters)) {
      c.error('filters', `got ${show(rawFilters)}; use a list of filters`);
    } else if (rawFilters.length > 0 && action !== 'include') {
      c.error(
        'filters',
        `DMS applies filters only to include rules and would ignore them on an ${action} rule; ${
          action === 'explicit'
            ? 'use "rule-action": "include" (with the exact names it selects the same table)'
            : 'move the filters to the include rule that selects these tables'
        }`,
      );
    } else {
      rawFilters.forEach((f, i) => {
        const parsed = parseFilter(f, `filters[${i}]`, c);
        if (parsed) filters.push(parsed);
      });
    }
  }
  return { type: 'selection', ...ref, action, schema, table, tableType, loadOrder, filters };
}

function parseFilter(raw: unknown, field: string, c: RuleContext): SourceFilter | undefined {
  if (!isObject(raw)) {
    c.error(
      field,
      `got ${show(raw)}; a filter is an object with "filter-type", "column-name" and "filter-conditions"`,
    );
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!['filter-type', 'column-name', 'filter-conditions'].includes(key)) {
      c.warn(
        `${field}.${key}`,
        `unknown key; it is ignored${didYouMean(key, ['filter-type', 'column-name', 'filter-conditions'])}`,
      );
    }
  }
  if (raw['filter-type'] !== 'source') {
    c.error(
      `${field}.filter-type`,
      raw['filter-type'] === undefined
        ? 'missing; add "filter-type": "source"'
        : `${show(raw['filter-type'])} is not a filter type; use "source"`,
    );
  }
  const column = c.string(raw, 'column-name', `${field}.column-name`, 'name the source column to filter on');
  const rawConditions = raw['filter-conditions'];
  if (!Array.isArray(rawConditions) || rawConditions.length === 0) {
    c.error(
      `${field}.filter-conditions`,
      rawConditions === undefined
        ? 'missing; add "filter-conditions": [{"filter-operator": "eq", "value": "..."}]'
        : `got ${show(rawConditions)}; use a non-empty list of conditions`,
    );
    return undefined;
  }
  const conditions: FilterCondition[] = [];
  rawConditions.forEach((rc, j) => {
    const cond = parseCondition(rc, `${field}.filter-conditions[${j}]`, c);
    if (cond) conditions.push(cond);
  });
  if (column === undefined || conditions.length !== rawConditions.length) return undefined;
  const filter = { column, conditions };
  const semantics = nullSemantics(filter);
  if (semantics === 'nothing') {
    c.error(
      `${field}.filter-conditions`,
      'negative conditions (noteq, notbetween, notnull) with a null condition and no inclusive one replicate no row at all in DMS; split them into separate filters or add an inclusive condition',
    );
  } else if (semantics === 'null-dropped') {
    c.warn(
      `${field}.filter-conditions`,
      'a null condition mixed with inclusive and negative conditions does not bring NULL rows back in DMS; Ferry drops it the same way',
    );
  }
  return filter;
}

function parseCondition(raw: unknown, field: string, c: RuleContext): FilterCondition | undefined {
  if (!isObject(raw)) {
    c.error(
      field,
      `got ${show(raw)}; a condition is an object such as {"filter-operator": "eq", "value": "10"}`,
    );
    return undefined;
  }
  const op = raw['filter-operator'];
  if (typeof op !== 'string' || !(FILTER_OPERATORS as readonly string[]).includes(op)) {
    c.error(
      `${field}.filter-operator`,
      op === undefined
        ? `missing; use one of: ${FILTER_OPERATORS.join(', ')}`
        : `${show(op)} is not a DMS filter operator; use one of: ${FILTER_OPERATORS.join(', ')}`,
    );
    return undefined;
  }
  const operator = op as FilterOperator;
  const allowed = ['filter-operator', ...valueKeys(operator)];
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key)) {
      if (['value', 'start-value', 'end-value'].includes(key)) {
        c.error(
          `${field}.${key}`,
          `"${operator}" takes ${
            valueKeys(operator).length === 0
              ? 'no value'
              : valueKeys(operator)
                  .map((k) => `"${k}"`)
                  .join(' and ')
          }; remove "${key}"`,
        );
      } else {
        c.warn(`${field}.${key}`, `unknown key; it is ignored${didYouMean(key, allowed)}`);
      }
    }
  }
  const fix = 'use a string such as "10" or "2024-01-31"';
  switch (operator) {
    case 'lte':
    case 'ste':
    case 'gte':
    case 'eq':
    case 'noteq': {
      const value = c.scalar(raw.value, `${field}.value`, fix);
      return value === undefined ? undefined : { operator, value };
    }
    case 'between':
    case 'notbetween': {
      const start = c.scalar(raw['start-value'], `${field}.start-value`, fix);
      const end = c.scalar(raw['end-value'], `${field}.end-value`, fix);
      return start === undefined || end === undefined ? undefined : { operator, start, end };
    }
    default:
      return { operator };
  }
}

function valueKeys(op: FilterOperator): string[] {
  if (op === 'between' || op === 'notbetween') return ['start-value', 'end-value'];
  if (op === 'null' || op === 'notnull') return [];
  return ['value'];
}

// ---- transformation -----------------------------------------------------------------------------

function parseTransformation(
  raw: Json,
  ref: { index: number; id: string; name: string },
  c: RuleContext,
): TransformationRule | undefined {
  const action = c.oneOf(
    raw['rule-action'],
    'rule-action',
    TRANSFORMATION_ACTIONS,
    'a DMS transformation rule-action',
  );
  const rawTarget = raw['rule-target'];
  if (rawTarget === 'table-tablespace' || rawTarget === 'index-tablespace') {
    c.error(
      'rule-target',
      `"${rawTarget}" works only for Oracle endpoints (DMS); PostgreSQL→PostgreSQL has no tablespace transformation: remove the rule`,
    );
    return undefined;
  }
  const target =
    rawTarget === undefined
      ? (c.error('rule-target', `missing; add "rule-target": one of schema, table, column`), undefined)
      : c.oneOf(rawTarget, 'rule-target', RULE_TARGETS, 'a DMS rule-target');
  const loc = c.locator(raw, 'transformation');
  if (!action || !target || !loc) return undefined;
  const ruleTarget = target as 'schema' | 'table' | 'column';

  const allowedTargets: readonly string[] = NAME_ACTIONS.includes(action)
    ? ['schema', 'table', 'column']
    : action === 'define-primary-key'
      ? ['table']
      : ['column'];
  if (!allowedTargets.includes(ruleTarget)) {
    c.error(
      'rule-target',
      `"${action}" does not apply to rule-target "${ruleTarget}"; use ${allowedTargets.map((t) => `"${t}"`).join(' or ')}`,
    );
    return undefined;
  }

  const schema = c.string(
    loc,
    'schema-name',
    'object-locator.schema-name',
    'name the schema, or "%" for all schemas',
  );
  let table: string | undefined;
  let column: string | undefined;
  const tableLevelColumnAction = action === 'add-column' || action === 'add-before-image-columns';
  if (ruleTarget !== 'schema') {
    table = c.string(loc, 'table-name', 'object-locator.table-name', 'name the table, or "%" for all tables');
  } else if (loc['table-name'] !== undefined) {
    c.warn('object-locator.table-name', 'a schema rule matches schemas only; table-name is ignored');
  }
  if (ruleTarget === 'column' && !tableLevelColumnAction) {
    column = c.string(
      loc,
      'column-name',
      'object-locator.column-name',
      'name the column, or "%" for all columns',
    );
  } else if (loc['column-name'] !== undefined) {
    c.warn(
      'object-locator.column-name',
      tableLevelColumnAction
        ? `"${action}" works on the whole table; column-name is ignored`
        : `a ${ruleTarget} rule matches ${ruleTarget}s only; column-name is ignored`,
    );
  }
  const locDataType = c.optionalString(loc, 'data-type', 'object-locator.data-type');
  if (locDataType !== undefined && ruleTarget !== 'column') {
    c.warn('object-locator.data-type', 'only column rules match by data type; it is ignored');
  }
  if (schema === undefined || (ruleTarget !== 'schema' && table === undefined)) return undefined;
  if (ruleTarget === 'column' && !tableLevelColumnAction && column === undefined) return undefined;
  for (const [field, value] of [
    ['object-locator.schema-name', schema],
    ['object-locator.table-name', table],
    ['object-locator.column-name', column],
  ] as const) {
    if (value !== undefined) c.pattern(value, field);
  }

  const rule: TransformationRule = {
    type: 'transformation',
    ...ref,
    action,
    target: ruleTarget,
    locator: {
      schema,
      ...(table !== undefined ? { table } : {}),
      ...(column !== undefined ? { column } : {}),
      ...(locDataType !== undefined && ruleTarget === 'column' ? { dataType: locDataType } : {}),
    },
  };

  const has = (key: string) => raw[key] !== undefined && raw[key] !== null;
  const ignored = (key: string, why: string) => {
    if (has(key)) c.warn(key, `${why}; it is ignored`);
  };
  if (has('expression') && action !== 'add-column') {
    c.error(
      'expression',
      action === 'rename'
        ? 'a rename computed by an expression is not supported: Ferry fixes every target name when it plans; write the new name in "value"'
        : `"${action}" takes no expression; only add-column computes a value from an expression`,
    );
  }

  switch (action) {
    case 'rename':
      rule.value = c.string(raw, 'value', 'value', 'write the new name in "value"');
      break;
    case 'add-prefix':
    case 'remove-prefix':
    case 'add-suffix':
    case 'remove-suffix':
      rule.value = c.string(
        raw,
        'value',
        'value',
        `write the ${action.endsWith('prefix') ? 'prefix' : 'suffix'} in "value"`,
      );
      break;
    case 'replace-prefix':
    case 'replace-suffix': {
      const what = action === 'replace-prefix' ? 'prefix' : 'suffix';
      rule.oldValue = c.string(raw, 'old-value', 'old-value', `write the ${what} to replace in "old-value"`);
      const value = raw.value;
      if (value === undefined || value === null)
        c.error('value', `missing; write the new ${what} in "value" ("" removes it)`);
      else if (typeof value !== 'string') c.error('value', `got ${show(value)}; use a string`);
      else rule.value = value;
      break;
    }
    case 'convert-lowercase':
    case 'convert-uppercase':
    case 'remove-column':
    case 'include-column':
    case 'data-masking-digits-randomize':
    case 'data-masking-hash-mask':
      ignored('value', `"${action}" takes no value`);
      break;
    case 'data-masking-digits-mask': {
      const v = raw.value;
      if (typeof v !== 'string' || !/^[\x21-\x7e]$/.test(v)) {
        c.error(
          'value',
          `${v === undefined ? 'missing' : `got ${show(v)}`}; the digits mask is one printable, non-space ASCII character, e.g. "#"`,
        );
      } else {
        rule.value = v;
      }
      break;
    }
    case 'add-column':
      rule.value = c.string(raw, 'value', 'value', 'write the new column name in "value"');
      rule.dataType = parseDataType(
        raw['data-type'],
        c,
        'add-column needs the new column\'s "data-type", e.g. {"type": "string", "length": 50}',
      );
      if (has('expression')) {
        const expr = raw.expression;
        if (typeof expr !== 'string')
          c.error('expression', `got ${show(expr)}; use a string with a SQLite expression`);
        else {
          try {
            parseExpression(expr);
            rule.expression = expr;
          } catch (e) {
            if (!(e instanceof ExpressionError)) throw e;
            c.error('expression', e.message);
          }
        }
      }
      break;
    case 'change-data-type':
      rule.dataType = parseDataType(
        raw['data-type'],
        c,
        'change-data-type needs "data-type", e.g. {"type": "int8"}',
      );
      break;
    case 'define-primary-key': {
      for (const [field, value] of [
        ['object-locator.schema-name', schema],
        ['object-locator.table-name', table!],
      ] as const) {
        if (hasPercent(value))
          c.error(
            field,
            `${show(value)} has a wildcard; define-primary-key needs the exact schema and table name`,
          );
      }
      rule.primaryKey = parsePrimaryKeyDef(raw['primary-key-def'], c);
      break;
    }
    case 'add-before-image-columns': {
      rule.beforeImage = parseBeforeImageDef(raw['before-image-def'], c);
      c.warn(
        undefined,
        'DMS documents before-image columns for Kinesis and Kafka targets; on a PostgreSQL target Ferry fills them with the current row values during full load',
      );
      break;
    }
  }
  if (action !== 'add-column' && action !== 'change-data-type')
    ignored('data-type', `"${action}" takes no data-type`);
  if (action !== 'define-primary-key') ignored('primary-key-def', `"${action}" takes no primary-key-def`);
  if (action !== 'add-before-image-columns')
    ignored('before-image-def', `"${action}" takes no before-image-def`);
  if (!action.startsWith('replace-')) ignored('old-value', `"${action}" takes no old-value`);
  return rule;
}

function parseDataType(raw: unknown, c: RuleContext, fix: string): DmsDataType | undefined {
  if (!isObject(raw)) {
    c.error('data-type', raw === undefined ? `missing; ${fix}` : `got ${show(raw)}; ${fix}`);
    return undefined;
  }
  const keys = ['type', 'length', 'precision', 'scale'];
  for (const key of Object.keys(raw)) {
    if (!keys.includes(key)) c.warn(`data-type.${key}`, `unknown key; it is ignored${didYouMean(key, keys)}`);
  }
  const type = raw.type;
  if (typeof type !== 'string' || !(DMS_TYPE_NAMES as readonly string[]).includes(type.toLowerCase())) {
    c.error(
      'data-type.type',
      `${type === undefined ? 'missing' : `${show(type)} is not a DMS data type`}; use one of: ${DMS_TYPE_NAMES.join(', ')}${typeof type === 'string' ? didYouMean(type, DMS_TYPE_NAMES) : ''}`,
    );
    return undefined;
  }
  const dt: DmsDataType = { type: type.toLowerCase() };
  const length = c.integer(raw.length, 'data-type.length', 1, 2147483647);
  const precision = c.integer(raw.precision, 'data-type.precision', 0, 1000);
  const scale = c.integer(raw.scale, 'data-type.scale', 0, 1000);
  if (length !== undefined) dt.length = length;
  if (precision !== undefined) dt.precision = precision;
  if (scale !== undefined) dt.scale = scale;
  const pg = dmsToPostgres(dt);
  if ('error' in pg) {
    c.error('data-type', pg.error);
    return undefined;
  }
  return dt;
}

function parsePrimaryKeyDef(raw: unknown, c: RuleContext): TransformationRule['primaryKey'] {
  if (!isObject(raw)) {
    c.error(
      'primary-key-def',
      `${raw === undefined ? 'missing' : `got ${show(raw)}`}; add "primary-key-def": {"name": "...", "columns": ["..."]}`,
    );
    return undefined;
  }
  const name = c.string(raw, 'name', 'primary-key-def.name', 'name the key');
  const origin =
    raw.origin === undefined
      ? 'primary-key'
      : c.oneOf(
          raw.origin,
          'primary-key-def.origin',
          ['primary-key', 'unique-index'] as const,
          'a key origin',
        );
  const columns = raw.columns;
  if (
    !Array.isArray(columns) ||
    columns.length === 0 ||
    !columns.every((x) => typeof x === 'string' && x !== '')
  ) {
    c.error(
      'primary-key-def.columns',
      `${columns === undefined ? 'missing' : `got ${show(columns)}`}; list the key columns in order, e.g. ["id"]`,
    );
    return undefined;
  }
  if (new Set(columns).size !== columns.length) {
    c.error('primary-key-def.columns', 'a column is listed twice; list each key column once');
  }
  if (name === undefined || origin === undefined) return undefined;
  return { name, origin, columns: columns as string[] };
}

function parseBeforeImageDef(raw: unknown, c: RuleContext): TransformationRule['beforeImage'] {
  if (!isObject(raw)) {
    c.error(
      'before-image-def',
      `${raw === undefined ? 'missing' : `got ${show(raw)}`}; add "before-image-def": {"column-prefix": "BI_", "column-suffix": "", "column-filter": "pk-only"}`,
    );
    return undefined;
  }
  const prefix =
    raw['column-prefix'] === undefined
      ? 'BI_'
      : c.optionalString(raw, 'column-prefix', 'before-image-def.column-prefix');
  const suffix =
    raw['column-suffix'] === undefined
      ? ''
      : c.optionalString(raw, 'column-suffix', 'before-image-def.column-suffix');
  const filter =
    raw['column-filter'] === undefined
      ? 'pk-only'
      : c.oneOf(
          raw['column-filter'],
          'before-image-def.column-filter',
          ['pk-only', 'non-lob', 'all'] as const,
          'a column-filter',
        );
  if (prefix === undefined || suffix === undefined || filter === undefined) return undefined;
  if (prefix === '' && suffix === '') {
    c.error(
      'before-image-def',
      'column-prefix and column-suffix are both empty, so before-image columns would clash with the columns they image; set one of them',
    );
    return undefined;
  }
  return { prefix, suffix, filter };
}

// ---- table-settings -------------------------------------------------------------------------------

function parseTableSettings(
  raw: Json,
  ref: { index: number; id: string; name: string },
  c: RuleContext,
): TableSettingsRule | undefined {
  const loc = c.locator(raw, 'table-settings');
  if (!loc) return undefined;
  const schema = c.string(loc, 'schema-name', 'object-locator.schema-name', 'name the schema exactly');
  const table = c.string(loc, 'table-name', 'object-locator.table-name', 'name the table exactly');
  for (const [field, value] of [
    ['object-locator.schema-name', schema],
    ['object-locator.table-name', table],
  ] as const) {
    if (value !== undefined && hasPercent(value)) {
      c.error(
        field,
        `${show(value)} has a wildcard; DMS needs the exact schema and table name in table-settings rules`,
      );
    }
  }
  const rule: TableSettingsRule = {
    type: 'table-settings',
    ...ref,
    schema: schema ?? '',
    table: table ?? '',
  };
  if (raw['parallel-load'] === undefined && raw['lob-settings'] === undefined) {
    c.error(
      undefined,
      'a table-settings rule needs "parallel-load" or "lob-settings"; add one or remove the rule',
    );
  }
  if (raw['parallel-load'] !== undefined) rule.parallelLoad = parseParallelLoad(raw['parallel-load'], c);
  if (raw['lob-settings'] !== undefined) rule.lob = parseLobSettings(raw['lob-settings'], c);
  return schema === undefined || table === undefined ? undefined : rule;
}

const PARALLEL_LOAD_TYPES = [
  'ranges',
  'none',
  'partitions-auto',
  'partitions-list',
  'subpartitions-auto',
] as const;

function parseParallelLoad(raw: unknown, c: RuleContext): ParallelLoad | undefined {
  if (!isObject(raw)) {
    c.error(
      'parallel-load',
      `got ${show(raw)}; use an object such as {"type": "ranges", "columns": [...], "boundaries": [...]}`,
    );
    return undefined;
  }
  const type = c.oneOf(raw.type, 'parallel-load.type', PARALLEL_LOAD_TYPES, 'a DMS parallel-load type');
  const known: Record<string, readonly string[]> = {
    ranges: ['type', 'columns', 'boundaries'],
    none: ['type'],
    'partitions-auto': ['type'],
    'partitions-list': ['type', 'partitions', 'subpartitions'],
    'subpartitions-auto': ['type'],
  };
  if (type !== undefined) {
    for (const key of Object.keys(raw)) {
      if (!known[type].includes(key)) {
        c.warn(
          `parallel-load.${key}`,
          [
            'number-of-partitions',
            'collection-count-from-metadata',
            'max-records-skip-per-page',
            'batch-size',
          ].includes(key)
            ? 'is a MongoDB/DocumentDB setting; it is ignored'
            : `unknown key for type "${type}"; it is ignored${didYouMean(key, known[type])}`,
        );
      }
    }
  }
  switch (type) {
    case undefined:
      return undefined;
    case 'subpartitions-auto':
      c.error(
        'parallel-load.type',
        '"subpartitions-auto" works only for Oracle sources (DMS); use "ranges" or "partitions-auto"',
      );
      return undefined;
    case 'none':
      return { type };
    case 'partitions-auto':
      c.warn(
        'parallel-load.type',
        'DMS supports only "ranges" for a PostgreSQL source and would not run this file; Ferry copies each partition of a declaratively partitioned table as one segment',
      );
      return { type };
    case 'partitions-list': {
      c.warn(
        'parallel-load.type',
        'DMS supports only "ranges" for a PostgreSQL source and would not run this file; Ferry copies each listed partition as one segment',
      );
      if (raw.subpartitions !== undefined) {
        c.error(
          'parallel-load.subpartitions',
          'subpartitions work only for Oracle sources (DMS); remove "subpartitions"',
        );
      }
      const partitions = raw.partitions;
      if (
        !Array.isArray(partitions) ||
        partitions.length === 0 ||
        !partitions.every((x) => typeof x === 'string' && x !== '')
      ) {
        c.error(
          'parallel-load.partitions',
          `${partitions === undefined ? 'missing' : `got ${show(partitions)}`}; list partition names, e.g. ["payments_2023", "payments_2024"]`,
        );
        return undefined;
      }
      return { type, partitions: partitions as string[] };
    }
    case 'ranges': {
      const columns = raw.columns;
      const boundaries = raw.boundaries;
      let ok = true;
      if (
        !Array.isArray(columns) ||
        columns.length === 0 ||
        !columns.every((x) => typeof x === 'string' && x !== '')
      ) {
        c.error(
          'parallel-load.columns',
          `${columns === undefined ? 'missing' : `got ${show(columns)}`}; list 1 to 10 column names, most significant first`,
        );
        ok = false;
      } else if (columns.length > 10) {
        c.error('parallel-load.columns', `lists ${columns.length} columns; DMS allows at most 10`);
        ok = false;
      } else if (new Set(columns).size !== columns.length) {
        c.error('parallel-load.columns', 'a column is listed twice; list each range column once');
        ok = false;
      }
      if (!Array.isArray(boundaries) || boundaries.length === 0) {
        c.error(
          'parallel-load.boundaries',
          `${boundaries === undefined ? 'missing' : `got ${show(boundaries)}`}; list upper bounds, one array of column values per segment, e.g. [["1000"], ["2000"]]`,
        );
        return undefined;
      }
      const out: string[][] = [];
      boundaries.forEach((b, i) => {
        const field = `parallel-load.boundaries[${i}]`;
        if (!Array.isArray(b) || b.length === 0) {
          c.error(field, `got ${show(b)}; use an array with one value per range column`);
          ok = false;
          return;
        }
        if (Array.isArray(columns) && b.length !== columns.length) {
          c.error(
            field,
            `has ${b.length} value(s) for ${columns.length} range column(s); give one value per column, in the order of "columns"`,
          );
          ok = false;
        }
        const values = b.map((v, j) => c.scalar(v, `${field}[${j}]`, 'use a string value'));
        if (values.some((v) => v === undefined)) ok = false;
        else out.push(values as string[]);
      });
      return ok ? { type, columns: columns as string[], boundaries: out } : undefined;
    }
  }
}

function parseLobSettings(raw: unknown, c: RuleContext): TableSettingsRule['lob'] {
  if (!isObject(raw)) {
    c.error(
      'lob-settings',
      `got ${show(raw)}; use an object such as {"mode": "limited", "bulk-max-size": "64"}`,
    );
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!['mode', 'bulk-max-size'].includes(key)) {
      c.warn(
        `lob-settings.${key}`,
        `unknown key; it is ignored${didYouMean(key, ['mode', 'bulk-max-size'])}`,
      );
    }
  }
  const mode =
    raw.mode === undefined
      ? 'limited'
      : c.oneOf(raw.mode, 'lob-settings.mode', ['limited', 'unlimited', 'none'] as const, 'a DMS LOB mode');
  const size =
    raw['bulk-max-size'] === undefined
      ? undefined
      : c.integer(raw['bulk-max-size'], 'lob-settings.bulk-max-size', 0, 2147483647);
  if (mode === undefined) return undefined;
  if (mode === 'limited' && !size) {
    c.error(
      'lob-settings.bulk-max-size',
      `${raw['bulk-max-size'] === undefined ? 'missing' : 'is 0'}; limited LOB mode needs a non-zero maximum in KB, e.g. "bulk-max-size": "64" (or use "mode": "unlimited")`,
    );
    return undefined;
  }
  if (mode === 'unlimited' && size) {
    c.warn(
      'lob-settings.bulk-max-size',
      'unlimited mode with a non-zero bulk-max-size is DMS "combination" LOB mode, which only Db2 and SAP ASE endpoints support; Ferry copies every LOB whole',
    );
  }
  return { mode, bulkMaxSizeKb: size ?? 0 };
}

function checkDuplicateTableSettings(rules: MappingRule[], problems: Problems): void {
  const seen = new Map<string, { parallel?: TableSettingsRule; lob?: TableSettingsRule }>();
  for (const rule of rules) {
    if (rule.type !== 'table-settings') continue;
    const key = JSON.stringify([rule.schema, rule.table]);
    const entry = seen.get(key) ?? {};
    for (const aspect of ['parallel', 'lob'] as const) {
      const present = aspect === 'parallel' ? rule.parallelLoad : rule.lob;
      if (!present) continue;
      const earlier = entry[aspect];
      if (earlier) {
        problems.ruleError(
          { index: rule.index, id: rule.id },
          aspect === 'parallel' ? 'parallel-load' : 'lob-settings',
          `${rule.schema}.${rule.table} already has ${aspect === 'parallel' ? 'parallel-load' : 'lob-settings'} from rule-id ${earlier.id}; keep one`,
        );
      } else {
        entry[aspect] = rule;
      }
    }
    seen.set(key, entry);
  }
}

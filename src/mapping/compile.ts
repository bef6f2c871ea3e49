// The table-mapping compiler: a validated DMS table mapping + the live source catalog + task settings
// → a MigrationPlan (per selected table: target names and types, columns and their SQL, row filter,
// segments, LOB handling). A pure function; every problem it finds is reported at once.
//
// DMS semantics it implements, and the choices where DMS documents none:
// - Selection: a table is selected when at least one include/explicit rule matches it and no exclude
//   rule does; exclude wins whatever the rule order (the DMS example `include Test.%` + `exclude
//   Test.DMS%` works with the rules in either order). An explicit rule is an exact-name include.
//   Views match only rules with table-type view or all; a selected view lands as a table.
// - System schemas (pg_catalog, information_schema, pg_toast, pg_temp_*) and Ferry's own `ferry`
//   schema never match a wildcard; naming one exactly is an error.
// - Filters come from the one include rule (with filters) matching a table; two such rules are an
//   error, since DMS documents no way to merge them.
// - Transformations: when several rules of one kind (name, type, drop, mask, key) match one object,
//   DMS applies the lowest rule-id; the others are reported as overridden. Rules of different kinds
//   (rename + change-data-type + masking) combine. Locators name source objects.
// - Target schema: a schema name rule wins; otherwise TargetMetadata.TargetSchema when not empty;
//   otherwise the source schema (DMS: "Renaming a schema in data mapping takes precedence").
// - Partitioned tables: a selected, declaratively partitioned table is ONE TablePlan (target: one
//   partitioned table) whose segments are its leaf partitions; the leaves never appear as TablePlans
//   of their own (they are listed as skipped: "copied as a segment of ..."). A leaf excluded by an
//   exclude rule is left out of the parent's segments. A leaf selected without its parent is copied
//   as a plain table.
import {
  dmsToPostgres,
  dmsTypeOf,
  baseTypeName,
  characterLength,
  isLobDmsType,
  isNumericDmsType,
  isStringDmsType,
} from './data-types';
import { ExpressionError, parseExpression, translateExpression } from './expression';
import { compileFilters, rangePredicates } from './filters';
import { NAME_ACTIONS } from './parse';
import { Problems, closest, displayName, quoteIdent, quoteLiteral, refOf, ruleLabel } from './problems';
import type {
  CatalogColumn,
  CatalogTable,
  ColumnPlan,
  EngineSettings,
  Finding,
  LobPlan,
  MigrationPlan,
  RowFilter,
  SegmentPlan,
  SelectionRule,
  SkippedTable,
  SourceCatalog,
  TableMapping,
  TablePlan,
  TableSettingsRule,
  TransformationRule,
} from './types';
import { compilePattern, exactName, type NamePattern } from './wildcard';

export interface CompileOptions {
  /** A table above this many bytes is split (default 64 MiB). */
  segmentBytes?: number;
  /** A table above this many rows is split (default 1,000,000). */
  segmentRows?: number;
  /** Findings to put first in the plan (e.g. the task-settings warnings). */
  findings?: Finding[];
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SEGMENT_ROWS = 1_000_000;

/** Schemas that never take part in a migration (PostgreSQL's own, and Ferry's control schema). */
export function isSystemSchema(schema: string): boolean {
  return (
    ['pg_catalog', 'information_schema', 'pg_toast', 'ferry'].includes(schema) ||
    /^pg_(toast_)?temp_\d+$/.test(schema)
  );
}

/** PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1). */
const MAX_IDENT_BYTES = 63;

/** Transformation actions grouped by what they change: one rule per group applies per object. */
type Group = 'name' | 'drop' | 'type' | 'mask' | 'key' | 'before-image';
function groupOf(rule: TransformationRule): Group | 'add' {
  if (NAME_ACTIONS.includes(rule.action)) return 'name';
  switch (rule.action) {
    case 'remove-column':
    case 'include-column':
      return 'drop';
    case 'change-data-type':
      return 'type';
    case 'define-primary-key':
      return 'key';
    case 'add-before-image-columns':
      return 'before-image';
    case 'add-column':
      return 'add';
    default:
      return 'mask';
  }
}

/** Numeric order of DMS rule ids (digit strings of any length). */
function byRuleId(a: { id: string }, b: { id: string }): number {
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

interface Locator {
  schema: NamePattern;
  table?: NamePattern;
  column?: NamePattern;
}

interface TableState {
  table: CatalogTable;
  includes: SelectionRule[];
  /** Leaves of a selected partitioned table (after exclusions). */
  leaves?: CatalogTable[];
}

/**
 * Compile a validated mapping against the source catalog. Throws FerryError CONFIG_INVALID listing
 * every problem (rules naming missing columns, selections matching nothing, name clashes, ...).
 */
export function compilePlan(
  mapping: TableMapping,
  catalog: SourceCatalog,
  settings: EngineSettings,
  opts: CompileOptions = {},
): MigrationPlan {
  const problems = new Problems(mapping.file);
  const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const segmentRows = opts.segmentRows ?? DEFAULT_SEGMENT_ROWS;
  const key = (schema: string, name: string) => `${schema}\u0000${name}`;
  const byKey = new Map(catalog.tables.map((t) => [key(t.schema, t.name), t]));
  const userTables = catalog.tables.filter((t) => !isSystemSchema(t.schema));
  const schemas = [...new Set(userTables.map((t) => t.schema))].sort();

  const selections = mapping.rules.filter((r): r is SelectionRule => r.type === 'selection');
  const transformations = mapping.rules
    .filter((r): r is TransformationRule => r.type === 'transformation')
    .sort(byRuleId);
  const tableSettings = mapping.rules.filter((r): r is TableSettingsRule => r.type === 'table-settings');

  // ---- selection ---------------------------------------------------------------------------------
  const selectionPatterns = new Map(
    selections.map((r) => [
      r,
      r.action === 'explicit'
        ? { schema: exactName(r.schema), table: exactName(r.table) }
        : { schema: compilePattern(r.schema), table: compilePattern(r.table) },
    ]),
  );
  const nameMatches = (r: SelectionRule, t: CatalogTable) => {
    const p = selectionPatterns.get(r)!;
    return p.schema.test(t.schema) && p.table.test(t.name);
  };
  const kindMatches = (r: SelectionRule, t: CatalogTable) =>
    r.tableType === 'all' || (r.tableType === 'view') === (t.kind === 'view');

  for (const r of selections) {
    if (r.action !== 'explicit') continue;
    if (isSystemSchema(r.schema)) {
      problems.ruleError(
        refOf(r),
        'object-locator.schema-name',
        `"${r.schema}" is a system schema${r.schema === 'ferry' ? " (Ferry's own control schema)" : ''}; it is never migrated: remove the rule`,
      );
    }
  }

  const skipped: SkippedTable[] = [];
  /** Record (or re-word) why a source table is not a TablePlan of its own. */
  const markSkipped = (schema: string, name: string, reason: string, rule?: string) => {
    const entry = skipped.find((s) => s.schema === schema && s.name === name);
    const value: SkippedTable = { schema, name, reason, ...(rule !== undefined ? { rule } : {}) };
    if (entry) Object.assign(entry, value);
    else skipped.push(value);
  };
  const selected = new Map<string, TableState>();
  const excludedBy = new Map<string, SelectionRule>();
  for (const t of userTables) {
    const includes = selections.filter(
      (r) => r.action !== 'exclude' && nameMatches(r, t) && kindMatches(r, t),
    );
    const excludes = selections.filter(
      (r) => r.action === 'exclude' && nameMatches(r, t) && kindMatches(r, t),
    );
    if (excludes.length > 0) {
      excludedBy.set(key(t.schema, t.name), excludes[0]);
      skipped.push({
        schema: t.schema,
        name: t.name,
        reason: `excluded by rule-id ${excludes[0].id}`,
        rule: excludes[0].id,
      });
      for (const inc of includes.filter((r) => r.action === 'explicit')) {
        problems.ruleWarning(
          refOf(inc),
          undefined,
          `explicitly selects ${displayName(t.schema, t.name)}, but exclude rule-id ${excludes[0].id} matches it too; exclude wins`,
        );
      }
    } else if (includes.length > 0) {
      selected.set(key(t.schema, t.name), { table: t, includes });
    } else {
      const wrongKind = selections.find((r) => r.action !== 'exclude' && nameMatches(r, t));
      skipped.push(
        wrongKind
          ? {
              schema: t.schema,
              name: t.name,
              reason: `a ${t.kind === 'view' ? 'view' : 'table'}; rule-id ${wrongKind.id} selects ${wrongKind.tableType === 'view' ? 'views' : 'tables'} only (set "table-type": "all")`,
              rule: wrongKind.id,
            }
          : { schema: t.schema, name: t.name, reason: 'no selection rule matches' },
      );
    }
  }

  // A rule that selects nothing is almost always a typo (DMS's all-check-source-selection-rules).
  for (const r of selections) {
    if (r.action === 'explicit' && isSystemSchema(r.schema)) continue; // already refused above
    const matched = userTables.filter((t) => nameMatches(r, t));
    if (r.action === 'exclude') {
      if (matched.length === 0)
        problems.ruleWarning(refOf(r), undefined, 'exclude rule matches no table; it has no effect');
      continue;
    }
    if (matched.length === 0) {
      problems.ruleError(
        refOf(r),
        'object-locator',
        noMatchMessage(r, userTables, schemas, selectionPatterns.get(r)!),
      );
    } else if (!matched.some((t) => kindMatches(r, t))) {
      const kinds = matched.map(
        (t) => `${displayName(t.schema, t.name)} (${t.kind === 'view' ? 'view' : 'table'})`,
      );
      problems.ruleError(
        refOf(r),
        'object-locator.table-type',
        `"${r.tableType}" matches none of ${kinds.slice(0, 5).join(', ')}${kinds.length > 5 ? ', ...' : ''}; set "table-type": "${r.tableType === 'table' ? 'view' : 'table'}" or "all"`,
      );
    }
    const system = catalog.tables.filter((t) => isSystemSchema(t.schema) && nameMatches(r, t));
    if (system.length > 0 && r.action === 'include') {
      problems.ruleInfo(
        refOf(r),
        undefined,
        `also matches system schemas (${[...new Set(system.map((t) => t.schema))].join(', ')}), which are never migrated`,
      );
    }
  }

  // ---- partitions: fold leaves into their selected top-level parent -------------------------------
  const topSelectedAncestor = (t: CatalogTable): CatalogTable | undefined => {
    let found: CatalogTable | undefined;
    let cur = t.parent ? byKey.get(key(t.parent.schema, t.parent.name)) : undefined;
    while (cur) {
      if (selected.has(key(cur.schema, cur.name))) found = cur;
      cur = cur.parent ? byKey.get(key(cur.parent.schema, cur.parent.name)) : undefined;
    }
    return found;
  };
  for (const [k, state] of [...selected]) {
    const t = state.table;
    if (t.kind !== 'partition' && !(t.kind === 'partitioned' && t.parent)) continue;
    const parent = topSelectedAncestor(t);
    if (parent) {
      selected.delete(k);
      markSkipped(
        t.schema,
        t.name,
        `partition of ${displayName(parent.schema, parent.name)}: copied as one of its segments`,
      );
    } else if (t.kind === 'partition' && t.parent) {
      problems.info(
        displayName(t.schema, t.name),
        `partition of ${displayName(t.parent.schema, t.parent.name)}, which is not selected: copied as a plain table`,
      );
    }
  }
  for (const state of selected.values()) {
    const t = state.table;
    if (t.kind !== 'partitioned') continue;
    state.leaves = [];
    for (const leaf of t.partitions ?? []) {
      const leafTable = byKey.get(key(leaf.schema, leaf.name));
      // Excluding a sub-partitioned partition excludes the leaves under it.
      let excluder = excludedBy.get(key(leaf.schema, leaf.name));
      for (
        let up = leafTable?.parent;
        !excluder && up && key(up.schema, up.name) !== key(t.schema, t.name);
      ) {
        excluder = excludedBy.get(key(up.schema, up.name));
        up = byKey.get(key(up.schema, up.name))?.parent;
      }
      if (excluder) {
        markSkipped(
          leaf.schema,
          leaf.name,
          `partition of ${displayName(t.schema, t.name)} excluded by rule-id ${excluder.id}: its rows are not copied`,
          excluder.id,
        );
        continue;
      }
      markSkipped(
        leaf.schema,
        leaf.name,
        `partition of ${displayName(t.schema, t.name)}: copied as one of its segments`,
      );
      state.leaves.push(
        leafTable ?? {
          schema: leaf.schema,
          name: leaf.name,
          kind: 'partition',
          columns: [],
          primaryKey: [],
          uniqueKeys: [],
          replicaIdentity: 'default',
          estimatedRows: 0,
          bytes: 0,
        },
      );
    }
  }

  // ---- transformations ----------------------------------------------------------------------------
  const locators = new Map<TransformationRule, Locator>(
    transformations.map((r) => {
      const exact = r.action === 'define-primary-key';
      const make = (text: string) => (exact ? exactName(text) : compilePattern(text));
      return [
        r,
        {
          schema: make(r.locator.schema),
          ...(r.locator.table !== undefined ? { table: make(r.locator.table) } : {}),
          ...(r.locator.column !== undefined ? { column: make(r.locator.column) } : {}),
        },
      ];
    }),
  );
  const used = new Set<TransformationRule>();
  const overridden = new Map<TransformationRule, { by: TransformationRule; objects: string[] }>();
  /** The lowest-id rule of the group that matches; the rest are recorded as overridden. */
  const pick = (matching: TransformationRule[], object: string): TransformationRule | undefined => {
    if (matching.length === 0) return undefined;
    const [first, ...rest] = matching;
    used.add(first);
    for (const r of rest) {
      const o = overridden.get(r) ?? { by: first, objects: [] };
      if (!o.objects.includes(object)) o.objects.push(object);
      overridden.set(r, o);
    }
    return first;
  };
  const tableRules = (t: CatalogTable, target: 'schema' | 'table' | 'column') =>
    transformations.filter((r) => {
      if (r.target !== target) return false;
      const l = locators.get(r)!;
      return l.schema.test(t.schema) && (target === 'schema' || l.table!.test(t.name));
    });

  const plans: TablePlan[] = [];
  const targets = new Map<string, TablePlan>();
  for (const state of [...selected.values()].sort((a, b) => compareTables(a.table, b.table))) {
    const plan = planTable(state);
    if (!plan) continue;
    const tk = key(plan.target.schema, plan.target.name);
    const other = targets.get(tk);
    if (other) {
      const involved = transformations.filter(
        (r) =>
          (r.target === 'schema' || r.target === 'table') &&
          (other.rules.includes(r.id) || plan.rules.includes(r.id)),
      );
      const both = `${displayName(other.source.schema, other.source.name)} and ${displayName(plan.source.schema, plan.source.name)} both map to target ${displayName(plan.target.schema, plan.target.name)}`;
      const fix = 'DMS cannot load two source tables into one target table: rename one of them';
      const last = involved[involved.length - 1];
      if (last) {
        problems.ruleError(
          refOf(last),
          'value',
          `${both} (rules ${involved.map((r) => r.id).join(', ')}); ${fix}`,
        );
      } else {
        problems.error(
          settings.targetSchema !== ''
            ? 'TargetMetadata.TargetSchema (task settings)'
            : `target ${displayName(plan.target.schema, plan.target.name)}`,
          `${both}; ${fix}`,
        );
      }
    } else {
      targets.set(tk, plan);
    }
    plans.push(plan);
  }

  function planTable(state: TableState): TablePlan | undefined {
    const t = state.table;
    const tname = displayName(t.schema, t.name);
    const rules = new Set<string>(state.includes.map((r) => r.id));

    // Target schema and table names.
    const schemaRule = pick(
      tableRules(t, 'schema').filter((r) => groupOf(r) === 'name'),
      `schema ${displayIdentOf(t.schema)}`,
    );
    let targetSchema = t.schema;
    if (schemaRule) {
      targetSchema = applyName(schemaRule, t.schema);
      rules.add(schemaRule.id);
    } else if (settings.targetSchema !== '') {
      targetSchema = settings.targetSchema;
    }
    const tableLevel = tableRules(t, 'table');
    const tableRule = pick(
      tableLevel.filter((r) => groupOf(r) === 'name'),
      tname,
    );
    const targetName = tableRule ? applyName(tableRule, t.name) : t.name;
    if (tableRule) rules.add(tableRule.id);
    if (schemaRule) checkName(schemaRule, targetSchema, `schema ${t.schema}`);
    if (tableRule) checkName(tableRule, targetName, tname);

    // Columns.
    const columnLevel = tableRules(t, 'column');
    const sourceColumns = [...t.columns].sort((a, b) => a.position - b.position);
    const includeMode = columnLevel.filter((r) => r.action === 'include-column');
    const columns: ColumnPlan[] = [];
    const removed: NonNullable<TablePlan['removedColumns']> = [];
    const columnMatches = (r: TransformationRule, c: CatalogColumn) => {
      const l = locators.get(r)!;
      if (!l.column || !l.column.test(c.name)) return false;
      const dt = r.locator.dataType;
      if (dt === undefined) return true;
      return dt.toLowerCase() === dmsTypeOf(c) || dt.toLowerCase() === baseTypeName(c.type).toLowerCase();
    };
    const changed: string[] = [];
    for (const c of sourceColumns) {
      const cname = `${tname}.${displayIdentOf(c.name)}`;
      const matching = columnLevel.filter((r) => columnMatches(r, c));
      for (const r of matching) {
        if (/[#\\/-]/.test(c.name)) {
          problems.ruleWarning(
            refOf(r),
            'object-locator.column-name',
            `DMS does not transform columns whose names contain # \\ / or - (${cname}); Ferry applies the rule, so the two engines differ here`,
          );
        }
      }
      const drop = pick(
        matching.filter((r) => groupOf(r) === 'drop'),
        cname,
      );
      if (drop?.action === 'remove-column') {
        removed.push({ source: c.name, reason: `removed by rule-id ${drop.id}`, rule: drop.id });
        rules.add(drop.id);
        changed.push(c.name);
        continue;
      }
      if (!drop && includeMode.length > 0) {
        removed.push({
          source: c.name,
          reason: `not listed by the include-column rules (rule-id ${includeMode.map((r) => r.id).join(', ')})`,
          rule: includeMode[0].id,
        });
        rules.add(includeMode[0].id);
        changed.push(c.name);
        continue;
      }
      if (drop) rules.add(drop.id);
      if (!settings.supportLobs && c.lob) {
        removed.push({ source: c.name, reason: 'a LOB column and TargetMetadata.SupportLobs is false' });
        changed.push(c.name);
        continue;
      }
      const col: ColumnPlan = {
        source: c.name,
        target: c.name,
        type: c.type,
        nullable: c.nullable,
        rules: [],
      };
      if (c.generated !== undefined) col.generated = c.generated;
      let dmsType = dmsTypeOf(c);

      const typeRule = pick(
        matching.filter((r) => groupOf(r) === 'type'),
        cname,
      );
      if (typeRule) {
        if (c.generated !== undefined) {
          problems.ruleError(
            refOf(typeRule),
            'rule-action',
            `${cname} is a generated column, recomputed on the target from its expression; change the types of the columns it is computed from instead`,
          );
        } else {
          const pg = dmsToPostgres(typeRule.dataType!);
          if ('type' in pg) {
            col.type = pg.type;
            col.expression = `${quoteIdent(c.name)}::${pg.type}`;
            dmsType = typeRule.dataType!.type as typeof dmsType;
          }
        }
        col.rules.push(typeRule.id);
      }
      const nameRule = pick(
        matching.filter((r) => groupOf(r) === 'name'),
        cname,
      );
      if (nameRule) {
        col.target = applyName(nameRule, c.name);
        checkName(nameRule, col.target, cname);
        col.rules.push(nameRule.id);
      }
      const maskRule = pick(
        matching.filter((r) => groupOf(r) === 'mask'),
        cname,
      );
      if (maskRule) {
        applyMask(maskRule, c, col, dmsType, cname);
        col.rules.push(maskRule.id);
      }
      if (col.rules.length > 0 || col.target !== c.name) changed.push(c.name);
      for (const id of col.rules) rules.add(id);
      col.rules.sort((a, b) => byRuleId({ id: a }, { id: b }));
      columns.push(col);
    }

    // add-column, in rule-id order.
    for (const r of columnLevel.filter((x) => x.action === 'add-column')) {
      used.add(r);
      rules.add(r.id);
      const pg = dmsToPostgres(r.dataType!);
      if (!('type' in pg)) continue;
      const col: ColumnPlan = { target: r.value!, type: pg.type, nullable: true, rules: [r.id] };
      if (r.expression !== undefined) {
        try {
          const tr = translateExpression(parseExpression(r.expression), {
            schema: t.schema,
            table: t.name,
            columnType: (n) => t.columns.find((c) => c.name === n)?.type,
            columnNames: sourceColumns.map((c) => c.name),
          });
          const plain = tr.sql === quoteIdent(tr.columns[0] ?? '');
          col.expression = `${plain ? tr.sql : `(${tr.sql})`}::${pg.type}`;
          if (plain) col.source = tr.columns[0];
          if (tr.headers.length > 0) col.headers = tr.headers;
        } catch (e) {
          if (!(e instanceof ExpressionError)) throw e;
          problems.ruleError(
            refOf(r),
            'expression',
            e.message.includes(tname) ? e.message : `${tname}: ${e.message}`,
          );
          continue;
        }
      } else {
        col.expression = `NULL::${pg.type}`;
      }
      checkName(r, col.target, `${tname} new column`);
      const clash = columns.find((c) => c.target === col.target);
      if (clash) {
        problems.ruleError(
          refOf(r),
          'value',
          `${tname} already has a column "${col.target}"${clash.source !== undefined && clash.source !== col.target ? ` (from ${clash.source})` : ''}; DMS cannot add a column with an existing name: choose another name`,
        );
        continue;
      }
      columns.push(col);
    }

    // add-before-image-columns: the lowest rule-id for the table.
    const biRule = pick(
      columnLevel.filter((r) => groupOf(r) === 'before-image'),
      tname,
    );
    if (biRule) {
      rules.add(biRule.id);
      const def = biRule.beforeImage!;
      for (const col of [...columns]) {
        if (col.source === undefined || col.beforeImageOf !== undefined) continue;
        const src = t.columns.find((c) => c.name === col.source)!;
        if (def.filter === 'pk-only' && !t.primaryKey.includes(src.name)) continue;
        if (def.filter === 'non-lob' && src.lob) continue;
        const bi: ColumnPlan = {
          source: src.name,
          target: `${def.prefix}${col.target}${def.suffix}`,
          type: col.type,
          // DMS: "If the data type is set as LOB, a void column is created."
          expression: src.lob
            ? `NULL::${col.type}`
            : (col.expression ?? (col.generated !== undefined ? quoteIdent(src.name) : undefined)),
          nullable: true,
          rules: [biRule.id],
          beforeImageOf: col.target,
        };
        if (bi.expression === undefined) delete bi.expression;
        checkName(biRule, bi.target, `${tname}.${bi.target}`);
        if (columns.some((c) => c.target === bi.target)) {
          problems.ruleError(
            refOf(biRule),
            'before-image-def',
            `${tname} already has a column "${bi.target}"; choose another column-prefix or column-suffix`,
          );
          continue;
        }
        columns.push(bi);
      }
    }

    // Two columns landing on one target name.
    const seen = new Map<string, ColumnPlan>();
    for (const col of columns) {
      const prev = seen.get(col.target);
      if (prev && prev.source !== undefined && col.source !== undefined && col.beforeImageOf === undefined) {
        problems.error(
          `${tname}.${col.target}`,
          `columns ${prev.source} and ${col.source} both become "${col.target}" (rules ${[...prev.rules, ...col.rules].join(', ')}); rename one of them`,
        );
      }
      seen.set(col.target, col);
    }

    // Keys.
    const targetOf = (source: string) =>
      columns.find((c) => c.source === source && c.beforeImageOf === undefined)?.target;
    let primaryKey = t.primaryKey.map(targetOf).filter((x): x is string => x !== undefined);
    if (primaryKey.length !== t.primaryKey.length) {
      problems.warning(
        tname,
        `primary key column(s) ${t.primaryKey.filter((c) => targetOf(c) === undefined).join(', ')} are not copied, so the target has no primary key; add a define-primary-key rule`,
      );
      primaryKey = [];
    }
    let keyDefinition: TablePlan['keyDefinition'];
    const keyRule = pick(
      tableLevel.filter((r) => groupOf(r) === 'key'),
      tname,
    );
    if (keyRule) {
      rules.add(keyRule.id);
      const def = keyRule.primaryKey!;
      const resolved: string[] = [];
      for (const name of def.columns) {
        const target = columns.some((c) => c.target === name) ? name : targetOf(name);
        if (target === undefined) {
          problems.ruleError(
            refOf(keyRule),
            'primary-key-def.columns',
            `${tname} has no target column "${name}"${didYouMeanColumn(
              name,
              columns.map((c) => c.target),
            )}; target columns: ${columns.map((c) => c.target).join(', ')}`,
          );
        } else {
          resolved.push(target);
        }
      }
      if (resolved.length === def.columns.length) {
        keyDefinition = { name: def.name, origin: def.origin, columns: resolved, rule: keyRule.id };
        const nullable = resolved.filter((name) => columns.find((c) => c.target === name)?.nullable);
        if (def.origin === 'primary-key' && nullable.length > 0) {
          problems.ruleWarning(
            refOf(keyRule),
            'primary-key-def.columns',
            `${tname}: ${nullable.join(', ')} ${nullable.length > 1 ? 'are' : 'is'} nullable in the source; a primary key makes ${nullable.length > 1 ? 'them' : 'it'} NOT NULL, so rows with NULL there fail to load`,
          );
        }
        if (def.origin === 'primary-key') primaryKey = resolved;
      }
    }

    // Generated columns compute from source names on the target.
    const generated = columns.filter((c) => c.generated !== undefined);
    if (generated.length > 0 && changed.length > 0) {
      problems.warning(
        tname,
        `generated column(s) ${generated.map((c) => c.target).join(', ')} are recomputed on the target from expressions that name source columns, and column(s) ${changed.join(', ')} are renamed, retyped or removed; check that the target can still create them`,
      );
    }

    // Row filter.
    let filter: RowFilter | undefined;
    const withFilters = state.includes.filter((r) => r.filters.length > 0);
    if (withFilters.length > 1) {
      problems.ruleError(
        refOf(withFilters[1]),
        'filters',
        `${tname} is also selected with filters by rule-id ${withFilters[0].id}; DMS applies one filter set per table: put all its filters in one rule`,
      );
    } else if (withFilters.length === 1) {
      filter = planFilter(withFilters[0], t, tname);
    }

    // Segments and LOBs.
    const settingsRules = tableSettings.filter((r) => r.schema === t.schema && r.table === t.name);
    for (const r of settingsRules) rules.add(r.id);
    const segments = planSegments(
      state,
      tname,
      settingsRules.find((r) => r.parallelLoad),
    );
    const lob = planLob(
      t,
      tname,
      columns,
      settingsRules.find((r) => r.lob),
    );

    const size = sizeOf(state);
    return {
      source: { schema: t.schema, name: t.name, kind: t.kind },
      target: { schema: targetSchema, name: targetName },
      columns,
      primaryKey,
      ...(filter ? { filter } : {}),
      segments,
      lob,
      loadOrder: Math.max(0, ...state.includes.map((r) => r.loadOrder)),
      estimatedRows: size.rows,
      bytes: size.bytes,
      rules: [...rules].sort((a, b) => byRuleId({ id: a }, { id: b })),
      ...(removed.length > 0 ? { removedColumns: removed } : {}),
      ...(keyDefinition ? { keyDefinition } : {}),
    };
  }

  function checkName(rule: TransformationRule, name: string, object: string): void {
    if (name === '') {
      problems.ruleError(refOf(rule), 'value', `turns ${object} into an empty name; adjust the rule`);
    } else if (Buffer.byteLength(name, 'utf8') > MAX_IDENT_BYTES) {
      problems.ruleError(
        refOf(rule),
        'value',
        `makes ${object} "${name}", longer than PostgreSQL's 63-byte identifier limit (it would be truncated); choose a shorter name`,
      );
    }
  }

  function applyMask(
    rule: TransformationRule,
    c: CatalogColumn,
    col: ColumnPlan,
    dmsType: string,
    cname: string,
  ): void {
    const base = col.expression ?? quoteIdent(c.name);
    const castBack = (sql: string) => (col.type === 'text' ? sql : `(${sql})::${col.type}`);
    const typeNote = `${dmsType === 'unknown' ? 'of unknown DMS type' : `a DMS ${dmsType}`} (${col.type})`;
    if (c.generated !== undefined) {
      problems.ruleError(
        refOf(rule),
        'rule-action',
        `${cname} is a generated column, recomputed on the target; mask the columns it is computed from`,
      );
      return;
    }
    const needString =
      'add a change-data-type rule to "string" with a lower rule-id, as the DMS masking guide advises';
    switch (rule.action) {
      case 'data-masking-digits-mask':
        if (!isStringDmsType(dmsType as never)) {
          problems.ruleError(
            refOf(rule),
            'rule-action',
            `${cname} is ${typeNote}; DMS masks digits only in string and wstring columns: ${needString}`,
          );
          return;
        }
        col.expression = castBack(
          `regexp_replace(${base}::text, '[0-9]', ${quoteLiteral(rule.value!.replace(/\\/g, '\\\\'))}, 'g')`,
        );
        col.masking = 'digits-mask';
        return;
      case 'data-masking-digits-randomize':
        if (!isStringDmsType(dmsType as never) && !isNumericDmsType(dmsType as never)) {
          problems.ruleError(
            refOf(rule),
            'rule-action',
            `${cname} is ${typeNote}; DMS randomizes digits only in string, wstring, numeric and integer columns: ${needString}`,
          );
          return;
        }
        col.expression = castBack(
          `CASE WHEN ${base} IS NULL THEN NULL ELSE array_to_string(ARRAY(SELECT CASE WHEN ch ~ '[0-9]' THEN floor(random() * 10)::int::text ELSE ch END FROM regexp_split_to_table(${base}::text, '') WITH ORDINALITY AS d(ch, n) ORDER BY n), '') END`,
        );
        col.masking = 'digits-randomize';
        return;
      case 'data-masking-hash-mask': {
        if (!isStringDmsType(dmsType as never)) {
          problems.ruleError(
            refOf(rule),
            'rule-action',
            `${cname} is ${typeNote}; DMS hash-masks only string and wstring columns: ${needString}`,
          );
          return;
        }
        const length = characterLength(col.type);
        if (length !== undefined && length < 64) {
          problems.ruleError(
            refOf(rule),
            'rule-action',
            `${cname} is ${col.type}, too short for the 64-character SHA-256 hash; add a change-data-type rule to {"type": "string", "length": 64} (or more) with a lower rule-id`,
          );
          return;
        }
        col.expression = castBack(`upper(encode(sha256(convert_to(${base}::text, 'UTF8')), 'hex'))`);
        col.masking = 'hash-mask';
        return;
      }
    }
  }

  function planFilter(rule: SelectionRule, t: CatalogTable, tname: string): RowFilter | undefined {
    const names = t.columns.map((c) => c.name);
    let ok = true;
    rule.filters.forEach((f, i) => {
      const col = t.columns.find((c) => c.name === f.column);
      if (!col) {
        ok = false;
        problems.ruleError(
          refOf(rule),
          `filters[${i}].column-name`,
          `${tname} has no column "${f.column}"${didYouMeanColumn(f.column, names)}; available columns: ${names.join(', ')}`,
        );
      } else if (isLobDmsType(dmsTypeOf(col))) {
        problems.ruleWarning(
          refOf(rule),
          `filters[${i}].column-name`,
          `${tname}.${displayIdentOf(col.name)} (${col.type}) is a LOB to DMS, which does not filter on LOB columns; Ferry filters on it, so the two engines differ here`,
        );
      }
    });
    if (!ok) return undefined;
    if (rule.table.includes('%')) {
      problems.ruleInfo(
        refOf(rule),
        'filters',
        `DMS documents filters for exact table names; Ferry applies them to every table the pattern selects (${tname})`,
      );
    }
    return compileFilters(rule.filters, (name) => t.columns.find((c) => c.name === name)!.type);
  }

  function planSegments(state: TableState, tname: string, rule: TableSettingsRule | undefined): SegmentPlan {
    const t = state.table;
    const pl = rule?.parallelLoad;
    const leaves = state.leaves;
    const partitionSegments = (list: CatalogTable[]): SegmentPlan => ({
      method: 'partitions',
      count: list.length,
      partitions: list.map((l) => ({ schema: l.schema, name: l.name })),
    });
    if (pl && rule) {
      switch (pl.type) {
        case 'none':
          return { method: 'none', count: 1 };
        case 'ranges': {
          let ok = true;
          pl.columns.forEach((name, i) => {
            const col = t.columns.find((c) => c.name === name);
            if (!col) {
              ok = false;
              problems.ruleError(
                refOf(rule),
                `parallel-load.columns[${i}]`,
                `${tname} has no column "${name}"${didYouMeanColumn(
                  name,
                  t.columns.map((c) => c.name),
                )}; available columns: ${t.columns.map((c) => c.name).join(', ')}`,
              );
              return;
            }
            const dt = dmsTypeOf(col);
            if (dt === 'real4' || dt === 'real8' || isLobDmsType(dt)) {
              ok = false;
              problems.ruleError(
                refOf(rule),
                `parallel-load.columns[${i}]`,
                `${tname}.${displayIdentOf(name)} is ${col.type} (DMS ${dt}); DMS cannot bound segments on floating-point or LOB columns: use an integer, string or date column, ideally indexed`,
              );
            } else if (col.nullable) {
              problems.ruleWarning(
                refOf(rule),
                `parallel-load.columns[${i}]`,
                `${tname}.${displayIdentOf(name)} is nullable; rows with NULL range values fall in no segment and are not copied, as in DMS`,
              );
            }
          });
          if (!ok)
            return {
              method: 'ranges',
              count: pl.boundaries.length + 1,
              columns: pl.columns,
              boundaries: pl.boundaries,
            };
          return {
            method: 'ranges',
            count: pl.boundaries.length + 1,
            columns: pl.columns,
            boundaries: pl.boundaries,
            predicates: rangePredicates(
              pl.columns,
              pl.boundaries,
              (n) => t.columns.find((c) => c.name === n)!.type,
            ),
          };
        }
        case 'partitions-auto':
          if (!leaves) {
            problems.ruleError(
              refOf(rule),
              'parallel-load.type',
              `${tname} is not a declaratively partitioned table, so it has no partitions to split by; use "ranges"`,
            );
            break;
          }
          return partitionSegments(leaves);
        case 'partitions-list': {
          if (!leaves) {
            problems.ruleError(
              refOf(rule),
              'parallel-load.type',
              `${tname} is not a declaratively partitioned table, so it has no partitions to list; use "ranges"`,
            );
            break;
          }
          const listed: CatalogTable[] = [];
          pl.partitions.forEach((name, i) => {
            const leaf = leaves.find((l) => l.name === name);
            if (!leaf) {
              problems.ruleError(
                refOf(rule),
                `parallel-load.partitions[${i}]`,
                `"${name}" is not a copied partition of ${tname}${didYouMeanColumn(
                  name,
                  leaves.map((l) => l.name),
                )}; its partitions: ${leaves.map((l) => l.name).join(', ')}`,
              );
            } else listed.push(leaf);
          });
          const rest = leaves.filter((l) => !listed.includes(l));
          if (rest.length > 0) {
            problems.ruleInfo(
              refOf(rule),
              'parallel-load.partitions',
              `${tname}: partition(s) ${rest.map((l) => l.name).join(', ')} are not listed; Ferry copies them as further segments so no row is left out`,
            );
          }
          return partitionSegments([...listed, ...rest]);
        }
      }
    }
    if (t.kind === 'view') return { method: 'none', count: 1 };
    if (leaves) return partitionSegments(leaves);
    const count = Math.min(
      settings.maxFullLoadSubTasks,
      Math.max(Math.ceil(t.bytes / segmentBytes), Math.ceil(t.estimatedRows / segmentRows)),
    );
    if (count < 2) return { method: 'none', count: 1 };
    const keyColumns = t.primaryKey.length > 0 ? t.primaryKey : t.uniqueKeys[0]?.columns;
    if (keyColumns && keyColumns.length > 0) return { method: 'pk-range', count, columns: keyColumns };
    return { method: 'ctid-range', count };
  }

  function planLob(
    t: CatalogTable,
    tname: string,
    columns: ColumnPlan[],
    rule: TableSettingsRule | undefined,
  ): LobPlan {
    const lobColumns = columns.filter(
      (c) =>
        c.source !== undefined &&
        c.generated === undefined &&
        t.columns.find((s) => s.name === c.source)?.lob,
    );
    if (!settings.supportLobs || lobColumns.length === 0) return { mode: 'none', maxBytes: 0 };
    let lob: LobPlan;
    let field = 'TargetMetadata.LobMaxSize';
    if (rule?.lob && rule.lob.mode !== 'none') {
      lob =
        rule.lob.mode === 'unlimited'
          ? { mode: 'full', maxBytes: 0 }
          : { mode: 'limited', maxBytes: rule.lob.bulkMaxSizeKb * 1024 };
      field = `rules[${rule.index}].lob-settings.bulk-max-size`;
    } else {
      lob = settings.fullLobMode
        ? { mode: 'full', maxBytes: 0 }
        : { mode: 'limited', maxBytes: settings.lobMaxSizeKb * 1024 };
    }
    if (lob.mode === 'limited') {
      const fix = rule?.lob
        ? 'raise bulk-max-size or use "mode": "unlimited"'
        : 'raise LobMaxSize, add a lob-settings rule for the table, or set FullLobMode';
      problems.findings.push({
        severity: 'warning',
        field,
        message: `${tname}: LOB column(s) ${lobColumns.map((c) => c.target).join(', ')} may be truncated above ${lob.maxBytes / 1024} KB in limited LOB mode (the engine reports actual truncations); ${fix}`,
        ...(rule?.lob ? { rule: rule.id } : {}),
      });
    }
    return lob;
  }

  function sizeOf(state: TableState): { rows: number; bytes: number } {
    if (!state.leaves || state.leaves.length === 0)
      return { rows: state.table.estimatedRows, bytes: state.table.bytes };
    return {
      rows: state.leaves.reduce((n, l) => n + l.estimatedRows, 0),
      bytes: state.leaves.reduce((n, l) => n + l.bytes, 0),
    };
  }

  // ---- table-settings rules against the catalog ---------------------------------------------------
  for (const r of tableSettings) {
    const t = byKey.get(key(r.schema, r.table));
    if (!t) {
      const all = userTables.map((x) => `${x.schema}.${x.name}`);
      const near = closest(`${r.schema}.${r.table}`, all);
      problems.ruleError(
        refOf(r),
        'object-locator',
        `${displayName(r.schema, r.table)} does not exist in the source${near ? ` (did you mean ${near}?)` : ''}; table-settings need an exact, existing schema and table name`,
      );
    } else if (!selected.has(key(r.schema, r.table))) {
      const absorbed = skipped.find((s) => s.schema === r.schema && s.name === r.table);
      problems.ruleWarning(
        refOf(r),
        'object-locator',
        `${displayName(r.schema, r.table)} is not copied as a table of its own (${absorbed?.reason ?? 'not selected'}); the rule has no effect`,
      );
    }
  }

  // ---- column rules naming a column that no matching table has -------------------------------------
  for (const r of transformations) {
    const l = locators.get(r)!;
    if (r.target !== 'column' || !l.column || l.column.wild) continue;
    const tables = [...selected.values()]
      .map((s) => s.table)
      .filter((t) => l.schema.test(t.schema) && l.table!.test(t.name));
    if (tables.length === 0 || tables.some((t) => t.columns.some((c) => c.name === r.locator.column)))
      continue;
    const names = [...new Set(tables.flatMap((t) => t.columns.map((c) => c.name)))];
    const where =
      tables.length === 1
        ? displayName(tables[0].schema, tables[0].name)
        : `the ${tables.length} tables it matches`;
    problems.ruleError(
      refOf(r),
      'object-locator.column-name',
      `${where} ha${tables.length === 1 ? 's' : 've'} no column "${r.locator.column}"${didYouMeanColumn(r.locator.column!, names)}; available columns: ${names.join(', ')}`,
    );
    used.add(r);
  }

  // ---- rules that did nothing, rules overridden ----------------------------------------------------
  for (const r of transformations) {
    if (overridden.has(r)) {
      const o = overridden.get(r)!;
      const list =
        o.objects.slice(0, 3).join(', ') + (o.objects.length > 3 ? `, and ${o.objects.length - 3} more` : '');
      problems.ruleWarning(
        refOf(r),
        undefined,
        `${r.action} does not apply to ${list}: ${ruleLabel(refOf(o.by))} (${o.by.action}) does; DMS applies the lowest rule-id when several rules of one kind match an object`,
      );
    } else if (!used.has(r)) {
      problems.ruleWarning(refOf(r), 'object-locator', 'matches no selected object; DMS ignores it');
    }
  }

  problems.throwIfAny();
  return {
    tables: plans.sort(
      (a, b) =>
        b.loadOrder - a.loadOrder ||
        compareNames(a.source.schema, b.source.schema) ||
        compareNames(a.source.name, b.source.name),
    ),
    skipped: skipped.sort((a, b) => compareNames(a.schema, b.schema) || compareNames(a.name, b.name)),
    settings,
    findings: [...(opts.findings ?? []), ...mapping.findings, ...problems.findings],
  };
}

/** Apply one name-changing rule to a source name. */
export function applyName(rule: TransformationRule, name: string): string {
  const v = rule.value ?? '';
  const old = rule.oldValue ?? '';
  switch (rule.action) {
    case 'rename':
      return v;
    case 'convert-lowercase':
      return name.toLowerCase();
    case 'convert-uppercase':
      return name.toUpperCase();
    case 'add-prefix':
      return v + name;
    case 'add-suffix':
      return name + v;
    case 'remove-prefix':
      return name.startsWith(v) ? name.slice(v.length) : name;
    case 'remove-suffix':
      return name.endsWith(v) ? name.slice(0, name.length - v.length) : name;
    case 'replace-prefix':
      return name.startsWith(old) ? v + name.slice(old.length) : name;
    case 'replace-suffix':
      return name.endsWith(old) ? name.slice(0, name.length - old.length) + v : name;
    default:
      return name;
  }
}

function noMatchMessage(
  r: SelectionRule,
  tables: CatalogTable[],
  schemas: string[],
  patterns: { schema: NamePattern; table: NamePattern },
): string {
  const inSchemas = tables.filter((t) => patterns.schema.test(t.schema));
  if (inSchemas.length === 0) {
    const near = patterns.schema.wild ? undefined : closest(r.schema, schemas);
    return `selection matches no table; the source has schemas: ${schemas.join(', ') || '(none)'}${near ? ` (did you mean "${near}"?)` : ''}`;
  }
  const names = inSchemas.map((t) => t.name);
  const near = patterns.table.wild ? undefined : closest(r.table, names);
  const list = names.slice(0, 20).join(', ') + (names.length > 20 ? ', ...' : '');
  return `selection matches no table; ${[...new Set(inSchemas.map((t) => t.schema))].join(', ')} has tables: ${list}${near ? ` (did you mean "${near}"?)` : ''}`;
}

function didYouMeanColumn(name: string, names: string[]): string {
  const near = closest(name, names);
  return near !== undefined ? ` (did you mean "${near}"?)` : '';
}

function displayIdentOf(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareTables(a: CatalogTable, b: CatalogTable): number {
  return compareNames(a.schema, b.schema) || compareNames(a.name, b.name);
}

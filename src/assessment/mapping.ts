// Mapping checks: compile the DMS table mapping and task settings against the live source catalog (the
// same compilePlan the full load runs), turn every compiler error and finding into a rule, then check
// what compilation cannot: that the column expressions of transformations are accepted by the source
// (and convert sampled rows), and that change-data-type rules do not narrow a type.
import type { Client } from 'pg';
import { readSourceCatalog } from '../engine/catalog';
import type { PgConnInfo } from '../engine/connection';
import { displayName, qualify } from '../engine/ident';
import { ErrorType, FerryError } from '../errors';
import { compilePlan } from '../mapping';
import type {
  CatalogTable,
  EngineSettings,
  Finding,
  MigrationPlan,
  SourceCatalog,
  TableMapping,
  TablePlan,
} from '../mapping/types';
import { errorText } from './connectivity';
import { Findings, columnDisplay, objectName } from './findings';
import type { RuleId } from './rules';

export interface CompiledMapping {
  catalog?: SourceCatalog;
  plan?: MigrationPlan;
}

/**
 * Read the source catalog and compile the mapping. Every compiler error becomes a blocker finding (the
 * plan is then undefined and the checks that need it are skipped by the caller).
 */
export async function compileMapping(
  conn: PgConnInfo,
  mapping: TableMapping,
  settings: EngineSettings,
  settingsFindings: Finding[],
  findings: Findings,
): Promise<CompiledMapping> {
  let catalog: SourceCatalog;
  try {
    catalog = await readSourceCatalog(conn);
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(conn.endpointId),
      `reading the source catalog failed, so the mapping was not compiled: ${errorText(err, conn)}`,
    );
    return {};
  }
  findings.ran(
    'mapping-selection-empty',
    'mapping-filter-column',
    'mapping-transformation-invalid',
    'mapping-invalid',
    'setting-not-supported',
    'setting-effect',
    'mapping-warning',
    'mapping-note',
  );
  let plan: MigrationPlan;
  try {
    plan = compilePlan(mapping, catalog, settings, { findings: settingsFindings });
  } catch (err) {
    if (!(err instanceof FerryError) || err.type !== ErrorType.CONFIG_INVALID) throw err;
    for (const line of err.message.split('\n')) compileErrorFinding(line, mapping, findings);
    return { catalog };
  }
  if (plan.tables.length === 0) {
    findings.add(
      'mapping-selection-empty',
      `mapping:${mapping.file}`,
      `${mapping.file}: the selection rules match no table on the source (${plan.skipped.length} table(s) skipped: ` +
        `${plan.skipped
          .slice(0, 5)
          .map((s) => `${displayName(s.schema, s.name)}: ${s.reason}`)
          .join('; ')}${plan.skipped.length > 5 ? '; ...' : ''})`,
    );
  }
  for (const f of plan.findings) compileFinding(f, mapping, findings);
  return { catalog, plan };
}

const RULE_LINE = /^rules\[(\d+)\](?: \(rule-id ([^)]*)\))?(?: (\S+))?: ([\s\S]*)$/;

/** One line of the compiler's CONFIG_INVALID message (`file: rules[i] (rule-id n) field: message`). */
function compileErrorFinding(line: string, mapping: TableMapping, findings: Findings): void {
  if (!line.trim()) return;
  const prefix = `${mapping.file}: `;
  const text = line.startsWith(prefix) ? line.slice(prefix.length) : line;
  const m = RULE_LINE.exec(text);
  if (!m) {
    const colon = text.indexOf(': ');
    const field = colon > 0 ? text.slice(0, colon) : mapping.file;
    findings.add('mapping-invalid', `mapping:${field}`, `${mapping.file}: ${text}`);
    return;
  }
  const [, index, ruleId, field = ''] = m;
  const rule = mapping.rules[Number(index)];
  let id: RuleId = 'mapping-invalid';
  if (/^filters\[\d+\]\.column-name$/.test(field)) id = 'mapping-filter-column';
  else if (rule?.type === 'selection' && /^object-locator(\.table-type)?$/.test(field))
    id = 'mapping-selection-empty';
  else if (rule?.type === 'transformation') id = 'mapping-transformation-invalid';
  findings.add(id, `rule:${ruleId ?? `rules[${index}]`}`, `${mapping.file}: ${text}`);
}

/** A settings key as findings name it: `Section.Key` or a top-level key. */
const SETTINGS_FIELD = /^[A-Z][A-Za-z]*(\.[A-Za-z]+)?$/;
/** The compiler's own LOB warning; source-lob-truncation measures the values instead. */
const LOB_FIELD = /^(TargetMetadata\.LobMaxSize|rules\[\d+\]\.lob-settings\.bulk-max-size)$/;

function compileFinding(f: Finding, mapping: TableMapping, findings: Findings): void {
  if (f.severity === 'warning' && LOB_FIELD.test(f.field)) return;
  const isRule = f.rule !== undefined || f.field.startsWith('rules[');
  if (!isRule && SETTINGS_FIELD.test(f.field)) {
    const object = objectName.setting(f.field);
    if (f.severity === 'info') findings.add('mapping-note', object, `${f.field}: ${f.message}`);
    else if (/^(not honoured|unknown (key|section))/.test(f.message))
      findings.add('setting-not-supported', object, `${f.field}: ${f.message}`);
    else findings.add('setting-effect', object, `${f.field}: ${f.message}`);
    return;
  }
  const object = isRule ? `rule:${f.rule ?? f.field.replace(/\..*$/, '')}` : `table:${f.field}`;
  const message = `${isRule ? `${mapping.file} ${f.field}` : f.field}: ${f.message}`;
  if (f.severity === 'info') findings.add('mapping-note', object, message);
  else if (f.severity === 'warning') findings.add('mapping-warning', object, message);
  else findings.add('mapping-invalid', object, message);
}

// ---- Column expressions -------------------------------------------------------------------------------

/** Rows read per table to try the conversions on. */
const CAST_SAMPLE_ROWS = 1000;
/** Class 42 (syntax error or access rule violation) but for insufficient_privilege: the rule is wrong. */
const SYNTAX_OR_TYPE = /^42(?!501)/;
const DATA_EXCEPTION = /^22/;

/**
 * Every column the plan computes (change-data-type casts, add-column expressions, masking): accepted
 * by the source's parser and planner (SELECT ... LIMIT 0: a cast that does not exist is a blocker),
 * then evaluated over the first rows (a value that does not convert is a warning).
 */
export async function checkColumnExpressions(
  client: Client,
  conn: PgConnInfo,
  plan: MigrationPlan,
  findings: Findings,
): Promise<void> {
  findings.ran('mapping-transformation-invalid', 'mapping-cast-fails');
  for (const t of plan.tables) {
    const computed = t.columns.filter((c) => c.expression !== undefined && c.generated === undefined);
    if (computed.length === 0) continue;
    const from = qualify(t.source.schema, t.source.name);
    const tname = displayName(t.source.schema, t.source.name);
    const bad = new Set<string>();
    // Parse and plan: all at once, then one by one to name the column when that fails.
    const planError = await tryQuery(
      client,
      `SELECT ${computed.map((c, i) => `${c.expression} AS c${i}`).join(', ')} FROM ${from} LIMIT 0`,
    );
    if (planError) {
      for (const c of computed) {
        const err = await tryQuery(client, `SELECT ${c.expression} FROM ${from} LIMIT 0`);
        if (!err) continue;
        bad.add(c.target);
        if (SYNTAX_OR_TYPE.test(err.code ?? '')) {
          findings.add(
            'mapping-transformation-invalid',
            objectName.column(displayName(t.target.schema, t.target.name), c.target),
            `${tname}: target column ${c.target} (${c.type}, rule ${c.rules.join(', ') || '?'}) is computed as ` +
              `${c.expression}, which the source refuses: ${err.text}`,
          );
        } else {
          findings.add(
            'assessment-check-failed',
            objectName.table(tname),
            `checking the expression of ${c.target} failed: ${err.text}`,
          );
        }
      }
    }
    // Evaluate over the first rows; count() forces every expression to be computed for every row.
    const sample = computed.filter((c) => !bad.has(c.target));
    if (sample.length === 0) continue;
    const sampleSql = (cols: typeof sample) =>
      `SELECT ${cols.map((c) => `count((${c.expression}) IS NULL)`).join(', ')} ` +
      `FROM (SELECT * FROM ${from} LIMIT ${CAST_SAMPLE_ROWS}) AS s`;
    const failed = await tryQuery(client, sampleSql(sample));
    if (!failed) continue;
    for (const c of sample) {
      const err = await tryQuery(client, sampleSql([c]));
      if (!err) continue;
      const object = objectName.column(displayName(t.target.schema, t.target.name), c.target);
      if (DATA_EXCEPTION.test(err.code ?? '')) {
        findings.add(
          'mapping-cast-fails',
          object,
          `${tname}: converting source rows to target column ${c.target} (${c.type}) fails in the first ` +
            `${CAST_SAMPLE_ROWS} rows: ${err.text}`,
        );
      } else {
        findings.add(
          'assessment-check-failed',
          objectName.table(tname),
          `sampling ${c.target} failed: ${err.text}`,
        );
      }
    }
  }

  async function tryQuery(c: Client, sql: string): Promise<{ code?: string; text: string } | undefined> {
    try {
      await c.query(sql);
      return undefined;
    } catch (err) {
      return { code: (err as { code?: string }).code, text: errorText(err, conn) };
    }
  }
}

// ---- Narrowing change-data-type rules -------------------------------------------------------------------

type Shape =
  | { kind: 'int'; bytes: number }
  | { kind: 'numeric'; precision?: number; scale?: number }
  | { kind: 'float'; bytes: number }
  | { kind: 'string'; length?: number }
  | { kind: 'timestamp'; tz: boolean; precision: number }
  | { kind: 'date' }
  | { kind: 'other'; name: string };

/** Decimal digits every value of an integer type may need, and how many always fit into one. */
const INT_DIGITS: Record<number, { max: number; fits: number }> = {
  2: { max: 5, fits: 4 },
  4: { max: 10, fits: 9 },
  8: { max: 19, fits: 18 },
};

export function shapeOf(type: string): Shape {
  const t = type.trim().toLowerCase();
  const mods =
    /\(([\d\s,]+)\)/
      .exec(t)?.[1]
      .split(',')
      .map((x) => Number(x.trim())) ?? [];
  const base = t
    .replace(/\(\s*[\d\s,]+\)/, '')
    .replace(/\s+/g, ' ')
    .trim();
  switch (base) {
    case 'smallint':
      return { kind: 'int', bytes: 2 };
    case 'integer':
      return { kind: 'int', bytes: 4 };
    case 'bigint':
      return { kind: 'int', bytes: 8 };
    case 'numeric':
      return mods.length ? { kind: 'numeric', precision: mods[0], scale: mods[1] ?? 0 } : { kind: 'numeric' };
    case 'real':
      return { kind: 'float', bytes: 4 };
    case 'double precision':
      return { kind: 'float', bytes: 8 };
    case 'text':
      return { kind: 'string' };
    case 'character varying':
    case 'character':
      return mods.length ? { kind: 'string', length: mods[0] } : { kind: 'string' };
    case 'timestamp without time zone':
    case 'timestamp with time zone':
      return { kind: 'timestamp', tz: base.includes('with time'), precision: mods[0] ?? 6 };
    case 'date':
      return { kind: 'date' };
    default:
      return { kind: 'other', name: base };
  }
}

/** Why converting `from` to `to` can lose values or precision, or undefined when it cannot. */
export function narrowing(fromType: string, toType: string): string | undefined {
  const from = shapeOf(fromType);
  const to = shapeOf(toType);
  switch (from.kind) {
    case 'int':
      if (to.kind === 'int' && to.bytes < from.bytes)
        return `${toType} holds a smaller range than ${fromType}`;
      if (to.kind === 'numeric' && to.precision !== undefined) {
        const room = to.precision - (to.scale ?? 0);
        if (room < INT_DIGITS[from.bytes].max)
          return `${toType} leaves ${room} integer digit(s); ${fromType} values have up to ${INT_DIGITS[from.bytes].max}`;
      }
      if (to.kind === 'float' && (to.bytes === 4 || from.bytes === 8))
        return `${toType} cannot represent every ${fromType} value exactly`;
      if (to.kind === 'string' && to.length !== undefined && to.length < INT_DIGITS[from.bytes].max + 1)
        return `${toType} is shorter than the longest ${fromType} value (${INT_DIGITS[from.bytes].max + 1} characters)`;
      return undefined;
    case 'numeric': {
      const intDigits = from.precision !== undefined ? from.precision - (from.scale ?? 0) : undefined;
      if (to.kind === 'int') {
        if (from.precision === undefined || (from.scale ?? 0) > 0)
          return `${toType} has no fractional digits: ${fromType} values are rounded`;
        if (intDigits! > INT_DIGITS[to.bytes].fits)
          return `${toType} holds fewer digits than ${fromType} (${intDigits})`;
        return undefined;
      }
      if (to.kind === 'numeric') {
        if (to.precision === undefined) return undefined;
        if (from.precision === undefined)
          return `${fromType} is unconstrained; ${toType} limits precision and scale`;
        if ((to.scale ?? 0) < (from.scale ?? 0))
          return `${toType} keeps ${to.scale ?? 0} fractional digit(s) of ${fromType}'s ${from.scale}: values are rounded`;
        if (to.precision - (to.scale ?? 0) < intDigits!)
          return `${toType} leaves ${to.precision - (to.scale ?? 0)} integer digit(s); ${fromType} allows ${intDigits}`;
        return undefined;
      }
      if (to.kind === 'float') {
        const digits = to.bytes === 4 ? 6 : 15;
        if (from.precision === undefined || from.precision > digits)
          return `${toType} keeps about ${digits} significant digits of ${fromType}`;
        return undefined;
      }
      if (to.kind === 'string' && to.length !== undefined) {
        if (from.precision === undefined || to.length < from.precision + 2)
          return `${toType} may be shorter than ${fromType} values written out`;
      }
      return undefined;
    }
    case 'float':
      if (to.kind === 'int' || to.kind === 'numeric')
        return `${toType} cannot hold every ${fromType} value (fractions, exponents, NaN/Infinity)`;
      if (to.kind === 'float' && to.bytes < from.bytes)
        return `${toType} keeps about 6 significant digits of ${fromType}`;
      if (to.kind === 'string' && to.length !== undefined && to.length < 24)
        return `${toType} may be shorter than ${fromType} values written out`;
      return undefined;
    case 'string':
      if (
        to.kind === 'string' &&
        to.length !== undefined &&
        (from.length === undefined || to.length < from.length)
      )
        return `${toType} is shorter than ${fromType}${from.length === undefined ? ' (unbounded)' : ''}: longer values are truncated`;
      return undefined;
    case 'timestamp':
      if (to.kind === 'timestamp') {
        if (from.tz && !to.tz)
          return `${toType} drops the time zone: values are converted to the session TimeZone`;
        if (to.precision < from.precision)
          return `${toType} keeps ${to.precision} fractional second digit(s) of ${fromType}'s ${from.precision}`;
        return undefined;
      }
      if (to.kind === 'date') return `${toType} drops the time of day`;
      if (to.kind === 'string' && to.length !== undefined && to.length < 32)
        return `${toType} may be shorter than ${fromType} values written out`;
      return undefined;
    default:
      if (to.kind === 'string' && to.length !== undefined && from.kind !== 'date')
        return `${toType} may be shorter than ${fromType} values written out`;
      return undefined;
  }
}

/** Columns whose change-data-type rule narrows the source type. */
export function checkNarrowing(
  plan: MigrationPlan,
  catalog: SourceCatalog,
  mapping: TableMapping,
  findings: Findings,
): void {
  findings.ran('mapping-type-narrowing');
  const typeRules = new Set(
    mapping.rules
      .filter((r) => r.type === 'transformation' && r.action === 'change-data-type')
      .map((r) => r.id),
  );
  if (typeRules.size === 0) return;
  for (const t of plan.tables) {
    const source = catalogTable(catalog, t);
    for (const c of t.columns) {
      const rule = c.rules.find((id) => typeRules.has(id));
      if (!rule || c.source === undefined || c.beforeImageOf !== undefined) continue;
      const src = source?.columns.find((x) => x.name === c.source);
      if (!src) continue;
      const why = narrowing(src.type, c.type);
      if (!why) continue;
      const tname = displayName(t.source.schema, t.source.name);
      findings.add(
        'mapping-type-narrowing',
        objectName.column(tname, c.source),
        `${columnDisplay(tname, c.source)} is ${src.type}; change-data-type rule-id ${rule} makes it ${c.type}: ${why}`,
      );
    }
  }
}

export function catalogTable(catalog: SourceCatalog, t: TablePlan): CatalogTable | undefined {
  return catalog.tables.find((x) => x.schema === t.source.schema && x.name === t.source.name);
}

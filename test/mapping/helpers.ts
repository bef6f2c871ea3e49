// Shared by the mapping tests: fixture paths (read from the source tree, since tests run from
// dist/test/mapping), the sample catalog, a tiny catalog builder, and golden-case compilation.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compilePlan, defaultEngineSettings, parseTableMapping, parseTaskSettings } from '../../src/mapping';
import type {
  CatalogColumn,
  CatalogTable,
  EngineSettings,
  MigrationPlan,
  SourceCatalog,
} from '../../src/mapping/types';

export const FIXTURES = path.resolve(__dirname, '../../../test/mapping/fixtures');
export const GOLDEN = path.join(FIXTURES, 'golden');
export const GOLDEN_CASES = ['shop-sample', 'exclude-filters', 'ranges-lob'];

export const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8'));

/** The hand-built catalog of the Ferry sample database (src/dev/seed). */
export function shopCatalog(): SourceCatalog {
  return readJson(path.join(FIXTURES, 'catalog-shop.json')) as SourceCatalog;
}

/** Compile golden case `name` (its mapping, its settings if any) against the sample catalog. */
export function compileCase(name: string): MigrationPlan {
  const mappingFile = `${name}.mapping.json`;
  const settingsFile = `${name}.settings.json`;
  const mapping = parseTableMapping(readJson(path.join(GOLDEN, mappingFile)), mappingFile);
  const settings = fs.existsSync(path.join(GOLDEN, settingsFile))
    ? parseTaskSettings(readJson(path.join(GOLDEN, settingsFile)), settingsFile)
    : { settings: defaultEngineSettings(), findings: [] };
  return compilePlan(mapping, shopCatalog(), settings.settings, { findings: settings.findings });
}

/** A column: `name type [notnull] [lob]`-style shorthand for small test catalogs. */
export function col(
  name: string,
  type: string,
  extra: Partial<CatalogColumn> = {},
): Omit<CatalogColumn, 'position'> {
  return {
    name,
    type,
    nullable: true,
    lob: ['text', 'bytea', 'jsonb', 'json'].includes(type) || type.endsWith('[]'),
    ...extra,
  };
}

export function table(
  schema: string,
  name: string,
  columns: Omit<CatalogColumn, 'position'>[],
  extra: Partial<CatalogTable> = {},
): CatalogTable {
  return {
    schema,
    name,
    kind: 'table',
    columns: columns.map((c, i) => ({ ...c, position: i + 1 })),
    primaryKey: [],
    uniqueKeys: [],
    replicaIdentity: 'default',
    estimatedRows: 100,
    bytes: 8192,
    ...extra,
  };
}

export function catalogOf(...tables: CatalogTable[]): SourceCatalog {
  return { database: 'test', serverVersion: '15.8', serverMajor: 15, tables };
}

/** Parse `rules` (plain objects, rule-ids filled in by position when absent) as "mappings.json". */
export function mappingOf(...rules: Record<string, unknown>[]) {
  return parseTableMapping(
    { rules: rules.map((r, i) => ({ 'rule-id': String(i + 1), 'rule-name': String(i + 1), ...r })) },
    'mappings.json',
  );
}

export function settingsOf(json: unknown = {}): EngineSettings {
  return parseTaskSettings(json, 'settings.json').settings;
}

/** Shorthands for rules. */
export const include = (schema: string, table: string, extra: Record<string, unknown> = {}) => ({
  'rule-type': 'selection',
  'rule-action': 'include',
  'object-locator': { 'schema-name': schema, 'table-name': table },
  ...extra,
});
export const exclude = (schema: string, table: string) => ({
  'rule-type': 'selection',
  'rule-action': 'exclude',
  'object-locator': { 'schema-name': schema, 'table-name': table },
});
export const transform = (
  target: string,
  action: string,
  locator: Record<string, string>,
  extra: Record<string, unknown> = {},
) => ({
  'rule-type': 'transformation',
  'rule-target': target,
  'rule-action': action,
  'object-locator': locator,
  ...extra,
});

// The mapping module's public surface: parse and validate DMS table mappings and task settings,
// compile them against the source catalog into a MigrationPlan, and explain the plan.
export { parseTableMapping } from './parse';
export { parseTaskSettings, defaultEngineSettings, knownSettingKeys } from './settings';
export {
  compilePlan,
  isSystemSchema,
  DEFAULT_SEGMENT_BYTES,
  DEFAULT_SEGMENT_ROWS,
  type CompileOptions,
} from './compile';
export { explainPlan } from './explain';
export { loadMappingFiles, defaultTableMapping, DEFAULT_MAPPING_FILE, type LoadedMappingFiles } from './load';
export { andRowFilters } from './filters';
export { dmsToPostgres, dmsTypeOf } from './data-types';
export { parseExpression, translateExpression, ExpressionError, SUPPORTED_FUNCTIONS } from './expression';
export type * from './types';

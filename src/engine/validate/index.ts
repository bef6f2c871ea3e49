// Data validation (DMS "data validation"): row counts and chunked checksums per table, the source read
// through the mapping, differing keys recorded on the target and re-checked while CDC runs.
export {
  type ValidationOptions,
  type ValidationReport,
  type ValidationResult,
  selectTables,
  validateMigration,
  validationReport,
} from './run';
export { validationConfig } from './settings';
export { VALIDATION_DDL, ensureValidationTables } from './control';
export { LOB_SHOW_CHARS } from './shape';
export {
  type CdcPositionSource,
  type ChunkFailure,
  type FailureKind,
  type FailureStatus,
  type TableValidation,
  type ValidationConfig,
  type ValidationFailure,
  type ValidationState,
  VALIDATION_STATES,
} from './types';

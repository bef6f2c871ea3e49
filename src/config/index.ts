// The config module's public surface: load ferry.yaml, look things up in it, resolve secret references.

export { loadConfig, parseConfig, getMigration, getEndpoint, getInventoryFor, formatPath } from './load';
export {
  FerryFileSchema,
  ferryJsonSchema,
  renderFerryJsonSchema,
  ENDPOINT_ROLES,
  SSL_MODES,
  ENGINES,
  MIGRATION_TYPES,
} from './schema';
export type {
  FerryConfig,
  FerryFile,
  FerryFileInput,
  TemporalConfig,
  EndpointConfig,
  EndpointRole,
  SslMode,
  Engine,
  MigrationType,
  MigrationConfig,
  InventoryEntry,
  Owner,
  Sla,
  PocOptions,
  CdcOptions,
  FallbackOptions,
} from './schema';
export {
  parseSecretRef,
  resolveSecret,
  checkSecretFilePermissions,
  secretRefProblem,
  SECRET_REF_PATTERN,
} from './secrets';
export type { SecretRef, ResolveSecretOptions } from './secrets';
export { parseDuration, formatDuration, DURATION_PATTERN } from './duration';

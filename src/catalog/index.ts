// The catalog's public surface: discovery, diff, store and refresh (no Temporal; activities and the CLI call these).
export * from './types';
export { discoverServer, type DiscoveredDatabase, type DiscoverOptions } from './discover';
export { diffCatalog, readiness } from './diff';
export {
  ensureCatalogTables,
  saveRefresh,
  latestRefresh,
  sizeHistory,
  type StoredRefresh,
  type SizePoint,
} from './store';
export {
  refreshCatalog,
  listCatalog,
  showCatalogDatabase,
  changeNotification,
  controlTarget,
  withControl,
  type RefreshOptions,
  type RefreshResult,
  type CatalogRow,
  type CatalogDetail,
  type ControlTarget,
} from './refresh';

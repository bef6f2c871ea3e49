// Every workflow the worker registers. Imported by the bundler: orchestration only, no I/O.
export { proofOfConcept } from './poc';
export { fullLoad, loadTables } from './full-load';
export { cdcMigration } from './cdc';
export { migration } from './migration';
export { catalogRefresh } from './catalog';

// The aws-dms engine's AWS adapter: plain async functions over injected SDK v3 clients
// (DatabaseMigrationServiceClient, RDSClient), no Temporal. Activities call these, heartbeat from the
// waits' onProgress, and map DmsError.type / isRetryable to their retry policy.
export * from './assessment';
export * from './aurora';
export * from './endpoints';
export * from './errors';
export * from './instance';
export * from './ownership';
export * from './plan';
export * from './requests';
export * from './retry';
export * from './spec';
export * from './tasks';

// The proof-of-concept engine: inspect the source, dump a scope, restore it into a scratch database,
// verify, estimate, and write the fallback plan. Plain async functions; no Temporal in here.
export * from './inspect';
export * from './dump';
export * from './scratch';
export * from './restore';
export * from './verify';
export * from './estimate';
export * from './fallback-plan';

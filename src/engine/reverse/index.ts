// Reverse replication target → source for fallback after cutover. Knows nothing of Temporal.
export { reversePlan } from './plan';
export {
  type ReverseEndpoints,
  type ReverseSetup,
  type RunReverseOptions,
  dropReverse,
  prepareReverse,
  reverseMigrationName,
  reverseSlotName,
  runReverse,
} from './replication';

// What every Ferry workflow shares: the retry policy built on the one non-retryable list, the search
// attributes, and reading a failure chain (workflow code: no I/O).
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { NON_RETRYABLE_ERROR_TYPES } from '../errors';

export function retryPolicy(maximumAttempts: number) {
  return {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  };
}

export const PHASE = defineSearchAttributeKey('FerryPhase', SearchAttributeType.KEYWORD);
export const MIGRATION = defineSearchAttributeKey('FerryMigration', SearchAttributeType.KEYWORD);
export const PENDING_GATE = defineSearchAttributeKey('FerryPendingGate', SearchAttributeType.KEYWORD);

/** The innermost message: the activity's own words, not "Activity task failed". */
export function errorMessage(err: unknown): string {
  if ((err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && err.cause) {
    return errorMessage(err.cause);
  }
  return err instanceof Error ? err.message : String(err);
}

/** The first ApplicationFailure type in the chain: our error vocabulary. */
export function errorType(err: unknown): string | undefined {
  if (err instanceof ApplicationFailure) return err.type ?? undefined;
  if (err instanceof Error && err.cause) return errorType(err.cause);
  return undefined;
}

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
export const DATABASE = defineSearchAttributeKey('FerryDatabase', SearchAttributeType.KEYWORD);
export const OWNER = defineSearchAttributeKey('FerryOwner', SearchAttributeType.KEYWORD);
export const LAG_BUCKET = defineSearchAttributeKey('FerryLagBucket', SearchAttributeType.KEYWORD);

/** The CDC lag as a search-attribute bucket, so the Temporal UI can filter migrations that lag. */
export function lagBucket(lagSeconds: number | undefined, lagBytes: number | undefined): string {
  if (!lagBytes || lagSeconds === undefined) return 'none';
  if (lagSeconds < 10) return '<10s';
  if (lagSeconds < 60) return '<1m';
  if (lagSeconds < 600) return '<10m';
  return '>=10m';
}

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

/** '7 days' | '30 minutes' | '10s' | milliseconds → milliseconds. */
export function parseTimeout(s: string | number): number {
  if (typeof s === 'number') return s;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)\s*$/i.exec(s);
  if (!m)
    throw ApplicationFailure.nonRetryable(
      `invalid gate timeout "${s}"; use e.g. "7 days" or "30m"`,
      'CONFIG_INVALID',
    );
  const n = Number(m[1]);
  const u = m[2].toLowerCase();
  const mult =
    u === 'ms' ? 1 : u.startsWith('s') ? 1e3 : u.startsWith('m') ? 6e4 : u.startsWith('h') ? 3.6e6 : 8.64e7;
  return n * mult;
}

export interface PhaseTiming {
  start: string;
  end?: string;
  seconds?: number;
}

/**
 * Moving from phase `from` to `to` at `at` (ISO): `from`'s timing ends (with its seconds) and `to`'s
 * starts, again if it had ended before (a CDC that pauses and resumes streams twice).
 */
export function movePhase<P extends string>(
  timings: Partial<Record<P, PhaseTiming>>,
  from: P,
  to: P,
  at: string,
): void {
  const prev = timings[from];
  if (prev && !prev.end && from !== to) {
    prev.end = at;
    prev.seconds = (Date.parse(at) - Date.parse(prev.start)) / 1000;
  }
  const next = timings[to];
  if (!next || next.end) timings[to] = { start: at };
}

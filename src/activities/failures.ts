// One place that turns anything an activity throws into a Temporal failure: our vocabulary's type,
// retryable or not per NON_RETRYABLE_ERROR_TYPES, and a message safe to record in history.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { PgConnInfo } from '../engine/connection';
import { classifyPgError } from '../engine/connection';
import { FerryError } from '../errors';
import { errorTypeOf, metrics } from '../metrics';

function isPgError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string';
}

/** Turn anything thrown into a failure whose type is in our vocabulary and whose message is safe. */
export function toFailure(err: unknown, endpoint?: PgConnInfo): unknown {
  if (err instanceof ApplicationFailure) return err;
  let fe: FerryError | undefined;
  if (err instanceof FerryError) fe = err;
  else if (endpoint && isPgError(err)) fe = classifyPgError(err, endpoint);
  if (!fe) return err;
  return ApplicationFailure.create({ type: fe.type, message: fe.message, nonRetryable: !fe.retryable });
}

/**
 * Run an activity body; whatever it throws leaves as a typed failure (see toFailure), counted in
 * ferry_errors_total under `migration` (pass the activity's input.migration) unless it is a cancellation.
 */
export async function wrap<T>(fn: () => Promise<T>, migration = ''): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const failure = toFailure(err);
    countFailure(failure, migration);
    throw failure;
  }
}

/** A cancelled activity (the workflow asked for it) did not fail: it is not an error to alert on. */
function countFailure(failure: unknown, migration: string): void {
  let activity = 'unknown';
  try {
    const ctx = Context.current();
    if (ctx.cancellationSignal.aborted) return;
    activity = ctx.info.activityType;
  } catch {
    // Called outside an activity (a test, a script): counted under activity "unknown".
  }
  if (failure instanceof CancelledFailure) return;
  metrics.error(migration, activity, errorTypeOf(failure));
}

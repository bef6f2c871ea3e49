// One place that turns anything an activity throws into a Temporal failure: our vocabulary's type,
// retryable or not per NON_RETRYABLE_ERROR_TYPES, and a message safe to record in history.
import { ApplicationFailure } from '@temporalio/common';
import type { PgConnInfo } from '../engine/connection';
import { classifyPgError } from '../engine/connection';
import { FerryError } from '../errors';

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

/** Run an activity body; whatever it throws leaves as a typed failure (see toFailure). */
export async function wrap<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}

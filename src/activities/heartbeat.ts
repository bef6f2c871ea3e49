// Heartbeats for long activities: progress details on a timer, so the server notices a dead worker
// within the heartbeat timeout and a cancel reaches the work through the AbortSignal.
import { Context } from '@temporalio/activity';

/** Heartbeat `details()` now and every `ms` while `work` runs. */
export async function withHeartbeat<T>(
  ms: number,
  details: () => unknown,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(details());
  const timer = setInterval(() => ctx.heartbeat(details()), ms);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

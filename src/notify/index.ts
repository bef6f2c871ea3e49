// The notification port's public surface, and notifierFrom: the channels ferry.yaml configures as one
// fan-out Notifier (console only when notifications: is absent).
import type { FerryConfig } from '../config/schema';
import { ErrorType, FerryError } from '../errors';
import { ConsoleNotifier } from './console';
import type { Notification, Notifier } from './types';
import { WebhookNotifier } from './webhook';

export { ConsoleNotifier, type ConsoleNotifierOptions } from './console';
export { WebhookNotifier, displayUrl, type WebhookNotifierOptions } from './webhook';
export { NOTIFICATION_KINDS } from './types';
export type { Notification, NotificationKind, Notifier, Recipient } from './types';

/**
 * Sends to every channel, each independently: one failing channel does not keep the others from
 * delivering. Rejects after all were tried if any failed, with every failure in the message.
 */
export class FanOutNotifier implements Notifier {
  constructor(readonly channels: readonly Notifier[]) {}

  async notify(n: Notification): Promise<void> {
    const results = await Promise.allSettled(this.channels.map((c) => c.notify(n)));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length === 0) return;
    if (failures.length === 1) throw failures[0];
    const type = failures.every((f) => f instanceof FerryError && !f.retryable)
      ? ErrorType.CONFIG_INVALID
      : ErrorType.ENDPOINT_UNREACHABLE;
    throw new FerryError(
      type,
      `${failures.length} of ${this.channels.length} notification channels failed: ` +
        failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; '),
    );
  }
}

export interface NotifierFromOptions {
  /** Replaces the console notifier's stream (tests). */
  consoleStream?: NodeJS.WritableStream;
}

/** The notifiers of `cfg.notifications` (default: console on stderr) as one Notifier. */
export function notifierFrom(cfg: FerryConfig, opts: NotifierFromOptions = {}): FanOutNotifier {
  const configured = cfg.notifications ?? [{ type: 'console' as const }];
  const channels = configured.map((c): Notifier => {
    if (c.type === 'webhook') {
      return new WebhookNotifier({
        url: c.url!,
        ...(c.headers && { headers: c.headers }),
        ...(c.timeout !== undefined && { timeoutMs: c.timeout * 1000 }),
        baseDir: cfg.configDir,
      });
    }
    const stream = opts.consoleStream ?? (c.stream === 'stdout' ? process.stdout : process.stderr);
    return new ConsoleNotifier({ stream: stream as import('node:stream').Writable });
  });
  return new FanOutNotifier(channels);
}

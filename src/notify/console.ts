// The console notifier: one JSON line per notification on a stream (stderr by default), so a worker's
// log carries every notification even when no other channel is configured; keeps the last few for tests.
import type { Writable } from 'node:stream';
import type { Notification, Notifier } from './types';

export interface ConsoleNotifierOptions {
  /** Default process.stderr. */
  stream?: Writable;
  /** How many recent notifications `recent` keeps; default 100. */
  keep?: number;
}

export class ConsoleNotifier implements Notifier {
  private readonly stream: Writable;
  private readonly keep: number;
  /** The last `keep` notifications, oldest first. */
  readonly recent: Notification[] = [];

  constructor(opts: ConsoleNotifierOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.keep = opts.keep ?? 100;
  }

  notify(n: Notification): Promise<void> {
    this.recent.push(n);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    const line = JSON.stringify({ notification: n.kind, ...n }) + '\n';
    return new Promise((resolve, reject) =>
      this.stream.write(line, (err) => (err ? reject(err) : resolve())),
    );
  }
}

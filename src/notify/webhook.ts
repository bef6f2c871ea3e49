// The webhook notifier: POSTs each notification as JSON to a URL (Slack/Teams relays, PagerDuty,
// an incident bot). Header values may be secret references, resolved at send time so tokens never sit
// in the config object or in workflow history.
import { resolveSecret } from '../config/secrets';
import { ErrorType, FerryError } from '../errors';
import type { Notification, Notifier } from './types';

export interface WebhookNotifierOptions {
  url: string;
  /** Values starting with env:, file: or aws-secretsmanager: are secret references. */
  headers?: Record<string, string>;
  /** Milliseconds; default 10 000. */
  timeoutMs?: number;
  /** Relative file: references resolve against this (the config file's directory). */
  baseDir?: string;
}

const SECRET_PREFIX = /^(env|file|aws-secretsmanager):/;

export class WebhookNotifier implements Notifier {
  private readonly opts: WebhookNotifierOptions;

  constructor(opts: WebhookNotifierOptions) {
    this.opts = opts;
  }

  /** The URL as error messages show it: no user:password, no query string (tokens often hide there). */
  get displayUrl(): string {
    return displayUrl(this.opts.url);
  }

  async notify(n: Notification): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [name, value] of Object.entries(this.opts.headers ?? {})) {
      headers[name] = SECRET_PREFIX.test(value)
        ? await resolveSecret(value, { baseDir: this.opts.baseDir })
        : value;
    }
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(n),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      const why =
        e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.name ?? 'error');
      throw new FerryError(
        ErrorType.ENDPOINT_UNREACHABLE,
        `webhook ${this.displayUrl}: cannot deliver ${n.kind} notification (${why}); check the URL and that ` +
          `the receiver is up and reachable from Ferry's workers`,
        { cause: err },
      );
    }
    // Drain the body so the connection is released; its text is not shown (it may echo our headers).
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return;
    // 4xx other than timeouts/rate limits: the URL or the token is wrong, and sending again will not help.
    const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
    throw new FerryError(
      permanent ? ErrorType.CONFIG_INVALID : ErrorType.ENDPOINT_UNREACHABLE,
      `webhook ${this.displayUrl} answered HTTP ${res.status} to a ${n.kind} notification; ` +
        (permanent
          ? 'check the url and headers (token) of this notifier in ferry.yaml'
          : 'the receiver failed; Ferry may send it again'),
    );
  }
}

export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

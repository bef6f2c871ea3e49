// The notification port: the console notifier writes JSON lines, the webhook notifier POSTs JSON with
// resolved secret headers to a real local HTTP server and turns a 500 into a clear error, and
// ferry.yaml's notifications: section is validated like the rest of the file.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { parseConfig } from '../../src/config/load';
import { ErrorType, FerryError } from '../../src/errors';
import { ConsoleNotifier, notifierFrom, WebhookNotifier, type Notification } from '../../src/notify';

const sample: Notification = {
  kind: 'gate-pending',
  migration: 'shop-to-aurora',
  database: 'shop',
  phase: 'cutover',
  subject: 'cutover of shop waits for your approval',
  text: 'Migration shop-to-aurora, database shop, phase cutover: approve with `ferry approve`.',
  to: [{ name: 'Alice', email: 'alice@example.com', role: 'app-owner' }],
  at: '2026-01-01T00:00:00.000Z',
  data: { gate: 'cutover' },
};

interface Received {
  method?: string;
  url?: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function receiver(status: number): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.statusCode = status;
      res.end(status === 200 ? 'ok' : 'boom');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/ferry`,
    got,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const yaml = (extra: string) => `
endpoints:
  - { id: onsite, role: source, host: db, database: shop, user: ferry, password: "env:PGPASS" }
${extra}`;

describe('notify', () => {
  it('console: one JSON line per notification, and keeps the recent ones', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    const n = new ConsoleNotifier({ stream, keep: 2 });
    await n.notify(sample);
    await n.notify({ ...sample, kind: 'phase', subject: 'second' });
    await n.notify({ ...sample, kind: 'failure', subject: 'third' });
    const lines = text.trim().split('\n');
    assert.equal(lines.length, 3);
    const first = JSON.parse(lines[0]) as Notification;
    assert.equal(first.kind, 'gate-pending');
    assert.equal(first.database, 'shop');
    assert.deepEqual(first.to, sample.to);
    assert.deepEqual(
      n.recent.map((r) => r.subject),
      ['second', 'third'],
    );
  });

  it('webhook: POSTs the notification as JSON with secret headers resolved', async () => {
    const hook = await receiver(200);
    process.env.FERRY_TEST_HOOK_TOKEN = 'Bearer s3cr3t-token';
    try {
      const n = new WebhookNotifier({
        url: hook.url,
        headers: { Authorization: 'env:FERRY_TEST_HOOK_TOKEN', 'X-Team': 'dba' },
      });
      await n.notify(sample);
      assert.equal(hook.got.length, 1);
      const r = hook.got[0];
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/hooks/ferry');
      assert.equal(r.headers.authorization, 'Bearer s3cr3t-token');
      assert.equal(r.headers['x-team'], 'dba');
      assert.match(String(r.headers['content-type']), /application\/json/);
      assert.deepEqual(JSON.parse(r.body), sample);
    } finally {
      delete process.env.FERRY_TEST_HOOK_TOKEN;
      await hook.close();
    }
  });

  it('webhook: a 500 is a FerryError naming the URL and status, without secrets', async () => {
    const hook = await receiver(500);
    process.env.FERRY_TEST_HOOK_TOKEN = 'Bearer s3cr3t-token';
    try {
      const n = new WebhookNotifier({
        url: `${hook.url}?token=querysecret`,
        headers: { Authorization: 'env:FERRY_TEST_HOOK_TOKEN' },
      });
      const e = await n.notify(sample).then(
        () => assert.fail('expected an error'),
        (x: unknown) => x,
      );
      assert.ok(e instanceof FerryError);
      assert.equal(e.type, ErrorType.ENDPOINT_UNREACHABLE);
      assert.match(e.message, /HTTP 500/);
      assert.ok(e.message.includes(hook.url), e.message);
      assert.ok(!e.message.includes('s3cr3t') && !e.message.includes('querysecret'), e.message);
    } finally {
      delete process.env.FERRY_TEST_HOOK_TOKEN;
      await hook.close();
    }
  });

  it('webhook: nobody listening is ENDPOINT_UNREACHABLE naming the URL', async () => {
    const hook = await receiver(200);
    await hook.close();
    const e = await new WebhookNotifier({ url: hook.url, timeoutMs: 2000 }).notify(sample).then(
      () => assert.fail('expected an error'),
      (x: unknown) => x as FerryError,
    );
    assert.equal(e.type, ErrorType.ENDPOINT_UNREACHABLE);
    assert.ok(e.message.includes(hook.url), e.message);
  });

  it('notifierFrom: console by default; the configured channels as a fan-out', async () => {
    const hook = await receiver(200);
    try {
      const plain = parseConfig(yaml(''), 'ferry.yaml', '/tmp');
      const stream = new PassThrough();
      const byDefault = notifierFrom(plain, { consoleStream: stream });
      assert.equal(byDefault.channels.length, 1);
      assert.ok(byDefault.channels[0] instanceof ConsoleNotifier);

      const cfg = parseConfig(
        yaml(`notifications:\n  - type: console\n  - type: webhook\n    url: ${hook.url}\n    timeout: 5s\n`),
        'ferry.yaml',
        '/tmp',
      );
      assert.deepEqual(cfg.notifications, [
        { type: 'console' },
        { type: 'webhook', url: hook.url, timeout: 5 },
      ]);
      const fan = notifierFrom(cfg, { consoleStream: stream });
      assert.equal(fan.channels.length, 2);
      await fan.notify(sample);
      assert.equal(hook.got.length, 1);
      assert.equal((fan.channels[0] as ConsoleNotifier).recent.length, 1);
    } finally {
      await hook.close();
    }
  });

  it('config: a bad URL, a webhook without url and a console with a url name file, field and fix', () => {
    const text = yaml(`notifications:
  - type: webhook
    url: "ftp://hooks.example.com/x"
  - type: webhook
    headers: { Authorization: "env:" }
  - type: console
    url: https://hooks.example.com/x
  - type: pager
control:
  endpoint: onsit
`);
    let message = '';
    try {
      parseConfig(text, 'ferry.yaml', '/tmp');
    } catch (e) {
      assert.ok(e instanceof FerryError);
      assert.equal(e.type, ErrorType.CONFIG_INVALID);
      message = e.message;
    }
    const lines = message.split('\n');
    const line = (p: string) => lines.find((l) => l.startsWith(`ferry.yaml: ${p}: `)) ?? '';
    assert.match(line('notifications[0].url'), /got "ftp:.*use an http:\/\/ or https:\/\/ URL/);
    assert.match(line('notifications[1].url'), /missing; add url/);
    assert.match(
      line('notifications[1].headers.Authorization'),
      /env: reference without a valid variable name/,
    );
    assert.match(line('notifications[2].url'), /only a webhook notifier has url/);
    assert.match(line('notifications[3].type'), /use one of: console, webhook/);
    assert.match(line('control.endpoint'), /endpoint "onsit" is not defined.*did you mean "onsite"/);
  });

  it('config: control defaults to nothing (catalog picks the target); set, it defaults the database', () => {
    const cfg = parseConfig(yaml('control: { endpoint: onsite }\n'), 'ferry.yaml', '/tmp');
    assert.deepEqual(cfg.control, { endpoint: 'onsite', database: 'shop' });
    assert.equal(parseConfig(yaml(''), 'ferry.yaml', '/tmp').control, undefined);
  });
});

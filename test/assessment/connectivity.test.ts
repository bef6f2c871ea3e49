// Assessment connectivity and TLS against real servers: each way of failing to connect is told apart
// (network refused / timeout / DNS, pg_hba, authentication, missing database, TLS), the result still
// comes back with the dependent checks skipped, and encryption is reported from pg_stat_ssl.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { PgConnInfo } from '../../src/engine/connection';
import { pickPort } from '../../src/dev/postgres';
import { type TestServer, testServer } from '../support/pg';
import {
  type ExtraServer,
  Databases,
  assertFires,
  assertSilent,
  assess,
  connInfo,
  describeResult,
  extraServer,
  findingsOf,
} from './fixtures';

const CONNECT_RULES = [
  'endpoint-connection-refused',
  'endpoint-connect-timeout',
  'endpoint-dns',
  'endpoint-no-route',
  'endpoint-unavailable',
  'endpoint-pg-hba',
  'endpoint-auth-failed',
  'endpoint-database-missing',
  'endpoint-tls-unavailable',
  'endpoint-tls-certificate',
  'endpoint-checks-skipped',
];

describe('assessment: connectivity and TLS', function () {
  this.timeout(120_000);
  const dbs = new Databases();
  let pg13: TestServer;
  let pg15: TestServer;
  let tls: ExtraServer;
  let source: PgConnInfo;
  let target: PgConnInfo;

  before(async () => {
    [pg13, pg15, tls] = await Promise.all([testServer(13), testServer(15), extraServer()]);
    const [s, t] = await Promise.all([
      dbs.create(pg13, 'assess_conn_src', 'CREATE TABLE public.items (id int PRIMARY KEY, name text)'),
      dbs.create(pg15, 'assess_conn_tgt'),
    ]);
    source = { ...connInfo(pg13, s, 'onsite'), sslmode: 'disable' };
    target = { ...connInfo(pg15, t, 'aurora'), sslmode: 'disable' };
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') dbs.failed = true;
  });

  after(() => dbs.cleanup());

  it('reaches both endpoints of a clean pair: no connectivity finding, plain text warned per endpoint', async () => {
    const r = await assess({ source, target });
    assertSilent(r, ...CONNECT_RULES, 'endpoint-tls');
    const plain = assertFires(r, 'endpoint-plaintext');
    assert.deepEqual(plain.map((f) => f.object).sort(), ['endpoint:aurora', 'endpoint:onsite']);
    assert.match(plain[0].message, /sslmode disable/);
  });

  it('refused: nothing listens on the port (network)', async () => {
    const port = await pickPort();
    const r = await assess({ source: { ...source, port }, target });
    const [f] = assertFires(r, 'endpoint-connection-refused', 'endpoint:onsite');
    assert.equal(f.severity, 'blocker');
    assert.match(f.message, /network: connection to 127\.0\.0\.1:\d+ refused/);
    assert.ok(r.blocked);
    // The source checks are skipped and said to be, the target ones that need no plan still run.
    assertFires(r, 'endpoint-checks-skipped', 'endpoint:onsite');
    assertSilent(r, 'endpoint-connect-timeout', 'endpoint-dns', 'endpoint-auth-failed', 'endpoint-pg-hba');
    assertFires(r, 'endpoint-plaintext', 'endpoint:aurora');
  });

  it('timeout: a listener that accepts and never answers', async () => {
    const silent = net.createServer(() => undefined);
    const sockets: net.Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const started = Date.now();
      const r = await assess({ source, target: { ...target, port }, connectTimeoutMs: 700 });
      assert.ok(Date.now() - started < 15_000, 'gave up near the connect timeout');
      const [f] = assertFires(r, 'endpoint-connect-timeout', 'endpoint:aurora');
      assert.match(f.message, /network: no answer from 127\.0\.0\.1:\d+ before the connect timeout/);
      assertFires(r, 'endpoint-checks-skipped', 'endpoint:aurora');
      assertSilent(r, 'endpoint-connection-refused');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('DNS: a host name that does not resolve', async () => {
    const r = await assess({
      source: { ...source, host: 'no-such-host.invalid' },
      target,
      connectTimeoutMs: 5000,
    });
    const [f] = assertFires(r, 'endpoint-dns', 'endpoint:onsite');
    assert.match(f.message, /host name no-such-host\.invalid does not resolve/);
  });

  it('authentication: a wrong password and a role that does not exist', async () => {
    const wrong = await assess({ source: { ...source, password: 'not-the-password' }, target });
    const [f] = assertFires(wrong, 'endpoint-auth-failed', 'endpoint:onsite');
    assert.ok(!f.message.includes('not-the-password'), 'the password never appears in a finding');
    assertSilent(wrong, 'endpoint-pg-hba');
    const ghost = await assess({ source, target: { ...target, user: 'no_such_role' } });
    assertFires(ghost, 'endpoint-auth-failed', 'endpoint:aurora');
  });

  it('pg_hba: a reject line for the user, told apart from a failed password', async () => {
    const r = await assess({ source: { ...connInfo(tls, 'postgres', 'onsite'), user: 'nohba' }, target });
    const [f] = assertFires(r, 'endpoint-pg-hba', 'endpoint:onsite');
    assert.match(f.message, /pg_hba: no pg_hba\.conf line accepts user nohba/);
    assert.match(f.advice, /pg_hba\.conf/);
    assertSilent(r, 'endpoint-auth-failed');
  });

  it('a server that accepts no session now (connection limit reached)', async () => {
    const limited = { ...connInfo(tls, 'postgres', 'onsite'), user: 'limited', password: 'limited-password' };
    const r = await assess({ source: limited, target });
    const [f] = assertFires(r, 'endpoint-unavailable', 'endpoint:onsite');
    assert.match(f.message, /53300/);
    assertSilent(r, 'endpoint-auth-failed', 'endpoint-pg-hba');
  });

  it('a database that does not exist', async () => {
    const r = await assess({ source, target: { ...target, database: 'no_such_database' } });
    const [f] = assertFires(r, 'endpoint-database-missing', 'endpoint:aurora');
    assert.match(f.message, /database "no_such_database" does not exist/);
  });

  it('TLS required by sslmode but not offered by the server', async () => {
    const r = await assess({ source: { ...source, sslmode: 'require' }, target });
    assertFires(r, 'endpoint-tls-unavailable', 'endpoint:onsite');
    assertSilent(r, 'endpoint-unavailable', 'endpoint-auth-failed');
  });

  it('TLS: an encrypted session is reported, prefer uses it, and an unverified certificate is refused', async () => {
    const base = connInfo(tls, 'postgres', 'onsite');
    const required = await assess({ source: { ...base, sslmode: 'require' }, target });
    const [f] = assertFires(required, 'endpoint-tls', 'endpoint:onsite');
    assert.match(f.message, /encrypted \(TLSv1\.[23]/, describeResult(required));
    assertSilent(required, 'endpoint-tls-unavailable');
    assert.deepEqual(findingsOf(required, 'endpoint-plaintext', 'endpoint:onsite'), []);

    const preferred = await assess({ source: { ...base, sslmode: 'prefer' }, target });
    assertFires(preferred, 'endpoint-tls', 'endpoint:onsite');

    const plain = await assess({ source: { ...base, sslmode: 'disable' }, target });
    assertFires(plain, 'endpoint-plaintext', 'endpoint:onsite');

    const verified = await assess({ source: { ...base, sslmode: 'verify-full' }, target });
    const [cert] = assertFires(verified, 'endpoint-tls-certificate', 'endpoint:onsite');
    assert.match(cert.message, /SELF_SIGNED|certificate/i);
  });
});

// Connection settings and error classification against real PostgreSQL 13/15: every failure is a
// FerryError of the right type, names the endpoint, and never contains the password.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  type PgConnInfo,
  classifyPgError,
  connectPg,
  libpqEnv,
  pgClientConfig,
  withDatabase,
} from '../../src/engine/connection';
import { pickPort } from '../../src/dev/postgres';
import { FerryError } from '../../src/errors';
import { type TestServer, connect, dropDatabase, freshDatabase, testServer } from '../support/pg';

function info(s: TestServer, database: string): PgConnInfo {
  return {
    endpointId: `pg${s.major}`,
    host: s.host,
    port: s.port,
    database,
    user: s.user,
    password: s.password,
  };
}

async function failure(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof FerryError, `expected a FerryError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('engine/connection', function () {
  this.timeout(60_000);
  let src: TestServer;
  let db: string;

  before(async () => {
    src = await testServer(13);
    db = await freshDatabase(src, 'engine_conn');
  });
  after(async () => {
    if (db) await dropDatabase(src, db);
  });

  it('connects, with sslmode prefer falling back to plain text on a server without TLS', async () => {
    const c = await connectPg({ ...info(src, db), sslmode: 'prefer' }, 'ferry-test');
    try {
      const { rows } = await c.query<{ app: string }>(`SELECT current_setting('application_name') AS app`);
      assert.equal(rows[0].app, 'ferry-test');
    } finally {
      await c.end();
    }
  });

  it('sslmode require against a server without TLS is a config error naming the fix', async () => {
    const e = await failure(connectPg({ ...info(src, db), sslmode: 'require' }));
    assert.equal(e.type, 'CONFIG_INVALID');
    assert.match(e.message, /does not offer TLS/);
  });

  it('wrong password → AUTH_FAILED naming the endpoint and secret, without any password', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const e = await failure(connectPg({ ...info(src, db), password: wrong }));
    assert.equal(e.type, 'AUTH_FAILED');
    assert.equal(e.retryable, false);
    assert.match(
      e.message,
      /endpoint pg13 \(postgres@127\.0\.0\.1:\d+\/t_engine_conn_\w+\): password authentication failed/,
    );
    assert.match(e.message, /check the secret reference for endpoint pg13/);
    assert.ok(!e.message.includes(wrong));
    assert.ok(!e.message.includes(src.password));
  });

  it('missing database → DATABASE_MISSING', async () => {
    const e = await failure(connectPg(withDatabase(info(src, db), 'no_such_db_ferry')));
    assert.equal(e.type, 'DATABASE_MISSING');
    assert.match(e.message, /database "no_such_db_ferry" does not exist/);
  });

  it('closed port → ENDPOINT_UNREACHABLE, retryable, with the network checklist', async () => {
    const port = await pickPort();
    const e = await failure(connectPg({ ...info(src, db), port }));
    assert.equal(e.type, 'ENDPOINT_UNREACHABLE');
    assert.equal(e.retryable, true);
    assert.match(e.message, new RegExp(`cannot reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    assert.match(e.message, /listen_addresses/);
    assert.match(e.message, /security groups/);
    assert.ok(!e.message.includes(src.password));
  });

  it('a host that accepts TCP but never answers times out as ENDPOINT_UNREACHABLE', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const t0 = Date.now();
      const e = await failure(connectPg({ ...info(src, db), port }, 'ferry-test', { connectTimeoutMs: 300 }));
      assert.equal(e.type, 'ENDPOINT_UNREACHABLE');
      assert.match(e.message, /ETIMEDOUT/);
      assert.ok(Date.now() - t0 < 5_000);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => silent.close(r));
    }
  });

  it('permission denied → PRIVILEGE_MISSING', async () => {
    const role = `ferry_lim_${randomBytes(3).toString('hex')}`;
    const pw = randomBytes(10).toString('hex');
    const admin = await connect(src, db);
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${pw}'`);
      await admin.query('CREATE TABLE secret_stuff (x int)');
      const lim: PgConnInfo = { ...info(src, db), user: role, password: pw };
      const c = await connectPg(lim);
      try {
        const e = classifyPgError(
          await c.query('SELECT * FROM secret_stuff').catch((err: unknown) => err),
          lim,
        );
        assert.equal(e.type, 'PRIVILEGE_MISSING');
        assert.match(e.message, new RegExp(`user ${role} lacks a privilege`));
        assert.ok(!e.message.includes(pw));
      } finally {
        await c.end();
      }
    } finally {
      await admin.query('DROP TABLE IF EXISTS secret_stuff');
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('classifies by code only: pg_hba rejection, AggregateError, unknown SQLSTATE; redacts the password', () => {
    const c = { ...info(src, db), password: 'hunter2-secret' };
    const hba = classifyPgError(
      Object.assign(new Error('no pg_hba.conf entry for host "10.0.0.1"'), { code: '28000' }),
      c,
    );
    assert.equal(hba.type, 'AUTH_FAILED');
    assert.match(hba.message, /pg_hba\.conf/);
    const agg = new AggregateError(
      [Object.assign(new Error('x'), { code: 'ECONNREFUSED' })],
      'connect failed',
    );
    assert.equal(classifyPgError(agg, c).type, 'ENDPOINT_UNREACHABLE');
    assert.equal(
      classifyPgError(Object.assign(new Error('dns'), { code: 'ENOTFOUND' }), c).type,
      'ENDPOINT_UNREACHABLE',
    );
    // The message text alone decides nothing: "password authentication failed" without the SQLSTATE.
    const other = classifyPgError(
      Object.assign(new Error('password authentication failed hunter2-secret'), { code: '40001' }),
      c,
    );
    assert.equal(other.type, 'DATABASE_ERROR');
    assert.equal(other.retryable, true);
    assert.ok(!other.message.includes('hunter2-secret'));
  });

  it('maps sslmode to node-postgres ssl options', async () => {
    const base = info(src, db);
    assert.equal(pgClientConfig(base).ssl, false);
    assert.equal(pgClientConfig({ ...base, sslmode: 'disable' }).ssl, false);
    assert.equal(pgClientConfig({ ...base, sslmode: 'prefer' }).ssl, false);
    assert.deepEqual(pgClientConfig({ ...base, sslmode: 'require' }).ssl, { rejectUnauthorized: false });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-ca-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      await fs.writeFile(ca, 'PEM');
      const full = pgClientConfig({ ...base, sslmode: 'verify-full', sslrootcert: ca }).ssl as Record<
        string,
        unknown
      >;
      assert.equal(full.ca, 'PEM');
      assert.equal(full.rejectUnauthorized, true);
      assert.equal(full.checkServerIdentity, undefined);
      const vca = pgClientConfig({ ...base, sslmode: 'verify-ca', sslrootcert: ca }).ssl as Record<
        string,
        unknown
      >;
      assert.equal(typeof vca.checkServerIdentity, 'function');
      assert.throws(
        () => pgClientConfig({ ...base, sslmode: 'verify-full', sslrootcert: path.join(dir, 'missing.pem') }),
        (e: FerryError) => e.type === 'CONFIG_INVALID' && /sslrootcert/.test(e.message),
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    const cfg = pgClientConfig(base, 'ferry-x');
    assert.equal(cfg.application_name, 'ferry-x');
    assert.equal(cfg.connectionTimeoutMillis, 10_000);
  });

  it('libpq environment carries the password only in PGPASSWORD', () => {
    const env = libpqEnv({ ...info(src, db), sslmode: 'require', sslrootcert: '/ca.pem' });
    assert.deepEqual(Object.keys(env).sort(), [
      'PGAPPNAME',
      'PGCONNECT_TIMEOUT',
      'PGDATABASE',
      'PGHOST',
      'PGPASSWORD',
      'PGPORT',
      'PGSSLMODE',
      'PGSSLROOTCERT',
      'PGUSER',
    ]);
    assert.equal(env.PGPASSWORD, src.password);
    assert.equal(env.PGSSLMODE, 'require');
    assert.equal(env.PGCONNECT_TIMEOUT, '10');
    assert.equal(libpqEnv({ ...info(src, db), password: '' }).PGPASSWORD, undefined);
    assert.equal(libpqEnv(info(src, db)).PGSSLMODE, 'disable');
  });
});

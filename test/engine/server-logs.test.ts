// collectServerLogs against embedded servers: csvlog (the embedded default) with a ferry session's error
// in the window and not outside it, a LOG line kept only when not errorsOnly, another database's error
// left out, a large rotated log searched from the middle; a role without privileges told the exact grants
// (which then work); a stderr-only collector parsed by log_line_prefix; no collector → how to fetch by
// hand; and the advice for RDS/Aurora and for a prefix without a time, as pure functions.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { pickPort, startServer, stopServer } from '../../src/dev/postgres';
import type { PgConnInfo } from '../../src/engine/connection';
import {
  type LogFacts,
  type ServerLogLine,
  type ServerLogs,
  collectServerLogs,
  prefixPattern,
  rdsInstanceId,
  unreadableReason,
} from '../../src/engine/server-logs';
import { type TestServer, connect, dropDatabase, freshDatabase, testServer } from '../support/pg';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = () => randomBytes(3).toString('hex');

function connInfo(s: { port: number }, database: string, user = 'postgres', password = ''): PgConnInfo {
  return { endpointId: 'onsite', host: '127.0.0.1', port: s.port, database, user, password };
}

/** A session named `app` on `database` that runs `sql`, ignoring the error it is meant to cause. */
async function session(
  s: { port: number; password: string },
  database: string,
  app: string,
  ...sql: string[]
): Promise<void> {
  const c = new Client({
    host: '127.0.0.1',
    port: s.port,
    user: 'postgres',
    password: s.password,
    database,
    application_name: app,
  });
  await c.connect();
  try {
    for (const q of sql) await c.query(q).catch(() => undefined);
  } finally {
    await c.end();
  }
}

/** collectServerLogs until `pred` holds on its lines: the collector writes a moment after the fact. */
async function collectUntil(
  conn: PgConnInfo,
  opts: Parameters<typeof collectServerLogs>[1],
  pred: (lines: ServerLogLine[]) => boolean,
): Promise<Extract<ServerLogs, { readable: true }>> {
  let last: ServerLogs | undefined;
  for (let i = 0; i < 100; i++) {
    last = await collectServerLogs(conn, opts);
    assert.ok(last.readable, JSON.stringify(last));
    if (pred(last.lines)) return last;
    await sleep(100);
  }
  assert.fail(`lines never matched: ${JSON.stringify(last).slice(0, 3000)}`);
}

const errorOf = (table: string) => (l: ServerLogLine) =>
  l.severity === 'ERROR' && l.message === `relation "${table}" does not exist`;

describe('engine/server-logs: collectServerLogs', function () {
  this.timeout(600_000);

  describe('on the embedded server (csvlog)', () => {
    let pg15: TestServer;
    let db: string;
    let conn: PgConnInfo;

    before(async () => {
      pg15 = await testServer(15);
      db = await freshDatabase(pg15, 'server_logs');
      conn = connInfo(pg15, db, pg15.user, pg15.password);
    });
    after(async () => {
      if (db) await dropDatabase(pg15, db);
    });

    it("keeps a ferry session's error of the window, with its database, application and SQLSTATE; not outside it", async () => {
      const app = `ferry-test-${hex()}`;
      const table = `no_such_table_${hex()}`;
      const marker = `ferry marker ${hex()}`;
      const t0 = new Date();
      await sleep(20);
      await session(pg15, db, app, `SELECT * FROM ${table}`, `DO $$ BEGIN RAISE LOG '${marker}'; END $$`);
      // Another database's error (not ours, not a ferry application): left out.
      const foreign = `foreign_table_${hex()}`;
      await session(pg15, 'postgres', 'psql', `SELECT * FROM ${foreign}`);
      await sleep(20);
      const t1 = new Date();

      const got = await collectUntil(conn, { since: t0, until: t1 }, (ls) => ls.some(errorOf(table)));
      assert.equal(got.format, 'csvlog');
      assert.ok(got.files.length >= 1 && got.files.every((f) => f.endsWith('.csv')), got.files.join(', '));
      const err = got.lines.find(errorOf(table))!;
      assert.equal(err.database, db);
      assert.equal(err.application, app);
      assert.equal(err.sqlState, '42P01');
      const at = Date.parse(err.time);
      assert.ok(
        at >= t0.getTime() && at <= t1.getTime(),
        `${err.time} within ${t0.toISOString()}..${t1.toISOString()}`,
      );
      assert.ok(
        got.lines.some((l) => l.severity === 'LOG' && l.message === marker && l.application === app),
        'a LOG line of the ferry session is kept',
      );
      assert.ok(!got.lines.some((l) => l.message.includes(foreign)), "another database's error is left out");
      assert.ok(
        got.lines.every((l) => Date.parse(l.time) >= t0.getTime() && Date.parse(l.time) <= t1.getTime()),
      );

      const errorsOnly = await collectServerLogs(conn, { since: t0, until: t1, match: { errorsOnly: true } });
      assert.ok(errorsOnly.readable);
      assert.ok(errorsOnly.lines.some(errorOf(table)));
      assert.ok(!errorsOnly.lines.some((l) => l.message === marker), 'errorsOnly: no LOG line');

      const after = await collectServerLogs(conn, { since: new Date(t1.getTime() + 1) });
      assert.ok(after.readable && !after.lines.some(errorOf(table)), 'not in a window after it');
      const before = await collectServerLogs(conn, { since: new Date(t0.getTime() - 60_000), until: t0 });
      assert.ok(before.readable && !before.lines.some(errorOf(table)), 'not in a window before it');

      const one = await collectServerLogs(conn, { since: t0, until: t1, maxLines: 1 });
      assert.ok(one.readable);
      assert.equal(one.lines.length, 1);
      assert.equal(one.truncated, true);
    });

    it('finds the window in a large, rotated log without reading it from the start', async () => {
      // ~15 MB of LOG lines of another application (past the 10 MB rotation), then our error.
      await session(
        pg15,
        db,
        'bulk',
        `DO $$ BEGIN FOR i IN 1..60000 LOOP RAISE LOG 'bulk % %', i, repeat('x', 150); END LOOP; END $$`,
      );
      await sleep(200);
      const t0 = new Date();
      const table = `late_table_${hex()}`;
      await session(pg15, db, 'ferry-late', `SELECT * FROM ${table}`);
      const got = await collectUntil(conn, { since: t0, maxBytes: 6 << 20 }, (ls) => ls.some(errorOf(table)));
      assert.ok(!got.truncated, 'the search skipped the bulk: it fits in 6 MB');
      assert.ok(!got.lines.some((l) => l.message.startsWith('bulk ')));
    });

    it('tells a role without privileges the exact grants, which then work', async () => {
      const role = `ferry_t_logs_${hex()}`;
      const pw = hex() + hex();
      const admin = await connect(pg15, db);
      try {
        await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${pw}'`);
        const as = connInfo(pg15, db, role, pw);
        const t0 = new Date();
        const no = await collectServerLogs(as, { since: t0 });
        assert.equal(no.readable, false);
        if (no.readable) return;
        assert.equal(
          no.reason,
          `endpoint onsite (127.0.0.1:${pg15.port}): role ${role} may not list (pg_ls_logdir) or read (pg_read_binary_file) the server's log files`,
        );
        assert.equal(
          no.howToFetch[0],
          `as a superuser: GRANT pg_monitor TO "${role}"; GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO "${role}"; ` +
            `(pg_monitor lists the log directory; the EXECUTE grant reads files in it, pg_read_server_files alone does not)`,
        );
        assert.match(
          no.howToFetch[1],
          /^or on the server host: the files in log_directory \(<SHOW log_directory, as a superuser>;/,
        );
        // Exactly what it said, and it reads.
        const grants = no.howToFetch[0].replace(/^as a superuser: /, '').replace(/ \(pg_monitor .*$/, '');
        await admin.query(grants);
        const table = `granted_${hex()}`;
        await session(pg15, db, 'ferry-granted', `SELECT * FROM ${table}`);
        await collectUntil(as, { since: t0 }, (ls) => ls.some(errorOf(table)));
      } finally {
        await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
        await admin.query(`REVOKE pg_monitor FROM ${role}`).catch(() => undefined);
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
        await admin.end();
      }
    });
  });

  describe('on a server of its own (stderr only, then no collector)', () => {
    let dir: string;
    let dataDir: string;
    let port: number;
    const password = hex() + hex();

    before(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-logs-'));
      await fs.chmod(dir, 0o755);
      dataDir = path.join(dir, 'pg');
      port = await pickPort();
    });
    after(async () => {
      if (dataDir) await stopServer(dataDir);
      if (dir) await fs.rm(dir, { recursive: true, force: true });
    });

    it('parses stderr files by log_line_prefix', async () => {
      await startServer({ major: 15, dataDir, port, password, settings: { log_destination: 'stderr' } });
      try {
        const conn = connInfo({ port }, 'postgres', 'postgres', password);
        const t0 = new Date();
        const table = `stderr_table_${hex()}`;
        await session({ port, password }, 'postgres', 'ferry-stderr', `SELECT * FROM ${table}`);
        const got = await collectUntil(conn, { since: t0 }, (ls) => ls.some(errorOf(table)));
        assert.equal(got.format, 'stderr');
        const err = got.lines.find(errorOf(table))!;
        assert.equal(err.database, 'postgres');
        assert.equal(err.application, 'ferry-stderr');
        assert.ok(Math.abs(Date.parse(err.time) - t0.getTime()) < 10_000, err.time);
        // The STATEMENT line after it is a detail of the error, not a line of its own.
        assert.ok(!got.lines.some((l) => l.severity === 'STATEMENT'));
      } finally {
        await stopServer(dataDir);
      }
    });

    it('without a logging collector says how to fetch the log by hand', async () => {
      await startServer({ major: 15, dataDir, port, password, settings: { logging_collector: 'off' } });
      const since = new Date(Date.UTC(2025, 2, 1, 10, 0));
      const until = new Date(Date.UTC(2025, 2, 1, 11, 30));
      const got = await collectServerLogs(connInfo({ port }, 'postgres', 'postgres', password), {
        since,
        until,
      });
      assert.deepEqual(got, {
        readable: false,
        reason: `endpoint onsite (127.0.0.1:${port}): logging_collector is off, so the server writes no log files that SQL can read (log_destination = 'stderr,csvlog')`,
        howToFetch: [
          `without logging_collector the log is the postmaster's stderr, wherever the service that starts it sends it: ` +
            `systemd: journalctl -u postgresql --since '2025-03-01 10:00' --until '2025-03-01 11:30' (the unit may be ` +
            `postgresql@<version>-main or postgresql-<version>: systemctl list-units 'postgresql*'); Debian/Ubuntu pg_ctlcluster: ` +
            `/var/log/postgresql/postgresql-<version>-main.log; pg_ctl -l <file>: that file`,
          `so Ferry collects it next time: ALTER SYSTEM SET logging_collector = on; ALTER SYSTEM SET log_destination = 'stderr,csvlog'; ` +
            `then restart the server (logging_collector takes effect at start only)`,
        ],
      });
    });
  });

  describe('advice and parsing (pure)', () => {
    const facts: LogFacts = {
      user: 'ferry',
      superuser: false,
      canList: true,
      canRead: false,
      loggingCollector: true,
      logDestination: 'stderr',
      logLinePrefix: '%m [%p] ',
      rds: true,
      aurora: false,
      versionNum: 160000,
    };
    const since = new Date('2025-03-01T10:00:00Z');
    const until = new Date('2025-03-01T11:00:00Z');

    it('RDS: the aws rds commands for the instance the host names', () => {
      const r = unreadableReason(
        facts,
        { endpointId: 'aurora', host: 'shop-db.abc123xyz.eu-central-1.rds.amazonaws.com', port: 5432 },
        since,
        until,
      )!;
      assert.match(r.reason, /is Amazon RDS for PostgreSQL: its log files are served by the RDS API/);
      assert.equal(
        r.howToFetch[0],
        `aws rds describe-db-log-files --db-instance-identifier shop-db --region eu-central-1 --file-last-written ${since.getTime()} ` +
          `(the log files written since 2025-03-01T10:00:00.000Z)`,
      );
      assert.match(
        r.howToFetch[1],
        /^aws rds download-db-log-file-portion --db-instance-identifier shop-db --region eu-central-1 --log-file-name <LogFileName from the list> --starting-token 0 --output text/,
      );
    });

    it('Aurora: the cluster members first', () => {
      const r = unreadableReason(
        { ...facts, aurora: true },
        { endpointId: 'aurora', host: 'shop.cluster-abc123xyz.us-east-1.rds.amazonaws.com', port: 5432 },
        since,
        until,
      )!;
      assert.match(r.reason, /Aurora PostgreSQL/);
      assert.match(
        r.howToFetch[0],
        /^aws rds describe-db-clusters --db-cluster-identifier shop --region us-east-1 /,
      );
      assert.match(r.howToFetch[1], /--db-instance-identifier <instance id> --region us-east-1/);
      assert.deepEqual(rdsInstanceId('db.example.com'), undefined);
    });

    it('syslog, and a stderr prefix without a time', () => {
      const sys = unreadableReason(
        { ...facts, rds: false, loggingCollector: false, logDestination: 'syslog', syslogIdent: 'pg' },
        { endpointId: 'onsite', host: 'db1', port: 5432 },
        since,
        until,
      )!;
      assert.match(
        sys.howToFetch[0],
        /journalctl -t pg --since '2025-03-01 10:00' --until '2025-03-01 11:00'/,
      );
      const noTime = unreadableReason(
        { ...facts, rds: false, superuser: true, logLinePrefix: '[%p] ' },
        { endpointId: 'onsite', host: 'db1', port: 5432 },
        since,
        until,
      )!;
      assert.match(noTime.reason, /log_line_prefix '\[%p\] ' has no time/);
      assert.match(noTime.howToFetch[0], /ALTER SYSTEM SET log_line_prefix = '%m \[%p\] %q%u@%d\/%a '/);
    });

    it('prefixPattern reads time, database and application, with %q and padding', () => {
      const p = prefixPattern('%m [%p] %q%u@%d/%a ');
      const m = p.exec(
        '2025-03-01 10:00:00.123 UTC [42] bob@shop/ferry-cdc ERROR:  relation "x" does not exist',
      )!;
      assert.deepEqual(
        { t: m.groups!.t, db: m.groups!.db, app: m.groups!.app, sev: m.groups!.sev, msg: m.groups!.msg },
        {
          t: '2025-03-01 10:00:00.123 UTC',
          db: 'shop',
          app: 'ferry-cdc',
          sev: 'ERROR',
          msg: 'relation "x" does not exist',
        },
      );
      const bg = p.exec('2025-03-01 10:00:00.123 CET [7] LOG:  checkpoint starting: time')!;
      assert.equal(bg.groups!.sev, 'LOG');
      assert.equal(bg.groups!.db, undefined);
      const padded = prefixPattern('%t %-10d %a: ').exec(
        '2025-03-01 10:00:00 +03 shop       psql: WARNING:  w',
      )!;
      assert.deepEqual(
        [padded.groups!.t, padded.groups!.db, padded.groups!.app],
        ['2025-03-01 10:00:00 +03', 'shop', 'psql'],
      );
      assert.equal(p.exec('\tcontinued line'), null);
    });
  });
});

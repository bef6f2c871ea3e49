// Assessment of data types and database properties against real servers: a user-defined base type,
// money, xml, tsvector with a custom text search configuration, timestamp without time zone, a column
// collation the target lacks, an extension Aurora does not offer, and a target database with another
// encoding and collation; silence on a clean pair.
import assert from 'node:assert/strict';
import type { PgConnInfo } from '../../src/engine/connection';
import { type TestServer, testServer } from '../support/pg';
import { Databases, assertFires, assertSilent, assess, connInfo, describeResult } from './fixtures';

const TYPE_RULES = [
  'type-user-defined-base',
  'type-money',
  'type-xml',
  'type-tsvector',
  'type-timestamp-without-tz',
  'extension-not-on-aurora',
  'encoding-mismatch',
  'encoding-sql-ascii',
  'collation-mismatch',
  'collation-missing',
  'target-extension-missing',
  'target-extension-version',
  'assessment-check-failed',
];

describe('assessment: data types and database properties', function () {
  this.timeout(120_000);
  const dbs = new Databases();
  let pg13: TestServer;
  let pg15: TestServer;
  let clean: PgConnInfo;
  let odd: PgConnInfo;
  let target: PgConnInfo;

  before(async () => {
    [pg13, pg15] = await Promise.all([testServer(13), testServer(15)]);
    const [c, o, t] = await Promise.all([
      dbs.create(
        pg13,
        'assess_types_clean',
        `CREATE TABLE public.plain (id int PRIMARY KEY, name text, code text COLLATE "C", at timestamptz,
                                    amount numeric(10,2), doc jsonb, tags text[])`,
      ),
      dbs.create(
        pg13,
        'assess_types_odd',
        `CREATE TYPE public.shell;
         CREATE FUNCTION public.shell_in(cstring) RETURNS public.shell AS 'int4in' LANGUAGE internal IMMUTABLE STRICT;
         CREATE FUNCTION public.shell_out(public.shell) RETURNS cstring AS 'int4out' LANGUAGE internal IMMUTABLE STRICT;
         CREATE TYPE public.shell (INPUT = public.shell_in, OUTPUT = public.shell_out, LIKE = int4);
         CREATE COLLATION public.german FROM "C";
         CREATE TEXT SEARCH CONFIGURATION public.shop_search (COPY = pg_catalog.english);
         CREATE EXTENSION file_fdw;
         CREATE TABLE public.odd (
           id int PRIMARY KEY, s public.shell, shells public.shell[], price money, doc xml, search tsvector,
           at timestamp, at_tz timestamptz, name text COLLATE public.german, code text COLLATE "C"
         );`,
      ),
      dbs.create(pg15, 'assess_types_tgt'),
    ]);
    clean = connInfo(pg13, c, 'onsite');
    odd = connInfo(pg13, o, 'onsite');
    target = connInfo(pg15, t, 'aurora');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') dbs.failed = true;
  });

  after(() => dbs.cleanup());

  it('a clean pair: no data-type, extension, encoding or collation finding', async () => {
    const r = await assess({ source: clean, target });
    assertSilent(r, ...TYPE_RULES);
    assert.equal(r.blocked, false, describeResult(r));
  });

  it('types the target supports differently, each on its column', async () => {
    const r = await assess({ source: odd, target });
    const base = assertFires(r, 'type-user-defined-base');
    assert.deepEqual(
      base.map((f) => f.object),
      ['column:public.odd.s', 'column:public.odd.shells'],
      'the type and arrays of it',
    );
    assert.equal(base[0].severity, 'blocker');
    assert.match(base[0].message, /public\.shell .*input function shell_in/);
    const [money] = assertFires(r, 'type-money', 'column:public.odd.price');
    assert.match(money.message, /lc_monetary/);
    assertFires(r, 'type-xml', 'column:public.odd.doc');
    assertFires(r, 'type-tsvector', 'column:public.odd.search');
    const [configs] = assertFires(r, 'type-tsvector', 'endpoint:onsite');
    assert.match(configs.message, /public\.shop_search/);
    const noTz = assertFires(r, 'type-timestamp-without-tz');
    assert.deepEqual(
      noTz.map((f) => f.object),
      ['column:public.odd.at'],
    );
  });

  it('a column collation missing on the target, with the CREATE COLLATION that fixes it', async () => {
    const r = await assess({ source: odd, target });
    const [f] = assertFires(r, 'collation-missing');
    assert.equal(f.object, 'collation:public.german');
    assert.match(f.message, /used by public\.odd\.name/);
    assert.match(f.advice, /CREATE COLLATION "public"\."german" \(provider = libc, locale = 'C'\)/);
  });

  it('an extension Aurora does not offer (file_fdw), by the target major or the one given', async () => {
    const r = await assess({ source: odd, target });
    const [f] = assertFires(r, 'extension-not-on-aurora', 'extension:file_fdw');
    assert.match(f.message, /Aurora PostgreSQL 15 \(https:\/\/docs\.aws\.amazon\.com/);
    assertSilent(r, 'target-extension-missing');
    assert.deepEqual(
      r.findings.filter((x) => x.id === 'extension-not-on-aurora').map((x) => x.object),
      ['extension:file_fdw'],
      'plpgsql is on the list',
    );
    const older = await assess({ source: odd, target, auroraMajor: 12 });
    const [o] = assertFires(older, 'extension-not-on-aurora', 'extension:file_fdw');
    assert.match(o.message, /Ferry's list has no 12; checked against 13/);
  });

  it('a SQL_ASCII source database', async () => {
    const ascii = await dbs.createWith(
      pg13,
      'assess_sql_ascii',
      `ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`,
    );
    const r = await assess({ source: connInfo(pg13, ascii, 'onsite'), target });
    const [f] = assertFires(r, 'encoding-sql-ascii', 'endpoint:onsite');
    assert.match(f.message, /SQL_ASCII \(bytes unchecked\) and the target database is UTF8/);
    assertSilent(r, 'encoding-mismatch');
  });

  it('a target database in LATIN1 with collation C', async () => {
    const latin = await dbs.createWith(
      pg15,
      'assess_latin1',
      `ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`,
    );
    const r = await assess({ source: clean, target: connInfo(pg15, latin, 'aurora') });
    const [enc] = assertFires(r, 'encoding-mismatch', 'endpoint:aurora');
    assert.match(enc.message, /encoded LATIN1, the source .* UTF8/);
    assert.ok(r.blocked);
    const [coll] = assertFires(r, 'collation-mismatch', 'endpoint:aurora');
    assert.match(coll.message, /LC_COLLATE C\.UTF-8 on the source, C on the target/);
  });
});

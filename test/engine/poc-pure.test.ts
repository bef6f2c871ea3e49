// The PoC's pure parts: estimate math, fallback plan commands, scratch names, pg_dump arguments and
// the parsing of pg_restore output.
import assert from 'node:assert/strict';
import type { PgConnInfo } from '../../src/engine/connection';
import { classifyToolFailure } from '../../src/engine/pg-tools';
import {
  RestoreProgress,
  buildFallbackPlan,
  danglingForeignKeys,
  dumpArgs,
  estimateFullMigration,
  passwordFromRef,
  restoreHints,
  scanPreData,
  scratchDatabaseName,
  shellQuote,
} from '../../src/engine/poc';

const conn: PgConnInfo = {
  endpointId: 'onsite',
  host: 'db1.example',
  port: 5432,
  database: 'shop',
  user: 'ferry',
  password: 'S3cret-Passw0rd',
};

describe('engine/poc (pure parts)', () => {
  it('extrapolates dump + restore throughput to the whole database', () => {
    const e = estimateFullMigration({
      scopeBytes: 100e6,
      databaseBytes: 10e9,
      dumpSeconds: 4,
      restoreSeconds: 6,
      dumpBytes: 25e6,
    });
    assert.equal(e.bytesPerSecond, 10e6);
    assert.equal(e.estimatedSeconds, 1000);
    assert.match(e.basis, /in 10\.0 s \(dump 4\.0 s \+ restore 6\.0 s\)/);
    assert.match(e.basis, /4\.0:1/);
    assert.match(e.basis, /17 min/);
    const none = estimateFullMigration({
      scopeBytes: 0,
      databaseBytes: 10e9,
      dumpSeconds: 1,
      restoreSeconds: 1,
      dumpBytes: 1,
    });
    assert.equal(none.estimatedSeconds, 0);
    assert.equal(none.bytesPerSecond, 0);
    assert.match(none.basis, /no estimate/);
    assert.equal(
      estimateFullMigration({
        scopeBytes: 5,
        databaseBytes: 5,
        dumpSeconds: 0,
        restoreSeconds: 0,
        dumpBytes: 0,
      }).estimatedSeconds,
      0,
    );
  });

  it('writes fallback commands that fetch the password from its reference and never contain it', () => {
    const input = {
      migration: 'shop-to-aurora',
      source: {
        endpointId: 'onsite',
        host: 'db1.example',
        port: 5433,
        database: 'shop',
        user: 'ferry',
        passwordRef: 'file:/run/secrets/pg pw',
      },
      dumpFile: '/var/lib/ferry/shop/poc-1.dump',
      owners: [{ name: 'Alice', email: 'alice@example.com', role: 'app-owner' }],
      fallbackContacts: [
        { name: 'Alice again', email: 'ALICE@example.com' },
        { name: 'DBA on call', email: 'dba@example.com' },
      ],
      application: 'webshop',
      sla: { maxDowntime: 900, rpo: 0, businessHours: 'Mon-Fri 08-18' },
    };
    const plan = buildFallbackPlan(input);
    const restore = plan.commands.find((c) => c.includes('pg_restore --clean'));
    assert.equal(
      restore,
      `PGPASSWORD="$(cat '/run/secrets/pg pw')" pg_restore --clean --if-exists --no-owner --single-transaction ` +
        `--exit-on-error -h db1.example -p 5433 -U ferry -d shop /var/lib/ferry/shop/poc-1.dump`,
    );
    assert.equal(plan.commands[0], 'pg_restore --list /var/lib/ferry/shop/poc-1.dump > /dev/null');
    assert.deepEqual(plan.applications, ['webshop']);
    assert.deepEqual(
      plan.notify.to.map((c) => c.name),
      ['Alice', 'DBA on call'],
    );
    assert.match(plan.notify.message, /webshop/);
    assert.ok(plan.notes.some((n) => /maximum downtime 15 min/.test(n)));
    assert.ok(plan.notes.some((n) => /recovery point objective 0 s/.test(n)));

    const env = buildFallbackPlan({
      ...input,
      source: { ...input.source, passwordRef: 'env:SHOP_PG_PASSWORD' },
    });
    assert.ok(env.commands[1].startsWith('PGPASSWORD="$SHOP_PG_PASSWORD" pg_restore'));
    const aws = passwordFromRef(
      'aws-secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-AbCdEf',
    );
    assert.equal(
      aws,
      'PGPASSWORD="$(aws secretsmanager get-secret-value --region eu-west-1 --secret-id ' +
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-AbCdEf --query SecretString --output text)"',
    );
    // Something that is not a reference (a password typed by mistake) is never echoed.
    const literal = buildFallbackPlan({
      ...input,
      source: { ...input.source, passwordRef: 'hunter2-literal' },
    });
    assert.ok(!JSON.stringify(literal).includes('hunter2-literal'));
    assert.ok(literal.notes.some((n) => /export PGPASSWORD/.test(n)));
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });

  it('names scratch databases within 63 bytes, hashing when the name loses information', () => {
    assert.equal(scratchDatabaseName('shop-to-aurora'), 'ferry_poc_shop_to_aurora');
    const upper = scratchDatabaseName('Shop');
    assert.match(upper, /^ferry_poc_shop_[0-9a-f]{8}$/);
    assert.notEqual(upper, scratchDatabaseName('shop'));
    const long = scratchDatabaseName('x'.repeat(100));
    assert.ok(Buffer.byteLength(long) <= 63, long);
    assert.notEqual(long, scratchDatabaseName('x'.repeat(101)));
    assert.match(scratchDatabaseName('naïve migration'), /^ferry_poc_na_ve_migration_[0-9a-f]{8}$/);
  });

  it('builds pg_dump arguments with exact quoted patterns', () => {
    const t = (schema: string, name: string) => ({
      schema,
      name,
      oid: '1',
      owner: 'o',
      kind: 'table' as const,
      estimatedRows: 0,
      bytes: 0,
      hasPrimaryKey: true,
    });
    assert.deepEqual(dumpArgs({ mode: 'all', schemas: [], tables: [] }, 6, true), [
      '--format=custom',
      '--compress=6',
      '--no-password',
      '--lock-wait-timeout=300000',
    ]);
    const scoped = dumpArgs(
      { mode: 'tables', schemas: [], tables: [t('Sales', 'Order Items'), t('public', 'a"b.c')] },
      0,
      true,
    );
    assert.deepEqual(scoped.slice(4), [
      '--extension=*',
      '--strict-names',
      '--table="Sales"."Order Items"',
      '--table="public"."a""b.c"',
    ]);
    const schemas = dumpArgs({ mode: 'schemas', schemas: ['Sales'], tables: [] }, 9, false);
    assert.deepEqual(schemas.slice(4), ['--strict-names', '--schema="Sales"']);
  });

  it('finds the schemas and tables a pre-data script creates and uses', () => {
    const sql = [
      'CREATE SCHEMA "Sales";',
      'CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA ext;',
      'CREATE TABLE "Sales"."Order Items" (',
      'CREATE UNLOGGED TABLE public."Mixed.Case" (',
      'CREATE VIEW public.v AS',
      'CREATE TEXT SEARCH CONFIGURATION "Odd ""q"".s".cfg (',
      'CREATE CAST (integer AS public.t)',
      '    CREATE TABLE inside.function_body (',
    ].join('\n');
    const pre = scanPreData(sql);
    assert.deepEqual([...pre.createdSchemas], ['Sales']);
    assert.deepEqual([...pre.usedSchemas].sort(), ['Odd "q".s', 'Sales', 'ext', 'public']);
    assert.deepEqual([...pre.tables], ['"Sales"."Order Items"', '"public"."Mixed.Case"']);
  });

  it('finds foreign keys to tables outside the archive in verbose post-data output', () => {
    const post = [
      '--',
      '-- TOC entry 2799 (class 2606 OID 16396)',
      '-- Name: Or ders Or ders_pkey; Type: CONSTRAINT; Schema: Sa les; Owner: postgres',
      '--',
      'ALTER TABLE ONLY "Sa les"."Or ders"',
      '    ADD CONSTRAINT "Or ders_pkey" PRIMARY KEY (id);',
      '--',
      '-- TOC entry 2800 (class 2606 OID 16397)',
      '-- Name: Or ders Or ders_e_fkey; Type: FK CONSTRAINT; Schema: Sa les; Owner: postgres',
      '--',
      'ALTER TABLE ONLY "Sa les"."Or ders"',
      '    ADD CONSTRAINT "Or ders_e_fkey" FOREIGN KEY (e) REFERENCES hr.emp(id);',
      '--',
      '-- TOC entry 2801 (class 2606 OID 16402)',
      '-- Name: Or ders Or ders_self_fkey; Type: FK CONSTRAINT; Schema: Sa les; Owner: postgres',
      '--',
      'ALTER TABLE ONLY "Sa les"."Or ders"',
      '    ADD CONSTRAINT "Or ders_self_fkey" FOREIGN KEY (self) REFERENCES "Sa les"."Or ders"(id);',
    ].join('\n');
    assert.deepEqual(danglingForeignKeys(post, new Set(['"Sa les"."Or ders"'])), [
      { id: '2800', constraint: 'Or ders_e_fkey', table: '"Sa les"."Or ders"', references: 'hr.emp' },
    ]);
  });

  it('counts pg_restore progress in parallel and serial mode', () => {
    const par = new RestoreProgress(5);
    for (const l of [
      'pg_restore: processing item 6 SCHEMA Sales',
      'pg_restore: creating SCHEMA "Sales"',
      'pg_restore: launching item 9 TABLE DATA x',
      'pg_restore: finished item 9 TABLE DATA x',
      'pg_restore: finished item 9 TABLE DATA x',
    ]) {
      par.line(l);
    }
    assert.equal(par.done, 2);
    const ser = new RestoreProgress(3);
    [
      'pg_restore: creating TABLE "a.b"',
      'pg_restore: processing data for table "a.b"',
      'pg_restore: connecting to database',
    ].forEach((l) => ser.line(l));
    assert.equal(ser.done, 2);
  });

  it('explains restore and tool failures', () => {
    const hints = restoreHints(
      'pg_restore: error: could not execute query: ERROR:  could not open extension control file ' +
        '"/usr/share/postgresql/15/extension/postgis.control": No such file or directory',
      conn,
    );
    assert.match(hints[0], /extension postgis is not installed on the target \(endpoint onsite\)/);
    const auth = classifyToolFailure(
      'pg_dump',
      conn,
      {
        code: 1,
        signal: null,
        stderrTail: [
          'pg_dump: error: connection to server at "db1.example" (10.0.0.1), port 5432 failed: FATAL:  password authentication failed for user "ferry" S3cret-Passw0rd',
        ],
      },
      'dumping',
    );
    assert.equal(auth.type, 'AUTH_FAILED');
    assert.ok(!auth.message.includes('S3cret-Passw0rd'));
    const down = classifyToolFailure(
      'pg_dump',
      conn,
      {
        code: 1,
        signal: null,
        stderrTail: ['pg_dump: error: could not connect to server: Connection refused'],
      },
      'dumping',
    );
    assert.equal(down.type, 'ENDPOINT_UNREACHABLE');
    const other = classifyToolFailure(
      'pg_dump',
      conn,
      { code: 1, signal: null, stderrTail: ['pg_dump: error: query failed: boom'] },
      'dumping',
    );
    assert.equal(other.type, 'TOOL_FAILED');
    assert.match(other.message, /pg_dump exited with code 1 while dumping .*\n.*boom/);
  });
});

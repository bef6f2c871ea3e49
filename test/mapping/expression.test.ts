// SQLite expressions (DMS add-column) translated to PostgreSQL: operators, the documented functions,
// headers, CASE, and refusals that name the supported functions.
import assert from 'node:assert/strict';
import {
  ExpressionError,
  SUPPORTED_FUNCTIONS,
  parseExpression,
  translateExpression,
} from '../../src/mapping/expression';

const TYPES: Record<string, string> = {
  FIRST_NAME: 'text',
  LAST_NAME: 'text',
  emp_salary: 'numeric(12,2)',
  qty: 'integer',
  photo: 'bytea',
  hired: 'date',
  created: 'timestamp with time zone',
  started: 'time without time zone',
  größe: 'text',
};
const ctx = {
  schema: 'hr',
  table: 'employee',
  columnType: (n: string) => TYPES[n],
  columnNames: Object.keys(TYPES),
};
const pg = (expr: string) => translateExpression(parseExpression(expr), ctx).sql;
const refused = (expr: string, message: RegExp) =>
  assert.throws(
    () => translateExpression(parseExpression(expr), ctx),
    (e: unknown) => e instanceof ExpressionError && message.test(e.message),
    expr,
  );

describe('mapping/expression', () => {
  it('concatenates with || as SQLite does: operands as text, NULL propagates', () => {
    assert.equal(pg("$FIRST_NAME||'_'||$LAST_NAME"), `"FIRST_NAME"::text || '_' || "LAST_NAME"::text`);
    assert.equal(pg('$qty || $qty'), `"qty"::text || "qty"::text`);
    // SQLite binds || tighter than +; the translation keeps that grouping explicit.
    assert.equal(pg("$qty + 1 || 'x'"), `"qty" + (1::text || 'x')`);
  });

  it('translates arithmetic, comparison and boolean operators with explicit grouping', () => {
    assert.equal(pg('$qty * 2 + 1'), '("qty" * 2) + 1');
    assert.equal(pg('$qty == 1 OR NOT $qty != 2'), '("qty" = 1) OR (NOT ("qty" <> 2))');
    assert.equal(
      pg('$qty BETWEEN 1 AND 5 AND $qty NOT IN (3, 4)'),
      '("qty" BETWEEN 1 AND 5) AND ("qty" NOT IN (3, 4))',
    );
    assert.equal(pg('$qty IS NULL'), '"qty" IS NULL');
    assert.equal(pg('$qty IS NOT 3'), '"qty" IS DISTINCT FROM 3');
    assert.equal(pg("$FIRST_NAME LIKE 'a%'"), `"FIRST_NAME"::text ILIKE 'a%'`);
    assert.equal(pg('-$qty'), '-"qty"');
    assert.equal(pg('CAST($qty AS TEXT)'), '("qty")::text');
  });

  it('maps the DMS string functions', () => {
    assert.equal(pg('lower($FIRST_NAME)'), 'lower("FIRST_NAME"::text)');
    assert.equal(pg('UPPER($qty)'), 'upper("qty"::text)');
    assert.equal(pg("ltrim($FIRST_NAME, 'x')"), `ltrim("FIRST_NAME"::text, 'x')`);
    assert.equal(pg('rtrim($FIRST_NAME)'), 'rtrim("FIRST_NAME"::text)');
    assert.equal(pg('trim($FIRST_NAME)'), 'btrim("FIRST_NAME"::text)');
    assert.equal(pg("replace($FIRST_NAME, 'a', 'b')"), `replace("FIRST_NAME"::text, 'a', 'b')`);
    assert.equal(pg('substr($FIRST_NAME, 2, 3)'), 'substr("FIRST_NAME"::text, 2, 3)');
    assert.equal(pg('substr($FIRST_NAME, $qty)'), 'substr("FIRST_NAME"::text, ("qty")::integer)');
    // DMS: replaceChars("abcde","abcd","123") = "1231e".
    assert.equal(
      pg('replaceChars($FIRST_NAME, "abcd", "123")'),
      `translate("FIRST_NAME"::text, 'abcd', '1231')`,
    );
  });

  it('maps numeric, NULL, LOB and hash functions', () => {
    assert.equal(pg('abs($qty)'), 'abs("qty")');
    assert.equal(pg('round($emp_salary)'), 'round(("emp_salary")::numeric)');
    assert.equal(pg('round($emp_salary, 1)'), 'round(("emp_salary")::numeric, 1)');
    assert.equal(pg('max($qty, 10)'), 'greatest("qty", 10)');
    assert.equal(pg('min($qty, 10, 20)'), 'least("qty", 10, 20)');
    assert.equal(pg('coalesce($qty, 0)'), 'coalesce("qty", 0)');
    assert.equal(pg('ifnull($qty, 0)'), 'coalesce("qty", 0)');
    assert.equal(pg('nullif($qty, 0)'), 'nullif("qty", 0)');
    assert.equal(
      pg('hash_sha256($FIRST_NAME)'),
      `encode(sha256(convert_to("FIRST_NAME"::text, 'UTF8')), 'hex')`,
    );
    assert.equal(pg('hash_sha256($photo)'), `encode(sha256("photo"), 'hex')`);
    assert.equal(pg('hex($photo)'), `upper(encode("photo", 'hex'))`);
    assert.equal(pg('zeroblob(4)'), `decode(repeat('00', 4), 'hex')`);
    assert.match(pg('random()'), /random\(\)/);
  });

  it('maps date and time functions, with UTC now and simple modifiers', () => {
    assert.equal(pg('datetime()'), `to_char((now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS')`);
    assert.equal(pg("date('now')"), `to_char((now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`);
    assert.equal(pg('date($hired)'), `to_char("hired"::timestamp, 'YYYY-MM-DD')`);
    assert.equal(
      pg('datetime($created)'),
      `to_char(("created" AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS')`,
    );
    assert.equal(pg('time($started)'), `to_char((DATE '2000-01-01' + "started"::time), 'HH24:MI:SS')`);
    assert.equal(
      pg("date($hired, '+1 month', 'start of month')"),
      `to_char(date_trunc('month', ("hired"::timestamp + '+1 months'::interval)), 'YYYY-MM-DD')`,
    );
    assert.equal(
      pg("datetime(1700000000, 'unixepoch')"),
      `to_char((to_timestamp(1700000000) AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS')`,
    );
    assert.equal(pg("strftime('%Y/%m', $hired)"), `to_char("hired"::timestamp, 'YYYY"/"MM')`);
    assert.equal(pg('julianday($hired)'), `(extract(epoch from "hired"::timestamp) / 86400.0 + 2440587.5)`);
  });

  it('supports both CASE forms (the DMS seniority example)', () => {
    assert.equal(
      pg("CASE WHEN round($emp_salary)>=20000 THEN 'SENIOR' ELSE 'JUNIOR' END"),
      `CASE WHEN round(("emp_salary")::numeric) >= 20000 THEN 'SENIOR' ELSE 'JUNIOR' END`,
    );
    assert.equal(pg("case $qty when 1 then 'one' end"), `CASE "qty" WHEN 1 THEN 'one' END`);
  });

  it('gives DMS headers their full-load values and reports them', () => {
    const tr = translateExpression(
      parseExpression(
        "$AR_H_OPERATION || $AR_H_STREAM_POSITION || $AR_M_SOURCE_SCHEMA || '.' || $AR_M_SOURCE_TABLE_NAME",
      ),
      ctx,
    );
    assert.equal(tr.sql, `'INSERT' || '' || 'hr' || '.' || 'employee'`);
    assert.deepEqual(tr.headers, ['AR_H_OPERATION', 'AR_H_STREAM_POSITION']);
    assert.equal(pg('$AR_H_COMMIT_TIMESTAMP'), 'now()');
    assert.equal(pg('$AR_H_TIMESTAMP'), 'now()');
    assert.equal(pg('$AR_H_CHANGE_SEQ'), "''");
  });

  it('quotes column names and literals safely', () => {
    assert.equal(pg("$größe || 'it''s'"), `"größe"::text || 'it''s'`);
    assert.equal(translateExpression(parseExpression('$qty + $qty'), ctx).columns.join(), 'qty');
  });

  it('refuses unsupported functions with the supported list, and other mistakes with the fix', () => {
    refused(
      "concat($FIRST_NAME, 'x')",
      /function "concat" is not supported in DMS expressions; use one of: lower, upper/,
    );
    refused('lowr($FIRST_NAME)', /did you mean "lower"\?/);
    refused('randomblob(4)', /pgcrypto/);
    refused("operation_indicator('D', 'U', 'I')", /soft deletes/);
    refused('max($qty)', /aggregate/);
    refused('substr($FIRST_NAME, -2)', /negative start/);
    refused('lower($FIRST_NAME, 1)', /takes 1 argument/);
    refused('$nope + 1', /employee has no column "nope"/);
    refused('$first_nam', /did you mean \$FIRST_NAME\?/);
    refused('$AR_H_USER', /SQL Server and Oracle/);
    refused('$AR_H_BOGUS', /not a DMS header/);
    refused("date($hired, 'localtime')", /modifier 'localtime' is not supported/);
    refused("strftime('%s', $hired)", /%s is not supported/);
    refused('CASE WHEN $qty > 1 THEN ‘SENIOR’ END', /straight single quotes/);
    refused("'open", /not closed/);
    refused('$qty +', /ends too early/);
    refused('FIRST_NAME', /write source columns as \$FIRST_NAME/);
    refused("$FIRST_NAME GLOB 'a*'", /GLOB is not supported/);
    refused('', /empty/);
    assert.ok(SUPPORTED_FUNCTIONS.includes('replaceChars'));
  });
});

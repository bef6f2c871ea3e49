// Identifier/literal quoting and scope-name parsing: the odd names Ferry must survive.
import assert from 'node:assert/strict';
import {
  displayName,
  parseTableName,
  qualify,
  quoteIdent,
  quoteLiteral,
  readIdent,
} from '../../src/engine/ident';
import { FerryError } from '../../src/errors';

describe('engine/ident', () => {
  it('always quotes identifiers and doubles embedded quotes', () => {
    assert.equal(quoteIdent('orders'), '"orders"');
    assert.equal(quoteIdent('Order Items'), '"Order Items"');
    assert.equal(quoteIdent('a"b'), '"a""b"');
    assert.equal(quoteIdent('select'), '"select"');
    assert.equal(qualify('Sales', 'Mixed.Case'), '"Sales"."Mixed.Case"');
    assert.throws(() => quoteIdent('a\0b'), FerryError);
  });

  it('quotes literals with or without backslashes', () => {
    assert.equal(quoteLiteral("it's"), "'it''s'");
    assert.equal(quoteLiteral('a\\b'), "E'a\\\\b'");
    assert.equal(quoteLiteral('ferry:scratch migration=x'), "'ferry:scratch migration=x'");
  });

  it('parses scope table names literally or SQL-quoted, and refuses unqualified ones', () => {
    assert.deepEqual(parseTableName('public.orders'), { schema: 'public', table: 'orders' });
    assert.deepEqual(parseTableName('Sales.Order Items'), { schema: 'Sales', table: 'Order Items' });
    assert.deepEqual(parseTableName('public."Mixed.Case"'), { schema: 'public', table: 'Mixed.Case' });
    assert.deepEqual(parseTableName('"a.b"."c""d"'), { schema: 'a.b', table: 'c"d' });
    for (const bad of ['orders', '.x', 'x.', 'a."b', '"a"b.c']) {
      assert.throws(
        () => parseTableName(bad),
        (e: FerryError) => e.type === 'CONFIG_INVALID',
        bad,
      );
    }
  });

  it('reads identifiers as pg_dump prints them, and displays names for people', () => {
    assert.deepEqual(readIdent('"Order Items" ('), { name: 'Order Items', rest: ' (' });
    assert.deepEqual(readIdent('public.t'), { name: 'public', rest: '.t' });
    assert.equal(readIdent('(x'), undefined);
    assert.equal(displayName('public', 'orders'), 'public.orders');
    assert.equal(displayName('Sales', 'Order Items'), '"Sales"."Order Items"');
  });
});

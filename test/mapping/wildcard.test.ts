// DMS name patterns: % and _ wildcards, bracket sets and ranges, [_] as the only escape on PostgreSQL.
import assert from 'node:assert/strict';
import { compilePattern, exactName } from '../../src/mapping/wildcard';

describe('mapping/wildcard', () => {
  const matches = (pattern: string, names: string[]) => names.filter((n) => compilePattern(pattern).test(n));

  it('% matches any run of characters, including none', () => {
    assert.deepEqual(matches('%', ['', 'orders', 'Order Items']), ['', 'orders', 'Order Items']);
    assert.deepEqual(matches('DMS%', ['DMS', 'DMS_x', 'xDMS', 'dms_x']), ['DMS', 'DMS_x']);
    assert.deepEqual(matches('%_2023', ['payments_2023', 'x_2023', '_2023', '2023']), [
      'payments_2023',
      'x_2023',
      '_2023',
    ]);
  });

  it('_ matches exactly one character, so my_table also matches myXtable', () => {
    assert.deepEqual(matches('my_table', ['my_table', 'myXtable', 'mytable', 'my__table']), [
      'my_table',
      'myXtable',
    ]);
  });

  it('[_] is a literal underscore; [ab] a set; [a-d] a range', () => {
    assert.deepEqual(matches('my[_]table', ['my_table', 'myXtable']), ['my_table']);
    assert.deepEqual(matches('t[ab]', ['ta', 'tb', 'tc', 'tab']), ['ta', 'tb']);
    assert.deepEqual(matches('p[a-c]%', ['pa1', 'pc', 'pd', 'P a']), ['pa1', 'pc']);
  });

  it('is case-sensitive and treats regular-expression characters literally', () => {
    assert.deepEqual(matches('Legacy', ['Legacy', 'legacy']), ['Legacy']);
    assert.deepEqual(matches('a.b(c)+$', ['a.b(c)+$', 'aXb(c)+$']), ['a.b(c)+$']);
    assert.deepEqual(matches('größe%', ['größe', 'größer', 'grosse']), ['größe', 'größer']);
  });

  it('says which patterns are wild, and refuses broken brackets', () => {
    assert.equal(compilePattern('orders').wild, false);
    assert.equal(compilePattern('order_items').wild, true);
    assert.equal(exactName('order_items').test('orderXitems'), false);
    assert.throws(() => compilePattern('t[ab'), /no closing "\]"/);
    assert.throws(() => compilePattern('t[d-a]'), /reversed/);
  });
});

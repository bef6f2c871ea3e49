// The full load's SQL text helpers, without a server: parameters inlined as literals, predicates
// joined, and the DDL PostgreSQL prints parsed and its column lists renamed.
import assert from 'node:assert/strict';
import {
  closeParen,
  elementColumn,
  parseForeignKeyDef,
  parseIndexDef,
  parsePartitionKey,
  rewriteColumnList,
  splitTopLevel,
} from '../../src/engine/fullload/ddl';
import { andPredicates, inlineParams } from '../../src/engine/fullload/sql';
import { FerryError } from '../../src/errors';

describe('engine/fullload: SQL helpers', () => {
  describe('inlineParams', () => {
    it('replaces $n with quoted literals and keeps the casts', () => {
      assert.equal(
        inlineParams(`"price" >= $1::numeric AND "name" = $2`, ['10.5', "O'Brien"]),
        `"price" >= '10.5'::numeric AND "name" = 'O''Brien'`,
      );
      assert.equal(
        inlineParams(`a IN ($1, $2, $10)`, ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'ten']),
        `a IN ('1', '2', 'ten')`,
      );
      assert.equal(inlineParams(`x = $1`, ['back\\slash']), `x = E'back\\\\slash'`);
    });

    it('leaves $n alone inside strings, identifiers, dollar quotes and comments', () => {
      const sql = `'$1' || "$1" || $q$ $1 $q$ || E'\\'$1' || $1 -- $1\n/* $1 /* $1 */ */ || a$1`;
      assert.equal(
        inlineParams(sql, ['v']),
        `'$1' || "$1" || $q$ $1 $q$ || E'\\'$1' || 'v' -- $1\n/* $1 /* $1 */ */ || a$1`,
      );
      assert.equal(inlineParams(`"a""$1" = $1`, ['z']), `"a""$1" = 'z'`);
    });

    it('refuses a parameter that is not there', () => {
      assert.throws(
        () => inlineParams('a = $2', ['x']),
        (e: unknown) => e instanceof FerryError && e.type === 'CONFIG_INVALID',
      );
    });
  });

  it('andPredicates drops TRUE and absent parts', () => {
    assert.equal(andPredicates(undefined, 'TRUE'), 'TRUE');
    assert.equal(andPredicates('a', undefined, 'true'), 'a');
    assert.equal(andPredicates('a OR b', 'c'), '(a OR b) AND (c)');
  });

  describe('DDL', () => {
    it('finds balanced parentheses and top-level commas, skipping quotes', () => {
      const s = `(a, "x)", 'y)', f(b)) rest`;
      assert.equal(s.slice(0, closeParen(s, 0)), `(a, "x)", 'y)', f(b))`);
      assert.equal(closeParen('(a', 0), -1);
      assert.deepEqual(splitTopLevel(`a, f(b, c), "d,e" DESC, 'x,y'::text`), [
        'a',
        'f(b, c)',
        '"d,e" DESC',
        `'x,y'::text`,
      ]);
    });

    it('tells columns from expressions in a key list', () => {
      assert.deepEqual(elementColumn('"Order Items" DESC'), { name: 'Order Items', rest: ' DESC' });
      assert.deepEqual(elementColumn('a text_pattern_ops'), { name: 'a', rest: ' text_pattern_ops' });
      assert.equal(elementColumn('lower(email)'), undefined);
      assert.equal(elementColumn('public.f(x)'), undefined);
      assert.equal(elementColumn('((a + b))'), undefined);
    });

    it('rewrites column lists and refuses unknown columns', () => {
      const map = new Map([
        ['UnitPrice', 'unit_price'],
        ['order', 'order'],
      ]);
      assert.deepEqual(
        rewriteColumnList(`"order", "UnitPrice" DESC NULLS LAST, lower(x)`, (c) => map.get(c)),
        {
          ok: true,
          text: `"order", "unit_price" DESC NULLS LAST, lower(x)`,
        },
      );
      assert.deepEqual(
        rewriteColumnList('gone', (c) => map.get(c)),
        { ok: false, column: 'gone' },
      );
    });

    it('parses pg_get_indexdef, pg_get_constraintdef and pg_get_partkeydef output', () => {
      const idx = parseIndexDef(
        `CREATE UNIQUE INDEX "IX a" ON ONLY sales."Order Items" USING btree ("order", b) INCLUDE (c) WHERE (b > 0)`,
        '"IX a"',
        'sales."Order Items"',
      );
      assert.deepEqual(idx, {
        unique: true,
        method: 'btree',
        keys: '"order", b',
        include: 'c',
        tail: ' WHERE (b > 0)',
      });
      assert.equal(parseIndexDef('CREATE INDEX x ON s.t USING gin (tags)', 'x', 's.other'), undefined);
      assert.deepEqual(
        parseForeignKeyDef(
          `FOREIGN KEY (a, "B") REFERENCES "Legacy"."T"(x, y) ON DELETE CASCADE DEFERRABLE`,
          '"Legacy"."T"',
        ),
        { columns: 'a, "B"', refColumns: 'x, y', tail: ' ON DELETE CASCADE DEFERRABLE' },
      );
      assert.deepEqual(parsePartitionKey('RANGE (paid_at)'), { strategy: 'RANGE', keys: 'paid_at' });
      assert.deepEqual(parsePartitionKey('LIST (lower(a))'), { strategy: 'LIST', keys: 'lower(a)' });
    });
  });
});

// The SQL a plan carries runs on real PostgreSQL: every golden plan's column expressions, row filters
// and DMS range predicates are evaluated over the seeded sample database (PostgreSQL 13, the oldest
// source the repo tests), and range segments are checked to cover each row exactly once.
import assert from 'node:assert/strict';
import type { Client } from 'pg';
import { seedSampleDatabase } from '../../src/dev/seed';
import { andRowFilters } from '../../src/mapping';
import type { RowFilter, TablePlan } from '../../src/mapping/types';
import {
  type TestServer,
  connect,
  dropDatabase,
  freshDatabase,
  stopAllServers,
  testServer,
} from '../support/pg';
import { GOLDEN_CASES, compileCase } from './helpers';

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Every copied column as the engine's source SELECT would read it. */
function selectList(t: TablePlan): string {
  return t.columns
    .filter((c) => c.generated === undefined)
    .map((c) => c.expression ?? q(c.source!))
    .join(', ');
}

/** The relations a table's rows come from: its leaves for a partitioned table, else itself. */
function sources(t: TablePlan): string[] {
  if (t.segments.method === 'partitions')
    return (t.segments.partitions ?? []).map((p) => `${q(p.schema)}.${q(p.name)}`);
  return [`${q(t.source.schema)}.${q(t.source.name)}`];
}

async function count(
  client: Client,
  t: TablePlan,
  from: string,
  where: RowFilter | undefined,
): Promise<number> {
  // row(...)::text forces every expression to be evaluated (a bare count(*) would let the planner skip them).
  const sql = `SELECT count(*)::bigint AS n, sum(length(row(${selectList(t)})::text)) AS len FROM ${from}${where ? ` WHERE ${where.sql}` : ''}`;
  const res = await client.query<{ n: string }>(sql, where?.params ?? []);
  return Number(res.rows[0].n);
}

describe('mapping plan SQL on PostgreSQL', function () {
  this.timeout(180_000);
  let server: TestServer;
  let database: string;
  let client: Client;

  before(async () => {
    server = await testServer(13);
    database = await freshDatabase(server, 'mapping_plan_sql');
    client = await connect(server, database);
    await seedSampleDatabase(client, { scale: 1 });
  });

  after(async () => {
    await client?.end();
    if (server && database) await dropDatabase(server, database);
    // Under the full suite the root hook stops the shared servers; run alone (mocha --no-config)
    // nothing else would, and a leaked postgres would outlive the test run.
    if (!Object.keys(require.cache).some((k) => k.endsWith('/test/support/hooks.js'))) await stopAllServers();
  });

  for (const name of GOLDEN_CASES) {
    it(`${name}: every table's SELECT, filter and segment predicates run`, async () => {
      const plan = compileCase(name);
      for (const t of plan.tables) {
        let total = 0;
        for (const from of sources(t)) total += await count(client, t, from, t.filter);
        const predicates = t.segments.predicates;
        if (!predicates) continue;
        let segmented = 0;
        for (const p of predicates) {
          for (const from of sources(t))
            segmented += await count(client, t, from, andRowFilters(t.filter, p));
        }
        // DMS ranges leave out rows whose first range column is NULL; these tables have none.
        assert.equal(segmented, total, `${t.source.schema}.${t.source.name}: segments cover every row once`);
      }
    });
  }

  it('masking expressions change digits and hash the way DMS documents', async () => {
    const plan = compileCase('exclude-filters');
    const customers = plan.tables.find((t) => t.source.name === 'customers')!;
    const expr = (target: string) => customers.columns.find((c) => c.target === target)!.expression!;
    const row = await client.query(
      `SELECT ${expr('email')} AS email, ${expr('user')} AS "user", ${expr('loyalty_points')} AS points,
              "user" AS raw_user, loyalty_points AS raw_points
         FROM sales.customers WHERE "user" ~ '[0-9]' AND loyalty_points > 9 LIMIT 1`,
    );
    assert.equal(row.rows.length, 1, 'the sample has a customer with digits in "user"');
    const r = row.rows[0];
    assert.match(r.email, /^[0-9A-F]{64}$/);
    assert.equal(r.user, String(r.raw_user).replace(/[0-9]/g, '#'));
    // Digits are replaced one by one; a leading 0 may make the integer shorter, never longer.
    assert.ok(/^\d+$/.test(String(r.points)) && String(r.points).length <= String(r.raw_points).length);
    const hash = await client.query(`SELECT ${expr('email').replace(/"email"/g, "'C6BGJ566669K'")} AS h`);
    // The DMS masking guide's example value and hash.
    assert.equal(hash.rows[0].h, '7CB06784764C9030CCC41E25C15339FEB293FFE9B329A72B5FED564E99900C75');
  });
});

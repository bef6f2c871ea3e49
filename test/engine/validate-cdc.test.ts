// Data validation while CDC runs, PostgreSQL 13 → 15: a workload keeps changing the sample database,
// runCdc applies it, and validation re-checks what it finds in flight once the apply position has passed
// it: the busy tables converge to Validated (never a false mismatch), while a row corrupted on the target
// of a quiet table is confirmed as a mismatch with its key. Slot and publication are dropped afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { readSourceCatalog } from '../../src/engine/catalog';
import { runCdc } from '../../src/engine/cdc/runner';
import { cdcTables, dropPublication, ensurePublication } from '../../src/engine/cdc/source';
import type { PgConnInfo } from '../../src/engine/connection';
import { runFullLoadLocal } from '../../src/engine/fullload';
import { type ValidationOptions, type ValidationResult, validateMigration } from '../../src/engine/validate';
import type { MigrationPlan, SourceCatalog } from '../../src/mapping/types';
import { cdcSource, startWorkload, type Workload } from '../support/cdc';
import { type TestServer, connect, dropDatabase, freshDatabase, testServer } from '../support/pg';
import { Leftovers, connInfo, identityPlan } from './fixtures/fullload';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BUSY = ['sales.customers', 'inventory.products', 'public.app_settings', 'sales."Order Items"'];
const QUIET = 'hr.employees';

describe('engine/validate: while CDC applies a busy workload', function () {
  this.timeout(300_000);
  const left = new Leftovers();
  const tag = randomBytes(3).toString('hex');
  const slotName = `ferry_t_validate_${tag}`;
  const publication = `ferry_t_validate_pub_${tag}`;
  const migration = `validate-cdc-${tag}`;
  let pg13: TestServer;
  let source: PgConnInfo;
  let target: PgConnInfo;
  let dst: Client;
  let plan: MigrationPlan;
  let workload: Workload | undefined;
  let catalog: SourceCatalog;
  let stopCdc = new AbortController();
  let cdc: Promise<unknown> | undefined;

  /** runCdc in the background until stopped. */
  const startCdc = () => {
    stopCdc = new AbortController();
    cdc = runCdc({
      migration,
      source,
      target,
      plan,
      catalog,
      slotName,
      publication,
      signal: stopCdc.signal,
      progressIntervalMs: 500,
    });
    cdc.catch(() => undefined);
  };
  const stopRunner = async () => {
    stopCdc.abort();
    await cdc;
  };

  const validate = (over: Partial<ValidationOptions> = {}) =>
    validateMigration({
      migration,
      plan,
      source,
      target,
      settings: { EnableValidation: true, PartitionSize: 300, ThreadCount: 4 },
      tables: [...BUSY, QUIET],
      cdc: true,
      pendingWaitMs: 3000,
      ...over,
    });
  const stateOf = (r: ValidationResult, key: string) => r.tables.find((t) => t.key === key)?.state;

  before(async () => {
    const src = await cdcSource('validate_cdc');
    pg13 = src.server;
    const pg15 = await testServer(15);
    const tdb = await freshDatabase(pg15, 'validate_cdc');
    left.databases.push({ server: pg13, name: src.db }, { server: pg15, name: tdb });
    left.slots.push({ server: pg13, database: src.db, name: slotName });
    source = connInfo(pg13, src.db, 'onsite');
    target = connInfo(pg15, tdb, 'aurora');
    catalog = await readSourceCatalog(source);
    plan = identityPlan(catalog);
    await ensurePublication(source, publication, cdcTables(plan));
    await runFullLoadLocal({ migration, source, target, plan, catalog, concurrency: 4, slotName });
    startCdc();
    dst = await connect(pg15, tdb);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') left.failed = true;
  });

  after(async () => {
    await workload?.stop();
    await stopRunner().catch(() => undefined);
    await dst?.end();
    if (source) await dropPublication(source, publication).catch(() => undefined);
    await left.cleanup(dropDatabase);
  });

  it('converges to Validated on busy tables and confirms a corrupted quiet row', async () => {
    workload = startWorkload(pg13, source.database, 5);
    const { rows: emp } = await dst.query<{ id: string }>(
      `SELECT id::text FROM hr.employees ORDER BY id LIMIT 2 OFFSET 3`,
    );
    const extraId = String(Number(emp[0].id) + 1_000_000);
    // Three corruptions of the quiet table: a changed value, a deleted row, an extra row.
    await dst.query(
      `BEGIN; SET LOCAL session_replication_role = replica;
       UPDATE hr.employees SET salary = salary + 100 WHERE id = ${emp[0].id};
       DELETE FROM hr.employees WHERE id = ${emp[1].id};
       INSERT INTO hr.employees (id, first_name, last_name, email, hired_on, salary)
         VALUES (${extraId}, 'Extra', 'Row', 'extra.row@example.com', '2024-01-01', 1000);
       COMMIT`,
    );
    // CDC has applied something: its position is on the target.
    for (let i = 0; ; i++) {
      const { rows } = await dst.query(`SELECT to_regclass('ferry.cdc_progress') IS NOT NULL AS ok`);
      if (
        rows[0].ok &&
        (await dst.query(`SELECT 1 FROM ferry.cdc_progress WHERE migration = $1`, [migration])).rows.length
      )
        break;
      assert.ok(i < 300, 'CDC applied nothing in 60 s');
      await sleep(200);
    }
    // CDC stops while the workload goes on: what the target misses now is in flight, not a mismatch.
    await sleep(500);
    await stopRunner();
    await sleep(1000);
    const behind = await validate({ pendingWaitMs: 500 });
    assert.equal(behind.cdc, true);
    const pendingSeen = behind.tables.reduce((n, t) => n + t.pending + t.pendingChunks, 0);
    console.log(
      `      full pass with CDC stopped (${workload.committed()} workload txns so far): ` +
        behind.tables.map((t) => `${t.key} ${t.state} (${t.pending} pending)`).join(', '),
    );
    assert.equal(
      behind.mismatches,
      0,
      `nothing is confirmed while the target is behind: ${JSON.stringify(behind.failures)}`,
    );
    assert.equal(stateOf(behind, 'sales.customers'), 'Pending records');
    assert.equal(stateOf(behind, QUIET), 'Pending records', 'the corrupted row waits for the position too');
    assert.ok(behind.failures.every((f) => f.status === 'pending' && f.sourceLsn));

    // CDC again, the workload still writing: re-checks of only what is pending converge.
    startCdc();
    let last = behind;
    let rounds = 0;
    for (
      ;
      BUSY.some((k) => stateOf(last, k) !== 'Validated') || stateOf(last, QUIET) !== 'Mismatched records';
      rounds++
    ) {
      assert.ok(
        rounds < 30,
        `did not converge: ${JSON.stringify(last.tables.map((t) => [t.key, t.state, t.pending]))}`,
      );
      last = await validate({ mode: 'pending' });
      for (const k of BUSY)
        assert.notEqual(stateOf(last, k), 'Mismatched records', `${k}: ${JSON.stringify(last.failures)}`);
    }
    console.log(
      `      ${pendingSeen} keys were pending; converged after ${rounds} re-check run(s), ${workload.committed()} workload txns`,
    );
    const bad = last.failures
      .filter((f) => f.status === 'mismatched')
      .sort((a, b) => Number(a.key.id) - Number(b.key.id));
    assert.deepEqual(
      bad.map((f) => [f.table, f.key, f.kind, f.columns]),
      [
        [QUIET, { id: emp[0].id }, 'different', ['salary']],
        [QUIET, { id: emp[1].id }, 'missing-on-target', undefined],
        [QUIET, { id: extraId }, 'extra-on-target', undefined],
      ],
      'the corrupted rows are the only confirmed mismatches',
    );
    assert.equal(Number(bad[0].target!.salary), Number(bad[0].source!.salary) + 100);
    assert.ok(bad[1].source && !bad[1].target, 'a missing row shows the source values');
    assert.ok(bad[2].target && !bad[2].source, 'an extra row shows the target values');
    assert.ok(bad[0].rechecks > 0);

    // Once the workload stops, a new full pass finds the busy tables Validated and the corrupted row still there.
    await workload.stop();
    workload = undefined;
    const done = await validate({ pendingWaitMs: 15_000 });
    assert.deepEqual(
      Object.fromEntries(done.tables.map((t) => [t.key, t.state])),
      Object.fromEntries([...BUSY.map((k) => [k, 'Validated']), [QUIET, 'Mismatched records']]),
    );
    assert.equal(done.mismatches, 3);
    assert.deepEqual(
      done.failures
        .map((f) => [f.key, f.status])
        .sort((a, b) => Number((a[0] as { id: string }).id) - Number((b[0] as { id: string }).id)),
      [
        [{ id: emp[0].id }, 'mismatched'],
        [{ id: emp[1].id }, 'mismatched'],
        [{ id: extraId }, 'mismatched'],
      ],
    );
    assert.ok(done.failures[0].rechecks > 1, 'the failure was re-checked, not found anew');
  });
});

// Worker processes killed with SIGKILL at three points of a full load (early copy, mid copy, post-data):
// each restart resumes, and the target ends with exactly the source rows: no duplicate, none missing.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { FerryClient, fullLoadWorkflowId } from '../../src/client';
import type { FullLoadStatus } from '../../src/workflows/definitions';
import { fingerprint } from '../support/compare';
import { connect, dropDatabase, freshDatabase, testServer } from '../support/pg';
import { testMigration, TestMigration } from '../support/stack';
import { temporalEnv } from '../support/temporal';
import { startWorkerProcess } from '../support/worker-process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('full load survives workers killed at three points', function () {
  this.timeout(600_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await m?.cleanup();
    if (sourceDb) await dropDatabase(await testServer(13), sourceDb);
  });

  it('completes with equal checksums and no duplicate rows', async () => {
    const src = await testServer(13);
    sourceDb = await freshDatabase(src, 'flcrash_src');
    const c = await connect(src, sourceDb);
    await c.query(`CREATE SCHEMA "Big";
      CREATE TABLE "Big".events (id bigint PRIMARY KEY, kind text NOT NULL, "Payload" text, at timestamptz);
      INSERT INTO "Big".events SELECT i, 'k' || (i % 7), repeat(md5(i::text), 3), '2026-01-01'::timestamptz + i * interval '1 s'
        FROM generate_series(1, 2000000) i;
      CREATE INDEX events_at ON "Big".events (at);
      CREATE INDEX events_kind ON "Big".events (kind, at);
      CREATE TABLE small (id serial PRIMARY KEY, v text);
      INSERT INTO small (v) SELECT 'v' || i FROM generate_series(1, 1000) i;
      CREATE TABLE nokey (a int, b text);
      INSERT INTO nokey SELECT i % 10, 'dup' FROM generate_series(1, 5000) i;
      ANALYZE;`);
    await c.end();
    // Twenty DMS range segments, copied one at a time, on the big table so the load has many points to die at.
    const boundaries = Array.from({ length: 19 }, (_, i) => [String((i + 1) * 100_000)]);
    m = await testMigration({
      label: 'fl-crash',
      sourceDb,
      tableMappings: {
        rules: [
          {
            'rule-type': 'selection',
            'rule-id': '1',
            'rule-name': 'all',
            'object-locator': { 'schema-name': '%', 'table-name': '%' },
            'rule-action': 'include',
          },
          {
            'rule-type': 'table-settings',
            'rule-id': '2',
            'rule-name': 'split-events',
            'object-locator': { 'schema-name': 'Big', 'table-name': 'events' },
            'parallel-load': { type: 'ranges', columns: ['id'], boundaries },
          },
        ],
      },
      taskSettings: { FullLoadSettings: { MaxFullLoadSubTasks: 1 } },
    });

    const env = await temporalEnv();
    const taskQueue = `fl-crash-${m.name}`;
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = fullLoadWorkflowId(m.name);
    let worker = startWorkerProcess(m.configPath, env.address, taskQueue);
    children.push(worker);
    await client.startFullLoad({ migration: m.name, heartbeatTimeout: '5 seconds' });

    const status = () => client.fullLoadStatus(id).catch(() => undefined);
    const killWhen = async (label: string, pred: (s: FullLoadStatus) => boolean) => {
      for (let i = 0; ; i++) {
        assert.ok(i < 3000, `never reached kill point ${label}`);
        const s = await status();
        if (s && pred(s)) break;
        assert.notEqual(s?.phase, 'completed', `load completed before kill point ${label}`);
        assert.notEqual(s?.phase, 'failed', s?.error);
        await sleep(50);
      }
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      worker = startWorkerProcess(m!.configPath, env.address, taskQueue);
      children.push(worker);
    };
    let seen = 0;
    await killWhen(
      'early copy',
      (s) => s.phase === 'loading' && s.totals.segmentsDone >= 1 && ((seen = s.totals.segmentsDone), true),
    );
    await killWhen('mid copy', (s) => s.phase === 'loading' && s.totals.segmentsDone >= seen + 1);
    await killWhen('post-data', (s) => s.phase === 'post-data');

    const final = (await client.handle(id).result()) as FullLoadStatus;
    assert.equal(final.phase, 'completed');
    assert.equal(final.totals.completed, final.totals.tables);
    // The kills took the snapshot holder down too: the status says the load spans several snapshots.
    assert.ok(
      final.findings.some((f) => /snapshot holder restarted/.test(f)),
      final.findings.join('\n'),
    );

    const s = await connect(m.source, m.sourceDb);
    const t = await connect(m.target, m.targetDb);
    try {
      for (const table of ['"Big".events', 'public.small', 'public.nokey']) {
        assert.deepEqual(
          await fingerprint(t, `SELECT * FROM ${table}`),
          await fingerprint(s, `SELECT * FROM ${table}`),
          table,
        );
      }
      // The key exists on the target, so a duplicate could not hide; the indexes were all built.
      const idx = await t.query(
        `SELECT count(*)::int AS n FROM pg_index WHERE indrelid = '"Big".events'::regclass`,
      );
      assert.equal(idx.rows[0].n, 3);
    } finally {
      await s.end();
      await t.end();
    }
    worker.kill('SIGTERM');
  });
});

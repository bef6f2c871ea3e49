// The worker's Prometheus metrics: the /metrics endpoint on a free port, series written by real
// full-load and CDC activities (mock activity environment, real PostgreSQL), failures counted by type,
// and a worker process started with FERRY_METRICS_PORT serving them.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../src/activities';
import { wrap } from '../src/activities/failures';
import { ErrorType, FerryError } from '../src/errors';
import {
  type MetricsServer,
  metrics,
  metricsPortFromEnv,
  recordValidation,
  registry,
  startMetricsServer,
} from '../src/metrics';
import { connect, dropDatabase, freshDatabase, testServer } from './support/pg';
import { testMigration, type TestMigration } from './support/stack';
import { temporalEnv } from './support/temporal';

type Labels = Record<string, string>;

/** Samples of the Prometheus text format: name, labels, value. */
function parse(text: string): { name: string; labels: Labels; value: number }[] {
  const out: { name: string; labels: Labels; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when absent. */
function sample(text: string, name: string, labels: Labels = {}): number | undefined {
  const hits = parse(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(hits.length <= 1, `${name} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** MockActivityEnvironment.run with the activity's own types, and its name in Info (errors are counted by it). */
function run<A, R>(activityType: string, fn: (a: A) => Promise<R>, a: A, env?: MockActivityEnvironment) {
  return (env ?? new MockActivityEnvironment({ activityType })).run(fn, a) as Promise<R>;
}

describe('metrics (Prometheus endpoint, real activities)', function () {
  this.timeout(300_000);
  let server: MetricsServer;
  before(async () => {
    registry.resetMetrics();
    server = await startMetricsServer({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await server?.close();
  });

  it('serves the helpers’ series and the process defaults on /metrics, 404 elsewhere', async () => {
    assert.ok(server.port > 0);
    metrics.rowsCopied('m1', 'sales.orders', 'full-load', 1000, 64_000);
    metrics.rowsCopied('m1', 'sales.orders', 'full-load', 500, 32_000);
    metrics.rowsCopied('m1', 'sales.orders', 'validation', 1500, 0);
    metrics.cdcLag('m1', 4096, 1.5);
    metrics.applyBatch('m1', 3);
    metrics.applyBatch('m1', 30_000);
    metrics.applyBatch('m1', 0); // a batch of other tables' transactions: not observed
    metrics.error('m1', 'copySegment', ErrorType.SNAPSHOT_LOST);
    metrics.error('m1', 'copySegment', ErrorType.SNAPSHOT_LOST);
    recordValidation('m1', 'sales.orders', 7, 120);
    const count = metrics.runningTotals('m1', 'full-load');
    count('sales."Order Items"', { rows: 10, bytes: 100 });
    count('sales."Order Items"', { rows: 25, bytes: 250 });
    count('sales."Order Items"', { rows: 20, bytes: 250 }); // an estimate corrected down: never subtracted

    const text = await scrape(server.url);
    const orders = { migration: 'm1', table: 'sales.orders' };
    assert.equal(sample(text, 'ferry_rows_total', { ...orders, phase: 'full-load' }), 1500);
    assert.equal(sample(text, 'ferry_bytes_total', { ...orders, phase: 'full-load' }), 96_000);
    assert.equal(sample(text, 'ferry_rows_total', { ...orders, phase: 'validation' }), 1500);
    const items = { migration: 'm1', table: 'sales.\\"Order Items\\"', phase: 'full-load' };
    assert.equal(sample(text, 'ferry_rows_total', items), 25);
    assert.equal(sample(text, 'ferry_bytes_total', items), 250);
    assert.equal(sample(text, 'ferry_cdc_lag_bytes', { migration: 'm1' }), 4096);
    assert.equal(sample(text, 'ferry_cdc_lag_seconds', { migration: 'm1' }), 1.5);
    assert.equal(sample(text, 'ferry_cdc_apply_batch_changes_count', { migration: 'm1' }), 2);
    assert.equal(sample(text, 'ferry_cdc_apply_batch_changes_sum', { migration: 'm1' }), 30_003);
    assert.equal(sample(text, 'ferry_cdc_apply_batch_changes_bucket', { migration: 'm1', le: '10' }), 1);
    assert.equal(
      sample(text, 'ferry_errors_total', { migration: 'm1', activity: 'copySegment', type: 'SNAPSHOT_LOST' }),
      2,
    );
    assert.equal(sample(text, 'ferry_validation_mismatched_rows', orders), 7);
    assert.equal(sample(text, 'ferry_validation_pending_rows', orders), 120);
    assert.ok(sample(text, 'process_cpu_user_seconds_total')! >= 0, 'default process metrics');
    assert.ok(sample(text, 'nodejs_heap_size_used_bytes')! > 0, 'default Node.js metrics');

    metrics.cdcStopped('m1');
    assert.equal(sample(await scrape(server.url), 'ferry_cdc_lag_bytes', { migration: 'm1' }), undefined);
    assert.equal((await fetch(server.url.replace('/metrics', '/'))).status, 404);
    assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
  });

  it('counts failures by type where activities map them, cancellations and unclassified errors apart', async () => {
    await assert.rejects(
      run(
        'copySegment',
        (migration: string) =>
          wrap(
            () => Promise.reject(new FerryError(ErrorType.SCHEMA_MISMATCH, 'column x is gone')),
            migration,
          ),
        'm2',
      ),
      (e: unknown) => e instanceof ApplicationFailure && e.type === 'SCHEMA_MISMATCH',
    );
    await assert.rejects(
      run(
        'copySegment',
        (migration: string) => wrap(() => Promise.reject(new TypeError('bug')), migration),
        'm2',
      ),
      TypeError,
    );
    // Cancelled by the workflow: not a failure.
    const env = new MockActivityEnvironment({ activityType: 'holdSnapshot' });
    env.cancel();
    await assert.rejects(
      run('holdSnapshot', (m: string) => wrap(() => Promise.reject(new Error('aborted')), m), 'm2', env),
    );
    const text = await scrape(server.url);
    const of = (activity: string, type: string) =>
      sample(text, 'ferry_errors_total', { migration: 'm2', activity, type });
    assert.equal(of('copySegment', 'SCHEMA_MISMATCH'), 1);
    assert.equal(of('copySegment', 'UNCLASSIFIED'), 1);
    assert.equal(
      parse(text).filter((s) => s.name === 'ferry_errors_total' && s.labels.activity === 'holdSnapshot')
        .length,
      0,
    );
  });

  it('FERRY_METRICS_PORT: unset is off, 0 any free port, garbage a CONFIG_INVALID; a taken port is refused', async () => {
    assert.equal(metricsPortFromEnv({}), undefined);
    assert.equal(metricsPortFromEnv({ FERRY_METRICS_PORT: '' }), undefined);
    assert.equal(metricsPortFromEnv({ FERRY_METRICS_PORT: '0' }), 0);
    assert.equal(metricsPortFromEnv({ FERRY_METRICS_PORT: ' 9464 ' }), 9464);
    for (const bad of ['x', '-1', '70000', '9464.5']) {
      assert.throws(
        () => metricsPortFromEnv({ FERRY_METRICS_PORT: bad }),
        (e: unknown) => e instanceof FerryError && e.type === 'CONFIG_INVALID',
      );
    }
    await assert.rejects(
      startMetricsServer({ port: server.port, host: '127.0.0.1' }),
      (e: unknown) => e instanceof FerryError && e.type === 'CONFIG_INVALID' && /EADDRINUSE/.test(e.message),
    );
  });

  describe('full load and CDC through the activities', () => {
    let m: TestMigration;
    let sourceDb: string;
    let cdc: { slotName: string; publication: string } | undefined;
    const ROWS = 2000;
    before(async () => {
      const src = await testServer(13);
      sourceDb = await freshDatabase(src, 'metrics_src');
      const c = await connect(src, sourceDb);
      try {
        await c.query(`CREATE SCHEMA app;
          CREATE TABLE app.items (id int PRIMARY KEY, name text NOT NULL, note text);
          INSERT INTO app.items SELECT i, 'item ' || i, repeat('x', 50) FROM generate_series(1, ${ROWS}) i;
          ANALYZE app.items;`);
      } finally {
        await c.end();
      }
      m = await testMigration({ label: 'metrics', sourceDb, migrationType: 'full-load-and-cdc' });
    });
    after(async () => {
      // The slot first: a leaked slot keeps WAL on the shared server (and blocks DROP DATABASE).
      if (cdc)
        await run('dropCdcSlot', createActivities({ configPath: m.configPath }).dropCdcSlot, {
          migration: m.name,
          ...cdc,
        });
      await m?.cleanup();
      if (sourceDb) await dropDatabase(await testServer(13), sourceDb);
    });

    it('copySegment counts the rows and bytes it copies; streamChanges the lag, batches and rows applied', async () => {
      const acts = createActivities({ configPath: m.configPath, heartbeatMs: 200 });
      const prep = await run('prepareFullLoad', acts.prepareFullLoad, { migration: m.name, cdc: true });
      cdc = prep.cdc;
      assert.ok(cdc);
      assert.deepEqual(
        prep.tables.map((t) => t.key),
        ['app.items'],
      );
      const holder = new MockActivityEnvironment({ activityType: 'holdSnapshot' });
      const held = run(
        'holdSnapshot',
        acts.holdSnapshot,
        { migration: m.name, planId: prep.planId, slotName: cdc.slotName },
        holder,
      );
      held.catch(() => undefined);
      const ids = { migration: m.name, planId: prep.planId };
      let copied = { rows: 0, bytes: 0 };
      try {
        await run('waitForSnapshot', acts.waitForSnapshot, ids);
        await run('createPreData', acts.createPreData, ids);
        const { segments } = await run('planTableSegments', acts.planTableSegments, {
          ...ids,
          table: 'app.items',
        });
        for (let segment = 0; segment < segments; segment++) {
          const r = await run('copySegment', acts.copySegment, { ...ids, table: 'app.items', segment });
          copied = { rows: copied.rows + r.rows, bytes: copied.bytes + r.bytes };
        }
      } finally {
        holder.cancel();
        await held.catch(() => undefined);
      }
      assert.equal(copied.rows, ROWS);
      await run('createPostData', acts.createPostData, ids); // the key CDC applies by
      // A table outside the plan fails as CONFIG_INVALID, counted under the activity's name.
      await assert.rejects(run('copySegment', acts.copySegment, { ...ids, table: 'app.nope', segment: 0 }));

      let text = await scrape(server.url);
      const items = { migration: m.name, table: 'app.items', phase: 'full-load' };
      assert.equal(sample(text, 'ferry_rows_total', items), ROWS);
      assert.equal(sample(text, 'ferry_bytes_total', items), copied.bytes);
      assert.equal(
        sample(text, 'ferry_errors_total', {
          migration: m.name,
          activity: 'copySegment',
          type: 'CONFIG_INVALID',
        }),
        1,
      );
      assert.equal(
        sample(text, 'ferry_errors_total', { migration: m.name, activity: 'holdSnapshot' }),
        undefined,
        'a cancelled snapshot holder is not an error',
      );

      // CDC: the streaming activity signals its workflow; a stand-in client takes the signals.
      const client = {
        workflow: { getHandle: () => ({ signal: () => Promise.resolve() }) },
        withAbortSignal: (_s: AbortSignal, fn: () => Promise<unknown>) => fn(),
      } as unknown as Client;
      const streamer = new MockActivityEnvironment({ activityType: 'streamChanges' }, { client });
      const streaming = run(
        'streamChanges',
        acts.streamChanges,
        {
          migration: m.name,
          start: { planId: prep.planId, ...cdc },
          workflowId: 'metrics-test',
          windowSeconds: 25,
          progressSeconds: 1,
        },
        streamer,
      );
      let streamFailure: unknown;
      streaming.catch((e: unknown) => (streamFailure = e));
      const src = await connect(m.source, sourceDb);
      try {
        await src.query(`UPDATE app.items SET note = 'changed' WHERE id <= 40`);
        await src.query(
          `INSERT INTO app.items VALUES (${ROWS + 1}, 'new', NULL), (${ROWS + 2}, 'new', NULL)`,
        );
        await src.query(`DELETE FROM app.items WHERE id = 1`);
      } finally {
        await src.end();
      }
      // While the window streams: lag series of this migration, and the 43 row changes applied.
      const cdcRows = { migration: m.name, table: 'app.items', phase: 'cdc' };
      const deadline = Date.now() + 20_000;
      for (;;) {
        text = await scrape(server.url);
        if (sample(text, 'ferry_rows_total', cdcRows) === 43) break;
        if (streamFailure) throw streamFailure;
        assert.ok(
          Date.now() < deadline,
          `CDC rows never reached 43:\n${text
            .split('\n')
            .filter((l) => l.startsWith('ferry_'))
            .join('\n')}`,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(sample(text, 'ferry_cdc_lag_bytes', { migration: m.name })! >= 0);
      assert.ok(sample(text, 'ferry_cdc_lag_seconds', { migration: m.name })! >= 0);
      // End the window early, as the workflow does at cutover: the batch in flight commits first.
      streamer.cancel();
      const result = await streaming;
      assert.equal(result.lag.changes, 43);

      text = await scrape(server.url);
      assert.equal(sample(text, 'ferry_rows_total', cdcRows), 43);
      assert.equal(sample(text, 'ferry_bytes_total', cdcRows), undefined, 'CDC reports no per-table bytes');
      assert.equal(sample(text, 'ferry_cdc_apply_batch_changes_sum', { migration: m.name }), 43);
      assert.equal(
        sample(text, 'ferry_cdc_apply_batch_changes_count', { migration: m.name }),
        result.lag.batches,
      );
      // The window is over: this worker no longer reports the migration's lag.
      assert.equal(sample(text, 'ferry_cdc_lag_bytes', { migration: m.name }), undefined);
    });
  });

  it('a worker process started with FERRY_METRICS_PORT=0 serves /metrics until it stops', async () => {
    const env = await temporalEnv();
    const m = await testMigration({ label: 'metrics-worker' });
    let worker: ChildProcess | undefined;
    try {
      worker = spawn(
        process.execPath,
        [path.resolve(__dirname, '../src/worker.js'), m.configPath, `metrics-${m.name}`],
        {
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: env.address,
            FERRY_METRICS_PORT: '0',
            FERRY_METRICS_HOST: '127.0.0.1',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        worker!.stderr!.setEncoding('utf8').on('data', (d: string) => {
          err += d;
          const line = err.split('\n').find((l) => l.includes('metrics endpoint listening'));
          if (line) resolve((JSON.parse(line) as { url: string }).url);
        });
        worker!.once('exit', (code) =>
          reject(new Error(`worker exited (${code}) before serving metrics:\n${err}`)),
        );
      });
      const text = await scrape(url);
      assert.ok(sample(text, 'process_resident_memory_bytes')! > 0);
      assert.match(text, /^# TYPE ferry_rows_total counter$/m);
      assert.match(text, /^# TYPE ferry_cdc_apply_batch_changes histogram$/m);
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
      await assert.rejects(fetch(url), 'the endpoint closes with the worker');
    } finally {
      if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
      await m.cleanup();
    }
  });
});

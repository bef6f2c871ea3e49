// CDC as an operator drives it from the command line, migrationType cdc (the target already loaded,
// the slot created now): `ferry migrate start --wait --json` returns once caught up, `ferry status`
// shows lag, `ferry slots` lists the slot, `ferry migrate stop --drop-slot --wait` ends it cleanly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Worker } from '@temporalio/worker';
import YAML from 'yaml';
import { createActivities } from '../../src/activities';
import { readSourceCatalog } from '../../src/engine/catalog';
import { currentWalLsn, slotInfo } from '../../src/engine/cdc/source';
import { compareLsn } from '../../src/engine/cdc/types';
import { runFullLoadLocal } from '../../src/engine/fullload/run';
import { compilePlan, loadMappingFiles } from '../../src/mapping';
import { WORKER_TUNING } from '../../src/worker';
import { cdcSource, startWorkload } from '../support/cdc';
import { fingerprint, userTables } from '../support/compare';
import { connect, dropDatabase } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';
import { temporalEnv, workflowBundle } from '../support/temporal';

const execFileP = promisify(execFile);
const BIN = path.resolve(__dirname, '../../../bin/ferry.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ferry migrate start/stop, status and slots for CDC (CLI, migrationType cdc)', function () {
  this.timeout(600_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  after(async () => {
    await m?.cleanup();
    if (m && sourceDb) await dropDatabase(m.source, sourceDb).catch(() => undefined);
  });

  it('starts from now on a loaded target, follows writes, reports lag, stops and drops the slot', async () => {
    const src = await cdcSource('cli_cdc_src');
    sourceDb = src.db;
    m = await testMigration({
      label: 'cli-cdc',
      sourceDb: src.db,
      migrationType: 'cdc',
      taskSettings: { TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false } },
      cdc: { progressSeconds: 1 },
    });
    const env = await temporalEnv();
    const taskQueue = `cli-cdc-${m.name}`;
    const doc = YAML.parse(await fs.readFile(m.configPath, 'utf8'));
    doc.temporal = { address: env.address, namespace: 'default', taskQueue };
    await fs.writeFile(m.configPath, YAML.stringify(doc));
    const source = m.sourceConn;
    const target = m.targetConn;
    // The target is loaded by other means first (as DMS expects for a cdc task): a quiet source, copied.
    const catalog = await readSourceCatalog(source);
    const files = await loadMappingFiles(undefined, path.join(m.dir, 'settings.json'));
    const plan = compilePlan(files.mapping, catalog, files.settings);
    await runFullLoadLocal({ migration: `${m.name}-preload`, source, target, plan, catalog, concurrency: 2 });

    const ferry = (...args: string[]) =>
      execFileP(process.execPath, [BIN, ...args, '--config', m!.configPath], { maxBuffer: 1 << 26 });
    const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 500 }),
    });
    const mig = m;
    await worker.runUntil(async () => {
      const started = lastJson((await ferry('migrate', 'start', mig.name, '--wait', '--json')).stdout);
      assert.equal(started.ok, true, JSON.stringify(started));
      assert.equal(started.mode, 'cdc');
      assert.equal(started.phase, 'streaming');
      assert.ok(
        started.findings.some((f: string) => /created slot/.test(f)),
        started.findings.join('\n'),
      );

      const writes = startWorkload(src.server, src.db, 2);
      await sleep(2500);
      await writes.stop();
      const end = await currentWalLsn(source);
      let st:
        { phase: string; lag?: { appliedLsn: string; lagBytes: number; lagSeconds: number } } | undefined;
      for (let i = 0; i < 240; i++) {
        st = lastJson((await ferry('status', `cdc-${mig.name}`, '--json')).stdout);
        if (st?.lag && compareLsn(st.lag.appliedLsn, end) >= 0 && st.lag.lagSeconds === 0) break;
        await sleep(500);
      }
      assert.ok(st?.lag && compareLsn(st.lag.appliedLsn, end) >= 0, JSON.stringify(st));
      assert.equal(typeof st.lag.lagBytes, 'number');
      const human = (await ferry('status', `cdc-${mig.name}`)).stdout;
      assert.match(human, /phase streaming/);
      assert.match(human, /lag .* s/);

      const s = await connect(mig.source, src.db);
      const t = await connect(mig.target, mig.targetDb);
      try {
        for (const table of await userTables(s)) {
          assert.deepEqual(
            await fingerprint(t, `SELECT * FROM ${table}`),
            await fingerprint(s, `SELECT * FROM ${table}`),
            table,
          );
        }
      } finally {
        await s.end();
        await t.end();
      }

      const slots = JSON.parse((await ferry('slots', '--json')).stdout.trim());
      const mine = slots.find((x: { migration?: string }) => x.migration === mig.name);
      assert.ok(mine, JSON.stringify(slots));
      assert.equal(mine.abandoned, false);

      await assert.rejects(ferry('migrate', 'stop', mig.name), /--by/);
      const stopped = lastJson(
        (await ferry('migrate', 'stop', mig.name, '--by', 'dba', '--drop-slot', '--wait', '--json')).stdout,
      );
      assert.equal(stopped.phase, 'stopped');
      assert.equal(stopped.slot.dropped, true);
      assert.equal(await slotInfo(source, stopped.start.slotName), undefined);
    });
  });
});

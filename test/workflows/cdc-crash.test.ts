// CDC through crashes, with the source written to all the time: the worker SIGKILLed at three random
// points of the apply, the source PostgreSQL restarted while streaming, the Temporal server restarted.
// After each, CDC resumes from the position stored on the target; at the end the target equals the
// source as mapped: nothing lost, nothing applied twice.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cdcWorkflowId, FerryClient } from '../../src/client';
import { pickPort, startServer, stopServer } from '../../src/dev/postgres';
import { findTemporalBinary, startTemporalDev, stopPid } from '../../src/dev/temporal';
import { currentWalLsn, slotInfo } from '../../src/engine/cdc/source';
import type { CdcStatus } from '../../src/workflows/definitions';
import {
  appliedPast,
  assertMappedEqual,
  CDC_MAPPING,
  cdcSource,
  startWorkload,
  waitStatus,
  type Workload,
} from '../support/cdc';
import { connect, dropDatabase } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';
import { startWorkerProcess } from '../support/worker-process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CDC survives killed workers, a source restart and a Temporal restart', function () {
  this.timeout(900_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  let temporalPid: number | undefined;
  let dir: string | undefined;
  let writes: Workload | undefined;
  const children: ChildProcess[] = [];
  after(async () => {
    await writes?.stop().catch(() => undefined);
    for (const c of children) c.kill('SIGKILL');
    await stopPid(temporalPid);
    await m?.cleanup();
    if (sourceDb && m) await dropDatabase(m.source, sourceDb).catch(() => undefined);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('ends with the target equal to the source, no duplicates', async () => {
    const src = await cdcSource('cdc_crash_src');
    sourceDb = src.db;
    m = await testMigration({
      label: 'cdc-crash',
      sourceDb: src.db,
      migrationType: 'full-load-and-cdc',
      tableMappings: CDC_MAPPING,
      taskSettings: {
        FullLoadSettings: { MaxFullLoadSubTasks: 4 },
        TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
      },
    });
    const source = m.sourceConn;
    // A Temporal server of our own, on SQLite, so it can be restarted with its workflows.
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-cdc-crash-'));
    const port = await pickPort();
    const temporal = {
      binary: await findTemporalBinary(),
      port,
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
      headless: true,
    };
    temporalPid = await startTemporalDev(temporal);
    const address = `127.0.0.1:${port}`;
    const taskQueue = `cdc-crash-${m.name}`;
    const connectClient = () => FerryClient.connect({ address, namespace: 'default', taskQueue });
    let client = await connectClient();
    // The workers' log lines, kept for a post-mortem when the run fails (FERRY_TEST_LOGS names a directory).
    const logFile = process.env.FERRY_TEST_LOGS
      ? path.join(process.env.FERRY_TEST_LOGS, `cdc-crash-${Date.now()}.log`)
      : undefined;
    let worker = startWorkerProcess(m.configPath, address, taskQueue, { logFile });
    children.push(worker);
    /** Where the source's WAL stood at each disruption (for the post-mortem of a conflict). */
    const events: string[] = [];
    const mark = async (what: string) => events.push(`${what} at ${await currentWalLsn(source)}`);
    const restartWorker = async () => {
      await mark('worker killed');
      worker.kill('SIGKILL');
      await new Promise((r) =>
        worker.exitCode !== null || worker.signalCode ? r(null) : worker.once('exit', r),
      );
      worker = startWorkerProcess(m!.configPath, address, taskQueue, { logFile });
      children.push(worker);
    };
    const id = cdcWorkflowId(m.name);
    /** Everything the source wrote so far gets applied (CDC is alive again). */
    const catchUp = async (what: string): Promise<CdcStatus> =>
      waitStatus(client, id, what, appliedPast(await currentWalLsn(source)), 240_000);

    // Ground truth for a post-mortem: a slot nobody consumes, decoding the source's changes as text.
    const debugSlot = `dbg_${src.db}`
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
      .slice(0, 60);
    const dbg = await connect(m.source, src.db);
    await dbg.query(`SELECT pg_catalog.pg_create_logical_replication_slot($1, 'test_decoding')`, [debugSlot]);
    await dbg.end();
    writes = startWorkload(src.server, src.db, 3);
    await client.startCdc({
      migration: m.name,
      mode: 'full-load-and-cdc',
      progressSeconds: 1,
      heartbeatTimeout: '5 seconds',
    });
    await waitStatus(client, id, 'streaming', (s) => s.phase === 'streaming' && !!s.lag && s.lag.txns > 0);

    // Three kills at random points while changes are being applied.
    const kills: number[] = [];
    for (let k = 0; k < 3; k++) {
      const before = (await client.cdcStatus(id)).lag?.txns ?? 0;
      const delay = 300 + Math.floor(Math.random() * 2500);
      kills.push(delay);
      await sleep(delay);
      await restartWorker();
      const after = await waitStatus(
        client,
        id,
        `progress after kill ${k + 1}`,
        (s) => (s.lag?.txns ?? 0) > before,
      );
      assert.equal(after.phase, 'streaming');
    }

    // The source restarts while streaming: the writer's session dies with it and is started again.
    await writes.stop();
    await mark('source stopping');
    await stopServer(m.source.dataDir);
    await sleep(1000);
    await startServer({
      major: 13,
      dataDir: m.source.dataDir,
      port: m.source.port,
      password: m.source.password,
    });
    await mark('source started');
    writes = startWorkload(src.server, src.db, 3);
    await sleep(2000);
    await catchUp('catch-up after the source restart');

    // Temporal restarts (SQLite keeps the workflow); a new worker and client connect to it.
    await client.close();
    await mark('temporal stopping');
    await stopPid(temporalPid);
    temporalPid = await startTemporalDev(temporal);
    client = await connectClient();
    await restartWorker();
    await sleep(2000);

    const committed = await writes.stop();
    writes = undefined;
    const final = await catchUp('final catch-up after the Temporal restart');
    assert.ok(committed > 100, `only ${committed} transactions written after the source restart`);
    if (final.lag!.conflicts !== 0) {
      // Name what conflicted: the exceptions table keeps every one (kind, key, commit LSN).
      const t = await connect(m.target, m.targetDb);
      const ex = await t
        .query(`SELECT table_name, kind, key, policy, message, commit_lsn::text FROM ferry.cdc_exceptions`)
        .finally(() => t.end());
      // What the source did to those rows up to the conflict, from the debug slot.
      const d = await connect(m.source, src.db);
      const history: string[] = [];
      try {
        for (const e of ex.rows as { table_name: string; key: string; commit_lsn: string }[]) {
          const key = Object.values(JSON.parse(e.key) as Record<string, string>)[0];
          const r = await d.query<{ lsn: string; xid: string; data: string }>(
            `SELECT lsn::text, xid::text, left(data, 160) AS data FROM pg_catalog.pg_logical_slot_peek_changes($1, NULL, NULL)
              WHERE lsn <= $2::pg_lsn AND data LIKE '%' || $3 || '%' AND (data LIKE '%' || $4 || '%' OR data LIKE '%TRUNCATE%')`,
            [debugSlot, e.commit_lsn, e.table_name.split('.').at(-1)!, key],
          );
          history.push(...r.rows.slice(-12).map((x) => `${x.lsn} xid ${x.xid}: ${x.data}`));
        }
      } finally {
        await d.end();
      }
      assert.fail(
        `conflicts: ${final.lag!.conflicts}, kills after ${kills.join(', ')} ms: ${JSON.stringify(ex.rows)}\n` +
          `events: ${events.join('; ')}\nsource history:\n${history.join('\n')}${logFile ? `\nworker log: ${logFile}` : ''}`,
      );
    }

    const s = await connect(m.source, src.db);
    const t = await connect(m.target, m.targetDb);
    try {
      await assertMappedEqual(s, t);
      const keyless = `SELECT count(*)::int AS n FROM audit.events_log WHERE actor = 'cdc'`;
      assert.equal((await t.query(keyless)).rows[0].n, (await s.query(keyless)).rows[0].n, 'key-less rows');
    } finally {
      await s.end();
      await t.end();
    }

    const dd = await connect(m.source, src.db);
    await dd.query(`SELECT pg_catalog.pg_drop_replication_slot($1)`, [debugSlot]).finally(() => dd.end());
    // --drop-slot: slot and publication go, and the workflow ends.
    await client.controlCdc(id, 'stop', { by: 'alice', dropSlot: true });
    const stopped = (await client.handle(id).result()) as CdcStatus;
    assert.equal(stopped.phase, 'stopped');
    assert.equal(stopped.slot?.dropped, true);
    assert.equal(await slotInfo(source, stopped.start!.slotName), undefined);
    await client.close();
    worker.kill('SIGTERM');
    process.stderr.write(`      (killed the worker after ${kills.join(', ')} ms)\n`);
  });
});

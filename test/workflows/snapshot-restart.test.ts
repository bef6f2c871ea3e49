// full-load-and-cdc when the session holding the load's snapshot dies half way through the copy, with
// the source written to all the time. The retry exports a later snapshot (from a temporary slot, so its
// WAL boundary is exact); the table whose segments straddle the two snapshots is copied again whole,
// and CDC skips, for each table read under the later snapshot, exactly the changes its copy holds.
// The key-less table with identical rows is the hard case: an idempotent ("already there?") replay
// cannot tell a duplicate from a replayed insert, and lost rows before this was exact.
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { cdcWorkflowId, FerryClient } from '../../src/client';
import { currentWalLsn, slotInfo } from '../../src/engine/cdc/source';
import { dropSlot } from '../../src/engine/fullload/snapshot';
import { WORKER_TUNING } from '../../src/worker';
import type { FullLoadStatus } from '../../src/workflows/definitions';
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
import { temporalEnv, workflowBundle } from '../support/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('full-load-and-cdc: the snapshot holder dies (real activities, PostgreSQL 13 -> 15)', function () {
  this.timeout(600_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  let writes: Workload | undefined;
  const cleanup = async () => {
    await writes?.stop().catch(() => undefined);
    writes = undefined;
    if (m) {
      await dropSlot(m.sourceConn, `ferry_${m.name.replace(/-/g, '_')}`).catch(() => undefined);
      await m.cleanup();
    }
    if (sourceDb) await dropDatabase(m!.source, sourceDb).catch(() => undefined);
    m = undefined;
    sourceDb = undefined;
  };
  afterEach(cleanup);

  it('mid-table: reloads the straddling table, skips exactly what later copies hold; the key-less duplicates all arrive', async () => {
    await loadWithLostSnapshot('mid-table');
  });

  it('before any copy: every table read under the retry snapshot, none of the slot, skips up to it', async () => {
    await loadWithLostSnapshot('before-copy');
  });

  it('a table truncated and refilled on the source during the load (TRUNCATE is not MVCC-safe) is copied again', async () => {
    await loadWithLostSnapshot('truncate');
  });

  /**
   * `mid-table`: the exporting session is ended once the key-less table's first segment is in.
   * `before-copy`: once the snapshot is published, before any segment is in (the slot's own snapshot is
   * then never used).
   * `truncate`: the holder lives; once the snapshot is published, public.app_settings is truncated and
   * refilled on the source before its copy, which then reads it empty.
   */
  async function loadWithLostSnapshot(when: 'mid-table' | 'before-copy' | 'truncate') {
    const src = await cdcSource(`snap_restart_${when.replace('-', '_')}`);
    sourceDb = src.db;
    const s = await connect(src.server, src.db);
    // A bigger key-less table, full of identical rows, split in four so the holder can die between its
    // segments.
    await s.query(`INSERT INTO audit.events_log SELECT e.* FROM audit.events_log e, generate_series(1, 12)`);
    await s.query('ANALYZE audit.events_log');
    m = await testMigration({
      label: `snap-${when}`,
      sourceDb: src.db,
      migrationType: 'full-load-and-cdc',
      tableMappings: {
        rules: [
          ...CDC_MAPPING.rules,
          {
            'rule-type': 'table-settings',
            'rule-id': '90',
            'rule-name': 'split-events',
            'object-locator': { 'schema-name': 'audit', 'table-name': 'events_log' },
            'parallel-load': {
              type: 'ranges',
              columns: ['occurred_at'],
              boundaries: [['2021-10-01'], ['2022-01-01'], ['2022-04-01']],
            },
          },
        ],
      },
      // One copy at a time: the kill lands between segments of one table, before other tables start.
      taskSettings: {
        FullLoadSettings: { MaxFullLoadSubTasks: 1 },
        TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
      },
      cdc: { progressSeconds: 1 },
    });
    const mig = m;
    const env = await temporalEnv();
    const taskQueue = `snap-restart-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 500 }),
      maxConcurrentActivityTaskExecutions: 8,
    });
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = cdcWorkflowId(m.name);
    const t = await connect(m.target, m.targetDb);
    try {
      await worker.runUntil(async () => {
        writes = startWorkload(src.server, src.db, 2);
        await client.startCdc({
          migration: mig.name,
          mode: 'full-load-and-cdc',
          progressSeconds: 1,
          heartbeatTimeout: '5 seconds',
        });
        if (when === 'mid-table') {
          // The first segment of the key-less table is in, the others not.
          const segments = `SELECT count(*) FILTER (WHERE state = 'done')::int AS done, count(*)::int AS n
              FROM ferry.load_segments WHERE migration = $1 AND source_table = 'events_log'`;
          for (let i = 0; ; i++) {
            assert.ok(i < 6000, 'the key-less table never started loading');
            const r = await t.query<{ done: number; n: number }>(segments, [mig.name]).catch(() => undefined);
            const row = r?.rows[0];
            if (row && row.n > 0) {
              assert.ok(row.done < row.n, `all ${row.n} segments were in before the holder could be killed`);
              if (row.done >= 1) break;
            }
            await sleep(10);
          }
        } else {
          // The snapshot is published, no segment is in yet.
          for (let i = 0; ; i++) {
            assert.ok(i < 6000, 'the snapshot was never published');
            const r = await t
              .query<{ held: boolean; done: number }>(
                `SELECT EXISTS (SELECT 1 FROM ferry.snapshots WHERE migration = $1 AND snapshot_id IS NOT NULL) AS held,
                        (SELECT count(*)::int FROM ferry.load_segments WHERE migration = $1 AND state = 'done') AS done`,
                [mig.name],
              )
              .catch(() => undefined);
            if (r?.rows[0].held) {
              assert.equal(r.rows[0].done, 0, 'a segment was in before the holder could be killed');
              break;
            }
            await sleep(10);
          }
        }
        if (when === 'truncate') {
          // As the workload does now and then, once, at a moment its copy is sure to come after.
          await s.query(`BEGIN;
            CREATE TEMP TABLE keep ON COMMIT DROP AS SELECT * FROM public.app_settings;
            TRUNCATE public.app_settings;
            INSERT INTO public.app_settings SELECT key, '{"refilled": true}', raw, now() FROM keep;
            COMMIT`);
        } else {
          const killed = await s.query(
            `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
              WHERE application_name = 'ferry-snapshot' AND datname = $1`,
            [src.db],
          );
          assert.equal(killed.rowCount, 1, 'one session exports the snapshot');
        }

        await waitStatus(client, id, 'streaming', (x) => x.phase === 'streaming' && !!x.lag);
        await sleep(1500);
        await writes!.stop();
        writes = undefined;
        const end = await currentWalLsn(mig.sourceConn);
        const caught = await waitStatus(client, id, `applied past ${end}`, appliedPast(end));
        // The load says what happened, and CDC was told where each later copy stands.
        const load = (await client.handle(`full-load-${mig.name}`).result()) as FullLoadStatus;
        assert.equal(
          caught.lag!.conflicts,
          0,
          `no conflicts (nothing applied twice, nothing missing); load findings: ${load.findings.join('\n')}; ` +
            `start: ${JSON.stringify(caught.start)}`,
        );
        const note = load.findings.find((f) => /^info: .*(snapshot|copied again)/.test(f)) ?? '';
        if (when === 'mid-table') {
          assert.match(note, /copied again whole.*audit\.events_log/, load.findings.join('\n'));
        } else if (when === 'truncate') {
          assert.match(note, /copied again whole.*public\.app_settings/, load.findings.join('\n'));
          assert.ok(caught.start?.skipBefore?.['public.app_settings'], JSON.stringify(caught.start));
        } else {
          assert.match(note, /read under a later snapshot/, load.findings.join('\n'));
          // Nothing straddles two snapshots (the workload's TRUNCATE may still make app_settings copied again).
          assert.doesNotMatch(note, /copied again whole[^;]*audit\.events_log/);
          // Every table was read under the retry's snapshot.
          assert.ok(Object.keys(caught.start!.skipBefore!).length >= 20, JSON.stringify(caught.start));
        }
        if (when !== 'truncate') {
          assert.ok(caught.start?.skipBefore?.['audit.events_log'], JSON.stringify(caught.start));
        }
        assert.equal(caught.start?.tolerantUntil, undefined);

        await assertMappedEqual(s, t);
        const keyless = `SELECT count(*)::int AS n FROM audit.events_log WHERE actor = 'cdc'`;
        const [a, b] = [(await s.query(keyless)).rows[0].n, (await t.query(keyless)).rows[0].n];
        assert.ok(a > 0, 'the workload wrote key-less rows');
        assert.equal(b, a, 'key-less rows written during the load');
        // The temporary slot went with its session: only the migration's slot is left.
        const temp = await s.query(
          `SELECT slot_name FROM pg_catalog.pg_replication_slots WHERE slot_name LIKE $1 || '%' AND slot_name <> $2`,
          [caught.start!.slotName.slice(0, 40), caught.start!.slotName],
        );
        assert.deepEqual(temp.rows, []);
        assert.ok(await slotInfo(mig.sourceConn, caught.start!.slotName));
        await client.controlCdc(id, 'stop', { by: 'alice', dropSlot: true });
        await client.handle(id).result();
      });
    } finally {
      await s.end();
      await t.end();
    }
  }
});

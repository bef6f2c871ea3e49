// The whole runbook as one workflow, with real activities and writes running on the source until the
// cutover freezes them: assessment, PoC (gate `poc`), full load and CDC, validation, gate `cutover`,
// the cutover (freeze, drain, final validation, sequences), post-cutover watch, done. Nothing lost,
// nothing duplicated, the write-freeze measured against the SLA.
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { FerryClient } from '../../src/client';
import { listAudit } from '../../src/engine/audit';
import { renderMigration } from '../../src/cli/format';
import { reportCommand } from '../../src/cli/report';
import { loadConfig } from '../../src/config';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import { dropSlot } from '../../src/engine/fullload/snapshot';
import { slotInfo } from '../../src/engine/cdc/source';
import { WORKER_TUNING } from '../../src/worker';
import type { MigrationStatus } from '../../src/workflows/definitions';
import { assertMappedEqual, CDC_MAPPING, cdcSource, startWorkload } from '../support/cdc';
import { connect, dropDatabase } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';
import { temporalEnv, workflowBundle } from '../support/temporal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('migration workflow: the whole runbook (real activities, PostgreSQL 13 -> 15)', function () {
  this.timeout(600_000);
  let m: TestMigration | undefined;
  let sourceDb: string | undefined;
  after(async () => {
    if (m) {
      await dropSlot(m.sourceConn, `ferry_${m.name.replace(/-/g, '_')}`).catch(() => undefined);
      const c = await connect(m.source);
      await c
        .query(`ALTER DATABASE "${sourceDb}" RESET default_transaction_read_only`)
        .catch(() => undefined);
      await c.end();
      await m.cleanup();
    }
    if (sourceDb) await dropDatabase(m!.source, sourceDb).catch(() => undefined);
  });

  it('assesses, proves, loads, streams, validates and cuts over with writes running; nothing lost', async () => {
    const src = await cdcSource('mig_wf_src');
    sourceDb = src.db;
    m = await testMigration({
      label: 'mig-wf',
      sourceDb: src.db,
      approvers: ['alice'],
      migrationType: 'full-load-and-cdc',
      tableMappings: CDC_MAPPING,
      taskSettings: {
        FullLoadSettings: { MaxFullLoadSubTasks: 4 },
        TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
        ValidationSettings: { EnableValidation: true, PartitionSize: 2000 },
      },
      cdc: { progressSeconds: 1 },
      // The application's approver (inventory) decides the cutover; the switch hook repoints it.
      applicationApprovers: ['carol'],
      cutover: {
        switchHook: {
          command: 'sh',
          args: ['-c', 'echo "switched to $FERRY_TARGET_HOST:$FERRY_TARGET_PORT/$FERRY_TARGET_DATABASE"'],
        },
        sequenceMargin: 2000,
        postCutoverWatch: '1s',
      },
    });
    const env = await temporalEnv();
    const taskQueue = `mig-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: m.configPath, heartbeatMs: 500 }),
      maxConcurrentActivityTaskExecutions: 16,
    });
    const client = FerryClient.fromClient(env.client, taskQueue);
    const mig = m;
    const id = `migration-${mig.name}`;

    const final = await worker.runUntil(async () => {
      const writes = startWorkload(src.server, src.db, 2);
      await client.startMigration({
        migration: mig.name,
        requestedBy: 'ops-bob',
        cdc: { progressSeconds: 1, validationIntervalSeconds: 10 },
      });
      // Approve each gate as it opens, as the application's approver would.
      const decided = new Set<string>();
      for (let i = 0; ; i++) {
        assert.ok(i < 1200, 'the runbook did not reach its end in 10 minutes');
        const desc = await client.describe(id);
        if (desc.status.name !== 'RUNNING') break;
        for (const p of await client.pendingApprovals()) {
          const key = `${p.workflowId}:${p.gate}`;
          if (decided.has(key) || (p.workflowId !== id && p.workflowId !== `poc-${mig.name}`)) continue;
          if (p.gate === 'cutover') {
            const st = await client.migrationStatus(id);
            assert.ok(st.cdc?.validation?.enabled && st.cdc.validation.passes > 0, JSON.stringify(st.cdc));
            assert.ok(writes.committed() > 20, 'the source is written while the gate waits');
          }
          await client.decide(p.workflowId, 'approve', {
            gate: p.gate,
            by: p.gate === 'cutover' ? 'carol' : 'alice',
            reason: `${p.gate} checked`,
          });
          decided.add(key);
        }
        await sleep(500);
      }
      // The freeze ended the writer's session: it stops by itself.
      await writes.stop().catch(() => undefined);
      const st = await client.migrationStatus(id);
      assert.equal(st.phase, 'done', `${st.error}\n${st.findings.join('\n')}`);
      // The report of the run: one page with the key figures.
      const file = await reportCommand(
        client,
        await loadConfig(mig.configPath),
        id,
        path.join(mig.dir, 'report.html'),
      );
      const html = await fs.readFile(file, 'utf8');
      assert.ok(
        html.includes(`"writeFreezeMs":${st.cutover!.writeFreezeMs}`),
        'the write freeze is in the report',
      );
      assert.ok(html.includes('alice'), 'the approver is in the report');
      assert.ok(!/src="https?:/.test(html), 'self-contained');
      assert.deepEqual([...decided].map((k) => k.split(':').at(-1)).sort(), ['cutover', 'poc']);
      return st;
    });

    assert.equal(final.phase, 'done', final.error);
    const order = Object.keys(final.phases);
    assert.deepEqual(order, [
      'catalog',
      'assess',
      'poc',
      'provision',
      'full-load',
      'cdc',
      'validate',
      'awaiting-cutover',
      'cutover',
      'post-cutover',
      'done',
    ]);
    const c = final.cutover!;
    assert.ok(c.writeFreezeMs !== undefined && c.writeFreezeMs > 0, JSON.stringify(c));
    assert.equal(c.withinSla, true, `write freeze ${c.writeFreezeMs} ms within the SLA's 15 min`);
    assert.equal(c.validation?.mismatches, 0);
    assert.deepEqual(
      c.steps.map((s) => s.name),
      ['window', 'freeze', 'drained', 'validated', 'sequences', 'reverse', 'switch'],
    );
    // ferry.yaml's cutover section: the switch hook ran with the target's address, the margin applied.
    assert.equal(c.switchOutput, `switched to 127.0.0.1:${mig.target.port}/${mig.targetDb}`);
    assert.match(c.steps.at(-1)!.detail!, /^sh -c .* pointed the application at aurora/);
    assert.match(c.steps.find((x) => x.name === 'sequences')!.detail!, /set 2000 above the source's/);
    assert.ok(final.phases['post-cutover']!.seconds! < 30, 'postCutoverWatch 1s from ferry.yaml');
    console.log(
      `      phases: ${order.map((p) => `${p} ${(final.phases[p as keyof MigrationStatus['phases']]?.seconds ?? 0).toFixed(1)} s`).join(', ')}; write freeze ${c.writeFreezeMs} ms`,
    );

    // `ferry status` shows each phase, the cutover and its freeze against the SLA.
    const text = renderMigration(final);
    assert.match(text, new RegExp(`write freeze ${c.writeFreezeMs} ms \\(SLA 900000 ms: within\\)`));
    assert.match(text, /awaiting-cutover/);
    // Zero lost or duplicated rows: the target equals the frozen source, mapped.
    const s = await connect(mig.source, src.db);
    const t = await connect(mig.target, mig.targetDb);
    try {
      await assertMappedEqual(s, t);
      // The source stays frozen for the application after the cutover.
      await assert.rejects(
        s.query(`UPDATE inventory.products SET description = 'late' WHERE id = 1`),
        /read-only/,
      );
    } finally {
      await s.end();
      await t.end();
    }
    const audit = await listAudit(mig.targetConn, mig.name);
    assert.deepEqual(
      audit.filter((a) => a.action === 'approve').map((a) => [a.by, a.detail?.gate]),
      [
        ['alice', 'poc'],
        ['carol', 'cutover'],
      ],
    );
  });

  /** A fresh CDC source and migration, a worker, and the client; the source's freeze undone after. */
  async function setup(
    label: string,
    migrationType: 'full-load' | 'full-load-and-cdc' = 'full-load-and-cdc',
  ) {
    const src = await cdcSource(`${label.replace(/-/g, '_')}_src`);
    const tm = await testMigration({
      label,
      sourceDb: src.db,
      approvers: ['alice'],
      migrationType,
      tableMappings: CDC_MAPPING,
      taskSettings: {
        TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
      },
      cdc: { progressSeconds: 1 },
    });
    cleanups.push(async () => {
      await dropSlot(tm.sourceConn, `ferry_${tm.name.replace(/-/g, '_')}`).catch(() => undefined);
      await tm.cleanup();
      await dropDatabase(src.server, src.db).catch(() => undefined);
    });
    const env = await temporalEnv();
    const taskQueue = `mig-${tm.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ configPath: tm.configPath, heartbeatMs: 500 }),
      maxConcurrentActivityTaskExecutions: 16,
    });
    return {
      src,
      tm,
      worker,
      client: FerryClient.fromClient(env.client, taskQueue),
      id: `migration-${tm.name}`,
    };
  }
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function waitPhase(client: FerryClient, id: string, phase: string): Promise<MigrationStatus> {
    for (let i = 0; i < 1200; i++) {
      const st = await client.migrationStatus(id).catch(() => undefined);
      if (st?.phase === phase) return st;
      if (st?.phase === 'failed') throw new Error(`failed before ${phase}: ${st.error}`);
      await sleep(250);
    }
    throw new Error(`never reached ${phase}`);
  }

  it('falls back after the cutover: the source gets every row written on the target, and takes writes again', async () => {
    const { src, tm, worker, client, id } = await setup('mig-fb-after');
    const st = await worker.runUntil(async () => {
      await client.startMigration({ migration: tm.name, skipPoc: true, postCutoverSeconds: 600 });
      await waitPhase(client, id, 'awaiting-cutover');
      await client.decide(id, 'approve', { gate: 'cutover', by: 'alice', reason: 'go' });
      await waitPhase(client, id, 'post-cutover');
      // The application now writes to the target.
      const t = await connect(tm.target, tm.targetDb);
      try {
        await t.query(`UPDATE inventory.products SET description = 'written on the target' WHERE id = 1`);
        await t.query(
          `UPDATE sales.clients SET full_name = 'Target Writer' WHERE id = (SELECT min(id) FROM sales.clients)`,
        );
      } finally {
        await t.end();
      }
      await assert.rejects(client.fallback(id, { by: 'mallory', reason: 'x' }), /not an approver/);
      await client.fallback(id, { by: 'alice', reason: 'the application misbehaves on the target' });
      await client.handle(id).result();
      return client.migrationStatus(id);
    });
    assert.equal(st.phase, 'fallback', st.error);
    assert.equal(st.fallback?.done, true);
    assert.equal(st.fallback?.fromPhase, 'post-cutover');
    assert.deepEqual(
      st.fallback?.steps.map((x) => x.name),
      ['freeze target', 'drain reverse', 'unfreeze source', 'drop reverse slot'],
    );
    const s = await connect(tm.source, src.db);
    try {
      const p = await s.query(`SELECT description FROM inventory.products WHERE id = 1`);
      assert.equal(p.rows[0].description, 'written on the target');
      const c = await s.query(`SELECT full_name FROM sales.customers ORDER BY id LIMIT 1`);
      assert.equal(c.rows[0].full_name, 'Target Writer');
      // The source takes writes again; the target is read-only.
      await s.query(`UPDATE inventory.products SET description = 'back on the source' WHERE id = 2`);
    } finally {
      await s.end();
    }
    const t = await connect(tm.target, tm.targetDb);
    try {
      await assert.rejects(
        t.query(`UPDATE inventory.products SET description = 'x' WHERE id = 3`),
        /read-only/,
      );
      await t.query('SET default_transaction_read_only = off');
      await t.query(`ALTER DATABASE "${tm.targetDb}" RESET default_transaction_read_only`);
    } finally {
      await t.end();
    }
    const audit = await listAudit(tm.targetConn, tm.name).catch(() => []);
    assert.ok(
      audit.some((a) => a.action === 'fallback' && a.by === 'alice'),
      JSON.stringify(audit),
    );
  });

  it('falls back before the cutover: the slot is dropped and the source was never touched', async () => {
    const { src, tm, worker, client, id } = await setup('mig-fb-before');
    const st = await worker.runUntil(async () => {
      await client.startMigration({ migration: tm.name, skipPoc: true });
      await waitPhase(client, id, 'awaiting-cutover');
      await client.fallback(id, { by: 'alice', reason: 'postponed' });
      await client.handle(id).result();
      return client.migrationStatus(id);
    });
    assert.equal(st.phase, 'fallback', st.error);
    assert.equal(st.fallback?.fromPhase, 'awaiting-cutover');
    assert.deepEqual(
      st.fallback?.steps.map((x) => x.name),
      ['drop slot', 'source untouched'],
    );
    assert.equal(await slotInfo(tm.sourceConn, `ferry_${tm.name.replace(/-/g, '_')}`), undefined);
    const s = await connect(tm.source, src.db);
    try {
      await s.query(`UPDATE inventory.products SET description = 'still the primary' WHERE id = 1`);
    } finally {
      await s.end();
    }
  });

  it('a cutover gate past its deadline: a reminder, an escalation to the contacts, CDC stopped and its slot dropped', async () => {
    // The owners and contacts are told through a webhook (a local HTTP server here).
    const received: { kind: string; to: { name: string }[]; text: string; application?: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { tm, worker, client, id } = await setup('mig-deadline');
      const doc = YAML.parse(await fs.readFile(tm.configPath, 'utf8'));
      doc.notifications = [
        { type: 'webhook', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ferry` },
      ];
      await fs.writeFile(tm.configPath, YAML.stringify(doc));
      const err = await worker.runUntil(async () => {
        await client.startMigration({ migration: tm.name, skipPoc: true, cutoverGateTimeout: '6s' });
        return client
          .handle(id)
          .result()
          .then(
            () => undefined,
            (e: unknown) => e as Error & { cause?: Error & { type?: string } },
          );
      });
      assert.equal(err?.cause?.type, 'CUTOVER_NOT_APPROVED', String(err?.cause?.message));
      const kinds = received.map((n) => n.kind);
      assert.deepEqual(
        kinds.filter((k) => k.startsWith('gate-')),
        ['gate-pending', 'gate-reminder', 'gate-escalation'],
      );
      const escalation = received.find((n) => n.kind === 'gate-escalation')!;
      assert.deepEqual(
        escalation.to.map((r) => r.name),
        ['Owner', 'Ops'],
        'the owners and the next contact',
      );
      assert.match(escalation.text, /without a decision from alice/);
      assert.equal(escalation.application, 'storefront', 'the affected application is named');
      assert.equal(
        await slotInfo(tm.sourceConn, `ferry_${tm.name.replace(/-/g, '_')}`),
        undefined,
        'slot dropped',
      );
    } finally {
      server.close();
    }
  });

  it('full load only: loads while the source is frozen, switches; a fallback finds the source moved and names the restore', async () => {
    const { src, tm, worker, client, id } = await setup('mig-fl-only', 'full-load');
    const writes = startWorkload(src.server, src.db, 2);
    const { post, st } = await worker.runUntil(async () => {
      await client.startMigration({ migration: tm.name, skipPoc: true, postCutoverSeconds: 600 });
      const gate = await waitPhase(client, id, 'awaiting-cutover');
      assert.equal(gate.pendingGate?.name, 'cutover');
      assert.ok(writes.committed() > 0, 'the application writes until the freeze');
      await client.decide(id, 'approve', { gate: 'cutover', by: 'alice', reason: 'downtime accepted' });
      const post = await waitPhase(client, id, 'post-cutover');
      await writes.stop().catch(() => undefined);
      const s = await connect(tm.source, src.db);
      const t = await connect(tm.target, tm.targetDb);
      try {
        // Loaded under the freeze: the target equals the source, every write before the freeze included.
        await assertMappedEqual(s, t);
        // Someone writes on the frozen source anyway (a session that overrides read-only).
        await s.query('SET default_transaction_read_only = off');
        await s.query(`UPDATE inventory.products SET description = 'written after the freeze' WHERE id = 1`);
      } finally {
        await s.end();
        await t.end();
      }
      await sleep(1000); // the statistics collector reports the write
      await client.fallback(id, { by: 'alice', reason: 'the application misbehaves on the target' });
      await client.handle(id).result();
      return { post, st: await client.migrationStatus(id) };
    });
    const c = post.cutover!;
    assert.deepEqual(
      c.steps.map((x) => x.name),
      ['window', 'freeze', 'restore point', 'validated', 'sequences', 'switch'],
    );
    // The freeze spans the load: from the freeze to the switch.
    assert.ok(c.writeFreezeMs! >= Date.parse(c.switchedAt!) - Date.parse(c.frozenAt!) - 1, JSON.stringify(c));
    assert.ok((await fs.stat(post.restorePoint!.file)).size > 0, 'the restore point is on disk');
    // The report tells this migration's way back: no reverse replication, the restore point named.
    const html = await fs.readFile(
      await reportCommand(client, await loadConfig(tm.configPath), id, path.join(tm.dir, 'report.html')),
      'utf8',
    );
    assert.ok(html.includes('NOT carried back'), 'full-load-only fallback plan');
    assert.ok(html.includes(path.basename(post.restorePoint!.file)), 'the restore point in the report');
    assert.deepEqual(Object.keys(st.phases), [
      'catalog',
      'assess',
      'provision',
      'awaiting-cutover',
      'cutover',
      'full-load',
      'validate',
      'post-cutover',
      'fallback',
    ]);
    assert.equal(st.fallback?.done, true, st.error);
    assert.deepEqual(
      st.fallback?.steps.map((x) => x.name),
      ['freeze target', 'source changed', 'unfreeze source'],
    );
    const changed = st.fallback!.steps[1].detail!;
    assert.match(changed, /inventory\.products/);
    assert.match(changed, /pg_restore --clean --if-exists --single-transaction .*pre-cutover-.*\.dump/);
    const s = await connect(tm.source, src.db);
    try {
      await s.query(`UPDATE inventory.products SET description = 'back on the source' WHERE id = 2`);
    } finally {
      await s.end();
    }
    const t = await connect(tm.target, tm.targetDb);
    try {
      await assert.rejects(
        t.query(`UPDATE inventory.products SET description = 'x' WHERE id = 3`),
        /read-only/,
      );
      await t.query('SET default_transaction_read_only = off');
      await t.query(`ALTER DATABASE "${tm.targetDb}" RESET default_transaction_read_only`);
    } finally {
      await t.end();
    }
  });
});

// The whole runbook with `engine: aws-dms`, through the real Temporal dev server: AWS DMS and RDS are
// the in-memory fake behind aws-sdk-client-mock (no AWS call is made), Secrets Manager is mocked, the
// source and target are real PostgreSQL servers. The AWS request sequence is compared with a golden
// file; the cutover freezes the real source and waits for "DMS" (a loop advancing its slot, as DMS
// confirms what it applied) to reach the freeze point; done deletes what Ferry created.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Worker } from '@temporalio/worker';
import { mockClient } from 'aws-sdk-client-mock';
import YAML from 'yaml';
import { createActivities } from '../../src/activities';
import { FerryClient } from '../../src/client';
import { WORKER_TUNING } from '../../src/worker';
import { FakeAws, plain } from '../dms/fake';
import { cdcSource } from '../support/cdc';
import { connect, dropDatabase } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';
import { temporalEnv, workflowBundle } from '../support/temporal';

const GOLDEN = path.resolve(__dirname, '../../../test/workflows/golden/dms-runbook.json');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry/${name}-AbCdEf`;

describe('migration workflow on engine aws-dms (fake AWS, real Temporal and PostgreSQL)', function () {
  this.timeout(300_000);
  let tm: TestMigration | undefined;
  let srcDb: string | undefined;
  const undo: (() => Promise<void>)[] = [];
  after(async () => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    if (tm) {
      const c = await connect(tm.source);
      await c.query(`ALTER DATABASE "${srcDb}" RESET default_transaction_read_only`).catch(() => undefined);
      await c.end();
      await tm.cleanup();
      await dropDatabase(tm.source, srcDb!).catch(() => undefined);
    }
  });

  it('provisions, loads, validates, cuts over and tears down what it created; the requests as the golden file', async () => {
    const src = await cdcSource('mig_dms_src');
    srcDb = src.db;
    tm = await testMigration({ label: 'mig-dms', sourceDb: src.db, approvers: ['alice'] });
    const m = tm;
    // ferry.yaml for engine aws-dms: passwords in Secrets Manager, the DMS resources, an Aurora cluster.
    const doc = YAML.parse(await fs.readFile(m.configPath, 'utf8'));
    doc.aws = { region: 'eu-west-1' };
    doc.endpoints[0].password = `aws-secretsmanager:${ARN('onsite')}`;
    doc.endpoints[1].password = `aws-secretsmanager:${ARN('aurora')}`;
    Object.assign(doc.migrations[0], {
      engine: 'aws-dms',
      migrationType: 'full-load-and-cdc',
      cdc: { slotName: 'dms_slot' },
      dms: {
        replicationInstance: {
          class: 'dms.t3.medium',
          subnetGroup: 'ferry-private',
          securityGroups: ['sg-0abc'],
        },
        secretsAccessRoleArn: 'arn:aws:iam::123456789012:role/dms-secrets',
        auroraClusterId: 'shop-cluster',
      },
    });
    await fs.writeFile(m.configPath, YAML.stringify(doc));

    const sm = mockClient(SecretsManagerClient);
    undo.push(async () => sm.restore());
    sm.on(GetSecretValueCommand, { SecretId: ARN('onsite') }).resolves({ SecretString: m.source.password });
    sm.on(GetSecretValueCommand, { SecretId: ARN('aurora') }).resolves({ SecretString: m.target.password });
    const fake = new FakeAws();
    undo.push(async () => fake.restore());
    fake.seedCluster('shop-cluster');

    // "DMS" on the source: its slot, confirmed up to the current WAL position as it applies.
    // A real DMS reads through a walsender, which the cutover's freeze never ends; this client session
    // stands in for it and is kept by its name, as Ferry's own sessions are.
    const dmsSession = await connect(m.source, src.db, 'ferry-test-dms');
    undo.push(() => dmsSession.end());
    await dmsSession.query('SET default_transaction_read_only = off');
    await dmsSession.query(`SELECT pg_create_logical_replication_slot('dms_slot', 'test_decoding')`);
    undo.push(async () => {
      const c = await connect(m.source, src.db);
      await c.query(`SELECT pg_drop_replication_slot('dms_slot')`).catch(() => undefined);
      await c.end();
    });
    let applying = true;
    const dmsApplies = (async () => {
      while (applying) {
        await dmsSession.query(`SELECT pg_replication_slot_advance('dms_slot', pg_current_wal_lsn())`);
        await sleep(200);
      }
    })();
    undo.push(async () => {
      applying = false;
      await dmsApplies.catch(() => undefined);
    });

    const env = await temporalEnv();
    const taskQueue = `mig-dms-${m.name}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({
        configPath: m.configPath,
        heartbeatMs: 200,
        awsClients: () => ({ dms: fake.dms, rds: fake.rds }),
        dmsPollMs: 20,
        dmsRetry: { baseMs: 1, attempts: 4 },
      }),
    });
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = `migration-${m.name}`;
    const st = await worker.runUntil(async () => {
      await client.startMigration({
        migration: m.name,
        skipPoc: true,
        postCutoverSeconds: 1,
        requestedBy: 'ops',
      });
      for (let i = 0; ; i++) {
        assert.ok(i < 1200, 'the runbook did not end in 5 minutes');
        const desc = await client.describe(id);
        if (desc.status.name !== 'RUNNING') break;
        const s = await client.migrationStatus(id).catch(() => undefined);
        if (s?.pendingGate?.name === 'cutover') {
          await client.decide(id, 'approve', { gate: 'cutover', by: 'alice', reason: 'DMS in sync' });
        }
        await sleep(250);
      }
      return client.migrationStatus(id);
    });
    assert.equal(st.phase, 'done', `${st.error}\n${st.findings.join('\n')}`);
    assert.deepEqual(Object.keys(st.phases), [
      'catalog',
      'assess',
      'provision',
      'full-load',
      'cdc',
      'validate',
      'awaiting-cutover',
      'cutover',
      'post-cutover',
      'done',
    ]);
    const r = st.dms!.resources;
    assert.ok(
      r.instance.created && r.source.created && r.target.created && r.task.created,
      JSON.stringify(r),
    );
    assert.equal(st.dms!.snapshot?.created, true);
    assert.deepEqual(
      st.cutover!.steps.map((s) => s.name),
      ['window', 'freeze', 'drained', 'validated', 'sequences', 'switch'],
    );
    assert.match(st.cutover!.steps[2].detail!, /on slot dms_slot/);
    assert.ok(st.cutover!.writeFreezeMs! > 0 && st.cutover!.withinSla, JSON.stringify(st.cutover));
    // Done: everything Ferry created is deleted, task first, instance last.
    const deletes = fake.log.filter((x) => x.command.startsWith('Delete')).map((x) => x.command);
    assert.deepEqual(deletes, [
      'DeleteReplicationTask',
      'DeleteEndpoint',
      'DeleteEndpoint',
      'DeleteReplicationInstance',
    ]);
    // The source stays frozen for the application after the cutover.
    const s = await connect(m.source, src.db);
    try {
      await assert.rejects(
        s.query(`UPDATE inventory.products SET description = 'late' WHERE id = 1`),
        /read-only/,
      );
    } finally {
      await s.end();
    }

    // The AWS requests, in order (consecutive repeats of a poll folded), names made stable.
    const runId = (await client.describe(id)).runId;
    const folded: { service: string; command: string; input: unknown; repeated?: boolean }[] = [];
    for (const x of fake.log) {
      const last = folded.at(-1);
      const same =
        last && last.command === x.command && JSON.stringify(last.input) === JSON.stringify(plain(x.input));
      if (same) last.repeated = true;
      else folded.push({ service: x.service, command: x.command, input: plain(x.input) });
    }
    const stable = JSON.parse(
      JSON.stringify(folded)
        .replace(new RegExp(m.name, 'gi'), '<migration>') // the fake's ARNs upper-case ids
        .replaceAll(runId.slice(0, 8), '<run>')
        .replaceAll(src.db, '<source-db>')
        .replaceAll(m.targetDb, '<target-db>')
        .replace(/"Port":\d+/g, '"Port":"<port>"'),
    );
    if (process.env.FERRY_UPDATE_GOLDEN === '1') {
      await fs.mkdir(path.dirname(GOLDEN), { recursive: true });
      await fs.writeFile(GOLDEN, JSON.stringify(stable, null, 2) + '\n');
    }
    assert.deepEqual(stable, JSON.parse(await fs.readFile(GOLDEN, 'utf8')));
  });
});

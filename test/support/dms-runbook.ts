// Test fixture: one migration runbook on engine aws-dms against the real Temporal dev server and real
// PostgreSQL, with AWS DMS and RDS as the in-memory FakeAws and Secrets Manager mocked: ferry.yaml,
// "DMS"'s slot on the source (advanced as DMS would confirm what it applied), workers with the DMS
// activities, and a driver loop that polls the runbook to its end. cleanup() undoes all of it.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { mockClient } from 'aws-sdk-client-mock';
import YAML from 'yaml';
import { createActivities } from '../../src/activities';
import { FerryClient } from '../../src/client';
import type { MigrationStatus } from '../../src/workflows/definitions';
import { WORKER_TUNING } from '../../src/worker';
import { FakeAws } from '../dms/fake';
import { cdcSource } from './cdc';
import { connect, dropDatabase } from './pg';
import { testMigration, type TestMigration } from './stack';
import { temporalEnv, workflowBundle } from './temporal';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const secretArn = (name: string) =>
  `arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry/${name}-AbCdEf`;

export interface DmsRunbook {
  m: TestMigration;
  /** The source database (a fresh copy of the sample application, ready for CDC). */
  srcDb: string;
  /** The replication slot "DMS" reads on the source (cdc.slotName). */
  slotName: string;
  fake: FakeAws;
  client: FerryClient;
  /** The migration workflow's id. */
  id: string;
  taskQueue: string;
  /** A new worker on the runbook's task queue (not running yet). */
  worker(): Promise<Worker>;
  /** Start the migration workflow (no proof of concept, a 1 s post-cutover watch). */
  start(): Promise<void>;
  /**
   * Poll until the workflow is no longer running, calling `onStatus` with each status read (a gate to
   * decide, a fallback to ask for). Needs a running worker. Returns the final status.
   */
  drive(onStatus?: (s: MigrationStatus) => Promise<void>): Promise<MigrationStatus>;
  /**
   * With a new worker: start the migration, drive it, and expect it to fail. Returns the final status
   * and the workflow's failure cause (asserted to be an ApplicationFailure).
   */
  runToFailure(
    onStatus?: (s: MigrationStatus) => Promise<void>,
  ): Promise<{ st: MigrationStatus; cause: ApplicationFailure }>;
  /** An onStatus for drive: approve the cutover gate as alice once it is pending. */
  approveCutover: (s: MigrationStatus) => Promise<void>;
  /** Whether the source database takes writes (an update of one row, rolled back). */
  sourceWritable(): Promise<boolean>;
  cleanup(): Promise<void>;
}

/**
 * Set up a migration with `engine: aws-dms` (full-load-and-cdc unless `migrationType` says otherwise,
 * an Aurora target cluster) whose passwords are Secrets Manager references. `label` names its
 * databases; `slotName` must be unique across the file's runbooks (replication slot names are per
 * server); `instanceIdentifier` names the replication instance to use (adopted when it exists;
 * default ferry-<migration>).
 */
export async function dmsRunbook(opts: {
  label: string;
  slotName: string;
  instanceIdentifier?: string;
  migrationType?: 'full-load' | 'full-load-and-cdc' | 'cdc';
}): Promise<DmsRunbook> {
  const undo: (() => Promise<void>)[] = [];
  const src = await cdcSource(`${opts.label.replace(/-/g, '_')}_src`);
  const m = await testMigration({ label: opts.label, sourceDb: src.db, approvers: ['alice'] });
  const cleanup = async () => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    const c = await connect(m.source);
    await c.query(`ALTER DATABASE "${src.db}" RESET default_transaction_read_only`).catch(() => undefined);
    await c.end();
    await m.cleanup();
    await dropDatabase(m.source, src.db).catch(() => undefined);
  };
  try {
    // ferry.yaml for engine aws-dms: passwords in Secrets Manager, the DMS resources, an Aurora cluster.
    const doc = YAML.parse(await fs.readFile(m.configPath, 'utf8'));
    doc.aws = { region: 'eu-west-1' };
    doc.endpoints[0].password = `aws-secretsmanager:${secretArn('onsite')}`;
    doc.endpoints[1].password = `aws-secretsmanager:${secretArn('aurora')}`;
    Object.assign(doc.migrations[0], {
      engine: 'aws-dms',
      migrationType: opts.migrationType ?? 'full-load-and-cdc',
      cdc: { slotName: opts.slotName },
      dms: {
        replicationInstance: {
          ...(opts.instanceIdentifier && { identifier: opts.instanceIdentifier }),
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
    sm.on(GetSecretValueCommand, { SecretId: secretArn('onsite') }).resolves({
      SecretString: m.source.password,
    });
    sm.on(GetSecretValueCommand, { SecretId: secretArn('aurora') }).resolves({
      SecretString: m.target.password,
    });
    const fake = new FakeAws();
    undo.push(async () => fake.restore());
    fake.seedCluster('shop-cluster');

    // "DMS" on the source: its slot, confirmed up to the current WAL position as it applies.
    // A real DMS reads through a walsender, which the cutover's freeze never ends; this client session
    // stands in for it and is kept by its name, as Ferry's own sessions are.
    const dmsSession = await connect(m.source, src.db, 'ferry-test-dms');
    undo.push(() => dmsSession.end());
    await dmsSession.query('SET default_transaction_read_only = off');
    await dmsSession.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [opts.slotName]);
    undo.push(async () => {
      const c = await connect(m.source, src.db);
      await c.query(`SELECT pg_drop_replication_slot($1)`, [opts.slotName]).catch(() => undefined);
      await c.end();
    });
    let applying = true;
    const dmsApplies = (async () => {
      while (applying) {
        await dmsSession.query(`SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())`, [
          opts.slotName,
        ]);
        await sleep(200);
      }
    })();
    undo.push(async () => {
      applying = false;
      await dmsApplies.catch(() => undefined);
    });

    const env = await temporalEnv();
    const taskQueue = `mig-dms-${m.name}`;
    const client = FerryClient.fromClient(env.client, taskQueue);
    const id = `migration-${m.name}`;
    const rb: DmsRunbook = {
      m,
      srcDb: src.db,
      slotName: opts.slotName,
      fake,
      client,
      id,
      taskQueue,
      worker: async () =>
        Worker.create({
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
        }),
      start: async () => {
        await client.startMigration({
          migration: m.name,
          skipPoc: true,
          postCutoverSeconds: 1,
          requestedBy: 'ops',
        });
      },
      drive: async (onStatus) => {
        for (let i = 0; ; i++) {
          assert.ok(i < 1200, 'the runbook did not end in 5 minutes');
          const desc = await client.describe(id);
          if (desc.status.name !== 'RUNNING') break;
          const s = await client.migrationStatus(id).catch(() => undefined);
          if (s && onStatus) await onStatus(s);
          await sleep(250);
        }
        return client.migrationStatus(id);
      },
      runToFailure: async (onStatus) => {
        const worker = await rb.worker();
        const { st, failure } = await worker.runUntil(async () => {
          await rb.start();
          const st = await rb.drive(onStatus);
          const failure = await client
            .handle(id)
            .result()
            .then(
              () => assert.fail('the migration workflow completed; it should have failed'),
              (e: unknown) => e,
            );
          return { st, failure };
        });
        assert.ok(failure instanceof WorkflowFailedError, String(failure));
        assert.ok(failure.cause instanceof ApplicationFailure, String(failure.cause));
        return { st, cause: failure.cause };
      },
      approveCutover: async (s) => {
        if (s.pendingGate?.name === 'cutover') {
          await client.decide(id, 'approve', { gate: 'cutover', by: 'alice', reason: 'DMS in sync' });
        }
      },
      sourceWritable: async () => {
        const c = await connect(m.source, src.db);
        try {
          await c.query('BEGIN');
          await c.query(`UPDATE inventory.products SET description = 'probe' WHERE id = 1`);
          return true;
        } catch (err) {
          if (/read-only/.test((err as Error).message)) return false;
          throw err;
        } finally {
          await c.query('ROLLBACK').catch(() => undefined);
          await c.end();
        }
      },
      cleanup,
    };
    return rb;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

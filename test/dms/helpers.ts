// Shared by the DMS adapter tests: a realistic full-load-and-cdc spec (secrets-manager auth, assessment,
// Aurora target), the golden-file comparison (FERRY_UPDATE_GOLDEN=1 rewrites), fast wait options.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DmsMigrationSpec, WaitOptions } from '../../src/dms';

/** Read from the source tree: tests run from dist/test/dms. */
export const GOLDEN = path.resolve(__dirname, '../../../test/dms/golden');

export const FAST: WaitOptions = { pollMs: 1, retry: { baseMs: 1, attempts: 4 } };

export const TABLE_MAPPINGS = {
  rules: [
    {
      'rule-type': 'selection',
      'rule-id': '1',
      'rule-name': 'sales',
      'object-locator': { 'schema-name': 'sales', 'table-name': '%' },
      'rule-action': 'include',
    },
  ],
};

/** A task-settings file as an operator writes it: sent verbatim. */
export const TASK_SETTINGS_TEXT =
  '{\n  "TargetMetadata": { "SupportLobs": true, "LimitedSizeLobMode": true, "LobMaxSize": 32 },\n' +
  '  "FullLoadSettings": { "TargetTablePrepMode": "DO_NOTHING", "MaxFullLoadSubTasks": 8 },\n' +
  '  "Logging": { "EnableLogging": true }\n}\n';

export function sampleSpec(overrides: Partial<DmsMigrationSpec> = {}): DmsMigrationSpec {
  return {
    migration: 'orders-to-aurora',
    owner: 'team-orders',
    region: 'eu-west-1',
    tags: { environment: 'production', 'cost-centre': 'cc-42' },
    instance: {
      identifier: 'ferry-orders',
      instanceClass: 'dms.r6i.large',
      allocatedStorage: 100,
      multiAZ: true,
      vpcSecurityGroupIds: ['sg-0abc1234'],
      subnetGroup: 'ferry-dms-subnets',
      engineVersion: '3.5.4',
    },
    source: {
      identifier: 'ferry-orders-source',
      engine: 'postgres',
      server: 'pg-onsite.corp.example',
      port: 5432,
      database: 'orders',
      username: 'ferry_repl',
      auth: {
        secretsManagerSecretId:
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry/orders/source-AbCdEf',
        secretsManagerAccessRoleArn: 'arn:aws:iam::123456789012:role/ferry-dms-secrets',
      },
      sslMode: 'require',
      pluginName: 'test_decoding',
      slotName: 'ferry_orders',
      heartbeatEnable: true,
      extraConnectionAttributes: 'executeTimeout=600',
    },
    target: {
      identifier: 'ferry-orders-target',
      engine: 'aurora-postgresql',
      server: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
      port: 5432,
      database: 'orders',
      auth: {
        secretsManagerSecretId:
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry/orders/target-GhIjKl',
        secretsManagerAccessRoleArn: 'arn:aws:iam::123456789012:role/ferry-dms-secrets',
      },
      sslMode: 'verify-full',
      certificateArn: 'arn:aws:dms:eu-west-1:123456789012:cert:RDS-CA',
    },
    task: {
      identifier: 'ferry-orders-task',
      migrationType: 'full-load-and-cdc',
      tableMappings: TABLE_MAPPINGS,
      settings: TASK_SETTINGS_TEXT,
    },
    assessment: {
      serviceAccessRoleArn: 'arn:aws:iam::123456789012:role/ferry-dms-assessment',
      resultLocationBucket: 'ferry-assessments',
      resultLocationFolder: 'orders-to-aurora',
      includeOnly: ['postgres-check-wallevel', 'postgres-check-pk', 'postgres-check-maxwalsenders'],
    },
    aurora: { clusterIdentifier: 'orders' },
    ...overrides,
  };
}

const UPDATE = process.env.FERRY_UPDATE_GOLDEN === '1';

/** Compare `actual` to test/dms/golden/<file> (JSON, exact); FERRY_UPDATE_GOLDEN=1 rewrites it. */
export function golden(file: string, actual: unknown): void {
  const full = path.join(GOLDEN, file);
  const text = JSON.stringify(actual, null, 2) + '\n';
  if (UPDATE || !fs.existsSync(full)) {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(full, text);
    if (!UPDATE) assert.fail(`${file} did not exist and was written; review it and run again`);
    return;
  }
  assert.deepEqual(
    JSON.parse(text),
    JSON.parse(fs.readFileSync(full, 'utf8')),
    `${file} differs: a request changed (FERRY_UPDATE_GOLDEN=1 rewrites it after a deliberate change)`,
  );
}

/** An AWS-style error as the SDK throws it. */
export function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

// Tests for loading ferry.yaml: a full file normalizes as expected, defaults fill a minimal one,
// lookups name what exists, and several problems come back in one error.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  getEndpoint,
  getInventoryFor,
  getMigration,
  loadConfig,
  parseConfig,
  type FerryConfig,
} from '../../src/config';
import { ErrorType, FerryError } from '../../src/errors';

// Compiled to dist/test/config; fixtures stay in the source tree.
const GOOD = path.resolve(__dirname, '../../../test/config/fixtures/good');

function configError(fn: () => unknown, type: string = ErrorType.CONFIG_INVALID): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FerryError, String(err));
    assert.equal(err.type, type);
    return err.message;
  }
  return assert.fail('expected a FerryError');
}

describe('config/load', () => {
  describe('a complete ferry.yaml', () => {
    let cfg: FerryConfig;
    before(async () => {
      cfg = await loadConfig(path.join(GOOD, 'ferry.yaml'));
    });

    it('normalizes to absolute paths, seconds and every default', () => {
      const expected: FerryConfig = {
        configPath: path.join(GOOD, 'ferry.yaml'),
        configDir: GOOD,
        temporal: { address: 'temporal.internal:7233', namespace: 'migrations', taskQueue: 'ferry-prod' },
        workDir: path.join(GOOD, 'work'),
        endpoints: [
          {
            id: 'onsite',
            role: 'source',
            host: '10.0.0.5',
            port: 5433,
            database: 'shop',
            user: 'ferry',
            password:
              'aws-secretsmanager:arn:aws:secretsmanager:eu-central-1:123456789012:secret:ferry-onsite-XyZ123',
            sslmode: 'verify-full',
            sslrootcert: path.join(GOOD, 'certs/ca.pem'),
          },
          {
            id: 'aurora',
            role: 'target',
            host: 'shop.cluster-abc.eu-central-1.rds.amazonaws.com',
            port: 5432,
            database: 'shop',
            user: 'ferry',
            password:
              'aws-secretsmanager:arn:aws:secretsmanager:eu-central-1:123456789012:secret:ferry-aurora-AbCdEf',
            sslmode: 'prefer',
          },
          {
            id: 'scratch',
            role: 'target',
            host: '127.0.0.1',
            port: 5432,
            database: 'scratch',
            user: 'ferry',
            // A relative file: secret is anchored to the config file, not to the worker's cwd.
            password: `file:${path.join(GOOD, 'secrets/scratch.pw')}`,
            sslmode: 'prefer',
          },
        ],
        inventory: [
          {
            database: 'shop',
            endpoint: 'onsite',
            application: 'storefront',
            owners: [
              { name: 'Alice', email: 'alice@example.com', phone: '+1 555', role: 'app-owner' },
              { name: 'DBA team' },
            ],
            sla: { maxDowntime: 900, rpo: 0, businessHours: 'Mon-Fri 08:00-18:00 Europe/Berlin' },
            approvers: ['carol@example.com'],
            tags: { tier: 'gold' },
          },
        ],
        migrations: [
          {
            name: 'shop-to-aurora',
            source: 'onsite',
            target: 'aurora',
            database: 'shop',
            engine: 'aws-dms',
            migrationType: 'full-load-and-cdc',
            tableMappings: path.join(GOOD, 'mappings.json'),
            taskSettings: path.join(GOOD, 'settings.json'),
            approvers: ['alice@example.com', 'bob'],
            poc: {
              schemas: ['public'],
              tables: ['public.orders', 'public.customers'],
              sizeCapMb: 128,
              compression: 9,
              jobs: 8,
            },
            cdc: { windowMinutes: 60, progressSeconds: 10 },
            fallback: { contacts: [{ name: 'Ops', email: 'ops@example.com' }] },
            cutover: {
              freeze: 'revoke',
              terminateSessions: true,
              switchHook: {
                command: '/usr/local/bin/repoint-pgbouncer',
                args: ['--to', 'aurora'],
                timeoutMs: 120_000,
              },
              sequenceMargin: 5000,
              readyLag: 2,
              gateTimeout: 2 * 86400,
              postCutoverWatch: 3600,
            },
            provision: { concurrency: 32, replicas: 2 },
            dms: {
              replicationInstance: {
                class: 'dms.r6i.large',
                allocatedStorage: 100,
                multiAz: true,
                subnetGroup: 'ferry-private',
                securityGroups: ['sg-0123456789abcdef0'],
                publiclyAccessible: false,
              },
              secretsAccessRoleArn: 'arn:aws:iam::123456789012:role/dms-secrets',
              sslMode: 'require',
              pluginName: 'test_decoding',
              heartbeat: true,
              assessment: { bucket: 'ferry-assessments', roleArn: 'arn:aws:iam::123456789012:role/dms-s3' },
              auroraClusterId: 'shop-cluster',
            },
          },
          {
            name: 'shop-rehearsal',
            source: 'onsite',
            target: 'scratch',
            database: 'shop', // from the source endpoint
            engine: 'native',
            migrationType: 'full-load',
            approvers: ['bob'],
            poc: { schemas: [], tables: [], sizeCapMb: 256, compression: 6, jobs: 4 },
            cdc: { windowMinutes: 60, progressSeconds: 10 },
            fallback: { contacts: [] },
            cutover: {
              freeze: 'read-only',
              terminateSessions: true,
              sequenceMargin: 1000,
              readyLag: 5,
              gateTimeout: 7 * 86400,
              postCutoverWatch: 60,
            },
            provision: { concurrency: 16, replicas: 1 },
          },
        ],
        aws: { region: 'eu-central-1', roleArn: 'arn:aws:iam::123456789012:role/ferry-operator' },
      };
      assert.deepEqual(cfg, expected);
    });

    it('survives a JSON round trip unchanged (it travels in workflow inputs)', () => {
      assert.deepEqual(JSON.parse(JSON.stringify(cfg)), cfg);
    });

    it('getMigration returns a migration by name, or MIGRATION_UNKNOWN listing the names', () => {
      assert.equal(getMigration(cfg, 'shop-rehearsal').target, 'scratch');
      const message = configError(() => getMigration(cfg, 'shop-to-auroa'), ErrorType.MIGRATION_UNKNOWN);
      assert.match(
        message,
        /migration "shop-to-auroa" is not defined in .*ferry\.yaml; use one of: shop-to-aurora, shop-rehearsal/,
      );
      assert.match(message, /did you mean "shop-to-aurora"\?/);
    });

    it('getEndpoint returns an endpoint by id, or CONFIG_INVALID listing the ids', () => {
      assert.equal(getEndpoint(cfg, 'aurora').role, 'target');
      assert.match(
        configError(() => getEndpoint(cfg, 'nope')),
        /endpoint "nope" is not defined .*; use one of: onsite, aurora, scratch/,
      );
    });

    it('getInventoryFor finds the entry of a database on an endpoint, else undefined', () => {
      assert.equal(getInventoryFor(cfg, 'onsite', 'shop')?.application, 'storefront');
      assert.equal(getInventoryFor(cfg, 'onsite', 'other'), undefined);
      assert.equal(getInventoryFor(cfg, 'aurora', 'shop'), undefined);
    });
  });

  it('fills every default into a minimal file', async () => {
    const cfg = await loadConfig(path.join(GOOD, 'minimal.yaml'));
    assert.deepEqual(cfg.temporal, { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'ferry' });
    assert.equal(cfg.workDir, path.join(GOOD, '.ferry/work'));
    assert.deepEqual(cfg.endpoints, [
      {
        id: 'onsite',
        role: 'source',
        host: '127.0.0.1',
        port: 5432,
        database: 'shop',
        user: 'ferry',
        password: 'env:PGPASS',
        sslmode: 'prefer',
      },
    ]);
    assert.deepEqual(cfg.inventory, []);
    assert.deepEqual(cfg.migrations, []);
  });

  it('parseConfig: same rules from a string, paths resolved against baseDir', () => {
    const dir = path.join(os.tmpdir(), 'ferry-somewhere');
    const cfg = parseConfig(
      [
        'workDir: /var/lib/ferry',
        'endpoints:',
        '  - { id: a, role: source, host: h, database: d, user: u, password: "file:pw" }',
      ].join('\n'),
      'ferry.yaml',
      dir,
    );
    assert.equal(cfg.configPath, path.join(dir, 'ferry.yaml'));
    assert.equal(cfg.configDir, dir);
    assert.equal(cfg.workDir, '/var/lib/ferry'); // absolute stays as written
    assert.equal(cfg.endpoints[0].password, `file:${path.join(dir, 'pw')}`);
  });

  it('accepts YAML merge keys, so endpoints can share settings', () => {
    const endpoints = parseConfig(
      [
        'endpoints:',
        '  - &pg { id: a, role: source, host: db.internal, database: shop, user: ferry, password: "env:PGPASS", sslmode: require }',
        '  - { <<: *pg, id: b, role: target, port: 6432 }',
      ].join('\n'),
      'ferry.yaml',
      GOOD,
    ).endpoints;
    assert.deepEqual(endpoints[1], {
      id: 'b',
      role: 'target',
      host: 'db.internal',
      port: 6432,
      database: 'shop',
      user: 'ferry',
      password: 'env:PGPASS',
      sslmode: 'require',
    });
  });

  it('reports every problem at once, in file order, one per line', () => {
    const yaml = [
      'endpoint: []', // unknown key (typo of endpoints)
      'endpoints:',
      '  - id: a',
      '    role: sauce', // bad enum
      '    host: h',
      '    port: 0', // out of range
      '    database: d',
      '    user: u',
      '    password: 12345', // not a reference, and not echoed
      '  - 7', // not a mapping
      'migrations:',
      '  - name: m',
      '    source: a',
      '    target: zz', // undefined endpoint
      '    approvers: x', // not a list
      '    poc: { jobs: 2.5 }', // not whole
    ].join('\n');
    const lines = configError(() => parseConfig(yaml, 'f.yaml', GOOD)).split('\n');
    assert.deepEqual(lines, [
      'f.yaml: endpoint: unknown key; did you mean "endpoints"?',
      'f.yaml: endpoints[0].role: got "sauce"; use one of: source, target (did you mean "source"?)',
      'f.yaml: endpoints[0].port: got 0; use at least 1 (TCP port, 1..65535)',
      'f.yaml: endpoints[0].password: a number (value not shown); use a secret reference: env:NAME, file:PATH or aws-secretsmanager:ARN',
      'f.yaml: endpoints[1]: got 7; use a mapping (key: value lines)',
      'f.yaml: migrations[0].target: endpoint "zz" is not defined; use one of: a',
      'f.yaml: migrations[0].approvers: got "x"; use a list (who may approve gates such as the cutover: at least one email or user name)',
      'f.yaml: migrations[0].poc.jobs: got 2.5; use a whole number (pg_restore -j parallel jobs, 1..64)',
    ]);
  });

  it('a missing file names the path tried and suggests ferry dev up or --config', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-load-'));
    try {
      const tried = path.join(dir, 'ferry.yaml');
      const err = await loadConfig(tried).then(
        () => assert.fail('loaded a file that does not exist'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof FerryError);
      assert.equal(err.type, ErrorType.CONFIG_INVALID);
      assert.ok(err.message.includes(`no config file at ${tried}`), err.message);
      assert.match(err.message, /ferry dev up/);
      assert.match(err.message, /\.ferry\/dev\/ferry\.yaml/);
      assert.match(err.message, /--config/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Endpoints: the create request (secrets-manager auth without clear-text fields, plugin names, SSL),
// unsupported engines refused with the supported list, and TestConnection failures mapped to the fix.
import assert from 'node:assert/strict';
import {
  DmsError,
  connectionAdvice,
  endpointRequest,
  ensureEndpoint,
  ensureReplicationInstance,
  testConnection,
} from '../../src/dms';
import { FakeAws } from './fake';
import { FAST, sampleSpec } from './helpers';

describe('dms endpoints', () => {
  let aws: FakeAws;
  beforeEach(() => {
    aws = new FakeAws();
  });
  afterEach(() => aws.restore());

  it('builds a password-less source endpoint: secret + access role, no clear-text host/user', () => {
    const spec = sampleSpec();
    const req = endpointRequest(spec.source, 'source', spec);
    assert.equal(req.EngineName, 'postgres');
    assert.equal(req.EndpointType, 'source');
    assert.equal(req.ServerName, undefined);
    assert.equal(req.Username, undefined);
    assert.equal(req.Password, undefined);
    assert.equal(req.DatabaseName, 'orders');
    assert.equal(req.SslMode, 'require');
    assert.equal(req.ExtraConnectionAttributes, 'executeTimeout=600');
    assert.deepEqual(req.PostgreSQLSettings, {
      SecretsManagerSecretId:
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ferry/orders/source-AbCdEf',
      SecretsManagerAccessRoleArn: 'arn:aws:iam::123456789012:role/ferry-dms-secrets',
      PluginName: 'test-decoding',
      SlotName: 'ferry_orders',
      HeartbeatEnable: true,
    });
    assert.deepEqual(req.Tags?.slice(0, 3), [
      { Key: 'ferry:migration', Value: 'orders-to-aurora' },
      { Key: 'ferry:owner', Value: 'team-orders' },
      { Key: 'created-by', Value: 'ferry' },
    ]);
  });

  it('with a password: clear-text server, port, user and the password', () => {
    const spec = sampleSpec();
    const req = endpointRequest(
      { ...spec.source, auth: { password: 's3cret' }, pluginName: 'pglogical' },
      'source',
      spec,
    );
    assert.equal(req.ServerName, 'pg-onsite.corp.example');
    assert.equal(req.Port, 5432);
    assert.equal(req.Username, 'ferry_repl');
    assert.equal(req.Password, 's3cret');
    assert.equal(req.PostgreSQLSettings?.PluginName, 'pglogical');
    assert.equal(req.PostgreSQLSettings?.SecretsManagerSecretId, undefined);
  });

  it('refuses an unsupported engine with the list of supported ones, before any call', async () => {
    const spec = sampleSpec();
    await assert.rejects(
      ensureEndpoint(aws.dms, { ...spec.source, engine: 'mysql' }, 'source', spec),
      (e: unknown) =>
        e instanceof DmsError &&
        e.type === 'CONFIG_INVALID' &&
        /engine "mysql" is not supported/.test(e.message) &&
        /supported: postgres, aurora-postgresql/.test(e.message),
    );
    assert.equal(aws.log.length, 0);
    assert.throws(
      () => endpointRequest({ ...spec.target, slotName: 'x' }, 'target', spec),
      /source endpoint only/,
    );
  });

  it('refuses to adopt an endpoint of the other type', async () => {
    const spec = sampleSpec();
    aws.seed(aws.endpoints, 'endpoint', 'ferry-orders-source', 'active', {
      EndpointType: 'TARGET',
      EngineName: 'postgres',
    });
    await assert.rejects(ensureEndpoint(aws.dms, spec.source, 'source', spec), /exists as a target endpoint/);
    assert.equal(aws.sent('CreateEndpoint').length, 0);
  });

  const cases: [string, string, RegExp][] = [
    [
      'could not connect to server: Connection timed out. Is the server running on host "10.0.0.5" and accepting TCP/IP connections on port 5432?',
      'ENDPOINT_UNREACHABLE',
      /security group.*network ACLs.*route/s,
    ],
    ['FATAL: password authentication failed for user "ferry_repl"', 'AUTH_FAILED', /credentials.*secret/],
    [
      'FATAL: no pg_hba.conf entry for host "10.1.2.3", user "ferry_repl", database "orders", SSL off',
      'AUTH_FAILED',
      /pg_hba\.conf.*pg_reload_conf/,
    ],
    ['SSL error: certificate verify failed', 'DMS_CONNECTION_FAILED', /SslMode.*CertificateArn/],
    ['FATAL: database "ordrs" does not exist', 'DATABASE_MISSING', /database name/],
    [
      'could not translate host name "pg-onsite.corp" to address: Name or service not known',
      'ENDPOINT_UNREACHABLE',
      /DNS|resolve/,
    ],
    [
      'Failed to retrieve secret: AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue',
      'SECRET_UNRESOLVED',
      /SecretsManagerAccessRoleArn/,
    ],
  ];
  for (const [message, type, advice] of cases)
    it(`maps "${message.slice(0, 40)}…" to ${type}`, () => {
      const a = connectionAdvice(message);
      assert.equal(a.type, type);
      assert.match(a.advice, advice);
    });

  it('a failed TestConnection becomes an error with the message and the advice', async () => {
    const spec = sampleSpec();
    const ri = await ensureReplicationInstance(aws.dms, spec.instance, spec);
    const ep = await ensureEndpoint(aws.dms, spec.source, 'source', spec);
    aws.connectionFailures.set(
      ep.arn,
      'FATAL: no pg_hba.conf entry for host "10.1.2.3", user "ferry_repl", database "orders", SSL off',
    );
    const progress: string[] = [];
    await assert.rejects(
      testConnection(aws.dms, ri.arn, ep.arn, { ...FAST, onProgress: (p) => progress.push(p.status) }),
      (e: unknown) =>
        e instanceof DmsError &&
        e.type === 'AUTH_FAILED' &&
        !e.retryable &&
        /connection test of endpoint ferry-orders-source from replication instance ferry-orders failed/.test(
          e.message,
        ) &&
        /no pg_hba\.conf entry/.test(e.message) &&
        /add e\.g\. "hostssl/.test(e.message) &&
        e.details.lastFailureMessage !== undefined,
    );
    assert.deepEqual(progress, ['testing']);
  });

  it('a successful TestConnection returns the connection', async () => {
    const spec = sampleSpec();
    const ri = await ensureReplicationInstance(aws.dms, spec.instance, spec);
    const ep = await ensureEndpoint(aws.dms, spec.target, 'target', spec);
    const c = await testConnection(aws.dms, ri.arn, ep.arn, FAST);
    assert.equal(c.Status, 'successful');
  });
});

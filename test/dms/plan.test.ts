// `ferry plan --engine aws-dms --dry-run`: the exact requests of a fresh setup, without sending any,
// secrets redacted; compared to golden files.
import assert from 'node:assert/strict';
import { REDACTED, formatPlan, planDmsRequests, redact } from '../../src/dms';
import { FakeAws } from './fake';
import { golden, sampleSpec } from './helpers';

describe('dms dry-run plan', () => {
  it('lists the fresh full-load-and-cdc setup (golden), sending nothing', () => {
    const aws = new FakeAws();
    try {
      const plan = planDmsRequests(sampleSpec());
      assert.equal(aws.log.length, 0, 'no request sent');
      golden('plan-full-load-and-cdc.json', plan);
      const text = formatPlan(plan);
      assert.match(text, /^1\. \[provision\] rds DescribeDBClusters/);
      assert.match(text, /\[cutover\] rds CreateDBClusterSnapshot/);
    } finally {
      aws.restore();
    }
  });

  it('redacts passwords (fields and extra connection attributes), keeps secret ARNs', () => {
    const base = sampleSpec();
    const spec = sampleSpec({
      source: {
        ...base.source,
        auth: { password: 'hunter2' },
        extraConnectionAttributes: 'executeTimeout=600;password=hunter2;heartbeatFrequency=5',
      },
      task: { ...base.task, migrationType: 'cdc', cdcStartPosition: '0/16B3748' },
      assessment: undefined,
      aurora: undefined,
    });
    const plan = planDmsRequests(spec);
    const text = JSON.stringify(plan);
    assert.ok(!text.includes('hunter2'), 'no password anywhere in the plan');
    const src = plan.find((r) => r.command === 'CreateEndpoint')?.input as Record<string, unknown>;
    assert.equal(src.Password, REDACTED);
    assert.equal(
      src.ExtraConnectionAttributes,
      `executeTimeout=600;password=${REDACTED};heartbeatFrequency=5`,
    );
    const tgt = plan.filter((r) => r.command === 'CreateEndpoint')[1].input as {
      PostgreSQLSettings: { SecretsManagerSecretId: string };
    };
    assert.match(tgt.PostgreSQLSettings.SecretsManagerSecretId, /^arn:aws:secretsmanager:/);
    golden('plan-cdc-password.json', plan);
    assert.deepEqual(redact({ a: [{ MasterUserPassword: 'x' }], b: 1 }), {
      a: [{ MasterUserPassword: REDACTED }],
      b: 1,
    });
  });
});

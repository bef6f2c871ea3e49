// Premigration assessment runs: the start request, adoption of a run of the same name, a broken run
// as an error, and individual assessments mapped into Ferry findings with the S3 location.
import assert from 'node:assert/strict';
import {
  DmsError,
  assessmentResults,
  assessmentRunRequest,
  startAssessmentRun,
  waitAssessmentRun,
} from '../../src/dms';
import { FakeAws } from './fake';
import { FAST, sampleSpec } from './helpers';

const TASK = 'arn:aws:dms:eu-west-1:123456789012:task:FERRY-ORDERS-TASK';

describe('dms premigration assessment', () => {
  let aws: FakeAws;
  beforeEach(() => {
    aws = new FakeAws();
  });
  afterEach(() => aws.restore());

  it('builds StartReplicationTaskAssessmentRun with role, bucket, folder and IncludeOnly', () => {
    const spec = sampleSpec();
    const req = assessmentRunRequest({ ...spec.assessment!, runName: 'run-1' }, TASK, spec);
    assert.equal(req.ReplicationTaskArn, TASK);
    assert.equal(req.ServiceAccessRoleArn, 'arn:aws:iam::123456789012:role/ferry-dms-assessment');
    assert.equal(req.ResultLocationBucket, 'ferry-assessments');
    assert.equal(req.ResultLocationFolder, 'orders-to-aurora');
    assert.equal(req.AssessmentRunName, 'run-1');
    assert.deepEqual(req.IncludeOnly, [
      'postgres-check-wallevel',
      'postgres-check-pk',
      'postgres-check-maxwalsenders',
    ]);
    assert.equal(req.Exclude, undefined);
  });

  it('maps individual assessments to findings: failed → blocker, warning/error → warning, passed counted', async () => {
    const spec = sampleSpec();
    aws.individualAssessments = [
      { IndividualAssessmentName: 'postgres-check-wallevel', Status: 'failed' },
      { IndividualAssessmentName: 'postgres-check-pk', Status: 'warning' },
      { IndividualAssessmentName: 'postgres-check-maxwalsenders', Status: 'passed' },
      { IndividualAssessmentName: 'postgres-check-custom-thing', Status: 'error' },
    ];
    const run = await startAssessmentRun(aws.dms, TASK, { ...spec.assessment!, runName: 'run-1' }, spec);
    assert.equal(run.created, true);
    assert.equal(run.resultLocation, 's3://ferry-assessments/orders-to-aurora/');
    const done = await waitAssessmentRun(aws.dms, run.arn, FAST);
    assert.equal(done.Status, 'failed', 'failed = some assessment failed: a result, not an error');
    const res = await assessmentResults(aws.dms, run.arn);
    assert.equal(res.resultLocation, 's3://ferry-assessments/orders-to-aurora/');
    assert.deepEqual(res.counts, { blocker: 1, warning: 2, info: 0, passed: 1 });
    assert.equal(res.evaluated, 4);
    assert.deepEqual(res.findings[0], {
      id: 'dms:postgres-check-wallevel',
      severity: 'blocker',
      object: 'assessment:postgres-check-wallevel',
      message:
        'DMS premigration assessment postgres-check-wallevel failed; details in s3://ferry-assessments/orders-to-aurora/',
      advice:
        'Set wal_level = logical on the source (rds.logical_replication = 1 on RDS/Aurora) and restart it.',
    });
    assert.deepEqual(
      res.findings.map((f) => [f.severity, f.id]),
      [
        ['blocker', 'dms:postgres-check-wallevel'],
        ['warning', 'dms:postgres-check-custom-thing'],
        ['warning', 'dms:postgres-check-pk'],
      ],
    );
    assert.match(res.findings[1].message, /could not run \(error\)/);
    assert.match(res.findings[1].advice, /s3:\/\/ferry-assessments\/orders-to-aurora\//);
  });

  it('adopts a run of the same name instead of starting a second one', async () => {
    const spec = sampleSpec();
    const first = await startAssessmentRun(aws.dms, TASK, { ...spec.assessment!, runName: 'run-1' }, spec);
    const again = await startAssessmentRun(aws.dms, TASK, { ...spec.assessment!, runName: 'run-1' }, spec);
    assert.equal(again.arn, first.arn);
    assert.equal(again.created, false);
    assert.equal(aws.sent('StartReplicationTaskAssessmentRun').length, 1);
  });

  it('a run that cannot provision is an error with its failure message', async () => {
    const spec = sampleSpec();
    const run = await startAssessmentRun(aws.dms, TASK, { ...spec.assessment!, runName: 'run-1' }, spec);
    const r = [...aws.runs.values()][0];
    r.pending = 0;
    r.status = 'error-provisioning';
    r.data.LastFailureMessage = 'Access denied to bucket ferry-assessments';
    // The fake settles a run to passed/failed when observed; pin the broken status instead.
    aws.individualAssessments = [];
    const original = r.status;
    Object.defineProperty(r, 'status', { get: () => original, set: () => undefined });
    await assert.rejects(
      waitAssessmentRun(aws.dms, run.arn, FAST),
      (e: unknown) =>
        e instanceof DmsError &&
        e.type === 'DMS_RESOURCE_FAILED' &&
        /error-provisioning: Access denied to bucket/.test(e.message) &&
        /ServiceAccessRoleArn/.test(e.message),
    );
  });
});

// Premigration assessment runs on DMS: start (adopt a run of the same name), wait, and read the
// individual assessments into Ferry's findings. The API gives each individual assessment's name and
// status only; the details are the JSON files DMS writes to S3, whose location every finding names.
import {
  type DatabaseMigrationServiceClient,
  DescribeReplicationTaskAssessmentRunsCommand,
  DescribeReplicationTaskIndividualAssessmentsCommand,
  type DescribeReplicationTaskIndividualAssessmentsCommandOutput,
  type ReplicationTaskAssessmentRun,
  type ReplicationTaskIndividualAssessment,
  StartReplicationTaskAssessmentRunCommand,
} from '@aws-sdk/client-database-migration-service';
import type { AssessmentFinding } from '../assessment/findings';
import type { Severity } from '../assessment/rules';
import { DmsError, DmsErrorType, isAlreadyExists, isNotFound } from './errors';
import { assessmentResultLocation, assessmentRunRequest } from './requests';
import { type RetryOptions, type WaitOptions, poll, withRetry } from './retry';
import type { AssessmentSpec, FerryTagInfo } from './spec';

export interface AssessmentRunRef {
  arn: string;
  /** false when a run of the same name already existed for the task (adopted). */
  created: boolean;
  /** `s3://bucket/folder/`: where DMS writes the summary and one JSON per individual assessment. */
  resultLocation: string;
}

async function findRun(
  dms: DatabaseMigrationServiceClient,
  taskArn: string,
  runName: string,
  retry?: RetryOptions,
): Promise<ReplicationTaskAssessmentRun | undefined> {
  let marker: string | undefined;
  try {
    do {
      const out = await withRetry(
        () =>
          dms.send(
            new DescribeReplicationTaskAssessmentRunsCommand({
              Filters: [{ Name: 'replication-task-arn', Values: [taskArn] }],
              ...(marker && { Marker: marker }),
            }),
          ),
        retry,
      );
      const run = out.ReplicationTaskAssessmentRuns?.find((r) => r.AssessmentRunName === runName);
      if (run) return run;
      marker = out.Marker;
    } while (marker);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return undefined;
}

/** Start the assessment run named `spec.runName`, or adopt the task's run of that name. */
export async function startAssessmentRun(
  dms: DatabaseMigrationServiceClient,
  taskArn: string,
  spec: AssessmentSpec & { runName: string },
  tags: FerryTagInfo,
  retry?: RetryOptions,
): Promise<AssessmentRunRef> {
  const resultLocation = assessmentResultLocation(spec.resultLocationBucket, spec.resultLocationFolder);
  const existing = await findRun(dms, taskArn, spec.runName, retry);
  if (existing?.ReplicationTaskAssessmentRunArn)
    return { arn: existing.ReplicationTaskAssessmentRunArn, created: false, resultLocation };
  try {
    const out = await dms.send(
      new StartReplicationTaskAssessmentRunCommand(assessmentRunRequest(spec, taskArn, tags)),
    );
    const arn = out.ReplicationTaskAssessmentRun?.ReplicationTaskAssessmentRunArn;
    if (!arn)
      throw new DmsError(
        DmsErrorType.DMS_REQUEST_FAILED,
        'StartReplicationTaskAssessmentRun returned no ARN',
      );
    return { arn, created: true, resultLocation };
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const found = await findRun(dms, taskArn, spec.runName, retry);
    if (!found?.ReplicationTaskAssessmentRunArn) throw err;
    return { arn: found.ReplicationTaskAssessmentRunArn, created: false, resultLocation };
  }
}

const RUN_FINISHED = new Set(['passed', 'failed']);
const RUN_BROKEN = new Set([
  'error-provisioning',
  'error-executing',
  'invalid state',
  'cancelling',
  'deleting',
]);

export async function describeAssessmentRun(
  dms: DatabaseMigrationServiceClient,
  runArn: string,
  retry?: RetryOptions,
): Promise<ReplicationTaskAssessmentRun> {
  try {
    const out = await withRetry(
      () =>
        dms.send(
          new DescribeReplicationTaskAssessmentRunsCommand({
            Filters: [{ Name: 'replication-task-assessment-run-arn', Values: [runArn] }],
          }),
        ),
      retry,
    );
    const run = out.ReplicationTaskAssessmentRuns?.[0];
    if (run) return run;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  throw new DmsError(DmsErrorType.DMS_RESOURCE_NOT_FOUND, `assessment run ${runArn} does not exist`);
}

/**
 * Wait until the run is `passed` or `failed` (failed = some individual assessment failed: a result, not
 * an error). A run that broke (error-provisioning, error-executing, cancelled) throws with its message.
 */
export async function waitAssessmentRun(
  dms: DatabaseMigrationServiceClient,
  runArn: string,
  opts: WaitOptions = {},
): Promise<ReplicationTaskAssessmentRun> {
  return poll<ReplicationTaskAssessmentRun, ReplicationTaskAssessmentRun>(
    `assessment run ${runArn}`,
    () => describeAssessmentRun(dms, runArn, opts.retry),
    (run) => {
      const status = run.Status ?? 'unknown';
      if (RUN_FINISHED.has(status)) return { done: run };
      if (RUN_BROKEN.has(status))
        throw new DmsError(
          DmsErrorType.DMS_RESOURCE_FAILED,
          `assessment run ${run.AssessmentRunName ?? runArn} is ${status}: ${run.LastFailureMessage ?? 'no message'}` +
            (status === 'error-provisioning'
              ? ' (check ServiceAccessRoleArn can write to the result bucket, and the bucket is in the same region)'
              : ''),
          { details: { arn: runArn, status } },
        );
      const p = run.AssessmentProgress;
      return {
        status,
        detail: {
          ...(p?.IndividualAssessmentCount !== undefined && { total: p.IndividualAssessmentCount }),
          ...(p?.IndividualAssessmentCompletedCount !== undefined && {
            completed: p.IndividualAssessmentCompletedCount,
          }),
        },
      };
    },
    opts,
  );
}

/** What an individual assessment's status means for Ferry (passed ones are counted, not reported). */
export function severityOf(status: string | undefined): Severity | undefined {
  switch (status) {
    case 'failed':
      return 'blocker';
    case 'warning':
    case 'error':
    case 'cancelled':
    case 'invalid state':
      return 'warning';
    case 'passed':
      return undefined;
    default:
      // pending/running after the run finished: it did not complete.
      return 'info';
  }
}

/** Fixes for the PostgreSQL individual assessments an operator meets most (else the S3 report says). */
const ADVICE: Record<string, string> = {
  'postgres-check-wallevel':
    'Set wal_level = logical on the source (rds.logical_replication = 1 on RDS/Aurora) and restart it.',
  'postgres-check-maxslot-wal-keep-size':
    'Set max_slot_wal_keep_size so a stalled slot cannot fill the disk, but large enough for the full load.',
  'postgres-check-maxwalsenders':
    'Raise max_wal_senders (more than 1; one per task plus one spare) and restart.',
  'postgres-check-walsenderstimeout': 'Set wal_sender_timeout to at least 10000 ms (or 0).',
  'postgres-check-pk':
    'Add a primary key to the listed tables, or set REPLICA IDENTITY FULL, or CDC loses their UPDATEs and DELETEs.',
  'postgres-check-pglogical':
    'Install pglogical (shared_preload_libraries, CREATE EXTENSION pglogical) or set PluginName to test-decoding on the source endpoint.',
  'postgres-check-longrunningtxn': 'End the transactions open for more than 10 minutes before starting CDC.',
  'postgres-check-preparedtxn': 'Commit or roll back the prepared transactions (pg_prepared_xacts).',
  'postgres-check-replication-slots-count': 'Raise max_replication_slots or drop unused slots.',
  'postgres-check-target-privileges':
    'Grant the target user CREATE on the database and schemas, and ownership of existing tables.',
  'postgres-check-select-object-privileges': 'Grant the source user SELECT on every selected table.',
  'postgres-check-ddl-event-trigger':
    'Grant the source user what it needs to create the awsdms_intercept_ddl event trigger, or set CaptureDdls false.',
  'postgres-check-dbversion':
    'Use a PostgreSQL version DMS supports as source/target for this engine version.',
  'all-check-source-selection-rules':
    'The table mapping selects nothing that exists: fix the selection rules.',
  'table-with-no-primary-key-or-unique-constraint':
    'Add a primary key or unique constraint to the listed tables.',
  'unsupported-data-types-in-source': 'Change or exclude the columns of unsupported types (see the report).',
};

export interface AssessmentResults {
  runArn: string;
  status: string;
  resultLocation: string;
  /** Individual assessments read (passed ones included). */
  evaluated: number;
  counts: Record<Severity, number> & { passed: number };
  findings: AssessmentFinding[];
}

export function mapIndividualAssessment(
  a: ReplicationTaskIndividualAssessment,
  resultLocation: string,
): AssessmentFinding | undefined {
  const name = a.IndividualAssessmentName ?? 'unknown';
  const severity = severityOf(a.Status);
  if (!severity) return undefined;
  const status = a.Status ?? 'unknown';
  const verb =
    status === 'failed'
      ? 'failed'
      : status === 'warning'
        ? 'passed with a warning'
        : status === 'error' || status === 'invalid state'
          ? `could not run (${status})`
          : status === 'cancelled'
            ? 'was cancelled'
            : `did not finish (${status})`;
  return {
    id: `dms:${name}`,
    severity,
    object: `assessment:${name}`,
    message: `DMS premigration assessment ${name} ${verb}; details in ${resultLocation}`,
    advice:
      ADVICE[name] ?? `Read the assessment's JSON report under ${resultLocation} and fix what it lists.`,
  };
}

const ORDER: Record<Severity, number> = { blocker: 0, warning: 1, info: 2 };

/** The run's individual assessments (all pages) as Ferry findings, blockers first. */
export async function assessmentResults(
  dms: DatabaseMigrationServiceClient,
  runArn: string,
  opts: { resultLocation?: string; retry?: RetryOptions } = {},
): Promise<AssessmentResults> {
  const run = await describeAssessmentRun(dms, runArn, opts.retry);
  const resultLocation =
    opts.resultLocation ??
    (run.ResultLocationBucket
      ? assessmentResultLocation(run.ResultLocationBucket, run.ResultLocationFolder)
      : 's3://');
  const all: ReplicationTaskIndividualAssessment[] = [];
  let marker: string | undefined;
  do {
    const page: DescribeReplicationTaskIndividualAssessmentsCommandOutput = await withRetry(
      () =>
        dms.send(
          new DescribeReplicationTaskIndividualAssessmentsCommand({
            Filters: [{ Name: 'replication-task-assessment-run-arn', Values: [runArn] }],
            ...(marker && { Marker: marker }),
          }),
        ),
      opts.retry,
    );
    all.push(...(page.ReplicationTaskIndividualAssessments ?? []));
    marker = page.Marker;
  } while (marker);
  const findings = all
    .map((a) => mapIndividualAssessment(a, resultLocation))
    .filter((f): f is AssessmentFinding => f !== undefined)
    .sort((a, b) => ORDER[a.severity] - ORDER[b.severity] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const counts = { blocker: 0, warning: 0, info: 0, passed: 0 };
  for (const a of all) {
    const s = severityOf(a.Status);
    if (s) counts[s]++;
    else counts.passed++;
  }
  return { runArn, status: run.Status ?? 'unknown', resultLocation, evaluated: all.length, counts, findings };
}

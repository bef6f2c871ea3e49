// The aws-dms runbook's AWS side in one place: provisionDms runs the ensure-functions for a migration
// (instance, endpoints, connection tests, task, assessment), and planDmsRequests lists the requests
// they would send for a fresh setup without sending any (`ferry plan --engine aws-dms --dry-run`),
// secrets redacted. Both use the same request builders (requests.ts), so the plan is what gets sent.
import type { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import type { RDSClient } from '@aws-sdk/client-rds';
import {
  type AssessmentResults,
  type AssessmentRunRef,
  assessmentResults,
  startAssessmentRun,
  waitAssessmentRun,
} from './assessment';
import { type ClusterView, describeTargetCluster } from './aurora';
import { ensureEndpoint, testConnection } from './endpoints';
import { type EnsureResult, ensureReplicationInstance, waitReplicationInstanceAvailable } from './instance';
import {
  assessmentRunName,
  assessmentRunRequest,
  clusterSnapshotRequest,
  defaultSnapshotIdentifier,
  endpointRequest,
  redact,
  replicationInstanceRequest,
  replicationTaskRequest,
} from './requests';
import type { RetryOptions, WaitOptions } from './retry';
import type { DmsMigrationSpec, FerryTagInfo } from './spec';
import { ensureReplicationTask, waitTaskStatus } from './tasks';

const TASK_TRANSITIONS = ['creating', 'modifying', 'moving', 'testing'];

export function tagInfo(spec: DmsMigrationSpec): FerryTagInfo {
  return { migration: spec.migration, owner: spec.owner, ...(spec.tags && { tags: spec.tags }) };
}

export interface ProvisionResult {
  cluster?: ClusterView;
  instance: EnsureResult;
  source: EnsureResult;
  target: EnsureResult;
  task: EnsureResult;
  assessment?: AssessmentRunRef & { results: AssessmentResults };
}

/**
 * Everything before the load, in runbook order; each step adopts what exists, so running it again
 * after a crash creates nothing twice. The activity layer may call the steps one by one instead (one
 * activity each, heartbeating from `wait.onProgress`); this is the same sequence in one call.
 */
export async function provisionDms(
  clients: { dms: DatabaseMigrationServiceClient; rds?: RDSClient },
  spec: DmsMigrationSpec,
  opts: { wait?: WaitOptions; retry?: RetryOptions } = {},
): Promise<ProvisionResult> {
  const { dms, rds } = clients;
  const tags = tagInfo(spec);
  const cluster =
    spec.aurora && rds
      ? await describeTargetCluster(rds, spec.aurora.clusterIdentifier, opts.retry)
      : undefined;
  const instance = await ensureReplicationInstance(dms, spec.instance, tags, opts.retry);
  await waitReplicationInstanceAvailable(dms, instance.arn, opts.wait);
  const source = await ensureEndpoint(dms, spec.source, 'source', tags, opts.retry);
  const target = await ensureEndpoint(dms, spec.target, 'target', tags, opts.retry);
  await testConnection(dms, instance.arn, source.arn, opts.wait);
  await testConnection(dms, instance.arn, target.arn, opts.wait);
  const task = await ensureReplicationTask(
    dms,
    spec.task,
    { replicationInstanceArn: instance.arn, sourceEndpointArn: source.arn, targetEndpointArn: target.arn },
    tags,
    opts.retry,
  );
  // Settled: a new task becomes ready; an adopted one may already be running or stopped (the load
  // phase decides whether to start, resume or leave it), so only transitional states are waited out.
  await waitTaskStatus(dms, task.arn, (v) => !TASK_TRANSITIONS.includes(v.status), opts.wait);
  let assessment: ProvisionResult['assessment'];
  if (spec.assessment) {
    const run = await startAssessmentRun(
      dms,
      task.arn,
      { ...spec.assessment, runName: assessmentRunName({ task: spec.task, assessment: spec.assessment }) },
      tags,
      opts.retry,
    );
    await waitAssessmentRun(dms, run.arn, opts.wait);
    const results = await assessmentResults(dms, run.arn, {
      resultLocation: run.resultLocation,
      retry: opts.retry,
    });
    assessment = { ...run, results };
  }
  return { ...(cluster && { cluster }), instance, source, target, task, ...(assessment && { assessment }) };
}

export interface PlannedRequest {
  /** Runbook phase that sends it: provision, assess, load, cutover. */
  phase: 'provision' | 'assess' | 'load' | 'cutover';
  service: 'dms' | 'rds';
  /** SDK command name without the `Command` suffix, e.g. `CreateReplicationInstance`. */
  command: string;
  input: object;
  /** For waits: the describe is repeated until the condition holds. */
  repeat?: string;
}

/** Stands in for an ARN that only exists once the create has run. */
export function placeholderArn(kind: string, identifier: string): string {
  return `<${kind} ARN of ${identifier}>`;
}

/**
 * The AWS requests a fresh setup sends, in order, with secrets redacted: lookups (which find nothing on
 * a fresh account), creates, waits (one describe shown, repeated), then the load's start and the
 * pre-cutover snapshot. ARNs not known before a create are placeholders.
 */
export function planDmsRequests(spec: DmsMigrationSpec): PlannedRequest[] {
  const tags = tagInfo(spec);
  const ri = placeholderArn('replication instance', spec.instance.identifier);
  const src = placeholderArn('endpoint', spec.source.identifier);
  const tgt = placeholderArn('endpoint', spec.target.identifier);
  const task = placeholderArn('replication task', spec.task.identifier);
  const plan: PlannedRequest[] = [];
  const add = (r: PlannedRequest) => plan.push({ ...r, input: redact(r.input) });

  if (spec.aurora)
    add({
      phase: 'provision',
      service: 'rds',
      command: 'DescribeDBClusters',
      input: { DBClusterIdentifier: spec.aurora.clusterIdentifier },
    });
  add({
    phase: 'provision',
    service: 'dms',
    command: 'DescribeReplicationInstances',
    input: { Filters: [{ Name: 'replication-instance-id', Values: [spec.instance.identifier] }] },
  });
  add({
    phase: 'provision',
    service: 'dms',
    command: 'CreateReplicationInstance',
    input: replicationInstanceRequest(spec.instance, tags),
  });
  add({
    phase: 'provision',
    service: 'dms',
    command: 'DescribeReplicationInstances',
    input: { Filters: [{ Name: 'replication-instance-arn', Values: [ri] }] },
    repeat: 'until ReplicationInstanceStatus is available',
  });
  for (const [ep, type] of [
    [spec.source, 'source'],
    [spec.target, 'target'],
  ] as const) {
    add({
      phase: 'provision',
      service: 'dms',
      command: 'DescribeEndpoints',
      input: { Filters: [{ Name: 'endpoint-id', Values: [ep.identifier] }] },
    });
    add({
      phase: 'provision',
      service: 'dms',
      command: 'CreateEndpoint',
      input: endpointRequest(ep, type, tags),
    });
  }
  for (const ep of [src, tgt]) {
    add({
      phase: 'provision',
      service: 'dms',
      command: 'TestConnection',
      input: { ReplicationInstanceArn: ri, EndpointArn: ep },
    });
    add({
      phase: 'provision',
      service: 'dms',
      command: 'DescribeConnections',
      input: {
        Filters: [
          { Name: 'endpoint-arn', Values: [ep] },
          { Name: 'replication-instance-arn', Values: [ri] },
        ],
      },
      repeat: 'until Status is successful or failed',
    });
  }
  add({
    phase: 'provision',
    service: 'dms',
    command: 'DescribeReplicationTasks',
    input: {
      Filters: [{ Name: 'replication-task-id', Values: [spec.task.identifier] }],
      WithoutSettings: true,
    },
  });
  add({
    phase: 'provision',
    service: 'dms',
    command: 'CreateReplicationTask',
    input: replicationTaskRequest(
      spec.task,
      { replicationInstanceArn: ri, sourceEndpointArn: src, targetEndpointArn: tgt },
      tags,
    ),
  });
  add({
    phase: 'provision',
    service: 'dms',
    command: 'DescribeReplicationTasks',
    input: { Filters: [{ Name: 'replication-task-arn', Values: [task] }], WithoutSettings: true },
    repeat: 'until Status is ready',
  });
  if (spec.assessment) {
    const runName = assessmentRunName({ task: spec.task, assessment: spec.assessment });
    const run = placeholderArn('assessment run', runName);
    add({
      phase: 'assess',
      service: 'dms',
      command: 'DescribeReplicationTaskAssessmentRuns',
      input: { Filters: [{ Name: 'replication-task-arn', Values: [task] }] },
    });
    add({
      phase: 'assess',
      service: 'dms',
      command: 'StartReplicationTaskAssessmentRun',
      input: assessmentRunRequest({ ...spec.assessment, runName }, task, tags),
    });
    add({
      phase: 'assess',
      service: 'dms',
      command: 'DescribeReplicationTaskAssessmentRuns',
      input: { Filters: [{ Name: 'replication-task-assessment-run-arn', Values: [run] }] },
      repeat: 'until Status is passed or failed',
    });
    add({
      phase: 'assess',
      service: 'dms',
      command: 'DescribeReplicationTaskIndividualAssessments',
      input: { Filters: [{ Name: 'replication-task-assessment-run-arn', Values: [run] }] },
    });
  }
  add({
    phase: 'load',
    service: 'dms',
    command: 'StartReplicationTask',
    input: {
      ReplicationTaskArn: task,
      StartReplicationTaskType: 'start-replication',
      ...(spec.task.cdcStartPosition && { CdcStartPosition: spec.task.cdcStartPosition }),
      ...(spec.task.cdcStopPosition && { CdcStopPosition: spec.task.cdcStopPosition }),
    },
  });
  if (spec.aurora) {
    const snap =
      spec.aurora.snapshotIdentifier ??
      defaultSnapshotIdentifier(spec.aurora.clusterIdentifier, spec.migration);
    add({
      phase: 'cutover',
      service: 'rds',
      command: 'DescribeDBClusterSnapshots',
      input: { DBClusterSnapshotIdentifier: snap },
    });
    add({
      phase: 'cutover',
      service: 'rds',
      command: 'CreateDBClusterSnapshot',
      input: clusterSnapshotRequest(spec.aurora.clusterIdentifier, snap, tags),
    });
  }
  return plan;
}

/** The plan as text for a terminal: one request per block, JSON input indented. */
export function formatPlan(plan: readonly PlannedRequest[]): string {
  return plan
    .map(
      (r, i) =>
        `${i + 1}. [${r.phase}] ${r.service} ${r.command}${r.repeat ? ` (repeated ${r.repeat})` : ''}\n` +
        JSON.stringify(r.input, null, 2)
          .split('\n')
          .map((l) => `   ${l}`)
          .join('\n'),
    )
    .join('\n');
}

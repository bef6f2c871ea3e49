// An in-memory DMS and RDS behind aws-sdk-client-mock: enough state (instances, endpoints, connections,
// tasks, assessment runs, tags, cluster snapshots) that the adapter's ensure/wait/delete functions run
// their real request sequences, deterministically, without any AWS call. Every request is logged in
// order across both clients, for the golden request files.
import {
  CreateEndpointCommand,
  type CreateEndpointCommandInput,
  CreateReplicationInstanceCommand,
  type CreateReplicationInstanceCommandInput,
  CreateReplicationTaskCommand,
  type CreateReplicationTaskCommandInput,
  DatabaseMigrationServiceClient,
  DatabaseMigrationServiceServiceException,
  DeleteEndpointCommand,
  DeleteReplicationInstanceCommand,
  DeleteReplicationTaskCommand,
  DescribeConnectionsCommand,
  type DescribeConnectionsCommandInput,
  DescribeEndpointsCommand,
  DescribeReplicationInstancesCommand,
  DescribeReplicationTaskAssessmentRunsCommand,
  DescribeReplicationTaskIndividualAssessmentsCommand,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  type DescribeTableStatisticsCommandInput,
  type Filter,
  ListTagsForResourceCommand,
  type ListTagsForResourceCommandInput,
  ReloadTablesCommand,
  ResourceAlreadyExistsFault,
  ResourceNotFoundFault,
  StartReplicationTaskAssessmentRunCommand,
  type StartReplicationTaskAssessmentRunCommandInput,
  StartReplicationTaskCommand,
  type StartReplicationTaskCommandInput,
  StopReplicationTaskCommand,
  type Tag,
  TestConnectionCommand,
  type TestConnectionCommandInput,
  type TableStatistics as DmsTableStatistics,
  type ReplicationTaskIndividualAssessment,
} from '@aws-sdk/client-database-migration-service';
import {
  CreateDBClusterSnapshotCommand,
  type CreateDBClusterSnapshotCommandInput,
  DBClusterNotFoundFault,
  DBClusterSnapshotNotFoundFault,
  DescribeDBClusterSnapshotsCommand,
  type DescribeDBClusterSnapshotsCommandInput,
  DescribeDBClustersCommand,
  type DescribeDBClustersCommandInput,
  RDSClient,
  RDSServiceException,
  RestoreDBClusterFromSnapshotCommand,
  type RestoreDBClusterFromSnapshotCommandInput,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';

/** The one method of a stub `on` uses, whatever the client's input/output unions are. */
interface CommandStub<I, O> {
  on(command: unknown): { callsFake(fn: (input: I) => Promise<O>): void };
}

export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';

export interface LoggedRequest {
  service: 'dms' | 'rds';
  command: string;
  input: unknown;
}

interface Resource {
  arn: string;
  id: string;
  tags: Tag[];
  /** Describes left that still show the transitional status. */
  pending: number;
  status: string;
  data: Record<string, unknown>;
}

const notFound = (what: string) =>
  new ResourceNotFoundFault({ message: `No ${what} found matching provided filters`, $metadata: {} });

function filterValue(filters: Filter[] | undefined, name: string): string | undefined {
  return filters?.find((f) => f.Name === name)?.Values?.[0];
}

/**
 * What AWS answers a caller over its request rate: the SDK's service exception named
 * ThrottlingException (HTTP 400, client fault), which src/dms/retry.ts classifies as retryable.
 */
export function throttlingException(service: 'dms' | 'rds'): Error {
  const opts = {
    name: 'ThrottlingException',
    $fault: 'client' as const,
    $metadata: { httpStatusCode: 400 },
    message: 'Rate exceeded',
  };
  return service === 'dms'
    ? new DatabaseMigrationServiceServiceException(opts)
    : new RDSServiceException(opts);
}

/** JSON round trip: Dates become ISO strings, undefined fields vanish (what a golden file holds). */
export function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

export class FakeAws {
  readonly dms = new DatabaseMigrationServiceClient({ region: REGION });
  readonly rds = new RDSClient({ region: REGION });
  readonly dmsMock = mockClient(this.dms);
  readonly rdsMock = mockClient(this.rds);
  readonly log: LoggedRequest[] = [];

  readonly instances = new Map<string, Resource>();
  readonly endpoints = new Map<string, Resource>();
  readonly tasks = new Map<string, Resource>();
  readonly runs = new Map<string, Resource>();
  readonly snapshots = new Map<string, Resource>();
  readonly clusters = new Map<string, Resource>();
  /** Per endpoint ARN (or endpoint type, 'SOURCE' / 'TARGET'): LastFailureMessage to fail its connection test with. */
  readonly connectionFailures = new Map<string, string>();
  readonly connections = new Map<string, { status: string; pending: number; message?: string }>();
  /** Statuses a started task goes through (last one sticks), with StopReason/LastFailureMessage. */
  taskRun: {
    status: string;
    stopReason?: string;
    lastFailureMessage?: string;
    stats?: Record<string, number>;
  }[] = [
    { status: 'starting' },
    {
      status: 'running',
      stats: { FullLoadProgressPercent: 40, TablesLoading: 2, TablesQueued: 1, TablesLoaded: 1 },
    },
    {
      status: 'running',
      stats: { FullLoadProgressPercent: 100, TablesLoading: 0, TablesQueued: 0, TablesLoaded: 4 },
    },
  ];
  tableStats: DmsTableStatistics[] = [];
  individualAssessments: ReplicationTaskIndividualAssessment[] = [];
  /** Describes before a transitional status settles (instance creating, task creating...). */
  transitions = 1;
  /** Per command name (without `Command`): how many more of its requests answer ThrottlingException. */
  readonly throttled = new Map<string, number>();

  constructor() {
    this.installDms();
    this.installRds();
  }

  restore(): void {
    this.dmsMock.restore();
    this.rdsMock.restore();
  }

  /** The next `times` requests of `command` (without `Command`) are logged, then throttled. */
  throttle(command: string, times: number): void {
    this.throttled.set(command, times);
  }

  /** Requests of one command name (without `Command`). */
  sent(command: string): LoggedRequest[] {
    return this.log.filter((r) => r.command === command);
  }

  arn(kind: string, id: string): string {
    return `arn:aws:dms:${REGION}:${ACCOUNT}:${kind}:${id.toUpperCase()}`;
  }

  /** Add a resource that exists before Ferry runs (an operator's, or a previous run's). */
  seed(
    map: Map<string, Resource>,
    kind: string,
    id: string,
    status: string,
    data: Record<string, unknown> = {},
    tags: Tag[] = [],
  ): Resource {
    const r: Resource = { arn: this.arn(kind, id), id, tags, pending: 0, status, data };
    map.set(r.arn, r);
    return r;
  }

  private on<I, O>(
    service: 'dms' | 'rds',
    command: new (input: I) => { input: I },
    fn: (input: I) => O | Promise<O>,
  ): void {
    const name = command.name.replace(/Command$/, '');
    const mock = (service === 'dms' ? this.dmsMock : this.rdsMock) as unknown as CommandStub<I, O>;
    mock.on(command).callsFake(async (input: I) => {
      this.log.push({ service, command: name, input: plain(input) });
      const throttles = this.throttled.get(name) ?? 0;
      if (throttles > 0) {
        this.throttled.set(name, throttles - 1);
        throw throttlingException(service);
      }
      return fn(input);
    });
  }

  private find(
    map: Map<string, Resource>,
    by: 'id' | 'arn',
    value: string | undefined,
  ): Resource | undefined {
    for (const r of map.values()) if ((by === 'id' ? r.id : r.arn) === value) return r;
    return undefined;
  }

  /** A describe: transitional status for `pending` more calls, then the settled one. */
  private observe(r: Resource, settled: string): string {
    if (r.pending > 0) {
      r.pending--;
      return r.status;
    }
    r.status = settled === '' ? r.status : settled;
    return r.status;
  }

  private installDms(): void {
    this.on('dms', DescribeReplicationInstancesCommand, (input) => {
      const id = filterValue(input.Filters, 'replication-instance-id');
      const r = id
        ? this.find(this.instances, 'id', id)
        : this.find(this.instances, 'arn', filterValue(input.Filters, 'replication-instance-arn'));
      if (!r) throw notFound('ReplicationInstances');
      const status = this.observe(r, r.status === 'creating' ? 'available' : '');
      return {
        ReplicationInstances: [
          {
            ReplicationInstanceArn: r.arn,
            ReplicationInstanceIdentifier: r.id,
            ReplicationInstanceStatus: status,
            ...r.data,
          },
        ],
      };
    });
    this.on('dms', CreateReplicationInstanceCommand, (input: CreateReplicationInstanceCommandInput) => {
      if (this.find(this.instances, 'id', input.ReplicationInstanceIdentifier))
        throw new ResourceAlreadyExistsFault({ message: 'exists', $metadata: {} });
      const r = this.seed(
        this.instances,
        'rep',
        input.ReplicationInstanceIdentifier ?? '',
        'creating',
        {
          ReplicationInstanceClass: input.ReplicationInstanceClass,
          AllocatedStorage: input.AllocatedStorage,
          MultiAZ: input.MultiAZ,
          EngineVersion: input.EngineVersion,
          PubliclyAccessible: input.PubliclyAccessible,
          ...(input.ReplicationSubnetGroupIdentifier && {
            ReplicationSubnetGroup: {
              ReplicationSubnetGroupIdentifier: input.ReplicationSubnetGroupIdentifier,
            },
          }),
        },
        input.Tags ?? [],
      );
      r.pending = this.transitions;
      return {
        ReplicationInstance: { ReplicationInstanceArn: r.arn, ReplicationInstanceStatus: 'creating' },
      };
    });
    this.on('dms', DeleteReplicationInstanceCommand, (input) =>
      this.remove(this.instances, input.ReplicationInstanceArn),
    );

    this.on('dms', DescribeEndpointsCommand, (input) => {
      const r = this.find(this.endpoints, 'id', filterValue(input.Filters, 'endpoint-id'));
      if (!r) throw notFound('Endpoints');
      return { Endpoints: [{ EndpointArn: r.arn, EndpointIdentifier: r.id, Status: 'active', ...r.data }] };
    });
    this.on('dms', CreateEndpointCommand, (input: CreateEndpointCommandInput) => {
      const r = this.seed(
        this.endpoints,
        'endpoint',
        input.EndpointIdentifier ?? '',
        'active',
        {
          EndpointType: input.EndpointType?.toUpperCase(),
          EngineName: input.EngineName,
          DatabaseName: input.DatabaseName,
          SslMode: input.SslMode,
          ServerName: input.ServerName,
          Port: input.Port,
          PostgreSQLSettings: input.PostgreSQLSettings,
        },
        input.Tags ?? [],
      );
      return { Endpoint: { EndpointArn: r.arn, EndpointIdentifier: r.id } };
    });
    this.on('dms', DeleteEndpointCommand, (input) => this.remove(this.endpoints, input.EndpointArn));

    this.on('dms', ListTagsForResourceCommand, (input: ListTagsForResourceCommandInput) => {
      for (const map of [this.instances, this.endpoints, this.tasks, this.runs]) {
        const r = this.find(map, 'arn', input.ResourceArn);
        if (r) return { TagList: r.tags };
      }
      throw notFound('resource');
    });

    this.on('dms', TestConnectionCommand, (input: TestConnectionCommandInput) => {
      const key = `${input.ReplicationInstanceArn}|${input.EndpointArn}`;
      // By ARN, or by endpoint type ('SOURCE' / 'TARGET') when the test cannot know the ARN beforehand.
      const endpoint = this.find(this.endpoints, 'arn', input.EndpointArn);
      const failure =
        this.connectionFailures.get(input.EndpointArn ?? '') ??
        this.connectionFailures.get(String(endpoint?.data.EndpointType ?? ''));
      this.connections.set(key, {
        status: failure ? 'failed' : 'successful',
        pending: this.transitions,
        message: failure,
      });
      return { Connection: { Status: 'testing', EndpointArn: input.EndpointArn } };
    });
    this.on('dms', DescribeConnectionsCommand, (input: DescribeConnectionsCommandInput) => {
      const ep = filterValue(input.Filters, 'endpoint-arn');
      const ri = filterValue(input.Filters, 'replication-instance-arn');
      const c = this.connections.get(`${ri}|${ep}`);
      if (!c) throw notFound('Connections');
      const pending = c.pending > 0;
      if (pending) c.pending--;
      return {
        Connections: [
          {
            EndpointArn: ep,
            ReplicationInstanceArn: ri,
            EndpointIdentifier: this.find(this.endpoints, 'arn', ep)?.id,
            ReplicationInstanceIdentifier: this.find(this.instances, 'arn', ri)?.id,
            Status: pending ? 'testing' : c.status,
            ...(!pending && c.message && { LastFailureMessage: c.message }),
          },
        ],
      };
    });

    this.on('dms', DescribeReplicationTasksCommand, (input) => {
      const id = filterValue(input.Filters, 'replication-task-id');
      const r = id
        ? this.find(this.tasks, 'id', id)
        : this.find(this.tasks, 'arn', filterValue(input.Filters, 'replication-task-arn'));
      if (!r) throw notFound('ReplicationTasks');
      if (r.status === 'creating') this.observe(r, 'ready');
      else if (r.data.run !== undefined) {
        // A started task walks through taskRun, one entry per describe.
        const i = Math.min(Number(r.data.run), this.taskRun.length - 1);
        const step = this.taskRun[i];
        r.status = step.status;
        r.data.StopReason = step.stopReason;
        r.data.LastFailureMessage = step.lastFailureMessage;
        r.data.ReplicationTaskStats = step.stats && {
          ...step.stats,
          FreshStartDate: new Date('2026-01-01T00:00:00Z'),
        };
        r.data.run = i + 1;
      }
      const { run: _run, ...data } = r.data;
      return {
        ReplicationTasks: [
          { ReplicationTaskArn: r.arn, ReplicationTaskIdentifier: r.id, Status: r.status, ...data },
        ],
      };
    });
    this.on('dms', CreateReplicationTaskCommand, (input: CreateReplicationTaskCommandInput) => {
      const r = this.seed(
        this.tasks,
        'task',
        input.ReplicationTaskIdentifier ?? '',
        'creating',
        {
          MigrationType: input.MigrationType,
          ReplicationInstanceArn: input.ReplicationInstanceArn,
          SourceEndpointArn: input.SourceEndpointArn,
          TargetEndpointArn: input.TargetEndpointArn,
        },
        input.Tags ?? [],
      );
      r.pending = this.transitions;
      return { ReplicationTask: { ReplicationTaskArn: r.arn, Status: 'creating' } };
    });
    this.on('dms', StartReplicationTaskCommand, (input: StartReplicationTaskCommandInput) => {
      const r = this.find(this.tasks, 'arn', input.ReplicationTaskArn);
      if (!r) throw notFound('ReplicationTasks');
      r.status = 'starting';
      r.data.run = 0;
      r.data.ReplicationTaskStartDate = new Date('2026-01-01T00:00:00Z');
      return { ReplicationTask: { ReplicationTaskArn: r.arn, Status: 'starting' } };
    });
    this.on('dms', StopReplicationTaskCommand, (input) => {
      const r = this.find(this.tasks, 'arn', input.ReplicationTaskArn);
      if (!r) throw notFound('ReplicationTasks');
      delete r.data.run;
      r.status = 'stopped';
      r.data.StopReason = 'Stop Reason NORMAL';
      return { ReplicationTask: { ReplicationTaskArn: r.arn, Status: 'stopping' } };
    });
    this.on('dms', DeleteReplicationTaskCommand, (input) =>
      this.remove(this.tasks, input.ReplicationTaskArn),
    );
    this.on('dms', DescribeTableStatisticsCommand, (input: DescribeTableStatisticsCommandInput) => {
      const size = input.MaxRecords ?? 100;
      const start = input.Marker ? Number(input.Marker) : 0;
      const page = this.tableStats.slice(start, start + size);
      const next = start + size < this.tableStats.length ? String(start + size) : undefined;
      return {
        ReplicationTaskArn: input.ReplicationTaskArn,
        TableStatistics: page,
        ...(next && { Marker: next }),
      };
    });
    this.on('dms', ReloadTablesCommand, (input) => ({ ReplicationTaskArn: input.ReplicationTaskArn }));

    this.on(
      'dms',
      StartReplicationTaskAssessmentRunCommand,
      (input: StartReplicationTaskAssessmentRunCommandInput) => {
        const r = this.seed(
          this.runs,
          'assessment-run',
          input.AssessmentRunName ?? '',
          'starting',
          {
            ReplicationTaskArn: input.ReplicationTaskArn,
            AssessmentRunName: input.AssessmentRunName,
            ResultLocationBucket: input.ResultLocationBucket,
            ResultLocationFolder: input.ResultLocationFolder,
          },
          input.Tags ?? [],
        );
        r.pending = this.transitions;
        r.status = 'running';
        return {
          ReplicationTaskAssessmentRun: { ReplicationTaskAssessmentRunArn: r.arn, Status: 'starting' },
        };
      },
    );
    this.on('dms', DescribeReplicationTaskAssessmentRunsCommand, (input) => {
      const byRun = filterValue(input.Filters, 'replication-task-assessment-run-arn');
      const byTask = filterValue(input.Filters, 'replication-task-arn');
      const found = [...this.runs.values()].filter((r) =>
        byRun ? r.arn === byRun : r.data.ReplicationTaskArn === byTask,
      );
      if (!found.length) throw notFound('ReplicationTaskAssessmentRuns');
      const failed = this.individualAssessments.some((a) => a.Status === 'failed');
      return {
        ReplicationTaskAssessmentRuns: found.map((r) => ({
          ReplicationTaskAssessmentRunArn: r.arn,
          Status: byRun ? this.observe(r, failed ? 'failed' : 'passed') : r.status,
          ...r.data,
        })),
      };
    });
    this.on('dms', DescribeReplicationTaskIndividualAssessmentsCommand, (input) => {
      const run = filterValue(input.Filters, 'replication-task-assessment-run-arn');
      return {
        ReplicationTaskIndividualAssessments: this.individualAssessments.map((a) => ({
          ...a,
          ReplicationTaskAssessmentRunArn: run,
        })),
      };
    });
  }

  private remove(map: Map<string, Resource>, arn: string | undefined): object {
    const r = this.find(map, 'arn', arn);
    if (!r) throw notFound('resource');
    map.delete(r.arn);
    return {};
  }

  private rdsArn(kind: string, id: string): string {
    return `arn:aws:rds:${REGION}:${ACCOUNT}:${kind}:${id}`;
  }

  seedCluster(id: string, engine = 'aurora-postgresql', tags: Tag[] = []): void {
    this.clusters.set(id, {
      arn: this.rdsArn('cluster', id),
      id,
      tags,
      pending: 0,
      status: 'available',
      data: { Engine: engine },
    });
  }

  seedSnapshot(id: string, cluster: string, tags: Tag[] = []): void {
    this.snapshots.set(id, {
      arn: this.rdsArn('cluster-snapshot', id),
      id,
      tags,
      pending: 0,
      status: 'available',
      data: { DBClusterIdentifier: cluster },
    });
  }

  private installRds(): void {
    this.on('rds', DescribeDBClustersCommand, (input: DescribeDBClustersCommandInput) => {
      const r = this.clusters.get(input.DBClusterIdentifier ?? '');
      if (!r)
        throw new DBClusterNotFoundFault({
          message: `DBCluster ${input.DBClusterIdentifier} not found`,
          $metadata: {},
        });
      return {
        DBClusters: [
          {
            DBClusterIdentifier: r.id,
            DBClusterArn: r.arn,
            Status: this.observe(r, 'available'),
            Engine: r.data.Engine as string,
            EngineVersion: '16.4',
            Endpoint: `${r.id}.cluster-abc.${REGION}.rds.amazonaws.com`,
            Port: 5432,
            DBClusterMembers: [{ DBInstanceIdentifier: `${r.id}-1`, IsClusterWriter: true }],
            TagList: r.tags,
          },
        ],
      };
    });
    this.on('rds', DescribeDBClusterSnapshotsCommand, (input: DescribeDBClusterSnapshotsCommandInput) => {
      const r = this.snapshots.get(input.DBClusterSnapshotIdentifier ?? '');
      if (!r)
        throw new DBClusterSnapshotNotFoundFault({
          message: `${input.DBClusterSnapshotIdentifier} not found`,
          $metadata: {},
        });
      const status = this.observe(r, 'available');
      return {
        DBClusterSnapshots: [
          {
            DBClusterSnapshotIdentifier: r.id,
            DBClusterSnapshotArn: r.arn,
            DBClusterIdentifier: r.data.DBClusterIdentifier as string,
            Status: status,
            PercentProgress: status === 'available' ? 100 : 50,
            TagList: r.tags,
          },
        ],
      };
    });
    this.on('rds', CreateDBClusterSnapshotCommand, (input: CreateDBClusterSnapshotCommandInput) => {
      const id = input.DBClusterSnapshotIdentifier ?? '';
      this.seedSnapshot(id, input.DBClusterIdentifier ?? '', input.Tags ?? []);
      const r = this.snapshots.get(id)!;
      r.status = 'creating';
      r.pending = this.transitions;
      return {
        DBClusterSnapshot: {
          DBClusterSnapshotIdentifier: id,
          DBClusterSnapshotArn: r.arn,
          DBClusterIdentifier: input.DBClusterIdentifier,
          Status: 'creating',
        },
      };
    });
    this.on('rds', RestoreDBClusterFromSnapshotCommand, (input: RestoreDBClusterFromSnapshotCommandInput) => {
      const id = input.DBClusterIdentifier ?? '';
      this.seedCluster(id, input.Engine, input.Tags ?? []);
      return {
        DBCluster: {
          DBClusterIdentifier: id,
          DBClusterArn: this.rdsArn('cluster', id),
          Status: 'creating',
          Engine: input.Engine,
        },
      };
    });
  }
}

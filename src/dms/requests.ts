// The create requests, built from the spec by pure functions: the ensure-functions send exactly these,
// and the dry-run plan (plan.ts) prints exactly these, so what an operator reviews is what gets sent.
// Also the redaction every printed request goes through.
import type {
  CreateEndpointCommandInput,
  CreateReplicationInstanceCommandInput,
  CreateReplicationTaskCommandInput,
  PostgreSQLSettings,
  StartReplicationTaskAssessmentRunCommandInput,
} from '@aws-sdk/client-database-migration-service';
import type {
  CreateDBClusterSnapshotCommandInput,
  RestoreDBClusterFromSnapshotCommandInput,
} from '@aws-sdk/client-rds';
import { DmsError, ErrorType } from './errors';
import {
  type AssessmentSpec,
  type DmsMigrationSpec,
  type EndpointSpec,
  type FerryTagInfo,
  type JsonObject,
  MIGRATION_TYPES,
  type ReplicationInstanceSpec,
  type ReplicationTaskSpec,
  SUPPORTED_ENGINES,
  type SupportedEngine,
  ferryTags,
} from './spec';

export function replicationInstanceRequest(
  spec: ReplicationInstanceSpec,
  tags: FerryTagInfo,
): CreateReplicationInstanceCommandInput {
  return {
    ReplicationInstanceIdentifier: spec.identifier,
    ReplicationInstanceClass: spec.instanceClass,
    ...(spec.allocatedStorage !== undefined && { AllocatedStorage: spec.allocatedStorage }),
    ...(spec.vpcSecurityGroupIds?.length && { VpcSecurityGroupIds: [...spec.vpcSecurityGroupIds] }),
    ...(spec.availabilityZone && { AvailabilityZone: spec.availabilityZone }),
    ...(spec.subnetGroup && { ReplicationSubnetGroupIdentifier: spec.subnetGroup }),
    MultiAZ: spec.multiAZ ?? false,
    ...(spec.engineVersion && { EngineVersion: spec.engineVersion }),
    ...(spec.kmsKeyId && { KmsKeyId: spec.kmsKeyId }),
    // Explicit false: DMS's own default is true, which would give the instance a public IP.
    PubliclyAccessible: spec.publiclyAccessible ?? false,
    Tags: ferryTags(tags),
  };
}

/** The engine name if DMS's PostgreSQL support covers it; refused with the supported list otherwise. */
export function checkEngine(spec: EndpointSpec): SupportedEngine {
  const engine = spec.engine.trim().toLowerCase();
  if ((SUPPORTED_ENGINES as readonly string[]).includes(engine)) return engine as SupportedEngine;
  throw new DmsError(
    ErrorType.CONFIG_INVALID,
    `endpoint ${spec.identifier}: engine "${spec.engine}" is not supported by Ferry's aws-dms engine; ` +
      `supported: ${SUPPORTED_ENGINES.join(', ')}`,
    { details: { endpoint: spec.identifier, engine: spec.engine } },
  );
}

export function endpointRequest(
  spec: EndpointSpec,
  type: 'source' | 'target',
  tags: FerryTagInfo,
): CreateEndpointCommandInput {
  const engine = checkEngine(spec);
  const secret = 'secretsManagerSecretId' in spec.auth ? spec.auth : undefined;
  const pg: PostgreSQLSettings = {
    ...(secret && {
      SecretsManagerSecretId: secret.secretsManagerSecretId,
      SecretsManagerAccessRoleArn: secret.secretsManagerAccessRoleArn,
    }),
    ...(spec.pluginName && {
      PluginName: spec.pluginName === 'test_decoding' ? 'test-decoding' : spec.pluginName,
    }),
    ...(spec.slotName && { SlotName: spec.slotName }),
    ...(spec.heartbeatEnable !== undefined && { HeartbeatEnable: spec.heartbeatEnable }),
    ...(spec.heartbeatFrequency !== undefined && { HeartbeatFrequency: spec.heartbeatFrequency }),
    ...(spec.heartbeatSchema && { HeartbeatSchema: spec.heartbeatSchema }),
    ...(spec.captureDdls !== undefined && { CaptureDdls: spec.captureDdls }),
  };
  if (type === 'target' && (pg.PluginName || pg.SlotName))
    throw new DmsError(
      ErrorType.CONFIG_INVALID,
      `endpoint ${spec.identifier}: pluginName and slotName apply to a source endpoint only`,
    );
  return {
    EndpointIdentifier: spec.identifier,
    EndpointType: type,
    EngineName: engine,
    // DMS refuses clear-text ServerName/Port/Username together with a secret: with secrets-manager
    // auth they come from the secret only.
    ...(!secret && {
      ServerName: spec.server,
      Port: spec.port,
      ...(spec.username && { Username: spec.username }),
    }),
    ...('password' in spec.auth && { Password: spec.auth.password }),
    DatabaseName: spec.database,
    SslMode: spec.sslMode ?? 'require',
    ...(spec.certificateArn && { CertificateArn: spec.certificateArn }),
    ...(spec.extraConnectionAttributes && { ExtraConnectionAttributes: spec.extraConnectionAttributes }),
    ...(Object.keys(pg).length > 0 && { PostgreSQLSettings: pg }),
    Tags: ferryTags(tags),
  };
}

/** The JSON text DMS gets: a string is the file itself (sent verbatim), an object is serialised. */
export function jsonText(value: string | JsonObject, what: string): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  try {
    JSON.parse(value);
  } catch (err) {
    throw new DmsError(ErrorType.CONFIG_INVALID, `${what} is not valid JSON: ${(err as Error).message}`);
  }
  return value;
}

export function replicationTaskRequest(
  spec: ReplicationTaskSpec,
  arns: { replicationInstanceArn: string; sourceEndpointArn: string; targetEndpointArn: string },
  tags: FerryTagInfo,
): CreateReplicationTaskCommandInput {
  if (!(MIGRATION_TYPES as readonly string[]).includes(spec.migrationType))
    throw new DmsError(
      ErrorType.CONFIG_INVALID,
      `task ${spec.identifier}: migration type "${spec.migrationType}" is not one of ${MIGRATION_TYPES.join(', ')}`,
    );
  if (spec.cdcStartPosition && spec.migrationType === 'full-load')
    throw new DmsError(
      ErrorType.CONFIG_INVALID,
      `task ${spec.identifier}: cdcStartPosition needs migration type cdc or full-load-and-cdc`,
    );
  return {
    ReplicationTaskIdentifier: spec.identifier,
    SourceEndpointArn: arns.sourceEndpointArn,
    TargetEndpointArn: arns.targetEndpointArn,
    ReplicationInstanceArn: arns.replicationInstanceArn,
    MigrationType: spec.migrationType,
    TableMappings: jsonText(spec.tableMappings, `task ${spec.identifier}: table mappings`),
    ...(spec.settings !== undefined && {
      ReplicationTaskSettings: jsonText(spec.settings, `task ${spec.identifier}: task settings`),
    }),
    ...(spec.cdcStartPosition && { CdcStartPosition: spec.cdcStartPosition }),
    ...(spec.cdcStopPosition && { CdcStopPosition: spec.cdcStopPosition }),
    Tags: ferryTags(tags),
  };
}

export function assessmentRunName(
  spec: Pick<DmsMigrationSpec, 'task'> & { assessment: AssessmentSpec },
): string {
  return spec.assessment.runName ?? `${spec.task.identifier}-assessment`;
}

export function assessmentRunRequest(
  spec: AssessmentSpec & { runName: string },
  replicationTaskArn: string,
  tags: FerryTagInfo,
): StartReplicationTaskAssessmentRunCommandInput {
  return {
    ReplicationTaskArn: replicationTaskArn,
    ServiceAccessRoleArn: spec.serviceAccessRoleArn,
    ResultLocationBucket: spec.resultLocationBucket,
    ...(spec.resultLocationFolder && { ResultLocationFolder: spec.resultLocationFolder }),
    ...(spec.resultEncryptionMode && { ResultEncryptionMode: spec.resultEncryptionMode }),
    ...(spec.resultKmsKeyArn && { ResultKmsKeyArn: spec.resultKmsKeyArn }),
    AssessmentRunName: spec.runName,
    ...(spec.includeOnly?.length && { IncludeOnly: [...spec.includeOnly] }),
    ...(spec.exclude?.length && { Exclude: [...spec.exclude] }),
    Tags: ferryTags(tags),
  };
}

/** `s3://bucket/folder/` where DMS writes the run's summary and one JSON per individual assessment. */
export function assessmentResultLocation(bucket: string, folder?: string): string {
  const f = (folder ?? '').replace(/^\/+|\/+$/g, '');
  return `s3://${bucket}/${f ? `${f}/` : ''}`;
}

export function defaultSnapshotIdentifier(clusterIdentifier: string, migration: string): string {
  // RDS identifiers: letters, digits, hyphens; start with a letter; no "--"; at most 255 characters.
  const id = `${clusterIdentifier}-ferry-${migration}-pre-cutover`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');
  return id.slice(0, 255);
}

export function clusterSnapshotRequest(
  clusterIdentifier: string,
  snapshotIdentifier: string,
  tags: FerryTagInfo,
): CreateDBClusterSnapshotCommandInput {
  return {
    DBClusterSnapshotIdentifier: snapshotIdentifier,
    DBClusterIdentifier: clusterIdentifier,
    Tags: ferryTags(tags),
  };
}

export interface RestoreClusterSpec {
  /** The new cluster's identifier (RestoreDBClusterFromSnapshot never overwrites an existing one). */
  clusterIdentifier: string;
  snapshotIdentifier: string;
  /** Default `aurora-postgresql`. */
  engine?: string;
  engineVersion?: string;
  port?: number;
  dbSubnetGroupName?: string;
  vpcSecurityGroupIds?: string[];
  dbClusterParameterGroupName?: string;
  kmsKeyId?: string;
  deletionProtection?: boolean;
}

export function restoreClusterRequest(
  spec: RestoreClusterSpec,
  tags: FerryTagInfo,
): RestoreDBClusterFromSnapshotCommandInput {
  return {
    DBClusterIdentifier: spec.clusterIdentifier,
    SnapshotIdentifier: spec.snapshotIdentifier,
    Engine: spec.engine ?? 'aurora-postgresql',
    ...(spec.engineVersion && { EngineVersion: spec.engineVersion }),
    ...(spec.port !== undefined && { Port: spec.port }),
    ...(spec.dbSubnetGroupName && { DBSubnetGroupName: spec.dbSubnetGroupName }),
    ...(spec.vpcSecurityGroupIds?.length && { VpcSecurityGroupIds: [...spec.vpcSecurityGroupIds] }),
    ...(spec.dbClusterParameterGroupName && {
      DBClusterParameterGroupName: spec.dbClusterParameterGroupName,
    }),
    ...(spec.kmsKeyId && { KmsKeyId: spec.kmsKeyId }),
    DeletionProtection: spec.deletionProtection ?? true,
    CopyTagsToSnapshot: true,
    Tags: ferryTags(tags),
  };
}

export const REDACTED = '<redacted>';

/**
 * A deep copy with every secret replaced by "<redacted>": any field whose name contains "password"
 * (Password, SourcePassword...), and `password=…` inside an ExtraConnectionAttributes string.
 * Secrets Manager ARNs and role ARNs are kept: they are references, not secrets.
 */
export function redact<T>(value: T): T {
  return redactValue(value, undefined) as T;
}

function redactValue(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && /password/i.test(key) && value !== undefined) return REDACTED;
  if (typeof value === 'string' && key === 'ExtraConnectionAttributes')
    return value.replace(/(^|;)(\s*password\s*=)[^;]*/gi, `$1$2${REDACTED}`);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, undefined));
  if (value instanceof Date) return value;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, k)]));
  return value;
}

// What the aws-dms engine is asked to build, as plain data: one replication instance, a source and a
// target PostgreSQL endpoint, one replication task, an optional premigration assessment run and the
// Aurora cluster that receives the data. A later wiring step builds it from ferry.yaml; nothing here
// holds a client or does I/O, so a spec can travel through workflow history (it carries no password
// unless `auth.password` is used, which only an activity may fill in right before the call).
//
// Glossary (DMS words, as the adapter uses them):
//   replication instance  the EC2-backed host DMS runs tasks on (`ReplicationInstanceIdentifier`)
//   endpoint              connection details of one database, source or target (`EndpointIdentifier`)
//   replication task      what moves the data: migration type + table mappings + task settings
//   assessment run        a premigration assessment of one task; results land in S3 and the API
//   adopt                 an ensure-function found the resource by identifier and did not create it
//   created               Ferry created the resource for this migration (this call or an earlier
//                         attempt, proven by its tags): only such resources are ever deleted

import type { MigrationTypeValue, Tag } from '@aws-sdk/client-database-migration-service';

/** The engines DMS calls PostgreSQL; any other endpoint type is refused (see endpoints.ts). */
export const SUPPORTED_ENGINES = ['postgres', 'aurora-postgresql'] as const;
export type SupportedEngine = (typeof SUPPORTED_ENGINES)[number];

export const MIGRATION_TYPES = [
  'full-load',
  'cdc',
  'full-load-and-cdc',
] as const satisfies readonly MigrationTypeValue[];
export type DmsMigrationType = (typeof MIGRATION_TYPES)[number];

/** A parsed DMS JSON document (table mapping, task settings). */
export type JsonObject = { [key: string]: unknown };

export interface ReplicationInstanceSpec {
  /** `ReplicationInstanceIdentifier`: lower-case letters, digits and hyphens; the adopt-by key. */
  identifier: string;
  /** e.g. `dms.t3.medium`, `dms.r6i.large`. */
  instanceClass: string;
  /** GiB of storage for logs and cached changes. */
  allocatedStorage?: number;
  multiAZ?: boolean;
  vpcSecurityGroupIds?: string[];
  /** `ReplicationSubnetGroupIdentifier` (the subnet group must exist; Ferry does not create it). */
  subnetGroup?: string;
  engineVersion?: string;
  /** Defaults to false: a replication instance reaches on-site sources through the VPC, not the internet. */
  publiclyAccessible?: boolean;
  availabilityZone?: string;
  kmsKeyId?: string;
}

/** Password-less: DMS reads host, port, user and password from the secret through the access role. */
export interface SecretsManagerAuth {
  secretsManagerSecretId: string;
  secretsManagerAccessRoleArn: string;
}

/**
 * Clear-text password: only for an activity that has just resolved a Ferry secret reference; never put
 * in workflow input. Printed as "<redacted>" by the dry-run plan.
 */
export interface PasswordAuth {
  password: string;
}

export interface EndpointSpec {
  /** `EndpointIdentifier`: the adopt-by key. */
  identifier: string;
  /** `postgres` (RDS, EC2 or on-site) or `aurora-postgresql`. A string because it comes from ferry.yaml. */
  engine: string;
  /** Host name (with secrets-manager auth the secret's `host` is what DMS uses; keep them equal). */
  server: string;
  port: number;
  database: string;
  username?: string;
  auth: SecretsManagerAuth | PasswordAuth;
  sslMode?: 'none' | 'require' | 'verify-ca' | 'verify-full';
  certificateArn?: string;
  /** Logical decoding plugin of the source's slot. `test_decoding` is accepted for `test-decoding`. */
  pluginName?: 'pglogical' | 'test_decoding' | 'test-decoding' | 'no-preference';
  slotName?: string;
  heartbeatEnable?: boolean;
  heartbeatFrequency?: number;
  heartbeatSchema?: string;
  captureDdls?: boolean;
  /** `key=value;key=value`, passed as is (a `password=` in it is redacted by the dry-run plan). */
  extraConnectionAttributes?: string;
}

export interface ReplicationTaskSpec {
  /** `ReplicationTaskIdentifier`: the adopt-by key. */
  identifier: string;
  migrationType: DmsMigrationType;
  /** The DMS table-mapping file: its text (sent verbatim) or the parsed document. */
  tableMappings: string | JsonObject;
  /** The DMS task-settings file: its text (sent verbatim) or the parsed document. */
  settings?: string | JsonObject;
  /** Native CDC start point, e.g. an LSN (`cdc` tasks on a slot that already exists). */
  cdcStartPosition?: string;
  /** `server_time:2026-01-01T12:00:00` or `commit_time:…`. */
  cdcStopPosition?: string;
}

export interface AssessmentSpec {
  /** IAM role DMS assumes to write results to the bucket. */
  serviceAccessRoleArn: string;
  resultLocationBucket: string;
  resultLocationFolder?: string;
  /** `AssessmentRunName`, the adopt-by key; default `<task identifier>-assessment`. */
  runName?: string;
  /** Individual assessment names to run (DescribeApplicableIndividualAssessments lists them). */
  includeOnly?: string[];
  exclude?: string[];
  resultEncryptionMode?: 'SSE_S3' | 'SSE_KMS';
  resultKmsKeyArn?: string;
}

export interface AuroraSpec {
  /** The target Aurora PostgreSQL cluster (`DBClusterIdentifier`). */
  clusterIdentifier: string;
  /** Snapshot taken before cutover; default `<cluster>-ferry-<migration>-pre-cutover`. */
  snapshotIdentifier?: string;
}

export interface DmsMigrationSpec {
  /** Ferry migration name: tag `ferry:migration`, and part of the ownership proof before a delete. */
  migration: string;
  /** Application owner from the inventory: tag `ferry:owner`. */
  owner: string;
  region: string;
  instance: ReplicationInstanceSpec;
  source: EndpointSpec;
  target: EndpointSpec;
  task: ReplicationTaskSpec;
  assessment?: AssessmentSpec;
  aurora?: AuroraSpec;
  /** More tags for every created resource (cost centre, environment...). */
  tags?: Record<string, string>;
}

/** The identity every Ferry-created resource carries. */
export interface FerryTagInfo {
  migration: string;
  owner: string;
  tags?: Record<string, string>;
}

export const TAG_MIGRATION = 'ferry:migration';
export const TAG_OWNER = 'ferry:owner';
export const TAG_CREATED_BY = 'created-by';
export const CREATED_BY_FERRY = 'ferry';

/**
 * Tags for a created resource: the three Ferry tags, then the extra ones sorted by key (a stable
 * order, so golden request files do not churn). Extra tags cannot override the Ferry ones: ownership
 * checks before a delete rely on them.
 */
export function ferryTags(info: FerryTagInfo): Tag[] {
  const extra = Object.entries(info.tags ?? {})
    .filter(([k]) => k !== TAG_MIGRATION && k !== TAG_OWNER && k !== TAG_CREATED_BY)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([Key, Value]) => ({ Key, Value }));
  return [
    { Key: TAG_MIGRATION, Value: info.migration },
    { Key: TAG_OWNER, Value: info.owner },
    { Key: TAG_CREATED_BY, Value: CREATED_BY_FERRY },
    ...extra,
  ];
}

/** True when the tags prove Ferry created the resource for this migration. */
export function taggedForMigration(
  tags: readonly { Key?: string; Value?: string }[],
  migration: string,
): boolean {
  const get = (k: string) => tags.find((t) => t.Key === k)?.Value;
  return get(TAG_CREATED_BY) === CREATED_BY_FERRY && get(TAG_MIGRATION) === migration;
}

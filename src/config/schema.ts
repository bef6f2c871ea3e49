// The shape of ferry.yaml as zod schemas (the single source of validation and of
// schema/ferry.schema.json), and the types of the normalized config that loadConfig returns.

import { z } from 'zod';
import { DURATION_PATTERN } from './duration';
import { SECRET_REF_PATTERN } from './secrets';

export const ENDPOINT_ROLES = ['source', 'target'] as const;
export type EndpointRole = (typeof ENDPOINT_ROLES)[number];
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
export const ENGINES = ['native', 'aws-dms'] as const;
export type Engine = (typeof ENGINES)[number];
export const MIGRATION_TYPES = ['full-load', 'full-load-and-cdc', 'cdc'] as const;
export type MigrationType = (typeof MIGRATION_TYPES)[number];
export const FREEZE_METHODS = ['read-only', 'revoke', 'hook'] as const;
export type FreezeMethodName = (typeof FREEZE_METHODS)[number];
export const NOTIFIER_TYPES = ['console', 'webhook'] as const;
export type NotifierType = (typeof NOTIFIER_TYPES)[number];

// No regex flags: JSON Schema patterns have none, and the generated schema must accept what we accept.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const TABLE_PATTERN = /^[^.\s]+\.[^.\s]+$/;

// Descriptions go into the JSON Schema (editor hover text) and into error messages as the fix's hint,
// so each reads as "what to write here".
const text = (description: string) => z.string().min(1).describe(description);
const name = (description: string) =>
  z
    .string()
    .regex(NAME_PATTERN, { error: 'use letters, digits, "-" and "_", starting with a letter or digit' })
    .describe(description);
const duration = (description: string) =>
  z
    .string()
    .regex(DURATION_PATTERN, { error: 'use a whole number followed by ms, s, m, h or d, e.g. 15m' })
    .describe(description);

const TemporalSchema = z
  .strictObject({
    address: text('Temporal frontend host:port').default('127.0.0.1:7233'),
    namespace: text('Temporal namespace').default('default'),
    taskQueue: text('task queue the Ferry workers poll').default('ferry'),
  })
  .prefault({})
  .describe('where the Temporal server is; defaults suit `temporal server start-dev`');

const EndpointSchema = z.strictObject({
  id: name('endpoint id that migrations and the inventory refer to, e.g. onsite'),
  role: z.enum(ENDPOINT_ROLES).describe('source (migrated from) or target (migrated to)'),
  host: text('host name or IP address of the PostgreSQL server'),
  port: z.int().min(1).max(65535).default(5432).describe('TCP port, 1..65535'),
  database: text('database name; the default database of migrations from this endpoint'),
  user: text('PostgreSQL user Ferry logs in as'),
  password: z
    .string()
    .regex(SECRET_REF_PATTERN)
    .describe('secret reference env:NAME, file:PATH or aws-secretsmanager:ARN, never the password itself'),
  sslmode: z.enum(SSL_MODES).default('prefer').describe('libpq sslmode'),
  sslrootcert: text('CA certificate file for verify-ca / verify-full; relative to this file').optional(),
});

const OwnerSchema = z.strictObject({
  name: text('person or team name'),
  email: z
    .email({ error: 'use an email address like alice@example.com' })
    .optional()
    .describe('email address'),
  phone: text('phone number; quote it so YAML keeps it a string').optional(),
  role: text('role, e.g. app-owner, dba, on-call').optional(),
});

const SlaSchema = z.strictObject({
  maxDowntime: duration('longest write outage the application accepts at cutover, e.g. 15m').optional(),
  rpo: duration('recovery point objective: data loss the application accepts, e.g. 0s').optional(),
  businessHours: text('free text, e.g. "Mon-Fri 08:00-18:00 Europe/Berlin"').optional(),
});

const InventoryEntrySchema = z.strictObject({
  database: text('database name on the endpoint'),
  endpoint: text('id of the source endpoint that holds the database'),
  application: text('application that uses the database'),
  owners: z.array(OwnerSchema).min(1).describe('people to ask and notify: at least one, with name and email'),
  sla: SlaSchema.optional().describe('service levels the cutover must respect'),
  approvers: z
    .array(text('email or user name'))
    .optional()
    .describe("the application's approvers: they may decide the gates of every migration of this database"),
  tags: z.record(z.string(), z.string()).optional().describe('free-form string labels, e.g. tier: gold'),
});

const PocSchema = z
  .strictObject({
    schemas: z.array(text('schema name')).default([]).describe('schemas to dump; empty means all'),
    tables: z
      .array(z.string().regex(TABLE_PATTERN, { error: 'write tables as schema.table, e.g. public.orders' }))
      .default([])
      .describe('"schema.table" names to dump; empty means all'),
    sizeCapMb: z
      .number()
      .positive()
      .default(256)
      .describe('tables larger than this many MB are row-counted only, not checksummed; > 0'),
    compression: z.int().min(0).max(9).default(6).describe('pg_dump -Z compression level, 0..9'),
    jobs: z.int().min(1).max(64).default(4).describe('pg_restore -j parallel jobs, 1..64'),
  })
  .prefault({})
  .describe('proof-of-concept dump/restore options');

const FallbackSchema = z
  .strictObject({
    contacts: z.array(OwnerSchema).default([]).describe('who to notify when falling back'),
  })
  .prefault({})
  .describe('the way back after cutover');

const CdcJournalSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('keep the journal; false keeps these settings but stops it'),
    retention: duration('how long journal rows are kept, e.g. 7d; more than 0').default('7d'),
    pruneMinutes: z
      .int()
      .min(1)
      .max(1440)
      .default(10)
      .describe('how often rows past the retention are deleted, 1..1440 minutes'),
    tables: z
      .array(z.string().regex(TABLE_PATTERN, { error: 'write tables as schema.table, e.g. public.orders' }))
      .default([])
      .describe('source tables to journal as "schema.table"; empty means every table of the migration'),
  })
  .describe(
    'change journal: each applied change (commit LSN, commit time, operation, target key) kept in ' +
      'ferry.cdc_journal on the target for `ferry changes`; off unless this section is present',
  );

const CdcSchema = z
  .strictObject({
    slotName: z
      .string()
      .regex(/^[a-z0-9_]{1,63}$/, 'replication slot names are 1-63 characters of a-z, 0-9 and _')
      .optional()
      .describe('logical replication slot on the source; default ferry_<migration>'),
    publication: text('publication on the source; default ferry_<migration>').optional(),
    startPosition: z
      .string()
      .regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'an LSN such as 0/16B3748')
      .optional()
      .describe('DMS CdcStartPosition for migrationType cdc: an LSN on an existing slot; default: now'),
    windowMinutes: z.int().min(1).max(1440).default(60).describe('minutes per streaming activity, 1..1440'),
    progressSeconds: z
      .int()
      .min(1)
      .max(300)
      .default(10)
      .describe('how often the workflow hears lag and rates, 1..300 seconds'),
    journal: CdcJournalSchema.optional(),
  })
  .prefault({})
  .describe('change data capture options (migrationType full-load-and-cdc or cdc)');

const HookSchema = z.strictObject({
  command: text('program to run, without a shell, e.g. /usr/local/bin/repoint-pgbouncer'),
  args: z.array(z.string()).default([]).describe('its arguments'),
  env: z
    .record(z.string(), z.string())
    .optional()
    .describe("extra environment variables (the worker's own environment is not passed on)"),
  timeout: duration('how long it may run, e.g. 60s; default 60s').optional(),
});

const CutoverSchema = z
  .strictObject({
    freeze: z
      .enum(FREEZE_METHODS)
      .default('read-only')
      .describe(
        'how writes on the source stop: read-only (default_transaction_read_only per database), revoke ' +
          '(INSERT/UPDATE/DELETE/TRUNCATE revoked, restored on fallback) or hook (freezeHook runs)',
      ),
    freezeHook: HookSchema.optional().describe(
      'freeze: hook only: the command that stops the application writing (FERRY_ACTION=freeze or unfreeze)',
    ),
    terminateSessions: z
      .boolean()
      .default(true)
      .describe("end the application's open sessions on the source at the freeze (Ferry's own are kept)"),
    switchHook: HookSchema.optional().describe(
      'points the application at the target (DNS, pgbouncer, a deploy) with FERRY_TARGET_HOST, ' +
        'FERRY_TARGET_PORT, FERRY_TARGET_DATABASE, FERRY_TARGET_USER; without it the operators switch',
    ),
    sequenceMargin: z
      .int()
      .min(0)
      .max(1_000_000_000)
      .default(1000)
      .describe("how far above the source's value each target sequence is set, 0..1e9"),
    readyLag: duration('CDC lag under which the cutover gate opens, e.g. 5s').default('5s'),
    gateTimeout: duration('how long the cutover gate waits for an approver, e.g. 7d').default('7d'),
    postCutoverWatch: duration(
      'how long reverse replication keeps the source current after the cutover (the fallback window), e.g. 1h',
    ).default('60s'),
  })
  .prefault({})
  .describe('the cutover: how writes freeze, how the application switches, when the gate opens');

const ProvisionSchema = z
  .strictObject({
    concurrency: z
      .int()
      .min(1)
      .max(256)
      .default(16)
      .describe('activities each worker runs at once (the "instance class"): `ferry worker` default, 1..256'),
    replicas: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe('workers that must poll the task queue before data moves; 2 or more is "Multi-AZ", 1..64'),
  })
  .prefault({})
  .describe("the native engine's replication instance: the worker pool on the task queue");

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const roleArn = (description: string) =>
  z
    .string()
    .regex(ROLE_ARN, { error: 'use an IAM role ARN like arn:aws:iam::123456789012:role/ferry-dms' })
    .describe(description);

const AwsSchema = z
  .strictObject({
    region: text('AWS region of the DMS replication instance and the target, e.g. eu-central-1'),
    roleArn: roleArn(
      'role assumed for the DMS and RDS calls; default: the credentials of the default provider chain',
    ).optional(),
  })
  .describe(
    'where the aws-dms engine calls AWS; credentials come from the default provider chain, never this file',
  );

const DmsSchema = z
  .strictObject({
    replicationInstance: z
      .strictObject({
        identifier: name('replication instance identifier; adopted when it exists; default ferry-<migration>')
          .max(63)
          .optional(),
        class: text('replication instance class (its size), e.g. dms.r6i.large').default('dms.t3.medium'),
        allocatedStorage: z.int().min(5).max(6144).default(50).describe('GiB of storage, 5..6144'),
        multiAz: z.boolean().default(false).describe('a standby in another Availability Zone'),
        engineVersion: text('DMS engine version, e.g. 3.5.3; default: the current default').optional(),
        subnetGroup: text('replication subnet group identifier (its VPC reaches both databases)'),
        securityGroups: z.array(text('VPC security group id, e.g. sg-0123')).default([]),
        publiclyAccessible: z.boolean().default(false).describe('a public IP address; keep false'),
      })
      .describe('the DMS replication instance: created, or adopted when its identifier exists'),
    secretsAccessRoleArn: roleArn(
      "IAM role DMS assumes to read the endpoints' aws-secretsmanager: passwords",
    ),
    sslMode: z
      .enum(['none', 'require', 'verify-ca', 'verify-full'])
      .default('require')
      .describe('SSL mode of both DMS endpoints'),
    pluginName: z
      .enum(['pglogical', 'test_decoding'])
      .default('test_decoding')
      .describe('logical decoding plugin DMS uses on the source'),
    heartbeat: z.boolean().default(true).describe('DMS WAL heartbeat on the source (HeartbeatEnable)'),
    assessment: z
      .strictObject({
        bucket: text('S3 bucket for premigration assessment results'),
        roleArn: roleArn('IAM role DMS assumes to write the results to the bucket'),
      })
      .optional()
      .describe("run DMS premigration assessments; without it only Ferry's own assessment runs"),
    auroraClusterId: text(
      'the target Aurora cluster: described, and snapshotted before the cutover (the way back)',
    ).optional(),
  })
  .describe('engine aws-dms only: the DMS resources the migration uses');

const MigrationSchema = z.strictObject({
  name: name('migration name, used by `ferry start <name>`'),
  source: text('id of an endpoint with role source'),
  target: text('id of an endpoint with role target'),
  database: text("database to migrate; default: the source endpoint's database").optional(),
  engine: z.enum(ENGINES).default('native').describe('native (Ferry workers) or aws-dms (AWS DMS)'),
  migrationType: z.enum(MIGRATION_TYPES).default('full-load').describe('as in AWS DMS'),
  tableMappings: text('DMS table-mapping JSON file; relative to this file').optional(),
  taskSettings: text('DMS task-settings JSON file; relative to this file').optional(),
  approvers: z
    .array(text('email or user name'))
    .min(1)
    .describe('who may approve gates such as the cutover: at least one email or user name'),
  poc: PocSchema,
  cdc: CdcSchema,
  fallback: FallbackSchema,
  cutover: CutoverSchema,
  provision: ProvisionSchema,
  dms: DmsSchema.optional(),
});

// One flat object per notifier rather than a discriminated union: the loader then names a misspelt
// `type` with "use one of" like every other enum; crossReferenceProblems checks which fields each type needs.
const NotifierSchema = z.strictObject({
  type: z.enum(NOTIFIER_TYPES).describe('console (one JSON line per notification) or webhook (JSON POST)'),
  stream: z
    .enum(['stderr', 'stdout'])
    .optional()
    .describe('console only: where the JSON lines go; default stderr'),
  url: z
    .url({
      protocol: /^https?$/,
      error: 'use an http:// or https:// URL, e.g. https://hooks.example.com/ferry',
    })
    .optional()
    .describe('webhook only: the http(s) URL notifications are POSTed to'),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .describe('webhook only: HTTP headers; a value may be a secret reference env:NAME, file:PATH'),
  timeout: duration('webhook only: how long a POST may take, e.g. 10s').optional(),
});

const ControlSchema = z
  .strictObject({
    endpoint: text('id of the endpoint whose database holds the ferry schema (catalog history)'),
    database: text("database on that endpoint; default: the endpoint's database").optional(),
  })
  .describe("where Ferry keeps its own tables (ferry.catalog_*); default: the first migration's target");

/** The file as written (input side: before defaults). */
export const FerryFileSchema = z
  .strictObject({
    temporal: TemporalSchema,
    workDir: text('directory for dumps and scratch files; relative to this file').default('.ferry/work'),
    endpoints: z
      .array(EndpointSchema)
      .min(1)
      .describe('PostgreSQL servers Ferry connects to, each with role source or target: at least one'),
    inventory: z
      .array(InventoryEntrySchema)
      .default([])
      .describe('catalog of source databases: application, owners, SLA'),
    migrations: z.array(MigrationSchema).default([]).describe('migrations Ferry can run'),
    notifications: z
      .array(NotifierSchema)
      .optional()
      .describe('where gate requests, catalog changes and failures are sent; default: console only'),
    control: ControlSchema.optional(),
    aws: AwsSchema.optional(),
  })
  .meta({ title: 'ferry.yaml', description: 'Ferry configuration: endpoints, inventory, migrations' });

export type FerryFileInput = z.input<typeof FerryFileSchema>;
export type FerryFile = z.output<typeof FerryFileSchema>;

/** The JSON Schema of ferry.yaml (input shape, with defaults shown), for editors and docs. */
export function ferryJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(FerryFileSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}

/** ferryJsonSchema() as the exact text of schema/ferry.schema.json. */
export function renderFerryJsonSchema(): string {
  return `${JSON.stringify(ferryJsonSchema(), null, 2)}\n`;
}

// ---- Normalized config: what loadConfig returns. Every default applied, every path absolute,
// every duration in seconds. Plain JSON, so it can travel in workflow inputs; it holds secret
// references, never secret values.

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
}

export interface EndpointConfig {
  id: string;
  role: EndpointRole;
  host: string;
  port: number;
  database: string;
  user: string;
  /** A secret reference for resolveSecret; a relative file: path is already made absolute. */
  password: string;
  sslmode: SslMode;
  /** Absolute path. */
  sslrootcert?: string;
}

export interface Owner {
  name: string;
  email?: string;
  phone?: string;
  role?: string;
}

export interface Sla {
  /** Seconds. */
  maxDowntime?: number;
  /** Seconds. */
  rpo?: number;
  businessHours?: string;
}

export interface InventoryEntry {
  database: string;
  /** Id of an endpoint with role source. */
  endpoint: string;
  application: string;
  owners: Owner[];
  /** The application's approvers (empty when not listed). */
  approvers: string[];
  /** Always present; its fields are set only when ferry.yaml sets them. */
  sla: Sla;
  tags: Record<string, string>;
}

export interface PocOptions {
  /** Empty: all schemas. */
  schemas: string[];
  /** "schema.table"; empty: all tables. */
  tables: string[];
  sizeCapMb: number;
  compression: number;
  jobs: number;
}

export interface FallbackOptions {
  contacts: Owner[];
}

export interface MigrationConfig {
  name: string;
  /** Id of an endpoint with role source. */
  source: string;
  /** Id of an endpoint with role target. */
  target: string;
  /** Defaulted to the source endpoint's database. */
  database: string;
  engine: Engine;
  migrationType: MigrationType;
  /** Absolute path of an existing file. */
  tableMappings?: string;
  /** Absolute path of an existing file. */
  taskSettings?: string;
  approvers: string[];
  poc: PocOptions;
  cdc: CdcOptions;
  fallback: FallbackOptions;
  cutover: CutoverOptions;
  provision: ProvisionOptions;
  /** engine aws-dms only. */
  dms?: DmsOptions;
}

export interface DmsOptions {
  replicationInstance: {
    identifier?: string;
    class: string;
    allocatedStorage: number;
    multiAz: boolean;
    engineVersion?: string;
    subnetGroup: string;
    securityGroups: string[];
    publiclyAccessible: boolean;
  };
  secretsAccessRoleArn: string;
  sslMode: 'none' | 'require' | 'verify-ca' | 'verify-full';
  pluginName: 'pglogical' | 'test_decoding';
  heartbeat: boolean;
  assessment?: { bucket: string; roleArn: string };
  auroraClusterId?: string;
}

export interface AwsConfig {
  region: string;
  roleArn?: string;
}

export interface HookOptions {
  command: string;
  args: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface CutoverOptions {
  freeze: FreezeMethodName;
  freezeHook?: HookOptions;
  terminateSessions: boolean;
  switchHook?: HookOptions;
  sequenceMargin: number;
  /** Seconds. */
  readyLag: number;
  /** Seconds. */
  gateTimeout: number;
  /** Seconds. */
  postCutoverWatch: number;
}

export interface ProvisionOptions {
  concurrency: number;
  replicas: number;
}

export interface CdcOptions {
  slotName?: string;
  publication?: string;
  startPosition?: string;
  windowMinutes: number;
  progressSeconds: number;
  /** Present when ferry.yaml has a cdc.journal section. */
  journal?: CdcJournalOptions;
}

export interface CdcJournalOptions {
  enabled: boolean;
  /** Seconds, > 0. */
  retention: number;
  pruneMinutes: number;
  /** Source tables, "schema.table"; empty: every table of the migration. */
  tables: string[];
}

export interface NotifierConfig {
  type: NotifierType;
  /** console: default stderr. */
  stream?: 'stderr' | 'stdout';
  /** webhook: required, http(s). */
  url?: string;
  /** webhook: values may be secret references (resolved when sending); file: paths are absolute. */
  headers?: Record<string, string>;
  /** webhook: seconds. */
  timeout?: number;
}

export interface ControlConfig {
  endpoint: string;
  /** Defaulted to the endpoint's database. */
  database: string;
}

export interface FerryConfig {
  /** Absolute path of the config file. */
  configPath: string;
  /** Absolute directory of the config file; relative paths in it were resolved against this. */
  configDir: string;
  temporal: TemporalConfig;
  /** Absolute. */
  workDir: string;
  endpoints: EndpointConfig[];
  inventory: InventoryEntry[];
  migrations: MigrationConfig[];
  /** Present when ferry.yaml has notifications:; absent means console only (notify/notifierFrom). */
  notifications?: NotifierConfig[];
  /** Present when ferry.yaml has control:; catalog/controlTarget supplies the default. */
  control?: ControlConfig;
  /** Present when ferry.yaml has aws: (required by engine aws-dms). */
  aws?: AwsConfig;
}

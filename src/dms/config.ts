// ferry.yaml → DmsMigrationSpec: the DMS resources a migration with `engine: aws-dms` uses, named
// after the migration, with the same table-mapping and task-settings files the native engine reads
// (sent to DMS as written). No password ever enters the spec: DMS reads the endpoints' passwords from
// Secrets Manager itself (ferry.yaml's `aws-secretsmanager:ARN` references), with the access role.
import { promises as fs } from 'node:fs';
import {
  type EndpointConfig,
  type FerryConfig,
  getEndpoint,
  getInventoryFor,
  type MigrationConfig,
} from '../config';
import { ErrorType, FerryError } from '../errors';
import type { DmsMigrationSpec, EndpointSpec } from './spec';

/** DMS's own table mapping for "every table of every schema", when the migration names no file. */
export const INCLUDE_ALL_MAPPING = {
  rules: [
    {
      'rule-type': 'selection',
      'rule-id': '1',
      'rule-name': 'include-all',
      'object-locator': { 'schema-name': '%', 'table-name': '%' },
      'rule-action': 'include',
    },
  ],
};

/** A DMS identifier from a migration name: letters, digits and single hyphens, starting with a letter. */
export function dmsIdentifier(...parts: string[]): string {
  const id = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');
  return (id || 'ferry').slice(0, 63).replace(/-+$/, '');
}

function secretArn(ep: EndpointConfig, m: MigrationConfig): string {
  const prefix = 'aws-secretsmanager:';
  if (!ep.password.startsWith(prefix)) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `endpoint ${ep.id} of migration ${m.name} (engine aws-dms): DMS reads the password itself; write it as ` +
        'aws-secretsmanager:<secret ARN> in ferry.yaml',
    );
  }
  return ep.password.slice(prefix.length);
}

/** Build the spec of a migration with engine aws-dms; the mapping and settings files are read as text. */
export async function dmsSpecFromConfig(cfg: FerryConfig, m: MigrationConfig): Promise<DmsMigrationSpec> {
  if (m.engine !== 'aws-dms' || !m.dms || !cfg.aws) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `migration ${m.name} does not run on AWS DMS: set engine: aws-dms, a dms: section and aws: { region }`,
    );
  }
  const d = m.dms;
  const source = getEndpoint(cfg, m.source);
  const target = getEndpoint(cfg, m.target);
  const inv = getInventoryFor(cfg, m.source, m.database);
  const auth = { secretsManagerAccessRoleArn: d.secretsAccessRoleArn };
  const endpoint = (ep: EndpointConfig, role: 'source' | 'target', database: string): EndpointSpec => ({
    identifier: dmsIdentifier('ferry', m.name, role),
    engine: role === 'target' && d.auroraClusterId ? 'aurora-postgresql' : 'postgres',
    server: ep.host,
    port: ep.port,
    database,
    username: ep.user,
    auth: { ...auth, secretsManagerSecretId: secretArn(ep, m) },
    sslMode: d.sslMode,
    ...(role === 'source' && {
      pluginName: d.pluginName,
      ...(m.cdc.slotName && { slotName: m.cdc.slotName }),
      heartbeatEnable: d.heartbeat,
    }),
  });
  const ri = d.replicationInstance;
  return {
    migration: m.name,
    owner: inv?.owners[0]?.name ?? 'unknown',
    region: cfg.aws.region,
    instance: {
      identifier: ri.identifier ?? dmsIdentifier('ferry', m.name),
      instanceClass: ri.class,
      allocatedStorage: ri.allocatedStorage,
      multiAZ: ri.multiAz,
      vpcSecurityGroupIds: ri.securityGroups,
      subnetGroup: ri.subnetGroup,
      ...(ri.engineVersion && { engineVersion: ri.engineVersion }),
      publiclyAccessible: ri.publiclyAccessible,
    },
    source: endpoint(source, 'source', m.database),
    target: endpoint(target, 'target', target.database),
    task: {
      identifier: dmsIdentifier('ferry', m.name),
      migrationType: m.migrationType,
      tableMappings: m.tableMappings ? await fs.readFile(m.tableMappings, 'utf8') : INCLUDE_ALL_MAPPING,
      ...(m.taskSettings && { settings: await fs.readFile(m.taskSettings, 'utf8') }),
      ...(m.migrationType === 'cdc' && m.cdc.startPosition && { cdcStartPosition: m.cdc.startPosition }),
    },
    ...(d.assessment && {
      assessment: {
        serviceAccessRoleArn: d.assessment.roleArn,
        resultLocationBucket: d.assessment.bucket,
        resultLocationFolder: dmsIdentifier('ferry', m.name),
      },
    }),
    ...(d.auroraClusterId && { aurora: { clusterIdentifier: d.auroraClusterId } }),
    ...(inv && { tags: { 'ferry:application': inv.application } }),
  };
}

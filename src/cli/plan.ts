// `ferry plan`: compile a migration's DMS mapping and settings against the live source catalog,
// without Temporal, so an operator sees what is selected, skipped, renamed and filtered first.
import { endpointConn, migrationContext, sourceDatabase } from '../activities/context';
import { readSourceCatalog } from '../engine/catalog';
import { compilePlan, explainPlan, loadMappingFiles } from '../mapping';
import type { MigrationPlan } from '../mapping/types';
import { getMigration, loadConfig } from '../config';
import { dmsSpecFromConfig } from '../dms/config';
import { formatPlan, planDmsRequests, type PlannedRequest } from '../dms/plan';

export async function planMigration(
  configPath: string,
  migration: string,
): Promise<{ plan: MigrationPlan; explain: string }> {
  const { cfg, m, source } = await migrationContext(configPath, migration);
  const files = await loadMappingFiles(m.tableMappings, m.taskSettings);
  const conn = await endpointConn(cfg, source, sourceDatabase(m, source));
  const catalog = await readSourceCatalog(conn);
  const plan = compilePlan(files.mapping, catalog, files.settings, { findings: files.findings });
  return { plan, explain: explainPlan(plan) };
}

/**
 * `ferry plan <m> --engine aws-dms --dry-run`: the AWS requests a fresh setup of the migration's DMS
 * resources would send, in order, secrets redacted. Sends nothing; the mapping and settings files are
 * checked with the native loader first, so a broken file is reported here rather than by DMS.
 */
export async function planDms(
  configPath: string,
  migration: string,
): Promise<{ plan: PlannedRequest[]; text: string }> {
  const cfg = await loadConfig(configPath);
  const m = getMigration(cfg, migration);
  await loadMappingFiles(m.tableMappings, m.taskSettings);
  const plan = planDmsRequests(await dmsSpecFromConfig(cfg, { ...m, engine: 'aws-dms' }));
  const text =
    `AWS requests for migration ${m.name} on AWS DMS (region ${cfg.aws?.region}), in order; nothing was sent:\n` +
    formatPlan(plan);
  return { plan, text };
}

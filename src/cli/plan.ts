// `ferry plan`: compile a migration's DMS mapping and settings against the live source catalog,
// without Temporal, so an operator sees what is selected, skipped, renamed and filtered first.
import { endpointConn, migrationContext, sourceDatabase } from '../activities/context';
import { readSourceCatalog } from '../engine/catalog';
import { compilePlan, explainPlan, loadMappingFiles } from '../mapping';
import type { MigrationPlan } from '../mapping/types';

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

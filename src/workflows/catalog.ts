// catalogRefresh: one catalog refresh as a workflow, started by the `ferry-catalog` Temporal Schedule
// (`ferry catalog schedule --every 1h`). Orchestration only: the activity does the I/O.
import { proxyActivities } from '@temporalio/workflow';
import type { CatalogActivities, CatalogRefreshInput, CatalogRefreshSummary } from '../activities/catalog';
import { retryPolicy } from './common';

// Discovery connects to every database of every source; a few minutes covers hundreds of databases.
const { refreshCatalogActivity } = proxyActivities<CatalogActivities>({
  startToCloseTimeout: '30 minutes',
  retry: retryPolicy(3),
});

export async function catalogRefresh(input: CatalogRefreshInput = {}): Promise<CatalogRefreshSummary> {
  return refreshCatalogActivity(input);
}

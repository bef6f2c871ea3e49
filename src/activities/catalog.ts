// Catalog activity: one refresh of the catalog (discover, store, diff) and the owners' notifications
// of what changed, for the scheduled `catalogRefresh` workflow. Returns a small summary for history.
import { changeNotification, refreshCatalog, type CatalogChangeKind } from '../catalog';
import { loadConfig } from '../config/load';
import { notifierFrom } from '../notify';
import { wrap } from './failures';

export interface CatalogRefreshInput {
  /** Milliseconds between the two transaction-rate samples; default 2000. */
  sampleMs?: number;
}

export interface CatalogRefreshSummary {
  refreshId: number;
  at: string;
  databases: number;
  unreachable: number;
  changes: { kind: CatalogChangeKind; endpoint: string; database: string }[];
  notified: number;
  /** Notifications that could not be delivered (the refresh itself is stored regardless). */
  notifyFailures: string[];
}

export function createCatalogActivities(deps: { configPath: string }) {
  return {
    async refreshCatalogActivity(input: CatalogRefreshInput = {}): Promise<CatalogRefreshSummary> {
      return wrap(async () => {
        const cfg = await loadConfig(deps.configPath);
        const r = await refreshCatalog(cfg, {
          ...(input.sampleMs !== undefined && { sampleMs: input.sampleMs }),
        });
        const notifier = notifierFrom(cfg);
        const notifyFailures: string[] = [];
        let notified = 0;
        for (const change of r.changes) {
          try {
            await notifier.notify(changeNotification(change, r.at));
            notified++;
          } catch (err) {
            notifyFailures.push((err as Error).message);
          }
        }
        return {
          refreshId: r.refreshId,
          at: r.at,
          databases: r.databases.length,
          unreachable: r.databases.filter((d) => !d.reachable).length,
          changes: r.changes.map((c) => ({ kind: c.kind, endpoint: c.endpoint, database: c.database })),
          notified,
          notifyFailures,
        };
      });
    },
  };
}

export type CatalogActivities = ReturnType<typeof createCatalogActivities>;

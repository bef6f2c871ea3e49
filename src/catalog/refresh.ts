// refreshCatalog: discover every source endpoint, merge the inventory (owners, SLA), store the
// refresh on the control database, and diff it against the previous one. Also the read side the CLI
// shows (list, show) and the notification a change becomes. The caller sends the notifications.
import type { Client } from 'pg';
import type { EndpointConfig, FerryConfig, InventoryEntry } from '../config/schema';
import { connectPg, endpointConnInfo } from '../engine/connection';
import { ErrorType, FerryError } from '../errors';
import type { Notification } from '../notify/types';
import { diffCatalog, readiness } from './diff';
import { discoverServer, unreachable, type DiscoveredDatabase } from './discover';
import {
  catalogTablesExist,
  ensureCatalogTables,
  latestRefresh,
  saveRefresh,
  sizeHistory,
  type SizePoint,
} from './store';
import type { CatalogChange, DatabaseFacts, DiffThresholds, Readiness } from './types';

export interface RefreshOptions {
  /** Milliseconds between the two transaction-rate samples; default 2000. */
  sampleMs?: number;
  thresholds?: Partial<DiffThresholds>;
  connectTimeoutMs?: number;
}

export interface RefreshResult {
  refreshId: number;
  /** ISO time the refresh was stored. */
  at: string;
  previousRefreshId?: number;
  databases: DatabaseFacts[];
  changes: CatalogChange[];
}

export interface ControlTarget {
  endpoint: string;
  database: string;
}

/** Where the catalog lives: `control:`, else the first migration's target, else the first target endpoint. */
export function controlTarget(cfg: FerryConfig): ControlTarget {
  if (cfg.control) return cfg.control;
  const m = cfg.migrations[0];
  if (m) return { endpoint: m.target, database: endpointById(cfg, m.target).database };
  const target = cfg.endpoints.find((e) => e.role === 'target');
  if (target) return { endpoint: target.id, database: target.database };
  throw new FerryError(
    ErrorType.CONFIG_INVALID,
    `${cfg.configPath}: no place for the catalog's tables; add control: { endpoint: <id>, database: <name> } ` +
      'naming a database Ferry may create its ferry schema in',
  );
}

function endpointById(cfg: FerryConfig, id: string): EndpointConfig {
  const ep = cfg.endpoints.find((e) => e.id === id);
  if (!ep)
    throw new FerryError(ErrorType.CONFIG_INVALID, `endpoint "${id}" is not defined in ${cfg.configPath}`);
  return ep;
}

/** Connection settings of an endpoint with its secret resolved; only in memory, never logged. */
export const connInfo = endpointConnInfo;

/** Runs `fn` with a session on the control database. */
export async function withControl<T>(cfg: FerryConfig, fn: (c: Client) => Promise<T>): Promise<T> {
  const t = controlTarget(cfg);
  const c = await connectPg(await connInfo(cfg, endpointById(cfg, t.endpoint), t.database), 'ferry-catalog');
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The discovered facts with the inventory's application, owners, SLA and tags. */
export function withInventory(d: DiscoveredDatabase, entry: InventoryEntry | undefined): DatabaseFacts {
  return {
    ...d,
    inInventory: entry !== undefined,
    ...(entry && { application: entry.application }),
    owners: entry ? entry.owners.map((o) => ({ ...o })) : [],
    sla: entry ? { ...entry.sla } : {},
    tags: entry ? { ...entry.tags } : {},
  };
}

const inventoryOf = (cfg: FerryConfig, endpoint: string, database: string) =>
  cfg.inventory.find((e) => e.endpoint === endpoint && e.database === database);

/**
 * Discovers every source endpoint, stores the refresh and returns it with the changes since the
 * previous one. Unreachable servers and databases are facts (lost connectivity), not failures; only a
 * control database Ferry cannot write to fails the refresh.
 */
export async function refreshCatalog(cfg: FerryConfig, opts: RefreshOptions = {}): Promise<RefreshResult> {
  return withControl(cfg, async (control) => {
    await ensureCatalogTables(control);
    const previous = await latestRefresh(control);
    const databases: DatabaseFacts[] = [];
    for (const ep of cfg.endpoints.filter((e) => e.role === 'source')) {
      const inventoried = cfg.inventory.filter((e) => e.endpoint === ep.id).map((e) => e.database);
      const known = (previous?.databases ?? []).filter((f) => f.endpoint === ep.id).map((f) => f.database);
      let found: DiscoveredDatabase[];
      try {
        const conn = await connInfo(cfg, ep);
        found = await discoverServer(conn, {
          alsoDatabases: inventoried,
          knownDatabases: known,
          ...(opts.sampleMs !== undefined && { sampleMs: opts.sampleMs }),
          ...(opts.connectTimeoutMs !== undefined && { connectTimeoutMs: opts.connectTimeoutMs }),
        });
      } catch (err) {
        // A secret that does not resolve: every database of the endpoint is out of reach.
        const e =
          err instanceof FerryError ? err : new FerryError(ErrorType.DATABASE_ERROR, (err as Error).message);
        found = [...new Set([...inventoried, ...known])].map((db) => unreachable(ep.id, db, e));
      }
      databases.push(...found.map((d) => withInventory(d, inventoryOf(cfg, ep.id, d.database))));
    }
    // An endpoint taken out of ferry.yaml is not news about its databases: compare only what is still catalogued.
    const sources = new Set(cfg.endpoints.filter((e) => e.role === 'source').map((e) => e.id));
    const comparable = previous?.databases.filter((f) => sources.has(f.endpoint));
    const changes = diffCatalog(comparable, databases, opts.thresholds);
    const unreachableCount = databases.filter((d) => !d.reachable).length;
    const saved = await saveRefresh(control, {
      ok: unreachableCount === 0,
      summary: {
        databases: databases.length,
        unreachable: unreachableCount,
        changes: changes.length,
        ...(previous && { previousRefreshId: previous.id }),
      },
      databases,
    });
    return {
      refreshId: saved.id,
      at: saved.at,
      ...(previous && { previousRefreshId: previous.id }),
      databases,
      changes,
    };
  });
}

export interface CatalogRow {
  endpoint: string;
  database: string;
  application?: string;
  owners: DatabaseFacts['owners'];
  sla: DatabaseFacts['sla'];
  tags: Record<string, string>;
  inInventory: boolean;
  /** Undefined when no refresh has seen the database yet. */
  reachable?: boolean;
  sizeBytes?: number;
  serverVersion?: string;
  readiness: Readiness;
  /** ISO time of the refresh these facts come from. */
  lastRefreshed?: string;
  refreshId?: number;
  facts?: DatabaseFacts;
}

/**
 * Every database of the newest refresh on a source endpoint of `cfg`, plus inventory entries no refresh has seen yet; owners, SLA
 * and tags always come from the current ferry.yaml (an edited inventory shows without a refresh).
 */
export async function listCatalog(cfg: FerryConfig): Promise<CatalogRow[]> {
  const latest = await withControl(cfg, async (c) =>
    (await catalogTablesExist(c)) ? latestRefresh(c) : undefined,
  );
  const rows: CatalogRow[] = [];
  const seen = new Set<string>();
  // An endpoint removed from ferry.yaml (or no longer a source) is not catalogued any more.
  const sources = new Set(cfg.endpoints.filter((e) => e.role === 'source').map((e) => e.id));
  for (const stored of latest?.databases ?? []) {
    if (!sources.has(stored.endpoint)) continue;
    const facts = withInventory(stored, inventoryOf(cfg, stored.endpoint, stored.database));
    seen.add(`${facts.endpoint}\u0000${facts.database}`);
    rows.push(row(facts, latest!.at, latest!.id));
  }
  for (const entry of cfg.inventory) {
    if (seen.has(`${entry.endpoint}\u0000${entry.database}`)) continue;
    rows.push({
      endpoint: entry.endpoint,
      database: entry.database,
      application: entry.application,
      owners: entry.owners,
      sla: entry.sla,
      tags: entry.tags,
      inInventory: true,
      readiness: { ready: false, reasons: ['never refreshed: run `ferry catalog refresh`'] },
    });
  }
  return rows.sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.database.localeCompare(b.database));
}

function row(facts: DatabaseFacts, at: string, refreshId: number): CatalogRow {
  return {
    endpoint: facts.endpoint,
    database: facts.database,
    ...(facts.application !== undefined && { application: facts.application }),
    owners: facts.owners,
    sla: facts.sla,
    tags: facts.tags,
    inInventory: facts.inInventory,
    reachable: facts.reachable,
    ...(facts.sizeBytes !== undefined && { sizeBytes: facts.sizeBytes }),
    ...(facts.serverVersion !== undefined && { serverVersion: facts.serverVersion }),
    readiness: readiness(facts),
    lastRefreshed: at,
    refreshId,
    facts,
  };
}

export interface CatalogDetail extends CatalogRow {
  /** Size at each refresh, oldest first. */
  history: SizePoint[];
}

/** Everything about one database; `endpoint` picks one when several endpoints hold a database of that name. */
export async function showCatalogDatabase(
  cfg: FerryConfig,
  database: string,
  endpoint?: string,
): Promise<CatalogDetail> {
  const rows = (await listCatalog(cfg)).filter(
    (r) => r.database === database && (endpoint === undefined || r.endpoint === endpoint),
  );
  if (rows.length === 0) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `database "${database}"${endpoint ? ` on endpoint ${endpoint}` : ''} is not in the catalog; ` +
        'run `ferry catalog refresh`, or `ferry catalog list` to see the databases there are',
    );
  }
  if (rows.length > 1) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `database "${database}" exists on endpoints ${rows.map((r) => r.endpoint).join(', ')}; pick one with --endpoint <id>`,
    );
  }
  const r = rows[0];
  const history = await withControl(cfg, async (c) =>
    (await catalogTablesExist(c)) ? sizeHistory(c, r.endpoint, r.database) : [],
  );
  return { ...r, history };
}

/** The notification of one change, addressed to the database's owners. */
export function changeNotification(change: CatalogChange, at: string): Notification {
  return {
    kind: 'catalog-change',
    database: change.database,
    phase: 'catalog',
    subject: `catalog: ${change.kind} ${change.database} on ${change.endpoint}`,
    text:
      `${change.text}. Phase: catalog. ` +
      (change.owners.length > 0
        ? 'Asked of you: check whether this affects the migration plan of this database.'
        : 'No owners are listed for it: add it to the inventory in ferry.yaml.'),
    to: change.owners.map((o) => ({
      name: o.name,
      ...(o.email && { email: o.email }),
      ...(o.role && { role: o.role }),
    })),
    at,
    data: {
      change: change.kind,
      endpoint: change.endpoint,
      ...(change.application !== undefined && { application: change.application }),
      ...(change.before !== undefined && { before: change.before }),
      ...(change.after !== undefined && { after: change.after }),
    },
  };
}

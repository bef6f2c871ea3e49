// diffCatalog: what changed between two refreshes that the database's owners should hear about, and
// readiness: whether a database could be migrated today, with the reasons it could not.
import { bytes } from '../mapping/explain';
import type { CatalogChange, DatabaseFacts, DiffThresholds, Readiness } from './types';
import { DEFAULT_THRESHOLDS } from './types';

const keyOf = (f: { endpoint: string; database: string }) => `${f.endpoint}\u0000${f.database}`;

/**
 * Changes from `previous` to `current` (fact sheets of two refreshes), in a stable order (endpoint,
 * database, kind). `previous` undefined (the first refresh) yields no changes: everything would be
 * "new", which tells nobody anything. A database both refreshes could not reach is not a change.
 */
export function diffCatalog(
  previous: readonly DatabaseFacts[] | undefined,
  current: readonly DatabaseFacts[],
  thresholds: Partial<DiffThresholds> = {},
): CatalogChange[] {
  if (!previous) return [];
  const t = { ...DEFAULT_THRESHOLDS, ...thresholds };
  const before = new Map(previous.map((f) => [keyOf(f), f]));
  const after = new Map(current.map((f) => [keyOf(f), f]));
  const changes: CatalogChange[] = [];
  const add = (
    f: DatabaseFacts,
    kind: CatalogChange['kind'],
    text: string,
    extra: Partial<CatalogChange> = {},
  ) =>
    changes.push({
      kind,
      endpoint: f.endpoint,
      database: f.database,
      text,
      owners: f.owners,
      ...(f.application !== undefined && { application: f.application }),
      ...extra,
    });
  const where = (f: DatabaseFacts) => `database ${f.database} on endpoint ${f.endpoint}`;

  for (const cur of current) {
    const prev = before.get(keyOf(cur));
    if (!prev) {
      if (cur.reachable) {
        add(
          cur,
          'new-database',
          `new ${where(cur)} (${bytes(cur.sizeBytes ?? 0)}, ${cur.tables ?? 0} tables)` +
            (cur.inInventory
              ? ''
              : '; add it to the inventory in ferry.yaml with its application and owners'),
          { after: { sizeBytes: cur.sizeBytes } },
        );
      } else {
        add(
          cur,
          'lost-connectivity',
          `${where(cur)} cannot be reached: ${cur.error?.message ?? 'unknown error'}`,
          {
            after: cur.error,
          },
        );
      }
      continue;
    }
    if (prev.reachable && !cur.reachable) {
      const gone = cur.error?.type === 'DATABASE_MISSING';
      add(
        cur,
        gone ? 'database-gone' : 'lost-connectivity',
        gone
          ? `${where(cur)} no longer exists (it is still in the inventory): ${cur.error?.message ?? ''}`
          : `lost connectivity to ${where(cur)}: ${cur.error?.message ?? 'unknown error'}`,
        { after: cur.error },
      );
      continue;
    }
    if (!prev.reachable && cur.reachable) {
      add(cur, 'regained-connectivity', `${where(cur)} is reachable again`, { before: prev.error });
    }
    if (!prev.reachable || !cur.reachable) continue;

    if (prev.serverVersion && cur.serverVersion && prev.serverVersion !== cur.serverVersion) {
      add(
        cur,
        'version-change',
        `${where(cur)}: PostgreSQL version changed from ${prev.serverVersion} to ${cur.serverVersion}`,
        { before: prev.serverVersion, after: cur.serverVersion },
      );
    }
    const had = new Set((prev.extensions ?? []).map((x) => x.name));
    for (const x of cur.extensions ?? []) {
      if (had.has(x.name)) continue;
      add(
        cur,
        'new-extension',
        `${where(cur)}: new extension ${x.name} ${x.version}; check that the target supports it`,
        {
          after: x,
        },
      );
    }
    if (prev.sizeBytes !== undefined && cur.sizeBytes !== undefined) {
      const delta = cur.sizeBytes - prev.sizeBytes;
      if (Math.abs(delta) > t.sizeJumpBytes && Math.abs(delta) > t.sizeJumpRatio * prev.sizeBytes) {
        const pct =
          prev.sizeBytes > 0
            ? ` (${delta > 0 ? '+' : ''}${Math.round((100 * delta) / prev.sizeBytes)}%)`
            : '';
        add(
          cur,
          'size-jump',
          `${where(cur)} ${delta > 0 ? 'grew' : 'shrank'} from ${bytes(prev.sizeBytes)} to ${bytes(cur.sizeBytes)}${pct}`,
          { before: prev.sizeBytes, after: cur.sizeBytes },
        );
      }
    }
  }
  for (const prev of previous) {
    if (after.has(keyOf(prev)) || !prev.reachable) continue;
    add(prev, 'database-gone', `${where(prev)} is gone: the server no longer lists it`, {
      before: { sizeBytes: prev.sizeBytes },
    });
  }
  const order = (c: CatalogChange) => `${c.endpoint}\u0000${c.database}\u0000${c.kind}`;
  return changes.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/** Whether the database could be migrated (with CDC) today; each reason names the fix. */
export function readiness(f: DatabaseFacts): Readiness {
  const reasons: string[] = [];
  if (!f.reachable) reasons.push(`unreachable: ${f.error?.message ?? 'unknown error'}`);
  if (!f.inInventory)
    reasons.push('not in the inventory: add it to ferry.yaml with its application, owners and SLA');
  else if (f.owners.length === 0) reasons.push('no owners in the inventory: add who approves the cutover');
  if (f.serverVersionNum !== undefined && f.serverVersionNum < 100000)
    reasons.push(`PostgreSQL ${f.serverVersion} has no logical replication: upgrade to 12 or later`);
  const r = f.replication;
  if (r) {
    if (r.walLevel !== 'logical')
      reasons.push(
        `wal_level is ${r.walLevel}: set wal_level = logical (rds.logical_replication = 1 on RDS/Aurora) and restart`,
      );
    if (r.freeSlots < 1)
      reasons.push(
        `no free replication slot (max_replication_slots = ${r.maxReplicationSlots}): drop unused slots or raise it`,
      );
    if (r.freeSenders < 1)
      reasons.push(`no free WAL sender (max_wal_senders = ${r.maxWalSenders}): raise it`);
    if (!r.replicationPrivilege)
      reasons.push(
        "the endpoint's user lacks REPLICATION: ALTER ROLE <user> REPLICATION (GRANT rds_replication on RDS/Aurora)",
      );
  }
  return { ready: reasons.length === 0, reasons };
}

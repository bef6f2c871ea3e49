// Where a migration's compiled plan and its exported snapshot live while workflows run: control
// tables in the `ferry` schema of the target, reachable from every worker (a local file is not).
import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import type { MigrationPlan, SourceCatalog } from '../mapping/types';
import { connectPg, PgConnInfo } from './connection';

const DDL = `
CREATE SCHEMA IF NOT EXISTS ferry;
CREATE TABLE IF NOT EXISTS ferry.plans (
  migration text NOT NULL,
  plan_id text NOT NULL,
  plan jsonb NOT NULL,
  catalog jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, plan_id)
);
CREATE TABLE IF NOT EXISTS ferry.snapshots (
  migration text NOT NULL,
  plan_id text NOT NULL,
  snapshot_id text,
  slot_name text,
  consistent_lsn text,
  holder text,
  generation int NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, plan_id)
);
CREATE TABLE IF NOT EXISTS ferry.snapshot_history (
  migration text NOT NULL,
  plan_id text NOT NULL,
  snapshot_id text NOT NULL,
  generation int NOT NULL,
  consistent_lsn text,
  exact boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, plan_id, snapshot_id)
);`;

/** Serialise CREATE SCHEMA/TABLE IF NOT EXISTS across concurrent workers (they can race on catalogs). */
async function ensureStore(c: Client): Promise<void> {
  await c.query('SELECT pg_advisory_lock(hashtext($1))', ['ferry.plan-store']);
  try {
    await c.query(DDL);
  } finally {
    await c.query('SELECT pg_advisory_unlock(hashtext($1))', ['ferry.plan-store']);
  }
}

export function planId(plan: MigrationPlan): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex').slice(0, 16);
}

/** Targets whose store this process has created: the DDL and its lock stay off the per-segment path. */
const ensured = new Set<string>();

async function withTarget<T>(target: PgConnInfo, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await connectPg(target, 'ferry-plan-store');
  try {
    const key = `${target.host}:${target.port}/${target.database}`;
    if (!ensured.has(key)) {
      await ensureStore(c);
      ensured.add(key);
    }
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Store the plan (idempotent: the id is the plan's content hash). */
export async function savePlan(
  target: PgConnInfo,
  migration: string,
  plan: MigrationPlan,
  catalog: SourceCatalog,
): Promise<string> {
  const id = planId(plan);
  await withTarget(target, (c) =>
    c.query(
      `INSERT INTO ferry.plans (migration, plan_id, plan, catalog) VALUES ($1, $2, $3, $4)
       ON CONFLICT (migration, plan_id) DO NOTHING`,
      [migration, id, JSON.stringify(plan), JSON.stringify(catalog)],
    ),
  );
  return id;
}

const cache = new Map<string, { plan: MigrationPlan; catalog: SourceCatalog }>();

/** The stored plan; cached per process since a plan id never changes content. */
export async function loadPlan(
  target: PgConnInfo,
  migration: string,
  id: string,
): Promise<{ plan: MigrationPlan; catalog: SourceCatalog }> {
  const key = `${target.host}:${target.port}/${target.database}/${migration}/${id}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const r = await withTarget(target, (c) =>
    c.query<{ plan: MigrationPlan; catalog: SourceCatalog }>(
      'SELECT plan, catalog FROM ferry.plans WHERE migration = $1 AND plan_id = $2',
      [migration, id],
    ),
  );
  if (!r.rows[0]) {
    throw new Error(
      `plan ${id} of migration ${migration} is not in ferry.plans on endpoint ${target.endpointId}`,
    );
  }
  cache.set(key, r.rows[0]);
  return r.rows[0];
}

export interface StoredSnapshot {
  snapshotId: string;
  slotName?: string;
  consistentLsn?: string;
  generation: number;
}

/** Record the snapshot a holder exported; each new holder bumps the generation. */
export async function publishSnapshot(
  target: PgConnInfo,
  migration: string,
  id: string,
  snap: { snapshotId: string; slotName?: string; consistentLsn?: string; exact?: boolean },
  holder: string,
): Promise<number> {
  return withTarget(target, async (c) => {
    await c.query('BEGIN');
    const r = await c.query<{ generation: number }>(
      `INSERT INTO ferry.snapshots AS s (migration, plan_id, snapshot_id, slot_name, consistent_lsn, holder, generation)
       VALUES ($1, $2, $3, $4, $5, $6, 1)
       ON CONFLICT (migration, plan_id) DO UPDATE SET snapshot_id = EXCLUDED.snapshot_id,
         slot_name = EXCLUDED.slot_name, consistent_lsn = EXCLUDED.consistent_lsn, holder = EXCLUDED.holder,
         generation = s.generation + 1, updated_at = now()
       RETURNING generation`,
      [migration, id, snap.snapshotId, snap.slotName ?? null, snap.consistentLsn ?? null, holder],
    );
    // Every snapshot a segment may have read, with its WAL boundary: see snapshotBoundaries.
    await c.query(
      `INSERT INTO ferry.snapshot_history (migration, plan_id, snapshot_id, generation, consistent_lsn, exact)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [migration, id, snap.snapshotId, r.rows[0].generation, snap.consistentLsn ?? null, snap.exact ?? false],
    );
    await c.query('COMMIT');
    return r.rows[0].generation;
  });
}

/** The snapshots a load exported, by id: their WAL position, and whether it is their exact boundary. */
export async function snapshotBoundaries(
  target: PgConnInfo,
  migration: string,
  id: string,
): Promise<Map<string, { lsn?: string; exact: boolean; generation: number }>> {
  const r = await withTarget(target, (c) =>
    c.query<{ snapshot_id: string; consistent_lsn: string | null; exact: boolean; generation: number }>(
      `SELECT snapshot_id, consistent_lsn, exact, generation FROM ferry.snapshot_history
        WHERE migration = $1 AND plan_id = $2`,
      [migration, id],
    ),
  );
  return new Map(
    r.rows.map((x) => [
      x.snapshot_id,
      { ...(x.consistent_lsn && { lsn: x.consistent_lsn }), exact: x.exact, generation: x.generation },
    ]),
  );
}

/** Mark the snapshot gone (holder released it): copies must not try to import it any more. */
export async function retractSnapshot(target: PgConnInfo, migration: string, id: string): Promise<void> {
  await withTarget(target, (c) =>
    c.query(
      'UPDATE ferry.snapshots SET snapshot_id = NULL, updated_at = now() WHERE migration = $1 AND plan_id = $2',
      [migration, id],
    ),
  );
}

export async function currentSnapshot(
  target: PgConnInfo,
  migration: string,
  id: string,
): Promise<StoredSnapshot | undefined> {
  const r = await withTarget(target, (c) =>
    c.query<{
      snapshot_id: string | null;
      slot_name: string | null;
      consistent_lsn: string | null;
      generation: number;
    }>(
      'SELECT snapshot_id, slot_name, consistent_lsn, generation FROM ferry.snapshots WHERE migration = $1 AND plan_id = $2',
      [migration, id],
    ),
  );
  const row = r.rows[0];
  if (!row?.snapshot_id) return undefined;
  return {
    snapshotId: row.snapshot_id,
    slotName: row.slot_name ?? undefined,
    consistentLsn: row.consistent_lsn ?? undefined,
    generation: row.generation,
  };
}

/** How many snapshots were exported for this load (more than one: the holder restarted). */
export async function snapshotGenerations(
  target: PgConnInfo,
  migration: string,
  id: string,
): Promise<number> {
  const r = await withTarget(target, (c) =>
    c.query<{ generation: number }>(
      'SELECT generation FROM ferry.snapshots WHERE migration = $1 AND plan_id = $2',
      [migration, id],
    ),
  );
  return r.rows[0]?.generation ?? 0;
}

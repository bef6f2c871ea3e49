// The audit trail (CloudTrail's role): every approval, override, pause, stop and config change of a
// migration, with who, when and why, in `ferry.audit_log` on the target. Each entry has a key the
// workflow derives deterministically, so a retried activity records it once.
import { createHash } from 'node:crypto';
import type { PgConnInfo } from './connection';
import { withSession } from './fullload/pool';

export const AUDIT_ACTIONS = [
  'start',
  'approve',
  'reject',
  'override',
  'gate-timeout',
  'pause',
  'resume',
  'stop',
  'config-change',
  'fallback',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  migration: string;
  action: AuditAction;
  /** Who: an approver, an operator's --by, or `ferry` for the workflow itself. */
  by: string;
  reason?: string;
  /** ISO time the action happened (the workflow's clock), not when it was written. */
  at: string;
  workflowId?: string;
  /** Gate name, files changed, dropped slot...: small and free of secrets. */
  detail?: Record<string, unknown>;
  /** Unique per migration: the same key is recorded once. */
  key: string;
}

const AUDIT_DDL = `
CREATE SCHEMA IF NOT EXISTS ferry;
CREATE TABLE IF NOT EXISTS ferry.audit_log (
  id bigserial PRIMARY KEY,
  migration text NOT NULL,
  key text NOT NULL,
  at timestamptz NOT NULL,
  action text NOT NULL,
  by text NOT NULL,
  reason text,
  workflow_id text,
  detail jsonb,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (migration, key)
);`;

async function ensureAuditTable(target: PgConnInfo): Promise<void> {
  await withSession(target, 'ferry-audit', async (c) => {
    await c.query('BEGIN');
    await c.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ferry.audit'))`);
    await c.query(AUDIT_DDL);
    await c.query('COMMIT');
  });
}

/** Record entries; ones already recorded (same migration and key) are left as they are. */
export async function appendAudit(target: PgConnInfo, entries: AuditEntry[]): Promise<number> {
  if (!entries.length) return 0;
  await ensureAuditTable(target);
  return withSession(target, 'ferry-audit', async (c) => {
    const r = await c.query(
      `INSERT INTO ferry.audit_log (migration, key, at, action, by, reason, workflow_id, detail)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
                            $7::text[], $8::jsonb[])
       ON CONFLICT (migration, key) DO NOTHING`,
      [
        entries.map((e) => e.migration),
        entries.map((e) => e.key),
        entries.map((e) => e.at),
        entries.map((e) => e.action),
        entries.map((e) => e.by),
        entries.map((e) => e.reason ?? null),
        entries.map((e) => e.workflowId ?? null),
        entries.map((e) => (e.detail ? JSON.stringify(e.detail) : null)),
      ],
    );
    return r.rowCount ?? 0;
  });
}

export interface AuditRecord extends Omit<AuditEntry, 'key'> {
  recordedAt: string;
}

/** A migration's audit trail, oldest first. An absent table is an empty trail. */
export async function listAudit(
  target: PgConnInfo,
  migration: string,
  opts: { action?: AuditAction; limit?: number } = {},
): Promise<AuditRecord[]> {
  return withSession(target, 'ferry-audit', async (c) => {
    const exists = await c.query(`SELECT pg_catalog.to_regclass('ferry.audit_log') IS NOT NULL AS ok`);
    if (!exists.rows[0].ok) return [];
    const r = await c.query(
      `SELECT action, by, reason, workflow_id, detail, at, recorded_at FROM ferry.audit_log
        WHERE migration = $1 AND ($2::text IS NULL OR action = $2)
        ORDER BY at, id LIMIT $3`,
      [migration, opts.action ?? null, opts.limit ?? 10_000],
    );
    return r.rows.map((row) => ({
      migration,
      action: row.action,
      by: row.by,
      ...(row.reason !== null && { reason: row.reason }),
      ...(row.workflow_id !== null && { workflowId: row.workflow_id }),
      ...(row.detail !== null && { detail: row.detail }),
      at: new Date(row.at).toISOString(),
      recordedAt: new Date(row.recorded_at).toISOString(),
    }));
  });
}

/** A fingerprint of a migration's configuration: per file, a hash of what Ferry reads from it. */
export function fingerprint(parts: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(parts)) {
    out[name] = createHash('sha256').update(text).digest('hex').slice(0, 16);
  }
  return out;
}

/**
 * Record a config change when the migration's configuration differs from the last one recorded
 * (the first one seen is recorded too, as the baseline). Returns the files that changed.
 */
export async function recordConfigChange(
  target: PgConnInfo,
  entry: Omit<AuditEntry, 'action' | 'key' | 'detail'> & { files: Record<string, string> },
): Promise<string[] | undefined> {
  const last = (await listAudit(target, entry.migration, { action: 'config-change' })).at(-1);
  const before = (last?.detail?.files ?? {}) as Record<string, string>;
  // The first configuration seen is the baseline: nothing "changed".
  const changed = last
    ? [...new Set([...Object.keys(before), ...Object.keys(entry.files)])].filter(
        (f) => before[f] !== entry.files[f],
      )
    : [];
  if (last && !changed.length) return undefined;
  const { files, ...rest } = entry;
  const digest = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
  await appendAudit(target, [
    {
      ...rest,
      action: 'config-change',
      key: `config:${digest}:${last ? last.at : 'first'}`,
      reason: entry.reason ?? (last ? `changed: ${changed.join(', ')}` : 'first configuration seen'),
      detail: { files, changed },
    },
  ]);
  return changed;
}

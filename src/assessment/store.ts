// Assessment runs kept on the target in ferry.assessment_runs (next to the full load's control tables),
// so the runbook, the CLI and an approver read the same findings whatever worker produced them.
import type { Client } from 'pg';
import { type PgConnInfo, classifyPgError, connectPg } from '../engine/connection';
import type { AssessmentFinding } from './findings';
import type { AssessmentResult } from './index';

export const ASSESSMENT_DDL = `
CREATE SCHEMA IF NOT EXISTS ferry;
CREATE TABLE IF NOT EXISTS ferry.assessment_runs (
  id bigserial PRIMARY KEY,
  migration text NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  seconds double precision NOT NULL,
  blocked boolean NOT NULL,
  blockers int NOT NULL,
  warnings int NOT NULL,
  infos int NOT NULL,
  rules_run int NOT NULL,
  findings jsonb NOT NULL,
  saved_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (migration, started_at)
);`;

/** A stored run: the result plus its row id and when it was saved. */
export interface StoredAssessment extends AssessmentResult {
  id: number;
  migration: string;
  savedAt: string;
}

async function withTarget<T>(target: PgConnInfo, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await connectPg(target, 'ferry-assessment-store');
  try {
    return await fn(c);
  } catch (err) {
    throw classifyPgError(err, target);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Create ferry.assessment_runs if missing; an advisory lock keeps concurrent CREATEs from colliding. */
export async function ensureAssessmentTable(target: PgConnInfo): Promise<void> {
  await withTarget(target, async (c) => {
    await c.query('BEGIN');
    await c.query(`SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ferry.assessment_runs'))`);
    await c.query(ASSESSMENT_DDL);
    await c.query('COMMIT');
  });
}

/**
 * Store one run and return its id. Idempotent: a retried activity saving the same run (same migration
 * and startedAt) updates the row instead of adding a second one.
 */
export async function saveAssessment(
  target: PgConnInfo,
  migration: string,
  result: AssessmentResult,
): Promise<number> {
  await ensureAssessmentTable(target);
  const count = (s: AssessmentFinding['severity']) => result.findings.filter((f) => f.severity === s).length;
  return withTarget(target, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `INSERT INTO ferry.assessment_runs
         (migration, started_at, finished_at, seconds, blocked, blockers, warnings, infos, rules_run, findings)
       VALUES ($1, $2::timestamptz, $2::timestamptz + make_interval(secs => $3), $3, $4, $5, $6, $7, $8, $9::jsonb)
       ON CONFLICT (migration, started_at) DO UPDATE
         SET finished_at = EXCLUDED.finished_at, seconds = EXCLUDED.seconds, blocked = EXCLUDED.blocked,
             blockers = EXCLUDED.blockers, warnings = EXCLUDED.warnings, infos = EXCLUDED.infos,
             rules_run = EXCLUDED.rules_run, findings = EXCLUDED.findings, saved_at = now()
       RETURNING id::text AS id`,
      [
        migration,
        result.startedAt,
        result.seconds,
        result.blocked,
        count('blocker'),
        count('warning'),
        count('info'),
        result.rulesRun,
        JSON.stringify(result.findings),
      ],
    );
    return Number(rows[0].id);
  });
}

/** The most recent run of `migration` (by start time), or undefined when none was saved. */
export async function latestAssessment(
  target: PgConnInfo,
  migration: string,
): Promise<StoredAssessment | undefined> {
  return withTarget(target, async (c) => {
    const exists = await c.query(`SELECT pg_catalog.to_regclass('ferry.assessment_runs') IS NOT NULL AS e`);
    if (!exists.rows[0].e) return undefined;
    const { rows } = await c.query<{
      id: string;
      migration: string;
      started_at: Date;
      seconds: number;
      blocked: boolean;
      rules_run: number;
      findings: AssessmentFinding[];
      saved_at: Date;
    }>(
      `SELECT id::text AS id, migration, started_at, seconds, blocked, rules_run, findings, saved_at
         FROM ferry.assessment_runs WHERE migration = $1
        ORDER BY started_at DESC, id DESC LIMIT 1`,
      [migration],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: Number(r.id),
      migration: r.migration,
      blocked: r.blocked,
      findings: r.findings,
      startedAt: r.started_at.toISOString(),
      seconds: Number(r.seconds),
      rulesRun: Number(r.rules_run),
      savedAt: r.saved_at.toISOString(),
    };
  });
}

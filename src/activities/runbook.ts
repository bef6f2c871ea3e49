// Activities of the runbook steps every data-moving workflow shares: the audit trail, the config
// fingerprint, the premigration assessment and data validation. Thin: the work is in engine/ and
// assessment/.
import { promises as fs } from 'node:fs';
import { type AuditEntry, appendAudit, fingerprint, recordConfigChange } from '../engine/audit';
import type { AssessmentView } from '../workflows/definitions';
import { migrationContext, migrationEndpoints, endpointConn } from './context';
import { wrap } from './failures';
import { withHeartbeat } from './heartbeat';
import { loadMappingFiles } from '../mapping';
import { type AssessmentResult, findRule, runAssessment, saveAssessment } from '../assessment';
import { cdcNames } from './full-load';
import { loadPlan } from '../engine/plan-store';
import { type TableValidation, type ValidationResult, validateMigration } from '../engine/validate';
import { recordValidation } from '../metrics';
import { type PgConnInfo, redact } from '../engine/connection';
import { collectServerLogs, type ServerLogs } from '../engine/server-logs';
import type { ServerLogsView, ValidationView } from '../workflows/definitions';

export interface RunbookActivityDeps {
  configPath: string;
  heartbeatMs?: number;
}

/** At most this many findings ride in workflow history; all of them are stored on the target. */
export const FINDINGS_IN_HISTORY = 50;

export function createRunbookActivities(deps: RunbookActivityDeps) {
  const hbMs = deps.heartbeatMs ?? 5_000;

  return {
    async recordAudit(input: { migration: string; entries: AuditEntry[] }): Promise<number> {
      return wrap(async () => {
        const { cfg, target } = await migrationContext(deps.configPath, input.migration);
        return appendAudit(await endpointConn(cfg, target), input.entries);
      });
    },

    /** Record a config-change audit entry when ferry.yaml's migration, its endpoints or its JSON files changed. */
    async recordConfig(input: {
      migration: string;
      workflowId: string;
      by: string;
      at: string;
    }): Promise<{ changed?: string[] }> {
      return wrap(async () => {
        const { cfg, m, source, target } = await migrationContext(deps.configPath, input.migration);
        const parts: Record<string, string> = {
          [`ferry.yaml migrations.${m.name}`]: JSON.stringify(m),
          [`ferry.yaml endpoints.${source.id}`]: JSON.stringify(source),
          [`ferry.yaml endpoints.${target.id}`]: JSON.stringify(target),
        };
        for (const file of [m.tableMappings, m.taskSettings]) {
          if (file) parts[file] = await fs.readFile(file, 'utf8');
        }
        const changed = await recordConfigChange(await endpointConn(cfg, target), {
          migration: m.name,
          by: input.by,
          at: input.at,
          workflowId: input.workflowId,
          files: fingerprint(parts),
        });
        return changed ? { changed } : {};
      });
    },

    /** The premigration assessment: every rule against both endpoints; the whole result is stored on the target. */
    async assessMigration(input: { migration: string; workflowId?: string }): Promise<AssessmentView> {
      return wrap(
        () =>
          withHeartbeat(
            hbMs,
            () => ({ step: 'assessment' }),
            async () => assessmentView(await assessConfiguredMigration(deps.configPath, input.migration)),
          ),
        input.migration,
      );
    },

    /** The servers' log lines of the workflow's window, for its record. */
    async collectLogs(input: { migration: string; since: string }): Promise<ServerLogsView> {
      return wrap(async () => {
        const r = await collectMigrationLogs(deps.configPath, input.migration, {
          since: new Date(input.since),
          maxLines: 500,
        });
        return serverLogsView(r);
      }, input.migration);
    },

    /**
     * One validation pass (DMS ValidationSettings of the task): `full` compares every chunk, `pending`
     * re-checks open failures. With `cdc`, differences stay pending until the apply position passes them.
     */
    async validateData(input: {
      migration: string;
      planId: string;
      mode: 'full' | 'pending';
      cdc?: boolean;
    }): Promise<ValidationView> {
      let current: TableValidation | undefined;
      return wrap(
        () =>
          withHeartbeat(
            hbMs,
            () => (current ? { table: current.key, state: current.state } : { step: 'validation' }),
            async (signal) => {
              const { m, sourceConn, targetConn } = await migrationEndpoints(
                deps.configPath,
                input.migration,
              );
              const { plan } = await loadPlan(targetConn, m.name, input.planId);
              const r = await validateMigration({
                migration: m.name,
                plan,
                source: sourceConn,
                target: targetConn,
                mode: input.mode,
                cdc: input.cdc ?? false,
                signal,
                onProgress: (t) => (current = t),
              });
              for (const t of r.tables) recordValidation(m.name, t.target, t.mismatched, t.pending);
              return validationView(r);
            },
          ),
        input.migration,
      );
    },
  };
}

/**
 * The assessment of a migration of ferry.yaml, run now (by the activity and by `ferry assess`); the
 * whole result is stored on the target when it is reachable.
 */
export async function assessConfiguredMigration(
  configPath: string,
  migration: string,
): Promise<AssessmentResult> {
  const { m, source, target, sourceConn, targetConn } = await migrationEndpoints(configPath, migration);
  const files = await loadMappingFiles(m.tableMappings, m.taskSettings);
  const result = await runAssessment({
    migration: m.name,
    migrationType: m.migrationType,
    source: { id: source.id, conn: sourceConn },
    target: { id: target.id, conn: targetConn },
    mapping: files.mapping,
    settings: files.settings,
    settingsFindings: files.findings,
    // On AWS DMS, cdc.slotName names DMS's slot (made by the operator or by DMS): Ferry's readiness
    // checks (wal_level, senders, replica identity) still apply, its own slot rules do not.
    ...(m.migrationType !== 'full-load' && {
      cdc: cdcNames(m.engine === 'aws-dms' ? { ...m, cdc: { ...m.cdc, slotName: undefined } } : m),
    }),
  });
  // The target may be the very thing that is unreachable: the result still comes back.
  await saveAssessment(targetConn, m.name, result).catch(() => undefined);
  return result;
}

export type EndpointLogs = ServerLogs & { endpoint: string };
export interface ServerLogsReport {
  since: string;
  until: string;
  source: EndpointLogs;
  target: EndpointLogs;
}

/**
 * Both servers' log lines of a window: errors, and lines of the migration's databases or of Ferry's
 * sessions; for a server whose log cannot be read, the reason and how to fetch it by hand. Passwords
 * are redacted from every line.
 */
export async function collectMigrationLogs(
  configPath: string,
  migration: string,
  o: { since: Date; until?: Date; errorsOnly?: boolean; maxLines?: number },
): Promise<ServerLogsReport> {
  const { sourceConn, targetConn } = await migrationEndpoints(configPath, migration);
  const until = o.until ?? new Date();
  const one = async (conn: PgConnInfo): Promise<EndpointLogs> => {
    const secrets = [sourceConn.password, targetConn.password];
    const clean = (text: string) => secrets.reduce((t, pw) => redact(t, pw), text);
    try {
      const logs = await collectServerLogs(conn, {
        since: o.since,
        until,
        match: { errorsOnly: o.errorsOnly },
        maxLines: o.maxLines ?? 200,
      });
      if (logs.readable) {
        for (const l of logs.lines) l.message = clean(l.message);
      }
      return { ...logs, endpoint: conn.endpointId };
    } catch (err) {
      return {
        readable: false,
        endpoint: conn.endpointId,
        reason: clean(err instanceof Error ? err.message : String(err)),
        howToFetch: ['fix the connection problem above, then run `ferry logs` again'],
      };
    }
  };
  const [source, target] = await Promise.all([one(sourceConn), one(targetConn)]);
  return { since: o.since.toISOString(), until: until.toISOString(), source, target };
}

const ERRORS = new Set(['ERROR', 'FATAL', 'PANIC']);

export function serverLogsView(r: ServerLogsReport): ServerLogsView {
  return {
    since: r.since,
    until: r.until,
    endpoints: (['source', 'target'] as const).map((side) => {
      const l = r[side];
      if (!l.readable) {
        return {
          side,
          endpoint: l.endpoint,
          readable: false,
          matched: 0,
          errors: 0,
          lines: [],
          reason: l.reason,
          howToFetch: l.howToFetch,
        };
      }
      return {
        side,
        endpoint: l.endpoint,
        readable: true,
        matched: l.lines.length,
        errors: l.lines.filter((x) => ERRORS.has(x.severity)).length,
        lines: l.lines.slice(-20).map((x) => ({
          time: x.time,
          severity: x.severity,
          message: x.message.slice(0, 500),
          ...(x.database && { database: x.database }),
          ...(x.application && { application: x.application }),
        })),
      };
    }),
  };
}

/** A validation result small enough for workflow history: per-table states and counts, no row values. */
export function validationView(r: ValidationResult): ValidationView {
  return {
    enabled: r.enabled,
    passes: 1,
    mismatches: r.mismatches,
    pending: r.pending,
    tables: r.tables.map((t) => ({
      key: t.key,
      target: t.target,
      state: t.state,
      sourceRows: t.sourceRows,
      targetRows: t.targetRows,
      mismatched: t.mismatched,
      pending: t.pending + t.pendingChunks,
      ...(t.lastValidatedAt && { lastValidatedAt: t.lastValidatedAt }),
      ...(t.error && { error: t.error }),
    })),
    at: new Date().toISOString(),
  };
}

const rank = { blocker: 0, warning: 1, info: 2 } as const;

export function assessmentView(r: {
  blocked: boolean;
  findings: AssessmentView['findings'];
  startedAt: string;
  seconds: number;
}): AssessmentView {
  const counts = { blocker: 0, warning: 0, info: 0 };
  for (const f of r.findings) counts[f.severity]++;
  return {
    blocked: r.blocked,
    counts,
    findings: [...r.findings]
      .sort((a, b) => rank[a.severity] - rank[b.severity])
      .slice(0, FINDINGS_IN_HISTORY)
      .map((f) => {
        const fails = f.severity === 'blocker' ? findRule(f.id)?.fails : undefined;
        return fails ? { ...f, fails } : f;
      }),
    startedAt: r.startedAt,
    seconds: r.seconds,
  };
}

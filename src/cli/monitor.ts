// Commands that read or check a migration directly against its endpoints, with no workflow needed:
// `ferry assess`, `ferry validate`, `ferry audit`, `ferry changes`, `ferry logs`.
import { migrationEndpoints } from '../activities/context';
import { compileMigrationPlan } from '../activities/full-load';
import {
  assessConfiguredMigration,
  collectMigrationLogs,
  type ServerLogsReport,
} from '../activities/runbook';
import { type AssessmentResult, latestAssessment } from '../assessment';
import { ErrorType, FerryError } from '../errors';
import { listAudit, type AuditRecord } from '../engine/audit';
import { type JournalOperation, type JournalRow, parseSince, queryJournal } from '../engine/cdc/journal';
import { type ValidationReport, validateMigration, validationReport } from '../engine/validate';

/**
 * `ferry assess`: every rule against both endpoints now (the result is stored on the target too), or
 * with `last` the latest stored run (a workflow's or a previous command's).
 */
export async function assessCommand(
  configPath: string,
  migration: string,
  o: { last?: boolean } = {},
): Promise<AssessmentResult> {
  if (!o.last) return assessConfiguredMigration(configPath, migration);
  const { m, targetConn } = await migrationEndpoints(configPath, migration);
  const stored = await latestAssessment(targetConn, m.name);
  if (!stored) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `no assessment of ${m.name} is stored on endpoint ${m.target} yet: run \`ferry assess ${m.name}\` without --last`,
    );
  }
  return stored;
}

export function renderAssessment(migration: string, r: AssessmentResult): string {
  const counts = { blocker: 0, warning: 0, info: 0 };
  for (const f of r.findings) counts[f.severity]++;
  const lines = [
    `assessment of ${migration}: ${r.blocked ? 'BLOCKED' : 'ready'} — ${counts.blocker} blocker(s), ` +
      `${counts.warning} warning(s), ${counts.info} info (${r.rulesRun} rules, ${r.seconds.toFixed(1)} s)`,
  ];
  for (const f of r.findings) {
    lines.push(`  ${f.severity.toUpperCase().padEnd(7)} ${f.id} [${f.object}]`);
    lines.push(`          ${f.message}`);
    lines.push(`          → ${f.advice}`);
  }
  if (r.blocked) {
    lines.push(
      `A migration workflow stops at gate "assessment" until these are fixed or an approver overrides: ` +
        `ferry approve <workflow-id> --gate assessment --by <approver> --reason "<why>"`,
    );
  }
  return lines.join('\n');
}

/** `ferry audit`: who approved, overrode, paused, stopped or changed the config, when and why. */
export async function auditCommand(configPath: string, migration: string): Promise<AuditRecord[]> {
  const { targetConn } = await migrationEndpoints(configPath, migration);
  return listAudit(targetConn, migration);
}

export function renderAudit(migration: string, rows: AuditRecord[]): string {
  if (!rows.length) return `no audit entries for ${migration} yet (they are written by its workflows)`;
  return rows
    .map((r) => {
      const detail = r.detail ? ` ${JSON.stringify(r.detail)}` : '';
      return `${r.at}  ${r.action.padEnd(13)} by ${r.by}${r.reason ? ` — ${r.reason}` : ''}${
        r.workflowId ? `  (${r.workflowId})` : ''
      }${detail}`;
    })
    .join('\n');
}

/** `ferry validate`: a validation pass now (forced even when EnableValidation is off), then the report. */
export async function validateCommand(
  configPath: string,
  migration: string,
  o: { tables?: string[]; pending?: boolean; reportOnly?: boolean; limit?: number },
): Promise<ValidationReport & { ran?: { mode: string; seconds: number; cdc: boolean } }> {
  const { m, sourceConn, targetConn } = await migrationEndpoints(configPath, migration);
  let ran: { mode: string; seconds: number; cdc: boolean } | undefined;
  if (!o.reportOnly) {
    const { plan } = await compileMigrationPlan(m, sourceConn, targetConn);
    const r = await validateMigration({
      migration: m.name,
      plan,
      source: sourceConn,
      target: targetConn,
      force: true,
      mode: o.pending ? 'pending' : 'full',
      ...(o.tables?.length && { tables: o.tables }),
    });
    ran = { mode: r.mode, seconds: r.seconds, cdc: r.cdc };
  }
  const report = await validationReport(targetConn, m.name, {
    ...(o.tables?.length && { tables: o.tables }),
    limit: o.limit ?? 100,
  });
  return { ...report, ...(ran && { ran }) };
}

export function renderValidation(
  r: ValidationReport & { ran?: { mode: string; seconds: number; cdc: boolean } },
): string {
  const lines: string[] = [];
  if (r.ran) {
    lines.push(
      `validation of ${r.migration}: ${r.ran.mode} pass in ${r.ran.seconds.toFixed(1)} s` +
        `${r.ran.cdc ? ' (CDC target: recent differences stay pending until applied)' : ''}`,
    );
  } else lines.push(`validation of ${r.migration} as last recorded`);
  const t = r.totals;
  lines.push(
    `  ${t.validated}/${t.tables} tables validated, ${t.mismatches} mismatched, ${t.pending} pending` +
      (Object.keys(t.byState).length
        ? ` (${Object.entries(t.byState)
            .map(([s, n]) => `${s}: ${n}`)
            .join(', ')})`
        : ''),
  );
  for (const tb of r.tables) {
    lines.push(
      `  ${tb.state.padEnd(20)} ${tb.source} -> ${tb.target}  rows ${tb.sourceRows}/${tb.targetRows}` +
        `${tb.mismatched ? `  mismatched ${tb.mismatched}` : ''}${tb.pending ? `  pending ${tb.pending}` : ''}` +
        `${tb.error ? `  ERROR ${tb.error}` : ''}${tb.note ? `  (${tb.note})` : ''}`,
    );
  }
  for (const f of r.failures) {
    lines.push(`  ${f.status.toUpperCase()} ${f.kind} ${f.table} key ${JSON.stringify(f.key)}`);
    if (f.columns?.length) lines.push(`      columns: ${f.columns.join(', ')}`);
    if (f.source) lines.push(`      source: ${JSON.stringify(f.source)}`);
    if (f.target) lines.push(`      target: ${JSON.stringify(f.target)}`);
  }
  for (const c of r.chunkFailures) {
    lines.push(
      `  ${c.status.toUpperCase()} chunk of ${c.table} (${JSON.stringify(c.from ?? 'start')} .. ${JSON.stringify(c.to ?? 'end')}]: ` +
        `${c.sourceRows} source rows, ${c.targetRows} target rows`,
    );
  }
  return lines.join('\n');
}

/** `ferry changes`: the change journal of a CDC migration (opt-in: cdc.journal in ferry.yaml). */
export async function changesCommand(
  configPath: string,
  migration: string,
  o: { table?: string; since?: string; until?: string; operation?: string; limit: number },
): Promise<{ rows: JournalRow[]; journal: boolean }> {
  const { m, targetConn } = await migrationEndpoints(configPath, migration);
  const rows = await queryJournal(targetConn, m.name, {
    ...(o.table && { table: o.table }),
    ...(o.since && { since: parseSince(o.since) }),
    ...(o.until && { until: parseSince(o.until) }),
    ...(o.operation && { operation: o.operation as JournalOperation }),
    limit: o.limit,
  });
  return { rows, journal: !!m.cdc.journal?.enabled };
}

export function renderChanges(migration: string, r: { rows: JournalRow[]; journal: boolean }): string {
  if (!r.rows.length) {
    return r.journal
      ? `no journaled changes of ${migration} match`
      : `the change journal of ${migration} is off: set migrations[].cdc.journal.enabled: true in ferry.yaml ` +
          `(it records changes applied from then on)`;
  }
  return r.rows
    .map(
      (c) =>
        `${c.commitTime}  ${c.lsn.padEnd(12)} ${c.operation.padEnd(8)} ${c.table}` +
        `${c.key ? ` ${JSON.stringify(c.key)}` : ''}${c.oldKey ? ` (was ${JSON.stringify(c.oldKey)})` : ''}`,
    )
    .join('\n');
}

/** `ferry logs`: both servers' log lines of the window (errors, and Ferry's sessions), or how to get them. */
export async function logsCommand(
  configPath: string,
  migration: string,
  o: { since: string; until?: string; errorsOnly?: boolean; maxLines: number },
): Promise<ServerLogsReport> {
  return collectMigrationLogs(configPath, migration, {
    since: parseSince(o.since),
    ...(o.until && { until: parseSince(o.until) }),
    errorsOnly: !!o.errorsOnly,
    maxLines: o.maxLines,
  });
}

export function renderLogs(r: ServerLogsReport): string {
  const lines: string[] = [];
  for (const [side, logs] of [
    ['source', r.source],
    ['target', r.target],
  ] as const) {
    lines.push(`${side} ${logs.endpoint}:`);
    if (!logs.readable) {
      lines.push(`  not readable: ${logs.reason}`);
      for (const h of logs.howToFetch) lines.push(`  - ${h}`);
      continue;
    }
    if (!logs.lines.length) lines.push('  no matching lines in the window');
    for (const l of logs.lines) {
      lines.push(
        `  ${l.time} ${l.severity.padEnd(7)} ${l.database ?? '-'}/${l.application ?? '-'} ${l.message}`,
      );
    }
    if (logs.truncated) lines.push('  (more lines matched: the latest are shown; narrow --since/--until)');
  }
  return lines.join('\n');
}

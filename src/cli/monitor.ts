// Commands that read or check a migration directly against its endpoints, with no workflow needed:
// `ferry assess`, `ferry validate`, `ferry audit`, `ferry changes`, `ferry logs`.
import { migrationEndpoints } from '../activities/context';
import { assessConfiguredMigration } from '../activities/runbook';
import type { AssessmentResult } from '../assessment';
import { listAudit, type AuditRecord } from '../engine/audit';

/** `ferry assess`: every rule against both endpoints now; the result is stored on the target too. */
export const assessCommand = assessConfiguredMigration;

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

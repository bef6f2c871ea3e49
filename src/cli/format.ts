// Human-readable rendering of workflow status for the CLI (the --json forms print the raw objects).
import type { PocStatus, StepRecord } from '../workflows/definitions';

export function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function seconds(s: number | undefined): string {
  if (s === undefined) return '-';
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

function stepLine(s: StepRecord): string {
  const mark = { pending: ' ', running: '>', done: '✓', failed: '✗', skipped: '-' }[s.status];
  const t = s.seconds !== undefined ? seconds(s.seconds).padStart(10) : ''.padStart(10);
  return `  [${mark}] ${s.name.padEnd(9)} ${t}  ${s.detail ?? ''}`.trimEnd();
}

export function renderStatus(workflowId: string, st: PocStatus): string {
  const lines = [`${workflowId}  migration ${st.migration}  phase ${st.phase}`];
  for (const s of st.steps) lines.push(stepLine(s));
  if (st.source) {
    lines.push(
      `  source: PostgreSQL ${st.source.serverVersion}, database ${bytes(st.source.databaseSize)}, ` +
        `${st.source.tables} tables in scope (${bytes(st.source.scopeBytes)})`,
    );
  }
  if (st.dump) lines.push(`  dump: ${st.dump.file} (${bytes(st.dump.bytes)}) in ${seconds(st.dump.seconds)}`);
  if (st.restore) {
    lines.push(`  restore: into ${st.restore.scratchDatabase} in ${seconds(st.restore.seconds)}`);
  }
  if (st.verify) {
    lines.push(
      `  verify: ${st.verify.ok ? 'equal' : 'DIFFERENT'} — ${st.verify.tables} tables counted, ${st.verify.checksummed} checksummed`,
    );
    for (const d of st.verify.differences.slice(0, 20)) lines.push(`    ${d}`);
  }
  if (st.estimate) {
    lines.push(
      `  estimate: full migration ≈ ${seconds(st.estimate.estimatedSeconds)} at ${bytes(st.estimate.bytesPerSecond)}/s (${st.estimate.basis})`,
    );
  }
  if (st.fallbackPlanFile) lines.push(`  fallback plan: ${st.fallbackPlanFile}`);
  for (const f of st.findings) lines.push(`  finding: ${f}`);
  if (st.pendingGate) {
    lines.push(
      `  waiting at gate "${st.pendingGate.name}" since ${st.pendingGate.since}; approvers: ${st.pendingGate.approvers.join(', ')}`,
    );
  }
  for (const a of st.approvals) {
    lines.push(`  ${a.gate}: ${a.decision} by ${a.by} at ${a.at}${a.reason ? ` — ${a.reason}` : ''}`);
  }
  for (const c of st.compensations)
    lines.push(`  cleanup: ${c.name}: ${c.status}${c.detail ? ` (${c.detail})` : ''}`);
  if (st.error) lines.push(`  error: ${st.error}`);
  return lines.join('\n');
}

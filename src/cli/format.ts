// Human-readable rendering of workflow status for the CLI (the --json forms print the raw objects).
import { bytes as formatBytes } from '../mapping/explain';
import type {
  ApprovalRecord,
  AssessmentView,
  CdcStatus,
  FullLoadStatus,
  MigrationStatus,
  PendingGate,
  PocStatus,
  ServerLogsView,
  StepRecord,
  TableStatistics,
  ValidationView,
} from '../workflows/definitions';
import { cdcTableStatistics } from '../workflows/table-stats';

export function bytes(n: number | undefined): string {
  return n === undefined ? '-' : formatBytes(n);
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

/** Full-load status: phase, totals and one line per table (DMS table statistics). */
export function renderFullLoad(workflowId: string, st: FullLoadStatus, maxTables = 50): string {
  const t = st.totals;
  const lines = [
    `${workflowId}  migration ${st.migration}  phase ${st.phase}`,
    `  tables ${t.completed}/${t.tables} completed, segments ${t.segmentsDone}/${t.segments}, ` +
      `${t.rows.toLocaleString('en-US')} rows, ${bytes(t.bytes)}`,
  ];
  if (st.snapshot) {
    lines.push(
      `  snapshot ${st.snapshot.snapshotId}${st.snapshot.slotName ? ` (slot ${st.snapshot.slotName} at ${st.snapshot.consistentLsn})` : ''}`,
    );
  }
  const shown = [...st.tables].sort((a, b) => stateRank(a.state) - stateRank(b.state) || b.bytes - a.bytes);
  for (const tb of shown.slice(0, maxTables)) {
    lines.push(
      `  ${tb.state.padEnd(15)} ${tb.source.padEnd(36)} -> ${tb.target.padEnd(36)} ` +
        `${String(tb.rows).padStart(10)} rows ${bytes(tb.bytes).padStart(10)}  ${tb.segmentsDone}/${tb.segments} seg` +
        `${tb.seconds !== undefined ? `  ${seconds(tb.seconds)}` : ''}${tb.error ? `  ERROR ${tb.error}` : ''}`,
    );
  }
  if (shown.length > maxTables) lines.push(`  … ${shown.length - maxTables} more tables (--json lists all)`);
  if (st.postData) {
    lines.push(
      `  post-data: ${st.postData.indexes} indexes, ${st.postData.constraints} constraints, ${st.postData.sequences} sequences`,
    );
  }
  lines.push(...runbookLines(st));
  for (const f of st.findings) lines.push(`  finding: ${f}`);
  if (st.error) lines.push(`  error: ${st.error}`);
  return lines.join('\n');
}

/** Assessment, validation, the pending gate and decisions: shown by every data-moving workflow's status. */
export function runbookLines(st: {
  assessment?: AssessmentView;
  validation?: ValidationView;
  pendingGate?: PendingGate;
  approvals?: ApprovalRecord[];
  serverLogs?: ServerLogsView;
}): string[] {
  const lines: string[] = [];
  const a = st.assessment;
  if (a) {
    lines.push(
      a.skipped
        ? '  assessment: skipped at start'
        : `  assessment: ${a.blocked ? (a.overriddenBy ? `blocked, overridden by ${a.overriddenBy}` : 'BLOCKED') : 'passed'}` +
            ` — ${a.counts.blocker} blocker(s), ${a.counts.warning} warning(s), ${a.counts.info} info`,
    );
    for (const f of a.findings.filter((x) => x.severity === 'blocker')) {
      lines.push(`    BLOCKER ${f.id} [${f.object}]: ${f.message} → ${f.advice}`);
    }
  }
  const v = st.validation;
  if (v) {
    lines.push(
      v.enabled
        ? `  validation: ${v.mismatches} mismatched, ${v.pending} pending row(s) in ${v.tables.length} table(s)` +
            `${v.passes > 1 ? ` after ${v.passes} passes` : ''}${v.at ? ` (at ${v.at})` : ''}`
        : '  validation: Not enabled (task settings ValidationSettings.EnableValidation)',
    );
    for (const t of v.tables.filter((x) => x.state !== 'Validated').slice(0, 20)) {
      lines.push(
        `    ${t.state.padEnd(20)} ${t.target}: ${t.mismatched} mismatched, ${t.pending} pending${t.error ? ` — ${t.error}` : ''}`,
      );
    }
  }
  if (st.pendingGate) {
    const g = st.pendingGate;
    lines.push(
      `  waiting at gate "${g.name}" since ${g.since}${g.deadline ? ` (until ${g.deadline})` : ''}; ` +
        `approvers: ${g.approvers.join(', ')}`,
    );
  }
  for (const d of st.approvals ?? []) {
    lines.push(`  gate ${d.gate}: ${d.decision} by ${d.by} at ${d.at}${d.reason ? ` — ${d.reason}` : ''}`);
  }
  for (const e of st.serverLogs?.endpoints ?? []) {
    if (!e.readable) {
      lines.push(`  ${e.side} server log (${e.endpoint}): not readable — ${e.reason}; see \`ferry logs\``);
      continue;
    }
    lines.push(
      `  ${e.side} server log (${e.endpoint}): ${e.matched} line(s) in the window, ${e.errors} error(s)`,
    );
    for (const l of e.lines.filter((x) => ['ERROR', 'FATAL', 'PANIC'].includes(x.severity)).slice(-5)) {
      lines.push(`    ${l.time} ${l.severity} ${l.message}`);
    }
  }
  return lines;
}

/** DMS-style table statistics, one line per table. */
export function tableStatisticsLines(rows: TableStatistics[], max = 50): string[] {
  const lines = rows
    .slice(0, max)
    .map(
      (r) =>
        `  ${r.table.padEnd(36)} load ${String(r.fullLoadRows).padStart(9)}  ins ${String(r.inserts).padStart(8)}  ` +
        `upd ${String(r.updates).padStart(8)}  del ${String(r.deletes).padStart(8)}  ddl ${r.ddls}  ` +
        `${r.validationState}${r.lastUpdateTime ? `  last ${r.lastUpdateTime}` : ''}`,
    );
  if (rows.length > max) lines.push(`  … ${rows.length - max} more tables (--json lists all)`);
  return lines;
}

function stateRank(s: string): number {
  return (
    ({ 'Table error': 0, 'Full load': 1, 'Before load': 2, 'Table completed': 3 } as Record<string, number>)[
      s
    ] ?? 4
  );
}

/** One line of CDC lag and rates, e.g. `applied 0/3A0 · lag 12.3 kB, 0.4 s · 1,200 changes/s`. */
export function lagLine(st: CdcStatus): string {
  const l = st.lag;
  if (!l) return '  lag: no report yet';
  return (
    `  applied ${l.appliedLsn} (source ${l.sourceLsn})  lag ${bytes(l.lagBytes)}, ${l.lagSeconds.toFixed(1)} s  ` +
    `${l.changesPerSecond.toLocaleString('en-US')} changes/s  ${l.txns.toLocaleString('en-US')} txns, ` +
    `${l.changes.toLocaleString('en-US')} changes, ${l.batches.toLocaleString('en-US')} batches, ` +
    `${l.conflicts} conflicts  (at ${l.at})`
  );
}

export function renderCdc(st: CdcStatus, maxTables = 50): string {
  const lines = [`${st.workflowId}  migration ${st.migration}  ${st.mode}  phase ${st.phase}`];
  if (st.fullLoadWorkflowId)
    lines.push(`  full load: ${st.fullLoadWorkflowId} (ferry status ${st.fullLoadWorkflowId})`);
  if (st.start) {
    lines.push(
      `  slot ${st.start.slotName}, publication ${st.start.publication}` +
        `${st.start.tolerantUntil ? `, idempotent catch-up to ${st.start.tolerantUntil}` : ''}` +
        `${st.start.skipBefore ? `, ${Object.keys(st.start.skipBefore).length} table(s) copied under a later snapshot` : ''}`,
    );
  }
  lines.push(lagLine(st));
  lines.push(...tableStatisticsLines(cdcTableStatistics(st), maxTables));
  const conflicts = Object.entries(st.tables).filter(([, t]) => t.conflicts > 0);
  for (const [name, t] of conflicts.slice(0, maxTables)) {
    lines.push(`  ${name}: ${t.conflicts} apply conflict(s) (ferry.cdc_exceptions on the target)`);
  }
  lines.push(...runbookLines(st));
  for (const c of st.controls)
    lines.push(`  ${c.action} by ${c.by} at ${c.at}${c.reason ? `: ${c.reason}` : ''}`);
  if (st.slot) {
    lines.push(
      `  slot ${st.slot.name}: ${st.slot.dropped ? 'dropped' : 'kept'}` +
        `${st.slot.retainedWalBytes !== undefined ? `, retains ${bytes(st.slot.retainedWalBytes)} of WAL` : ''}`,
    );
  }
  for (const f of st.findings) lines.push(`  finding: ${f}`);
  if (st.error) lines.push(`  error: ${st.error}`);
  return lines.join('\n');
}

/** The whole runbook: each phase with its duration, the CDC child, the cutover and any fallback. */
export function renderMigration(st: MigrationStatus): string {
  const lines = [`${st.workflowId}  migration ${st.migration}  phase ${st.phase}`];
  if (st.database) lines.push(`  database ${st.database}${st.owner ? `, owner ${st.owner}` : ''}`);
  for (const [name, p] of Object.entries(st.phases)) {
    lines.push(
      `  ${name.padEnd(17)} ${p!.start}${p!.seconds !== undefined ? `  ${seconds(p!.seconds)}` : '  …'}`,
    );
  }
  if (st.poc) lines.push(`  PoC: ${st.poc.workflowId}${st.poc.outcome ? ` ${st.poc.outcome}` : ''}`);
  if (st.cdcWorkflowId) {
    const c = st.cdc;
    lines.push(
      `  CDC: ${st.cdcWorkflowId}${c ? ` ${c.phase}` : ''}${c?.lag ? `, lag ${c.lag.lagSeconds.toFixed(1)} s` : ''}` +
        (c?.validation?.enabled
          ? `, validation ${c.validation.validated}/${c.validation.tables} tables, ${c.validation.mismatches} mismatched`
          : ''),
    );
  }
  if (st.cutoverWaitsUntil) {
    lines.push(`  cutover: approved, waits for the SLA's window until ${st.cutoverWaitsUntil}`);
  }
  const cut = st.cutover;
  if (cut) {
    lines.push(
      `  cutover: write freeze ${cut.writeFreezeMs ?? '?'} ms` +
        (cut.slaMaxDowntimeMs !== undefined
          ? ` (SLA ${cut.slaMaxDowntimeMs} ms: ${cut.withinSla ? 'within' : 'EXCEEDED'})`
          : ''),
    );
    for (const s of cut.steps) lines.push(`    ${s.at} ${s.name}${s.detail ? `: ${s.detail}` : ''}`);
  }
  if (st.fallback) {
    lines.push(
      `  fallback by ${st.fallback.by} from ${st.fallback.fromPhase}: ${st.fallback.reason}${st.fallback.done ? ' (done)' : ''}`,
    );
    for (const s of st.fallback.steps) lines.push(`    ${s.at} ${s.name}${s.detail ? `: ${s.detail}` : ''}`);
  }
  lines.push(...runbookLines(st));
  for (const f of st.findings) lines.push(`  finding: ${f}`);
  if (st.error) lines.push(`  error: ${st.error}`);
  return lines.join('\n');
}

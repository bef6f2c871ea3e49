// The human view of a MigrationPlan (`ferry plan`): what is selected and skipped (and by which rule),
// renamed, filtered, transformed and segmented — listed before anything moves, the way pgcopydb
// lists what its filters skip.
import { displayIdent, displayName, quoteLiteral } from './problems';
import type { ColumnPlan, MigrationPlan, SegmentPlan, TablePlan } from './types';

const MAX_EXPRESSION = 110;

export function explainPlan(plan: MigrationPlan): string {
  const out: string[] = [];
  const s = plan.settings;
  const counts = {
    warning: plan.findings.filter((f) => f.severity === 'warning').length,
    info: plan.findings.filter((f) => f.severity === 'info').length,
  };
  out.push(
    `Plan: ${plan.tables.length} table(s) selected, ${plan.skipped.length} skipped, ${counts.warning} warning(s), ${counts.info} note(s)`,
  );
  const lob = !s.supportLobs
    ? 'LOB columns left out (SupportLobs false)'
    : s.fullLobMode
      ? 'full LOB mode (no truncation)'
      : `limited LOB mode, ${s.lobMaxSizeKb} KB`;
  out.push(
    `Settings: TargetTablePrepMode ${s.targetTablePrepMode}, MaxFullLoadSubTasks ${s.maxFullLoadSubTasks}, ${lob}, target schema ${s.targetSchema === '' ? 'as the source' : displayIdent(s.targetSchema)}`,
  );

  out.push('', 'Selected (load order first, then name):');
  if (plan.tables.length === 0) out.push('  (nothing)');
  for (const t of plan.tables) out.push(...explainTable(t));

  out.push('', 'Skipped:');
  if (plan.skipped.length === 0) out.push('  (nothing)');
  const width = Math.min(48, Math.max(0, ...plan.skipped.map((x) => displayName(x.schema, x.name).length)));
  for (const x of plan.skipped) out.push(`  ${displayName(x.schema, x.name).padEnd(width)}  ${x.reason}`);

  if (plan.findings.length > 0) {
    out.push('', 'Findings:');
    for (const f of plan.findings) {
      out.push(
        `  ${f.severity.padEnd(7)} ${f.field}${f.rule !== undefined ? ` (rule-id ${f.rule})` : ''}: ${f.message}`,
      );
    }
  }
  return out.join('\n') + '\n';
}

function explainTable(t: TablePlan): string[] {
  const out: string[] = [];
  const src = displayName(t.source.schema, t.source.name);
  const dst = displayName(t.target.schema, t.target.name);
  const kind = t.source.kind === 'table' ? '' : ` [${t.source.kind}]`;
  out.push(
    `  ${src}${kind} → ${src === dst ? 'same name' : dst}   (rules ${t.rules.join(', ') || '-'}${t.loadOrder > 0 ? `; load-order ${t.loadOrder}` : ''})`,
  );
  out.push(
    `    size: ~${thousands(t.estimatedRows)} rows, ${bytes(t.bytes)}; segments: ${segments(t.segments)}`,
  );
  if (t.filter) {
    const params = t.filter.params.map((p, i) => `$${i + 1} = ${quoteLiteral(p)}`).join(', ');
    out.push(`    filter: WHERE ${t.filter.sql}${params ? `   [${params}]` : ''}`);
  }
  if (t.segments.predicates) {
    t.segments.predicates.forEach((p, i) => {
      const params = p.params.map((v, j) => `$${j + 1} = ${quoteLiteral(v)}`).join(', ');
      out.push(`      segment ${i + 1}: WHERE ${p.sql}${params ? `   [${params}]` : ''}`);
    });
  }
  const plain = t.columns.filter((c) => isPlain(c));
  const changed = t.columns.filter((c) => !isPlain(c));
  out.push(
    `    columns: ${t.columns.length} on the target, ${plain.length} copied as they are${t.primaryKey.length > 0 ? `; primary key (${t.primaryKey.map(displayIdent).join(', ')})` : '; no primary key'}`,
  );
  for (const c of changed) out.push(`      ${column(c)}`);
  for (const r of t.removedColumns ?? []) out.push(`      - ${displayIdent(r.source)}: ${r.reason}`);
  if (t.keyDefinition) {
    const k = t.keyDefinition;
    out.push(
      `    key: ${k.origin} ${displayIdent(k.name)} (${k.columns.map(displayIdent).join(', ')}) from rule-id ${k.rule}`,
    );
  }
  if (t.lob.mode !== 'none') {
    out.push(
      `    LOBs: ${t.lob.mode === 'full' ? 'full (never truncated)' : `limited, truncated above ${t.lob.maxBytes / 1024} KB`}`,
    );
  }
  return out;
}

function isPlain(c: ColumnPlan): boolean {
  return (
    c.source === c.target && c.expression === undefined && c.generated === undefined && c.rules.length === 0
  );
}

function column(c: ColumnPlan): string {
  const name =
    c.source === undefined || c.beforeImageOf !== undefined
      ? `+ ${displayIdent(c.target)}`
      : c.source === c.target
        ? `${displayIdent(c.target)}`
        : `${displayIdent(c.source)} → ${displayIdent(c.target)}`;
  const parts = [`${name} ${c.type}`];
  if (c.generated !== undefined) parts.push('generated: not copied, recomputed on the target');
  if (c.masking) parts.push(`masked (${c.masking})`);
  if (c.beforeImageOf) parts.push(`before image of ${displayIdent(c.beforeImageOf)}`);
  if (c.expression !== undefined) parts.push(`= ${shorten(c.expression)}`);
  if (c.rules.length > 0) parts.push(`rule${c.rules.length > 1 ? 's' : ''} ${c.rules.join(', ')}`);
  return parts.join('; ');
}

function segments(s: SegmentPlan): string {
  switch (s.method) {
    case 'none':
      return 'one COPY';
    case 'pk-range':
      return `${s.count} key ranges on (${(s.columns ?? []).map(displayIdent).join(', ')})`;
    case 'ctid-range':
      return `${s.count} ctid ranges (no key)`;
    case 'partitions':
      return `${s.count} partition(s): ${(s.partitions ?? []).map((p) => p.name).join(', ')}`;
    case 'ranges':
      return `${s.count} DMS ranges on (${(s.columns ?? []).map(displayIdent).join(', ')}), boundaries ${(
        s.boundaries ?? []
      )
        .map((b) => `[${b.join(', ')}]`)
        .join(' ')}`;
  }
}

function shorten(sql: string): string {
  return sql.length > MAX_EXPRESSION ? `${sql.slice(0, MAX_EXPRESSION - 1)}…` : sql;
}

function thousands(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** 1536 → '1.5 KiB': binary units, one decimal above bytes. Also used by the CLI. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

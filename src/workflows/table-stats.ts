// DMS DescribeTableStatistics from what a workflow knows: full-load rows, CDC counters, validation
// state, and when each last changed. Plain code, no Temporal imports.
import type { CdcStatus, CdcTableStats, TableStatistics, TableStats, ValidationView } from './definitions';

export function tableStatistics(opts: {
  load?: TableStats[];
  fullLoadRows?: Record<string, { target: string; rows: number; at?: string }>;
  cdc?: Record<string, CdcTableStats>;
  validation?: ValidationView;
  updatedAt?: Record<string, string>;
  /** Tables created by CDC's adoption of new source tables (one DDL each). */
  adopted?: string[];
}): TableStatistics[] {
  const out = new Map<string, TableStatistics>();
  const row = (table: string, target = table): TableStatistics => {
    let r = out.get(table);
    if (!r) {
      r = {
        table,
        target,
        inserts: 0,
        updates: 0,
        deletes: 0,
        ddls: 0,
        fullLoadRows: 0,
        validationState: opts.validation?.enabled === false ? 'Not enabled' : 'Pending validation',
      };
      out.set(table, r);
    }
    return r;
  };
  const touch = (r: TableStatistics, at: string | undefined) => {
    if (at && (!r.lastUpdateTime || at > r.lastUpdateTime)) r.lastUpdateTime = at;
  };
  for (const t of opts.load ?? []) {
    const r = row(t.key, t.target);
    r.fullLoadRows = t.rows;
    touch(r, t.finishedAt ?? t.startedAt);
  }
  for (const [key, l] of Object.entries(opts.fullLoadRows ?? {})) {
    const r = row(key, l.target);
    r.fullLoadRows = l.rows;
    touch(r, l.at);
  }
  for (const [key, c] of Object.entries(opts.cdc ?? {})) {
    const r = row(key);
    r.inserts = c.inserts;
    r.updates = c.updates;
    r.deletes = c.deletes;
    // A TRUNCATE is DDL-like in DMS's statistics.
    r.ddls += c.truncates;
    touch(r, opts.updatedAt?.[key]);
  }
  for (const key of opts.adopted ?? []) row(key).ddls++;
  for (const v of opts.validation?.tables ?? []) {
    const r = row(v.key, v.target);
    r.validationState = v.state;
    touch(r, v.lastValidatedAt);
  }
  return [...out.values()].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/** The table statistics of a CDC workflow's status (full-load rows, CDC counters, validation). */
export function cdcTableStatistics(
  st: Pick<CdcStatus, 'fullLoadRows' | 'tables' | 'validation' | 'tableUpdatedAt' | 'adopted'>,
): TableStatistics[] {
  return tableStatistics({
    fullLoadRows: st.fullLoadRows,
    cdc: st.tables,
    validation: st.validation,
    updatedAt: st.tableUpdatedAt,
    ...(st.adopted && { adopted: st.adopted }),
  });
}

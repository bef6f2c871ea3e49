// New source tables that match the mapping's selection while CDC runs: add them to the publication
// first (their changes are published from then on), then create and load them on the target with a
// full load of just those tables under a temporary slot's snapshot, whose exact WAL boundary tells the
// stream which of their changes the copy already holds.
import type { MigrationPlan, SourceCatalog, TablePlan } from '../../mapping/types';
import { readSourceCatalog } from '../catalog';
import type { PgConnInfo } from '../connection';
import { runFullLoadLocal } from '../fullload/run';
import { displayName } from '../ident';
import { cdcTables, ensurePublication } from './source';

export interface AdoptedTables {
  plan: MigrationPlan;
  catalog: SourceCatalog;
  /** Source tables added, as displayName prints them. */
  added: string[];
  /**
   * The exact WAL boundary of the snapshot they were copied under (a temporary slot's consistent
   * point): their changes committed before it are in the copy, those after it are not.
   */
  copiedAt: string;
  /** Findings of the load of the new tables (pre-data, post-data), as text. */
  findings: string[];
}

const keyOf = (t: TablePlan) => displayName(t.source.schema, t.source.name);

/**
 * Compare the live catalog with `plan`; when the selection now matches tables the plan lacks, adopt
 * them (publication, target tables, rows, indexes) and return the plan with them. Undefined when there
 * is nothing new. Safe to repeat after a crash: a table an earlier attempt loaded is not copied again.
 */
export async function adoptNewTables(opts: {
  migration: string;
  source: PgConnInfo;
  target: PgConnInfo;
  publication: string;
  /** The CDC slot: the copy's temporary slot is named after it. */
  slotName: string;
  plan: MigrationPlan;
  /** Compile the migration's mapping against a catalog (the caller knows the mapping files). */
  compile: (catalog: SourceCatalog) => MigrationPlan;
  concurrency?: number;
}): Promise<AdoptedTables | undefined> {
  const catalog = await readSourceCatalog(opts.source);
  const fresh = opts.compile(catalog);
  const known = new Set(opts.plan.tables.map(keyOf));
  const added = fresh.tables.filter((t) => !known.has(keyOf(t)) && t.source.kind !== 'view');
  if (!added.length) return undefined;
  const sub: MigrationPlan = { ...fresh, tables: added, skipped: [] };
  // Published first: every change after this point reaches the stream; the copy below reads later.
  await ensurePublication(opts.source, opts.publication, cdcTables(sub));
  const report = await runFullLoadLocal({
    migration: opts.migration,
    source: opts.source,
    target: opts.target,
    plan: sub,
    catalog,
    concurrency: Math.max(1, opts.concurrency ?? fresh.settings.maxFullLoadSubTasks),
    // Named after the CDC slot, unique per adoption; dropped with the exporting session.
    temporarySlot: `${opts.slotName.slice(0, 44)}_a${Date.now().toString(36)}`,
  });
  const copiedAt = report.snapshot.consistentLsn!;
  // The plan keeps the old tables as they were compiled (their target shape is fixed) plus the new ones.
  return {
    plan: { ...opts.plan, tables: [...opts.plan.tables, ...added] },
    catalog,
    added: added.map(keyOf),
    copiedAt,
    findings: report.findings
      .filter((f) => f.severity !== 'info')
      .map((f) => `${f.severity}: ${f.field}: ${f.message}`),
  };
}

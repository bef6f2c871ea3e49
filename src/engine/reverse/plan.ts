// The reverse of a migration plan, for fallback: which target table and column each source table and
// column gets its changes from when replication runs target → source after cutover. Pure, no I/O.
//
// What reverses and how (forward plan → reverse plan):
//   table rename           target table → source table
//   column rename          target column → source column
//   change-data-type       the target value cast back to the source column's type (a narrowing forward
//                          cast, e.g. numeric(12,2) → integer, cannot bring back what it cut off)
//   add-column, before-image columns
//                          target only: left out (the source has no such column)
//   remove-column, include-column mode, LOBs off
//                          source only: never written; a row inserted on the target gets the source
//                          column's default (NULL without one), an updated row keeps its source value
//   source generated column
//                          left out: the source recomputes it
//   masking                left out: writing the mask back would destroy the source value
//   filters                not applied: every change on a target table goes back; rows the filter kept
//                          off the target are never touched (an UPDATE/DELETE only meets rows it sent)
// A table whose key cannot be reversed (a key column computed by an expression, masked, or a source
// generated column) is excluded and listed in `skipped` with the reason; so is a view (the target table
// has nowhere to go back to).
import type {
  CatalogTable,
  ColumnPlan,
  Finding,
  MigrationPlan,
  SkippedTable,
  SourceCatalog,
  TablePlan,
} from '../../mapping/types';
import { displayName, quoteIdent } from '../ident';

/** Why a forward column has no reverse: undefined when it has one. */
function irreversible(c: ColumnPlan, srcTable: CatalogTable): string | undefined {
  if (c.beforeImageOf !== undefined) return 'a before-image column (target only)';
  if (c.source === undefined) return 'added on the target (add-column), the source has no such column';
  if (c.masking !== undefined) return `masked (${c.masking}): the source value cannot be recovered`;
  const s = srcTable.columns.find((x) => x.name === c.source);
  if (!s) return `source column "${c.source}" is not in the source catalog`;
  if (s.generated !== undefined || c.generated !== undefined)
    return 'a generated column on the source (recomputed there)';
  // A plain copy, or a change-data-type cast of the source column: both go back by a cast.
  if (c.expression !== undefined && c.expression !== `${quoteIdent(c.source)}::${c.type}`)
    return `computed by an expression (${c.expression})`;
  return undefined;
}

/**
 * The plan that carries changes of the target tables back onto the source tables (see the file comment).
 * `catalog` is the source catalog the forward plan was compiled from (or read now): the reverse casts
 * to its column types, and uses its primary keys. The result's `skipped` lists the tables that cannot
 * go back and why; `findings` the columns left out and the inserts a source constraint would refuse.
 */
export function reversePlan(plan: MigrationPlan, catalog: SourceCatalog): MigrationPlan {
  const tables: TablePlan[] = [];
  const skipped: SkippedTable[] = [];
  const findings: Finding[] = [];
  const skip = (t: TablePlan, reason: string) =>
    skipped.push({ schema: t.target.schema, name: t.target.name, reason });

  for (const t of plan.tables) {
    const fwd = displayName(t.source.schema, t.source.name);
    const back = displayName(t.target.schema, t.target.name);
    const field = `reverse ${back} → ${fwd}`;
    if (t.source.kind === 'view') {
      skip(t, `its source ${fwd} is a view: changes cannot be written back into it`);
      continue;
    }
    const srcTable = catalog.tables.find((x) => x.schema === t.source.schema && x.name === t.source.name);
    if (!srcTable) {
      skip(
        t,
        `its source ${fwd} is not in the source catalog (dropped or renamed since the plan was compiled)`,
      );
      continue;
    }
    const columns: ColumnPlan[] = [];
    /** Forward target column name → source column name, for the columns that go back. */
    const back2src = new Map<string, string>();
    const left: string[] = [];
    for (const c of t.columns) {
      const why = irreversible(c, srcTable);
      if (why) {
        left.push(`"${c.target}": ${why}`);
        continue;
      }
      const s = srcTable.columns.find((x) => x.name === c.source)!;
      if (columns.some((x) => x.target === s.name)) continue; // the same source column twice
      back2src.set(c.target, s.name);
      columns.push({
        source: c.target,
        target: s.name,
        type: s.type,
        nullable: s.nullable,
        rules: [...c.rules],
      });
    }
    if (!columns.length) {
      skip(t, `none of its columns maps back onto ${fwd}`);
      continue;
    }
    // The key the source rows are matched on: the source's own primary key when every column of it
    // comes back, else the forward key mapped back; a key column that does not come back excludes the table.
    let primaryKey: string[];
    const written = new Set(columns.map((c) => c.target));
    if (srcTable.primaryKey.length && srcTable.primaryKey.every((k) => written.has(k))) {
      primaryKey = [...srcTable.primaryKey];
    } else {
      const lost = t.primaryKey.filter((k) => !back2src.has(k));
      if (lost.length) {
        const reasons = lost.map((k) => {
          const c = t.columns.find((x) => x.target === k);
          return `"${k}" (${c ? irreversible(c, srcTable) : 'not a planned column'})`;
        });
        skip(
          t,
          `its key column(s) ${reasons.join(', ')} cannot be mapped back onto ${fwd}, so its rows cannot be found there`,
        );
        continue;
      }
      primaryKey = t.primaryKey.map((k) => back2src.get(k)!);
    }
    if (left.length) {
      findings.push({
        severity: 'info',
        field,
        message: `not written back: ${left.join('; ')}`,
      });
    }
    // Source columns nobody writes: inserts take their default; NOT NULL without a default refuses them.
    const refused = srcTable.columns.filter(
      (s) =>
        !written.has(s.name) &&
        !s.nullable &&
        s.default === undefined &&
        s.identity === undefined &&
        s.generated === undefined,
    );
    if (refused.length) {
      findings.push({
        severity: 'warning',
        field,
        message:
          `source column(s) ${refused.map((s) => `"${s.name}"`).join(', ')} are NOT NULL without a default and get ` +
          `no value from the target: rows inserted on the target after cutover are refused on the source ` +
          `(recorded in ferry.cdc_exceptions); give them a default on the source before fallback`,
      });
    }
    tables.push({
      source: { schema: t.target.schema, name: t.target.name, kind: srcTable.kind },
      target: { schema: t.source.schema, name: t.source.name },
      columns,
      primaryKey,
      segments: { method: 'none', count: 1 },
      // Never cut a value on the way back.
      lob: { mode: 'full', maxBytes: 0 },
      loadOrder: t.loadOrder,
      estimatedRows: t.estimatedRows,
      bytes: t.bytes,
      rules: [...t.rules],
    });
  }
  for (const s of skipped) {
    findings.push({
      severity: 'warning',
      field: `reverse ${displayName(s.schema, s.name)}`,
      message: `not replicated back: ${s.reason}`,
    });
  }
  return {
    tables,
    skipped,
    settings: { ...plan.settings, targetSchema: '' },
    findings,
  };
}

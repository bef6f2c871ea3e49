// Sequence values after the load (and again at cutover): each migrated column's sequence on the target
// (identity or a nextval default) is set to its source sequence's state, so new rows get new keys.
import type { Finding, MigrationPlan } from '../../mapping/types';
import { prepareCatalogSession } from '../catalog';
import { type PgConnInfo, connectPg } from '../connection';
import { displayName, qualify } from '../ident';
import { classifyCopyError } from './copy';
import { type ColumnSequence, readColumnSequences, relKey, resolveRelations } from './introspect';

export interface SyncedSequence {
  /** Source and target sequences, `schema.name` for people. */
  source: string;
  target: string;
  /** The value set; with isCalled false, the next nextval returns it (the sequence was never used). */
  value: string;
  isCalled: boolean;
}

export interface SequenceReport {
  /** Target sequences set. */
  sequences: number;
  synced: SyncedSequence[];
  findings: Finding[];
}

/**
 * Set every target sequence behind a migrated column (identity, or a DEFAULT calling nextval) to its
 * source sequence's last value, `setval(target, last_value, true)`, or to its start value with
 * is_called false when the source sequence was never used. Columns are matched through the plan (renamed
 * tables and columns included); sequences no migrated column uses are not touched. A sequence the
 * source user may not read, or a value the target type cannot hold, becomes a finding.
 */
export async function syncSequences(
  source: PgConnInfo,
  target: PgConnInfo,
  plan: MigrationPlan,
): Promise<SequenceReport> {
  const tables = plan.tables.filter((t) => t.source.kind !== 'view');
  const report: SequenceReport = { sequences: 0, synced: [], findings: [] };
  const src = await columnSequences(
    source,
    tables.map((t) => t.source),
  );
  const tgt = await columnSequences(
    target,
    tables.map((t) => t.target),
  );

  const done = new Set<string>();
  const sets: { s: ColumnSequence; t: ColumnSequence }[] = [];
  for (const t of tables) {
    for (const col of t.columns) {
      if (col.source === undefined) continue;
      const s = src.get(relKey(relKey(t.source.schema, t.source.name), col.source));
      const d = tgt.get(relKey(relKey(t.target.schema, t.target.name), col.target));
      if (!s || !d || done.has(d.seqid)) continue;
      done.add(d.seqid);
      sets.push({ s, t: d });
    }
  }

  const c = await connectPg(target, 'ferry-sequences');
  try {
    for (const { s, t } of sets) {
      const field = displayName(s.seqSchema, s.seqName);
      if (!s.readable) {
        report.findings.push({
          severity: 'warning',
          field,
          message: `sequence ${field} cannot be read by the source user (no SELECT or USAGE); ${displayName(t.seqSchema, t.seqName)} on the target is left as it is`,
        });
        continue;
      }
      const value = s.lastValue ?? s.start;
      const isCalled = s.lastValue !== null;
      try {
        await c.query(`SELECT pg_catalog.setval($1::regclass, $2::int8, $3)`, [
          qualify(t.seqSchema, t.seqName),
          value,
          isCalled,
        ]);
      } catch (err) {
        report.findings.push({
          severity: 'error',
          field,
          message: `sequence ${displayName(t.seqSchema, t.seqName)} could not be set to ${value} (${(err as Error).message}); set it by hand before writing to the target`,
        });
        continue;
      }
      report.synced.push({ source: field, target: displayName(t.seqSchema, t.seqName), value, isCalled });
      report.sequences++;
    }
  } catch (err) {
    throw classifyCopyError(err, target);
  } finally {
    await c.end().catch(() => undefined);
  }
  return report;
}

/** relKey(relKey(schema, table), column) → the column's sequence, on one server. */
async function columnSequences(
  conn: PgConnInfo,
  names: { schema: string; name: string }[],
): Promise<Map<string, ColumnSequence>> {
  const c = await connectPg(conn, 'ferry-sequences');
  try {
    await prepareCatalogSession(c);
    const relations = await resolveRelations(c, names);
    const byOid = new Map([...relations.values()].map((r) => [r.oid, r]));
    const out = new Map<string, ColumnSequence>();
    for (const s of await readColumnSequences(c, [...byOid.keys()])) {
      const r = byOid.get(s.relid)!;
      out.set(relKey(relKey(r.schema, r.name), s.column), s);
    }
    return out;
  } catch (err) {
    throw classifyCopyError(err, conn);
  } finally {
    await c.end().catch(() => undefined);
  }
}

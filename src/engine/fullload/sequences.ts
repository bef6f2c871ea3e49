// Sequence values after the load (and again at cutover): each migrated column's sequence on the target
// (identity or a nextval default), and each standalone sequence of a migrated schema, is set to its
// source sequence's state, so new rows get new keys and the application's own nextval calls go on.
import type { Client } from 'pg';
import type { Finding, MigrationPlan } from '../../mapping/types';
import { prepareCatalogSession } from '../catalog';
import { type PgConnInfo, connectPg } from '../connection';
import { displayName, qualify } from '../ident';
import { classifyCopyError } from './copy';
import {
  type ColumnSequence,
  type SequenceDef,
  readColumnSequences,
  readSchemaSequences,
  readSequenceStates,
  relKey,
  resolveRelations,
} from './introspect';

export interface SyncedSequence {
  /** Source and target sequences, `schema.name` for people. */
  source: string;
  target: string;
  /** The value set; with isCalled false, the next nextval returns it (the sequence was never used). */
  value: string;
  isCalled: boolean;
  /** No migrated column uses it (the application calls it itself). */
  standalone: boolean;
}

export interface SequenceReport {
  /** Target sequences set. */
  sequences: number;
  /** Of those, standalone sequences (no migrated column uses them). */
  standalone: number;
  synced: SyncedSequence[];
  findings: Finding[];
}

/** Where a standalone sequence (one no migrated column uses) goes on the target: its own name. */
export interface StandaloneSequence {
  source: SequenceDef;
  schema: string;
  name: string;
  qualified: string;
}

/**
 * Source schema → target schema of its standalone sequences, for every schema the plan reads from: the
 * one target schema all its planned tables go to (a schema rename, TargetSchema), else its own name,
 * since a sequence then belongs to no one table's target schema more than another's.
 */
export function sequenceSchemas(plan: MigrationPlan): Map<string, string> {
  const targets = new Map<string, Set<string>>();
  for (const t of plan.tables) {
    if (!targets.has(t.source.schema)) targets.set(t.source.schema, new Set());
    targets.get(t.source.schema)!.add(t.target.schema);
  }
  return new Map([...targets].map(([s, ts]) => [s, ts.size === 1 ? [...ts][0] : s]));
}

/**
 * Standalone sequences and their target names: `defs` (readSchemaSequences over sequenceSchemas'
 * schemas) minus those a migrated column uses (`used`, by seqid), which go with their column. They
 * keep their names, which the application calls them by; a second one landing on a taken target name
 * (two source schemas merged into one) is left out, with a finding when `findings` is given. Pre-data
 * and syncSequences both place them here, so they agree on every name.
 */
export function placeStandaloneSequences(
  plan: MigrationPlan,
  defs: SequenceDef[],
  used: Set<string>,
  findings?: Finding[],
): StandaloneSequence[] {
  const schemas = sequenceSchemas(plan);
  const byTarget = new Map<string, SequenceDef>();
  const out: StandaloneSequence[] = [];
  for (const s of defs) {
    const schema = schemas.get(s.seqSchema);
    if (schema === undefined || used.has(s.seqid)) continue;
    const first = byTarget.get(relKey(schema, s.seqName));
    if (first) {
      findings?.push({
        severity: 'warning',
        field: displayName(s.seqSchema, s.seqName),
        message:
          `sequence ${displayName(s.seqSchema, s.seqName)} would be ${displayName(schema, s.seqName)} on the target, ` +
          `where ${displayName(first.seqSchema, first.seqName)} goes already; it is not migrated, create it by hand under another name`,
      });
      continue;
    }
    byTarget.set(relKey(schema, s.seqName), s);
    out.push({ source: s, schema, name: s.seqName, qualified: qualify(schema, s.seqName) });
  }
  return out;
}

/**
 * Set every target sequence behind a migrated column (identity, or a DEFAULT calling nextval) to its
 * source sequence's state, `setval(target, last_value, is_called)`: with is_called false the next
 * nextval returns last_value itself (a sequence never used, or reset by setval(s, v, false)). Columns
 * are matched through the plan (renamed tables and columns included). Then the same for the standalone sequences of the plan's schemas that
 * pre-data created (see placeStandaloneSequences); a sequence owned by a column of a table the plan
 * leaves out is left out too. Values are read as they are now: sequences are not transactional, so
 * the load's snapshot would not show older ones anyway. A sequence the source user may not read, or a
 * value the target type cannot hold, becomes a finding.
 */
export async function syncSequences(
  source: PgConnInfo,
  target: PgConnInfo,
  plan: MigrationPlan,
): Promise<SequenceReport> {
  const tables = plan.tables.filter((t) => t.source.kind !== 'view');
  const report: SequenceReport = { sequences: 0, standalone: 0, synced: [], findings: [] };
  const src = await readSequences(
    source,
    tables.map((t) => t.source),
    [...sequenceSchemas(plan).keys()],
    true,
  );
  const tgt = await readSequences(
    target,
    tables.map((t) => t.target),
    [],
    false,
  );

  const done = new Set<string>();
  const used = new Set<string>();
  const sets: { s: SequenceDef; t: { schema: string; name: string }; standalone: boolean }[] = [];
  for (const t of tables) {
    for (const col of t.columns) {
      if (col.source === undefined) continue;
      const s = src.columns.get(relKey(relKey(t.source.schema, t.source.name), col.source));
      if (s) used.add(s.seqid);
      const d = tgt.columns.get(relKey(relKey(t.target.schema, t.target.name), col.target));
      if (!s || !d || done.has(d.seqid)) continue;
      done.add(d.seqid);
      sets.push({ s, t: { schema: d.seqSchema, name: d.seqName }, standalone: false });
    }
  }
  const standalone = placeStandaloneSequences(plan, src.schema, used);

  const c = await connectPg(target, 'ferry-sequences');
  try {
    const oids = await targetSequences(
      c,
      standalone.map((p) => p.qualified),
    );
    for (const p of standalone) {
      const field = displayName(p.source.seqSchema, p.source.seqName);
      const oid = oids.get(p.qualified);
      if (oid === undefined || done.has(oid)) {
        report.findings.push({
          severity: 'warning',
          field,
          message:
            oid === undefined
              ? `sequence ${displayName(p.schema, p.name)} does not exist on the target (pre-data creates it); ${field} is not synced`
              : `sequence ${displayName(p.schema, p.name)} on the target serves a migrated column and was set from that column's sequence; ${field} is not synced`,
        });
        continue;
      }
      done.add(oid);
      sets.push({ s: p.source, t: { schema: p.schema, name: p.name }, standalone: true });
    }

    for (const { s, t, standalone: alone } of sets) {
      const field = displayName(s.seqSchema, s.seqName);
      const name = displayName(t.schema, t.name);
      if (!s.readable) {
        report.findings.push({
          severity: 'warning',
          field,
          message: `sequence ${field} cannot be read by the source user (no SELECT or USAGE); ${name} on the target is left as it is`,
        });
        continue;
      }
      // Without SELECT (USAGE only), pg_sequence_last_value is all there is: NULL reads as never used.
      const state = src.states.get(s.seqid);
      const value = state?.lastValue ?? s.lastValue ?? s.start;
      const isCalled = state?.isCalled ?? s.lastValue !== null;
      try {
        await c.query(`SELECT pg_catalog.setval($1::regclass, $2::int8, $3)`, [
          qualify(t.schema, t.name),
          value,
          isCalled,
        ]);
      } catch (err) {
        report.findings.push({
          severity: 'error',
          field,
          message: `sequence ${name} could not be set to ${value} (${(err as Error).message}); set it by hand before writing to the target`,
        });
        continue;
      }
      report.synced.push({ source: field, target: name, value, isCalled, standalone: alone });
      report.sequences++;
      if (alone) report.standalone++;
    }
  } catch (err) {
    throw classifyCopyError(err, target);
  } finally {
    await c.end().catch(() => undefined);
  }
  return report;
}

/**
 * On one server: relKey(relKey(schema, table), column) → the column's sequence, the sequences of
 * `schemas` that may be standalone (readSchemaSequences, the named tables counting as migrated), and
 * with `states` the last_value and is_called of those it may SELECT from, by seqid.
 */
async function readSequences(
  conn: PgConnInfo,
  names: { schema: string; name: string }[],
  schemas: string[],
  states: boolean,
): Promise<{
  columns: Map<string, ColumnSequence>;
  schema: SequenceDef[];
  states: Map<string, { lastValue: string; isCalled: boolean }>;
}> {
  const c = await connectPg(conn, 'ferry-sequences');
  try {
    await prepareCatalogSession(c);
    const relations = await resolveRelations(c, names);
    const byOid = new Map([...relations.values()].map((r) => [r.oid, r]));
    const columns = new Map<string, ColumnSequence>();
    for (const s of await readColumnSequences(c, [...byOid.keys()])) {
      const r = byOid.get(s.relid)!;
      columns.set(relKey(relKey(r.schema, r.name), s.column), s);
    }
    const schema = await readSchemaSequences(c, schemas, [...byOid.keys()]);
    const selectable = new Map(
      [...columns.values(), ...schema].filter((s) => s.selectable).map((s) => [s.seqid, s]),
    );
    return {
      columns,
      schema,
      states: states ? await readSequenceStates(c, [...selectable.values()]) : new Map(),
    };
  } catch (err) {
    throw classifyCopyError(err, conn);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Qualified name → oid of the sequences that exist under those names on the target. */
async function targetSequences(c: Client, names: string[]): Promise<Map<string, string>> {
  if (names.length === 0) return new Map();
  const { rows } = await c.query<{ q: string; oid: string }>(
    `SELECT u.q, s.oid::int8::text AS oid FROM unnest($1::text[]) AS u(q)
       JOIN pg_catalog.pg_class s ON s.oid = pg_catalog.to_regclass(u.q) AND s.relkind = 'S'`,
    [names],
  );
  return new Map(rows.map((r) => [r.q, r.oid]));
}

// Sequences at cutover: every target sequence syncSequences maps (column sequences through the plan,
// standalone ones of the plan's schemas) is set `margin` past max(source value, target value), so the
// application's first rows on the target never take a key the source (or an earlier cutover attempt
// on the target) already handed out. Descending sequences go `margin` below the minimum instead.
import type { Client } from 'pg';
import type { Finding, MigrationPlan } from '../../mapping/types';
import { prepareCatalogSession } from '../catalog';
import { type PgConnInfo, classifyPgError, connectPg } from '../connection';
import { readSequenceStates } from '../fullload/introspect';
import { syncSequences } from '../fullload/sequences';
import { displayName, qualify } from '../ident';

export const DEFAULT_SEQUENCE_MARGIN = 1000;

export interface SequenceAbove {
  /** Source and target sequences, `schema.name` for people. */
  source: string;
  target: string;
  /** The source's last_value (or next value when never called). */
  sourceValue: string;
  /** The target's last_value before cutover; absent when the target sequence was never used. */
  targetValue?: string;
  /** What the target sequence was set to (is_called true: the next nextval returns value + increment). */
  value: string;
}

export interface SequencesAboveReport {
  margin: number;
  sequences: SequenceAbove[];
  findings: Finding[];
}

interface TargetSeq {
  schema: string;
  name: string;
  increment: bigint;
  lastValue?: string;
}

/**
 * For the plan's sequences: target = max(source, target) + margin (default 1000). Uses syncSequences
 * to find and map them (it sets the target to the source's state), having read the target's values
 * before, then moves each past both. Sequences syncSequences reports as findings are passed on. Run it
 * while writes are frozen: the source must not move after it is read.
 */
export async function syncSequencesAbove(
  source: PgConnInfo,
  target: PgConnInfo,
  plan: MigrationPlan,
  margin = DEFAULT_SEQUENCE_MARGIN,
): Promise<SequencesAboveReport> {
  if (!Number.isSafeInteger(margin) || margin < 0)
    throw new RangeError(`sequence margin must be an integer >= 0, got ${margin}`);
  const before = await targetSequences(target);
  const synced = await syncSequences(source, target, plan);
  const report: SequencesAboveReport = { margin, sequences: [], findings: [...synced.findings] };
  const c = await connectPg(target, 'ferry-cutover-sequences');
  try {
    for (const s of synced.synced) {
      const t = before.get(s.target);
      const up = !t || t.increment > 0n;
      const candidates = [BigInt(s.value), ...(t?.lastValue !== undefined ? [BigInt(t.lastValue)] : [])];
      const base = candidates.reduce((a, b) => (up ? (b > a ? b : a) : b < a ? b : a));
      const value = (up ? base + BigInt(margin) : base - BigInt(margin)).toString();
      try {
        await c.query(`SELECT pg_catalog.setval($1::regclass, $2::int8, true)`, [
          qualifiedOf(t, s.target),
          value,
        ]);
      } catch (err) {
        report.findings.push({
          severity: 'error',
          field: s.source,
          message:
            `sequence ${s.target} could not be set to ${value} (source ${s.value} + margin ${margin}): ` +
            `${(err as Error).message}; set it by hand before the application writes to the target`,
        });
        continue;
      }
      report.sequences.push({
        source: s.source,
        target: s.target,
        sourceValue: s.value,
        ...(t?.lastValue !== undefined ? { targetValue: t.lastValue } : {}),
        value,
      });
    }
  } catch (err) {
    throw classifyPgError(err, target);
  } finally {
    await c.end().catch(() => undefined);
  }
  return report;
}

/** syncSequences names targets with displayName; the regclass text is qualify() of the same parts. */
function qualifiedOf(t: TargetSeq | undefined, display: string): string {
  return t ? qualify(t.schema, t.name) : display;
}

/** Every sequence of the target's user schemas, by displayName, with increment and (if used) last_value. */
async function targetSequences(conn: PgConnInfo): Promise<Map<string, TargetSeq>> {
  const c: Client = await connectPg(conn, 'ferry-cutover-sequences');
  try {
    await prepareCatalogSession(c);
    const { rows } = await c.query<{ seqid: string; schema: string; name: string; inc: string }>(
      `SELECT s.seqrelid::int8::text AS seqid, n.nspname AS schema, c.relname AS name, s.seqincrement::text AS inc
         FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          AND c.relkind = 'S' AND pg_catalog.has_table_privilege(c.oid, 'SELECT')`,
    );
    const states = await readSequenceStates(
      c,
      rows.map((r) => ({ seqid: r.seqid, seqSchema: r.schema, seqName: r.name })),
    );
    const out = new Map<string, TargetSeq>();
    for (const r of rows) {
      const st = states.get(r.seqid);
      out.set(displayName(r.schema, r.name), {
        schema: r.schema,
        name: r.name,
        increment: BigInt(r.inc),
        ...(st?.isCalled ? { lastValue: st.lastValue } : {}),
      });
    }
    return out;
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await c.end().catch(() => undefined);
  }
}

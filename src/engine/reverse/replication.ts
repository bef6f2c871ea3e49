// Reverse replication for fallback: after cutover the application writes to the target, and the source
// is kept current by streaming the target's changes back (publication and slot on the target, apply on
// the source), so falling back loses nothing. The forward CDC machinery does the work with the endpoints
// swapped and the plan reversed (plan.ts); this module names, checks, creates and drops what it needs.
//
// Order at cutover, and why: source writes frozen → forward lag drained to zero → forward CDC stopped
// (its slot on the source must not stream on: it would send the reverse-applied rows back to the
// target) → prepareReverse (the slot starts here, so every later target write is captured) → the
// application switches to the target → runReverse for as long as fallback must stay possible →
// dropReverse once it need not (a leftover slot keeps WAL on the target until its disk fills).
import { ErrorType, FerryError } from '../../errors';
import type { MigrationPlan, SourceCatalog } from '../../mapping/types';
import { readSourceCatalog } from '../catalog';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint } from '../connection';
import { migrationObjectName, qualify } from '../ident';
import { runCdc } from '../cdc/runner';
import {
  cdcTables,
  checkCdcSource,
  createSlot,
  dropPublication,
  ensurePublication,
  slotInfo,
} from '../cdc/source';
import type { CdcProgress } from '../cdc/types';
import { dropSlot } from '../fullload/snapshot';
import { reversePlan } from './plan';

const PREFIX = 'ferry_rev_';

/**
 * `ferry_rev_<migration>`, the name of both the reverse slot and the reverse publication on the target:
 * lower case, [a-z0-9_] only (what a slot name allows), at most 63 bytes; when that loses information
 * (other characters, upper case, too long) a hash of the full name is appended, so two migrations never
 * share a slot. Stable: a retried call finds what an earlier one created.
 */
export function reverseSlotName(migration: string): string {
  return migrationObjectName(PREFIX, migration);
}

/** The migration name reverse progress is kept under in ferry.cdc_progress on the source. */
export function reverseMigrationName(migration: string): string {
  return `${migration}:reverse`;
}

/**
 * The reverse apply session must write into a source frozen for cutover with
 * ALTER DATABASE ... SET default_transaction_read_only = on; this lifts it for that session only.
 */
const READ_WRITE_SESSION = 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE';

export interface ReverseEndpoints {
  migration: string;
  /** The forward plan (source → target), as compiled for the migration. */
  plan: MigrationPlan;
  /** The new primary (Aurora): where the reverse slot and publication live. */
  target: PgConnInfo;
  /** The original source: where the changes go back to. */
  source: PgConnInfo;
  /** The source catalog to reverse against (types, keys); default: read from `source` now. */
  catalog?: SourceCatalog;
}

export interface ReverseSetup {
  slotName: string;
  publication: string;
  /** Where the slot starts: every target change after it is captured. */
  startLsn: string;
  /** False when the slot existed already (a retried call). */
  created: boolean;
  /** The reverse plan: target tables → source tables, with the tables that cannot go back in `skipped`. */
  plan: MigrationPlan;
}

/**
 * At cutover (source writes frozen, forward lag zero, before the application switches): check the
 * target can feed logical replication, then create the publication of the reversible target tables and
 * the pgoutput slot `reverseSlotName(migration)`, so everything written on the target from now on is
 * captured. Idempotent: an existing publication is extended, an existing slot of that name is reused
 * (its confirmed position is returned as startLsn); while a runReverse streams from it, the check refuses
 * (a slot serves one session at a time).
 * @throws REPLICATION_NOT_READY listing every problem with its fix (wal_level / rds.logical_replication,
 * REPLICATION / rds_replication, free slots and senders, tables without a key or replica identity, a
 * slot that is busy or of the wrong kind); CONFIG_INVALID when no table can go back.
 */
export async function prepareReverse(opts: ReverseEndpoints): Promise<ReverseSetup> {
  const name = reverseSlotName(opts.migration);
  const catalog = opts.catalog ?? (await readSourceCatalog(opts.source));
  const plan = reversePlan(opts.plan, catalog);
  if (!plan.tables.length) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `migration ${opts.migration}: no table can be replicated back to ${describeEndpoint(opts.source)}: ` +
        (plan.skipped.map((s) => `${s.schema}.${s.name}: ${s.reason}`).join('; ') ||
          'the plan has no tables') +
        `; fallback needs the restore point instead`,
    );
  }
  await keylessIdentityFull(opts.target, cdcTables(plan));
  const preflight = await checkCdcSource(opts.target, plan, {
    slotName: name,
    publication: name,
    mode: 'cdc',
  });
  const errors = preflight.findings.filter((f) => f.severity === 'error');
  if (errors.length) {
    throw new FerryError(
      ErrorType.REPLICATION_NOT_READY,
      `${describeEndpoint(opts.target)} cannot feed reverse replication (fallback) to ${describeEndpoint(opts.source)} ` +
        `(slot and publication ${name}); fix ${errors.length === 1 ? 'this' : `these ${errors.length} problems`} ` +
        `on the target and prepare again:\n` +
        errors.map((f) => `- ${f.object}: ${f.message}. Fix: ${f.advice}`).join('\n'),
    );
  }
  // The publication before the slot: a change written before its publication exists cannot be decoded.
  await ensurePublication(opts.target, name, cdcTables(plan));
  const existing = preflight.slot ?? (await slotInfo(opts.target, name));
  if (existing) {
    return {
      slotName: name,
      publication: name,
      startLsn: existing.confirmedFlushLsn ?? '0/0',
      created: false,
      plan,
    };
  }
  try {
    const slot = await createSlot(opts.target, name);
    return { slotName: name, publication: name, startLsn: slot.lsn, created: true, plan };
  } catch (err) {
    // Another attempt created it between the check and now: the same slot, reuse it.
    const raced =
      err instanceof FerryError && err.type === ErrorType.REPLICATION_SLOT_EXISTS
        ? await slotInfo(opts.target, name)
        : undefined;
    if (!raced) throw err;
    return {
      slotName: name,
      publication: name,
      startLsn: raced.confirmedFlushLsn ?? '0/0',
      created: false,
      plan,
    };
  }
}

export interface RunReverseOptions extends ReverseEndpoints {
  /** Aborting stops gracefully (the batch being applied commits first). */
  signal?: AbortSignal;
  onProgress?: (p: CdcProgress) => void;
  /** Return once everything the target wrote up to this LSN is on the source. */
  untilLsn?: string;
  /** Default 2000 ms. */
  progressIntervalMs?: number;
}

/**
 * Stream the target's reverse slot and apply into the source (runCdc with the endpoints swapped and the
 * plan reversed) until `signal` aborts or `untilLsn` is reached. The position is kept in
 * ferry.cdc_progress on the source under `<migration>:reverse`, in the same transaction as the changes,
 * so a rerun resumes without duplicates. The apply session is read-write even when the source database
 * was frozen read-only for cutover; it runs with session_replication_role = replica, as forward CDC does.
 * @throws REPLICATION_NOT_READY when prepareReverse has not created the slot; otherwise what runCdc throws.
 */
export async function runReverse(opts: RunReverseOptions): Promise<CdcProgress> {
  const name = reverseSlotName(opts.migration);
  const slot = await slotInfo(opts.target, name);
  if (!slot) {
    throw new FerryError(
      ErrorType.REPLICATION_NOT_READY,
      `${describeEndpoint(opts.target)} has no reverse replication slot ${name} for migration ${opts.migration}: ` +
        `run prepareReverse at cutover (before the application writes to the target); changes written on the ` +
        `target before a slot exists cannot be replicated back, so the source must then be restored from the target`,
    );
  }
  const catalog = opts.catalog ?? (await readSourceCatalog(opts.source));
  const plan = reversePlan(opts.plan, catalog);
  // The applier casts the streamed values from the target's column types.
  const targetCatalog = await readSourceCatalog(opts.target);
  return runCdc({
    migration: reverseMigrationName(opts.migration),
    source: opts.target,
    target: opts.source,
    plan,
    catalog: targetCatalog,
    slotName: name,
    publication: name,
    targetSessionSql: [READ_WRITE_SESSION],
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.untilLsn !== undefined ? { untilLsn: opts.untilLsn } : {}),
    ...(opts.progressIntervalMs !== undefined ? { progressIntervalMs: opts.progressIntervalMs } : {}),
  });
}

/**
 * Drop the reverse slot and publication on the target, once fallback is no longer needed (a kept slot
 * holds the target's WAL forever). Waits up to 10 s for a run still streaming from the slot to let go.
 * Idempotent: says what it found.
 */
export async function dropReverse(opts: {
  target: PgConnInfo;
  migration: string;
}): Promise<{ slotDropped: boolean; publicationDropped: boolean }> {
  const name = reverseSlotName(opts.migration);
  const slotDropped = await dropSlot(opts.target, name);
  const publicationDropped = await dropPublication(opts.target, name);
  return { slotDropped, publicationDropped };
}

/**
 * Key-less tables Ferry created on the target get REPLICA IDENTITY FULL (as their source tables need for
 * forward CDC): without it their UPDATE and DELETE could not go back, and PostgreSQL would refuse them
 * on the target once published. Tables with a primary key or another identity are left alone.
 */
async function keylessIdentityFull(
  target: PgConnInfo,
  tables: { schema: string; name: string }[],
): Promise<void> {
  if (!tables.length) return;
  const c = await connectPg(target, 'ferry-reverse');
  try {
    await c.query('SET default_transaction_read_only = off');
    const { rows } = await c.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM unnest($1::text[], $2::text[]) AS t(schema, name)
         JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema
         JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
        WHERE c.relkind = 'r' AND c.relreplident = 'd'
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)`,
      [tables.map((t) => t.schema), tables.map((t) => t.name)],
    );
    for (const r of rows) await c.query(`ALTER TABLE ${qualify(r.schema, r.name)} REPLICA IDENTITY FULL`);
  } catch (err) {
    throw classifyPgError(err, target);
  } finally {
    await c.end().catch(() => undefined);
  }
}

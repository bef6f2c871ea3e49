// Comparing one chunk, or a list of keys, between source and target, and recording what differs.
//
// The pending-record rule (CDC): the target is the source as of the applied position P, the source is
// read in a snapshot whose WAL position S is taken inside it (pg_current_wal_insert_lsn(): every
// transaction the snapshot sees ended before S). With CDC running, a fresh difference may be a change
// on its way, so it is recorded `pending` with S and the source row's hash. It is confirmed
// (`mismatched`) by a later check that reads the target first (P taken before its snapshot: the
// slot's confirmed position, and the stored one inside it), then the source (S2 >= P), when P has
// passed S and the source row hash is still the one seen at S: the row did not change between S and
// S2, so the target, somewhere in between, must hold it, and does not. Without CDC, a difference is
// confirmed at once. A pending key older than RecordFailureDelayLimitInMinutes is confirmed too.
import type { Client } from 'pg';
import { type Sessions, runPool } from '../fullload/pool';
import { classifyPgError } from '../connection';
import { compareLsn, maxLsn } from '../cdc/types';
import {
  type FailureWrite,
  type StoredChunk,
  type StoredFailure,
  deleteChunk,
  failuresOf,
  resolveFailures,
  writeChunk,
  writeFailures,
} from './control';
import type { AppliedPosition } from './position';
import type { TableShape } from './shape';
import { type KeyRange, type Side, chunkSumSql, keyedRowsSql, rowListSql } from './sql';
import type { FailureKind, FailureStatus, ValidationConfig } from './types';

/** Pending for longer than RecordFailureDelayLimitInMinutes (when set): confirmed if it still differs. */
export function overdue(cfg: ValidationConfig, detectedAt: Date): boolean {
  const limitMs = cfg.recordFailureDelayLimitMinutes * 60_000;
  return limitMs > 0 && Date.now() - detectedAt.getTime() >= limitMs;
}

/** Differing rows of one chunk recorded key by key; above this (during CDC) the chunk waits as a whole. */
export const MAX_KEYS_PER_CHUNK = 1000;
/** Keys read per statement when re-checking. */
const KEYS_PER_READ = 500;

/** What the comparison of one migration shares between tables and chunks. */
export interface CompareContext {
  migration: string;
  cfg: ValidationConfig;
  /** CDC runs (or may run): differences start as pending. */
  cdc: boolean;
  /** Writes the control tables. */
  control: Client;
  sources: Sessions;
  targets: Sessions;
  position: AppliedPosition;
  /** At most ThreadCount comparisons at once. */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
  signal?: AbortSignal;
}

export interface CompareOutcome {
  sourceRows: number;
  targetRows: number;
  /** The two sides held different rows. */
  mismatched: boolean;
  /** Rows that differ (all of them, also beyond what was recorded). */
  differing: number;
  /** Failures recorded as mismatched / pending by this comparison (a chunk recorded whole counts one). */
  confirmed: number;
  pending: number;
  resolved: number;
}

/** One row read by key: key texts, row hash, shown values, LOB hashes. */
interface KeyedRow {
  keys: string[];
  hash: string;
  /** Rows with this key (more than one: the side lacks the uniqueness the key needs). */
  count: number;
  shows: (string | null)[];
  lobs: string[];
}

const keyId = (texts: readonly string[]) => JSON.stringify(texts);

export function keyObject(shape: TableShape, texts: readonly string[]): Record<string, string> {
  return Object.fromEntries(shape.keys.map((k, i) => [k.name, texts[i]]));
}

async function beginSource(s: Client): Promise<string> {
  await s.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  // The first statement takes the snapshot, then reads the position: every transaction the snapshot
  // sees has its commit record before it. The insert position, not the write position, because with
  // synchronous_commit = off a commit is visible before its record is written out.
  const { rows } = await s.query<{ lsn: string }>(
    `SELECT (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
                  ELSE pg_catalog.pg_current_wal_insert_lsn() END)::text AS lsn`,
  );
  return rows[0].lsn;
}

async function beginTarget(ctx: CompareContext, t: Client): Promise<string | undefined> {
  await t.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  // In the same snapshot as the rows: CDC stores its position in the transaction of the changes.
  return ctx.cdc ? ctx.position.inTarget(t) : undefined;
}

const maxOpt = (a?: string, b?: string) => (a && b ? maxLsn(a, b) : (a ?? b));

/** A source and a target session for one comparison; sessions that failed are closed, not reused. */
async function withPair<T>(ctx: CompareContext, fn: (s: Client, t: Client) => Promise<T>): Promise<T> {
  return ctx.limit(async () => {
    ctx.signal?.throwIfAborted();
    const [s, t] = await Promise.allSettled([ctx.sources.acquire(), ctx.targets.acquire()]);
    if (s.status === 'rejected' || t.status === 'rejected') {
      if (s.status === 'fulfilled') await ctx.sources.release(s.value, true);
      if (t.status === 'fulfilled') await ctx.targets.release(t.value, true);
      throw s.status === 'rejected' ? s.reason : (t as PromiseRejectedResult).reason;
    }
    let ok = false;
    try {
      const out = await fn(
        tagged(s.value, (e) => classifyPgError(e, ctx.sources.conn)),
        tagged(t.value, (e) => classifyPgError(e, ctx.targets.conn)),
      );
      ok = true;
      return out;
    } finally {
      await Promise.all([ctx.sources.release(s.value, ok), ctx.targets.release(t.value, ok)]);
    }
  });
}

/** The client with its query errors classified for its endpoint (so messages name the right side). */
function tagged(c: Client, classify: (e: unknown) => Error): Client {
  return new Proxy(c, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return (...args: unknown[]) =>
        (target.query as (...a: unknown[]) => Promise<unknown>).apply(target, args).catch((e: unknown) => {
          throw classify(e);
        });
    },
  });
}

async function sumOf(c: Client, sql: string): Promise<{ n: number; h: string }> {
  const { rows } = await c.query<{ n: string; h: string }>(sql);
  return { n: Number(rows[0].n), h: rows[0].h };
}

async function fetchKeyed(
  c: Client,
  shape: TableShape,
  side: Side,
  keys: string[][],
): Promise<Map<string, KeyedRow>> {
  const out = new Map<string, KeyedRow>();
  if (!keys.length) return out;
  const n = shape.keys.length;
  const m = shape.columns.length;
  const params = shape.keys.map((_, i) => keys.map((k) => k[i]));
  const { rows } = await c.query<(string | null)[]>({
    text: keyedRowsSql(shape, side),
    values: params,
    rowMode: 'array',
  });
  for (const r of rows) {
    const row: KeyedRow = {
      keys: r.slice(0, n) as string[],
      hash: r[n] as string,
      count: 1,
      shows: r.slice(n + 1, n + 1 + m),
      lobs: r.slice(n + 1 + m) as string[],
    };
    const id = keyId(row.keys);
    const seen = out.get(id);
    if (seen) seen.count++;
    else out.set(id, row);
  }
  return out;
}

/** Keys whose rows differ between two (key texts..., hash) lists; a key twice on one side differs too. */
function diffLists(n: number, src: (string | null)[][], tgt: (string | null)[][]): string[][] {
  const index = (rows: (string | null)[][]) => {
    const m = new Map<string, { keys: string[]; hash: string; count: number }>();
    for (const r of rows) {
      const keys = r.slice(0, n) as string[];
      const id = keyId(keys);
      const e = m.get(id);
      if (e) e.count++;
      else m.set(id, { keys, hash: r[n] as string, count: 1 });
    }
    return m;
  };
  const a = index(src);
  const b = index(tgt);
  const out: string[][] = [];
  for (const [id, t] of b) {
    const s = a.get(id);
    if (!s || s.hash !== t.hash || s.count !== t.count) out.push(t.keys);
  }
  for (const [id, s] of a) if (!b.has(id)) out.push(s.keys);
  return out;
}

/** Kind, differing columns and both sides' values of a key that differs. */
function describeDiff(
  shape: TableShape,
  src: KeyedRow | undefined,
  tgt: KeyedRow | undefined,
): {
  kind: FailureKind;
  columns?: string[];
  source?: Record<string, string | null>;
  target?: Record<string, string | null>;
} {
  const values = (r: KeyedRow) => Object.fromEntries(shape.columns.map((c, i) => [c.name, r.shows[i]]));
  if (src && !tgt) return { kind: 'missing-on-target', source: values(src) };
  if (!src && tgt) return { kind: 'extra-on-target', target: values(tgt) };
  // The same key more than once on one side (no unique constraint there): rows missing or extra.
  if (src!.count !== tgt!.count) {
    return {
      kind: tgt!.count > src!.count ? 'extra-on-target' : 'missing-on-target',
      source: values(src!),
      target: values(tgt!),
    };
  }
  const columns: string[] = [];
  let lob = 0;
  shape.columns.forEach((c, i) => {
    const differs = c.lob ? src!.lobs[lob] !== tgt!.lobs[lob] : src!.shows[i] !== tgt!.shows[i];
    if (c.lob) lob++;
    if (differs) columns.push(c.name);
  });
  return { kind: 'different', columns, source: values(src!), target: values(tgt!) };
}

/**
 * Pending or mismatched (see the rule at the top); during CDC the callers read the target before the
 * source, which the rule needs. `stable`: the whole chunk's source side is unchanged since a check the
 * position has passed.
 */
function decide(
  ctx: CompareContext,
  existing: StoredFailure | undefined,
  sourceMd5: string | null,
  position: string | undefined,
  stable: boolean,
): FailureStatus {
  if (!ctx.cdc || stable) return 'mismatched';
  if (!existing?.open) return 'pending';
  if (existing.status === 'mismatched') return 'mismatched';
  if (
    position &&
    existing.sourceLsn &&
    compareLsn(position, existing.sourceLsn) >= 0 &&
    existing.sourceMd5 === sourceMd5
  )
    return 'mismatched';
  return overdue(ctx.cfg, existing.detectedAt) ? 'mismatched' : 'pending';
}

/** Record the keys that differ, from rows read by key on both sides. */
async function recordKeys(
  ctx: CompareContext,
  shape: TableShape,
  keys: string[][],
  src: Map<string, KeyedRow>,
  tgt: Map<string, KeyedRow>,
  read: { sourceLsn: string; position?: string; stable: boolean },
): Promise<Pick<CompareOutcome, 'confirmed' | 'pending' | 'resolved'>> {
  const json = keys.map((k) => JSON.stringify(keyObject(shape, k)));
  const existing = new Map<string, StoredFailure>();
  for (const f of await failuresOf(ctx.control, ctx.migration, shape.key, json)) {
    existing.set(keyId(shape.keys.map((k) => f.key[k.name])), f);
  }
  const writes: FailureWrite[] = [];
  const resolved: string[] = [];
  keys.forEach((k, i) => {
    const id = keyId(k);
    const s = src.get(id);
    const t = tgt.get(id);
    if ((!s && !t) || (s && t && s.hash === t.hash && s.count === t.count)) {
      resolved.push(json[i]);
      return;
    }
    const sourceMd5 = s?.hash ?? null;
    const status = decide(ctx, existing.get(id), sourceMd5, read.position, read.stable);
    writes.push({ key: json[i], ...describeDiff(shape, s, t), status, sourceMd5, sourceLsn: read.sourceLsn });
  });
  await writeFailures(ctx.control, ctx.migration, shape.key, writes);
  await resolveFailures(ctx.control, ctx.migration, shape.key, resolved);
  const confirmed = writes.filter((w) => w.status === 'mismatched').length;
  return { confirmed, pending: writes.length - confirmed, resolved: resolved.length };
}

/**
 * Compare one key range: count and hash on each side; on a difference, per-row hashes to find the keys,
 * then their values, all in the same two snapshots. `prior`: the chunk's stored row when it is being
 * re-checked as a whole.
 */
export async function compareChunk(
  ctx: CompareContext,
  shape: TableShape,
  range: KeyRange,
  prior?: StoredChunk,
): Promise<CompareOutcome> {
  const r = await withPair(ctx, async (s, t) => {
    const before = ctx.cdc ? await ctx.position.read() : undefined;
    const targetSide = async () => {
      const applied = await beginTarget(ctx, t);
      return { applied, sum: await sumOf(t, chunkSumSql(shape, 'target', range)) };
    };
    const sourceSide = async () => {
      const lsn = await beginSource(s);
      return { lsn, sum: await sumOf(s, chunkSumSql(shape, 'source', range)) };
    };
    const [tr, sr] = await bothSides(ctx.cdc, targetSide, sourceSide);
    const position = maxOpt(before, tr.applied);
    // The chunk's source side did not change since a check the position has passed (or it has been
    // pending past RecordFailureDelayLimitInMinutes): what still differs is confirmed.
    const stable =
      ctx.cdc &&
      !!prior &&
      ((!!prior.sourceLsn &&
        !!position &&
        compareLsn(position, prior.sourceLsn) >= 0 &&
        prior.sourceMd5 === sr.sum.h) ||
        overdue(ctx.cfg, prior.detectedAt));
    const base = {
      sourceRows: sr.sum.n,
      targetRows: tr.sum.n,
      sourceLsn: sr.lsn,
      sourceMd5: sr.sum.h,
      position,
      stable,
    };
    const commit = () => Promise.all([s.query('COMMIT'), t.query('COMMIT')]);
    if (sr.sum.n === tr.sum.n && sr.sum.h === tr.sum.h) {
      await commit();
      return { ...base, how: 'equal' as const };
    }
    if (ctx.cfg.mode === 'GROUP_LEVEL') {
      await commit();
      return { ...base, how: 'group' as const };
    }
    const n = shape.keys.length;
    const [sl, tl] = await Promise.all([
      s.query<(string | null)[]>({ text: rowListSql(shape, 'source', range), rowMode: 'array' }),
      t.query<(string | null)[]>({ text: rowListSql(shape, 'target', range), rowMode: 'array' }),
    ]);
    const diffs = diffLists(n, sl.rows, tl.rows);
    if (!diffs.length) {
      // Same rows, another order: the two servers sort some key type differently. Nothing differs.
      await commit();
      return { ...base, how: 'equal' as const };
    }
    if (diffs.length > MAX_KEYS_PER_CHUNK && ctx.cdc && !stable) {
      await commit();
      return { ...base, how: 'overflow' as const, differing: diffs.length };
    }
    const keys = diffs.slice(0, MAX_KEYS_PER_CHUNK);
    const [sv, tv] = await Promise.all([
      fetchKeyed(s, shape, 'source', keys),
      fetchKeyed(t, shape, 'target', keys),
    ]);
    await commit();
    return { ...base, how: 'keys' as const, differing: diffs.length, keys, sv, tv };
  });

  const out: CompareOutcome = {
    sourceRows: r.sourceRows,
    targetRows: r.targetRows,
    mismatched: r.how !== 'equal',
    differing: 'differing' in r ? r.differing : r.how === 'group' ? 1 : 0,
    confirmed: 0,
    pending: 0,
    resolved: 0,
  };
  const chunk = {
    from: range.from,
    to: range.to,
    sourceRows: r.sourceRows,
    targetRows: r.targetRows,
    sourceMd5: r.sourceMd5,
    sourceLsn: r.sourceLsn,
  };
  switch (r.how) {
    case 'equal':
      if (prior) await deleteChunk(ctx.control, ctx.migration, shape.key, prior.id);
      break;
    case 'group': {
      const status: FailureStatus =
        !ctx.cdc || r.stable || prior?.status === 'mismatched' ? 'mismatched' : 'pending';
      await writeChunk(ctx.control, ctx.migration, shape.key, { ...chunk, status });
      if (status === 'mismatched') out.confirmed = 1;
      else out.pending = 1;
      break;
    }
    case 'overflow':
      await writeChunk(ctx.control, ctx.migration, shape.key, { ...chunk, status: 'pending' });
      out.pending = 1;
      break;
    case 'keys': {
      const rec = await recordKeys(ctx, shape, r.keys, r.sv, r.tv, r);
      Object.assign(out, rec);
      if (prior) await deleteChunk(ctx.control, ctx.migration, shape.key, prior.id);
      break;
    }
  }
  return out;
}

/**
 * Re-check stored failures key by key: target first, then source (see the rule at the top). Keys that
 * agree now are resolved. Stored keys that no longer fit the table's key columns are resolved as stale.
 */
export async function recheckKeys(
  ctx: CompareContext,
  shape: TableShape,
  failures: StoredFailure[],
): Promise<Pick<CompareOutcome, 'confirmed' | 'pending' | 'resolved'>> {
  const total = { confirmed: 0, pending: 0, resolved: 0 };
  const stale = failures.filter((f) => shape.keys.some((k) => typeof f.key?.[k.name] !== 'string'));
  if (stale.length) {
    await resolveFailures(
      ctx.control,
      ctx.migration,
      shape.key,
      stale.map((f) => f.keyText),
    );
    total.resolved += stale.length;
  }
  const live = failures.filter((f) => !stale.includes(f));
  const batches: string[][][] = [];
  for (let i = 0; i < live.length; i += KEYS_PER_READ) {
    batches.push(live.slice(i, i + KEYS_PER_READ).map((f) => shape.keys.map((k) => f.key[k.name])));
  }
  await runPool(
    batches,
    ctx.cfg.threadCount,
    async (keys) => {
      const r = await withPair(ctx, async (s, t) => {
        const before = ctx.cdc ? await ctx.position.read() : undefined;
        const targetSide = async () => {
          const applied = await beginTarget(ctx, t);
          return { applied, rows: await fetchKeyed(t, shape, 'target', keys) };
        };
        const sourceSide = async () => {
          const lsn = await beginSource(s);
          return { lsn, rows: await fetchKeyed(s, shape, 'source', keys) };
        };
        const [tr, sr] = await bothSides(ctx.cdc, targetSide, sourceSide);
        await Promise.all([s.query('COMMIT'), t.query('COMMIT')]);
        return { tr, sr, position: maxOpt(before, tr.applied) };
      });
      const rec = await recordKeys(ctx, shape, keys, r.sr.rows, r.tr.rows, {
        sourceLsn: r.sr.lsn,
        position: r.position,
        stable: false,
      });
      total.confirmed += rec.confirmed;
      total.pending += rec.pending;
      total.resolved += rec.resolved;
    },
    ctx.signal,
  );
  return total;
}

/** Read both sides of a comparison: during CDC the target first (see the rule at the top), else at once. */
async function bothSides<T, S>(
  cdc: boolean,
  target: () => Promise<T>,
  source: () => Promise<S>,
): Promise<[T, S]> {
  if (!cdc) return Promise.all([target(), source()]);
  const t = await target();
  return [t, await source()];
}

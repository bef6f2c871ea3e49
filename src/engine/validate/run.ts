// Data validation of a migration without Temporal: per table, row counts and chunked checksums over
// target-key ranges, the source read as the mapping says the target should hold it; differing keys
// found, recorded with both sides' values, and (during CDC) re-checked until the apply position has
// passed them. Read back with validationReport.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import type { MigrationPlan, TablePlan } from '../../mapping/types';
import { compareLsn } from '../cdc/types';
import { type PgConnInfo, classifyPgError, connectPg } from '../connection';
import { Sessions, runPool } from '../fullload/pool';
import { displayName } from '../ident';
import { type CompareContext, MAX_KEYS_PER_CHUNK, compareChunk, overdue, recheckKeys } from './compare';
import {
  type StoredChunk,
  type StoredFailure,
  ensureValidationTables,
  openChunks,
  openCounts,
  openFailures,
  readChunkFailures,
  readFailures,
  readTables,
  resolveUnseen,
  validationTablesExist,
  writeTable,
} from './control';
import { AppliedPosition } from './position';
import { validationConfig } from './settings';
import { type TableShape, tableShape } from './shape';
import { SESSION_SETTINGS, boundariesSql, countSql, rangesOf } from './sql';
import type {
  ChunkFailure,
  CdcPositionSource,
  FailureStatus,
  TableValidation,
  ValidationConfig,
  ValidationFailure,
  ValidationState,
} from './types';

export interface ValidationOptions {
  /** Names the migration in the control tables (and in ferry.cdc_progress). */
  migration: string;
  plan: MigrationPlan;
  source: PgConnInfo;
  target: PgConnInfo;
  /** ValidationSettings keys (DMS names) over plan.settings.validation, e.g. { PartitionSize: 500 }. */
  settings?: Record<string, string | number | boolean>;
  /** Validate even when EnableValidation (and ValidationOnly) is false: an operator's `ferry validate`. */
  force?: boolean;
  /** Only these tables: `schema.table` of the source or the target (displayName spelling or plain). */
  tables?: string[];
  /**
   * `full` (default): compare every chunk of every table. `pending`: re-check only the open failures and
   * chunks (pending and mismatched), plus a full pass of tables that never completed one.
   */
  mode?: 'full' | 'pending';
  /**
   * Whether CDC is applying changes to the target: differences then start as pending (see compare.ts).
   * `true`: the position comes from ferry.cdc_progress and the slot; an object: its position too.
   * `false`: the target is static, a difference is a mismatch at once. Default: true when
   * ferry.cdc_progress has a row for the migration.
   */
  cdc?: boolean | CdcPositionSource;
  /** During CDC: how long to wait for the apply position to pass pending keys and re-check them (default 5000 ms). */
  pendingWaitMs?: number;
  /** Open failures returned in the result (default 100; all are in ferry.validation_failures). */
  maxFailures?: number;
  /** A table's state when it starts and ends, and about once a second while its chunks are compared. */
  onProgress?: (t: TableValidation) => void;
  /** Aborting stops between chunks and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface ValidationResult {
  migration: string;
  /** False: EnableValidation is off (and not forced); every table is `Not enabled`. */
  enabled: boolean;
  mode: 'full' | 'pending';
  /** Compared as a CDC target (differences pending until the apply position passes them). */
  cdc: boolean;
  tables: TableValidation[];
  /** Open confirmed failures of the tables validated (keys, and GROUP_LEVEL chunks). */
  mismatches: number;
  /** Open pending keys and chunks. */
  pending: number;
  /** Open failures, confirmed first, at most maxFailures. */
  failures: ValidationFailure[];
  /** Chunks recorded as a whole (pending, or GROUP_LEVEL mismatched), at most maxFailures. */
  chunkFailures: ChunkFailure[];
  /** FailureMaxCount was exceeded: the remaining tables were not validated. */
  suspended: boolean;
  seconds: number;
}

export interface ValidationReport {
  migration: string;
  tables: TableValidation[];
  failures: ValidationFailure[];
  chunkFailures: ChunkFailure[];
  totals: {
    tables: number;
    validated: number;
    mismatches: number;
    pending: number;
    byState: Record<string, number>;
  };
}

/** Errors that are the run's, not a table's: the caller retries the whole validation. */
const RUN_ERRORS = new Set<string>([
  ErrorType.ENDPOINT_UNREACHABLE,
  ErrorType.AUTH_FAILED,
  ErrorType.DATABASE_MISSING,
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** At most `n` callers at once; a released slot goes straight to the next waiter. */
function semaphore(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active < n) active++;
    else await new Promise<void>((r) => waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * The client with its queries run one after another: the control session is shared by the tables
 * validated at once, and node-postgres does not queue concurrent queries for much longer.
 */
function serialized(c: Client): Client {
  let tail: Promise<unknown> = Promise.resolve();
  return new Proxy(c, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return (...args: unknown[]) => {
        const run = tail.then(() =>
          (target.query as (...a: unknown[]) => Promise<unknown>).apply(target, args),
        );
        tail = run.catch(() => undefined);
        return run;
      };
    },
  });
}

/** The plan's tables named by `names` (all when undefined). @throws CONFIG_INVALID for a name no table has. */
export function selectTables(plan: MigrationPlan, names?: string[]): TablePlan[] {
  if (!names) return plan.tables;
  const spellings = (t: TablePlan) => [
    displayName(t.source.schema, t.source.name),
    displayName(t.target.schema, t.target.name),
    `${t.source.schema}.${t.source.name}`,
    `${t.target.schema}.${t.target.name}`,
  ];
  const unknown = names.filter((n) => !plan.tables.some((t) => spellings(t).includes(n)));
  if (unknown.length) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `validation: no planned table is named ${unknown.join(', ')}; name tables as schema.table (source or target name)`,
    );
  }
  return plan.tables.filter((t) => spellings(t).some((s) => names.includes(s)));
}

function blank(table: TablePlan, state: ValidationState): TableValidation {
  return {
    key: displayName(table.source.schema, table.source.name),
    source: displayName(table.source.schema, table.source.name),
    target: displayName(table.target.schema, table.target.name),
    state,
    sourceRows: 0,
    targetRows: 0,
    rowsCompared: 0,
    chunks: 0,
    chunksMismatched: 0,
    mismatched: 0,
    pending: 0,
    pendingChunks: 0,
  };
}

/** Shared by the tables of one run: the FailureMaxCount budget. */
interface Run {
  ctx: CompareContext;
  cfg: ValidationConfig;
  opts: ValidationOptions;
  plan: MigrationPlan;
  previous: Map<string, TableValidation>;
  confirmed: number;
  suspendedAll: boolean;
}

/**
 * Validate the migration's tables (see ValidationOptions). Per table:
 * - a key: the plan's primary key, else a unique index of the target on NOT NULL compared columns;
 *   without one the table is `No primary key` and only its row counts are compared;
 * - chunks of PartitionSize source rows in key order, ThreadCount compared at once: count and md5 of the
 *   ordered per-row md5s on each side; a chunk that differs is listed row by row to find the keys
 *   (missing on target, extra on target, different), whose values are read and recorded
 *   (ferry.validation_failures); GROUP_LEVEL records the chunk instead (ferry.validation_chunks);
 * - during CDC, differences start pending and are confirmed or resolved by re-checks (compare.ts);
 * - failures above TableFailureMaxCount suspend the table, above FailureMaxCount the run.
 * The state, counts and note of every table go to ferry.validation_tables. One validation of a
 * migration runs at a time (a session advisory lock on the target); a second one waits.
 * @throws FerryError when an endpoint cannot be reached or logged into (a table's own errors become
 * its `Table error` state instead); CONFIG_INVALID for unknown table names; on abort, the reason.
 */
export async function validateMigration(opts: ValidationOptions): Promise<ValidationResult> {
  const started = Date.now();
  const cfg = validationConfig({ ...opts.plan.settings.validation, ...opts.settings });
  const mode = opts.mode ?? 'full';
  const tables = selectTables(opts.plan, opts.tables);
  const maxFailures = opts.maxFailures ?? 100;
  const session = await connectPg(opts.target, 'ferry-validate');
  const control = serialized(session);
  let position: AppliedPosition | undefined;
  let sources: Sessions | undefined;
  let targets: Sessions | undefined;
  try {
    await ensureValidationTables(control);
    await lockMigration(control, opts.migration, opts.signal);
    const enabled = cfg.enabled || !!opts.force;
    const result: ValidationResult = {
      migration: opts.migration,
      enabled,
      mode,
      cdc: false,
      tables: [],
      mismatches: 0,
      pending: 0,
      failures: [],
      chunkFailures: [],
      suspended: false,
      seconds: 0,
    };
    if (!enabled) {
      for (const t of tables) {
        const tv = {
          ...blank(t, 'Not enabled'),
          note: 'EnableValidation is false in the task settings (ValidationSettings)',
        };
        await writeTable(control, opts.migration, tv);
        opts.onProgress?.(tv);
        result.tables.push(tv);
      }
      result.seconds = (Date.now() - started) / 1000;
      return result;
    }

    position = new AppliedPosition(
      control,
      opts.source,
      opts.migration,
      typeof opts.cdc === 'object' ? opts.cdc : undefined,
    );
    result.cdc = opts.cdc === undefined ? await position.started() : opts.cdc !== false;
    const prepare = async (c: Client) => {
      await c.query(SESSION_SETTINGS);
    };
    sources = new Sessions(opts.source, 'ferry-validate', prepare);
    targets = new Sessions(opts.target, 'ferry-validate', prepare);
    const run: Run = {
      ctx: {
        migration: opts.migration,
        cfg,
        cdc: result.cdc,
        control,
        sources,
        targets,
        position,
        limit: semaphore(cfg.threadCount),
        signal: opts.signal,
      },
      cfg,
      opts,
      plan: opts.plan,
      previous: new Map((await readTables(control, opts.migration)).map((t) => [t.key, t])),
      confirmed: 0,
      suspendedAll: false,
    };
    const done = new Map<TablePlan, TableValidation>();
    await runPool(
      tables,
      cfg.threadCount,
      async (t) => {
        done.set(t, await validateTable(run, t, mode));
      },
      opts.signal,
    );
    result.tables = tables.map((t) => done.get(t)!);
    result.suspended = run.suspendedAll;
    for (const t of result.tables) {
      result.mismatches += t.mismatched;
      result.pending += t.pending + t.pendingChunks;
    }
    const keys = result.tables.map((t) => t.key);
    result.failures = await readFailures(control, opts.migration, { tables: keys, limit: maxFailures });
    result.chunkFailures = await readChunkFailures(control, opts.migration, {
      tables: keys,
      limit: maxFailures,
    });
    result.seconds = (Date.now() - started) / 1000;
    return result;
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw classifyPgError(err, opts.target);
  } finally {
    await sources?.close();
    await targets?.close();
    await position?.close();
    // Ending the session releases the advisory lock.
    await session.end().catch(() => undefined);
  }
}

/**
 * One validation per migration at a time: two would re-check the same keys and resolve each other's
 * failures. A session lock (released when the session ends); waits, abortably, for one in progress.
 */
async function lockMigration(c: Client, migration: string, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const { rows } = await c.query<{ ok: boolean }>(
      `SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext($1)) AS ok`,
      [`ferry.validate:${migration}`],
    );
    if (rows[0].ok) return;
    signal?.throwIfAborted();
    await sleep(1000);
  }
}

/** Why the table is not compared in full, and what is left out: the note of a TableValidation. */
function notesOf(shape: TableShape | undefined, extra: string[]): string | undefined {
  const notes: string[] = [];
  if (shape?.keyless) notes.push(shape.keyless);
  if (shape?.keyNote) notes.push(shape.keyNote);
  if (shape?.excluded.length) {
    notes.push(`not compared: ${shape.excluded.map((e) => `${e.column} (${e.reason})`).join(', ')}`);
  }
  notes.push(...extra);
  return notes.length ? notes.join('; ') : undefined;
}

async function validateTable(run: Run, table: TablePlan, mode: 'full' | 'pending'): Promise<TableValidation> {
  const { ctx, cfg, opts } = run;
  const tv = blank(table, 'Pending validation');
  const prev = run.previous.get(tv.key);
  if (mode === 'pending' && prev?.state === 'Validation suspended') return prev;
  const extra: string[] = [];
  let shape: TableShape | undefined;
  if (run.suspendedAll) {
    Object.assign(tv, prev ?? {}, { state: 'Validation suspended' });
    tv.note = `not validated: FailureMaxCount (${cfg.failureMaxCount}) exceeded by this run`;
    await writeTable(ctx.control, ctx.migration, tv);
    return tv;
  }
  opts.onProgress?.({ ...tv });
  try {
    shape = await ctx.limit(() => ctx.targets.use((c) => tableShape(c, run.plan, table, cfg)));
    if (!shape.keys.length) {
      await countOnly(run, shape, tv, extra);
    } else {
      const full =
        mode === 'full' ||
        !prev?.lastValidatedAt ||
        !['Validated', 'Mismatched records', 'Pending records'].includes(prev.state);
      let suspended = false;
      if (full) suspended = await fullPass(run, shape, tv, extra);
      else {
        Object.assign(tv, {
          sourceRows: prev.sourceRows,
          targetRows: prev.targetRows,
          rowsCompared: prev.rowsCompared,
          chunks: prev.chunks,
          chunksMismatched: prev.chunksMismatched,
          lastValidatedAt: prev.lastValidatedAt,
        });
        await recheckRound(run, shape, ['pending', 'mismatched']);
      }
      if (ctx.cdc && !suspended && !run.suspendedAll) await settle(run, shape);
      const counts = await openCounts(ctx.control, ctx.migration, tv.key);
      tv.mismatched = counts.mismatched + counts.mismatchedChunks;
      tv.pending = counts.pending;
      tv.pendingChunks = counts.pendingChunks;
      if (tv.mismatched > cfg.tableFailureMaxCount && !suspended) {
        suspended = true;
        extra.push(`${tv.mismatched} failures exceed TableFailureMaxCount (${cfg.tableFailureMaxCount})`);
      }
      tv.state = suspended
        ? 'Validation suspended'
        : tv.mismatched > 0
          ? 'Mismatched records'
          : tv.pending + tv.pendingChunks > 0
            ? 'Pending records'
            : tv.lastValidatedAt
              ? 'Validated'
              : 'Pending validation';
    }
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const e = err instanceof FerryError ? err : classifyPgError(err, opts.target);
    if (RUN_ERRORS.has(e.type)) throw e;
    tv.state = 'Table error';
    tv.error = e.message;
  }
  tv.note = notesOf(shape, extra);
  tv.updatedAt = new Date().toISOString();
  await writeTable(ctx.control, ctx.migration, tv);
  opts.onProgress?.({ ...tv });
  return tv;
}

/** A table without a usable key: row counts of both sides only, as DMS does. */
async function countOnly(run: Run, shape: TableShape, tv: TableValidation, extra: string[]): Promise<void> {
  const { ctx } = run;
  const count = (s: Sessions, side: 'source' | 'target') =>
    ctx.limit(() =>
      s.use(async (c) => Number((await c.query<{ n: string }>(countSql(shape, side))).rows[0].n)),
    );
  const [a, b] = await Promise.all([count(ctx.sources, 'source'), count(ctx.targets, 'target')]);
  tv.sourceRows = a;
  tv.targetRows = b;
  tv.state = 'No primary key';
  tv.lastValidatedAt = new Date().toISOString();
  extra.push(
    a === b
      ? `row counts equal (${a})`
      : `row counts differ: source ${a}, target ${b}${ctx.cdc ? ' (CDC may be applying changes)' : ''}`,
  );
}

/** Every chunk of the table. Returns true when the table (or the run) got suspended on the way. */
async function fullPass(run: Run, shape: TableShape, tv: TableValidation, extra: string[]): Promise<boolean> {
  const { ctx, cfg, opts } = run;
  const { rows: now } = await ctx.control.query<{ t: Date }>(`SELECT pg_catalog.clock_timestamp() AS t`);
  const since = now[0].t;
  const bounds = await ctx.limit(() =>
    ctx.sources.use(
      async (c) =>
        (await c.query<string[]>({ text: boundariesSql(shape, cfg.partitionSize), rowMode: 'array' })).rows,
    ),
  );
  const ranges = rangesOf(bounds);
  tv.chunks = ranges.length;
  let tableConfirmed = 0;
  let suspended = false;
  let overflow = 0;
  let lastProgress = Date.now();
  await runPool(
    ranges,
    cfg.threadCount,
    async (range) => {
      if (suspended || run.suspendedAll) return;
      const o = await compareChunk(ctx, shape, range);
      tv.sourceRows += o.sourceRows;
      tv.targetRows += o.targetRows;
      tv.rowsCompared += o.sourceRows;
      if (o.mismatched) tv.chunksMismatched++;
      if (o.differing > MAX_KEYS_PER_CHUNK && !ctx.cdc) overflow += o.differing - MAX_KEYS_PER_CHUNK;
      tableConfirmed += o.confirmed;
      tv.mismatched = tableConfirmed;
      tv.pending += o.pending;
      run.confirmed += o.confirmed;
      if (tableConfirmed > cfg.tableFailureMaxCount && !suspended) {
        suspended = true;
        extra.push(
          `suspended: ${tableConfirmed} failures exceed TableFailureMaxCount (${cfg.tableFailureMaxCount})`,
        );
      }
      if (run.confirmed > cfg.failureMaxCount && !run.suspendedAll) {
        run.suspendedAll = true;
        suspended = true;
        extra.push(`suspended: the run's failures exceed FailureMaxCount (${cfg.failureMaxCount})`);
      }
      if (opts.onProgress && Date.now() - lastProgress >= 1000) {
        lastProgress = Date.now();
        opts.onProgress({ ...tv });
      }
    },
    ctx.signal,
  );
  if (overflow > 0) {
    extra.push(`${overflow} further differing rows not recorded (${MAX_KEYS_PER_CHUNK} per chunk)`);
  }
  if (run.suspendedAll && !suspended) {
    suspended = true;
    extra.push(`suspended: the run's failures exceed FailureMaxCount (${cfg.failureMaxCount})`);
  }
  if (!suspended) {
    // Keys of a chunk recorded whole (too many differences during CDC) are resolved here too; the
    // chunk's re-check finds them again if they still differ.
    await resolveUnseen(ctx.control, ctx.migration, shape.key, since);
    tv.lastValidatedAt = new Date().toISOString();
  }
  return suspended;
}

/** Whether a pending failure or chunk may be re-checked now: the position passed it and the delay is over. */
function eligible(
  run: Run,
  position: string | undefined,
  item: { status: FailureStatus; sourceLsn?: string; detectedAt: Date; lastCheckedAt: Date },
): boolean {
  if (!run.ctx.cdc || item.status === 'mismatched' || overdue(run.cfg, item.detectedAt)) return true;
  if (!position || !item.sourceLsn || compareLsn(position, item.sourceLsn) < 0) return false;
  return Date.now() - item.lastCheckedAt.getTime() >= run.cfg.cdcDelaySeconds * 1000;
}

/** Re-check the table's open chunks and keys of these statuses that are eligible. Returns how many were. */
async function recheckRound(run: Run, shape: TableShape, statuses: FailureStatus[]): Promise<number> {
  const { ctx, cfg } = run;
  const position = ctx.cdc ? await ctx.position.read() : undefined;
  const chunks: StoredChunk[] = (await openChunks(ctx.control, ctx.migration, shape.key, statuses)).filter(
    (c) => eligible(run, position, c),
  );
  await runPool(
    chunks,
    cfg.threadCount,
    async (c) => void (await compareChunk(ctx, shape, c, c)),
    ctx.signal,
  );
  const keys: StoredFailure[] = (
    await openFailures(ctx.control, ctx.migration, shape.key, statuses, 100_000)
  ).filter((f) => eligible(run, position, f));
  if (keys.length) await recheckKeys(ctx, shape, keys);
  return chunks.length + keys.length;
}

/**
 * During CDC: re-check pending keys and chunks as the apply position passes them, until none is left or
 * pendingWaitMs is over. What is still pending then stays `Pending records` for the next run.
 */
async function settle(run: Run, shape: TableShape): Promise<void> {
  const until = Date.now() + (run.opts.pendingWaitMs ?? 5000);
  for (;;) {
    run.ctx.signal?.throwIfAborted();
    const counts = await openCounts(run.ctx.control, run.ctx.migration, shape.key);
    if (counts.pending + counts.pendingChunks === 0) return;
    const checked = await recheckRound(run, shape, ['pending']);
    if (Date.now() >= until) return;
    if (!checked) await sleep(200);
  }
}

/**
 * The validation state of a migration as recorded on the target: per-table states and counts, open
 * failures (confirmed first; resolved ones too with `includeResolved`), chunks recorded whole.
 * Empty when the migration was never validated.
 */
export async function validationReport(
  target: PgConnInfo,
  migration: string,
  opts: { tables?: string[]; limit?: number; includeResolved?: boolean } = {},
): Promise<ValidationReport> {
  const c = await connectPg(target, 'ferry-validate-report');
  try {
    const report: ValidationReport = {
      migration,
      tables: [],
      failures: [],
      chunkFailures: [],
      totals: { tables: 0, validated: 0, mismatches: 0, pending: 0, byState: {} },
    };
    if (!(await validationTablesExist(c))) return report;
    let tables = await readTables(c, migration);
    if (opts.tables) {
      const names = opts.tables;
      tables = tables.filter(
        (t) => names.includes(t.key) || names.includes(t.target) || names.includes(t.source),
      );
    }
    report.tables = tables;
    const keys = opts.tables ? tables.map((t) => t.key) : undefined;
    const limit = opts.limit ?? 100;
    report.failures = await readFailures(c, migration, {
      tables: keys,
      limit,
      includeResolved: opts.includeResolved,
    });
    report.chunkFailures = await readChunkFailures(c, migration, { tables: keys, limit });
    for (const t of tables) {
      report.totals.tables++;
      if (t.state === 'Validated') report.totals.validated++;
      report.totals.mismatches += t.mismatched;
      report.totals.pending += t.pending + t.pendingChunks;
      report.totals.byState[t.state] = (report.totals.byState[t.state] ?? 0) + 1;
    }
    return report;
  } catch (err) {
    throw classifyPgError(err, target);
  } finally {
    await c.end().catch(() => undefined);
  }
}

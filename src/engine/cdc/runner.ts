// The CDC loop without Temporal: stream changes from the slot, group them into batches, apply each
// batch in one target transaction together with its progress row, then confirm the position to the
// source. Receiving and applying overlap: while one batch commits, the next accumulates, so a busy
// source gets large batches (net-change compaction pays off) and a quiet one gets low latency.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import type { MigrationPlan, SourceCatalog } from '../../mapping/types';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint } from '../connection';
import { Applier } from './apply';
import { ChangeJournal, type JournalOptions, ensureJournalTable } from './journal';
import { readCurrentLsn } from './source';
import { ensureCdcTables, readProgress, recordBatch } from './progress';
import { type CapturedTxn, ChangeStream, readSpill, removeSpill } from './stream';
import {
  type ApplyConflict,
  type CdcProgress,
  type CdcTableCounters,
  type Change,
  type TableKey,
  compareLsn,
  lsnToBigInt,
  maxLsn,
} from './types';

export interface BatchReport {
  txns: number;
  changes: number;
  /** Source commit times (ms) of the transactions in the batch. */
  commitTimes: number[];
  /** When the target transaction committed (ms). */
  appliedAt: number;
  endLsn: string;
}

export interface RunCdcOptions {
  migration: string;
  /** The source database (the replication connection is derived from it). */
  source: PgConnInfo;
  target: PgConnInfo;
  plan: MigrationPlan;
  catalog: SourceCatalog;
  slotName: string;
  publication: string;
  /** Where to start when ferry.cdc_progress has no row for the migration; default the slot's position. */
  startLsn?: string;
  /** Changes up to this LSN may already be on the target (see ApplyMeta.tolerant). */
  tolerantUntil?: string;
  /** Per table, changes committed before this LSN are in its copy already: dropped (see ChangeStreamOptions). */
  skipBefore?: Record<string, string>;
  /** Aborting stops gracefully: the batch being applied commits and is confirmed, then runCdc returns. */
  signal?: AbortSignal;
  /** Return once everything the source wrote up to this LSN is applied. */
  untilLsn?: string;
  onProgress?: (p: CdcProgress) => void;
  /** Default 2000 ms. */
  progressIntervalMs?: number;
  onBatch?: (b: BatchReport) => void;
  /** Spill transactions above this size to disk (default 64 MiB). */
  spillBytes?: number;
  /** Keep the change journal (ferry.cdc_journal, see journal.ts); absent: no journal. */
  journal?: JournalOptions;
  /**
   * Statements run on the apply session right after it connects, before anything else: e.g. reverse
   * replication into a source frozen with default_transaction_read_only = on needs
   * SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE. Absent: none.
   */
  targetSessionSql?: string[];
}

/** A backlog: the source's WAL is this far ahead of what arrived. */
const BACKLOG_BYTES = 4 << 20;
/** While reading a backlog, a batch waits for this many changes... */
const MIN_BACKLOG_BATCH = 20_000;
/** ...or this long. */
const MAX_BATCH_WAIT_MS = 250;
/** Changes per target statement group when a spilled transaction is read back. */
const SPILL_CHUNK = 20_000;
/** How often a standby status goes to the walsender whatever else happens (wal_sender_timeout is 60 s by default). */
const STATUS_INTERVAL_MS = 1000;
/** Upper bound of source changes in one batch (BatchSplitSize, when set, is used instead). */
const MAX_BATCH_CHANGES = 100_000;

const emptyCounters = (): CdcTableCounters => ({
  inserts: 0,
  updates: 0,
  deletes: 0,
  truncates: 0,
  applied: 0,
  conflicts: 0,
});

function addCounters(
  into: Record<TableKey, CdcTableCounters>,
  from: Record<TableKey, CdcTableCounters>,
): void {
  for (const [k, v] of Object.entries(from)) {
    const t = (into[k] ??= emptyCounters());
    t.inserts += v.inserts;
    t.updates += v.updates;
    t.deletes += v.deletes;
    t.truncates += v.truncates;
    t.applied += v.applied;
    t.conflicts += v.conflicts;
  }
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** FIFO of received transactions: shift() is O(1) (Array#shift copies, and backlogs hold 100k+). */
class TxnQueue {
  private items: CapturedTxn[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(t: CapturedTxn): void {
    this.items.push(t);
  }

  peek(): CapturedTxn | undefined {
    return this.items[this.head];
  }

  shift(): CapturedTxn | undefined {
    if (this.head >= this.items.length) return undefined;
    const t = this.items[this.head];
    this.items[this.head++] = undefined as unknown as CapturedTxn;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return t;
  }

  drain(): CapturedTxn[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

/** Drop the changes of suspended tables (a truncate keeps its other tables). */
function withoutSuspended(changes: readonly Change[], suspended: ReadonlySet<TableKey>): Change[] {
  if (!suspended.size) return changes as Change[];
  const out: Change[] = [];
  for (const c of changes) {
    if (c.kind === 'truncate') {
      const tables = c.tables.filter((t) => !suspended.has(t));
      if (tables.length) out.push({ ...c, tables });
    } else if (!suspended.has(c.table)) out.push(c);
  }
  return out;
}

/**
 * Stream and apply until `signal` aborts, `untilLsn` is reached, or the source/target fails (throws:
 * the caller restarts, and the run resumes from the position stored on the target).
 */
export async function runCdc(opts: RunCdcOptions): Promise<CdcProgress> {
  const tuning = opts.plan.settings.changeProcessingTuning;
  const memLimit = num(tuning.MemoryLimitTotal, 1024) * 1024 * 1024;
  const batchBytes = num(tuning.BatchApplyMemoryLimit, 500) * 1024 * 1024;
  const split = num(tuning.BatchSplitSize, 0);
  const batchChanges = split > 0 ? split : MAX_BATCH_CHANGES;

  const target = await connectPg(opts.target, 'ferry-cdc-apply');
  let monitor: Client | undefined;
  const stream = new ChangeStream(opts.source, {
    slotName: opts.slotName,
    publication: opts.publication,
    spillBytes: opts.spillBytes,
    skipBefore: opts.skipBefore,
  });
  const queue = new TxnQueue();
  let queuedBytes = 0;
  let queuedChanges = 0;
  let wake: (() => void) | undefined;
  const waitWork = () => new Promise<void>((r) => (wake = r));
  const kick = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let drained: (() => void)[] = [];
  let stopping = false;
  let streamError: unknown;
  let applying = false;

  const totals: CdcProgress = {
    slotName: opts.slotName,
    appliedLsn: '0/0',
    receivedLsn: '0/0',
    sourceLsn: '0/0',
    lagBytes: 0,
    lagSeconds: 0,
    txns: 0,
    changes: 0,
    batches: 0,
    applied: 0,
    conflicts: 0,
    changesPerSecond: 0,
    tables: {},
    at: new Date().toISOString(),
  };
  /** Highest position confirmed to the source (applied, or passed while idle). */
  let confirmed = '0/0';
  let oldestUnapplied: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pinger: NodeJS.Timeout | undefined;
  let status: NodeJS.Timeout | undefined;
  /** The progress report in flight (one at a time). */
  let reporting: Promise<void> | undefined;

  const idle = () => !applying && queue.length === 0 && !stream.inTxn;
  const reachedUntil = () =>
    opts.untilLsn !== undefined && compareLsn(maxLsn(totals.appliedLsn, confirmed), opts.untilLsn) >= 0;
  const stop = () => {
    stopping = true;
    kick();
  };

  try {
    for (const sql of opts.targetSessionSql ?? []) await target.query(sql);
    await ensureCdcTables(target);
    const journal = opts.journal && new ChangeJournal(opts.migration, opts.plan, opts.journal);
    if (journal) await ensureJournalTable(target);
    try {
      // Replica mode: target triggers and foreign keys do not fire for replicated rows (the source
      // already checked them), as in native logical replication.
      await target.query('SET session_replication_role = replica');
    } catch (err) {
      throw new FerryError(
        ErrorType.PRIVILEGE_MISSING,
        `${describeEndpoint(opts.target)}: CDC apply needs SET session_replication_role = replica (superuser, or ` +
          `rds_superuser on RDS/Aurora) so foreign keys and triggers do not fire on replicated rows: grant it to ` +
          `${opts.target.user} (server said: ${(err as Error).message})`,
        { cause: err },
      );
    }
    const stored = await readProgress(target, opts.migration);
    if (stored && stored.slotName !== opts.slotName) {
      throw new FerryError(
        ErrorType.LOAD_STATE_CONFLICT,
        `${describeEndpoint(opts.target)}: migration ${opts.migration} applied changes from slot ${stored.slotName} ` +
          `up to ${stored.appliedLsn}, not from slot ${opts.slotName}: positions of different slots cannot be ` +
          `compared; set slotName back to ${stored.slotName}, or reload the target (a new full load) to start over`,
      );
    }
    const { rows: susp } = await target.query<{ table_name: string }>(
      `SELECT DISTINCT table_name FROM ferry.cdc_exceptions WHERE migration = $1 AND policy = 'SUSPEND_TABLE'`,
      [opts.migration],
    );
    const suspended = new Set<TableKey>(susp.map((r) => r.table_name));
    const startLsn = stored?.appliedLsn ?? opts.startLsn ?? '0/0';
    if (process.env.FERRY_CDC_TRACE) process.stderr.write(`[trace] stream from ${startLsn}\n`);
    totals.appliedLsn = startLsn;
    confirmed = startLsn;
    if (stored) {
      totals.txns = stored.txns;
      totals.changes = stored.changes;
      totals.batches = stored.batches;
      totals.applied = stored.applied;
      totals.conflicts = stored.conflicts;
      totals.lastCommitTime = stored.commitTime;
    }
    const applier = new Applier({
      migration: opts.migration,
      plan: opts.plan,
      catalog: opts.catalog,
      compact: opts.plan.settings.batchApplyEnabled,
    });

    if (opts.signal?.aborted) return totals;
    opts.signal?.addEventListener('abort', stop, { once: true });

    const onTxn = (txn: CapturedTxn): void | Promise<void> => {
      if (compareLsn(txn.endLsn, totals.appliedLsn) <= 0) {
        removeSpill(txn); // applied before a restart: the target already has it
        return;
      }
      if (!txn.changes.length && !txn.spill) {
        // Empty for us (other tables): nothing to apply; the position moves on when idle.
        if (idle()) confirmPassed(txn.endLsn);
        else queue.push(txn);
        kick();
        return;
      }
      queue.push(txn);
      queuedBytes += txn.bytes;
      queuedChanges += txn.changes.length;
      oldestUnapplied ??= txn.commitTime;
      kick();
      if (queuedBytes > memLimit) return new Promise<void>((r) => drained.push(r));
    };
    const confirmPassed = (lsn: string) => {
      if (compareLsn(lsn, confirmed) > 0) {
        confirmed = lsn;
        stream.ack(lsn);
      }
      // Passed while idle (empty transactions, keepalives): nothing before it waits to be applied, so the
      // reported position moves too, or a quiet source would look stuck behind its last change.
      if (compareLsn(lsn, totals.appliedLsn) > 0) totals.appliedLsn = lsn;
      if (reachedUntil()) stop();
    };
    const onKeepalive = (walEnd: string) => {
      totals.sourceLsn = maxLsn(totals.sourceLsn, walEnd);
      // Nothing received is waiting: everything before the server's position is applied or not ours.
      if (idle() && compareLsn(walEnd, confirmed) > 0) confirmPassed(walEnd);
      // Answer every keepalive, even with no new position: a walsender that hears nothing for
      // wal_sender_timeout ends the session (an idle source sends the same walEnd again and again).
      else stream.ack(confirmed);
    };

    const streaming = stream.start(startLsn, { onTxn, onKeepalive }).then(
      () => undefined,
      (err: unknown) => {
        streamError = err;
        stop();
      },
    );

    // Lag is counted from here while nothing is known yet (no stored position, nothing received): the
    // slot's confirmed position, read once. Reporting only: what is applied or skipped never uses it.
    let lagBase = startLsn === '0/0' ? undefined : startLsn;
    /** The source's WAL position into totals.sourceLsn, on a session kept for it; false on failure. */
    const readSourceLsn = async (): Promise<boolean> => {
      try {
        monitor ??= await connectPg(opts.source, 'ferry-cdc-monitor');
        if (lagBase === undefined) {
          const { rows } = await monitor.query<{ lsn: string | null }>(
            'SELECT confirmed_flush_lsn::text AS lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
            [opts.slotName],
          );
          lagBase = rows[0]?.lsn ?? '0/0';
        }
        totals.sourceLsn = maxLsn(totals.sourceLsn, await readCurrentLsn(monitor));
        return true;
      } catch {
        monitor?.end().catch(() => undefined);
        monitor = undefined;
        return false;
      }
    };
    const report = (() => {
      let lastAt = Date.now();
      let lastChanges = totals.changes;
      const once = async () => {
        // On failure the last known source position stands; the next report tries again.
        await readSourceLsn();
        const now = Date.now();
        const pos = maxLsn(maxLsn(totals.appliedLsn, confirmed), lagBase ?? '0/0');
        totals.receivedLsn = maxLsn(stream.receivedLsn, pos);
        totals.lagBytes = Math.max(0, Number(lsnToBigInt(totals.sourceLsn) - lsnToBigInt(pos)));
        totals.lagSeconds = oldestUnapplied === undefined ? 0 : Math.max(0, (now - oldestUnapplied) / 1000);
        totals.changesPerSecond = ((totals.changes - lastChanges) * 1000) / Math.max(1, now - lastAt);
        lastAt = now;
        lastChanges = totals.changes;
        totals.at = new Date(now).toISOString();
        opts.onProgress?.({ ...totals, tables: { ...totals.tables } });
      };
      // One report at a time: an interval report still waiting for the source when the run ends would
      // otherwise open a monitor session after the finally below closed it, and report after the return.
      return async (): Promise<void> => {
        while (reporting) await reporting;
        reporting = once().finally(() => (reporting = undefined));
        return reporting;
      };
    })();
    timer = setInterval(() => {
      if (!reporting) void report();
    }, opts.progressIntervalMs ?? 2000);
    // A standby status every second whatever happens: while a long batch applies and the stream is
    // paused (backpressure), keepalives are not even read, and the walsender would end the session.
    status = setInterval(() => stream.ack(confirmed), STATUS_INTERVAL_MS);
    if (opts.untilLsn !== undefined) {
      // Ask for keepalives while idle: they carry the server's position, which ends the catch-up.
      pinger = setInterval(() => {
        if (idle()) stream.ack(confirmed, true);
      }, 100);
    }

    /**
     * Inside the batch's transaction: lock the migration's position, and stop if another session moved
     * it past ours (a worker taken for dead still applying): applying again would duplicate its rows.
     */
    const fence = async () => {
      const { rows } = await target.query<{ lsn: string }>(
        `SELECT applied_lsn::text AS lsn FROM ferry.cdc_progress WHERE migration = $1 FOR UPDATE`,
        [opts.migration],
      );
      if (rows[0] && compareLsn(rows[0].lsn, totals.appliedLsn) > 0) {
        throw new FerryError(
          ErrorType.DATABASE_ERROR,
          `${describeEndpoint(opts.target)}: another CDC session of migration ${opts.migration} applied changes up to ` +
            `${rows[0].lsn} while this one stood at ${totals.appliedLsn}; this session stops without applying, and ` +
            `the retry resumes from the stored position (is a second worker running the same migration?)`,
        );
      }
    };

    const applyBatch = async (batch: CapturedTxn[], tolerant: boolean) => {
      const last = batch[batch.length - 1];
      const meta = { commitLsn: last.commitLsn, tolerant };
      let applied = 0;
      let changes = 0;
      const conflicts: ApplyConflict[] = [];
      const tables: Record<TableKey, CdcTableCounters> = {};
      const take = (r: Awaited<ReturnType<Applier['apply']>>) => {
        applied += r.applied;
        conflicts.push(...r.conflicts);
        addCounters(tables, r.tables);
        for (const t of r.suspended) suspended.add(t);
      };
      for (const t of batch) changes += t.spill ? t.spill.count : t.changes.length;
      if (changes > 0) {
        await target.query('BEGIN');
        try {
          await fence();
          if (batch.length === 1 && last.spill) {
            let seq = 0;
            for await (const chunk of readSpill(last.spill.file, SPILL_CHUNK)) {
              const list = withoutSuspended(chunk, suspended);
              const r = await applier.apply(target, list, { ...meta, keys: !!journal });
              take(r);
              if (journal) {
                // A chunk at a time: the journal rows of a spilled transaction are not held in memory.
                journal.collect([last], [list.length], list, r.keys, seq);
                await journal.write(target);
                seq += list.length;
              }
            }
          } else {
            const all: Change[] = [];
            /** Where each transaction's changes end in `all` (the journal's LSN and commit time). */
            const ends: number[] = [];
            for (const t of batch) {
              for (const c of withoutSuspended(t.changes, suspended)) all.push(c);
              ends.push(all.length);
            }
            const r = await applier.apply(target, all, { ...meta, keys: !!journal });
            take(r);
            journal?.collect(batch, ends, all, r.keys);
          }
          // In the batch's transaction, as its position: a replayed batch cannot journal twice.
          await journal?.write(target);
          await recordBatch(target, opts.migration, {
            slotName: opts.slotName,
            appliedLsn: last.endLsn,
            commitTime: last.commitTime,
            txns: batch.length,
            changes,
            applied,
            conflicts,
            tables,
          });
          await target.query('COMMIT');
        } catch (err) {
          await target.query('ROLLBACK').catch(() => undefined);
          journal?.discard();
          throw err;
        }
      }
      const appliedAt = Date.now();
      for (const t of batch) removeSpill(t);
      totals.appliedLsn = maxLsn(totals.appliedLsn, last.endLsn);
      totals.lastCommitTime = new Date(last.commitTime).toISOString();
      totals.txns += batch.length;
      totals.changes += changes;
      totals.applied += applied;
      totals.conflicts += conflicts.length;
      if (changes > 0) totals.batches++;
      addCounters(totals.tables, tables);
      confirmPassed(last.endLsn);
      opts.onBatch?.({
        txns: batch.length,
        changes,
        commitTimes: batch.filter((t) => t.changes.length || t.spill).map((t) => t.commitTime),
        appliedAt,
        endLsn: last.endLsn,
      });
    };

    const tolerantUntil = opts.tolerantUntil;
    const isTolerant = (t: CapturedTxn) =>
      tolerantUntil !== undefined && compareLsn(t.commitLsn, tolerantUntil) <= 0;

    // Where the source is, before the first report: a backlog is read from the start. (On failure
    // the periodic report retries.)
    await readSourceLsn();
    /** Still reading a backlog: the source is well ahead of what arrived. */
    const backlog = () =>
      lsnToBigInt(totals.sourceLsn) - lsnToBigInt(maxLsn(stream.receivedLsn, totals.appliedLsn)) >
      BACKLOG_BYTES;
    let waitingSince: number | undefined;

    // The apply loop.
    for (;;) {
      if (stopping) break;
      if (!queue.length) {
        await waitWork();
        continue;
      }
      // While a backlog streams in, let a batch grow for a moment: each one costs round trips and a
      // commit, and compaction folds more per key in a bigger one. Caught up, it goes at once.
      if (queuedChanges < MIN_BACKLOG_BATCH && queuedBytes < batchBytes && backlog()) {
        waitingSince ??= Date.now();
        if (Date.now() - waitingSince < MAX_BATCH_WAIT_MS) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
      }
      waitingSince = undefined;
      const first = queue.peek()!;
      const batch: CapturedTxn[] = [];
      let bytes = 0;
      let count = 0;
      if (first.spill) batch.push(queue.shift()!);
      else {
        const tolerant = isTolerant(first);
        while (queue.length) {
          const t = queue.peek()!;
          if (t.spill || isTolerant(t) !== tolerant) break;
          if (batch.length && (count + t.changes.length > batchChanges || bytes + t.bytes > batchBytes))
            break;
          batch.push(queue.shift()!);
          count += t.changes.length;
          bytes += t.bytes;
        }
      }
      queuedBytes -= batch.reduce((n, t) => n + t.bytes, 0);
      queuedChanges -= count;
      if (queuedBytes <= memLimit && drained.length) {
        const d = drained;
        drained = [];
        d.forEach((r) => r());
      }
      applying = true;
      const t0 = Date.now();
      if (process.env.FERRY_CDC_TRACE) {
        for (const t of batch) {
          const truncates = t.changes.filter((c) => c.kind === 'truncate').length;
          if (truncates)
            process.stderr.write(
              `[trace] txn commit=${t.commitLsn} truncates=${truncates} changes=${t.changes.length}\n`,
            );
        }
      }
      try {
        await applyBatch(batch, isTolerant(first));
        if (process.env.FERRY_CDC_TRACE)
          process.stderr.write(
            `[trace] batch txns=${batch.length} changes=${count} queue=${queue.length} ms=${Date.now() - t0} recv=${stream.receivedLsn} ` +
              `commits=${batch[0].commitLsn}..${batch[batch.length - 1].commitLsn}\n`,
          );
      } finally {
        applying = false;
      }
      oldestUnapplied = queue.peek()?.commitTime;
      // Between batches, outside their transactions: a bounded DELETE by the commit-time index.
      if (journal?.pruneDue()) await journal.prune(target);
      if (reachedUntil()) break;
    }
    await stream.stop();
    await streaming;
    if (streamError && !reachedUntil() && !opts.signal?.aborted) throw streamError;
    await report();
    return totals;
  } catch (err) {
    throw err instanceof FerryError ? err : classifyPgError(err, opts.target);
  } finally {
    if (timer) clearInterval(timer);
    if (pinger) clearInterval(pinger);
    if (status) clearInterval(status);
    drained.forEach((r) => r());
    await stream.stop();
    for (const t of queue.drain()) removeSpill(t);
    await target.end().catch(() => undefined);
    // Let a report in flight finish before its monitor session is closed.
    while (reporting) await reporting.catch(() => undefined);
    await monitor?.end().catch(() => undefined);
  }
}

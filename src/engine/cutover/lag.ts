// Draining CDC to zero after the write freeze: the source's WAL position read once writes are frozen
// (the freeze point) bounds everything the application wrote, so once the target has applied up to it
// (ferry.cdc_progress.applied_lsn of the migration, or the slot's confirmed_flush_lsn, which the CDC
// runner also advances past WAL with nothing to apply) source and target hold the same rows.
// Polls only: the CDC runner keeps running elsewhere (its own activity) and is not touched.
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import { currentWalLsn, slotInfo } from '../cdc/source';
import { compareLsn, lsnToBigInt, maxLsn } from '../cdc/types';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint } from '../connection';

export interface LagProgress {
  freezeLsn: string;
  appliedLsn: string;
  /** Bytes of WAL between the applied position and the freeze point (0 once drained). */
  behindBytes: number;
  waitedMs: number;
}

export interface ZeroLag {
  freezeLsn: string;
  appliedLsn: string;
  waitedMs: number;
  /** When the applied position reached the freeze point. */
  lagZeroAt: Date;
}

export interface WaitForZeroLagOptions {
  source: PgConnInfo;
  target: PgConnInfo;
  migration: string;
  slotName: string;
  /** Default 10 minutes. */
  timeoutMs?: number;
  /** Default 250 ms. */
  pollMs?: number;
  onProgress?: (p: LagProgress) => void;
  signal?: AbortSignal;
  /** The freeze point when already read (a retried activity must keep the first one); default: read now. */
  freezeLsn?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Call after freezeWrites: reads the freeze point (pg_current_wal_lsn() on the source) unless given,
 * then waits until the target's applied position reaches it. Timeout → FerryError DATABASE_ERROR
 * (retryable: CDC may just be slow) saying how far behind it still is; abort → the same, saying so.
 */
export async function waitForZeroLag(opts: WaitForZeroLagOptions): Promise<ZeroLag> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const pollMs = opts.pollMs ?? 250;
  const freezeLsn = opts.freezeLsn ?? (await currentWalLsn(opts.source));
  const target = await connectPg(opts.target, 'ferry-cutover-lag');
  try {
    for (;;) {
      const applied = await appliedPosition(target, opts);
      const waitedMs = Date.now() - started;
      const behind = lsnToBigInt(freezeLsn) - lsnToBigInt(applied);
      opts.onProgress?.({
        freezeLsn,
        appliedLsn: applied,
        behindBytes: behind > 0n ? Number(behind) : 0,
        waitedMs,
      });
      if (compareLsn(applied, freezeLsn) >= 0)
        return { freezeLsn, appliedLsn: applied, waitedMs, lagZeroAt: new Date() };
      if (waitedMs >= timeoutMs || opts.signal?.aborted)
        throw new FerryError(
          ErrorType.DATABASE_ERROR,
          `migration ${opts.migration}: ${opts.signal?.aborted ? 'stopped' : `timed out after ${waitedMs} ms`} waiting for ` +
            `CDC to reach the freeze point ${freezeLsn}: applied up to ${applied}, ${behind} bytes of WAL behind; ` +
            `check that the CDC workflow is running (slot ${opts.slotName}) and its apply errors`,
        );
      await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waitedMs)));
    }
  } catch (err) {
    throw err instanceof FerryError ? err : classifyPgError(err, opts.target);
  } finally {
    await target.end().catch(() => undefined);
  }
}

/** max(ferry.cdc_progress.applied_lsn of the migration, the slot's confirmed_flush_lsn); '0/0' for neither. */
async function appliedPosition(
  target: Client,
  opts: Pick<WaitForZeroLagOptions, 'source' | 'target' | 'migration' | 'slotName'>,
): Promise<string> {
  const { rows } = await target
    .query<{ lsn: string }>(`SELECT applied_lsn::text AS lsn FROM ferry.cdc_progress WHERE migration = $1`, [
      opts.migration,
    ])
    .catch((err: { code?: string }) => {
      // 42P01: CDC never ran against this target: nothing is applied.
      if (err.code === '42P01') return { rows: [] as { lsn: string }[] };
      throw err;
    });
  const slot = await slotInfo(opts.source, opts.slotName);
  if (!slot && rows.length === 0)
    throw new FerryError(
      ErrorType.REPLICATION_NOT_READY,
      `${describeEndpoint(opts.source)}: replication slot ${opts.slotName} does not exist and ` +
        `${describeEndpoint(opts.target)} has no CDC progress for migration ${opts.migration}: CDC is not running`,
    );
  return maxLsn(rows[0]?.lsn ?? '0/0', slot?.confirmedFlushLsn ?? '0/0');
}

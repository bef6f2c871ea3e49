// The benchmark's Temporal dev server, for the durable `ferry` runner: started on first use (outside any
// timed interval), one per bench run, its SQLite file and log in the work directory; stopped with the
// PostgreSQL servers at the end of the run or on an interrupt.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pickPort } from '../src/dev/postgres';
import { findTemporalBinary, startTemporalDev, stopPid } from '../src/dev/temporal';
import { excludeFromTrees, includeInTrees } from './proc';
import { ToolUnavailableError } from './runners/types';

export interface BenchTemporal {
  address: string;
  pid: number;
  /** Seconds it took to start (once per bench run; in no tool's timing). */
  startSeconds: number;
  logFile: string;
}

/** The server of the run in progress, or the failed start (so later datasets do not retry it). */
let current: Promise<BenchTemporal> | undefined;

/**
 * The dev server for the run whose work directory is `root`, started if it is not yet. Throws
 * ToolUnavailableError when the Temporal CLI is not installed (Ferry's durable path cannot run then).
 */
export function benchTemporal(root: string): Promise<BenchTemporal> {
  current ??= (async () => {
    let binary: string;
    try {
      binary = await findTemporalBinary();
    } catch (err) {
      throw new ToolUnavailableError((err as Error).message);
    }
    const dir = path.join(root, 'temporal');
    await fs.mkdir(dir, { recursive: true });
    const logFile = path.join(root, 'logs', 'temporal.log');
    const port = await pickPort();
    const t0 = process.hrtime.bigint();
    const pid = await startTemporalDev({
      binary,
      port,
      headless: true,
      dbFile: path.join(dir, 'temporal.db'),
      logFile,
    });
    // It is the bench's, not the tool's: no tool's process-tree RSS includes it.
    excludeFromTrees(pid);
    return {
      address: `127.0.0.1:${port}`,
      pid,
      startSeconds: Number(process.hrtime.bigint() - t0) / 1e9,
      logFile,
    };
  })();
  return current;
}

/** Stop the run's dev server if one was started (idempotent; safe from a signal handler). */
export async function stopBenchTemporal(): Promise<void> {
  const t = await current?.catch(() => undefined);
  current = undefined;
  if (!t) return;
  await stopPid(t.pid);
  includeInTrees(t.pid);
}

// The contract between the benchmark and each tool it times: a ToolRunner loads one source database
// into one fresh, empty target database and says how long that took end to end.
import type { PgConnInfo } from '../../src/engine/connection';
import type { ToolName } from '../args';
import type { BenchServer, BenchServers } from '../servers';

export interface RunContext {
  servers: BenchServers;
  sourceDb: string;
  /** Already created and empty; the runner must not drop or recreate it. */
  targetDb: string;
  source: PgConnInfo;
  target: PgConnInfo;
  /** libpq URIs without the password (it is PGPASSWORD in `env`). */
  sourceUri: string;
  targetUri: string;
  sourceServer: BenchServer;
  targetServer: BenchServer;
  /** The parallelism every tool gets. */
  jobs: number;
  /** A private, empty directory for this run's dumps and work files. */
  workDir: string;
  /** Append the tool's output here. */
  logFile: string;
  /** Environment for child processes: PG 15 clients on PATH, PGPASSWORD, no stray PG* variables. */
  env: NodeJS.ProcessEnv;
}

export interface RunResult {
  /** Wall-clock seconds, data + indexes + constraints + sequences, including process start-up. */
  seconds: number;
  /** Peak RSS in MB and what it measured (see ToolOutcome.rssScope in report.ts). */
  peakRssMb?: number;
  rssScope?: 'process' | 'tree';
  notes?: string;
  /**
   * Further figures for the JSON line, as `<tool>_<key>` (e.g. the durable runner's `worker_startup_s`):
   * numbers measured outside or beside the timed interval.
   */
  figures?: Record<string, number>;
}

/**
 * One tool under test. `run` must load everything (schema, data, indexes, constraints, sequence values)
 * or throw; it must never run anything concurrently with another runner (the bench calls them one at
 * a time). Throw ToolUnavailableError when the tool cannot run at all, so no number is reported for it.
 */
export interface ToolRunner {
  name: ToolName;
  run(ctx: RunContext): Promise<RunResult>;
}

/** The tool is not installed or not built yet: the bench reports null for it with this reason. */
export class ToolUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolUnavailableError';
  }
}

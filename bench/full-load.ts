// The full-load benchmark: for each dataset, build it on a fresh PostgreSQL 13 source, then let each
// tool load it into its own empty database on one PostgreSQL 15 target, one tool at a time, timing
// each end to end and checking its result against the source.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchArgs, DatasetName, ToolName } from './args';
import { createDataset } from './datasets';
import { compareFingerprints, fingerprint, totalIndexes, totalRows } from './fingerprint';
import { ForeignCpuMeter, TreeRssSampler, killRunningChildren } from './proc';
import type { DatasetResult, ToolOutcome } from './report';
import { copyPipeRunner } from './runners/copy-pipe';
import { ferryEngineRunner } from './runners/ferry';
import { ferryDurableRunner } from './runners/ferry-durable';
import { pgDumpRestoreRunner } from './runners/pg-dump-restore';
import { pgcopydbRunner } from './runners/pgcopydb';
import { type RunContext, type ToolRunner, ToolUnavailableError } from './runners/types';
import {
  type BenchServers,
  checkpointBoth,
  connInfo,
  createDatabase,
  dropDatabase,
  dropLeftoverSlots,
  makeRoot,
  startBenchServers,
  stopBenchServers,
  toolEnv,
  uri,
} from './servers';
import { benchTemporal, stopBenchTemporal } from './temporal';

/** Who runs each tool: `ferry` is the durable path users run, `ferry_engine` the engine without it. */
export const RUNNERS: Record<ToolName, ToolRunner> = {
  ferry: ferryDurableRunner,
  ferry_engine: ferryEngineRunner,
  pgcopydb: pgcopydbRunner,
  pg_dump_restore: pgDumpRestoreRunner,
  copy_pipe: copyPipeRunner,
};

/** Share of the machine's CPU used by unrelated processes above which a timing is flagged as noisy. */
const FOREIGN_CPU_WARN = 0.1;

/** Differences listed per tool before "and N more". */
const MAX_DIFFS = 8;

export type Log = (line: string) => void;

/** Set while a run holds servers and temp dirs, so an interrupt can release them. */
let releaseRun: (() => Promise<void>) | undefined;

/** Stop children and servers of the run in progress (SIGINT/SIGTERM). Safe to call when idle. */
export async function abortBench(): Promise<void> {
  killRunningChildren();
  await releaseRun?.();
}

export async function runFullLoadBench(args: BenchArgs, log: Log): Promise<DatasetResult[]> {
  const root = await makeRoot('ferry-bench-', os.tmpdir());
  const logDir = path.join(root, 'logs');
  await fs.mkdir(logDir, { recursive: true });
  log(`work directory ${root}${args.keep ? ' (kept)' : ''}; tool logs in ${logDir}`);

  let servers: BenchServers | undefined;
  // One cleanup, shared: the signal handler and the normal path may both ask, and neither may exit
  // the process while the other's cleanup is still removing files.
  let releasing: Promise<void> | undefined;
  releaseRun = () =>
    (releasing ??= (async () => {
      await stopBenchTemporal().catch((e: Error) => log(`stopping Temporal: ${e.message}`));
      await stopBenchServers(root).catch((e: Error) => log(`stopping servers: ${e.message}`));
      if (!args.keep) await fs.rm(root, { recursive: true, force: true }).catch(() => undefined);
    })());
  try {
    servers = await startBenchServers(root);
    log(
      `source PostgreSQL 13 on port ${servers.source.port}, target PostgreSQL 15 on port ${servers.target.port}`,
    );
    // The durable path needs a Temporal server: started now, before any tool's timing or memory sampling
    // (a failure is the `ferry` tool's, reported when it runs).
    if (args.tools.includes('ferry')) {
      await benchTemporal(root).then(
        (t) => log(`Temporal dev server on ${t.address} (pid ${t.pid}), log ${t.logFile}`),
        (e: Error) => log(`Temporal dev server: ${e.message}`),
      );
    }
    const results: DatasetResult[] = [];
    for (const dataset of args.datasets)
      results.push(await benchDataset(dataset, args, servers, root, logDir, log));
    return results;
  } finally {
    await releaseRun();
    releaseRun = undefined;
  }
}

function addNote(o: ToolOutcome, note: string | undefined): void {
  if (note) o.notes = o.notes ? `${o.notes}; ${note}` : note;
}

async function benchDataset(
  dataset: DatasetName,
  args: BenchArgs,
  servers: BenchServers,
  root: string,
  logDir: string,
  log: Log,
): Promise<DatasetResult> {
  log(`${dataset}: building the source dataset at scale ${args.scale}`);
  let t = Date.now();
  const sourceDb = await createDataset(dataset, args.scale, servers, logDir);
  // Fingerprinting reads every table, which also leaves the source warm in cache for every tool alike.
  const srcFp = await fingerprint(servers, servers.source, sourceDb, args.jobs);
  const source = {
    tables: Object.keys(srcFp.tables).length,
    rows: totalRows(srcFp),
    bytes: srcFp.bytes,
    indexes: totalIndexes(srcFp),
    sequences: Object.keys(srcFp.sequences).length,
  };
  log(
    `${dataset}: ${source.tables} tables, ${source.rows} rows, ${(source.bytes / 1048576).toFixed(0)} MB ` +
      `(built and fingerprinted in ${((Date.now() - t) / 1000).toFixed(0)} s)`,
  );

  const outcomes: ToolOutcome[] = [];
  for (const tool of args.tools) {
    const targetDb = `bench_${dataset}_${tool}`;
    const workDir = path.join(root, 'work', `${dataset}-${tool}`);
    await fs.mkdir(workDir, { recursive: true });
    await createDatabase(servers, servers.target, targetDb);
    await checkpointBoth(servers);
    const ctx: RunContext = {
      servers,
      sourceDb,
      targetDb,
      source: connInfo(servers, servers.source, sourceDb),
      target: connInfo(servers, servers.target, targetDb),
      sourceUri: uri(servers.source, sourceDb),
      targetUri: uri(servers.target, targetDb),
      sourceServer: servers.source,
      targetServer: servers.target,
      jobs: args.jobs,
      workDir,
      logFile: path.join(logDir, `${dataset}-${tool}.log`),
      env: toolEnv(servers),
    };
    log(`${dataset}: ${tool} ...`);
    const outcome: ToolOutcome = {
      tool,
      status: 'ok',
      seconds: null,
      peakRssMb: null,
      rssScope: 'tree',
      equal: null,
      differences: [],
    };
    // Other work on the machine skews a timing; say so next to the figure rather than hide it.
    const foreign = new ForeignCpuMeter([process.pid, servers.source.pid, servers.target.pid]).start();
    // Every process the bench starts is the tool's: the servers are daemons, not our descendants.
    const sampler = new TreeRssSampler(process.pid, true).start();
    try {
      const r = await RUNNERS[tool].run(ctx);
      const treePeak = sampler.stop();
      outcome.seconds = r.seconds;
      outcome.peakRssMb = r.peakRssMb ?? treePeak;
      outcome.rssScope = r.rssScope ?? 'tree';
      outcome.figures = r.figures;
      addNote(outcome, r.notes);
      // A process-scoped figure leaves out programs the tool starts (pg_dump for the schema, say).
      if (outcome.rssScope === 'process')
        addNote(outcome, `process tree peak ${treePeak.toFixed(0)} MB (sampled)`);
    } catch (err) {
      sampler.stop();
      outcome.status = err instanceof ToolUnavailableError ? 'unavailable' : 'failed';
      outcome.error = (err as Error).message;
    }
    const others = foreign.stop();
    outcome.otherCpuShare = others;
    if (others > FOREIGN_CPU_WARN)
      addNote(
        outcome,
        `other processes used at least ${(others * 100).toFixed(0)}% of the machine's CPU meanwhile: noisy figure`,
      );
    const slots = await dropLeftoverSlots(servers);
    if (slots.length) addNote(outcome, `left replication slots ${slots.join(', ')} on the source (dropped)`);

    if (outcome.status === 'ok') {
      t = Date.now();
      const diffs = compareFingerprints(
        srcFp,
        await fingerprint(servers, servers.target, targetDb, args.jobs),
      );
      outcome.equal = diffs.length === 0;
      outcome.differences =
        diffs.length > MAX_DIFFS
          ? [...diffs.slice(0, MAX_DIFFS), `... and ${diffs.length - MAX_DIFFS} more`]
          : diffs;
      log(
        `${dataset}: ${tool} ${outcome.seconds!.toFixed(2)} s, ${outcome.equal ? 'equal to the source' : `DIFFERS (${diffs.length})`}` +
          ` (verified in ${((Date.now() - t) / 1000).toFixed(0)} s)`,
      );
    } else {
      log(`${dataset}: ${tool} ${outcome.status}: ${outcome.error!.split('\n')[0]}`);
    }
    // One target database at a time keeps the disk in check at large scales; --keep leaves them.
    if (!args.keep) {
      await dropDatabase(servers, servers.target, targetDb);
      await fs.rm(workDir, { recursive: true, force: true });
    }
    outcomes.push(outcome);
  }
  return { dataset, scale: args.scale, jobs: args.jobs, source, outcomes };
}

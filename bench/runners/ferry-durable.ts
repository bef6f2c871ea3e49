// Ferry's durable full load, as users run it: a ferry.yaml for the bench's source and target, a
// `ferry worker` process on the bench's Temporal dev server, then `ferry migrate start --wait --json`.
// The timed interval is the `migrate start` command, from its invocation to its exit, with the worker
// already started and polling; the worker's start-up is reported beside it. The worker is the
// "replication instance": its memory is the figure.
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { stopPid } from '../../src/dev/temporal';
import type { FullLoadStatus } from '../../src/workflows/definitions';
import { benchTaskSettings } from '../ferry-settings';
import { type LongRunning, logTail, procMemMb, runLogged, startLogged } from '../proc';
import { benchTemporal } from '../temporal';
import { lastJsonLine } from './ferry';
import { type RunContext, type RunResult, type ToolRunner, ToolUnavailableError } from './types';

/** The repository root: this file runs from dist/bench/runners/ (compiled) or bench/runners/ (ts). */
function repoRoot(): string {
  const up2 = path.resolve(__dirname, '..', '..');
  return path.basename(up2) === 'dist' ? path.dirname(up2) : up2;
}
const REPO_ROOT = repoRoot();
const FERRY_BIN = path.join(REPO_ROOT, 'bin', 'ferry.js');
const FERRY_CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'index.js');

/** How long a worker may take to bundle its workflows and start polling. */
const WORKER_READY_TIMEOUT_MS = 180_000;
/** How long a worker may take to drain and exit after SIGTERM (its shutdownGraceTime is 30 s). */
const WORKER_STOP_TIMEOUT_MS = 60_000;

/** The last line of `ferry migrate start --wait --json`. */
type MigrateResult = Partial<FullLoadStatus> & { workflowId?: string; ok?: boolean };

/** Peak VmRSS of a few processes, sampled every 200 ms (a lower bound; VmHWM is exact). */
class PidRssSampler {
  private timer?: NodeJS.Timeout;
  readonly peakMb = new Map<number, number>();

  constructor(private readonly pids: number[]) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), 200);
    this.timer.unref();
    return this;
  }

  stop(): this {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    return this;
  }

  peak(pid: number): number | undefined {
    return this.peakMb.get(pid);
  }

  private sample(): void {
    for (const pid of this.pids) {
      const mb = procMemMb(pid, 'VmRSS');
      if (mb !== undefined && mb > (this.peakMb.get(pid) ?? 0)) this.peakMb.set(pid, mb);
    }
  }
}

/** Write the run's ferry.yaml, settings.json and 0600 password files under `dir`; returns the yaml's path. */
export async function writeBenchConfig(
  ctx: RunContext,
  dir: string,
  temporal: { address: string; taskQueue: string },
  migration: string,
): Promise<string> {
  const secrets = path.join(dir, 'secrets');
  await fs.mkdir(secrets, { recursive: true, mode: 0o700 });
  const pwFile = async (role: string, password: string | undefined) => {
    const f = path.join(secrets, `${role}.password`);
    await fs.writeFile(f, password ?? '', { mode: 0o600 });
    await fs.chmod(f, 0o600);
    return `file:${path.relative(dir, f)}`;
  };
  await fs.writeFile(
    path.join(dir, 'settings.json'),
    JSON.stringify(benchTaskSettings(ctx.jobs), null, 2) + '\n',
  );
  const endpoint = (id: string, role: 'source' | 'target', c: RunContext['source'], password: string) => ({
    id,
    role,
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    password,
    sslmode: c.sslmode ?? 'disable',
  });
  const doc = {
    temporal: { address: temporal.address, namespace: 'default', taskQueue: temporal.taskQueue },
    workDir: 'work',
    endpoints: [
      endpoint('bench-source', 'source', ctx.source, await pwFile('source', ctx.source.password)),
      endpoint('bench-target', 'target', ctx.target, await pwFile('target', ctx.target.password)),
    ],
    migrations: [
      {
        name: migration,
        source: 'bench-source',
        target: 'bench-target',
        engine: 'native',
        migrationType: 'full-load',
        taskSettings: 'settings.json',
        approvers: ['bench'],
      },
    ],
  };
  const file = path.join(dir, 'ferry.yaml');
  await fs.writeFile(
    file,
    '# Written by the full-load benchmark for one run. Passwords are file: references (mode 0600).\n' +
      YAML.stringify(doc),
  );
  return file;
}

/**
 * The environment for Ferry's processes: no PGPASSWORD (the config's file: references must do) and no
 * TEMPORAL_ADDRESS/NAMESPACE (the worker would prefer them to ferry.yaml).
 */
function ferryEnv(ctx: RunContext): NodeJS.ProcessEnv {
  const env = { ...ctx.env };
  delete env.PGPASSWORD;
  delete env.TEMPORAL_ADDRESS;
  delete env.TEMPORAL_NAMESPACE;
  return env;
}

/**
 * Start `ferry worker` and wait until the SDK logs `Worker state changed` to RUNNING (its workflows
 * bundled, its pollers started). Returns the process and the seconds that took.
 */
async function startWorker(
  config: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
): Promise<{ worker: LongRunning; seconds: number }> {
  const t0 = process.hrtime.bigint();
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  const worker = await startLogged(process.execPath, [FERRY_BIN, 'worker', '--config', config], {
    env,
    cwd: REPO_ROOT,
    logFile,
    onStderrLine: (line) => {
      if (!line.startsWith('{')) return;
      try {
        const e = JSON.parse(line) as { msg?: string; state?: string };
        if (e.msg === 'Worker state changed' && e.state === 'RUNNING') onReady();
      } catch {
        // not one of the worker's JSON log lines
      }
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    worker.exited.then(() => 'exited' as const),
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), WORKER_READY_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (outcome !== 'ready') {
    await stopPid(worker.pid, 5_000);
    await worker.exited;
    const tail = (await logTail(logFile))
      .split('\n')
      .map((l) => '    ' + l)
      .join('\n');
    throw new Error(
      `ferry worker ${outcome === 'exited' ? 'exited' : `was not RUNNING after ${WORKER_READY_TIMEOUT_MS / 1000} s`} (log: ${logFile}):\n${tail}`,
    );
  }
  return { worker, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** "preparing 0.4 s, snapshot 0.1 s, ..." from the workflow's phase timings. */
function phaseSummary(timings: FullLoadStatus['timings'] | undefined): {
  text: string;
  workflowSeconds?: number;
} {
  if (!timings) return { text: 'no phase timings' };
  const phases = Object.entries(timings).filter(([p]) => p !== 'completed' && p !== 'failed');
  const text = phases
    .map(
      ([p, t]) =>
        `${p} ${t.end ? ((Date.parse(t.end) - Date.parse(t.start)) / 1000).toFixed(1) + ' s' : '?'}`,
    )
    .join(', ');
  const first = phases[0]?.[1].start;
  const end = timings.completed?.start;
  return { text, workflowSeconds: first && end ? (Date.parse(end) - Date.parse(first)) / 1000 : undefined };
}

export const ferryDurableRunner: ToolRunner = {
  name: 'ferry',
  async run(ctx: RunContext): Promise<RunResult> {
    if (!existsSync(FERRY_CLI))
      throw new ToolUnavailableError(`Ferry's CLI is not built (no ${FERRY_CLI}); run npm run build`);
    const temporal = await benchTemporal(ctx.servers.root);
    // Unique per run: a worker of an earlier dataset (or bench run) never takes this run's tasks.
    const taskQueue = `ferry-bench-${ctx.targetDb}-${randomBytes(4).toString('hex')}`;
    const migration = ctx.targetDb;
    const config = await writeBenchConfig(
      ctx,
      ctx.workDir,
      { address: temporal.address, taskQueue },
      migration,
    );
    const env = ferryEnv(ctx);

    const { worker, seconds: startupSeconds } = await startWorker(config, env, ctx.logFile);
    const rssAtReady = procMemMb(worker.pid, 'VmRSS');
    const sampler = new PidRssSampler([worker.pid, temporal.pid]).start();
    let hwm: number | undefined;
    let migratePid: number | undefined;
    // A worker that dies mid-load would leave `migrate start --wait` waiting for ever: stop it too.
    let workerDied = false;
    void worker.exited.then(() => {
      workerDied = true;
      if (migratePid) {
        try {
          process.kill(-migratePid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    });
    let r: Awaited<ReturnType<typeof runLogged>>;
    try {
      r = await runLogged(
        process.execPath,
        [FERRY_BIN, 'migrate', 'start', migration, '--config', config, '--wait', '--json'],
        {
          env,
          cwd: REPO_ROOT,
          logFile: ctx.logFile,
          captureStdout: true,
          onSpawn: (pid) => (migratePid = pid),
        },
      );
    } finally {
      migratePid = undefined;
      sampler.stop();
      // The kernel's high-water mark over the worker's whole life (start-up included), read before it goes.
      hwm = procMemMb(worker.pid, 'VmHWM');
      if (!workerDied) {
        await stopPid(worker.pid, WORKER_STOP_TIMEOUT_MS);
        await worker.exited;
      }
    }

    const out = lastJsonLine<MigrateResult>(r.stdout);
    if (workerDied && !out?.ok)
      throw new Error(
        `ferry worker exited during the load (log: ${ctx.logFile}):\n${await logTail(ctx.logFile)}`,
      );
    if (r.code !== 0 || !out?.ok) {
      const why = out
        ? `phase ${out.phase ?? '?'}${out.error ? `: ${out.error}` : ''}` +
          (out.totals ? ` (${out.totals.completed}/${out.totals.tables} tables)` : '')
        : `no result line; last output:\n${r.tail}`;
      throw new Error(`ferry migrate start exited with ${r.code ?? r.signal}: ${why} (log: ${ctx.logFile})`);
    }
    for (const f of out.findings ?? []) await fs.appendFile(ctx.logFile, `finding ${f}\n`);
    const phases = phaseSummary(out.timings);
    const loadPeak = sampler.peak(worker.pid);
    const temporalPeak = sampler.peak(temporal.pid);
    const notes = [
      `worker start-up ${startupSeconds.toFixed(1)} s until RUNNING (not timed), RSS then ${rssAtReady?.toFixed(0) ?? '?'} MB`,
      `worker RSS peak during the load ${loadPeak?.toFixed(0) ?? '?'} MB (sampled), VmHWM ${hwm?.toFixed(0) ?? '?'} MB`,
      `workflow ${phases.workflowSeconds?.toFixed(2) ?? '?'} s (${phases.text})`,
      `Temporal dev server (started once in ${temporal.startSeconds.toFixed(1)} s, not timed) RSS ${temporalPeak?.toFixed(0) ?? '?'} MB, not counted`,
    ];
    if (out.findings?.length) notes.push(`${out.findings.length} findings in ${ctx.logFile}`);
    const figures: Record<string, number> = { worker_startup_s: startupSeconds };
    if (loadPeak !== undefined) figures.load_peak_rss_mb = loadPeak;
    if (phases.workflowSeconds !== undefined) figures.workflow_s = phases.workflowSeconds;
    return {
      seconds: r.seconds,
      peakRssMb: hwm ?? loadPeak,
      rssScope: 'process',
      notes: notes.join('; '),
      figures,
    };
  },
};

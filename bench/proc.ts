// Child processes of the benchmark: run a tool with its output appended to a log file, time it, sample
// the peak memory of the process tree it grows, and kill its whole process group if the bench stops.
import { spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, promises as fs } from 'node:fs';
import os from 'node:os';

/** Process groups of children still running, so an interrupted bench can stop them (and only them). */
const running = new Set<number>();

/** SIGTERM every process group this module started that is still running. */
export function killRunningChildren(): void {
  for (const pgid of running) {
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/** VmRSS or VmHWM of one process in MB, from /proc; undefined once the process is gone. */
export function procMemMb(pid: number | 'self', field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Parent pid of every live process, from /proc/<pid>/stat (the command name may hold spaces and parens). */
function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(rest[1]));
    } catch {
      // exited while we looked
    }
  }
  return parents;
}

/**
 * Pids of the bench's own long-lived helpers (the Temporal dev server): children of the bench, but no
 * tool's client process, so TreeRssSampler leaves them and their descendants out.
 */
const untimedDaemons = new Set<number>();

/** Leave `pid` (and its descendants) out of every TreeRssSampler from now on. */
export function excludeFromTrees(pid: number): void {
  untimedDaemons.add(pid);
}

export function includeInTrees(pid: number): void {
  untimedDaemons.delete(pid);
}

/** `root` and all its descendants, except the subtrees of `prune`. */
export function processTree(root: number, prune: ReadonlySet<number> = new Set()): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentMap()) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    if (prune.has(pid)) continue;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * Samples the summed VmRSS of a process tree. Sampling misses short peaks between samples, so this is a
 * lower bound; for a single process the kernel's VmHWM (read by the process itself) is exact.
 */
export class TreeRssSampler {
  private timer?: NodeJS.Timeout;
  peakMb = 0;

  /** `excludeRoot`: count only the descendants (the bench's own Node process is not the tool). */
  constructor(
    private readonly root: number,
    private readonly excludeRoot = false,
    private readonly intervalMs = 200,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    return this.peakMb;
  }

  private sample(): void {
    let sum = 0;
    for (const pid of processTree(this.root, untimedDaemons)) {
      if (this.excludeRoot && pid === this.root) continue;
      sum += procMemMb(pid, 'VmRSS') ?? 0;
    }
    if (sum > this.peakMb) this.peakMb = sum;
  }
}

export interface RunLoggedOptions {
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here, after a header naming the command. */
  logFile: string;
  cwd?: string;
  /** Also keep stdout in memory (small outputs only: the Ferry child's result line). */
  captureStdout?: boolean;
  /** Called with the child's pid once it runs (its process group id too), e.g. to stop it early. */
  onSpawn?: (pid: number) => void;
}

export interface RunLoggedResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall-clock seconds from spawn to exit. */
  seconds: number;
  stdout: string;
  /** Last lines of the log, for error messages. */
  tail: string;
}

/** Run `cmd args` in its own process group, output to `logFile`. Never rejects for a non-zero exit. */
export async function runLogged(
  cmd: string,
  args: string[],
  opts: RunLoggedOptions,
): Promise<RunLoggedResult> {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  log.write(`\n$ ${cmd} ${args.map((a) => (/^[\w./:=,@-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}\n`);
  const started = process.hrtime.bigint();
  const result = await new Promise<Omit<RunLoggedResult, 'tail'>>((resolve, reject) => {
    // detached: its own process group, so an interrupt can stop pipelines and pgcopydb's sub-processes too.
    const child = spawn(cmd, args, {
      env: opts.env,
      cwd: opts.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    if (child.pid) running.add(child.pid);
    if (child.pid) opts.onSpawn?.(child.pid);
    child.stdout.on('data', (d: Buffer) => {
      log.write(d);
      if (opts.captureStdout) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => log.write(d));
    child.on('error', (err) => {
      if (child.pid) running.delete(child.pid);
      reject(new Error(`cannot run ${cmd}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    child.on('close', (code, signal) => {
      if (child.pid) running.delete(child.pid);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ code, signal, seconds, stdout });
    });
  });
  log.write(`# exit ${result.code ?? result.signal} after ${result.seconds.toFixed(2)} s\n`);
  await new Promise<void>((r) => log.end(r));
  return { ...result, tail: await logTail(opts.logFile) };
}

export interface LongRunning {
  pid: number;
  /** Resolves when the process has exited and its output is in the log. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether it has exited. */
  done(): boolean;
}

/**
 * Start a long-running program (a server, a worker) in its own process group, output appended to
 * `logFile`, each complete stderr line also passed to `onStderrLine`. Registered like runLogged's
 * children, so an interrupted bench stops it. The caller stops it (stopPid) and awaits `exited`.
 */
export function startLogged(
  cmd: string,
  args: string[],
  opts: Omit<RunLoggedOptions, 'captureStdout' | 'onSpawn'> & { onStderrLine?: (line: string) => void },
): Promise<LongRunning> {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  log.write(`\n$ ${cmd} ${args.map((a) => (/^[\w./:=,@-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env,
      cwd: opts.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let finished = false;
    let partial = '';
    child.stdout.on('data', (d: Buffer) => log.write(d));
    child.stderr.on('data', (d: Buffer) => {
      log.write(d);
      if (!opts.onStderrLine) return;
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) opts.onStderrLine(l);
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      child.on('close', (code, signal) => {
        finished = true;
        if (child.pid) running.delete(child.pid);
        log.write(`# exit ${code ?? signal}\n`);
        log.end(() => res({ code, signal }));
      });
    });
    child.on('error', (err) => {
      finished = true;
      if (child.pid) running.delete(child.pid);
      log.end();
      reject(new Error(`cannot run ${cmd}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    child.on('spawn', () => {
      running.add(child.pid!);
      resolve({ pid: child.pid!, exited, done: () => finished });
    });
  });
}

export async function logTail(file: string, lines = 12): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Throws with the log tail unless the run exited 0. */
export function checkExit(what: string, r: RunLoggedResult, logFile: string): void {
  if (r.code === 0) return;
  throw new Error(
    `${what} exited with ${r.code ?? r.signal} (log: ${logFile}):\n${r.tail
      .split('\n')
      .map((l) => '    ' + l)
      .join('\n')}`,
  );
}

/** utime + stime of one process (clock ticks), and its parent pid. */
function procTicks(pid: number): { ticks: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state(0) ppid(1) ... utime(11) stime(12). Not cutime/cstime: a parent
    // reaping a child during the window would bring in CPU the child used long before it.
    return { ticks: Number(f[11]) + Number(f[12]), ppid: Number(f[1]) };
  } catch {
    return undefined; // exited between the listing and the read
  }
}

/** Ticks of every user-space process outside the trees under `roots` (kernel threads are skipped). */
function foreignTicks(roots: number[]): Map<number, number> {
  const ours = new Set(roots.flatMap((r) => processTree(r)));
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (ours.has(pid) || pid === 2) continue;
    const t = procTicks(pid);
    // Children of kthreadd are kernel threads: writeback and I/O work our own tools cause.
    if (t && t.ppid !== 2) out.set(pid, t.ticks);
  }
  return out;
}

/**
 * How much CPU other user-space processes (not the bench, its tools or its servers) used while a
 * tool ran: other people's work on the machine that the timing silently includes. A lower bound:
 * a process that exits before the end of the window is not counted.
 */
export class ForeignCpuMeter {
  private before = new Map<number, number>();
  private t0 = 0n;

  constructor(private readonly roots: number[]) {}

  start(): this {
    this.before = foreignTicks(this.roots);
    this.t0 = process.hrtime.bigint();
    return this;
  }

  /** Share of the machine's total CPU capacity that others used, 0..1. */
  stop(): number {
    const seconds = Number(process.hrtime.bigint() - this.t0) / 1e9;
    let ticks = 0;
    for (const [pid, t] of foreignTicks(this.roots)) ticks += Math.max(0, t - (this.before.get(pid) ?? 0));
    // /proc reports USER_HZ ticks, 100 a second on Linux.
    const capacity = seconds * 100 * os.cpus().length;
    return capacity > 0 ? ticks / capacity : 0;
  }
}

// Command-line flags of `npm run bench`: parsed and validated up front, every problem reported at once.
import os from 'node:os';

/**
 * The tools the full-load benchmark times; the names are also the JSON keys' prefixes (`<name>_s`).
 * `ferry` is the durable path users run (a worker, Temporal, `ferry migrate start --wait`);
 * `ferry_engine` is the same engine called in-process, so the difference is the cost of durability.
 */
export const TOOL_NAMES = ['ferry', 'ferry_engine', 'pgcopydb', 'pg_dump_restore', 'copy_pipe'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export const DATASET_NAMES = ['pgbench', 'mixed'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export const BENCHMARKS = ['full-load', 'cdc'] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

/** Default pgbench scale factor of each benchmark. */
export const DEFAULT_SCALE: Record<BenchmarkName, number> = { 'full-load': 50, cdc: 10 };

/** The change-data-capture benchmark's own figures (bench/cdc.ts). */
export interface CdcArgs {
  /** Source transactions of the backlog both tools catch up on (pgbench tpcb-like, 4 row changes each). */
  txns: number;
  /** Steady-state pgbench rate, transactions per second (-R). */
  rate: number;
  /** Steady-state duration in seconds (-T). */
  seconds: number;
  /** pgbench client connections, for the backlog and the steady state (-c). */
  clients: number;
}

export const CDC_DEFAULTS: CdcArgs = { txns: 70_000, rate: 500, seconds: 120, clients: 4 };

/** Flags only one benchmark takes; naming one with the other benchmark is a usage error. */
const FLAG_BENCH: Record<string, BenchmarkName> = {
  '--dataset': 'full-load',
  '--only': 'full-load',
  '--txns': 'cdc',
  '--rate': 'cdc',
  '--seconds': 'cdc',
  '--clients': 'cdc',
};

export interface BenchArgs {
  bench: BenchmarkName;
  /**
   * pgbench scale factor (default per benchmark, DEFAULT_SCALE); the mixed dataset is sized from it
   * too (about 15 MB per unit each).
   */
  scale: number;
  datasets: DatasetName[];
  /** Parallelism every tool gets: COPY jobs, index jobs, pg_dump/pg_restore -j. */
  jobs: number;
  /** Keep servers' data directories, dumps and logs (servers are stopped either way). */
  keep: boolean;
  /** Tools to run, in the order they run. */
  tools: ToolName[];
  /** The cdc benchmark's flags (defaults when the benchmark is full-load). */
  cdc: CdcArgs;
  help: boolean;
}

/** Thrown for flags the benchmark cannot run with; the message lists every problem, one a line. */
export class BenchUsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'BenchUsageError';
  }
}

export const USAGE = `usage: node dist/bench/index.js full-load [--scale N] [--dataset pgbench|mixed|both]
                                  [--jobs N] [--keep]
                                  [--only ferry,ferry_engine,pgcopydb,pg_dump_restore,copy_pipe]
       node dist/bench/index.js cdc [--txns N] [--scale N] [--rate R] [--seconds T]
                                  [--clients N] [--jobs N] [--keep]

full-load: Ferry's full load next to pgcopydb, pg_dump/pg_restore and COPY pipes.
  --scale N        pgbench scale factor (default 50, about 750 MB); the mixed dataset is sized alike
  --dataset D      pgbench, mixed or both (default both)
  --jobs N         parallelism given to every tool (default: number of CPUs)
  --keep           keep data directories, dumps and logs under the work directory
  --only LIST      comma-separated tools to run (default: all, in the order above)

cdc: Ferry's change data capture next to native logical replication (catch-up and steady-state lag).
  --txns N         backlog of pgbench transactions both catch up on (default ${CDC_DEFAULTS.txns})
  --scale N        pgbench scale factor of the source (default ${DEFAULT_SCALE.cdc})
  --rate R         steady-state pgbench rate, transactions per second (default ${CDC_DEFAULTS.rate})
  --seconds T      steady-state duration in seconds (default ${CDC_DEFAULTS.seconds})
  --clients N      pgbench client connections (default ${CDC_DEFAULTS.clients})
  --jobs N         parallelism of pg_restore and of the verification (default: number of CPUs)
  --keep           keep data directories and logs under the work directory

  --help           this text

The last line on stdout is one JSON object with the figures.`;

export function defaultJobs(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Parse argv (without `node script`). Throws BenchUsageError listing every problem found. */
export function parseBenchArgs(argv: readonly string[], jobsDefault = defaultJobs()): BenchArgs {
  const problems: string[] = [];
  const out: BenchArgs = {
    bench: 'full-load',
    scale: DEFAULT_SCALE['full-load'],
    datasets: [...DATASET_NAMES],
    jobs: jobsDefault,
    keep: false,
    tools: [...TOOL_NAMES],
    cdc: { ...CDC_DEFAULTS },
    help: false,
  };
  let benchSeen = false;
  let scaleGiven = false;
  /** Benchmark-specific flags given, in order, to check against the benchmark once it is known. */
  const specific: string[] = [];

  const positiveInt = (flag: string, raw: string | undefined, max: number): number | undefined => {
    if (raw === undefined || raw.startsWith('--')) {
      problems.push(`${flag} needs a value`);
      return undefined;
    }
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
      problems.push(`${flag} must be a whole number from 1 to ${max}, got "${raw}"`);
      return undefined;
    }
    return Number(raw);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    // Accept --flag=value as well as --flag value.
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    if (flag in FLAG_BENCH && !specific.includes(flag)) specific.push(flag);
    switch (flag) {
      case '--scale': {
        const v = positiveInt('--scale', value(), 100_000);
        if (v !== undefined) out.scale = v;
        scaleGiven = true;
        break;
      }
      case '--txns': {
        const v = positiveInt('--txns', value(), 100_000_000);
        if (v !== undefined) out.cdc.txns = v;
        break;
      }
      case '--rate': {
        const v = positiveInt('--rate', value(), 1_000_000);
        if (v !== undefined) out.cdc.rate = v;
        break;
      }
      case '--seconds': {
        const v = positiveInt('--seconds', value(), 86_400);
        if (v !== undefined) out.cdc.seconds = v;
        break;
      }
      case '--clients': {
        const v = positiveInt('--clients', value(), 100);
        if (v !== undefined) out.cdc.clients = v;
        break;
      }
      case '--jobs': {
        const v = positiveInt('--jobs', value(), 256);
        if (v !== undefined) out.jobs = v;
        break;
      }
      case '--dataset': {
        const v = value();
        if (v === 'both') out.datasets = [...DATASET_NAMES];
        else if (v !== undefined && (DATASET_NAMES as readonly string[]).includes(v))
          out.datasets = [v as DatasetName];
        else
          problems.push(
            `--dataset must be one of ${[...DATASET_NAMES, 'both'].join(', ')}, got "${v ?? ''}"`,
          );
        break;
      }
      case '--only': {
        const v = value();
        const names = (v ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const unknown = names.filter((n) => !(TOOL_NAMES as readonly string[]).includes(n));
        if (!names.length) problems.push(`--only needs a comma-separated list of ${TOOL_NAMES.join(', ')}`);
        else if (unknown.length)
          problems.push(`--only: unknown tool ${unknown.join(', ')} (known: ${TOOL_NAMES.join(', ')})`);
        // Keep the canonical order whatever order was given, so runs are comparable.
        else out.tools = TOOL_NAMES.filter((t) => names.includes(t));
        break;
      }
      case '--keep':
        if (inline !== undefined) problems.push('--keep takes no value');
        out.keep = true;
        break;
      case '--help':
      case '-h':
        out.help = true;
        break;
      default:
        if (arg.startsWith('-')) problems.push(`unknown flag ${arg}`);
        else if (benchSeen) problems.push(`unexpected argument "${arg}"`);
        else if ((BENCHMARKS as readonly string[]).includes(arg)) {
          out.bench = arg as BenchmarkName;
          benchSeen = true;
        } else problems.push(`unknown benchmark "${arg}" (known: ${BENCHMARKS.join(', ')})`);
    }
  }
  if (!benchSeen && !out.help) problems.push(`name the benchmark to run: ${BENCHMARKS.join(', ')}`);
  if (benchSeen) {
    for (const flag of specific)
      if (FLAG_BENCH[flag] !== out.bench)
        problems.push(`${flag} is a flag of the ${FLAG_BENCH[flag]} benchmark, not of ${out.bench}`);
    if (!scaleGiven) out.scale = DEFAULT_SCALE[out.bench];
  }
  // pgbench -t runs the backlog as txns / clients transactions per client: at least one each.
  if (out.bench === 'cdc' && out.cdc.clients > out.cdc.txns)
    problems.push(`--clients (${out.cdc.clients}) must not exceed --txns (${out.cdc.txns})`);
  if (problems.length) throw new BenchUsageError(problems);
  return out;
}

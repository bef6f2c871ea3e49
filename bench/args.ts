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

export const BENCHMARKS = ['full-load'] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

export interface BenchArgs {
  bench: BenchmarkName;
  /** pgbench scale factor; the mixed dataset is sized from it too (about 15 MB per unit each). */
  scale: number;
  datasets: DatasetName[];
  /** Parallelism every tool gets: COPY jobs, index jobs, pg_dump/pg_restore -j. */
  jobs: number;
  /** Keep servers' data directories, dumps and logs (servers are stopped either way). */
  keep: boolean;
  /** Tools to run, in the order they run. */
  tools: ToolName[];
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

  --scale N        pgbench scale factor (default 50, about 750 MB); the mixed dataset is sized alike
  --dataset D      pgbench, mixed or both (default both)
  --jobs N         parallelism given to every tool (default: number of CPUs)
  --keep           keep data directories, dumps and logs under the work directory
  --only LIST      comma-separated tools to run (default: all, in the order above)
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
    scale: 50,
    datasets: [...DATASET_NAMES],
    jobs: jobsDefault,
    keep: false,
    tools: [...TOOL_NAMES],
    help: false,
  };
  let benchSeen = false;

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
    switch (flag) {
      case '--scale': {
        const v = positiveInt('--scale', value(), 100_000);
        if (v !== undefined) out.scale = v;
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
  if (problems.length) throw new BenchUsageError(problems);
  return out;
}

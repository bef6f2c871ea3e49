// Child process for the benchmark's `ferry_engine` runner: runs Ferry's full load in-process (catalog,
// plan, runFullLoadLocal) so the parent times a separate process and this one reports its own peak RSS.
// The `ferry` runner times the durable path (a worker, Temporal) over the same engine and settings.
//
// Protocol: argv[2] is a JSON ChildInput (connection details without passwords; the password is
// PGPASSWORD in the environment). The last stdout line is one ChildOutput JSON object. Exit codes:
// 0 done, 1 the load failed, 3 the engine is not built yet (nothing ran).
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { readSourceCatalog } from '../src/engine/catalog';
import type { PgConnInfo } from '../src/engine/connection';
import type { FullLoadEvent, FullLoadLocalOptions, FullLoadReport } from '../src/engine/fullload';
import { compilePlan, loadMappingFiles, parseTaskSettings } from '../src/mapping';
import { benchTaskSettings } from './ferry-settings';
import { procMemMb } from './proc';

export interface ChildInput {
  source: Omit<PgConnInfo, 'password'>;
  target: Omit<PgConnInfo, 'password'>;
  jobs: number;
}

export interface ChildOutput {
  ok: boolean;
  /** Set when the engine is missing: why, and nothing ran. */
  unavailable?: string;
  error?: string;
  /** Seconds inside this process from catalog read to the end of the load. */
  engineSeconds?: number;
  /** VmHWM of this process: the kernel's high-water mark, so no sampling gap. */
  peakRssMb?: number;
  tables?: number;
  /** The engine's own phase timings, seconds. */
  timings?: FullLoadReport['timings'];
  /** Findings the engine reported (what an operator should read), as "severity: message". */
  findings?: string[];
}

/**
 * Where runFullLoadLocal lives, relative to dist/bench/. Loaded at run time, not imported, so the bench
 * still runs (and says why Ferry did not) when the engine is missing or broken in a checkout.
 * FERRY_BENCH_FULLLOAD_MODULE (an absolute path) overrides them: to try a branch's build, or a stub
 * when checking the bench's own plumbing.
 */
const FULLLOAD_MODULES = process.env.FERRY_BENCH_FULLLOAD_MODULE
  ? [process.env.FERRY_BENCH_FULLLOAD_MODULE]
  : ['../src/engine/fullload'];

type FullLoadModule = { runFullLoadLocal: (opts: FullLoadLocalOptions) => Promise<FullLoadReport> };

const loadCommonJs = createRequire(__filename);

/** The full-load module, or why it cannot be used (a module that exists but fails to load throws). */
function loadFullLoad(): FullLoadModule | string {
  for (const rel of FULLLOAD_MODULES) {
    const abs = path.resolve(__dirname, rel);
    const file = [abs, abs + '.js', path.join(abs, 'index.js')].find(
      (f) => existsSync(f) && statSync(f).isFile(),
    );
    if (!file) continue;
    // Loaded as CommonJS, like the rest of dist/: import() of a CommonJS file would go through Node's
    // ESM loader, which refuses directory paths and guesses named exports.
    const mod = loadCommonJs(file) as Partial<FullLoadModule>;
    if (typeof mod.runFullLoadLocal !== 'function')
      return `Ferry's full-load engine (${path.relative(process.cwd(), abs)}) does not export runFullLoadLocal yet`;
    return mod as FullLoadModule;
  }
  return `Ferry's full-load engine is not built yet (no ${path.relative(process.cwd(), path.resolve(__dirname, FULLLOAD_MODULES[0]))}/index.js)`;
}

/**
 * Catalog, plan, load: what a worker does for a full-load task, minus Temporal. No mapping file: DMS's
 * implicit include of every user table; task settings: benchTaskSettings (DMS defaults except the
 * parallelism and full LOB mode), the same as the durable runner's settings.json.
 */
async function fullLoad(mod: FullLoadModule, source: PgConnInfo, target: PgConnInfo, jobs: number) {
  const catalog = await readSourceCatalog(source);
  const { mapping } = await loadMappingFiles();
  const { settings } = parseTaskSettings(benchTaskSettings(jobs), 'bench-task-settings.json');
  const plan = compilePlan(mapping, catalog, settings);
  // No slot: this is a full-load-only run, like the other tools' (a slot would also pin WAL).
  const report = await mod.runFullLoadLocal({
    migration: 'bench',
    source,
    target,
    plan,
    catalog,
    concurrency: jobs,
    postDataConcurrency: jobs,
    onEvent: logEvent,
  });
  return { tables: plan.tables.length, report };
}

/** Phase events to stderr (the tool log); per-chunk progress events are too many to keep. */
function logEvent(e: FullLoadEvent): void {
  if (e.type === 'progress') return;
  process.stderr.write(`${new Date().toISOString()} ${JSON.stringify(e)}\n`);
}

function emit(out: ChildOutput, code: number): never {
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(code);
}

async function main(): Promise<void> {
  let input: ChildInput;
  try {
    input = JSON.parse(process.argv[2] ?? '') as ChildInput;
  } catch {
    return emit({ ok: false, error: 'usage: ferry-engine-child.js <json ChildInput>' }, 1);
  }
  const password = process.env.PGPASSWORD ?? '';
  const started = process.hrtime.bigint();
  try {
    // Inside the try: a module that exists but fails to load is a failed run, reported like one.
    const mod = loadFullLoad();
    if (typeof mod === 'string')
      return emit({ ok: false, unavailable: mod, peakRssMb: procMemMb('self', 'VmHWM') }, 3);
    const r = await fullLoad(mod, { ...input.source, password }, { ...input.target, password }, input.jobs);
    for (const f of r.report.findings) process.stderr.write(`finding ${f.severity}: ${f.message}\n`);
    emit(
      {
        ok: true,
        engineSeconds: Number(process.hrtime.bigint() - started) / 1e9,
        peakRssMb: procMemMb('self', 'VmHWM'),
        tables: r.tables,
        timings: r.report.timings,
        findings: r.report.findings.map((f) => `${f.severity}: ${f.message}`),
      },
      0,
    );
  } catch (err) {
    const e = err as Error & { type?: string };
    process.stderr.write(`${e.stack ?? e.message}\n`);
    emit(
      {
        ok: false,
        error: `${e.type ? e.type + ': ' : ''}${e.message}`,
        peakRssMb: procMemMb('self', 'VmHWM'),
      },
      1,
    );
  }
}

if (require.main === module) void main();

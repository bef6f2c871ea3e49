// The full-load benchmark's pure parts (flags, ratios, table, JSON line, fingerprint comparison), one
// real run at scale 1 of the other tools and one of Ferry's two (durable, engine-only), checking that
// every tool's copy equals the source.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BenchUsageError, TOOL_NAMES, parseBenchArgs } from '../../bench/args';
import { MIXED_ROWS_PER_SCALE, mixedDatasetSql } from '../../bench/datasets';
import { type DbFingerprint, compareFingerprints } from '../../bench/fingerprint';
import {
  type DatasetResult,
  type ToolOutcome,
  allEqual,
  formatTable,
  ratio,
  summaryLine,
  summaryObject,
} from '../../bench/report';
import { lastJsonLine } from '../../bench/runners/ferry';

const BENCH = path.join(__dirname, '..', '..', 'bench', 'index.js');

/** Keys scripts read from the last line (the brief's example), present even when a figure is null. */
const TOP_LEVEL_KEYS = [
  'bench',
  'scale',
  'ferry_s',
  'ferry_engine_s',
  'pgcopydb_s',
  'pg_dump_restore_s',
  'copy_pipe_s',
  'ratio_vs_pgcopydb',
  'ratio_vs_copy_pipe',
  'ferry_peak_rss_mb',
  'ferry_engine_peak_rss_mb',
  'checksums_equal',
];

function problemsOf(argv: string[]): string[] {
  try {
    parseBenchArgs(argv, 4);
  } catch (err) {
    assert.ok(err instanceof BenchUsageError, `expected BenchUsageError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail(`expected ${argv.join(' ')} to be refused`);
}

function outcome(
  tool: ToolOutcome['tool'],
  seconds: number | null,
  extra: Partial<ToolOutcome> = {},
): ToolOutcome {
  return {
    tool,
    status: seconds == null ? 'unavailable' : 'ok',
    seconds,
    peakRssMb: seconds == null ? null : 100,
    rssScope: tool.startsWith('ferry') ? 'process' : 'tree',
    equal: seconds == null ? null : true,
    differences: [],
    ...extra,
  };
}

function result(dataset: DatasetResult['dataset'], outcomes: ToolOutcome[]): DatasetResult {
  return {
    dataset,
    scale: 50,
    jobs: 2,
    source: { tables: 4, rows: 5_000_550, bytes: 750 * 1048576, indexes: 3, sequences: 0 },
    outcomes,
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENCH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // SIGTERM lets the bench stop its servers and remove its temp dir.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('bench: flags', () => {
  it('defaults to scale 50, both datasets, every tool, jobs = CPUs', () => {
    const a = parseBenchArgs(['full-load'], 4);
    assert.equal(a.bench, 'full-load');
    assert.equal(a.scale, 50);
    assert.deepEqual(a.datasets, ['pgbench', 'mixed']);
    assert.equal(a.jobs, 4);
    assert.deepEqual(a.tools, [...TOOL_NAMES]);
    assert.equal(a.keep, false);
  });

  it('reads every flag, in both --flag value and --flag=value forms, tools in canonical order', () => {
    const a = parseBenchArgs(
      ['full-load', '--scale=3', '--dataset', 'mixed', '--jobs', '8', '--keep', '--only', 'copy_pipe,ferry'],
      4,
    );
    assert.equal(a.scale, 3);
    assert.deepEqual(a.datasets, ['mixed']);
    assert.equal(a.jobs, 8);
    assert.equal(a.keep, true);
    assert.deepEqual(a.tools, ['ferry', 'copy_pipe']);
  });

  it('reports every problem at once, each naming the flag and what it accepts', () => {
    const problems = problemsOf(['--scale', '0', '--dataset', 'tpcc', '--only', 'ferry,bogus', '--fast']);
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems[0], /--scale must be a whole number from 1/);
    assert.match(problems[1], /--dataset must be one of pgbench, mixed, both, got "tpcc"/);
    assert.match(problems[2], /--only: unknown tool bogus/);
    assert.match(problems[3], /unknown flag --fast/);
    assert.match(problems[4], /name the benchmark to run: full-load/);
  });

  it('refuses a missing value, a non-integer, an unknown benchmark and a second positional', () => {
    assert.match(problemsOf(['full-load', '--jobs'])[0], /--jobs needs a value/);
    assert.match(problemsOf(['full-load', '--scale', '1.5'])[0], /--scale must be a whole number/);
    assert.match(problemsOf(['full-load', '--scale', '--keep'])[0], /--scale needs a value/);
    assert.match(problemsOf(['copy-load'])[0], /unknown benchmark "copy-load"/);
    assert.match(problemsOf(['full-load', 'extra'])[0], /unexpected argument "extra"/);
    assert.match(problemsOf(['full-load', '--only', ','])[0], /--only needs a comma-separated list/);
  });

  it('exits 2 with the problems and the usage on stderr, and prints nothing on stdout', async () => {
    const r = await runBench(['full-load', '--jobs', 'many'], 30_000);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bench: --jobs must be a whole number/);
    assert.match(r.stderr, /usage: node dist\/bench\/index.js full-load/);
  });
});

describe('bench: cdc flags', () => {
  it('cdc has its own defaults: 70000 txns, scale 10, rate 500, 120 s, 4 clients', () => {
    const a = parseBenchArgs(['cdc'], 4);
    assert.equal(a.bench, 'cdc');
    assert.equal(a.scale, 10);
    assert.deepEqual(a.cdc, { txns: 70_000, rate: 500, seconds: 120, clients: 4 });
    assert.equal(a.jobs, 4);
    assert.equal(a.keep, false);
    // full-load keeps its own default scale.
    assert.equal(parseBenchArgs(['full-load'], 4).scale, 50);
  });

  it('reads the cdc flags in both forms, before or after the benchmark name', () => {
    const a = parseBenchArgs(
      ['--txns', '2000', 'cdc', '--scale=1', '--rate', '300', '--seconds=10', '--clients', '2', '--keep'],
      4,
    );
    assert.equal(a.bench, 'cdc');
    assert.equal(a.scale, 1);
    assert.deepEqual(a.cdc, { txns: 2000, rate: 300, seconds: 10, clients: 2 });
    assert.equal(a.keep, true);
  });

  it("refuses bad values and the other benchmark's flags, each problem named", () => {
    const problems = problemsOf(['cdc', '--txns', '0', '--rate', 'fast', '--only', 'ferry', '--seconds']);
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems[0], /--txns must be a whole number from 1/);
    assert.match(problems[1], /--rate must be a whole number from 1/);
    assert.match(problems[2], /--seconds needs a value/);
    assert.match(problems[3], /--only is a flag of the full-load benchmark, not of cdc/);
    assert.match(problemsOf(['full-load', '--txns', '100'])[0], /--txns is a flag of the cdc benchmark/);
    assert.match(problemsOf(['full-load', '--dataset', 'mixed', 'cdc'])[0], /unexpected argument "cdc"/);
    assert.match(
      problemsOf(['cdc', '--txns', '3', '--clients', '4'])[0],
      /--clients \(4\) must not exceed --txns/,
    );
    assert.match(problemsOf([])[0], /name the benchmark to run: full-load, cdc/);
  });
});

describe('bench: report', () => {
  it('ratios are a/b rounded to 3 places, null when either side is missing', () => {
    assert.equal(ratio(9, 10), 0.9);
    assert.equal(ratio(10, 3), 3.333);
    assert.equal(ratio(null, 10), null);
    assert.equal(ratio(10, null), null);
    assert.equal(ratio(10, 0), null);
  });

  it('the JSON line carries the figures, ratios of ferry, and per-dataset objects', () => {
    const pgbench = result('pgbench', [
      outcome('ferry', 45, { peakRssMb: 180.44, figures: { worker_startup_s: 4.567 } }),
      outcome('ferry_engine', 36, { peakRssMb: 90.06 }),
      outcome('pgcopydb', 50),
      outcome('pg_dump_restore', 70, { otherCpuShare: 0.234 }),
      outcome('copy_pipe', 40, { otherCpuShare: 0.01 }),
    ]);
    const mixed = result('mixed', [outcome('ferry', 30), outcome('pgcopydb', 60), outcome('copy_pipe', 20)]);
    const line = summaryLine({ bench: 'full-load', scale: 50, jobs: 2 }, [pgbench, mixed]);
    assert.ok(!line.includes('\n'));
    const o = JSON.parse(line);
    for (const k of TOP_LEVEL_KEYS) assert.ok(k in o, `missing ${k}`);
    assert.equal(o.bench, 'full-load');
    assert.equal(o.scale, 50);
    // ferry is the durable path: its time, memory and ratios; the engine alone has its own keys.
    assert.equal(o.ferry_s, 45);
    assert.equal(o.ratio_vs_pgcopydb, 0.9);
    assert.equal(o.ratio_vs_copy_pipe, 1.125);
    assert.equal(o.ferry_peak_rss_mb, 180.4);
    assert.equal(o.ferry_engine_s, 36);
    assert.equal(o.ferry_engine_peak_rss_mb, 90.1);
    assert.equal(o.ferry_worker_startup_s, 4.57);
    assert.equal(o.checksums_equal, true);
    assert.equal(o.other_cpu_share_max, 0.23);
    assert.deepEqual(Object.keys(o.datasets), ['pgbench', 'mixed']);
    assert.equal(o.datasets.mixed.ratio_vs_pgcopydb, 0.5);
    assert.equal(o.datasets.mixed.pg_dump_restore_s, null);
    assert.equal(o.datasets.mixed.ferry_engine_s, null);
    assert.equal(o.datasets.mixed.ferry_engine_peak_rss_mb, null);
  });

  it('a tool that could not run gives null figures and its reason, and does not spoil checksums_equal', () => {
    const r = result('pgbench', [
      outcome('ferry', null, { error: 'engine not built yet' }),
      outcome('pgcopydb', 50),
      outcome('copy_pipe', 40),
    ]);
    assert.equal(allEqual(r), true);
    const o = summaryObject({ bench: 'full-load', scale: 50, jobs: 2 }, [r]);
    assert.equal(o.ferry_s, null);
    assert.equal(o.ratio_vs_pgcopydb, null);
    assert.equal(o.ferry_peak_rss_mb, null);
    assert.equal(o.ferry_engine_s, null);
    assert.equal(o.ferry_error, 'engine not built yet');
  });

  it('a failed or different tool makes checksums_equal false', () => {
    const failed = result('pgbench', [
      outcome('pgcopydb', null, { status: 'failed', error: 'exit 12' }),
      outcome('copy_pipe', 40),
    ]);
    assert.equal(allEqual(failed), false);
    const differs = result('pgbench', [outcome('pgcopydb', 50, { equal: false, differences: ['x'] })]);
    assert.equal(allEqual(differs), false);
    assert.equal(summaryObject({ bench: 'full-load', scale: 1, jobs: 1 }, [differs]).checksums_equal, false);
  });

  it('the table has a row per tool with seconds, both ratios, RSS and equality, and the reasons below', () => {
    const lines = formatTable(
      result('pgbench', [
        outcome('ferry', null, { error: 'engine not built yet' }),
        outcome('pgcopydb', 50),
        outcome('copy_pipe', 40, { equal: false, differences: ['public.t: 9 rows, source has 10'] }),
      ]),
    );
    assert.match(lines[0], /^pgbench, scale 50, 2 jobs: 4 tables, 5,000,550 rows, 750\.0 MB/);
    assert.match(lines[1], /tool\s+seconds\s+vs pgcopydb\s+vs copy_pipe\s+peak RSS MB\s+equal/);
    const row = (tool: string) => lines.find((l) => l.startsWith(tool + ' '))!;
    assert.match(row('ferry'), /not run$/);
    assert.match(row('pgcopydb'), /50\.00\s+1\.00×\s+1\.25×\s+100 \(tree\)\s+yes$/);
    assert.match(row('copy_pipe'), /40\.00\s+0\.80×\s+1\.00×\s+100 \(tree\)\s+NO$/);
    assert.ok(lines.some((l) => l.includes('ferry: not run: engine not built yet')));
    assert.ok(lines.some((l) => l.includes('copy_pipe: differs: public.t: 9 rows')));
  });

  it('the table puts the durable ferry next to ferry_engine: the cost of durability', () => {
    const lines = formatTable(
      result('pgbench', [outcome('ferry', 50), outcome('ferry_engine', 40), outcome('pgcopydb', 50)]),
    );
    assert.match(
      lines.find((l) => l.startsWith('ferry_engine '))!,
      /40\.00\s+0\.80×\s+—\s+100 \(process\)\s+yes$/,
    );
    assert.ok(
      lines.some((l) =>
        l.includes('cost of durability: ferry 50.00 s vs ferry_engine 40.00 s (+10.00 s, 1.25×)'),
      ),
      lines.join('\n'),
    );
  });

  it('finds the last JSON line after other output', () => {
    assert.deepEqual(lastJsonLine('progress\n{"ok":false}\n{"ok":true}\nbye\n'), { ok: true });
    assert.equal(lastJsonLine('no json here\n'), undefined);
  });
});

describe('bench: fingerprints and datasets', () => {
  const fp = (): DbFingerprint => ({
    tables: { 'public.a': { rows: '10', checksum: '123', indexes: 1, constraints: 'p1' } },
    sequences: { 'public.s': '42/true' },
    bytes: 0,
  });

  it('equal fingerprints have no differences; each kind of difference is named', () => {
    assert.deepEqual(compareFingerprints(fp(), fp()), []);
    const t = fp();
    t.tables['public.a'] = { rows: '10', checksum: '124', indexes: 0, constraints: '' };
    t.sequences['public.s'] = '42/false';
    t.tables['public.extra'] = { rows: '0', checksum: '0', indexes: 0, constraints: '' };
    const d = compareFingerprints(fp(), t);
    assert.deepEqual(d, [
      'public.a: checksum differs (same row count 10)',
      'public.a: 0 indexes, source has 1',
      'public.a: constraints "", source has "p1"',
      'table public.extra exists only on the target',
      'sequence public.s: 42/false on the target, source has 42/true',
    ]);
    assert.deepEqual(compareFingerprints(fp(), { tables: {}, sequences: {}, bytes: 0 }), [
      'table public.a missing on the target',
      'sequence public.s: missing on the target, source has 42/true',
    ]);
  });

  it('the mixed dataset scales its row counts with --scale', () => {
    const sql = mixedDatasetSql(7).join('\n');
    assert.ok(sql.includes(`generate_series(1, ${7 * MIXED_ROWS_PER_SCALE.items})`));
    assert.ok(sql.includes(`generate_series(1, ${7 * MIXED_ROWS_PER_SCALE.events})`));
    assert.ok(sql.includes(`generate_series(1, ${7 * MIXED_ROWS_PER_SCALE.audit})`));
  });
});

describe('bench: a real full-load run at scale 1', function () {
  this.timeout(180_000);

  it('every tool copies pgbench scale 1 exactly, and the last stdout line is the JSON summary', async () => {
    const started = Date.now();
    const r = await runBench(
      ['full-load', '--scale', '1', '--dataset', 'pgbench', '--only', 'pgcopydb,pg_dump_restore,copy_pipe'],
      170_000,
    );
    assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stderr}\n${r.stdout}`);
    const lines = r.stdout.trimEnd().split('\n');
    const o = JSON.parse(lines[lines.length - 1]);
    for (const k of TOP_LEVEL_KEYS) assert.ok(k in o, `missing ${k} in ${lines[lines.length - 1]}`);
    assert.equal(o.bench, 'full-load');
    assert.equal(o.scale, 1);
    assert.equal(o.checksums_equal, true, r.stdout);
    for (const k of ['pgcopydb_s', 'pg_dump_restore_s', 'copy_pipe_s']) {
      assert.equal(typeof o[k], 'number', k);
      assert.ok(o[k] > 0, k);
    }
    // Ferry was not asked for: no figure, no ratio.
    assert.equal(o.ferry_s, null);
    assert.equal(o.ratio_vs_pgcopydb, null);
    assert.equal(o.source_rows, 100_011);
    assert.match(r.stdout, /pgbench, scale 1/);
    // The work directory is gone (no --keep).
    const workDir = /work directory (\S+)/.exec(r.stderr)?.[1];
    assert.ok(workDir, r.stderr);
    assert.equal(existsSync(workDir), false, `${workDir} left behind`);
    assert.ok(Date.now() - started < 90_000, `took ${Date.now() - started} ms`);
  });

  it('both Ferry tools copy pgbench scale 1 exactly: the durable path (worker, Temporal) and the engine', async function () {
    // Temporal start, worker start-up (bundling), the load and two verifications.
    this.timeout(300_000);
    const r = await runBench(
      ['full-load', '--scale', '1', '--dataset', 'pgbench', '--only', 'ferry,ferry_engine'],
      290_000,
    );
    assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stderr}\n${r.stdout}`);
    const lines = r.stdout.trimEnd().split('\n');
    const o = JSON.parse(lines[lines.length - 1]);
    for (const k of TOP_LEVEL_KEYS) assert.ok(k in o, `missing ${k} in ${lines[lines.length - 1]}`);
    assert.equal(o.checksums_equal, true, r.stdout);
    for (const k of [
      'ferry_s',
      'ferry_engine_s',
      'ferry_peak_rss_mb',
      'ferry_engine_peak_rss_mb',
      'ferry_worker_startup_s',
    ]) {
      assert.equal(typeof o[k], 'number', `${k} in ${lines[lines.length - 1]}`);
      assert.ok(o[k] > 0, k);
    }
    assert.equal(o.ferry_error, undefined);
    // No pgcopydb or copy_pipe ran: no ratios.
    assert.equal(o.ratio_vs_pgcopydb, null);
    assert.match(r.stdout, /^ferry\s+\d+\.\d\d .* \(process\)\s+yes$/m);
    assert.match(r.stdout, /cost of durability: ferry /);
    assert.match(r.stdout, /ferry: worker start-up [\d.]+ s until RUNNING/);
    // The Temporal server, the worker and the work directory are gone.
    const workDir = /work directory (\S+)/.exec(r.stderr)?.[1];
    assert.ok(workDir, r.stderr);
    assert.equal(existsSync(workDir), false, `${workDir} left behind`);
    const temporalPid = Number(/Temporal dev server on \S+ \(pid (\d+)\)/.exec(r.stderr)?.[1]);
    assert.ok(temporalPid > 0, r.stderr);
    assert.throws(() => process.kill(temporalPid, 0), `Temporal dev server ${temporalPid} still running`);
  });
});

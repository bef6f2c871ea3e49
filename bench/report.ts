// What the benchmark prints: one table per dataset with ratios, and the final JSON line scripts read.
// Pure functions over plain results, so the smoke test can pin their shape without running anything.
import type { BenchArgs, DatasetName, ToolName } from './args';

/** How one tool did on one dataset. */
export interface ToolOutcome {
  tool: ToolName;
  /** ok: ran and finished; failed: ran and failed; unavailable: could not run (reason in `error`). */
  status: 'ok' | 'failed' | 'unavailable';
  /** Wall-clock seconds from start to finish; null unless status is ok. */
  seconds: number | null;
  /** Peak resident memory in MB; see `rssScope`. */
  peakRssMb: number | null;
  /**
   * process: the tool's own process, from the kernel's high-water mark (VmHWM), exact.
   * tree: the sum over the tool's client process tree, sampled every 200 ms (a lower bound).
   */
  rssScope: 'process' | 'tree';
  /** Target equals the source (rows, checksums, indexes, constraints, sequences); null if not checked. */
  equal: boolean | null;
  /** What differed, when `equal` is false (first few lines). */
  differences: string[];
  /** Share of the machine's CPU that unrelated processes used during the run (0..1): noise. */
  otherCpuShare?: number;
  /** Further figures of the tool, as `<tool>_<key>` in the JSON line (RunResult.figures). */
  figures?: Record<string, number>;
  error?: string;
  notes?: string;
}

export interface DatasetResult {
  dataset: DatasetName;
  scale: number;
  jobs: number;
  source: { tables: number; rows: number; bytes: number; indexes: number; sequences: number };
  outcomes: ToolOutcome[];
}

/** a / b, rounded; null when either is missing or b is zero. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0) return null;
  return round(a / b, 3);
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function secondsOf(r: DatasetResult, tool: ToolName): number | null {
  return r.outcomes.find((o) => o.tool === tool && o.status === 'ok')?.seconds ?? null;
}

/** True only if every tool that ran produced a target equal to the source (unavailable tools did not run). */
export function allEqual(r: DatasetResult): boolean {
  const ran = r.outcomes.filter((o) => o.status !== 'unavailable');
  return ran.length > 0 && ran.every((o) => o.status === 'ok' && o.equal === true);
}

export type Figures = Record<string, string | number | boolean | null>;

/**
 * The per-dataset figures of the JSON line. `ferry` is the durable path (worker + Temporal +
 * `ferry migrate start --wait`), so `ferry_s`, `ferry_peak_rss_mb` and the ratios are its;
 * `ferry_engine_*` is the engine alone.
 */
export function datasetFigures(r: DatasetResult): Figures {
  const ferry = r.outcomes.find((o) => o.tool === 'ferry');
  const out: Figures = {
    dataset: r.dataset,
    scale: r.scale,
    jobs: r.jobs,
    source_mb: round(r.source.bytes / 1024 / 1024, 1),
    source_rows: r.source.rows,
    ferry_s: null,
    ferry_engine_s: null,
    pgcopydb_s: null,
    pg_dump_restore_s: null,
    copy_pipe_s: null,
  };
  for (const o of r.outcomes) out[`${o.tool}_s`] = o.seconds == null ? null : round(o.seconds, 2);
  out.ratio_vs_pgcopydb = ratio(secondsOf(r, 'ferry'), secondsOf(r, 'pgcopydb'));
  out.ratio_vs_copy_pipe = ratio(secondsOf(r, 'ferry'), secondsOf(r, 'copy_pipe'));
  out.ferry_peak_rss_mb = ferry?.peakRssMb == null ? null : round(ferry.peakRssMb, 1);
  out.ferry_engine_peak_rss_mb = null;
  for (const o of r.outcomes) {
    if (o.tool !== 'ferry') out[`${o.tool}_peak_rss_mb`] = o.peakRssMb == null ? null : round(o.peakRssMb, 1);
    if (o.error) out[`${o.tool}_error`] = o.error;
    if (o.status === 'ok')
      for (const [k, v] of Object.entries(o.figures ?? {})) out[`${o.tool}_${k}`] = round(v, 2);
  }
  const shares = r.outcomes.map((o) => o.otherCpuShare).filter((x): x is number => x !== undefined);
  // Timings taken while others loaded the machine are noisy; scripts can drop or rerun such runs.
  out.other_cpu_share_max = shares.length ? round(Math.max(...shares), 2) : null;
  out.checksums_equal = allEqual(r);
  return out;
}

/** The final JSON object: figures as in Figures, plus `datasets`. */
export interface Summary {
  [key: string]: Figures[string] | Record<string, Figures>;
  bench: BenchArgs['bench'];
  scale: number;
  jobs: number;
  checksums_equal: boolean;
  datasets: Record<string, Figures>;
}

/**
 * The final JSON line: the top-level keys are the first dataset's figures (pgbench when it ran), plus
 * `datasets` with every dataset's figures; `checksums_equal` at the top covers all datasets.
 */
export function summaryObject(
  args: Pick<BenchArgs, 'bench' | 'scale' | 'jobs'>,
  results: DatasetResult[],
): Summary {
  const per = Object.fromEntries(results.map((r) => [r.dataset, datasetFigures(r)]));
  const primary = results.find((r) => r.dataset === 'pgbench') ?? results[0];
  const top: Figures = primary ? { ...per[primary.dataset] } : {};
  delete top.scale;
  delete top.jobs;
  return {
    bench: args.bench,
    scale: args.scale,
    jobs: args.jobs,
    ...top,
    checksums_equal: results.length > 0 && results.every(allEqual),
    datasets: per,
  };
}

export function summaryLine(
  args: Pick<BenchArgs, 'bench' | 'scale' | 'jobs'>,
  results: DatasetResult[],
): string {
  return JSON.stringify(summaryObject(args, results));
}

const fmtNum = (x: number | null, digits: number): string => (x == null ? '—' : x.toFixed(digits));

function fmtBytes(bytes: number): string {
  const mb = bytes / 1024 / 1024;
  return mb >= 1024 ? `${(mb / 1024).toFixed(2)} GB` : `${mb.toFixed(1)} MB`;
}

/** The human table for one dataset, as lines. */
export function formatTable(r: DatasetResult): string[] {
  const pgcopydb = secondsOf(r, 'pgcopydb');
  const pipe = secondsOf(r, 'copy_pipe');
  const header = ['tool', 'seconds', 'vs pgcopydb', 'vs copy_pipe', 'peak RSS MB', 'equal'];
  const rows = r.outcomes.map((o) => [
    o.tool,
    fmtNum(o.seconds, 2),
    o.status === 'ok' ? fmtNum(ratio(o.seconds, pgcopydb), 2) + (pgcopydb == null ? '' : '×') : '—',
    o.status === 'ok' ? fmtNum(ratio(o.seconds, pipe), 2) + (pipe == null ? '' : '×') : '—',
    o.peakRssMb == null ? '—' : `${o.peakRssMb.toFixed(0)} (${o.rssScope})`,
    o.equal == null ? (o.status === 'unavailable' ? 'not run' : 'n/a') : o.equal ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const s = r.source;
  const out = [
    `${r.dataset}, scale ${r.scale}, ${r.jobs} jobs: ${s.tables} tables, ${s.rows.toLocaleString('en-US')} rows, ` +
      `${fmtBytes(s.bytes)} on the source, ${s.indexes} indexes, ${s.sequences} sequences`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ];
  const durable = secondsOf(r, 'ferry');
  const engine = secondsOf(r, 'ferry_engine');
  if (durable != null && engine != null)
    out.push(
      `  cost of durability: ferry ${durable.toFixed(2)} s vs ferry_engine ${engine.toFixed(2)} s ` +
        `(${durable >= engine ? '+' : ''}${(durable - engine).toFixed(2)} s, ${fmtNum(ratio(durable, engine), 2)}×)`,
    );
  for (const o of r.outcomes) {
    if (o.error) out.push(`  ${o.tool}: ${o.status === 'unavailable' ? 'not run' : 'FAILED'}: ${o.error}`);
    if (o.notes) out.push(`  ${o.tool}: ${o.notes}`);
    for (const d of o.differences) out.push(`  ${o.tool}: differs: ${d}`);
  }
  out.push(
    '  peak RSS: (process) = the process high-water mark (VmHWM); (tree) = client process tree, sampled every 200 ms',
  );
  return out;
}

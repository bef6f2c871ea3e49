// PoC step 5: extrapolate the PoC's dump + restore throughput to the whole database. Pure.

export interface EstimateInput {
  /** Source bytes the PoC moved (inspectSource's scopeBytes). */
  scopeBytes: number;
  /** Size of the whole source database. */
  databaseBytes: number;
  dumpSeconds: number;
  restoreSeconds: number;
  /** Size of the archive, for the compression ratio in the explanation. */
  dumpBytes: number;
}

export interface Estimate {
  /** Source bytes per second through dump and restore together; 0 when the PoC moved nothing. */
  bytesPerSecond: number;
  /** Whole database at that rate; 0 when there is no basis to extrapolate from (see `basis`). */
  estimatedSeconds: number;
  /** How the number came about, in one or two sentences for the operator. */
  basis: string;
}

/**
 * Whole-database time at the PoC's rate: databaseBytes / (scopeBytes / (dump + restore seconds)).
 * Dump and restore ran one after the other, so their times add. A tiny scope overestimates: process
 * start-up and catalog work weigh more than in a large run.
 */
export function estimateFullMigration(m: EstimateInput): Estimate {
  const seconds = finite(m.dumpSeconds) + finite(m.restoreSeconds);
  const scope = finite(m.scopeBytes);
  const db = finite(m.databaseBytes);
  if (scope <= 0 || seconds <= 0) {
    return {
      bytesPerSecond: 0,
      estimatedSeconds: 0,
      basis:
        scope <= 0
          ? 'no estimate: the PoC scope held no table data (0 bytes); widen poc.schemas / poc.tables to tables with rows'
          : 'no estimate: the PoC reported no elapsed time for dump and restore',
    };
  }
  const bytesPerSecond = scope / seconds;
  const estimatedSeconds = db / bytesPerSecond;
  const ratio =
    m.dumpBytes > 0 ? ` (archive ${formatBytes(m.dumpBytes)}, ${(scope / m.dumpBytes).toFixed(1)}:1)` : '';
  return {
    bytesPerSecond,
    estimatedSeconds,
    basis:
      `PoC moved ${formatBytes(scope)}${ratio} in ${seconds.toFixed(1)} s (dump ${finite(m.dumpSeconds).toFixed(1)} s + ` +
      `restore ${finite(m.restoreSeconds).toFixed(1)} s) = ${formatBytes(bytesPerSecond)}/s; the whole database ` +
      `(${formatBytes(db)}) at that rate takes about ${formatSeconds(estimatedSeconds)}. ` +
      `A small PoC overestimates: fixed start-up costs weigh more than in a large run.`,
  };
}

function finite(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

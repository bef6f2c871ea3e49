// `npm run bench -- full-load|cdc ...`: benchmark entry point. Progress goes to stderr; the tables and,
// as the very last stdout line, one JSON object with the figures go to stdout.
import { createRequire } from 'node:module';
import { BenchUsageError, USAGE, parseBenchArgs } from './args';
import { abortBench, runFullLoadBench } from './full-load';
import { formatTable, summaryLine } from './report';

type CdcModule = typeof import('./cdc');

/**
 * The cdc benchmark, loaded only when asked for: it loads Ferry's CDC engine, which a full-load run
 * must not depend on (nor fail on, while that engine is being written).
 */
let cdcModule: CdcModule | undefined;
const loadCdc = (): CdcModule => (cdcModule ??= createRequire(__filename)('./cdc') as CdcModule);

/** Stop whatever benchmark is running: each abort is a no-op when its benchmark is idle. */
async function abortAll(): Promise<void> {
  await Promise.all([abortBench(), cdcModule?.abortCdcBench()]);
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    process.stderr.write(`bench: ${err.problems.join('\nbench: ')}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }

  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping tools and servers`);
    void abortAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (args.bench === 'cdc') {
    const cdc = loadCdc();
    const r = await cdc.runCdcBench(args, log);
    const summary = JSON.stringify(cdc.cdcSummaryObject(r));
    process.stdout.write(['', ...cdc.formatCdcTable(r), '', summary].join('\n') + '\n');
    // Non-zero when a tool failed or a target differs from the source, so scripts notice.
    const bad = r.ferry.error || r.logrep.error || r.steady?.error || !cdc.cdcTargetsEqual(r);
    return bad ? 1 : 0;
  }

  const results = await runFullLoadBench(args, log);
  const out: string[] = [];
  for (const r of results) out.push('', ...formatTable(r));
  out.push('', summaryLine(args, results));
  process.stdout.write(out.join('\n') + '\n');
  // Non-zero when a tool that ran failed or produced a different database, so scripts notice.
  const bad = results.some((r) => r.outcomes.some((o) => o.status === 'failed' || o.equal === false));
  return bad ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    void abortAll().finally(() => process.exit(1));
  },
);

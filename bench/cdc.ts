// The change-data-capture benchmark: one pgbench backlog on a PostgreSQL 13 source, caught up by Ferry's
// CDC engine (in-process runCdc) and by native logical replication (a PostgreSQL 15 subscription), one
// after the other from the same quiet starting point, each into its own copy of the source on the target;
// then Ferry alone, live, under a steady pgbench rate, measuring per-transaction lag. Every target is
// checked against the source afterwards.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'pg';
import { readSourceCatalog } from '../src/engine/catalog';
import { type BatchReport, type RunCdcOptions, runCdc } from '../src/engine/cdc/runner';
import { type CdcProgress, compareLsn } from '../src/engine/cdc/types';
import { compilePlan, loadMappingFiles, parseTaskSettings } from '../src/mapping';
import type { BenchArgs } from './args';
import { createDataset } from './datasets';
import { type DbFingerprint, compareFingerprints, fingerprint } from './fingerprint';
import { ForeignCpuMeter, checkExit, killRunningChildren, logTail, procMemMb, runLogged } from './proc';
import { round } from './report';
import {
  type BenchServer,
  type BenchServers,
  PG_CLIENT_BIN,
  checkpointBoth,
  connInfo,
  createDatabase,
  dropDatabase,
  makeRoot,
  quoteIdent,
  startBenchServers,
  stopBenchServers,
  toolEnv,
  withClient,
} from './servers';

export type Log = (line: string) => void;

/** The four pgbench tables, all published; pgbench_history has no key and gets REPLICA IDENTITY FULL. */
export const PGBENCH_TABLES = ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history'];

/** Row changes of one tpcb-like transaction: 3 UPDATEs (account, teller, branch) and 1 INSERT (history). */
export const CHANGES_PER_TXN = 4;

const FERRY_DB = 'bench_cdc_ferry';
const LOGREP_DB = 'bench_cdc_logrep';
const PUBLICATION = 'ferry_bench_cdc';
const FERRY_SLOT = 'ferry_bench_cdc';
const LOGREP_SLOT = 'logrep_bench_cdc';
const SUBSCRIPTION = 'logrep_bench_cdc';
const MIGRATION = 'bench-cdc';

/** How often the native subscription's progress is polled while it catches up. */
const POLL_MS = 50;

/** Lines of a server log quoted when a tool does not catch up in time. */
const LOG_LINES = 15;

/** Share of the machine's CPU used by unrelated processes above which a timing is flagged as noisy. */
const FOREIGN_CPU_WARN = 0.1;

/** Differences listed per target before "and N more". */
const MAX_DIFFS = 8;

/**
 * Longest a catch-up may take before it counts as failed: generous (70,000 transactions get about half
 * an hour), it only keeps a stuck tool from hanging the bench.
 */
export function catchUpTimeoutMs(txns: number): number {
  return 300_000 + txns * 20;
}

/** Transactions each pgbench client runs (-t) so `clients` of them run at least `txns` in all. */
export function perClientTxns(txns: number, clients: number): number {
  return Math.ceil(txns / clients);
}

/** Nearest-rank percentile of an ascending array; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!sorted.length) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Task settings of the CDC plan: BatchApplyEnabled (net-change batching, DMS's throughput setting), full
 * LOB mode as in the full-load bench, and DO_NOTHING since the target tables already exist.
 */
export function cdcTaskSettings(): Record<string, Record<string, unknown>> {
  return {
    FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING' },
    TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false, BatchApplyEnabled: true },
  };
}

/** One tool's catch-up on the backlog. */
export interface CatchUp {
  /** Seconds from start to everything up to the backlog's end LSN applied; null if it failed. */
  seconds: number | null;
  equal: boolean | null;
  differences: string[];
  error?: string;
  notes: string[];
  /** Share of the machine's CPU that processes outside the bench and its servers used meanwhile (0..1). */
  otherCpuShare: number | null;
}

export interface SteadyState {
  /** Source transactions pgbench committed in the window, and their rate over --seconds. */
  txns: number;
  tps: number;
  /** Per source transaction: Ferry's target commit time minus the source commit time, ms, ascending. */
  lagsMs: number[];
  /** Source equals the Ferry target after the window; null if not checked. */
  equal: boolean | null;
  differences: string[];
  error?: string;
}

export interface CdcBenchResult {
  scale: number;
  clients: number;
  rate: number;
  seconds: number;
  /** Backlog transactions committed on the source (counted: pgbench_history rows added). */
  txns: number;
  changes: number;
  /** Seconds pgbench took to write the backlog. */
  backlogSeconds: number;
  endLsn: string;
  ferry: CatchUp & {
    changes: number;
    txns: number;
    batches: number;
    peakRssMb: number | null;
    /** Seconds from the start to the first batch committed on the target. */
    firstApplySeconds: number | null;
  };
  logrep: CatchUp & { appliedSeconds: number | null };
  steady: SteadyState | null;
}

export type Figures = Record<string, string | number | boolean | null>;

const r3 = (x: number | null | undefined): number | null => (x == null ? null : round(x, 3));
const r1 = (x: number | null | undefined): number | null => (x == null ? null : round(x, 1));

/** Source equal to both catch-up targets and, when it ran, to Ferry's target after the steady state. */
export function cdcTargetsEqual(r: CdcBenchResult): boolean {
  return r.ferry.equal === true && r.logrep.equal === true && (r.steady === null || r.steady.equal === true);
}

/**
 * The JSON line scripts read. The first ten keys are the interface and keep their order; the others
 * follow. ratio_vs_logrep > 1 means Ferry caught up faster.
 */
export function cdcSummaryObject(r: CdcBenchResult): Figures {
  const lags = r.steady?.lagsMs ?? [];
  const f = r.ferry.seconds;
  const l = r.logrep.seconds;
  const out: Figures = {
    bench: 'cdc',
    txns: r.txns,
    changes: r.changes,
    ferry_catchup_s: r3(f),
    logrep_catchup_s: r3(l),
    ratio_vs_logrep: f != null && l != null && f > 0 ? round(l / f, 3) : null,
    lag_p50_ms: r1(percentile(lags, 50)),
    lag_p95_ms: r1(percentile(lags, 95)),
    lag_max_ms: r1(percentile(lags, 100)),
    target_equals_source: cdcTargetsEqual(r),
    scale: r.scale,
    clients: r.clients,
    backlog_s: r3(r.backlogSeconds),
    ferry_changes_per_s: f ? Math.round(r.changes / f) : null,
    logrep_changes_per_s: l ? Math.round(r.changes / l) : null,
    logrep_applied_s: r3(r.logrep.appliedSeconds),
    ratio_vs_logrep_applied:
      f != null && r.logrep.appliedSeconds != null && f > 0 ? round(r.logrep.appliedSeconds / f, 3) : null,
    ferry_equal: r.ferry.equal,
    logrep_equal: r.logrep.equal,
    ferry_first_apply_s: r3(r.ferry.firstApplySeconds),
    ferry_other_cpu_share: r3(r.ferry.otherCpuShare),
    logrep_other_cpu_share: r3(r.logrep.otherCpuShare),
    ferry_reported_changes: r.ferry.changes,
    ferry_batches: r.ferry.batches,
    ferry_peak_rss_mb: r1(r.ferry.peakRssMb),
    steady_rate: r.rate,
    steady_seconds: r.seconds,
    steady_txns: r.steady?.txns ?? null,
    steady_tps: r1(r.steady?.tps),
    lag_mean_ms: lags.length ? r1(lags.reduce((a, b) => a + b, 0) / lags.length) : null,
    lag_samples: lags.length,
    steady_equal: r.steady?.equal ?? null,
  };
  if (r.ferry.error) out.ferry_error = r.ferry.error;
  if (r.logrep.error) out.logrep_error = r.logrep.error;
  if (r.steady?.error) out.steady_error = r.steady.error;
  return out;
}

const fmt = (x: number | null | undefined, digits: number): string => (x == null ? '—' : x.toFixed(digits));
const yesNo = (b: boolean | null): string => (b == null ? 'n/a' : b ? 'yes' : 'NO');

/** The human summary, as lines. */
export function formatCdcTable(r: CdcBenchResult): string[] {
  const rows = [
    ['ferry', r.ferry],
    ['logrep', r.logrep],
  ] as const;
  const header = ['tool', 'catch-up s', 'changes/s', 'vs logrep', 'equal'];
  const cells = rows.map(([name, c]) => [
    name,
    fmt(c.seconds, 2),
    c.seconds ? Math.round(r.changes / c.seconds).toLocaleString('en-US') : '—',
    c.seconds && r.logrep.seconds ? `${(r.logrep.seconds / c.seconds).toFixed(2)}×` : '—',
    c.error ? 'FAILED' : yesNo(c.equal),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (cs: string[]) =>
    cs.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [
    `cdc: pgbench scale ${r.scale}, backlog of ${r.txns.toLocaleString('en-US')} transactions ` +
      `(${r.changes.toLocaleString('en-US')} row changes, written in ${r.backlogSeconds.toFixed(1)} s by ${r.clients} clients)`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
  ];
  if (r.logrep.appliedSeconds != null)
    out.push(
      `  logrep: last transaction applied after ${r.logrep.appliedSeconds.toFixed(2)} s (flush confirmed later)`,
    );
  if (r.ferry.peakRssMb != null)
    out.push(
      `  ferry: ${r.ferry.batches} batches, the first committed after ${fmt(r.ferry.firstApplySeconds, 2)} s; ` +
        `bench process peak RSS ${r.ferry.peakRssMb.toFixed(0)} MB (sampled)`,
    );
  for (const [name, c] of rows) {
    if (c.error) out.push(`  ${name}: FAILED: ${c.error}`);
    for (const n of c.notes) out.push(`  ${name}: ${n}`);
    for (const d of c.differences) out.push(`  ${name}: differs: ${d}`);
  }
  const s = r.steady;
  if (s) {
    const lags = s.lagsMs;
    out.push(
      `steady state, Ferry only: pgbench -R ${r.rate} for ${r.seconds} s: ${s.txns.toLocaleString('en-US')} transactions, ` +
        `${s.tps.toFixed(1)} tps achieved`,
      `  lag per source transaction (target commit − source commit): p50 ${fmt(percentile(lags, 50), 1)} ms, ` +
        `p95 ${fmt(percentile(lags, 95), 1)} ms, max ${fmt(percentile(lags, 100), 1)} ms over ${lags.length} transactions`,
      `  target equals source afterwards: ${s.error ? 'FAILED' : yesNo(s.equal)}`,
    );
    if (s.error) out.push(`  steady state: FAILED: ${s.error}`);
    for (const d of s.differences) out.push(`  steady state: differs: ${d}`);
  } else {
    out.push('steady state: not run (Ferry did not catch up)');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

/** Set while a run holds servers and temp dirs, so an interrupt can release them. */
let releaseRun: (() => Promise<void>) | undefined;
/** Stops the runCdc in progress, if any. */
const ferryRuns = new Set<AbortController>();

/** Stop Ferry, children and servers of the run in progress (SIGINT/SIGTERM). Safe to call when idle. */
export async function abortCdcBench(): Promise<void> {
  for (const c of ferryRuns) c.abort();
  killRunningChildren();
  await releaseRun?.();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Peak VmRSS of this process, sampled: Ferry's engine runs in-process, so this is the bench and Ferry. */
class SelfRssSampler {
  private timer?: NodeJS.Timeout;
  peakMb = 0;
  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), 200);
    this.timer.unref();
    return this;
  }
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    return this.peakMb;
  }
  private sample(): void {
    this.peakMb = Math.max(this.peakMb, procMemMb('self', 'VmRSS') ?? 0);
  }
}

async function scalar<T>(c: Client, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await c.query<{ v: T }>(sql, params);
  return rows[0]?.v;
}

const historyRows = (servers: BenchServers, srv: BenchServer, db: string): Promise<number> =>
  withClient(servers, srv, db, async (c) =>
    Number(await scalar<string>(c, 'SELECT count(*) AS v FROM pgbench_history')),
  );

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** A source and one target compared: whether equal, and the first few differences. */
function compare(src: DbFingerprint, tgt: DbFingerprint): { equal: boolean; differences: string[] } {
  const diffs = compareFingerprints(src, tgt);
  return {
    equal: diffs.length === 0,
    differences:
      diffs.length > MAX_DIFFS
        ? [...diffs.slice(0, MAX_DIFFS), `... and ${diffs.length - MAX_DIFFS} more`]
        : diffs,
  };
}

async function runPgbench(
  servers: BenchServers,
  db: string,
  args: string[],
  logFile: string,
): Promise<{ seconds: number; tps: number | null }> {
  const r = await runLogged(
    path.join(PG_CLIENT_BIN, 'pgbench'),
    [...args, '-h', servers.source.host, '-p', String(servers.source.port), '-U', 'postgres', db],
    { env: toolEnv(servers), logFile, captureStdout: true },
  );
  checkExit('pgbench', r, logFile);
  const tps = /^tps = ([\d.]+)/m.exec(r.stdout);
  return { seconds: r.seconds, tps: tps ? Number(tps[1]) : null };
}

/**
 * Drop what the run created for replication, whatever state it is in: the subscription (detached from
 * its slot first, so dropping it needs no connection to the source), both slots, the publication.
 */
async function dropReplication(servers: BenchServers, sourceDb: string, log: Log): Promise<void> {
  await withClient(servers, servers.target, 'postgres', async (c) => {
    const dbs = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname = $1`, [
      LOGREP_DB,
    ]);
    if (!dbs.rows.length) return;
    await withClient(servers, servers.target, LOGREP_DB, async (t) => {
      const sub = await t.query(`SELECT 1 FROM pg_subscription WHERE subname = $1`, [SUBSCRIPTION]);
      if (!sub.rows.length) return;
      await t.query(`ALTER SUBSCRIPTION ${quoteIdent(SUBSCRIPTION)} DISABLE`);
      await t.query(`ALTER SUBSCRIPTION ${quoteIdent(SUBSCRIPTION)} SET (slot_name = NONE)`);
      await t.query(`DROP SUBSCRIPTION ${quoteIdent(SUBSCRIPTION)}`);
    });
  }).catch((e: Error) => log(`dropping the subscription: ${e.message}`));
  await withClient(servers, servers.source, sourceDb, async (c) => {
    for (const slot of [LOGREP_SLOT, FERRY_SLOT]) {
      // A walsender that is just shutting down may still hold the slot for a moment.
      for (let attempt = 0; ; attempt++) {
        try {
          await c.query(
            `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
            [slot],
          );
          break;
        } catch (e) {
          if ((e as { code?: string }).code !== '55006' || attempt >= 50) throw e;
          await sleep(200);
        }
      }
    }
    await c.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(PUBLICATION)}`);
  }).catch((e: Error) => log(`dropping slots and publication: ${e.message}`));
}

export async function runCdcBench(args: BenchArgs, log: Log): Promise<CdcBenchResult> {
  const root = await makeRoot('ferry-bench-cdc-', os.tmpdir());
  const logDir = path.join(root, 'logs');
  await fs.mkdir(logDir, { recursive: true });
  log(`work directory ${root}${args.keep ? ' (kept)' : ''}; logs in ${logDir}`);

  let servers: BenchServers | undefined;
  let sourceDb: string | undefined;
  let releasing: Promise<void> | undefined;
  releaseRun = () =>
    (releasing ??= (async () => {
      for (const c of ferryRuns) c.abort();
      if (servers && sourceDb) await dropReplication(servers, sourceDb, log);
      await stopBenchServers(root).catch((e: Error) => log(`stopping servers: ${e.message}`));
      if (!args.keep) await fs.rm(root, { recursive: true, force: true }).catch(() => undefined);
    })());
  try {
    servers = await startBenchServers(root);
    log(
      `source PostgreSQL 13 on port ${servers.source.port}, target PostgreSQL 15 on port ${servers.target.port}`,
    );
    return await bench(args, servers, logDir, log, (db) => (sourceDb = db));
  } finally {
    await releaseRun();
    releaseRun = undefined;
  }
}

async function bench(
  args: BenchArgs,
  servers: BenchServers,
  logDir: string,
  log: Log,
  setSourceDb: (db: string) => void,
): Promise<CdcBenchResult> {
  const { txns: wantTxns, clients, rate, seconds } = args.cdc;
  const threads = String(Math.min(2, clients));

  // 1. The source, and two copies of it on the target.
  log(`building the source: pgbench scale ${args.scale}`);
  let t = Date.now();
  const sourceDb = await createDataset('pgbench', args.scale, servers, logDir);
  setSourceDb(sourceDb);
  await withClient(servers, servers.source, sourceDb, (c) =>
    c.query('ALTER TABLE pgbench_history REPLICA IDENTITY FULL'),
  );
  const dump = path.join(servers.root, 'source.dump');
  const copyLog = path.join(logDir, 'copy.log');
  const env = toolEnv(servers);
  const srcUri = `postgres://postgres@${servers.source.host}:${servers.source.port}/${sourceDb}?sslmode=disable`;
  checkExit(
    'pg_dump',
    await runLogged(path.join(PG_CLIENT_BIN, 'pg_dump'), ['-Fc', '--compress=0', '-f', dump, '-d', srcUri], {
      env,
      logFile: copyLog,
    }),
    copyLog,
  );
  for (const db of [FERRY_DB, LOGREP_DB]) {
    await createDatabase(servers, servers.target, db);
    const tgtUri = `postgres://postgres@${servers.target.host}:${servers.target.port}/${db}?sslmode=disable`;
    checkExit(
      'pg_restore',
      await runLogged(
        path.join(PG_CLIENT_BIN, 'pg_restore'),
        ['-j', String(args.jobs), '--exit-on-error', '-d', tgtUri, dump],
        { env, logFile: copyLog },
      ),
      copyLog,
    );
    await withClient(servers, servers.target, db, (c) => c.query('VACUUM (ANALYZE)'));
  }
  await fs.rm(dump, { force: true });
  log(`source built and copied to ${FERRY_DB} and ${LOGREP_DB} in ${((Date.now() - t) / 1000).toFixed(0)} s`);

  // 2. Publication and both slots, back to back on the quiet source: the same starting point.
  const slotLsns = await withClient(servers, servers.source, sourceDb, async (c) => {
    const tables = PGBENCH_TABLES.map((n) => `public.${quoteIdent(n)}`).join(', ');
    await c.query(
      `CREATE PUBLICATION ${quoteIdent(PUBLICATION)} FOR TABLE ${tables} WITH (publish_via_partition_root = true)`,
    );
    const lsns: string[] = [];
    for (const slot of [FERRY_SLOT, LOGREP_SLOT])
      lsns.push(
        await scalar<string>(
          c,
          `SELECT lsn::text AS v FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
          [slot],
        ),
      );
    return lsns;
  });
  const conninfo =
    `host=${servers.source.host} port=${servers.source.port} dbname=${sourceDb} user=postgres ` +
    `password=${servers.password} application_name=${SUBSCRIPTION}`;
  await withClient(servers, servers.target, LOGREP_DB, (c) =>
    c.query(
      `CREATE SUBSCRIPTION ${quoteIdent(SUBSCRIPTION)} CONNECTION ${literal(conninfo)} ` +
        `PUBLICATION ${quoteIdent(PUBLICATION)} ` +
        `WITH (copy_data = false, create_slot = false, slot_name = ${literal(LOGREP_SLOT)}, enabled = false)`,
    ),
  );
  log(`publication ${PUBLICATION}; slots ${FERRY_SLOT} at ${slotLsns[0]}, ${LOGREP_SLOT} at ${slotLsns[1]}`);

  // Both copies must equal the source before anything streams, or a later difference is not the tool's.
  t = Date.now();
  const baseline = await fingerprint(servers, servers.source, sourceDb, args.jobs);
  for (const db of [FERRY_DB, LOGREP_DB]) {
    const c = compare(baseline, await fingerprint(servers, servers.target, db, args.jobs));
    if (!c.equal)
      throw new Error(`the copy in ${db} differs from the source before CDC: ${c.differences.join('; ')}`);
  }
  log(`both copies equal the source (checked in ${((Date.now() - t) / 1000).toFixed(0)} s)`);

  // 3. The backlog.
  const perClient = perClientTxns(wantTxns, clients);
  log(`backlog: pgbench -n -t ${perClient} -c ${clients} -j ${threads} (tpcb-like) ...`);
  const before = await historyRows(servers, servers.source, sourceDb);
  const backlog = await runPgbench(
    servers,
    sourceDb,
    ['-n', '-t', String(perClient), '-c', String(clients), '-j', threads],
    path.join(logDir, 'pgbench-backlog.log'),
  );
  const txns = (await historyRows(servers, servers.source, sourceDb)) - before;
  const changes = txns * CHANGES_PER_TXN;
  const endLsn = await withClient(servers, servers.source, sourceDb, (c) =>
    scalar<string>(c, 'SELECT pg_current_wal_lsn()::text AS v'),
  );
  log(
    `backlog: ${txns} transactions (${changes} row changes) in ${backlog.seconds.toFixed(1)} s` +
      `${backlog.tps ? ` (${backlog.tps.toFixed(0)} tps)` : ''}; source WAL end ${endLsn}`,
  );

  const srcConn = connInfo(servers, servers.source, sourceDb);
  const ferryConn = connInfo(servers, servers.target, FERRY_DB);
  const catalog = await readSourceCatalog(srcConn);
  const { mapping } = await loadMappingFiles();
  const { settings } = parseTaskSettings(cdcTaskSettings(), 'bench-cdc-task-settings.json');
  const plan = compilePlan(mapping, catalog, settings);
  const cdcOptions: RunCdcOptions = {
    migration: MIGRATION,
    source: srcConn,
    target: ferryConn,
    plan,
    catalog,
    slotName: FERRY_SLOT,
    publication: PUBLICATION,
  };
  const timeoutMs = catchUpTimeoutMs(txns);

  // 4a. Ferry catches up.
  const ferry: CdcBenchResult['ferry'] = {
    seconds: null,
    equal: null,
    differences: [],
    notes: [],
    changes: 0,
    txns: 0,
    batches: 0,
    peakRssMb: null,
    firstApplySeconds: null,
    otherCpuShare: null,
  };
  await checkpointBoth(servers);
  log(`ferry: catching up to ${endLsn} ...`);
  const rss = new SelfRssSampler().start();
  const ours = [process.pid, servers.source.pid, servers.target.pid];
  let foreign = new ForeignCpuMeter(ours).start();
  {
    const ac = new AbortController();
    ferryRuns.add(ac);
    let timedOut = false;
    const watchdog = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    const started = process.hrtime.bigint();
    try {
      const final = await runCdc({
        ...cdcOptions,
        untilLsn: endLsn,
        signal: ac.signal,
        onBatch: (b) => {
          ferry.firstApplySeconds ??= Number(process.hrtime.bigint() - started) / 1e9;
          ferry.batches++;
          ferry.txns += b.txns;
          ferry.changes += b.changes;
        },
        onProgress: throttledProgress('ferry', log),
      });
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      // Whether it really applied everything is for the verification below to say.
      if (timedOut) ferry.error = `did not catch up within ${(timeoutMs / 1000).toFixed(0)} s`;
      else ferry.seconds = secs;
      log(
        `ferry: ${ferry.error ?? `caught up in ${secs.toFixed(2)} s`}: ${ferry.txns} transactions, ` +
          `${ferry.changes} changes in ${ferry.batches} batches, applied up to ${final.appliedLsn}`,
      );
    } catch (err) {
      ferry.error = (err as Error).message.split('\n')[0];
      log(`ferry: FAILED: ${(err as Error).stack ?? ferry.error}`);
    } finally {
      clearTimeout(watchdog);
      ferryRuns.delete(ac);
    }
  }
  ferry.peakRssMb = rss.stop();
  ferry.otherCpuShare = foreign.stop();
  if (ferry.seconds != null && ferry.changes !== changes)
    ferry.notes.push(
      `reported ${ferry.changes} changes in ${ferry.txns} transactions; pgbench made ${changes}`,
    );

  // 4b. Native logical replication catches up, alone.
  const logrep: CdcBenchResult['logrep'] = {
    seconds: null,
    equal: null,
    differences: [],
    notes: [],
    appliedSeconds: null,
    otherCpuShare: null,
  };
  await checkpointBoth(servers);
  log(`logrep: catching up to ${endLsn} ...`);
  foreign = new ForeignCpuMeter(ours).start();
  try {
    const r = await logrepCatchUp(servers, sourceDb, endLsn, timeoutMs);
    logrep.seconds = r.seconds;
    logrep.appliedSeconds = r.appliedSeconds;
    log(`logrep: caught up in ${r.seconds.toFixed(2)} s (confirmed_flush_lsn ${r.confirmed})`);
  } catch (err) {
    logrep.error = (err as Error).message;
    log(`logrep: FAILED: ${logrep.error}`);
  }
  logrep.otherCpuShare = foreign.stop();
  for (const c of [ferry, logrep])
    if (c.otherCpuShare != null && c.otherCpuShare > FOREIGN_CPU_WARN)
      c.notes.push(
        `other processes used at least ${(c.otherCpuShare * 100).toFixed(0)}% of the machine's CPU meanwhile: noisy figure`,
      );

  // 5. Both targets against the (quiet) source.
  t = Date.now();
  const srcFp = await fingerprint(servers, servers.source, sourceDb, args.jobs);
  for (const [name, c, db] of [
    ['ferry', ferry, FERRY_DB],
    ['logrep', logrep, LOGREP_DB],
  ] as const) {
    const cmp = compare(srcFp, await fingerprint(servers, servers.target, db, args.jobs));
    c.equal = cmp.equal;
    c.differences = cmp.differences;
    log(`${name}: target ${cmp.equal ? 'equals the source' : `DIFFERS (${cmp.differences.length})`}`);
  }
  log(`verified in ${((Date.now() - t) / 1000).toFixed(0)} s`);

  // 6. Steady state, Ferry alone: the subscription and its slot go first.
  await withClient(servers, servers.target, LOGREP_DB, async (c) => {
    await c.query(`ALTER SUBSCRIPTION ${quoteIdent(SUBSCRIPTION)} DISABLE`);
    await c.query(`ALTER SUBSCRIPTION ${quoteIdent(SUBSCRIPTION)} SET (slot_name = NONE)`);
    await c.query(`DROP SUBSCRIPTION ${quoteIdent(SUBSCRIPTION)}`);
  });
  await dropSlotWhenFree(servers, sourceDb, LOGREP_SLOT);
  if (!args.keep) await dropDatabase(servers, servers.target, LOGREP_DB);

  let steady: SteadyState | null = null;
  if (ferry.seconds != null) {
    rss.start();
    steady = await steadyState(args, servers, sourceDb, cdcOptions, logDir, log);
    ferry.peakRssMb = rss.stop();
  }

  return {
    scale: args.scale,
    clients,
    rate,
    seconds,
    txns,
    changes,
    backlogSeconds: backlog.seconds,
    endLsn,
    ferry,
    logrep,
    steady,
  };
}

/** Progress lines at most every 10 s. */
function throttledProgress(who: string, log: Log): (p: CdcProgress) => void {
  let last = 0;
  return (p) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    log(
      `${who}: applied ${p.appliedLsn} (${p.txns} transactions, ${p.changes} changes, ` +
        `${Math.round(p.changesPerSecond)} changes/s), lag ${p.lagBytes} bytes / ${p.lagSeconds.toFixed(1)} s`,
    );
  };
}

async function dropSlotWhenFree(servers: BenchServers, db: string, slot: string): Promise<void> {
  await withClient(servers, servers.source, db, async (c) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
          [slot],
        );
        return;
      } catch (e) {
        // 55006: still active (the apply worker's walsender is exiting).
        if ((e as { code?: string }).code !== '55006' || attempt >= 50) throw e;
        await sleep(200);
      }
    }
  });
}

/**
 * Enable the subscription and time it until the source says its slot's confirmed_flush_lsn reached
 * `endLsn` (polled every 50 ms). Also watches the subscription's replication origin on the target: the
 * last time its remote_lsn moved is when the last transaction was applied (appliedSeconds), before the
 * worker's asynchronous commit was flushed and confirmed.
 */
async function logrepCatchUp(
  servers: BenchServers,
  sourceDb: string,
  endLsn: string,
  timeoutMs: number,
): Promise<{ seconds: number; appliedSeconds: number | null; confirmed: string }> {
  return withClient(servers, servers.source, sourceDb, (src) =>
    withClient(servers, servers.target, LOGREP_DB, async (tgt) => {
      const started = process.hrtime.bigint();
      const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
      await tgt.query(`ALTER SUBSCRIPTION ${quoteIdent(SUBSCRIPTION)} ENABLE`);
      let remote: string | null = null;
      let appliedSeconds: number | null = null;
      for (;;) {
        const confirmed = await scalar<string | null>(
          src,
          `SELECT confirmed_flush_lsn::text AS v FROM pg_replication_slots WHERE slot_name = $1`,
          [LOGREP_SLOT],
        );
        if (confirmed && compareLsn(confirmed, endLsn) >= 0) {
          const seconds = elapsed();
          return { seconds, appliedSeconds: appliedSeconds ?? seconds, confirmed };
        }
        const now = await scalar<string | null>(
          tgt,
          `SELECT s.remote_lsn::text AS v FROM pg_replication_origin_status s
             JOIN pg_subscription sub ON s.external_id = 'pg_' || sub.oid WHERE sub.subname = $1`,
          [SUBSCRIPTION],
        );
        if (now && now !== remote) {
          remote = now;
          appliedSeconds = elapsed();
        }
        if (elapsed() * 1000 > timeoutMs) {
          const logFile = `${servers.target.dataDir}.log`;
          throw new Error(
            `did not catch up within ${(timeoutMs / 1000).toFixed(0)} s (confirmed ${confirmed ?? 'nothing'}, ` +
              `applied ${remote ?? 'nothing'}); target log ${logFile}:\n${await logTail(logFile, LOG_LINES)}`,
          );
        }
        await sleep(POLL_MS);
      }
    }),
  );
}

/**
 * Ferry live while pgbench runs at a fixed rate: lag of every source transaction (the target commit time
 * of its batch minus its source commit time, one machine's clock), then the source and Ferry's target
 * compared once Ferry has applied everything and stopped.
 */
async function steadyState(
  args: BenchArgs,
  servers: BenchServers,
  sourceDb: string,
  cdcOptions: RunCdcOptions,
  logDir: string,
  log: Log,
): Promise<SteadyState> {
  const { rate, seconds, clients } = args.cdc;
  const out: SteadyState = { txns: 0, tps: 0, lagsMs: [], equal: null, differences: [] };
  const ac = new AbortController();
  ferryRuns.add(ac);
  let streaming!: () => void;
  const started = new Promise<void>((r) => (streaming = r));
  const lags: number[] = [];
  // An object, not a `let`: TypeScript does not see the assignment in the callback.
  const state: { failed?: Error } = {};
  const progress = throttledProgress('ferry', log);
  log(`steady state: ferry live, pgbench -R ${rate} -T ${seconds} -c ${clients} ...`);
  const running = runCdc({
    ...cdcOptions,
    signal: ac.signal,
    progressIntervalMs: 1000,
    onProgress: (p) => {
      streaming();
      progress(p);
    },
    onBatch: (b: BatchReport) => {
      for (const ct of b.commitTimes) lags.push(b.appliedAt - ct);
    },
  }).catch((err: Error) => {
    state.failed = err;
    streaming();
    return undefined;
  });
  try {
    // Ferry's start-up is not lag: wait for its first report (or 10 s) before the load begins.
    await Promise.race([started, sleep(10_000)]);
    if (state.failed) throw state.failed;
    const before = await historyRows(servers, servers.source, sourceDb);
    const pg = await runPgbench(
      servers,
      sourceDb,
      [
        '-n',
        '-R',
        String(rate),
        '-T',
        String(seconds),
        '-c',
        String(clients),
        '-j',
        String(Math.min(2, clients)),
      ],
      path.join(logDir, 'pgbench-steady.log'),
    );
    const after = await historyRows(servers, servers.source, sourceDb);
    out.txns = after - before;
    out.tps = out.txns / seconds;
    log(
      `steady state: ${out.txns} transactions in ${pg.seconds.toFixed(1)} s (${out.tps.toFixed(1)} tps); ` +
        `waiting for ferry to apply the last of them ...`,
    );
    // Every tpcb-like transaction inserts one history row and Ferry applies whole transactions in commit
    // order: equal counts mean everything is applied.
    const deadline = Date.now() + catchUpTimeoutMs(out.txns);
    for (;;) {
      if (state.failed) throw state.failed;
      if ((await historyRows(servers, servers.target, FERRY_DB)) === after) break;
      if (Date.now() > deadline)
        throw new Error(`ferry did not apply the steady-state load within the timeout`);
      await sleep(200);
    }
  } catch (err) {
    out.error = (err as Error).message.split('\n')[0];
    log(`steady state: FAILED: ${(err as Error).stack ?? out.error}`);
  } finally {
    ac.abort();
    await running;
    ferryRuns.delete(ac);
  }
  if (state.failed && !out.error) out.error = state.failed.message.split('\n')[0];
  out.lagsMs = lags.sort((a, b) => a - b);
  log(
    `steady state: lag p50 ${fmt(percentile(out.lagsMs, 50), 1)} ms, p95 ${fmt(percentile(out.lagsMs, 95), 1)} ms, ` +
      `max ${fmt(percentile(out.lagsMs, 100), 1)} ms over ${out.lagsMs.length} transactions`,
  );
  if (!out.error) {
    const srcFp = await fingerprint(servers, servers.source, sourceDb, args.jobs);
    const cmp = compare(srcFp, await fingerprint(servers, servers.target, FERRY_DB, args.jobs));
    out.equal = cmp.equal;
    out.differences = cmp.differences;
    log(
      `steady state: ferry target ${cmp.equal ? 'equals the source' : `DIFFERS (${cmp.differences.length})`}`,
    );
  }
  return out;
}

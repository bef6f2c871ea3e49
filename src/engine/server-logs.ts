// The source's and target's own server log, for a migration's record: the lines of its time window
// that are errors or concern it, read over SQL (pg_ls_logdir + pg_read_binary_file) where the server
// writes its log to files (logging_collector) and the role may read them: the embedded stack, and
// on-site servers too. Elsewhere (RDS/Aurora, no collector, no privilege) the answer says exactly how to
// fetch them by hand. csvlog is read first, then jsonlog, then stderr files parsed by log_line_prefix.
import type { Client } from 'pg';
import { type PgConnInfo, classifyPgError, connectPg } from './connection';
import { quoteIdent } from './ident';

export interface ServerLogLine {
  /** ISO time. */
  time: string;
  /** As the server wrote it: ERROR, FATAL, PANIC, WARNING, LOG, ... */
  severity: string;
  message: string;
  database?: string;
  application?: string;
  /** csvlog and jsonlog only. */
  sqlState?: string;
}

export type ServerLogs =
  | {
      readable: true;
      format: LogFormat;
      /** Log files read (names in the server's log directory). */
      files: string[];
      lines: ServerLogLine[];
      /** More lines matched than maxLines (the latest are kept), or maxBytes were read before `until`. */
      truncated: boolean;
    }
  | {
      readable: false;
      reason: string;
      /** What to run, in order, to get the same lines by hand (or to make them readable next time). */
      howToFetch: string[];
    };

export type LogFormat = 'csvlog' | 'jsonlog' | 'stderr';

export interface CollectLogsOptions {
  since: Date;
  /** Default: now. */
  until?: Date;
  /**
   * Which lines besides errors to keep. Errors (ERROR, FATAL, PANIC, WARNING) are kept unless they
   * belong to another database (and not to the application); other lines when they are of `database`,
   * of an application whose name starts with `applicationName`, or mention either. Defaults: the
   * connection's database and 'ferry'.
   */
  match?: { applicationName?: string; database?: string; errorsOnly?: boolean };
  /** Default 500. */
  maxLines?: number;
  /** Log bytes read at most (default 64 MiB). */
  maxBytes?: number;
}

const ERROR_SEVERITIES = new Set(['ERROR', 'FATAL', 'PANIC', 'WARNING']);
/** stderr lines that continue the entry before them (its details), not entries of their own. */
const CONTINUATIONS = new Set(['DETAIL', 'HINT', 'CONTEXT', 'STATEMENT', 'QUERY', 'LOCATION']);
/** Bytes per pg_read_binary_file call. */
const CHUNK = 4 << 20;
/** Bytes read at a probe of the binary search for the window's start in a file; also its precision. */
const PROBE = 64 << 10;
/** Longer messages are cut (a failed statement's text can be megabytes). */
const MAX_MESSAGE = 2000;

/** What the server says about its logging and what the role may do. */
export interface LogFacts {
  user: string;
  superuser: boolean;
  /** EXECUTE on pg_ls_logdir() (superuser, pg_monitor). */
  canList: boolean;
  /** EXECUTE on pg_read_binary_file(text, bigint, bigint, boolean) (superuser, or granted). */
  canRead: boolean;
  loggingCollector: boolean;
  /** e.g. 'stderr', 'csvlog,stderr'. */
  logDestination: string;
  /** Undefined when the role may not see it (pg_read_all_settings). */
  logDirectory?: string;
  logLinePrefix: string;
  syslogIdent?: string;
  /** Amazon RDS or Aurora (rds.* settings, aurora_version()). */
  rds: boolean;
  aurora: boolean;
  versionNum: number;
}

export async function readLogFacts(c: Client): Promise<LogFacts> {
  const { rows } = await c.query<{
    user: string;
    superuser: boolean;
    can_list: boolean;
    can_read: boolean;
    settings: Record<string, string>;
    rds: boolean;
    aurora: boolean;
    version: number;
  }>(
    `SELECT current_user AS user,
            coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false) AS superuser,
            pg_catalog.has_function_privilege('pg_catalog.pg_ls_logdir()', 'EXECUTE') AS can_list,
            pg_catalog.has_function_privilege('pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)', 'EXECUTE') AS can_read,
            -- pg_settings hides superuser-only settings (log_directory) from roles without pg_read_all_settings.
            (SELECT pg_catalog.jsonb_object_agg(name, setting) FROM pg_catalog.pg_settings
              WHERE name IN ('logging_collector', 'log_destination', 'log_directory', 'log_line_prefix', 'syslog_ident')) AS settings,
            EXISTS (SELECT 1 FROM pg_catalog.pg_settings WHERE name LIKE 'rds.%') AS rds,
            pg_catalog.to_regproc('aurora_version') IS NOT NULL AS aurora,
            current_setting('server_version_num')::int AS version`,
  );
  const r = rows[0];
  const s = r.settings ?? {};
  return {
    user: r.user,
    superuser: r.superuser,
    canList: r.can_list,
    canRead: r.can_read,
    loggingCollector: s.logging_collector === 'on',
    logDestination: s.log_destination ?? 'stderr',
    ...(s.log_directory !== undefined && { logDirectory: s.log_directory }),
    logLinePrefix: s.log_line_prefix ?? '',
    ...(s.syslog_ident !== undefined && { syslogIdent: s.syslog_ident }),
    rds: r.rds || r.aurora,
    aurora: r.aurora,
    versionNum: r.version,
  };
}

/** The format Ferry reads: csvlog, then jsonlog, then stderr (which needs a time in log_line_prefix). */
function formatOf(f: LogFacts): LogFormat | undefined {
  const dest = f.logDestination.split(',').map((d) => d.trim().toLowerCase());
  if (dest.includes('csvlog')) return 'csvlog';
  if (dest.includes('jsonlog')) return 'jsonlog';
  if (dest.includes('stderr')) return 'stderr';
  return undefined;
}

const isoMinute = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');

/**
 * Why the log cannot be read over SQL, and how to get the window's lines instead; undefined when it can
 * (logging collector on, a readable format, privileges to list and read).
 */
export function unreadableReason(
  f: LogFacts,
  conn: Pick<PgConnInfo, 'endpointId' | 'host' | 'port'>,
  since: Date,
  until: Date,
): { reason: string; howToFetch: string[] } | undefined {
  const where = `endpoint ${conn.endpointId} (${conn.host}:${conn.port})`;
  const window = `${since.toISOString()} .. ${until.toISOString()}`;
  if (f.rds) {
    // RDS and Aurora keep the log outside the database's reach: only the RDS API serves the files.
    const id = rdsInstanceId(conn.host);
    const instance = id?.cluster ? '<instance id>' : (id?.instance ?? '<db-instance-identifier>');
    const steps: string[] = [];
    if (id?.cluster) {
      steps.push(
        `aws rds describe-db-clusters --db-cluster-identifier ${id.cluster}${id.region ? ` --region ${id.region}` : ''} ` +
          `--query 'DBClusters[0].DBClusterMembers[].DBInstanceIdentifier' (the cluster's instances: fetch each one's log)`,
      );
    }
    const region = id?.region ? ` --region ${id.region}` : '';
    steps.push(
      `aws rds describe-db-log-files --db-instance-identifier ${instance}${region} --file-last-written ${since.getTime()} ` +
        `(the log files written since ${since.toISOString()})`,
      `aws rds download-db-log-file-portion --db-instance-identifier ${instance}${region} --log-file-name <LogFileName from the list> ` +
        `--starting-token 0 --output text > <LogFileName>.txt (once per file; lines ${window})`,
      `or in the console: RDS > Databases > ${instance} > Logs & events > Logs; with log exports on, CloudWatch Logs group ` +
        `/aws/rds/${id?.cluster ? 'cluster' : 'instance'}/${id?.cluster ?? instance}/postgresql`,
    );
    return {
      reason: `${where} is Amazon ${f.aurora ? 'Aurora PostgreSQL' : 'RDS for PostgreSQL'}: its log files are served by the RDS API, not readable over SQL`,
      howToFetch: steps,
    };
  }
  const dir = f.logDirectory ?? '<SHOW log_directory, as a superuser>';
  const onHost =
    `on the server host: the files in log_directory (${dir}; a relative path is under SHOW data_directory) ` +
    `written ${window}`;
  if (!f.loggingCollector) {
    const dest = f.logDestination;
    const steps: string[] = [];
    if (/syslog/.test(dest)) {
      const ident = f.syslogIdent ?? 'postgres';
      steps.push(
        `log_destination = '${dest}' sends the log to syslog: on the server host, journalctl -t ${ident} --since '${isoMinute(since)}' ` +
          `--until '${isoMinute(until)}' (or grep ${ident} in /var/log/syslog or /var/log/messages)`,
      );
    }
    if (/eventlog/.test(dest))
      steps.push(`log_destination includes eventlog: Windows Event Viewer, Application log`);
    if (/stderr|csvlog|jsonlog/.test(dest) || !steps.length) {
      steps.push(
        `without logging_collector the log is the postmaster's stderr, wherever the service that starts it sends it: ` +
          `systemd: journalctl -u postgresql --since '${isoMinute(since)}' --until '${isoMinute(until)}' (the unit may be ` +
          `postgresql@<version>-main or postgresql-<version>: systemctl list-units 'postgresql*'); Debian/Ubuntu pg_ctlcluster: ` +
          `/var/log/postgresql/postgresql-<version>-main.log; pg_ctl -l <file>: that file`,
      );
    }
    steps.push(
      `so Ferry collects it next time: ALTER SYSTEM SET logging_collector = on; ALTER SYSTEM SET log_destination = 'stderr,csvlog'; ` +
        `then restart the server (logging_collector takes effect at start only)`,
    );
    return {
      reason: `${where}: logging_collector is off, so the server writes no log files that SQL can read (log_destination = '${dest}')`,
      howToFetch: steps,
    };
  }
  const format = formatOf(f);
  if (!format) {
    return {
      reason: `${where}: log_destination = '${f.logDestination}' writes no log files (only stderr, csvlog and jsonlog go to log_directory)`,
      howToFetch: [
        `so Ferry collects it next time: ALTER SYSTEM SET log_destination = 'stderr,csvlog'; SELECT pg_reload_conf();`,
      ],
    };
  }
  if (!f.superuser && (!f.canList || !f.canRead)) {
    const user = quoteIdent(f.user);
    const grants: string[] = [];
    if (!f.canList) grants.push(`GRANT pg_monitor TO ${user};`);
    if (!f.canRead) {
      grants.push(
        `GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO ${user};`,
      );
    }
    const missing = [!f.canList && 'list (pg_ls_logdir)', !f.canRead && 'read (pg_read_binary_file)']
      .filter(Boolean)
      .join(' or ');
    return {
      reason: `${where}: role ${f.user} may not ${missing} the server's log files`,
      howToFetch: [
        `as a superuser: ${grants.join(' ')} (pg_monitor lists the log directory; the EXECUTE grant reads files in it, ` +
          `pg_read_server_files alone does not)`,
        `or ${onHost}`,
      ],
    };
  }
  if (format === 'stderr' && !/%[mtn]/.test(f.logLinePrefix.replace(/%%/g, ''))) {
    return {
      reason: `${where}: log_line_prefix '${f.logLinePrefix}' has no time (%m, %t or %n), so lines cannot be placed in a window`,
      howToFetch: [
        `so Ferry collects it next time: ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d/%a '; SELECT pg_reload_conf(); ` +
          `(or log_destination = 'stderr,csvlog')`,
        onHost,
      ],
    };
  }
  return undefined;
}

/** The instance (or cluster) identifier and region in an RDS endpoint host name, if it is one. */
export function rdsInstanceId(
  host: string,
): { instance?: string; cluster?: string; region?: string } | undefined {
  const m =
    /^([a-z0-9-]+)\.(cluster-(?:ro-|custom-)?)?[a-z0-9]+\.([a-z0-9-]+)\.rds\.amazonaws\.com(?:\.cn)?$/i.exec(
      host,
    );
  if (!m) return undefined;
  return m[2] ? { cluster: m[1], region: m[3] } : { instance: m[1], region: m[3] };
}

/**
 * The server log lines of [since, until] that are errors or concern the migration (see
 * CollectLogsOptions.match), read over SQL; or, where that is not possible, why and how to fetch them.
 * Throws only when the server cannot be reached (classified as every connection error is).
 */
export async function collectServerLogs(conn: PgConnInfo, opts: CollectLogsOptions): Promise<ServerLogs> {
  const until = opts.until ?? new Date();
  const c = await connectPg(conn, 'ferry-server-logs');
  try {
    const facts = await readLogFacts(c);
    const no = unreadableReason(facts, conn, opts.since, until);
    if (no) return { readable: false, ...no };
    const format = formatOf(facts)!;
    try {
      return await readWindow(c, facts, format, { ...opts, until }, conn.database);
    } catch (err) {
      // The checks passed but the server still refused (a log directory outside the data directory
      // without pg_read_server_files, a directory that does not exist): say so, with the way by hand.
      const code = (err as { code?: string }).code;
      if (code === '42501' || code === '58P01' || code === '22023') {
        const dir = facts.logDirectory ?? '<SHOW log_directory>';
        return {
          readable: false,
          reason: `endpoint ${conn.endpointId}: reading the log directory failed: ${(err as Error).message}`,
          howToFetch: [
            code === '42501'
              ? `as a superuser: GRANT pg_read_server_files TO ${quoteIdent(facts.user)}; (log_directory ${dir} is outside the data directory)`
              : `check log_directory (${dir}) exists and the server can write it; SHOW log_directory; SHOW data_directory;`,
            `or on the server host: the files in ${dir} written ${opts.since.toISOString()} .. ${until.toISOString()}`,
          ],
        };
      }
      throw err;
    }
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await c.end().catch(() => undefined);
  }
}

// ---- reading --------------------------------------------------------------------------------------

interface Entry {
  /** ms since the epoch; NaN until ZoneOffsets.resolve reads `raw`, and when it cannot. */
  at: number;
  /** The time as the log wrote it. */
  raw?: string;
  severity: string;
  message: string;
  database?: string;
  application?: string;
  sqlState?: string;
}

/** Splits a file's text into entries; `push` text as it is read, `end` flushes the last entry. */
interface Parser {
  push(text: string): Entry[];
  end(): Entry[];
  /** Where the first entry starts in `text` at or after `from` (for reading from the middle of a file). */
  resync(text: string, from: number): number;
}

async function readWindow(
  c: Client,
  f: LogFacts,
  format: LogFormat,
  opts: CollectLogsOptions & { until: Date },
  database: string,
): Promise<ServerLogs> {
  const since = opts.since.getTime();
  const until = opts.until.getTime();
  const maxLines = opts.maxLines ?? 500;
  let budget = opts.maxBytes ?? 64 << 20;
  const appPrefix = opts.match?.applicationName ?? 'ferry';
  const db = opts.match?.database ?? database;
  const errorsOnly = opts.match?.errorsOnly ?? false;
  const zones = new ZoneOffsets(c);
  const ext = format === 'csvlog' ? '.csv' : format === 'jsonlog' ? '.json' : '.log';
  // A file written to after `since` may hold lines of the window; older files cannot. (pg_ls_logdir
  // gives whole seconds: a file written in since's second must not be left out.)
  const { rows: files } = await c.query<{ name: string; size: string }>(
    `SELECT name, size::text FROM pg_catalog.pg_ls_logdir()
      WHERE name LIKE $1 AND modification >= $2::timestamptz - interval '2 seconds' ORDER BY modification, name`,
    [`%${ext}`, opts.since],
  );
  const dir = f.logDirectory ?? 'log';
  const kept: ServerLogLine[] = [];
  let truncated = false;
  const read: string[] = [];

  const keep = (e: Entry): void => {
    const mine =
      (!!db && e.database === db) ||
      (!!appPrefix && !!e.application?.startsWith(appPrefix)) ||
      (!!appPrefix && e.message.includes(appPrefix)) ||
      (!!db && e.message.includes(`"${db}"`));
    const ok = ERROR_SEVERITIES.has(e.severity)
      ? mine || !db || e.database === undefined || e.database === ''
      : !errorsOnly && mine;
    if (!ok) return;
    if (kept.length >= maxLines) {
      kept.shift(); // the latest are kept: nearest to what went wrong
      truncated = true;
    }
    kept.push({
      time: new Date(e.at).toISOString(),
      severity: e.severity,
      message: e.message.length > MAX_MESSAGE ? `${e.message.slice(0, MAX_MESSAGE)}…` : e.message,
      ...(e.database && { database: e.database }),
      ...(e.application && { application: e.application }),
      ...(e.sqlState && { sqlState: e.sqlState }),
    });
  };

  for (const file of files) {
    if (budget <= 0) {
      truncated = true;
      break;
    }
    const path = `${dir}/${file.name}`;
    const size = Number(file.size);
    const parser = parserFor(format, f.logLinePrefix);
    let offset =
      size > 4 * PROBE ? await windowStart(c, path, size, format, f.logLinePrefix, zones, since) : 0;
    const decoder = new TextDecoder('utf-8');
    read.push(file.name);
    let past = false;
    let first = offset > 0;
    const take = async (entries: Entry[]) => {
      for (const e of entries) {
        await zones.resolve(e);
        if (Number.isNaN(e.at) || e.at < since) continue;
        if (e.at > until) {
          past = true;
          break;
        }
        keep(e);
      }
    };
    // Up to the end of the file as it is now: the size listed may already be behind the current file.
    let eof = false;
    while (!past && !eof && budget > 0) {
      const len = Math.min(CHUNK, budget);
      const buf = await readBytes(c, path, offset, len);
      if (!buf || buf.length === 0) break; // the end, or rotated away meanwhile
      eof = buf.length < len;
      offset += buf.length;
      budget -= buf.length;
      let text = decoder.decode(buf, { stream: true });
      if (first) {
        text = text.slice(parser.resync(text, 0));
        first = false;
      }
      await take(parser.push(text));
    }
    if (!past) await take(parser.end());
    if (budget <= 0 && !eof && !past) truncated = true;
  }
  return { readable: true, format, files: read, lines: kept, truncated };
}

async function readBytes(c: Client, path: string, offset: number, len: number): Promise<Buffer | null> {
  const { rows } = await c.query<{ b: Buffer | null }>(
    `SELECT pg_catalog.pg_read_binary_file($1, $2, $3, true) AS b`,
    [path, offset, len],
  );
  return rows[0].b;
}

/**
 * The offset to start reading a large file at: a binary search over probes for the last entry before
 * `since` (entries are in time order within a file), so a day's log is not read from its start.
 */
async function windowStart(
  c: Client,
  path: string,
  size: number,
  format: LogFormat,
  prefix: string,
  zones: ZoneOffsets,
  since: number,
): Promise<number> {
  let lo = 0;
  let hi = size;
  while (hi - lo > PROBE) {
    const mid = Math.floor((lo + hi) / 2);
    const buf = await readBytes(c, path, mid, PROBE);
    if (!buf) return lo;
    const text = buf.toString('utf8');
    const probe = parserFor(format, prefix);
    const e = probe.push(text.slice(probe.resync(text, 0)))[0];
    if (!e) return lo;
    await zones.resolve(e);
    if (Number.isNaN(e.at)) return lo;
    if (e.at < since) lo = mid;
    else hi = mid;
  }
  return lo;
}

function parserFor(format: LogFormat, prefix: string): Parser {
  return format === 'csvlog' ? csvParser() : format === 'jsonlog' ? jsonParser() : stderrParser(prefix);
}

// ---- times ----------------------------------------------------------------------------------------

/** 'YYYY-MM-DD HH:MM:SS[.fff] ZONE', as %m / %t and csvlog/jsonlog print log_timezone times. */
const LOG_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? ?(\S+)?$/;

/**
 * Zone abbreviations (CET, UTC, +03) to offsets, asked of the server once each: it prints them from
 * its own tz database, and reads them back the same way.
 */
class ZoneOffsets {
  private readonly offsets = new Map<string, number | null>();
  constructor(private readonly c: Client) {}

  /** Fill `e.at` from `e.raw`. */
  async resolve(e: Entry): Promise<void> {
    if (e.raw === undefined) return;
    const raw = e.raw;
    delete e.raw;
    if (/^\d+(\.\d+)?$/.test(raw)) {
      e.at = Math.round(Number(raw) * 1000); // %n: epoch seconds
      return;
    }
    const m = LOG_TIME.exec(raw);
    if (!m) return;
    const local = Date.UTC(
      +m[1],
      +m[2] - 1,
      +m[3],
      +m[4],
      +m[5],
      +m[6],
      m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0,
    );
    const zone = m[8] ?? 'UTC';
    let off = this.offsets.get(zone);
    if (off === undefined) {
      off = await this.c
        .query<{ s: string | null }>(
          `SELECT (946684800 - extract(epoch FROM ('2000-01-01 00:00:00 ' || $1)::timestamptz))::text AS s`,
          [zone],
        )
        .then(
          (r) => (r.rows[0].s === null ? null : Number(r.rows[0].s) * 1000),
          () => null,
        );
      this.offsets.set(zone, off);
    }
    if (off !== null) e.at = local - off;
  }
}

function entry(raw: string, severity: string, message: string, extra: Partial<Entry> = {}): Entry {
  return { at: NaN, raw, severity, message, ...extra };
}

// ---- csvlog ---------------------------------------------------------------------------------------

/** csvlog columns (the same positions from PostgreSQL 9 to 17; later versions only append). */
const CSV = { time: 0, user: 1, database: 2, severity: 11, sqlState: 12, message: 13, application: 22 };

function csvParser(): Parser {
  let rest = '';
  const parse = (text: string, final: boolean): Entry[] => {
    const s = rest + text;
    const out: Entry[] = [];
    let i = 0;
    let recordStart = 0;
    let fields: string[] = [];
    let field = '';
    let quoted = false;
    let inQuotes = false;
    while (i < s.length) {
      const ch = s[i];
      if (inQuotes) {
        if (ch === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          if (i + 1 >= s.length && !final) break; // "" may straddle the chunk
          inQuotes = false;
        } else field += ch;
        i++;
        continue;
      }
      if (ch === '"' && field === '' && !quoted) {
        inQuotes = quoted = true;
      } else if (ch === ',') {
        fields.push(field);
        field = '';
        quoted = false;
      } else if (ch === '\n') {
        fields.push(field);
        out.push(csvEntry(fields));
        fields = [];
        field = '';
        quoted = false;
        recordStart = i + 1;
      } else if (ch !== '\r') field += ch;
      i++;
    }
    rest = s.slice(recordStart);
    if (final && rest.trim()) {
      if (field !== '' || fields.length) {
        fields.push(field);
        out.push(csvEntry(fields));
      }
      rest = '';
    }
    return out;
  };
  return {
    push: (text) => parse(text, false),
    end: () => parse('', true),
    resync: (text, from) => {
      const m = /\n(?=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})/.exec(text.slice(from));
      return m ? from + m.index + 1 : text.length;
    },
  };
}

function csvEntry(f: string[]): Entry {
  return entry(f[CSV.time] ?? '', f[CSV.severity] ?? '', f[CSV.message] ?? '', {
    ...(f[CSV.database] && { database: f[CSV.database] }),
    ...(f[CSV.application] && { application: f[CSV.application] }),
    ...(f[CSV.sqlState] && f[CSV.sqlState] !== '00000' && { sqlState: f[CSV.sqlState] }),
  });
}

// ---- jsonlog (PostgreSQL 15+) ---------------------------------------------------------------------

function jsonParser(): Parser {
  let rest = '';
  const parse = (text: string, final: boolean): Entry[] => {
    const lines = (rest + text).split('\n');
    rest = final ? '' : lines.pop()!;
    const out: Entry[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
        out.push(
          entry(str('timestamp') ?? '', str('error_severity') ?? '', str('message') ?? '', {
            ...(str('dbname') && { database: str('dbname') }),
            ...(str('application_name') && { application: str('application_name') }),
            ...(str('state_code') && str('state_code') !== '00000' && { sqlState: str('state_code') }),
          }),
        );
      } catch {
        // a line cut by rotation: skipped
      }
    }
    return out;
  };
  return {
    push: (text) => parse(text, false),
    end: () => parse('', true),
    resync: (text, from) => {
      const at = text.indexOf('\n{', from);
      return at < 0 ? text.length : at + 1;
    },
  };
}

// ---- stderr ---------------------------------------------------------------------------------------

const TS = String.raw`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}`;

/**
 * A regular expression for the start of a log line written with `prefix` (log_line_prefix): named
 * groups t (time), db, app; then the severity and the message. Escapes after %q are optional (the
 * server leaves them out for processes without a session).
 */
export function prefixPattern(prefix: string): RegExp {
  let re = '^';
  let optional = false;
  let hasTime = false;
  let hasDb = false;
  let hasApp = false;
  for (let i = 0; i < prefix.length; i++) {
    const ch = prefix[i];
    if (ch !== '%' || i + 1 >= prefix.length) {
      re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      continue;
    }
    // %-10a and %10a pad the value: the value pattern absorbs the spaces.
    let j = i + 1;
    while (j < prefix.length && /[-\d]/.test(prefix[j])) j++;
    const esc = prefix[j];
    i = j;
    const lazy = String.raw`\s*.*?\s*`;
    switch (esc) {
      case 'm':
      case 't':
        re += hasTime ? `${TS}(?:\\.\\d+)? ?\\S*?` : `(?<t>${TS}(?:\\.\\d+)?(?: [^\\s\\]]+)?)`;
        hasTime = true;
        break;
      case 'n':
        re += hasTime ? String.raw`\d+\.\d+` : String.raw`(?<t>\d+\.\d+)`;
        hasTime = true;
        break;
      case 's':
        re += `${TS}(?: [^\\s\\]]+)?`;
        break;
      case 'p':
      case 'P':
      case 'l':
      case 'x':
        re += String.raw`\s*\d*\s*`;
        break;
      case 'Q':
        re += String.raw`\s*-?\d*\s*`;
        break;
      case 'e':
        re += String.raw`[0-9A-Z]{5}`;
        break;
      case 'd':
        re += hasDb ? lazy : `\\s*(?<db>.*?)\\s*`;
        hasDb = true;
        break;
      case 'a':
        re += hasApp ? lazy : `\\s*(?<app>.*?)\\s*`;
        hasApp = true;
        break;
      case 'q':
        if (!optional) re += '(?:';
        optional = true;
        break;
      case '%':
        re += '%';
        break;
      default:
        // %u %r %h %b %i %c %v: text the pattern does not need.
        re += lazy;
    }
  }
  if (optional) re += ')?';
  return new RegExp(`${re}(?<sev>[A-Z][A-Z0-9]*):  (?<msg>.*)$`);
}

function stderrParser(prefix: string): Parser {
  const start = prefixPattern(prefix);
  let rest = '';
  let current: Entry | undefined;
  let inContinuation = false;
  const parse = (text: string, final: boolean): Entry[] => {
    const lines = (rest + text).split('\n');
    rest = final ? '' : lines.pop()!;
    const out: Entry[] = [];
    for (const line of lines) {
      const m = start.exec(line);
      if (m?.groups) {
        const sev = m.groups.sev;
        if (CONTINUATIONS.has(sev)) {
          inContinuation = true; // details of the entry before: not kept
          continue;
        }
        if (current) out.push(current);
        inContinuation = false;
        // " at character N" points into the statement, which csvlog keeps apart (and we leave out).
        current = entry(m.groups.t ?? '', sev, m.groups.msg.replace(/ at character \d+$/, ''), {
          ...(m.groups.db && { database: m.groups.db }),
          ...(m.groups.app && { application: m.groups.app }),
        });
      } else if (current && !inContinuation && line.startsWith('\t')) {
        current.message += `\n${line.slice(1)}`; // a multi-line message
      }
    }
    if (final && current) {
      out.push(current);
      current = undefined;
    }
    return out;
  };
  return {
    push: (text) => parse(text, false),
    end: () => parse('', true),
    resync: (text, from) => {
      const lines = text.slice(from).split('\n');
      let at = from;
      for (let k = 0; k < lines.length; k++) {
        if (k > 0 && start.test(lines[k])) return at;
        at += lines[k].length + 1;
      }
      return text.length;
    },
  };
}

// PoC step 3: pg_restore -j of the PoC archive into the (fresh, empty) scratch database, with progress
// counted from pg_restore's verbose output against the archive's table of contents.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint, redact } from '../connection';
import { displayName, qualify, quoteIdent, readIdent } from '../ident';
import { type PgTool, type RunResult, classifyToolFailure, findPgTool, runTool, toolEnv } from '../pg-tools';

export interface RestoreOptions {
  /** The scratch database: fresh from ensureScratchDatabase. */
  conn: PgConnInfo;
  file: string;
  /** pg_restore -j */
  jobs: number;
  onProgress?: (p: { done: number; total: number; item?: string }) => void;
  signal?: AbortSignal;
}

export interface RestoreResult {
  seconds: number;
  /** pg_restore's warnings, without the "pg_restore: warning: " prefix. */
  warnings: string[];
}

/** What `pg_restore -l` tells about an archive. */
export interface ArchiveToc {
  /** Entries listed (one per line). */
  listed: number;
  /** "TOC Entries" from the header: also counts ENCODING, STDSTRINGS, ... that pg_restore processes. */
  total: number;
  /** Major of the pg_dump that wrote it. */
  dumpMajor?: number;
  /** The `pg_restore -l` output itself: the base of a --use-list file. */
  listing: string;
}

/**
 * Restore `file` into `conn.database` with `pg_restore -j N --no-owner --no-privileges
 * --exit-on-error`: the scratch database has none of the source's roles, and the first error stops
 * the restore so the operator sees the cause, not its consequences. Before it starts: schemas a
 * table-level archive lacks are created, and foreign keys to tables outside the archive are left
 * out (each reported in `warnings`), since a scope can cut through a reference.
 * @throws TOOL_FAILED listing pg_restore's errors (with a hint for missing extensions), or the
 *   AUTH/UNREACHABLE/DATABASE_MISSING classification of a connection failure.
 */
export async function restoreDump(opts: RestoreOptions): Promise<RestoreResult> {
  const { conn } = opts;
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `pg_restore jobs must be a positive integer, not ${opts.jobs}`,
    );
  }
  opts.signal?.throwIfAborted();
  const started = Date.now();
  await fs.access(opts.file).catch(() => {
    throw new FerryError(
      ErrorType.TOOL_FAILED,
      `dump file ${opts.file} does not exist on this worker; run the PoC dump again`,
    );
  });

  let tool = await findPgTool('pg_restore');
  let toc = await readToc(tool, opts.file);
  if (toc.dumpMajor && tool.major < toc.dumpMajor) {
    tool = await findPgTool('pg_restore', toc.dumpMajor);
    toc = await readToc(tool, opts.file);
  }

  const pre = scanPreData(await sectionScript(tool, opts.file, 'pre-data', conn, opts.signal));
  const dangling = danglingForeignKeys(
    await sectionScript(tool, opts.file, 'post-data', conn, opts.signal),
    pre.tables,
  );
  await prepareTarget(conn, pre);

  const warnings: string[] = dangling.map(
    (fk) =>
      `skipped foreign key ${quoteIdent(fk.constraint)} of ${fk.table}: it references ${fk.references}, ` +
      `which is outside the PoC scope`,
  );
  const errors: string[] = [];
  const progress = new RestoreProgress((toc.total || toc.listed) - dangling.length);
  opts.onProgress?.({ done: 0, total: progress.total });
  // Leave out foreign keys to tables the archive does not have (a scope cut through a reference):
  // with --exit-on-error the first of them would stop the restore.
  const listDir = dangling.length ? await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-restore-')) : undefined;
  const listArgs: string[] = [];
  if (listDir) {
    const skip = new Set(dangling.map((fk) => fk.id));
    const list = toc.listing
      .split('\n')
      .map((l) => (skip.has(/^(\d+);/.exec(l)?.[1] ?? '') ? `;${l}` : l))
      .join('\n');
    await fs.writeFile(path.join(listDir, 'toc.list'), list, { mode: 0o600 });
    listArgs.push(`--use-list=${path.join(listDir, 'toc.list')}`);
  }
  const r = await runTool(
    tool.path,
    [
      ...listArgs,
      `--jobs=${opts.jobs}`,
      '--no-owner',
      '--no-privileges',
      // Aurora has no user tablespaces; a subscription would start replicating from production.
      '--no-tablespaces',
      '--no-subscriptions',
      '--exit-on-error',
      '--verbose',
      '--no-password',
      `--dbname=${conninfoValue('dbname', conn.database)}`,
      opts.file,
    ],
    {
      env: toolEnv(conn, 'ferry-poc-restore'),
      signal: opts.signal,
      keepLines: 60,
      onStderrLine: (line) => {
        const clean = redact(line, conn.password);
        const w = /^pg_restore: warning: (.*)$/.exec(clean);
        if (w) warnings.push(w[1]);
        if (/^pg_restore: error: |^ERROR: |^Command was: |^DETAIL: |^HINT: /.test(clean)) errors.push(clean);
        const item = progress.line(clean);
        if (item !== undefined) opts.onProgress?.({ done: progress.done, total: progress.total, item });
      },
    },
  ).finally(() => (listDir ? fs.rm(listDir, { recursive: true, force: true }) : undefined));
  if (r.aborted && opts.signal?.aborted) throw opts.signal.reason ?? new Error('restore aborted');
  if (r.code !== 0) throw restoreFailure(conn, r, errors);
  opts.onProgress?.({ done: progress.total, total: progress.total });
  return { seconds: (Date.now() - started) / 1000, warnings };
}

/** Counts items pg_restore has done, from its --verbose lines. */
export class RestoreProgress {
  private readonly ids = new Set<string>();
  private parallel = false;
  private serialDone = 0;
  constructor(public total: number) {}

  get done(): number {
    return Math.min(this.parallel ? this.ids.size : this.serialDone, this.total);
  }

  /** Feed one stderr line; returns a description of the item if it advanced progress. */
  line(line: string): string | undefined {
    // Parallel mode (-j > 1): pre-data entries are "processing item N", the rest "finished item N".
    const p = /^pg_restore: (?:processing|finished) item (\d+) (.*)$/.exec(line);
    if (p) {
      this.parallel = true;
      if (this.ids.has(p[1])) return undefined;
      this.ids.add(p[1]);
      this.total = Math.max(this.total, this.ids.size);
      return p[2];
    }
    if (this.parallel) return undefined;
    // Serial mode (-j 1): one of these per entry, no item numbers.
    const s = /^pg_restore: (creating .*|processing data for table .*|executing .*)$/.exec(line);
    if (!s) return undefined;
    this.serialDone++;
    this.total = Math.max(this.total, this.serialDone);
    return s[1];
  }
}

/** A libpq conninfo `key='value'`, so a database name with spaces, quotes or "=" stays one value. */
function conninfoValue(key: string, value: string): string {
  return `${key}='${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export async function readToc(tool: PgTool, file: string): Promise<ArchiveToc> {
  const r = await runTool(tool.path, ['--list', file], {
    env: toolEnv(),
    captureStdout: true,
    timeoutMs: 120_000,
  });
  if (r.code !== 0) {
    const text = r.stderrTail.join('\n');
    if (/unsupported version/.test(text)) {
      throw new FerryError(
        ErrorType.TOOL_MISSING,
        `${tool.path} (${tool.version}) cannot read ${file}, written by a newer pg_dump; install a newer postgresql-client ` +
          `(apt-get install -y postgresql-client-15 or newer) or set PG_BIN_DIR:\n${text}`,
      );
    }
    throw new FerryError(
      ErrorType.TOOL_FAILED,
      `pg_restore cannot read ${file} (not a complete pg_dump -Fc archive?):\n${text}`,
    );
  }
  const lines = r.stdout.split('\n');
  const entries = lines.filter((l) => /^\d+;/.test(l));
  const total = /^;\s+TOC Entries: (\d+)/m.exec(r.stdout);
  const by = /^;\s+Dumped by pg_dump version: (\d+)/m.exec(r.stdout);
  return {
    listed: entries.length,
    total: total ? Number(total[1]) : entries.length,
    dumpMajor: by ? Number(by[1]) : undefined,
    listing: r.stdout,
  };
}

/** What a pre-data script creates: schemas, the schemas its objects live in, and its tables. */
export interface PreData {
  createdSchemas: Set<string>;
  usedSchemas: Set<string>;
  /** `qualify(schema, table)` of every table the archive creates. */
  tables: Set<string>;
}

/** Read "schema.name" at the start of `s`, as pg_dump prints it. */
function readQualified(s: string): { schema: string; name: string; rest: string } | undefined {
  const a = readIdent(s);
  if (!a || !a.rest.startsWith('.')) return undefined;
  const b = readIdent(a.rest.slice(1));
  return b ? { schema: a.name, name: b.name, rest: b.rest } : undefined;
}

/**
 * Scan `pg_restore --section=pre-data` output. pg_dump writes statements from the start of a line,
 * keywords in upper case and names lower case or quoted, which is what makes this reliable.
 */
export function scanPreData(sql: string): PreData {
  const out: PreData = { createdSchemas: new Set(), usedSchemas: new Set(), tables: new Set() };
  for (const line of sql.split('\n')) {
    if (!line.startsWith('CREATE ')) continue;
    const schema = /^CREATE SCHEMA (.*)$/.exec(line);
    if (schema) {
      const id = readIdent(schema[1]);
      if (id) out.createdSchemas.add(id.name);
      continue;
    }
    const ext = / WITH SCHEMA (.*)$/.exec(line);
    if (line.startsWith('CREATE EXTENSION ') && ext) {
      const id = readIdent(ext[1]);
      if (id) out.usedSchemas.add(id.name);
      continue;
    }
    const keywords = /^CREATE ((?:[A-Z]+ )+)/.exec(line);
    const q = readQualified(line.slice('CREATE '.length + (keywords?.[1].length ?? 0)));
    if (!q) continue;
    out.usedSchemas.add(q.schema);
    if (/^(?:UNLOGGED |FOREIGN )?TABLE $/.test(keywords?.[1] ?? ''))
      out.tables.add(qualify(q.schema, q.name));
  }
  return out;
}

export interface DanglingForeignKey {
  /** TOC entry id. */
  id: string;
  constraint: string;
  /** Display name of the constrained table. */
  table: string;
  references: string;
}

/**
 * Foreign keys in `pg_restore --section=post-data --verbose` output that reference a table not in
 * `tables`. --verbose precedes each entry with "-- TOC entry <id> (class ... OID ...)", which ties the
 * SQL to the entry to leave out.
 */
export function danglingForeignKeys(postDataVerbose: string, tables: Set<string>): DanglingForeignKey[] {
  const out: DanglingForeignKey[] = [];
  for (const block of postDataVerbose.split(/^-- TOC entry /m).slice(1)) {
    const id = /^(\d+) /.exec(block)?.[1];
    if (!id || !/^-- Name: .*; Type: FK CONSTRAINT; /m.test(block)) continue;
    const alter = /^ALTER TABLE (?:ONLY )?(.*)$/m.exec(block);
    const add = /^ {4}ADD CONSTRAINT (.*)$/m.exec(block);
    const table = alter && readQualified(alter[1]);
    const constraint = add && readIdent(add[1]);
    const refAt = add ? add[1].indexOf(' REFERENCES ') : -1;
    const ref = refAt >= 0 ? readQualified(add![1].slice(refAt + ' REFERENCES '.length)) : undefined;
    if (!table || !constraint || !ref) continue;
    if (tables.has(qualify(ref.schema, ref.name))) continue;
    out.push({
      id,
      constraint: constraint.name,
      table: displayName(table.schema, table.name),
      references: displayName(ref.schema, ref.name),
    });
  }
  return out;
}

async function sectionScript(
  tool: PgTool,
  file: string,
  section: 'pre-data' | 'post-data',
  conn: PgConnInfo,
  signal?: AbortSignal,
): Promise<string> {
  const r = await runTool(tool.path, [`--section=${section}`, '--verbose', '--file=-', file], {
    env: toolEnv(),
    captureStdout: true,
    signal,
  });
  if (r.aborted && signal?.aborted) throw signal.reason ?? new Error('restore aborted');
  if (r.code !== 0)
    throw classifyToolFailure('pg_restore', conn, r, `reading the ${section} section of ${file}`);
  return r.stdout;
}

/**
 * Make a fresh database ready for the archive:
 * - a table-level dump (pg_dump -t) has no CREATE SCHEMA: create the schemas its objects live in;
 * - a schema-level dump of `public` from a pre-15 source says CREATE SCHEMA public, which fails
 *   against the public schema every new database has: drop that one if it is still empty.
 */
async function prepareTarget(conn: PgConnInfo, pre: PreData): Promise<void> {
  const client = await connectPg(conn, 'ferry-poc-restore');
  try {
    const existing = new Set(
      (await client.query<{ nspname: string }>('SELECT nspname FROM pg_namespace')).rows.map(
        (r) => r.nspname,
      ),
    );
    for (const s of pre.usedSchemas) {
      if (pre.createdSchemas.has(s) || existing.has(s)) continue;
      await client.query(`CREATE SCHEMA ${quoteIdent(s)}`);
    }
    for (const s of pre.createdSchemas) {
      if (existing.has(s) && s === 'public' && (await isEmptySchema(client, s))) {
        await client.query(`DROP SCHEMA ${quoteIdent(s)}`);
      }
    }
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function isEmptySchema(client: Client, schema: string): Promise<boolean> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_depend d
       JOIN pg_namespace n ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
      WHERE n.nspname = $1 AND d.deptype = 'n'`,
    [schema],
  );
  return Number(rows[0].n) === 0;
}

/** TOOL_FAILED naming what went wrong, with the fix for the cases a PoC exists to find. */
function restoreFailure(conn: PgConnInfo, r: RunResult, errors: string[]): FerryError {
  const base = classifyToolFailure('pg_restore', conn, r, `restoring into ${conn.database}`);
  if (base.type !== ErrorType.TOOL_FAILED) return base;
  const text = errors.join('\n') || r.stderrTail.join('\n');
  const hints = restoreHints(text, conn);
  return new FerryError(
    ErrorType.TOOL_FAILED,
    `pg_restore into ${describeEndpoint(conn)} failed${hints.length ? `: ${hints.join('; ')}` : ''}\n` +
      redact(text.split('\n').slice(-20).join('\n'), conn.password),
  );
}

/** What an operator should do about the errors in pg_restore's output. */
export function restoreHints(text: string, conn: Pick<PgConnInfo, 'endpointId'>): string[] {
  const hints: string[] = [];
  const missing = new Set<string>();
  for (const m of text.matchAll(
    /extension "([^"]+)" is not available|extension control file "[^"]*\/([^"/]+)\.control"/g,
  )) {
    missing.add(m[1] ?? m[2]);
  }
  for (const ext of missing) {
    hints.push(
      `extension ${ext} is not installed on the target (endpoint ${conn.endpointId}); install it there (on Aurora: check ` +
        `that ${ext} is a supported extension and in shared_preload_libraries if needed) or leave the tables that need it out of scope`,
    );
  }
  if (/already exists/.test(text)) {
    hints.push(
      'an object of the archive already exists in the target database: restore into a fresh scratch database',
    );
  }
  const outside = /(relation|schema) "([^"]+)" does not exist/.exec(text);
  if (outside) {
    hints.push(
      `${outside[1]} ${outside[2]} is not in the archive: an object in the PoC scope (a view, function or default) ` +
        `refers to it; add its schema to poc.schemas or its table to poc.tables`,
    );
  }
  const type = /type "([^"]+)" does not exist/.exec(text);
  if (type) {
    hints.push(
      `type ${type[1]} is missing: a table-level scope (poc.tables) does not dump types, functions or extensions; ` +
        `add the schema that defines it to poc.schemas`,
    );
  }
  return hints;
}

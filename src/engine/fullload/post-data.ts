// Post-data of the full load: primary keys, unique and exclusion constraints, secondary indexes, check
// constraints, foreign keys and triggers, read from the source and rewritten for the plan's table and
// column names, built after the data with bounded parallelism (indexes of one table build side by side).
import type { Client } from 'pg';
import type { Finding, MigrationPlan, SourceCatalog } from '../../mapping/types';
import { prepareCatalogSession } from '../catalog';
import { type PgConnInfo, connectPg } from '../connection';
import { displayName, qualify, quoteIdent } from '../ident';
import { setTableStateOn } from './control';
import { classifyCopyError } from './copy';
import { closeParen, parseForeignKeyDef, parseIndexDef, rewriteColumnList } from './ddl';
import {
  type ConstraintDef,
  type IndexDef,
  type Relation,
  type TriggerDef,
  readConstraints,
  readIndexes,
  readTriggers,
  relKey,
  resolveRelations,
} from './introspect';
import { runPool } from './pool';
import { type PlannedTable, planRenames, plannedTables } from './schema';

export interface PostDataOptions {
  migration: string;
  source: PgConnInfo;
  target: PgConnInfo;
  plan: MigrationPlan;
  catalog: SourceCatalog;
  /** Sessions building indexes (and running the other steps) at once. */
  concurrency: number;
  /** maintenance_work_mem of those sessions (index sorts in memory); default '256MB'. */
  maintenanceWorkMem?: string;
  /**
   * ANALYZE every target table at the end. Off by default: autovacuum analyzes freshly loaded tables
   * on its own, DMS does not analyze either, and on a big load it costs as much as an index build.
   * Turn it on to have planner statistics before the first query.
   */
  analyze?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: { type: 'post-data'; step: string; table: string; name: string; seconds: number }) => void;
}

export interface PostDataReport {
  /** Secondary indexes (not those backing a key constraint). */
  indexes: number;
  primaryKeys: number;
  uniqueConstraints: number;
  exclusionConstraints: number;
  checkConstraints: number;
  foreignKeys: number;
  /** Sum of the five constraint counts. */
  constraints: number;
  triggers: number;
  /** Trigger functions created from the source definition (only when nothing is renamed). */
  functions: number;
  /** Objects already on the target (a rerun, or a kept table), left alone. */
  existing: number;
  analyzed: number;
  findings: Finding[];
  seconds: number;
}

/** A relation post-data builds on: a planned table or, when that is partitioned on the target, a partition. */
interface Site {
  source: Relation;
  table: PlannedTable;
  /** Target relation, qualified. */
  target: string;
  targetSchema: string;
  /** Target is a partitioned table (its indexes and constraints reach its partitions). */
  partitioned: boolean;
  /** Set for a partition of a partitioned target. */
  partitionOf?: Site;
}

/** One unit of work: statements run in order on one session. */
interface Job {
  step: 'index' | 'key' | 'check' | 'foreign-key' | 'trigger' | 'analyze';
  site: Site;
  name: string;
  sql: string[];
  /** Size hint: larger first. */
  bytes: number;
  count?: keyof PostDataReport;
  /** Foreign keys: validation failed → add NOT VALID and report. */
  notValidFallback?: boolean;
}

/** SQLSTATE classes that mean "this object cannot be built here" (report and go on), not "the load broke". */
const OBJECT_ERROR_CLASSES = ['22', '23', '42', '0A', '2B', '55'];
const DEADLOCK = '40P01';

/**
 * Build post-data on the target after the load. Per table: every source index is rebuilt from
 * pg_get_indexdef with the target table and the plan's column names (key and INCLUDE lists are
 * rewritten element by element; an expression or a partial-index predicate that reads a renamed or
 * removed column is refused with a finding rather than patched as text). Primary key: the plan's
 * (define-primary-key included), as a unique index then `ADD CONSTRAINT ... PRIMARY KEY USING INDEX`, so
 * it builds in parallel with the others; likewise unique constraints. Then exclusion and check
 * constraints, then foreign keys between migrated tables (others: a finding; a key that existing rows
 * violate, e.g. after a filter, is added NOT VALID with a finding), then triggers (their functions
 * created from the source when missing and nothing is renamed), then ANALYZE. A partitioned target gets
 * its parent's objects once (they reach the partitions) plus each partition's own.
 * Idempotent: objects that exist on the target are counted in `existing` and left alone. An object
 * the target refuses (duplicates for a unique index, a missing function...) becomes an error finding;
 * the rest still builds.
 */
export async function createPostData(opts: PostDataOptions): Promise<PostDataReport> {
  const started = Date.now();
  const report: PostDataReport = {
    indexes: 0,
    primaryKeys: 0,
    uniqueConstraints: 0,
    exclusionConstraints: 0,
    checkConstraints: 0,
    foreignKeys: 0,
    constraints: 0,
    triggers: 0,
    functions: 0,
    existing: 0,
    analyzed: 0,
    findings: [],
    seconds: 0,
  };
  const tables = plannedTables(opts.plan, opts.catalog).filter((t) => t.catalog.kind !== 'view');
  reportViews(opts.plan, opts.catalog, report.findings);

  const main = await connectPg(opts.target, 'ferry-post-data');
  let source: SourceObjects;
  let present: TargetObjects;
  try {
    const partitionedTargets = await targetPartitioned(main, tables);
    source = await readSourceObjects(opts, tables, partitionedTargets);
    present = await readTargetObjects(main, source.sites);
  } catch (err) {
    await main.end().catch(() => undefined);
    throw classifyCopyError(err, opts.target);
  }

  const plan = new JobPlanner(source, present, report.findings, planRenames(tables));
  const phases: Job[][][] = [single(plan.indexJobs()), plan.keyJobs(), single(plan.foreignKeyJobs())];
  report.existing = plan.existing;

  const sessions: Client[] = [main];
  try {
    await prepareSession(main, opts);
    for (let i = 1; i < Math.max(1, opts.concurrency); i++) {
      const s = await connectPg(opts.target, 'ferry-post-data');
      sessions.push(s);
      await prepareSession(s, opts);
    }
    for (const jobs of phases) await runJobs(jobs, sessions, opts, report);

    const triggers = await plan.triggerJobs(main, report);
    await runJobs([triggers], [main], opts, report);
    report.existing = plan.existing;

    if (opts.analyze) {
      const analyze: Job[] = source.sites
        .filter((s) => !s.partitionOf)
        .map((site) => ({
          step: 'analyze',
          site,
          name: site.target,
          sql: [`ANALYZE ${site.target}`],
          bytes: site.table.plan.bytes,
          count: 'analyzed',
        }));
      await runJobs(single(analyze), sessions, opts, report);
    }
    await main.query('BEGIN');
    for (const t of tables) await setTableStateOn(main, opts.migration, t.plan, 'completed');
    await main.query('COMMIT');
  } catch (err) {
    throw classifyCopyError(err, opts.target);
  } finally {
    await Promise.all(sessions.map((s) => s.end().catch(() => undefined)));
  }
  report.constraints =
    report.primaryKeys +
    report.uniqueConstraints +
    report.exclusionConstraints +
    report.checkConstraints +
    report.foreignKeys;
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

async function prepareSession(c: Client, opts: PostDataOptions): Promise<void> {
  await c.query(
    `SET maintenance_work_mem = '${(opts.maintenanceWorkMem ?? '256MB').replace(/'/g, '')}'; SET statement_timeout = 0;
     SET lock_timeout = 0; SET synchronous_commit = off; SET client_min_messages = warning`,
  );
}

/** Views are not recreated (DMS migrates tables; a selected view is loaded as a table). */
function reportViews(plan: MigrationPlan, catalog: SourceCatalog, findings: Finding[]): void {
  const planned = new Set(plan.tables.map((t) => relKey(t.source.schema, t.source.name)));
  const views = catalog.tables.filter((t) => t.kind === 'view' && !planned.has(relKey(t.schema, t.name)));
  if (views.length === 0) return;
  const names = views.map((v) => displayName(v.schema, v.name));
  findings.push({
    severity: 'info',
    field: 'views',
    message:
      `${views.length} view(s) and materialized view(s) are not recreated on the target (Ferry, like AWS DMS, migrates ` +
      `tables): ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}; create them after the cutover`,
  });
}

async function targetPartitioned(c: Client, tables: PlannedTable[]): Promise<Set<string>> {
  const { rows } = await c.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM unnest($1::text[], $2::text[]) AS u(s, r)
       JOIN pg_catalog.pg_namespace n ON n.nspname = u.s
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = u.r AND c.relkind = 'p'`,
    [tables.map((t) => t.plan.target.schema), tables.map((t) => t.plan.target.name)],
  );
  return new Set(rows.map((r) => qualify(r.schema, r.name)));
}

interface SourceObjects {
  sites: Site[];
  siteByOid: Map<string, Site>;
  indexes: IndexDef[];
  constraints: ConstraintDef[];
  triggers: TriggerDef[];
}

async function readSourceObjects(
  opts: PostDataOptions,
  tables: PlannedTable[],
  partitionedTargets: Set<string>,
): Promise<SourceObjects> {
  const s = await connectPg(opts.source, 'ferry-post-data');
  try {
    await prepareCatalogSession(s);
    await s.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const names = tables.flatMap((t) => [
      t.plan.source,
      ...(partitionedTargets.has(t.targetQualified) ? (t.catalog.partitions ?? []) : []),
    ]);
    const relations = await resolveRelations(s, names);
    const sites: Site[] = [];
    for (const t of tables) {
      const rel = relations.get(relKey(t.plan.source.schema, t.plan.source.name));
      if (!rel) continue;
      const partitioned = partitionedTargets.has(t.targetQualified);
      const site: Site = {
        source: rel,
        table: t,
        target: t.targetQualified,
        targetSchema: t.plan.target.schema,
        partitioned,
      };
      sites.push(site);
      if (!partitioned) continue;
      for (const p of t.catalog.partitions ?? []) {
        const prel = relations.get(relKey(p.schema, p.name));
        if (!prel) continue;
        sites.push({
          source: prel,
          table: t,
          target: qualify(t.plan.target.schema, p.name),
          targetSchema: t.plan.target.schema,
          partitioned: false,
          partitionOf: site,
        });
      }
    }
    const relids = sites.map((x) => x.source.oid);
    const out: SourceObjects = {
      sites,
      siteByOid: new Map(sites.map((x) => [x.source.oid, x])),
      indexes: await readIndexes(s, relids),
      constraints: await readConstraints(s, relids),
      triggers: await readTriggers(s, relids, opts.catalog.serverMajor),
    };
    await s.query('COMMIT');
    return out;
  } catch (err) {
    throw classifyCopyError(err, opts.source);
  } finally {
    await s.end().catch(() => undefined);
  }
}

interface TargetObjects {
  /** relKey(schema, name) of every relation in the target schemas → the table it indexes ('' for others). */
  relations: Map<string, string>;
  /** `table qualified` + NUL + constraint name. */
  constraints: Set<string>;
  triggers: Set<string>;
  /** Trigger-returning functions without arguments: relKey(schema, name). */
  functions: Set<string>;
}

async function readTargetObjects(c: Client, sites: Site[]): Promise<TargetObjects> {
  const schemas = [...new Set(sites.map((s) => s.targetSchema))];
  type Named = { ts: string | null; tn: string | null; name: string };
  const { rows: rels } = await c.query<Named & { schema: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, tn.nspname AS ts, tc.relname AS tn
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
       LEFT JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid
       LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
      WHERE n.nspname = ANY ($1::text[])`,
    [schemas],
  );
  const { rows: cons } = await c.query<Named>(
    `SELECT n.nspname AS ts, t.relname AS tn, k.conname AS name
       FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = ANY ($1::text[])`,
    [schemas],
  );
  const { rows: trigs } = await c.query<Named>(
    `SELECT n.nspname AS ts, t.relname AS tn, g.tgname AS name
       FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class t ON t.oid = g.tgrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = ANY ($1::text[]) AND NOT g.tgisinternal`,
    [schemas],
  );
  const { rows: funcs } = await c.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, p.proname AS name FROM pg_catalog.pg_proc p
       JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE p.pronargs = 0 AND p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype`,
  );
  const table = (r: Named) => (r.ts !== null && r.tn !== null ? qualify(r.ts, r.tn) : '');
  return {
    relations: new Map(rels.map((r) => [relKey(r.schema, r.name), table(r)])),
    constraints: new Set(cons.map((r) => `${table(r)}\u0000${r.name}`)),
    triggers: new Set(trigs.map((r) => `${table(r)}\u0000${r.name}`)),
    functions: new Set(funcs.map((r) => relKey(r.schema, r.name))),
  };
}

/** Turns source objects into target statements, deciding names, skips and findings. */
class JobPlanner {
  existing = 0;
  /** relKey(schema, name) of relation names used or taken in the target schemas. */
  private taken = new Map<string, string>();
  private indexOwner = new Map<string, string>();

  constructor(
    private src: SourceObjects,
    private tgt: TargetObjects,
    private findings: Finding[],
    private renamed: boolean,
  ) {
    for (const [k, tbl] of tgt.relations) this.taken.set(k, tbl);
    for (const i of src.indexes) this.indexOwner.set(i.oid, i.relid);
  }

  private finding(severity: Finding['severity'], site: Site, what: string, message: string): void {
    this.findings.push({
      severity,
      field: `${displayName(site.source.schema, site.source.name)}${what ? `.${what}` : ''}`,
      message,
    });
  }

  /** A target name for an index (schema-wide namespace); undefined when this very index is there already. */
  private indexName(site: Site, wanted: string): { name: string; exists: boolean } {
    for (let i = 0; ; i++) {
      const name = i === 0 ? wanted : `${wanted.slice(0, 60 - String(i).length)}_${i}`;
      const owner = this.taken.get(relKey(site.targetSchema, name));
      if (owner === undefined) {
        this.taken.set(relKey(site.targetSchema, name), site.target);
        return { name, exists: false };
      }
      if (owner === site.target) return { name, exists: true };
    }
  }

  private hasConstraint(site: Site, name: string): boolean {
    return this.tgt.constraints.has(`${site.target}\u0000${name}`);
  }

  /** Skipped because a parent object on a partitioned target creates it on this partition. */
  private inheritedIndex(i: IndexDef): boolean {
    if (!i.parentIndex) return false;
    const parentRel = this.indexOwner.get(i.parentIndex);
    return parentRel !== undefined && this.src.siteByOid.get(parentRel)?.partitioned === true;
  }

  /** An index definition with the plan's column names, or a finding and undefined. */
  private rewrittenIndex(
    site: Site,
    i: IndexDef,
  ): { method: string; keys: string; include?: string; tail: string } | undefined {
    const renames = site.table.renames;
    const missing = i.columns.filter((c) => !renames.has(c));
    if (missing.length) {
      this.finding(
        'warning',
        site,
        i.name,
        `index ${i.name} is not created: it reads column(s) not migrated (${missing.join(', ')})`,
      );
      return undefined;
    }
    const moved = i.columns.filter((c) => renames.get(c) !== c);
    if (moved.length && (i.hasExpressions || i.hasPredicate)) {
      this.finding(
        'warning',
        site,
        i.name,
        `index ${i.name} is not created: its expression or predicate reads renamed column(s) (${moved.join(', ')}) and ` +
          `Ferry does not rewrite expressions; create it by hand from: ${i.def}`,
      );
      return undefined;
    }
    const parsed = parseIndexDef(i.def, i.printedName, site.source.printed);
    const keys = parsed && rewriteColumnList(parsed.keys, (c) => renames.get(c));
    const include =
      parsed?.include !== undefined ? rewriteColumnList(parsed.include, (c) => renames.get(c)) : undefined;
    if (!parsed || !keys?.ok || (include && !include.ok)) {
      this.finding(
        'warning',
        site,
        i.name,
        `index ${i.name} is not created: its definition could not be rewritten: ${i.def}`,
      );
      return undefined;
    }
    return {
      method: parsed.method,
      keys: keys.text,
      include: include?.ok ? include.text : undefined,
      tail: parsed.tail,
    };
  }

  /** CREATE INDEX for `site` under `name`, or a finding and undefined. */
  private indexSql(site: Site, i: IndexDef, name: string, unique: boolean): string | undefined {
    const r = this.rewrittenIndex(site, i);
    if (!r) return undefined;
    return (
      `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(name)} ON ${site.target} USING ${r.method} (${r.keys})` +
      `${r.include !== undefined ? ` INCLUDE (${r.include})` : ''}${r.tail}`
    );
  }

  private deferrable(i: { deferrable: boolean; deferred: boolean }): string {
    return i.deferrable ? ` DEFERRABLE${i.deferred ? ' INITIALLY DEFERRED' : ''}` : '';
  }

  private keyJobList: Job[] = [];

  /**
   * Phase 1: every index build (secondary, and those that will back primary keys and unique
   * constraints). Fills the key constraint statements for phase 2 as it goes.
   */
  indexJobs(): Job[] {
    const jobs: Job[] = [];
    for (const site of this.src.sites) {
      const plan = site.table.plan;
      const indexes = this.src.indexes.filter((i) => i.relid === site.source.oid);
      let pkDone = false;
      for (const i of indexes) {
        if (this.inheritedIndex(i)) continue;
        if (!i.valid) {
          this.finding(
            'warning',
            site,
            i.name,
            `index ${i.name} is invalid on the source (a failed CREATE INDEX CONCURRENTLY?) and is not created`,
          );
          continue;
        }
        if (i.constraintType === 'p') {
          if (site.partitionOf) continue; // a partition's key comes from its parent's
          pkDone = true;
          this.primaryKey(site, i, jobs);
          continue;
        }
        if (i.constraintType === 'x') {
          this.exclusion(site, i);
          continue;
        }
        const cname = i.constraintType === 'u' ? i.constraintName! : undefined;
        if (cname && this.hasConstraint(site, cname)) {
          this.existing++;
          continue;
        }
        if (cname && site.partitioned) {
          // ADD CONSTRAINT ... USING INDEX does not exist for partitioned tables: the constraint builds its index.
          const r = this.rewrittenIndex(site, i);
          if (!r) continue;
          this.indexName(site, cname);
          this.keyJobList.push({
            step: 'key',
            site,
            name: cname,
            sql: [
              `ALTER TABLE ${site.target} ADD CONSTRAINT ${quoteIdent(cname)} UNIQUE (${r.keys})` +
                `${r.include !== undefined ? ` INCLUDE (${r.include})` : ''}${this.deferrable(i)}`,
            ],
            bytes: Number(i.bytes),
            count: 'uniqueConstraints',
          });
          continue;
        }
        const { name, exists } = this.indexName(site, i.name);
        if (exists) this.existing++;
        else {
          const sql = this.indexSql(site, i, name, i.unique);
          if (!sql) continue;
          const count = cname ? undefined : 'indexes';
          jobs.push({ step: 'index', site, name, sql: [sql], bytes: Number(i.bytes), count });
        }
        if (cname) {
          this.keyJobList.push({
            step: 'key',
            site,
            name: cname,
            sql: [
              `ALTER TABLE ${site.target} ADD CONSTRAINT ${quoteIdent(cname)} UNIQUE USING INDEX ${quoteIdent(name)}${this.deferrable(i)}`,
            ],
            bytes: 0,
            count: 'uniqueConstraints',
          });
        }
      }
      if (!pkDone && !site.partitionOf && plan.primaryKey.length) this.primaryKey(site, undefined, jobs);
      if (!site.partitionOf) this.uniqueKeyDefinition(site, jobs);
    }
    return jobs.sort((a, b) => b.bytes - a.bytes);
  }

  /** The plan's primary key: from the source's when it is the same key, else built from the plan. */
  private primaryKey(site: Site, i: IndexDef | undefined, jobs: Job[]): void {
    const plan = site.table.plan;
    if (plan.primaryKey.length === 0) {
      if (i)
        this.finding(
          'info',
          site,
          i.name,
          `the plan gives ${displayName(plan.target.schema, plan.target.name)} no primary key; ${i.name} is not created`,
        );
      return;
    }
    const cname =
      plan.keyDefinition?.origin === 'primary-key'
        ? plan.keyDefinition.name
        : (i?.constraintName ?? `${plan.target.name.slice(0, 58)}_pkey`);
    if (this.hasConstraint(site, cname)) {
      this.existing++;
      return;
    }
    const cols = plan.primaryKey.map(quoteIdent).join(', ');
    if (site.partitioned) {
      this.keyJobList.push({
        step: 'key',
        site,
        name: cname,
        sql: [`ALTER TABLE ${site.target} ADD CONSTRAINT ${quoteIdent(cname)} PRIMARY KEY (${cols})`],
        bytes: site.table.plan.bytes,
        count: 'primaryKeys',
      });
      return;
    }
    const { name, exists } = this.indexName(site, cname);
    let sql: string | undefined;
    if (!exists) {
      // The source key's own definition (INCLUDE, storage options) when it is the same key.
      sql = i && samePlanKey(site, i) ? this.indexSql(site, i, name, true) : undefined;
      sql ??= `CREATE UNIQUE INDEX ${quoteIdent(name)} ON ${site.target} USING btree (${cols})`;
      jobs.push({ step: 'index', site, name, sql: [sql], bytes: i ? Number(i.bytes) : plan.bytes / 4 });
    } else this.existing++;
    this.keyJobList.push({
      step: 'key',
      site,
      name: cname,
      sql: [
        `ALTER TABLE ${site.target} ADD CONSTRAINT ${quoteIdent(cname)} PRIMARY KEY USING INDEX ${quoteIdent(name)}${i ? this.deferrable(i) : ''}`,
      ],
      bytes: 0,
      count: 'primaryKeys',
    });
  }

  /** define-primary-key with origin unique-index: a unique index of that name on the target. */
  private uniqueKeyDefinition(site: Site, jobs: Job[]): void {
    const k = site.table.plan.keyDefinition;
    if (!k || k.origin !== 'unique-index') return;
    const { name, exists } = this.indexName(site, k.name);
    if (exists) {
      this.existing++;
      return;
    }
    jobs.push({
      step: 'index',
      site,
      name,
      sql: [
        `CREATE UNIQUE INDEX ${quoteIdent(name)} ON ${site.target} (${k.columns.map(quoteIdent).join(', ')})`,
      ],
      bytes: site.table.plan.bytes / 4,
      count: 'indexes',
    });
  }

  private exclusion(site: Site, i: IndexDef): void {
    const cname = i.constraintName!;
    if (this.hasConstraint(site, cname)) {
      this.existing++;
      return;
    }
    const renames = site.table.renames;
    const missing = i.columns.filter((c) => !renames.has(c));
    const moved = i.columns.filter((c) => renames.get(c) !== c);
    const m = /^EXCLUDE USING (\w+) \(/.exec(i.constraintDef ?? '');
    const close = m ? closeParen(i.constraintDef!, m[0].length - 1) : -1;
    const list =
      close > 0
        ? rewriteColumnList(i.constraintDef!.slice(m![0].length, close - 1), (c) => renames.get(c))
        : undefined;
    const tail = close > 0 ? i.constraintDef!.slice(close) : '';
    if (
      missing.length ||
      (moved.length && (i.hasExpressions || i.hasPredicate)) ||
      !list?.ok ||
      (moved.length && tail.includes('('))
    ) {
      this.finding(
        'warning',
        site,
        cname,
        `exclusion constraint ${cname} is not created: it reads renamed or removed columns Ferry cannot rewrite; create it by hand from: ${i.constraintDef}`,
      );
      return;
    }
    this.indexName(site, cname);
    this.keyJobList.push({
      step: 'key',
      site,
      name: cname,
      sql: [
        `ALTER TABLE ${site.target} ADD CONSTRAINT ${quoteIdent(cname)} EXCLUDE USING ${m![1]} (${list.text})${tail}`,
      ],
      bytes: Number(i.bytes),
      count: 'exclusionConstraints',
    });
  }

  /** Phase 2: key constraints over the built indexes, exclusion and check constraints; one group per table. */
  keyJobs(): Job[][] {
    const checks: Job[] = [];
    for (const k of this.src.constraints) {
      if (k.type !== 'c') continue;
      const site = this.src.siteByOid.get(k.relid);
      if (!site) continue;
      // Inherited from a partitioned parent whose own copy reaches this partition.
      if (k.inherited && site.partitionOf) continue;
      if (this.hasConstraint(site, k.name)) {
        this.existing++;
        continue;
      }
      const renames = site.table.renames;
      const missing = k.columns.filter((c) => !renames.has(c));
      const moved = k.columns.filter((c) => renames.get(c) !== c);
      if (missing.length || moved.length) {
        this.finding(
          'warning',
          site,
          k.name,
          `check constraint ${k.name} is not created: it reads ${missing.length ? 'removed' : 'renamed'} column(s) ` +
            `(${[...missing, ...moved].join(', ')}) and Ferry does not rewrite expressions; create it by hand from: ${k.def}`,
        );
        continue;
      }
      checks.push({
        step: 'check',
        site,
        name: k.name,
        sql: [`ALTER TABLE ${site.target} ADD CONSTRAINT ${quoteIdent(k.name)} ${k.def}`],
        bytes: 0,
        count: 'checkConstraints',
      });
    }
    // Grouped by table: ALTER TABLEs on one table would only queue behind each other's locks.
    const byTable = new Map<string, Job[]>();
    for (const j of [...this.keyJobList, ...checks]) {
      const list = byTable.get(j.site.target) ?? [];
      byTable.set(j.site.target, list);
      list.push(j);
    }
    return [...byTable.values()].sort((a, b) => groupBytes(b) - groupBytes(a));
  }

  /** Phase 3: foreign keys between migrated tables. */
  foreignKeyJobs(): Job[] {
    const jobs: Job[] = [];
    const constraintOids = new Set(this.src.constraints.map((k) => k.oid));
    for (const k of this.src.constraints) {
      if (k.type !== 'f') continue;
      const site = this.src.siteByOid.get(k.relid);
      if (!site) continue;
      // A clone of a partitioned table's key (on a partition, or for a referenced partition).
      if (k.parentConstraint && constraintOids.has(k.parentConstraint)) continue;
      if (this.hasConstraint(site, k.name)) {
        this.existing++;
        continue;
      }
      const ref = k.refRelid ? this.src.siteByOid.get(k.refRelid) : undefined;
      if (!ref) {
        this.finding(
          'warning',
          site,
          k.name,
          `foreign key ${k.name} references ${displayName(k.refSchema ?? '?', k.refName ?? '?')}, which is not migrated; it is not created`,
        );
        continue;
      }
      const parsed = parseForeignKeyDef(k.def, k.refPrinted ?? '');
      const cols = parsed && rewriteColumnList(parsed.columns, (c) => site.table.renames.get(c));
      const refCols = parsed && rewriteColumnList(parsed.refColumns, (c) => ref.table.renames.get(c));
      const movedInTail = parsed?.tail.includes('(') && [...site.table.renames].some(([s, d]) => s !== d);
      if (!parsed || !cols?.ok || !refCols?.ok || movedInTail) {
        this.finding(
          'warning',
          site,
          k.name,
          `foreign key ${k.name} is not created: ${!parsed ? 'its definition could not be read' : 'it uses columns that are not migrated'}: ${k.def}`,
        );
        continue;
      }
      jobs.push({
        step: 'foreign-key',
        site,
        name: k.name,
        sql: [
          `ALTER TABLE ${site.target} ADD CONSTRAINT ${quoteIdent(k.name)} FOREIGN KEY (${cols.text}) REFERENCES ${ref.target} (${refCols.text})${parsed.tail}`,
        ],
        bytes: Number(site.table.plan.bytes),
        count: 'foreignKeys',
        notValidFallback: !/\bNOT VALID$/.test(parsed.tail),
      });
    }
    return jobs.sort((a, b) => b.bytes - a.bytes);
  }

  /**
   * Phase 4: triggers, created only now, after the data, so none fired during the load.
   * Their function must exist on the target; when it does not and nothing is renamed, the source's
   * definition is created (its body names tables as the source does, which then match).
   */
  async triggerJobs(c: Client, report: PostDataReport): Promise<Job[]> {
    const jobs: Job[] = [];
    const triggerOids = new Set(this.src.triggers.map((t) => t.oid));
    const created = new Set<string>();
    for (const t of this.src.triggers) {
      const site = this.src.siteByOid.get(t.relid);
      if (!site) continue;
      if (t.parentTrigger && triggerOids.has(t.parentTrigger)) continue;
      if (this.tgt.triggers.has(`${site.target}\u0000${t.name}`)) {
        this.existing++;
        continue;
      }
      const renames = site.table.renames;
      const moved = t.columns.filter((x) => renames.get(x) !== x);
      const on = ` ON ${site.source.printed} `;
      if (moved.length || t.hasRefTable || !t.def.includes(on)) {
        this.finding(
          'warning',
          site,
          t.name,
          `trigger ${t.name} is not created: ${moved.length ? `it reads renamed or removed columns (${moved.join(', ')})` : 'its definition names another table'}; create it by hand from: ${t.def}`,
        );
        continue;
      }
      const fkey = relKey(t.funcSchema, t.funcName);
      if (!this.tgt.functions.has(fkey) && !created.has(fkey)) {
        if (this.renamed) {
          this.finding(
            'warning',
            site,
            t.name,
            `trigger ${t.name} is not created: its function ${displayName(t.funcSchema, t.funcName)} does not exist on the target, ` +
              `and with tables or columns renamed Ferry cannot reuse the source's definition; create the function, then the trigger: ${t.def}`,
          );
          continue;
        }
        try {
          await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(t.funcSchema)}`);
          await c.query(t.funcDef);
          created.add(fkey);
          report.functions++;
          this.finding(
            'info',
            site,
            t.name,
            `trigger function ${displayName(t.funcSchema, t.funcName)} was created from the source's definition`,
          );
        } catch (err) {
          this.finding(
            'error',
            site,
            t.name,
            `trigger function ${displayName(t.funcSchema, t.funcName)} could not be created (${(err as Error).message}); trigger ${t.name} is not created`,
          );
          continue;
        }
      }
      const sql = [t.def.replace(on, ` ON ${site.target} `)];
      const enable: Record<string, string> = {
        D: 'DISABLE TRIGGER',
        R: 'ENABLE REPLICA TRIGGER',
        A: 'ENABLE ALWAYS TRIGGER',
      };
      if (enable[t.enabled])
        sql.push(`ALTER TABLE ${site.target} ${enable[t.enabled]} ${quoteIdent(t.name)}`);
      jobs.push({ step: 'trigger', site, name: t.name, sql, bytes: 0, count: 'triggers' });
    }
    return jobs;
  }
}

/** The source key's columns, renamed, are exactly the plan's primary key. */
function samePlanKey(site: Site, i: IndexDef): boolean {
  const parsed = parseIndexDef(i.def, i.printedName, site.source.printed);
  if (!parsed || i.hasExpressions) return false;
  const rewritten = rewriteColumnList(parsed.keys, (c) => site.table.renames.get(c));
  if (!rewritten.ok) return false;
  const plan = site.table.plan.primaryKey.map(quoteIdent).join(', ');
  return rewritten.text === plan;
}

function single(jobs: Job[]): Job[][] {
  return jobs.map((j) => [j]);
}

function groupBytes(g: Job[]): number {
  return g.reduce((n, j) => n + j.bytes, 0);
}

/** Groups in parallel on the sessions, the jobs of a group one after the other on one session. */
async function runJobs(
  groups: Job[][],
  sessions: Client[],
  opts: PostDataOptions,
  report: PostDataReport,
): Promise<void> {
  await runPool(
    groups,
    sessions.length,
    async (group, lane) => {
      for (const job of group) {
        const t0 = Date.now();
        const ok = await runJob(sessions[lane], job, report.findings);
        if (ok && job.count) (report[job.count] as number)++;
        opts.onEvent?.({
          type: 'post-data',
          step: job.step,
          table: job.site.target,
          name: job.name,
          seconds: (Date.now() - t0) / 1000,
        });
      }
    },
    opts.signal,
  );
}

/** Run a job's statements; an object the target refuses becomes a finding (false), a broken session throws. */
async function runJob(c: Client, job: Job, findings: Finding[]): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      for (const sql of job.sql) await c.query(sql);
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === DEADLOCK && attempt < 5) continue;
      const field = `${displayName(job.site.source.schema, job.site.source.name)}.${job.name}`;
      if (code === '23503' && job.notValidFallback) {
        await c.query(`${job.sql[0]} NOT VALID`);
        findings.push({
          severity: 'warning',
          field,
          message: `foreign key ${job.name} was added NOT VALID: rows on the target violate it (a filter or a transformation left out rows it references); fix them, then ALTER TABLE ${job.site.target} VALIDATE CONSTRAINT ${quoteIdent(job.name)}`,
        });
        return true;
      }
      if (!OBJECT_ERROR_CLASSES.some((k) => code.startsWith(k))) throw err;
      findings.push({
        severity: 'error',
        field,
        message: `${job.step} ${job.name} was not created on the target: ${(err as Error).message} (SQLSTATE ${code}); statement: ${job.sql.join('; ')}`,
      });
      return false;
    }
  }
}

// Applying captured changes to the target: net-change compaction per key, set-based statements per
// table, mapping (renames, removed/added columns, filters, casts) applied exactly as in the full load.
//
// How one call goes, per table (tables are independent on the target: the caller runs with
// session_replication_role = replica, so foreign keys and triggers do not order them):
//   fold     each change into the table's pending net operations, one per target key (compaction);
//            without compaction a key that comes again first flushes what is pending
//   flush    set-based statements, the rows sorted by key: one DELETE, one INSERT for full rows and one
//            UPDATE per set of known columns (unchanged TOAST values are never written). Rows expected
//            present are updated or deleted, rows expected absent inserted (ON CONFLICT DO NOTHING); the
//            statements tell which rows were not as expected, and those become conflicts per
//            ErrorBehavior (and are written after all where the policy says so). A table with a filter,
//            tolerant mode and SUSPEND_TABLE policies probe first instead (which keys exist, which rows
//            pass the filter) and decide before writing. The statements join the rows (unnest of array
//            parameters) to the table by nested loops over its key index (hash and merge joins are off
//            for the call: the planner would otherwise scan the whole table for a large batch).
//   fallback the call runs under one savepoint. A data error (class 21/22/23) rolls the whole call back
//            to it and runs it again carefully: each table flush under its own savepoint, and a flush
//            that fails again redone one row at a time, each under its own savepoint; failing rows
//            become conflicts. (A savepoint per flush in the normal path would cost a subtransaction
//            each: thousands per transaction without compaction, which PostgreSQL handles badly.)
// Tables without a target primary key are applied in source order, matching rows on their old image.
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ErrorType, FerryError } from '../../errors';
import type { ColumnPlan, MigrationPlan, SourceCatalog, TablePlan } from '../../mapping/types';
import { columnExpr } from '../fullload/copy';
import { filterSql } from '../fullload/sql';
import { displayName, qualify, quoteIdent } from '../ident';
import {
  type ApplyConflict,
  type Change,
  type CdcTableCounters,
  type RowImage,
  type TableKey,
  tableKeyOf,
} from './types';

export interface ApplierOptions {
  migration: string;
  plan: MigrationPlan;
  /** The source catalog the plan was compiled from: source column types for the casts. */
  catalog: SourceCatalog;
  /** Net-change compaction (ChangeProcessingTuning / BatchApplyEnabled); false keeps each change's order. */
  compact: boolean;
}

export interface ApplyMeta {
  /** Commit LSN of the last source transaction in the list (conflict records name it). */
  commitLsn: string;
  /**
   * The target may already hold these changes (the load read a snapshot later than the slot's start):
   * apply idempotently (upsert / delete if present) and record no conflicts.
   */
  tolerant: boolean;
  /** Return each change's target key (ApplyResult.keys): the change journal records them. */
  keys?: boolean;
}

/**
 * The target key of each change of an apply call, by its index in the list (ApplyMeta.keys), as JSON
 * text such as '{"id":"42"}' (target column names, values as text; never other column values): null
 * when the target table has no primary key or the change does not carry it; undefined when the change
 * was not applied to a row (a truncate, a table not in the plan or suspended).
 */
export interface ChangeKeys {
  keys: (string | null | undefined)[];
  /** The old key of an update that changed its key, by index. */
  oldKeys: Map<number, string>;
}

export interface ApplyResult {
  /** Row operations sent to the target after compaction. */
  applied: number;
  conflicts: ApplyConflict[];
  tables: Record<TableKey, CdcTableCounters>;
  /** Tables suspended by a SUSPEND_TABLE policy in this call: later changes to them are skipped. */
  suspended: TableKey[];
  /** With ApplyMeta.keys. */
  keys?: ChangeKeys;
}

/** Per-statement timings on stderr (FERRY_CDC_TRACE=1), for tuning. */
const TRACE = !!process.env.FERRY_CDC_TRACE;

/** Rows per statement: bounds one statement's arrays (client and server memory), not a bind-parameter limit. */
export const APPLY_CHUNK_ROWS = 20_000;

const CALL_SAVEPOINT = 'ferry_apply';
const SAVEPOINT = 'ferry_apply_table';
const ROW_SAVEPOINT = 'ferry_apply_row';

// Names of the applier's own columns inside its statements. The `ferry#` prefix keeps them apart from
// source and target column names (which the row source `s` carries as they are).
const ORD = quoteIdent('ferry#i');
const HAS_OLD = quoteIdent('ferry#h');
const PASSES = quoteIdent('ferry#p');
const rawCol = (j: number) => quoteIdent(`ferry#${j}`);
const oldCol = (j: number) => quoteIdent(`ferry#o${j}`);
const outCol = (k: number) => quoteIdent(`ferry#c${k}`);
const keyCol = (i: number) => quoteIdent(`ferry#k${i}`);

type ConflictKind = ApplyConflict['kind'];

/** The ErrorBehavior setting that decides each conflict kind, and its DMS default. */
const POLICY_SETTING: Record<ConflictKind, { setting: string; default: string }> = {
  'insert-exists': { setting: 'ApplyErrorInsertPolicy', default: 'LOG_ERROR' },
  'update-missing': { setting: 'ApplyErrorUpdatePolicy', default: 'LOG_ERROR' },
  'delete-missing': { setting: 'ApplyErrorDeletePolicy', default: 'IGNORE_RECORD' },
  error: { setting: 'DataErrorPolicy', default: 'LOG_ERROR' },
};

const CONFLICT_TEXT: Record<ConflictKind, string> = {
  'insert-exists': 'an inserted row already exists on the target',
  'update-missing': 'an updated row is missing on the target',
  'delete-missing': 'a deleted row is missing on the target',
  error: 'the target refused a row',
};

/** A source column as the row source `s` carries it: the text value cast back to its source type. */
interface SourceColumn {
  name: string;
  /** The source type, or `text` when the target does not have that (user-defined) type. */
  cast: string;
  /** Stored generated on the source: pgoutput before PostgreSQL 18 does not send it. */
  generated: boolean;
}

/** A target column the applier writes (the target's own generated columns are left out). */
interface TargetColumn {
  name: string;
  /** The value over the row source `s`, as the target type (columnExpr, LOB cut as in the full load). */
  expr: string;
  /** Source columns (indexes into Prepared.src) the value is computed from. */
  deps: number[];
  /** add-before-image column: computed over the old image when the change carries a full one. */
  beforeImage: boolean;
  /** Compared by text to find a row of a table without a key (not before-image, not constant). */
  matchable: boolean;
  key: boolean;
  /** May be assigned (GENERATED ALWAYS AS IDENTITY columns cannot be). */
  updatable: boolean;
}

/** What the applier knows of one planned table: built once per Applier (one catalog query on the target). */
interface Prepared {
  tableKey: TableKey;
  plan: TablePlan;
  relation: string;
  src: SourceColumn[];
  /** quoteIdent of each source column name, for finding references in expressions. */
  cols: TargetColumn[];
  /** Key columns (indexes into cols), in key order; empty for a table without a target primary key. */
  pk: number[];
  /** The source column of each key column when all are plain source columns: keys are then read in JS. */
  keySource?: string[];
  keyDeps: number[];
  /**
   * The key columns' values as the target column types: what rows are matched on. The plan's type
   * normally; cast where the target column's type differs, so the key index still serves the match.
   */
  keyExprs: string[];
  /** Every source column some target column reads. */
  allDeps: number[];
  filter?: { sql: string; deps: number[] };
  beforeImage: boolean;
  /** The source primary key: how a keyless target finds the row of an UPDATE that sends no old image. */
  sourceKey: string[];
  /** SQL text by statement shape. */
  sql: Map<string, string>;
  /** settable() by row mask. */
  sets: Map<string, number[]>;
  /**
   * The source column (index into src) of each target column, when every one is a plain copy of a
   * source column of the target's type and there is no filter: rows can then be inserted by COPY
   * (the target's input functions read the text as the casts would).
   */
  copySource?: number[];
}

/** One row handed to a statement: the image its values come from, and a full old image if any. */
interface Row {
  img: RowImage;
  old?: RowImage;
}

/** The net effect of a table's pending changes on one target key. */
interface NetOp {
  key: string;
  /** Key values as text, in key order (conflict records). */
  vals: string[];
  /** The first change on the key in this flush: insert → the row is expected absent, else present. */
  first: 'insert' | 'update' | 'delete';
  /** Changes folded into this operation. */
  n: number;
  final: 'upsert' | 'delete';
  /** The merged new image when final = upsert. */
  row?: RowImage;
  /** The full old image of the last update (before-image columns). */
  old?: RowImage;
  /** An image carrying the key's source columns. */
  keyImg: RowImage;
  /** An insert came after the first change (the row is known whole again). */
  reinserted: boolean;
  /** A key change whose new image misses columns: the target row is moved in place from `keyImg`'s key. */
  move?: boolean;
}

/** A change of a table without a target key, applied in order. */
interface SeqOp {
  kind: 'insert' | 'update' | 'delete';
  /** insert/update: the new image (filled from a full old image); delete: the old image. */
  img: RowImage;
  /** update: the old image. */
  old?: RowImage;
}

interface Pending {
  p: Prepared;
  ops: Map<string, NetOp>;
  seq: SeqOp[];
}

/** What one attempt at a flush produced; kept only if its statements succeed. */
interface Attempt {
  conflicts: ApplyConflict[];
  applied: number;
  suspend: boolean;
}

interface Run {
  meta: ApplyMeta;
  counters: Record<TableKey, CdcTableCounters>;
  conflicts: ApplyConflict[];
  applied: number;
  suspended: Set<TableKey>;
  pending: Map<TableKey, Pending>;
  /** The careful pass after a data error: a savepoint per table flush, then per row. */
  careful: boolean;
  /** The table savepoint is open (released before the next one is taken, and at the end). */
  savepoint: boolean;
  /** Target key values of images of tables whose key is computed by an expression. */
  keys: Map<RowImage, string[] | null>;
}

type Decision = 'skip' | 'delete' | 'write';

export class Applier {
  private readonly plans = new Map<TableKey, TablePlan>();
  private readonly prepared = new Map<TableKey, Prepared>();

  /** A SUSPEND_TABLE policy for a conflict kind: decided before any row is written (a probe first). */
  private readonly suspending: boolean;

  constructor(readonly opts: ApplierOptions) {
    for (const t of opts.plan.tables) this.plans.set(tableKeyOf(t.source.schema, t.source.name), t);
    this.suspending = (['insert-exists', 'update-missing', 'delete-missing'] as const).some(
      (kind) => this.policy(kind) === 'SUSPEND_TABLE',
    );
  }

  /**
   * Apply `changes` (source commit order) inside the caller's open transaction on `client`. The caller
   * has set session_replication_role = replica, BEGINs, records progress and COMMITs.
   * @throws FerryError DATA_REJECTED when an ErrorBehavior policy says STOP_TASK; SCHEMA_MISMATCH when
   * the target lacks a planned table or column; other database errors as the driver raised them.
   */
  async apply(client: Client, changes: readonly Change[], meta: ApplyMeta): Promise<ApplyResult> {
    const t0 = TRACE ? Date.now() : 0;
    // One round trip to start: the catalog of the tables not prepared yet, the settings, the savepoint.
    const todo = this.unprepared(changes);
    const relations = todo.map(([, plan]) => qualify(plan.target.schema, plan.target.name));
    // The set-based statements join the list's rows (unnest) to the target tables on their keys: a few
    // rows against an index, where a nested loop wins. Given the array's length the planner would
    // rather hash or sort-merge the whole table (three to five times slower on a large table), so
    // those two join methods are off for the call (before the savepoint: a rollback to it keeps them).
    const results = (await client.query(
      `${todo.length ? `${catalogSql(relations)};` : ''}
       SELECT current_setting('enable_hashjoin') AS h, current_setting('enable_mergejoin') AS m;
       SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SAVEPOINT ${CALL_SAVEPOINT}`,
    )) as unknown as { rows: unknown[] }[];
    const before = results[todo.length ? 1 : 0].rows[0] as { h: string; m: string };
    const restore = `RELEASE SAVEPOINT ${CALL_SAVEPOINT}; SET LOCAL enable_hashjoin = ${onOff(before.h)};
       SET LOCAL enable_mergejoin = ${onOff(before.m)}`;
    if (todo.length) {
      const attrs = results[0].rows as CatalogRow[];
      for (const [n, [key, plan]] of todo.entries()) {
        await this.prepare(
          client,
          key,
          plan,
          attrs.filter((r) => r.t === n + 1),
        );
      }
    }
    let result: ApplyResult | undefined;
    try {
      result = await this.pass(client, changes, meta, false);
    } catch (err) {
      if (!isDataError(err)) throw err;
      await client.query(`ROLLBACK TO SAVEPOINT ${CALL_SAVEPOINT}`);
    }
    result ??= await this.pass(client, changes, meta, true);
    await client.query(restore);
    if (TRACE) process.stderr.write(`[trace]  apply changes=${changes.length} ms=${Date.now() - t0}\n`);
    return result;
  }

  /** One pass over the list; `careful` isolates each flush and row so data errors become conflicts. */
  private async pass(
    client: Client,
    changes: readonly Change[],
    meta: ApplyMeta,
    careful: boolean,
  ): Promise<ApplyResult> {
    const run: Run = {
      meta,
      counters: {},
      conflicts: [],
      applied: 0,
      suspended: new Set(),
      pending: new Map(),
      careful,
      savepoint: false,
      keys: new Map(),
    };
    const t0 = TRACE ? Date.now() : 0;
    await this.prepareAll(client, run, changes);
    const t1 = TRACE ? Date.now() : 0;
    const keys: ChangeKeys | undefined = meta.keys
      ? { keys: new Array<string | null | undefined>(changes.length), oldKeys: new Map() }
      : undefined;
    for (let i = 0; i < changes.length; i++) {
      const ch = changes[i];
      if (ch.kind === 'truncate') {
        await this.truncate(client, run, ch);
        continue;
      }
      const pend = run.pending.get(ch.table);
      if (!pend) continue; // not in the plan
      const c = counters(run, ch.table);
      if (ch.kind === 'insert') c.inserts++;
      else if (ch.kind === 'update') c.updates++;
      else c.deletes++;
      if (run.suspended.has(ch.table)) continue;
      if (keys) this.changeKey(run, pend.p, ch, keys, i);
      if (pend.p.pk.length === 0) this.enqueue(pend, ch);
      else {
        // Synchronous unless it has to flush first: an await per change costs more than the folding.
        const flushing = this.fold(client, run, pend, ch);
        if (flushing) await flushing;
      }
    }
    const t2 = TRACE ? Date.now() : 0;
    await this.flushAll(client, run);
    if (run.savepoint) await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    if (TRACE) {
      const t3 = Date.now();
      process.stderr.write(
        `[trace]  pass${careful ? ' (careful)' : ''} prepare=${t1 - t0} fold=${t2 - t1} flush=${t3 - t2} ms\n`,
      );
    }
    return {
      applied: run.applied,
      conflicts: run.conflicts,
      tables: run.counters,
      suspended: [...run.suspended],
      ...(keys && { keys }),
    };
  }

  /** The target key of a change (and the old one when an update moved it) into `keys` at `i`. */
  private changeKey(
    run: Run,
    p: Prepared,
    ch: Exclude<Change, { kind: 'truncate' }>,
    keys: ChangeKeys,
    i: number,
  ): void {
    if (p.pk.length === 0) {
      keys.keys[i] = null; // the whole row identifies it: not journalled
      return;
    }
    const vals = (img: RowImage | undefined): string | undefined => {
      if (!img) return undefined;
      let v: string[] | undefined;
      if (p.keySource) {
        v = [];
        for (const name of p.keySource) {
          const x = own(img, name);
          if (x === undefined || x === null) return undefined;
          v.push(x);
        }
      } else v = run.keys.get(img) ?? undefined;
      return v && keyJson(p, v);
    };
    if (ch.kind === 'delete') {
      keys.keys[i] = vals(ch.old) ?? null;
      return;
    }
    const key = vals(ch.new) ?? (ch.kind === 'update' ? vals(ch.old) : undefined);
    keys.keys[i] = key ?? null;
    if (ch.kind === 'update' && ch.old) {
      const old = vals(ch.old);
      if (old !== undefined && old !== key) keys.oldKeys.set(i, old);
    }
  }

  // ---- preparation --------------------------------------------------------------------------

  /** Prepare every planned table the list touches, and compute keys that only SQL can compute. */
  private async prepareAll(client: Client, run: Run, changes: readonly Change[]): Promise<void> {
    const computed = new Map<Prepared, RowImage[]>();
    for (const ch of changes) {
      if (ch.kind === 'truncate') continue;
      let pend = run.pending.get(ch.table);
      if (!pend) {
        if (!this.plans.has(ch.table)) continue;
        const prepared = this.prepared.get(ch.table);
        if (!prepared) throw new Error(`${ch.table} was not prepared`); // apply() prepares every table
        pend = { p: prepared, ops: new Map(), seq: [] };
        run.pending.set(ch.table, pend);
      }
      const p = pend.p;
      if (p.pk.length === 0 || p.keySource) continue;
      let list = computed.get(p);
      if (!list) computed.set(p, (list = []));
      if (ch.kind !== 'delete') list.push(ch.new);
      if (ch.kind !== 'insert' && ch.old) list.push(ch.old);
    }
    for (const [p, images] of computed) await this.computeKeys(client, run, p, images);
  }

  /** Target key values of images, for a table whose key columns are expressions over the source row. */
  private async computeKeys(client: Client, run: Run, p: Prepared, images: RowImage[]): Promise<void> {
    const usable = images.filter((img) => p.keyDeps.every((j) => own(img, p.src[j].name) !== undefined));
    for (const img of images) run.keys.set(img, null);
    const sql = this.cached(
      p,
      'keys',
      () =>
        `SELECT s.${ORD} AS i, ${p.pk.map((k, i) => `(${p.cols[k].expr})::text AS ${keyCol(i)}`).join(', ')}
           FROM ${rowSource(p, p.keyDeps, false, 1, true)}`,
    );
    await chunks(usable, async (rows, start) => {
      const res = await this.query<Record<string, string | number | null>>(
        client,
        p,
        sql,
        values(
          p,
          p.keyDeps,
          false,
          rows.map((img) => ({ img })),
        ),
      );
      for (const r of res.rows) {
        const vals = p.pk.map((_, i) => r[`ferry#k${i}`] as string | null);
        run.keys.set(usable[start + Number(r.i)], vals.some((v) => v === null) ? null : (vals as string[]));
      }
    });
  }

  /** The planned tables the list touches that are not prepared yet, in the order they come. */
  private unprepared(changes: readonly Change[]): [TableKey, TablePlan][] {
    const out = new Map<TableKey, TablePlan>();
    let last: TableKey | undefined;
    for (const ch of changes) {
      if (ch.kind === 'truncate' || ch.table === last) continue;
      last = ch.table;
      if (this.prepared.has(ch.table) || out.has(ch.table)) continue;
      const plan = this.plans.get(ch.table);
      if (plan) out.set(ch.table, plan);
    }
    return [...out];
  }

  /** What the applier needs to know of a planned table, from its target columns (catalogSql's rows). */
  private async prepare(
    client: Client,
    tableKey: TableKey,
    plan: TablePlan,
    catalogRows: CatalogRow[],
  ): Promise<Prepared> {
    const tp = TRACE ? Date.now() : 0;
    const relation = qualify(plan.target.schema, plan.target.name);
    const where = displayName(plan.target.schema, plan.target.name);
    if (!catalogRows[0]?.found) {
      throw schemaMismatch(`${where} (target of ${tableKey})`, `relation ${relation} does not exist`);
    }
    const attrs = new Map<string, CatalogRow>();
    for (const r of catalogRows) if (r.name !== null) attrs.set(r.name, r);

    // Source columns: the catalog's, cast back to their types (user types only where the target has them).
    const catalogTable = this.opts.catalog.tables.find(
      (t) => t.schema === plan.source.schema && t.name === plan.source.name,
    );
    const src: SourceColumn[] = [...(catalogTable?.columns ?? [])]
      .sort((a, b) => a.position - b.position)
      .map((c) => ({ name: c.name, cast: c.type, generated: c.generated !== undefined }));
    const userTypes = (catalogTable?.columns ?? []).filter((c) => c.userType).map((c) => c.type);
    if (userTypes.length) {
      const { rows } = await client.query<{ type: string; ok: boolean }>(
        `SELECT t AS type, pg_catalog.to_regtype(t) IS NOT NULL AS ok FROM unnest($1::text[]) AS t`,
        [[...new Set(userTypes)]],
      );
      const missing = new Set(rows.filter((r) => !r.ok).map((r) => r.type));
      // The value is then carried as its text, which the target column's own type reads.
      for (const s of src) if (missing.has(s.cast)) s.cast = 'text';
    }
    const srcIndex = (name: string): number => {
      let j = src.findIndex((s) => s.name === name);
      if (j < 0) j = src.push({ name, cast: 'text', generated: false }) - 1;
      return j;
    };
    for (const c of plan.columns) if (c.source !== undefined) srcIndex(c.source);
    for (const name of plan.filter?.columns ?? []) srcIndex(name);
    const quoted = src.map((s) => quoteIdent(s.name));
    const refs = (expr: string) => quoted.flatMap((q, j) => (expr.includes(q) ? [j] : []));

    const lobTypes = await this.lobBaseTypes(client, plan, attrs);
    const cols: TargetColumn[] = [];
    for (const c of plan.columns) {
      const a = attrs.get(c.target);
      if (!a) {
        throw new FerryError(
          ErrorType.SCHEMA_MISMATCH,
          `${where} has no column "${c.target}" that the plan writes (changes of ${tableKey}); create the ` +
            `target schema (createPreData) from the same plan, or recompile the plan`,
        );
      }
      if (a.generated === 's') continue; // the target computes it
      let base: string;
      let deps: number[];
      if (c.generated !== undefined && c.expression === undefined) {
        // A source generated column the target holds as a plain column: pgoutput does not send it, so
        // it is recomputed from the row as the source computes it.
        base = `(${c.generated})::${c.type}`;
        deps = src.flatMap((s, j) => (s.generated ? [] : [j]));
      } else {
        base = columnExpr(c, plan);
        deps = refs(base);
      }
      let expr = base;
      if (c.beforeImageOf !== undefined && deps.length) {
        const oldRow = deps.map((j) => `s.${oldCol(j)} AS ${quoted[j]}`).join(', ');
        expr = `CASE WHEN s.${HAS_OLD} THEN (SELECT ${base} FROM (SELECT ${oldRow}) o) ELSE ${base} END`;
      }
      expr = lobCut(plan, c, lobTypes.get(a.typid), expr);
      cols.push({
        name: c.target,
        expr,
        deps,
        beforeImage: c.beforeImageOf !== undefined,
        // Randomised masks differ on every evaluation: they cannot identify a row.
        matchable: c.beforeImageOf === undefined && deps.length > 0 && c.masking !== 'digits-randomize',
        key: plan.primaryKey.includes(c.target),
        updatable: a.identity !== 'a',
      });
    }
    const pk = plan.primaryKey.map((name) => {
      const k = cols.findIndex((c) => c.name === name);
      if (k < 0) {
        throw new FerryError(
          ErrorType.CONFIG_INVALID,
          `${where}: key column "${name}" is not a column the plan writes (it is missing or generated); ` +
            `fix the plan's primary key (define-primary-key) or its columns`,
        );
      }
      return k;
    });
    const planCol = (k: number): ColumnPlan => plan.columns.find((c) => c.target === cols[k].name)!;
    const keySource = pk.every((k) => planCol(k).source !== undefined && !cols[k].beforeImage)
      ? pk.map((k) => planCol(k).source!)
      : undefined;
    const filter = filterSql(plan.filter);
    const plain = (k: number): boolean => {
      const c = planCol(k);
      if (c.source === undefined || c.expression !== undefined || c.beforeImageOf !== undefined) return false;
      const s = src[srcIndex(c.source)];
      return (
        c.generated === undefined &&
        !s.generated &&
        s.cast === c.type &&
        attrs.get(c.target)!.type === c.type &&
        cols[k].expr === `(${quoteIdent(c.source)})::${c.type}`
      );
    };
    const copySource =
      !filter && cols.length > 0 && cols.every((_, k) => plain(k))
        ? cols.map((_, k) => srcIndex(planCol(k).source!))
        : undefined;
    const p: Prepared = {
      tableKey,
      plan,
      relation,
      src,
      cols,
      pk,
      ...(keySource ? { keySource } : {}),
      keyDeps: union(pk.map((k) => cols[k].deps)),
      keyExprs: pk.map((k) => {
        const type = attrs.get(cols[k].name)!.type;
        return type === planCol(k).type ? cols[k].expr : `(${cols[k].expr})::${type}`;
      }),
      allDeps: union(cols.map((c) => c.deps)),
      ...(filter ? { filter: { sql: filter, deps: (plan.filter?.columns ?? []).map(srcIndex) } } : {}),
      beforeImage: cols.some((c) => c.beforeImage && c.deps.length > 0),
      sourceKey: catalogTable?.primaryKey ?? [],
      sql: new Map(),
      sets: new Map(),
      ...(copySource ? { copySource } : {}),
    };
    this.prepared.set(tableKey, p);
    if (TRACE) process.stderr.write(`[trace]   prepare ${tableKey} ${Date.now() - tp} ms\n`);
    return p;
  }

  /** Base type names (domains resolved, pg_catalog types only) of the target's columns, for LOB cuts. */
  private async lobBaseTypes(
    client: Client,
    plan: TablePlan,
    attrs: Map<string, { typid: string }>,
  ): Promise<Map<string, string>> {
    if (plan.lob.mode !== 'limited' || !(plan.lob.maxBytes > 0)) return new Map();
    const { rows } = await client.query<{ oid: string; name: string }>(
      `WITH RECURSIVE d(oid, cur, depth) AS (
         SELECT t.oid, t.oid, 0 FROM pg_catalog.pg_type t WHERE t.oid = ANY ($1::oid[])
         UNION ALL
         SELECT d.oid, t.typbasetype, d.depth + 1 FROM d JOIN pg_catalog.pg_type t ON t.oid = d.cur
          WHERE t.typtype = 'd' AND d.depth < 32
       )
       SELECT d.oid::int8::text AS oid, CASE WHEN n.nspname = 'pg_catalog' THEN b.typname ELSE '' END AS name
         FROM d
         JOIN pg_catalog.pg_type b ON b.oid = d.cur AND b.typtype <> 'd'
         JOIN pg_catalog.pg_namespace n ON n.oid = b.typnamespace`,
      [[...new Set([...attrs.values()].map((a) => a.typid))]],
    );
    return new Map(rows.map((r) => [r.oid, r.name]));
  }

  // ---- folding changes ----------------------------------------------------------------------

  private enqueue(pend: Pending, ch: Exclude<Change, { kind: 'truncate' }>): void {
    const p = pend.p;
    if (ch.kind === 'insert') pend.seq.push({ kind: 'insert', img: ch.new });
    else if (ch.kind === 'delete') pend.seq.push({ kind: 'delete', img: ch.old });
    else {
      const full = ch.old && isFull(p, ch.old) ? ch.old : undefined;
      // No old image (DEFAULT identity, key unchanged): the source key columns of the new image find the row.
      let old = ch.old;
      if (!old && p.sourceKey.length && p.sourceKey.every((k) => own(ch.new, k) !== undefined)) {
        old = Object.fromEntries(p.sourceKey.map((k) => [k, ch.new[k]]));
      }
      pend.seq.push({ kind: 'update', img: full ? fill(p, ch.new, full) : ch.new, ...(old ? { old } : {}) });
    }
  }

  /**
   * Fold one change of a keyed table into its pending net operations. Returns a promise only when it
   * has to run statements (a flush without compaction, a key change moving a partial row).
   */
  private fold(
    client: Client,
    run: Run,
    pend: Pending,
    ch: Exclude<Change, { kind: 'truncate' }>,
  ): Promise<void> | undefined {
    const p = pend.p;
    const ops = pend.ops;
    const compact = this.opts.compact;
    if (ch.kind === 'insert') {
      const k = this.keyOf(run, p, ch.new);
      if (k === undefined) return void this.keyless(run, p, ch.new);
      const op = ops.get(k);
      if (!op) ops.set(k, netOp(p, k, 'insert', 'upsert', ch.new, ch.new));
      else if (!compact) return this.refold(client, run, pend, ch);
      else {
        op.n++;
        op.row = op.final === 'upsert' && op.row ? merge(op.row, ch.new) : ch.new;
        op.final = 'upsert';
        op.old = undefined;
        op.keyImg = ch.new;
        op.reinserted = true;
      }
      return;
    }
    if (ch.kind === 'delete') {
      const k = this.keyOf(run, p, ch.old);
      if (k === undefined) return void this.keyless(run, p, ch.old);
      const op = ops.get(k);
      if (!op) ops.set(k, netOp(p, k, 'delete', 'delete', undefined, ch.old));
      else if (!compact) return this.refold(client, run, pend, ch);
      else {
        op.n++;
        op.final = 'delete';
        op.row = undefined;
        op.old = undefined;
        op.keyImg = ch.old;
      }
      return;
    }

    // update
    const full = ch.old && isFull(p, ch.old) ? ch.old : undefined;
    const img = full ? fill(p, ch.new, full) : ch.new;
    const kn = this.keyOf(run, p, ch.new) ?? (img !== ch.new ? this.keyOf(run, p, img) : undefined);
    if (kn === undefined) return void this.keyless(run, p, ch.new);
    const ko = (ch.old ? this.keyOf(run, p, ch.old) : undefined) ?? kn;
    if (ko === kn) {
      const op = ops.get(kn);
      if (!op) {
        const created = netOp(p, kn, 'update', 'upsert', img, img);
        created.old = full;
        ops.set(kn, created);
      } else if (!compact) return this.refold(client, run, pend, ch);
      else {
        op.n++;
        op.row = op.final === 'upsert' && op.row ? merge(op.row, img) : img;
        op.final = 'upsert';
        op.old = full;
        op.keyImg = img;
      }
      return;
    }

    // The key changed: delete the old key, upsert the new one (expected absent).
    if (!compact && (ops.has(ko) || ops.has(kn))) return this.refold(client, run, pend, ch);
    const prev = ops.get(ko);
    const row = prev?.final === 'upsert' && prev.row ? merge(prev.row, img) : img;
    if (!rowMask(p, { img: row, ...(full ? { old: full } : {}) }).full) {
      // Columns of the row are only on the target (unchanged TOAST): move the target row in place.
      const move = netOp(p, kn, 'update', 'upsert', row, ch.old!);
      move.move = true;
      move.old = full;
      return this.flush(client, run, pend).then(() =>
        this.guarded(
          client,
          run,
          p,
          [move],
          (ops2, a) => this.runKeyed(client, run, p, ops2, a),
          (op) => keyJson(p, op.vals),
        ),
      );
    }
    if (prev) {
      prev.n++;
      prev.final = 'delete';
      prev.row = undefined;
      prev.old = undefined;
      prev.keyImg = ch.old!;
    } else {
      ops.set(ko, netOp(p, ko, 'update', 'delete', undefined, ch.old!));
    }
    const next = ops.get(kn);
    if (!next) {
      const op = netOp(p, kn, 'insert', 'upsert', row, row);
      op.old = full;
      ops.set(kn, op);
    } else {
      next.n++;
      next.final = 'upsert';
      next.row = row;
      next.old = full;
      next.keyImg = row;
      next.reinserted = true;
    }
  }

  /** Without compaction a key that comes again first flushes what is pending, then is folded anew. */
  private async refold(
    client: Client,
    run: Run,
    pend: Pending,
    ch: Exclude<Change, { kind: 'truncate' }>,
  ): Promise<void> {
    await this.flush(client, run, pend);
    await this.fold(client, run, pend, ch);
  }

  /**
   * The target key of an image, as text: its key columns' source values, or the values SQL computed
   * (one value as it is, several as JSON; keyVals() reads them back).
   */
  private keyOf(run: Run, p: Prepared, img: RowImage): string | undefined {
    if (p.keySource) {
      if (p.keySource.length === 1) return own(img, p.keySource[0]) ?? undefined;
      const vals: string[] = [];
      for (const name of p.keySource) {
        const v = own(img, name);
        if (v === undefined || v === null) return undefined;
        vals.push(v);
      }
      return JSON.stringify(vals);
    }
    const vals = run.keys.get(img);
    if (!vals) return undefined;
    return vals.length === 1 ? vals[0] : JSON.stringify(vals);
  }

  /** A change of a keyed table whose image does not carry the key: it cannot be located. */
  private keyless(run: Run, p: Prepared, img: RowImage): void {
    const a = attempt();
    const names = p.pk.map((k) => p.cols[k].name).join(', ');
    this.conflict(run, a, p, 'error', imageKey(p, img), `the change carries no value for key (${names})`);
    this.commit(run, p, a);
  }

  // ---- flushing -----------------------------------------------------------------------------

  private async flushAll(client: Client, run: Run): Promise<void> {
    for (const pend of run.pending.values()) await this.flush(client, run, pend);
  }

  private async flush(client: Client, run: Run, pend: Pending): Promise<void> {
    const p = pend.p;
    if (p.pk.length) {
      if (pend.ops.size === 0) return;
      const ops = [...pend.ops.values()];
      pend.ops.clear();
      await this.guarded(
        client,
        run,
        p,
        ops,
        (o, a) => this.runKeyed(client, run, p, o, a),
        (op) => keyJson(p, op.vals),
      );
    } else {
      if (pend.seq.length === 0) return;
      const ops = pend.seq;
      pend.seq = [];
      await this.guarded(
        client,
        run,
        p,
        ops,
        (o, a) => this.runSequential(client, run, p, o, a),
        (op) => imageKey(p, op.old ?? op.img),
      );
    }
  }

  /**
   * Run a table's operations. In the careful pass: under a savepoint; on a data error, roll back to it
   * and run them one at a time, each under its own savepoint, recording the rows the target refuses.
   */
  private async guarded<T>(
    client: Client,
    run: Run,
    p: Prepared,
    ops: T[],
    exec: (ops: T[], a: Attempt) => Promise<void>,
    keyText: (op: T) => string,
  ): Promise<void> {
    if (ops.length === 0 || run.suspended.has(p.tableKey)) return;
    if (!run.careful) {
      // A data error goes up to apply(), which starts the careful pass.
      const a = attempt();
      await exec(ops, a);
      this.commit(run, p, a);
      return;
    }
    await client.query(
      run.savepoint ? `RELEASE SAVEPOINT ${SAVEPOINT}; SAVEPOINT ${SAVEPOINT}` : `SAVEPOINT ${SAVEPOINT}`,
    );
    run.savepoint = true;
    const a = attempt();
    try {
      await exec(ops, a);
      this.commit(run, p, a);
      return;
    } catch (err) {
      if (!isDataError(err)) throw err;
      await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    }
    for (const op of ops) {
      if (run.suspended.has(p.tableKey)) return;
      await client.query(`SAVEPOINT ${ROW_SAVEPOINT}`);
      const one = attempt();
      try {
        await exec([op], one);
        await client.query(`RELEASE SAVEPOINT ${ROW_SAVEPOINT}`);
        this.commit(run, p, one);
      } catch (err) {
        if (!isDataError(err)) throw err;
        await client.query(`ROLLBACK TO SAVEPOINT ${ROW_SAVEPOINT}; RELEASE SAVEPOINT ${ROW_SAVEPOINT}`);
        const failed = attempt();
        this.conflict(run, failed, p, 'error', keyText(op), serverMessage(err));
        this.commit(run, p, failed);
      }
    }
  }

  /** The ErrorBehavior policy of a conflict kind. */
  private policy(kind: ConflictKind): string {
    const { setting, default: def } = POLICY_SETTING[kind];
    return String(this.opts.plan.settings.errorBehavior[setting] ?? def);
  }

  /** Record a conflict per its ErrorBehavior policy (STOP_TASK throws) and return the policy. */
  private conflict(
    run: Run,
    a: Attempt,
    p: Prepared,
    kind: ConflictKind,
    key: string,
    message?: string,
  ): string {
    const { setting } = POLICY_SETTING[kind];
    const policy = this.policy(kind);
    if (policy === 'STOP_TASK') {
      throw new FerryError(
        ErrorType.DATA_REJECTED,
        `${p.tableKey}: ${CONFLICT_TEXT[kind]} (key ${key}, source commit ${run.meta.commitLsn})` +
          `${message ? `: ${message}` : ''}; ErrorBehavior.${setting} is STOP_TASK, so the task stops. Fix the ` +
          `target row, or set ErrorBehavior.${setting} to LOG_ERROR to record such changes and go on`,
      );
    }
    a.conflicts.push({
      table: p.tableKey,
      kind,
      key,
      policy,
      ...(message !== undefined ? { message } : {}),
      commitLsn: run.meta.commitLsn,
    });
    if (policy === 'SUSPEND_TABLE') a.suspend = true;
    return policy;
  }

  private commit(run: Run, p: Prepared, a: Attempt): void {
    const c = counters(run, p.tableKey);
    c.applied += a.applied;
    c.conflicts += a.conflicts.length;
    run.applied += a.applied;
    run.conflicts.push(...a.conflicts);
    if (a.suspend) {
      run.suspended.add(p.tableKey);
      const pend = run.pending.get(p.tableKey);
      if (pend) {
        pend.ops.clear();
        pend.seq = [];
      }
    }
  }

  private async truncate(client: Client, run: Run, ch: Extract<Change, { kind: 'truncate' }>): Promise<void> {
    const targets: string[] = [];
    for (const t of ch.tables) {
      const plan = this.plans.get(t);
      if (!plan) continue;
      counters(run, t).truncates++;
      if (run.suspended.has(t)) continue;
      const relation = qualify(plan.target.schema, plan.target.name);
      if (!targets.includes(relation)) targets.push(relation);
      // Its pending changes precede the truncate: nothing of them would remain.
      const pend = run.pending.get(t);
      if (pend) {
        pend.ops.clear();
        pend.seq = [];
      }
    }
    if (targets.length === 0) return;
    // Other tables' earlier changes first: a CASCADE may reach them.
    await this.flushAll(client, run);
    await client.query(
      `TRUNCATE TABLE ${targets.join(', ')}${ch.restartIdentity ? ' RESTART IDENTITY' : ''}${ch.cascade ? ' CASCADE' : ''}`,
    );
  }

  // ---- keyed tables -------------------------------------------------------------------------

  private async runKeyed(client: Client, run: Run, p: Prepared, ops: NetOp[], a: Attempt): Promise<void> {
    if (ops.length === 1 && ops[0].move) return this.runMove(client, run, p, ops[0], a);
    const tolerant = run.meta.tolerant;
    const rows: Row[] = ops.map((op) =>
      op.final === 'upsert' ? { img: op.row!, ...(op.old ? { old: op.old } : {}) } : { img: op.keyImg },
    );
    const masks = ops.map((op, i) => (op.final === 'upsert' ? rowMask(p, rows[i]) : undefined));
    if (!tolerant && !p.filter && !this.suspending)
      return this.runDirect(client, run, p, ops, rows, masks, a);
    const exists: (boolean | null)[] = [];
    const passes: (boolean | null)[] = [];
    // Tolerant without a filter needs nothing from the target: upserts and deletes are idempotent.
    if (!tolerant || p.filter) {
      const order = allIndexes(ops.length);
      sortByKey(ops, order);
      const found = await this.probe(
        client,
        p,
        order.map((i) => rows[i]),
        true,
      );
      order.forEach((i, n) => {
        exists[i] = found.exists[n];
        passes[i] = found.passes[n];
      });
    }
    await this.applyDecided(
      client,
      run,
      p,
      ops,
      rows,
      masks,
      allIndexes(ops.length),
      exists,
      passes,
      a,
      (i, k, m) => this.conflict(run, a, p, k, keyJson(p, ops[i].vals), m),
    );
  }

  /**
   * Decide the operations `idx` from what a probe found (`exists`, `passes`, by operation index), then
   * run one DELETE, one upsert of the full rows and one UPDATE per set of known columns.
   */
  private async applyDecided(
    client: Client,
    run: Run,
    p: Prepared,
    ops: NetOp[],
    rows: Row[],
    masks: ({ mask: string; full: boolean } | undefined)[],
    idx: number[],
    exists: (boolean | null)[],
    passes: (boolean | null)[],
    a: Attempt,
    report: (i: number, kind: ConflictKind, message?: string) => string,
  ): Promise<void> {
    const deletes: number[] = [];
    const upserts: number[] = [];
    const partial = new Map<string, number[]>();
    for (const i of idx) {
      if (a.suspend) break;
      const op = ops[i];
      const mask = masks[i];
      const d = this.decide(
        p,
        a,
        run.meta.tolerant,
        op,
        mask?.full ?? false,
        exists[i] ?? false,
        passes[i] ?? null,
        (kind, message) => report(i, kind, message),
      );
      if (d === 'delete') deletes.push(i);
      else if (d === 'write' && mask) {
        if (mask.full) upserts.push(i);
        else {
          let group = partial.get(mask.mask);
          if (!group) partial.set(mask.mask, (group = []));
          group.push(i);
        }
      }
    }
    for (const list of [deletes, upserts, ...partial.values()]) sortByKey(ops, list);
    if (deletes.length) {
      // An upsert whose row leaves the filter's range is deleted by its key.
      await this.deleteRows(
        client,
        p,
        deletes.map((i) => (ops[i].final === 'delete' ? rows[i] : { img: ops[i].keyImg })),
      );
      a.applied += deletes.length;
    }
    if (upserts.length) {
      await this.upsertRows(
        client,
        p,
        upserts.map((i) => rows[i]),
      );
      a.applied += upserts.length;
    }
    for (const [mask, group] of partial) {
      const rowsOf = group.map((i) => rows[i]);
      if ((await this.updateRows(client, p, mask, rowsOf)) !== null) a.applied += group.length;
    }
  }

  /**
   * The operations of a table without a filter, outside tolerant mode and without SUSPEND_TABLE
   * policies: no probe first, the statements themselves find the rows that are not as expected (the
   * decisions are those of decide()). A row expected present is updated (UPDATE: fewer rows than sent
   * means some are missing, which a probe then names), a row expected absent inserted (ON CONFLICT DO
   * NOTHING), a deleted row deleted; the rows that were not as expected are then recorded as conflicts,
   * in the order of the operations, and written again where the policy says so.
   */
  private async runDirect(
    client: Client,
    run: Run,
    p: Prepared,
    ops: NetOp[],
    rows: Row[],
    masks: ({ mask: string; full: boolean } | undefined)[],
    a: Attempt,
  ): Promise<void> {
    const notes: { i: number; kind: ConflictKind; message?: string }[] = [];
    const note = (i: number, kind: ConflictKind, message?: string): string => {
      notes.push({ i, kind, ...(message !== undefined ? { message } : {}) });
      return this.policy(kind);
    };
    const missing = (op: NetOp): ConflictKind =>
      op.first === 'update' ? 'update-missing' : 'delete-missing';
    /** Deleted rows expected present. */
    const gone: number[] = [];
    /** Deleted rows of keys inserted in this list: expected absent. */
    const born: number[] = [];
    /** Full rows expected absent. */
    const inserts: number[] = [];
    /** Rows expected present, by the columns they set. */
    const updates = new Map<string, number[]>();
    /** What the statements cannot tell (a partial row expected absent, no column to set): probed. */
    const probed: number[] = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      const mask = masks[i];
      if (!mask) (op.first === 'insert' ? born : gone).push(i);
      else if (op.first === 'insert') (mask.full ? inserts : probed).push(i);
      else if (!settable(p, mask.mask).length) probed.push(i);
      else {
        let group = updates.get(mask.mask);
        if (!group) updates.set(mask.mask, (group = []));
        group.push(i);
      }
    }
    for (const list of [gone, born, inserts, ...updates.values()]) sortByKey(ops, list);
    const pick = (idx: number[]) => idx.map((i) => rows[i]);
    if (probed.length) {
      sortByKey(ops, probed);
      const found = await this.probe(client, p, pick(probed), true);
      const exists: (boolean | null)[] = [];
      probed.forEach((i, n) => (exists[i] = found.exists[n]));
      await this.applyDecided(client, run, p, ops, rows, masks, probed, exists, [], a, note);
    }
    if (gone.length) {
      const absent = await this.deleteExpected(client, p, pick(gone), true);
      a.applied += gone.length - absent.length;
      for (const n of absent) note(gone[n], missing(ops[gone[n]]));
    }
    if (born.length) {
      // Expected absent but there: the insert conflicts; the delete after it removes the row anyway.
      const present = await this.deleteExpected(client, p, pick(born), false);
      a.applied += present.length;
      for (const n of present) note(born[n], 'insert-exists');
    }
    /** Operations whose row is written after all (upsert) once their conflict is known. */
    const again: number[] = [];
    for (const [mask, idx] of updates) {
      const group = pick(idx);
      const updated = (await this.updateRows(client, p, mask, group)) ?? 0;
      a.applied += idx.length;
      if (updated >= idx.length) continue;
      // Fewer rows updated than sent: which keys are missing (an UPDATE does not change that).
      const { exists } = await this.probe(client, p, group, true);
      idx.forEach((i, n) => {
        if (exists[n]) return;
        a.applied--;
        const op = ops[i];
        const policy = note(i, missing(op));
        if (masks[i]!.full && (op.first === 'delete' || policy === 'UPDATE_RECORD' || op.reinserted))
          again.push(i);
      });
    }
    if (inserts.length) {
      const present = await this.insertExpected(client, p, pick(inserts));
      a.applied += inserts.length - present.length;
      for (const n of present) {
        const i = inserts[n];
        const policy = note(i, 'insert-exists');
        // Later changes of the key apply to the row that is there.
        if (policy === 'INSERT_RECORD' || ops[i].n > 1) again.push(i);
      }
    }
    notes.sort((x, y) => x.i - y.i);
    for (const c of notes) this.conflict(run, a, p, c.kind, keyJson(p, ops[c.i].vals), c.message);
    if (again.length) {
      sortByKey(ops, again);
      await this.upsertRows(client, p, pick(again));
      a.applied += again.length;
    }
  }

  /**
   * What to do with one net operation, given whether its key exists on the target (`e`) and whether its
   * final row passes the table filter (`pass`, null when the filter's columns were not sent).
   */
  private decide(
    p: Prepared,
    a: Attempt,
    tolerant: boolean,
    op: NetOp,
    full: boolean,
    e: boolean,
    pass: boolean | null,
    report: (kind: ConflictKind, message?: string) => string,
  ): Decision {
    if (op.final === 'delete') {
      if (tolerant) return 'delete';
      if (op.first === 'insert') {
        if (!e) return 'skip';
        // Expected absent but there: the insert conflicts; the delete after it removes the row anyway.
        report('insert-exists');
        return a.suspend ? 'skip' : 'delete';
      }
      if (e) return 'delete';
      // A filtered table misses the rows outside the filter's range: not a conflict.
      if (!p.filter) report(op.first === 'update' ? 'update-missing' : 'delete-missing');
      return 'skip';
    }

    const inRange = p.filter ? (filterKnown(p, op.row!) ? pass === true : null) : true;
    // Out of the filter's range: the row must not be on the target.
    if (inRange === false) return tolerant || e ? 'delete' : 'skip';
    // Filter columns not sent (unchanged TOAST, so unchanged): the row stays where it is.
    if (inRange === null) return e ? 'write' : 'skip';
    if (tolerant) return 'write';
    if (op.first === 'insert') {
      if (!e) return 'write';
      const policy = report('insert-exists');
      if (policy === 'INSERT_RECORD') return 'write';
      if (policy === 'SUSPEND_TABLE') return 'skip';
      // Later changes of the key apply to the row that is there.
      return op.n > 1 ? 'write' : 'skip';
    }
    if (e) return 'write';
    if (p.filter) {
      // Moved into the filter's range: insert it, if the whole row is known.
      if (full) return 'write';
      report('update-missing', 'the row entered the filter range but columns were not sent');
      return 'skip';
    }
    if (op.first === 'delete') {
      const policy = report('delete-missing');
      return policy !== 'SUSPEND_TABLE' && full ? 'write' : 'skip';
    }
    const policy = report('update-missing');
    if (policy === 'SUSPEND_TABLE') return 'skip';
    if (policy === 'UPDATE_RECORD') return full ? 'write' : 'skip';
    return op.reinserted && full ? 'write' : 'skip';
  }

  /** Which keys exist on the target (when `existence`) and which rows pass the filter. */
  private async probe(
    client: Client,
    p: Prepared,
    rows: Row[],
    existence: boolean,
  ): Promise<{ exists: (boolean | null)[]; passes: (boolean | null)[] }> {
    const cols = union([p.keyDeps, p.filter?.deps ?? []]);
    const sql = this.cached(p, `probe:${existence}`, () => {
      const inner = `SELECT ${[
        `s.${ORD}`,
        ...p.keyExprs.map((x, i) => `${x} AS ${keyCol(i)}`),
        `${p.filter ? `(${p.filter.sql}) IS TRUE` : 'TRUE'} AS ${PASSES}`,
      ].join(', ')} FROM ${rowSource(p, cols, false, 1, true)}`;
      return existence
        ? `SELECT v.${ORD} AS i, (t.ctid IS NOT NULL) AS e, v.${PASSES} AS p FROM (${inner}) v
             LEFT JOIN ${p.relation} AS t ON ${keyMatch(p, 't', 'v')}`
        : `SELECT v.${ORD} AS i, NULL::boolean AS e, v.${PASSES} AS p FROM (${inner}) v`;
    });
    const exists: (boolean | null)[] = new Array(rows.length).fill(null);
    const passes: (boolean | null)[] = new Array(rows.length).fill(null);
    await chunks(rows, async (chunk, start) => {
      const res = await this.query<{ i: number; e: boolean | null; p: boolean | null }>(
        client,
        p,
        sql,
        values(p, cols, false, chunk),
      );
      for (const r of res.rows) {
        exists[start + r.i] = r.e;
        passes[start + r.i] = r.p;
      }
    });
    return { exists, passes };
  }

  private async deleteRows(client: Client, p: Prepared, rows: Row[]): Promise<void> {
    const sql = this.cached(
      p,
      'delete',
      () =>
        `DELETE FROM ${p.relation} AS t USING (SELECT ${p.keyExprs
          .map((x, i) => `${x} AS ${keyCol(i)}`)
          .join(', ')} FROM ${rowSource(p, p.keyDeps, false, 1)}) v WHERE ${keyMatch(p, 't', 'v')}`,
    );
    await chunks(rows, (chunk) => this.query(client, p, sql, values(p, p.keyDeps, false, chunk)));
  }

  private async upsertRows(client: Client, p: Prepared, rows: Row[]): Promise<void> {
    const sql = this.cached(p, 'upsert', () => {
      const sets = p.cols
        .filter((c) => !c.key && c.updatable)
        .map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
      return `INSERT INTO ${p.relation} (${p.cols.map((c) => quoteIdent(c.name)).join(', ')}) OVERRIDING SYSTEM VALUE
              SELECT ${p.cols.map((c) => c.expr).join(', ')} FROM ${rowSource(p, p.allDeps, p.beforeImage, 1)}
              ON CONFLICT (${p.pk.map((k) => quoteIdent(p.cols[k].name)).join(', ')})
              DO ${sets.length ? `UPDATE SET ${sets.join(', ')}` : 'NOTHING'}`;
    });
    await chunks(rows, (chunk) => this.query(client, p, sql, values(p, p.allDeps, p.beforeImage, chunk)));
  }

  /**
   * UPDATE existing rows with the columns `mask` says are known: the number of rows updated, null when
   * there is nothing to set.
   */
  private async updateRows(client: Client, p: Prepared, mask: string, rows: Row[]): Promise<number | null> {
    const set = settable(p, mask);
    if (set.length === 0) return null;
    const cols = union([p.keyDeps, ...set.map((k) => p.cols[k].deps)]);
    const withOld = p.beforeImage && set.some((k) => p.cols[k].beforeImage);
    const sql = this.cached(
      p,
      `update:${mask}`,
      () =>
        `UPDATE ${p.relation} AS t SET ${set.map((k) => `${quoteIdent(p.cols[k].name)} = v.${outCol(k)}`).join(', ')}
           FROM (SELECT ${[
             ...p.keyExprs.map((x, i) => `${x} AS ${keyCol(i)}`),
             ...set.map((k) => `${p.cols[k].expr} AS ${outCol(k)}`),
           ].join(', ')} FROM ${rowSource(p, cols, withOld, 1)}) v
          WHERE ${keyMatch(p, 't', 'v')}`,
    );
    let updated = 0;
    await chunks(rows, async (chunk) => {
      updated += (await this.query(client, p, sql, values(p, cols, withOld, chunk))).rowCount ?? 0;
    });
    return updated;
  }

  /**
   * DELETE rows by key and return the indexes (into `rows`) of those not as expected: with `present`,
   * the rows that were missing; else the rows that were there (and are now deleted).
   */
  private async deleteExpected(
    client: Client,
    p: Prepared,
    rows: Row[],
    present: boolean,
  ): Promise<number[]> {
    const sql = this.cached(p, `delete-expected:${present}`, () => {
      const keys = (ord: boolean) =>
        `SELECT ${[...(ord ? [`s.${ORD}`] : []), ...p.keyExprs.map((x, i) => `${x} AS ${keyCol(i)}`)].join(
          ', ',
        )} FROM ${rowSource(p, p.keyDeps, false, 1, ord)}`;
      if (!present) {
        return `DELETE FROM ${p.relation} AS t USING (${keys(true)}) v WHERE ${keyMatch(p, 't', 'v')}
                RETURNING v.${ORD} AS i`;
      }
      return gated(
        p,
        `DELETE FROM ${p.relation} AS t USING (${keys(false)}) v WHERE ${keyMatch(p, 't', 'v')}`,
        keys(true),
        sourceParams(p.keyDeps, false) + 1,
        false,
      );
    });
    return this.unexpected(client, p, sql, rows, (chunk) => [
      ...values(p, p.keyDeps, false, chunk),
      ...(present ? [chunk.length] : []),
    ]);
  }

  /** INSERT full rows expected absent; the indexes (into `rows`) of those that were there (not written). */
  private async insertExpected(client: Client, p: Prepared, rows: Row[]): Promise<number[]> {
    const sql = this.cached(p, 'insert-expected', () =>
      gated(
        p,
        `INSERT INTO ${p.relation} (${p.cols.map((c) => quoteIdent(c.name)).join(', ')}) OVERRIDING SYSTEM VALUE
         SELECT ${p.cols.map((c) => c.expr).join(', ')} FROM ${rowSource(p, p.allDeps, p.beforeImage, 1)}
         ON CONFLICT (${p.pk.map((k) => quoteIdent(p.cols[k].name)).join(', ')}) DO NOTHING`,
        `SELECT ${[`s.${ORD}`, ...p.keyExprs.map((x, i) => `${x} AS ${keyCol(i)}`)].join(', ')}
           FROM ${rowSource(p, p.allDeps, p.beforeImage, 1, true)}`,
        sourceParams(p.allDeps, p.beforeImage) + 1,
        true,
      ),
    );
    return this.unexpected(client, p, sql, rows, (chunk) => [
      ...values(p, p.allDeps, p.beforeImage, chunk),
      chunk.length,
    ]);
  }

  /** Run a statement returning row indexes (`i`) per chunk: the indexes into `rows`, ascending. */
  private async unexpected(
    client: Client,
    p: Prepared,
    sql: string,
    rows: Row[],
    params: (chunk: Row[]) => unknown[],
  ): Promise<number[]> {
    const out: number[] = [];
    await chunks(rows, async (chunk, start) => {
      const res = await this.query<{ i: number }>(client, p, sql, params(chunk));
      for (const r of res.rows) out.push(start + r.i);
    });
    return out.sort((x, y) => x - y);
  }

  /** A key change of a row whose new image misses columns: UPDATE the row under its old key. */
  private async runMove(client: Client, run: Run, p: Prepared, op: NetOp, a: Attempt): Promise<void> {
    const row: Row = { img: op.row!, ...(op.old ? { old: op.old } : {}) };
    if (p.filter && filterKnown(p, row.img)) {
      const { passes } = await this.probe(client, p, [row], false);
      if (passes[0] !== true) {
        await this.deleteRows(client, p, [{ img: op.keyImg }]);
        a.applied++;
        return;
      }
    }
    const { mask } = rowMask(p, row);
    const set = p.cols.flatMap((c, k) => (mask[k] === '1' && c.updatable ? [k] : []));
    const cols = union(set.map((k) => p.cols[k].deps));
    const withOld = p.beforeImage && set.some((k) => p.cols[k].beforeImage);
    const newValues = values(p, cols, withOld, [row]);
    const sql = this.cached(
      p,
      `move:${mask}`,
      () =>
        `UPDATE ${p.relation} AS t SET ${set.map((k) => `${quoteIdent(p.cols[k].name)} = v.${outCol(k)}`).join(', ')}
           FROM (SELECT ${set.map((k) => `${p.cols[k].expr} AS ${outCol(k)}`).join(', ')}
                   FROM ${rowSource(p, cols, withOld, 1)}) v,
                (SELECT ${p.keyExprs.map((x, i) => `${x} AS ${keyCol(i)}`).join(', ')}
                   FROM ${rowSource(p, p.keyDeps, false, newValues.length + 1)}) o
          WHERE ${keyMatch(p, 't', 'o')}`,
    );
    const res = await this.query(client, p, sql, [
      ...newValues,
      ...values(p, p.keyDeps, false, [{ img: op.keyImg }]),
    ]);
    a.applied++;
    if (res.rowCount === 0 && !run.meta.tolerant && !p.filter) {
      this.conflict(
        run,
        a,
        p,
        'update-missing',
        keyJson(p, op.vals),
        'the row changed its key; it cannot be inserted as columns were not sent',
      );
    }
  }

  // ---- tables without a key -----------------------------------------------------------------

  /** Changes in source order: inserts in multi-row statements, each update/delete on one matching row. */
  private async runSequential(
    client: Client,
    run: Run,
    p: Prepared,
    ops: SeqOp[],
    a: Attempt,
  ): Promise<void> {
    const tolerant = run.meta.tolerant;
    let i = 0;
    while (i < ops.length && !a.suspend) {
      const op = ops[i];
      if (op.kind === 'insert') {
        let j = i;
        while (j < ops.length && ops[j].kind === 'insert') j++;
        await this.insertRows(
          client,
          p,
          ops.slice(i, j).map((o) => ({ img: o.img })),
          tolerant,
        );
        a.applied += j - i;
        i = j;
        continue;
      }
      i++;
      const old = op.kind === 'delete' ? op.img : op.old;
      const match = old ? matchColumns(p, old) : [];
      if (!old || match.length === 0) {
        this.conflict(
          run,
          a,
          p,
          'error',
          imageKey(p, old ?? op.img),
          'the change carries no old image to find the row by',
        );
        continue;
      }
      if (op.kind === 'delete') {
        const n = await this.deleteMatching(client, p, match, old);
        a.applied++;
        if (n === 0 && !tolerant && !p.filter) this.conflict(run, a, p, 'delete-missing', imageKey(p, old));
        continue;
      }
      const row: Row = { img: op.img, ...(old && isFull(p, old) ? { old } : {}) };
      const { mask, full } = rowMask(p, row);
      let pass: boolean | null = true;
      if (p.filter) {
        pass = filterKnown(p, row.img) ? (await this.probe(client, p, [row], false)).passes[0] : null;
      }
      if (pass === false) {
        await this.deleteMatching(client, p, match, old);
        a.applied++;
        continue;
      }
      const n = await this.updateMatching(client, p, match, mask, row, old);
      a.applied++;
      if (n > 0 || tolerant) continue;
      if (p.filter) {
        // Moved into the filter's range.
        if (pass === true && full) await this.insertRows(client, p, [row], false);
        continue;
      }
      const policy = this.conflict(run, a, p, 'update-missing', imageKey(p, old));
      if (policy === 'UPDATE_RECORD' && full) await this.insertRows(client, p, [row], false);
    }
  }

  private async insertRows(client: Client, p: Prepared, rows: Row[], tolerant: boolean): Promise<void> {
    // COPY inserts rows about twice as fast as INSERT ... SELECT (fewer WAL records, no casts in SQL).
    if (p.copySource && !tolerant) return this.copyRows(client, p, rows);
    const cols = union([p.allDeps, p.filter?.deps ?? []]);
    const withOld = p.beforeImage;
    const sql = this.cached(p, `insert:${tolerant}`, () => {
      const match = p.cols.flatMap((c, k) => (c.matchable ? [k] : []));
      const same = match
        .map((k) => `t.${quoteIdent(p.cols[k].name)}::text IS NOT DISTINCT FROM v.${outCol(k)}::text`)
        .join(' AND ');
      return `INSERT INTO ${p.relation} (${p.cols.map((c) => quoteIdent(c.name)).join(', ')}) OVERRIDING SYSTEM VALUE
              SELECT ${p.cols.map((_, k) => `v.${outCol(k)}`).join(', ')}
                FROM (SELECT ${[
                  ...p.cols.map((c, k) => `${c.expr} AS ${outCol(k)}`),
                  `${p.filter ? `(${p.filter.sql}) IS TRUE` : 'TRUE'} AS ${PASSES}`,
                ].join(', ')} FROM ${rowSource(p, cols, withOld, 1)}) v
               WHERE v.${PASSES}${
                 // Tolerant: a row that is already there (the same values) is taken to be this insert.
                 tolerant && same ? ` AND NOT EXISTS (SELECT 1 FROM ${p.relation} AS t WHERE ${same})` : ''
               }`;
    });
    await chunks(rows, (chunk) => this.query(client, p, sql, values(p, cols, withOld, chunk)));
  }

  /** Insert rows by COPY (a table whose columns are plain copies, see Prepared.copySource). */
  private async copyRows(client: Client, p: Prepared, rows: Row[]): Promise<void> {
    const names = p.copySource!.map((j) => p.src[j].name);
    const sql = `COPY ${p.relation} (${p.cols.map((c) => quoteIdent(c.name)).join(', ')}) FROM STDIN`;
    await chunks(rows, async (chunk) => {
      let text = '';
      for (const row of chunk) {
        for (let k = 0; k < names.length; k++) {
          if (k > 0) text += '\t';
          const v = own(row.img, names[k]);
          text +=
            v === null || v === undefined
              ? '\\N'
              : COPY_SPECIAL.test(v)
                ? v.replace(COPY_ESCAPES, copyEscape)
                : v;
        }
        text += '\n';
      }
      const t0 = TRACE ? Date.now() : 0;
      try {
        await new Promise<void>((resolve, reject) => {
          const stream = client.query(copyFrom(sql));
          stream.on('error', reject);
          stream.on('finish', resolve);
          stream.end(text);
        });
      } catch (err) {
        throw this.statementError(err, p);
      }
      if (TRACE) {
        process.stderr.write(
          `[trace]   ${Date.now() - t0} ms rows=${chunk.length} ${text.length >> 10}kB ${sql}\n`,
        );
      }
    });
  }

  /** `(tableoid, ctid)` of one target row whose matched columns equal the old image's (as text). */
  private oneRowSql(p: Prepared, match: number[], first: number): { sql: string; cols: number[] } {
    const cols = union(match.map((k) => p.cols[k].deps));
    const same = match
      .map((k) => `t2.${quoteIdent(p.cols[k].name)}::text IS NOT DISTINCT FROM o.${outCol(k)}::text`)
      .join(' AND ');
    return {
      cols,
      sql: `(SELECT t2.tableoid, t2.ctid FROM ${p.relation} AS t2,
               (SELECT ${match.map((k) => `${p.cols[k].expr} AS ${outCol(k)}`).join(', ')}
                  FROM ${rowSource(p, cols, false, first)}) o
              WHERE ${same} LIMIT 1)`,
    };
  }

  private async deleteMatching(client: Client, p: Prepared, match: number[], old: RowImage): Promise<number> {
    const one = this.oneRowSql(p, match, 1);
    const sql = this.cached(
      p,
      `delete-one:${match.join(',')}`,
      () => `DELETE FROM ${p.relation} AS t WHERE (t.tableoid, t.ctid) = ${one.sql}`,
    );
    const res = await this.query(client, p, sql, values(p, one.cols, false, [{ img: old }]));
    return res.rowCount ?? 0;
  }

  private async updateMatching(
    client: Client,
    p: Prepared,
    match: number[],
    mask: string,
    row: Row,
    old: RowImage,
  ): Promise<number> {
    const set = p.cols.flatMap((c, k) => (mask[k] === '1' && c.updatable ? [k] : []));
    if (set.length === 0) return 1;
    const cols = union(set.map((k) => p.cols[k].deps));
    const withOld = p.beforeImage && set.some((k) => p.cols[k].beforeImage);
    const newValues = values(p, cols, withOld, [row]);
    const one = this.oneRowSql(p, match, newValues.length + 1);
    const sql = this.cached(
      p,
      `update-one:${match.join(',')}:${mask}`,
      () =>
        `UPDATE ${p.relation} AS t SET ${set.map((k) => `${quoteIdent(p.cols[k].name)} = v.${outCol(k)}`).join(', ')}
           FROM (SELECT ${set.map((k) => `${p.cols[k].expr} AS ${outCol(k)}`).join(', ')}
                   FROM ${rowSource(p, cols, withOld, 1)}) v
          WHERE (t.tableoid, t.ctid) = ${one.sql}`,
    );
    const res = await this.query(client, p, sql, [
      ...newValues,
      ...values(p, one.cols, false, [{ img: old }]),
    ]);
    return res.rowCount ?? 0;
  }

  // ---- helpers ------------------------------------------------------------------------------

  private cached(p: Prepared, shape: string, build: () => string): string {
    let sql = p.sql.get(shape);
    if (sql === undefined) p.sql.set(shape, (sql = build()));
    return sql;
  }

  /** One statement; errors of the SQL the plan produced (class 42) become SCHEMA_MISMATCH. */
  private async query<R extends object = Record<string, unknown>>(
    client: Client,
    p: Prepared,
    sql: string,
    params: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }> {
    try {
      const t0 = TRACE ? Date.now() : 0;
      const res = await client.query({ name: statementName(sql), text: sql, values: params });
      if (TRACE) {
        const kb = params.reduce<number>((n, v) => n + (typeof v === 'string' ? v.length : 8), 0) >> 10;
        const text = sql.replace(/\s+/g, ' ').slice(0, 100);
        process.stderr.write(`[trace]   ${Date.now() - t0} ms rows=${res.rowCount} params=${kb}kB ${text}\n`);
      }
      return { rows: res.rows as R[], rowCount: res.rowCount };
    } catch (err) {
      throw this.statementError(err, p);
    }
  }

  /** Errors of the SQL the plan produced (class 42) become SCHEMA_MISMATCH; others stay as they are. */
  private statementError(err: unknown, p: Prepared): unknown {
    const code = pgCode(err);
    if (code?.startsWith('42') && code !== '42501') {
      return schemaError(
        err,
        `${displayName(p.plan.target.schema, p.plan.target.name)} (target of ${p.tableKey})`,
      );
    }
    return err;
  }
}

// ---- pure helpers ---------------------------------------------------------------------------

/**
 * Statements are prepared once per connection (node-postgres keeps named statements per connection):
 * a change list without compaction runs the same small statements thousands of times, and parsing and
 * planning them each time costs more than running them. One name per SQL text, for the process.
 */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) statementNames.set(sql, (name = `ferry_apply_${statementNames.size + 1}`));
  return name;
}

/** A boolean setting's value as SQL (current_setting gives 'on' or 'off'). */
function onOff(v: string): 'on' | 'off' {
  return v === 'off' ? 'off' : 'on';
}

/** A new net operation of one change (all of one shape, which keeps property access fast). */
function netOp(
  p: Prepared,
  key: string,
  first: NetOp['first'],
  final: NetOp['final'],
  row: RowImage | undefined,
  keyImg: RowImage,
): NetOp {
  const vals = p.pk.length === 1 ? [key] : (JSON.parse(key) as string[]);
  return { key, vals, first, n: 1, final, row, old: undefined, keyImg, reinserted: false };
}

function attempt(): Attempt {
  return { conflicts: [], applied: 0, suspend: false };
}

function counters(run: Run, table: TableKey): CdcTableCounters {
  let c = run.counters[table];
  if (!c)
    run.counters[table] = c = { inserts: 0, updates: 0, deletes: 0, truncates: 0, applied: 0, conflicts: 0 };
  return c;
}

/** An image's own value of a column (a column named like an Object.prototype member is just a column). */
function own(img: RowImage, name: string): string | null | undefined {
  // Values are strings or null; what Object.prototype holds under a name is neither.
  const v = img[name];
  return typeof v === 'string' || v === null ? v : undefined;
}

/** `base` with the values `img` sends laid over it (unsent columns keep base's values). */
function merge(base: RowImage, img: RowImage): RowImage {
  // Usually the image sends every column base has: it is the merge (no copy).
  let covers = true;
  for (const k in base) {
    if (base[k] !== undefined && own(img, k) === undefined) {
      covers = false;
      break;
    }
  }
  if (covers) return img;
  const out: RowImage = { ...base };
  for (const k of Object.keys(img)) if (img[k] !== undefined) out[k] = img[k];
  return out;
}

/** A new image whose unsent columns (unchanged TOAST) are taken from the full old image. */
function fill(p: Prepared, img: RowImage, old: RowImage): RowImage {
  let out: RowImage | undefined;
  for (const s of p.src) {
    if (own(img, s.name) === undefined && own(old, s.name) !== undefined) {
      out ??= { ...img };
      out[s.name] = old[s.name];
    }
  }
  return out ?? img;
}

/** An old image holding every (non-generated) source column: REPLICA IDENTITY FULL. */
function isFull(p: Prepared, img: RowImage): boolean {
  return p.src.every((s) => s.generated || own(img, s.name) !== undefined);
}

function filterKnown(p: Prepared, img: RowImage): boolean {
  return !p.filter || p.filter.deps.every((j) => own(img, p.src[j].name) !== undefined);
}

/** Which target columns a row determines ('1'/'0' per Prepared.cols), and whether all of them. */
function rowMask(p: Prepared, row: Row): { mask: string; full: boolean } {
  let mask = '';
  let full = true;
  for (const c of p.cols) {
    const img = c.beforeImage && row.old ? row.old : row.img;
    let ok = true;
    for (const j of c.deps) {
      if (own(img, p.src[j].name) === undefined) {
        ok = false;
        break;
      }
    }
    mask += ok ? '1' : '0';
    if (!ok) full = false;
  }
  return { mask, full };
}

/** Columns of a keyless table an old image can be matched on. */
function matchColumns(p: Prepared, old: RowImage): number[] {
  return p.cols.flatMap((c, k) =>
    c.matchable && c.deps.every((j) => own(old, p.src[j].name) !== undefined) ? [k] : [],
  );
}

function union(lists: number[][]): number[] {
  return [...new Set(lists.flat())].sort((a, b) => a - b);
}

/**
 * The rows of a statement as a relation `s` whose columns carry the source column names, cast to the
 * source types: one text[] parameter per source column (from `$first`), unnested together. With
 * `withOld`, the old image's columns too (`ferry#o<j>`) and whether the row has one (`ferry#h`). With
 * `ord`, each row's index in the list (`ferry#i`, from 0) too. A statement without source columns gets
 * the indexes as its one parameter (the row count has to come from somewhere).
 */
function rowSource(p: Prepared, cols: number[], withOld: boolean, first: number, ord = false): string {
  if (cols.length === 0 && !withOld) {
    return `(SELECT u.${ORD} FROM unnest($${first}::int4[]) AS u(${ORD})) s`;
  }
  let n = first;
  const args: string[] = [];
  const names: string[] = [];
  const select: string[] = [];
  for (const j of cols) {
    args.push(`$${n++}::text[]`);
    names.push(rawCol(j));
    select.push(`(u.${rawCol(j)})::${p.src[j].cast} AS ${quoteIdent(p.src[j].name)}`);
  }
  if (withOld) {
    for (const j of cols) {
      args.push(`$${n++}::text[]`);
      names.push(oldCol(j));
      select.push(`(u.${oldCol(j)})::${p.src[j].cast} AS ${oldCol(j)}`);
    }
    args.push(`$${n}::boolean[]`);
    names.push(HAS_OLD);
    select.push(`u.${HAS_OLD}`);
  }
  if (ord) {
    names.push(ORD);
    select.push(`(u.${ORD} - 1)::int4 AS ${ORD}`);
  }
  return `(SELECT ${select.join(', ')} FROM unnest(${args.join(', ')})${ord ? ' WITH ORDINALITY' : ''} AS u(${names.join(', ')})) s`;
}

/** How many parameters rowSource takes. */
function sourceParams(cols: number[], withOld: boolean): number {
  return cols.length === 0 && !withOld ? 1 : cols.length * (withOld ? 2 : 1) + (withOld ? 1 : 0);
}

/**
 * The parameters of rowSource for `rows`: each column's values (unsent → NULL), as array literals built
 * here (node-postgres would escape every element with two regular expressions and check its type).
 */
function values(p: Prepared, cols: number[], withOld: boolean, rows: readonly Row[]): string[] {
  const n = rows.length;
  if (cols.length === 0 && !withOld) {
    const ord = new Array<number>(n);
    for (let i = 0; i < n; i++) ord[i] = i;
    return [`{${ord.join(',')}}`];
  }
  const out: string[] = [];
  for (const j of cols) out.push(textArray(rows, p.src[j].name, false));
  if (withOld) {
    for (const j of cols) out.push(textArray(rows, p.src[j].name, true));
    out.push(`{${rows.map((r) => (r.old !== undefined ? 't' : 'f')).join(',')}}`);
  }
  return out;
}

const ARRAY_SPECIAL = /["\\]/g;

/** Characters COPY's text format escapes (backslash, tab, newline, carriage return). */
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES = /[\\\t\n\r]/g;
const COPY_ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const copyEscape = (c: string): string => COPY_ESCAPED[c];

/** A text[] literal of one column of `rows` (their new or old image); an unsent or NULL value is NULL. */
function textArray(rows: readonly Row[], name: string, old: boolean): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    if (i > 0) out += ',';
    const img = old ? rows[i].old : rows[i].img;
    const v = img === undefined ? undefined : own(img, name);
    if (v === null || v === undefined) out += 'NULL';
    else if (v.includes('"') || v.includes('\\')) out += '"' + v.replace(ARRAY_SPECIAL, '\\$&') + '"';
    else out += '"' + v + '"';
  }
  return out + '}';
}

/**
 * A data-modifying statement that reports the rows whose key was not as expected before it ran:
 * `dml` runs over the rows; `keys` (the rows' `ferry#i` and key values `ferry#k<i>`, over the same
 * parameters) is read only when `dml` touched fewer rows than were sent (parameter `$count`), and the
 * statement returns the rows whose key was there (`there`) or absent (else). All parts of a statement
 * see the table as it was before it: the rows `dml` wrote or deleted are not seen by the check.
 */
function gated(p: Prepared, dml: string, keys: string, count: number, there: boolean): string {
  return `WITH d AS (${dml} RETURNING 1)
          SELECT v.${ORD} AS i FROM (${keys}) v
           WHERE (SELECT count(*) FROM d) < $${count}::int8
             AND ${there ? '' : 'NOT '}EXISTS (SELECT 1 FROM ${p.relation} AS t WHERE ${keyMatch(p, 't', 'v')})`;
}

/** Target columns (indexes into Prepared.cols) an UPDATE of a row with `mask` sets. */
function settable(p: Prepared, mask: string): number[] {
  let set = p.sets.get(mask);
  if (!set)
    p.sets.set(mask, (set = p.cols.flatMap((c, k) => (mask[k] === '1' && !c.key && c.updatable ? [k] : []))));
  return set;
}

const INTEGER = /^-?\d{1,15}$/;

/**
 * Sort operation indexes by key (numerically when all keys are single integers): the statements then
 * visit the target's key index and table in order, which is faster than at random. Only speed depends
 * on it: any order is correct.
 */
function sortByKey(ops: NetOp[], idx: number[]): void {
  if (idx.length < 2) return;
  let numeric = true;
  for (const i of idx) {
    const vals = ops[i].vals;
    if (vals.length !== 1 || !INTEGER.test(vals[0])) {
      numeric = false;
      break;
    }
  }
  if (numeric) {
    const num = new Float64Array(ops.length);
    for (const i of idx) num[i] = Number(ops[i].vals[0]);
    idx.sort((x, y) => num[x] - num[y]);
  } else idx.sort((x, y) => (ops[x].key < ops[y].key ? -1 : ops[x].key > ops[y].key ? 1 : 0));
}

function allIndexes(n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

function keyMatch(p: Prepared, t: string, v: string): string {
  return p.pk.map((k, i) => `${t}.${quoteIdent(p.cols[k].name)} = ${v}.${keyCol(i)}`).join(' AND ');
}

/** A conflict's key: the target key columns and their values, as JSON. */
function keyJson(p: Prepared, vals: string[]): string {
  const o: Record<string, string> = {};
  p.pk.forEach((k, i) => (o[p.cols[k].name] = vals[i]));
  return JSON.stringify(o);
}

/** A row's identification when there is no key: the plain columns it sends, by target name. */
function imageKey(p: Prepared, img: RowImage): string {
  const o: Record<string, string | null> = {};
  for (const c of p.plan.columns) {
    if (c.source === undefined || c.beforeImageOf !== undefined) continue;
    const v = own(img, c.source);
    if (v !== undefined) o[c.target] = v;
  }
  return JSON.stringify(o);
}

/** Limited LOB mode: the full load's cut of text/bytea (json, jsonb, xml above the limit become NULL). */
function lobCut(plan: TablePlan, c: ColumnPlan, baseType: string | undefined, x: string): string {
  if (plan.lob.mode !== 'limited' || !(plan.lob.maxBytes > 0)) return x;
  const max = Math.floor(plan.lob.maxBytes);
  switch (baseType) {
    case 'text':
      return `(left(${x}, ${Math.max(1, Math.floor(max / 2))}))::${c.type}`;
    case 'bytea':
      return `(substring(${x} FROM 1 FOR ${max}))::${c.type}`;
    case 'json':
    case 'jsonb':
    case 'xml':
      return `(CASE WHEN octet_length((${x})::text) > ${max} THEN NULL ELSE ${x} END)::${c.type}`;
    default:
      return x;
  }
}

async function chunks<T>(
  rows: readonly T[],
  run: (chunk: T[], start: number) => Promise<unknown>,
): Promise<void> {
  for (let start = 0; start < rows.length; start += APPLY_CHUNK_ROWS) {
    await run(rows.slice(start, start + APPLY_CHUNK_ROWS), start);
  }
}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A value the target refuses (classes 21 cardinality, 22 data exception, 23 integrity violation). */
function isDataError(err: unknown): boolean {
  const code = pgCode(err);
  return !!code && (code.startsWith('21') || code.startsWith('22') || code.startsWith('23'));
}

function serverMessage(err: unknown): string {
  const e = err as { message?: string; detail?: string; code?: string };
  return `${e.message ?? String(err)}${e.detail ? ` (${e.detail})` : ''}${e.code ? ` [SQLSTATE ${e.code}]` : ''}`;
}

function schemaError(err: unknown, where: string): FerryError {
  if (err instanceof FerryError) return err;
  return schemaMismatch(where, serverMessage(err), err);
}

function schemaMismatch(where: string, what: string, cause?: unknown): FerryError {
  return new FerryError(
    ErrorType.SCHEMA_MISMATCH,
    `${where}: ${what}; the target does not match the plan: create the target schema ` +
      `(createPreData) from the same plan, or recompile the plan against the current source`,
    cause !== undefined ? { cause } : undefined,
  );
}

/** A target column of a table catalogSql looked up (`t`: the table's place in the list, from 1). */
interface CatalogRow {
  t: number;
  found: boolean;
  name: string | null;
  generated: string;
  identity: string;
  typid: string;
  /** The column's type as SQL (format_type). */
  type: string;
}

/**
 * The columns of target tables, for the simple-protocol query apply() starts with (so the names are
 * literals): a row per column, one row with `found` false for a table that does not exist.
 */
function catalogSql(relations: string[]): string {
  const literal = (s: string) => `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  return `SELECT r.n::int4 AS t, c.oid IS NOT NULL AS found, a.attname AS name,
                 a.attgenerated::text AS generated, a.attidentity::text AS identity,
                 a.atttypid::int8::text AS typid, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
            FROM unnest(ARRAY[${relations.map(literal).join(', ')}]::text[]) WITH ORDINALITY AS r(rel, n)
            CROSS JOIN LATERAL (SELECT pg_catalog.to_regclass(r.rel) AS oid) c
            LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY r.n`;
}

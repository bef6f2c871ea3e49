// The contract between the mapping compiler and the native engine: the live source catalog the
// compiler reads, and the plan it produces. Plain data (JSON-serialisable), no Temporal, no I/O.
//
// Glossary:
//   catalog   what exists on the source: tables, columns, keys, partitions, sizes (read by engine/catalog)
//   rule      one entry of a DMS table-mapping file (selection | transformation | table-settings)
//   plan      per selected source table: target names and types, columns, row filter, segments
//   segment   a slice of one table copied by one COPY (a PK range, a ctid range, a partition, a DMS range)

/** One column as the source catalog describes it. */
export interface CatalogColumn {
  name: string;
  /** 1-based attnum order of the table. */
  position: number;
  /** format_type(atttypid, atttypmod), e.g. 'numeric(12,2)', 'sales.order_status', 'text[]'. */
  type: string;
  /** Schema-qualified base type name for user-defined types (enum/domain/composite), else undefined. */
  userType?: { schema: string; name: string; kind: 'enum' | 'domain' | 'composite' | 'range' | 'base' };
  nullable: boolean;
  /** pg_get_expr of the default, if any (sequences: nextval(...)). */
  default?: string;
  identity?: 'always' | 'by-default';
  /** Stored generated column expression: never copied, recomputed on the target. */
  generated?: string;
  /** True for types DMS calls LOBs: text, bytea, jsonb, json, xml, and arrays of those. */
  lob: boolean;
}

export interface CatalogTable {
  schema: string;
  name: string;
  kind: 'table' | 'partitioned' | 'partition' | 'view';
  /** For a partition: its parent. */
  parent?: { schema: string; name: string };
  /** For a partitioned table: its leaf partitions. */
  partitions?: { schema: string; name: string }[];
  columns: CatalogColumn[];
  /** Primary key column names in key order; empty if none. */
  primaryKey: string[];
  /** Unique indexes usable as a key (all columns NOT NULL), by index name. */
  uniqueKeys: { name: string; columns: string[] }[];
  replicaIdentity: 'default' | 'full' | 'index' | 'nothing';
  estimatedRows: number;
  /** pg_table_size: heap + toast, without indexes. */
  bytes: number;
}

export interface SourceCatalog {
  database: string;
  serverVersion: string;
  serverMajor: number;
  tables: CatalogTable[];
}

/** How one target column is produced. */
export interface ColumnPlan {
  /** Source column name; undefined for an `add-column` without a plain source column. */
  source?: string;
  target: string;
  /** Target type as PostgreSQL SQL, e.g. 'bigint', 'character varying(50)'. */
  type: string;
  /**
   * SQL expression over the source row, evaluated in the source SELECT, when the value is not the
   * plain source column (add-column expression, change-data-type cast). Source column references
   * are already quoted identifiers.
   */
  expression?: string;
  nullable: boolean;
  /** Rule ids that shaped this column (for the explain view). */
  rules: string[];
  /**
   * (added) Set, to the source generation expression, for a STORED GENERATED source column. Such a
   * column stays in the plan so the target is created with it, but it is never copied: the engine
   * leaves it out of the COPY column list, `expression` is undefined, and the target recomputes the
   * value (copying it fails: "cannot insert a non-DEFAULT value into column").
   */
  generated?: string;
  /** (added) `add-before-image-columns`: the target column this one images (full load: its current value). */
  beforeImageOf?: string;
  /** (added) Data-masking action applied; validation skips masked columns, as DMS does. */
  masking?: 'digits-mask' | 'digits-randomize' | 'hash-mask';
  /**
   * (added) DMS `$AR_H_*` headers the expression uses. Their full-load values are baked into
   * `expression` ('INSERT', now(), ''); a CDC apply that evaluates it per change must substitute them.
   */
  headers?: string[];
}

/** A row filter compiled from DMS `filters`: `sql` uses $1..$n, bound to `params` in order. */
export interface RowFilter {
  sql: string;
  params: string[];
  /** The source columns the filter reads (CDC needs them to decide in/out of range). */
  columns: string[];
}

export type SegmentMethod = 'none' | 'pk-range' | 'ctid-range' | 'partitions' | 'ranges';

export interface SegmentPlan {
  method: SegmentMethod;
  /** Target number of segments (the engine computes boundaries from live data for pk/ctid). */
  count: number;
  /** `ranges`: DMS range columns and boundaries, verbatim from the table-settings rule. */
  columns?: string[];
  boundaries?: string[][];
  /** `partitions`: the source partitions copied one per segment. */
  partitions?: { schema: string; name: string }[];
  /**
   * (added) `ranges`: one predicate per segment (boundaries.length + 1), the WHERE clauses DMS builds,
   * each numbered from $1; combine with the table filter through `andRowFilters` (src/mapping).
   * For `pk-range`, `columns` holds the key columns (source names) the engine splits on.
   */
  predicates?: RowFilter[];
}

export interface LobPlan {
  /** DMS limited LOB mode truncates LOBs above `maxBytes`; full copies everything. */
  mode: 'limited' | 'full' | 'none';
  maxBytes: number;
}

export interface TablePlan {
  source: { schema: string; name: string; kind: CatalogTable['kind'] };
  target: { schema: string; name: string };
  columns: ColumnPlan[];
  /** Target primary key column names (source PK renamed, or `define-primary-key`). */
  primaryKey: string[];
  filter?: RowFilter;
  segments: SegmentPlan;
  lob: LobPlan;
  /** `load-order` from the selection rule: higher loads first (DMS semantics). */
  loadOrder: number;
  estimatedRows: number;
  bytes: number;
  rules: string[];
  /** (added) Source columns not copied and why: removed by a rule, outside include-column mode, LOBs off. */
  removedColumns?: { source: string; reason: string; rule?: string }[];
  /** (added) `define-primary-key`: the key the target gets (origin unique-index leaves `primaryKey` as is). */
  keyDefinition?: { name: string; origin: 'primary-key' | 'unique-index'; columns: string[]; rule: string };
}

export interface SkippedTable {
  schema: string;
  name: string;
  reason: string;
  rule?: string;
}

export type TargetTablePrepMode = 'DO_NOTHING' | 'DROP_AND_CREATE' | 'TRUNCATE_BEFORE_LOAD';

/** The task settings the native engine honours, normalised with DMS defaults. */
export interface EngineSettings {
  targetSchema: string;
  supportLobs: boolean;
  fullLobMode: boolean;
  lobChunkSizeKb: number;
  limitedSizeLobMode: boolean;
  lobMaxSizeKb: number;
  targetTablePrepMode: TargetTablePrepMode;
  createPkAfterFullLoad: boolean;
  maxFullLoadSubTasks: number;
  commitRate: number;
  stopTaskCachedChangesApplied: boolean;
  stopTaskCachedChangesNotApplied: boolean;
  batchApplyEnabled: boolean;
  parallelLoadThreads: number;
  /** ErrorBehavior, verbatim keys with DMS defaults. */
  errorBehavior: Record<string, string | number | boolean>;
  /** ChangeProcessingTuning, verbatim keys with DMS defaults. */
  changeProcessingTuning: Record<string, number | boolean>;
  /** ValidationSettings, verbatim keys with DMS defaults. */
  validation: Record<string, string | number | boolean>;
}

export interface Finding {
  severity: 'error' | 'warning' | 'info';
  /** e.g. 'rules[3].filters[0].column-name' or 'TargetMetadata.LobMaxSize'. */
  field: string;
  message: string;
  rule?: string;
}

export interface MigrationPlan {
  tables: TablePlan[];
  skipped: SkippedTable[];
  settings: EngineSettings;
  /** Warnings and infos: DMS would not run this, a key is ignored, a LOB may be truncated. */
  findings: Finding[];
}

// ---- The parsed, validated DMS table-mapping file --------------------------------------------

export type FilterOperator =
  'lte' | 'ste' | 'gte' | 'eq' | 'noteq' | 'between' | 'notbetween' | 'null' | 'notnull';

export interface FilterCondition {
  operator: FilterOperator;
  /** lte/ste/gte/eq/noteq. */
  value?: string;
  /** between/notbetween (inclusive bounds). */
  start?: string;
  end?: string;
}

/** One DMS `filters[]` entry: its conditions are OR-ed; the filters of a rule are AND-ed. */
export interface SourceFilter {
  column: string;
  conditions: FilterCondition[];
}

/** Where a rule sits in the file, for messages: `rules[2] (rule-id 3)`. */
export interface RuleRef {
  /** Position in the file's `rules` array. */
  index: number;
  /** `rule-id` as written (numeric; kept as a string). */
  id: string;
  name: string;
}

export interface SelectionRule extends RuleRef {
  type: 'selection';
  action: 'include' | 'exclude' | 'explicit';
  /** DMS patterns (`%`, `_`, `[_]`, `[ab]`, `[a-d]`) for include/exclude; exact names for explicit. */
  schema: string;
  table: string;
  tableType: 'table' | 'view' | 'all';
  /** `load-order`, 0 when absent. */
  loadOrder: number;
  filters: SourceFilter[];
}

export type TransformationAction =
  | 'rename'
  | 'convert-lowercase'
  | 'convert-uppercase'
  | 'add-prefix'
  | 'remove-prefix'
  | 'replace-prefix'
  | 'add-suffix'
  | 'remove-suffix'
  | 'replace-suffix'
  | 'remove-column'
  | 'include-column'
  | 'add-column'
  | 'change-data-type'
  | 'define-primary-key'
  | 'add-before-image-columns'
  | 'data-masking-digits-mask'
  | 'data-masking-digits-randomize'
  | 'data-masking-hash-mask';

/** A DMS data type (`data-type` of add-column / change-data-type). */
export interface DmsDataType {
  type: string;
  length?: number;
  precision?: number;
  scale?: number;
}

export interface TransformationRule extends RuleRef {
  type: 'transformation';
  action: TransformationAction;
  target: 'schema' | 'table' | 'column';
  locator: { schema: string; table?: string; column?: string; dataType?: string };
  value?: string;
  oldValue?: string;
  dataType?: DmsDataType;
  /** SQLite expression as written (add-column); translated per table at compile time. */
  expression?: string;
  primaryKey?: { name: string; origin: 'primary-key' | 'unique-index'; columns: string[] };
  beforeImage?: { prefix: string; suffix: string; filter: 'pk-only' | 'non-lob' | 'all' };
}

export type ParallelLoad =
  | { type: 'none' }
  | { type: 'ranges'; columns: string[]; boundaries: string[][] }
  | { type: 'partitions-auto' }
  | { type: 'partitions-list'; partitions: string[] };

export interface TableSettingsRule extends RuleRef {
  type: 'table-settings';
  schema: string;
  table: string;
  parallelLoad?: ParallelLoad;
  lob?: { mode: 'limited' | 'unlimited' | 'none'; bulkMaxSizeKb: number };
}

export type MappingRule = SelectionRule | TransformationRule | TableSettingsRule;

/** A table-mapping file after parseTableMapping: every rule validated, in file order. */
export interface TableMapping {
  /** The file name messages start with. */
  file: string;
  rules: MappingRule[];
  /** Warnings found while parsing (unknown keys, rules DMS would not run on a PostgreSQL source). */
  findings: Finding[];
  /** True for the built-in default (no mapping file): include %.% minus system schemas. */
  implicit: boolean;
}

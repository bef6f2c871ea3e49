// DMS task-settings JSON → EngineSettings: one registry of every key Ferry knows (type, DMS default,
// range, whether the native engine honours it and why not), validated at start-up so every problem
// in the file is reported at once. Wrong types and values are errors; unknown keys and keys the
// native engine does not act on are warnings.
import { Problems, closest, show } from './problems';
import type { EngineSettings, Finding, TargetTablePrepMode } from './types';

type Kind = 'boolean' | 'integer' | 'string' | 'enum' | 'list' | 'object';

interface KeySpec {
  kind: Kind;
  /** DMS default (used when the key is absent or null). */
  default: unknown;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** A word on the range for messages, when min/max alone would mislead. */
  range?: string;
  /**
   * Why the native engine does not act on this key. Undefined: honoured (or passed through to the
   * engine verbatim). A key with a reason is warned about when set to something other than its default.
   */
  unsupported?: string;
}

const POLICY = ['IGNORE_RECORD', 'LOG_ERROR', 'SUSPEND_TABLE', 'STOP_TASK'] as const;

const CONTROL_TABLES =
  'Ferry keeps its control state in the `ferry` schema on the target and in Temporal history; the DMS awsdms_* control tables are not created';
const STREAM_BUFFERS =
  'stream buffers size the memory of a DMS replication instance; Ferry workers stream COPY';
const NON_RDBMS = 'DMS uses it only for non-relational targets (Kinesis, Kafka, OpenSearch, ...)';
const LOGGING =
  'Ferry logs through its workers and Temporal history; DMS task logging and CloudWatch log groups do not apply';

/**
 * Every DMS task-settings key Ferry knows, by section. Defaults from the DMS user guide's task-settings
 * pages and their documented example file (dms-formats.md §2); where the text and the example differ,
 * the current exported-task values are used.
 */
const REGISTRY: Record<string, Record<string, KeySpec>> = {
  TargetMetadata: {
    TargetSchema: { kind: 'string', default: '' },
    SupportLobs: { kind: 'boolean', default: true },
    FullLobMode: { kind: 'boolean', default: false },
    LobChunkSize: { kind: 'integer', default: 64, min: 0, max: 102400 },
    LimitedSizeLobMode: { kind: 'boolean', default: true },
    LobMaxSize: { kind: 'integer', default: 32, min: 0, max: 102400 },
    InlineLobMaxSize: {
      kind: 'integer',
      default: 0,
      min: 0,
      max: 102400,
      unsupported:
        'Ferry copies every LOB inline in its COPY stream; there is no separate LOB lookup to tune',
    },
    LoadMaxFileSize: {
      kind: 'integer',
      default: 0,
      min: 0,
      unsupported: 'Ferry streams COPY between the databases; it writes no intermediate CSV files',
    },
    BatchApplyEnabled: { kind: 'boolean', default: false },
    ParallelLoadThreads: { kind: 'integer', default: 0, min: 0, max: 32 },
    ParallelLoadBufferSize: { kind: 'integer', default: 0, min: 0, unsupported: NON_RDBMS },
    ParallelLoadQueuesPerThread: { kind: 'integer', default: 0, min: 0, unsupported: NON_RDBMS },
    ParallelApplyThreads: { kind: 'integer', default: 0, min: 0, unsupported: NON_RDBMS },
    ParallelApplyBufferSize: { kind: 'integer', default: 0, min: 0, unsupported: NON_RDBMS },
    ParallelApplyQueuesPerThread: { kind: 'integer', default: 0, min: 0, unsupported: NON_RDBMS },
    TaskRecoveryTableEnabled: {
      kind: 'boolean',
      default: false,
      unsupported: 'Ferry always records its apply position in the `ferry` schema on the target',
    },
  },
  FullLoadSettings: {
    TargetTablePrepMode: {
      kind: 'enum',
      default: 'DO_NOTHING',
      values: ['DO_NOTHING', 'DROP_AND_CREATE', 'TRUNCATE_BEFORE_LOAD'],
    },
    CreatePkAfterFullLoad: { kind: 'boolean', default: false },
    StopTaskCachedChangesApplied: { kind: 'boolean', default: false },
    StopTaskCachedChangesNotApplied: { kind: 'boolean', default: false },
    MaxFullLoadSubTasks: { kind: 'integer', default: 8, min: 1, max: 49 },
    TransactionConsistencyTimeout: {
      kind: 'integer',
      default: 600,
      min: 0,
      unsupported:
        'Ferry reads the whole full load from one exported snapshot, so it never waits for open transactions to finish',
    },
    CommitRate: { kind: 'integer', default: 10000, min: 1, max: 50000 },
  },
  Logging: {
    EnableLogging: { kind: 'boolean', default: false, unsupported: LOGGING },
    EnableLogContext: { kind: 'boolean', default: false, unsupported: LOGGING },
    LogComponents: { kind: 'list', default: undefined },
    CloudWatchLogGroup: { kind: 'string', default: undefined },
    CloudWatchLogStream: { kind: 'string', default: undefined },
    DeleteTaskLogs: { kind: 'boolean', default: undefined },
  },
  ControlTablesSettings: {
    ControlSchema: { kind: 'string', default: '', unsupported: CONTROL_TABLES },
    HistoryTimeslotInMinutes: { kind: 'integer', default: 5, min: 1, unsupported: CONTROL_TABLES },
    // DMS's own DescribeReplicationTasks output carries this lower-case duplicate; accepted silently.
    historyTimeslotInMinutes: { kind: 'integer', default: undefined, min: 1 },
    HistoryTableEnabled: { kind: 'boolean', default: false, unsupported: CONTROL_TABLES },
    SuspendedTablesTableEnabled: { kind: 'boolean', default: false, unsupported: CONTROL_TABLES },
    StatusTableEnabled: { kind: 'boolean', default: false, unsupported: CONTROL_TABLES },
    FullLoadExceptionTableEnabled: { kind: 'boolean', default: false, unsupported: CONTROL_TABLES },
  },
  StreamBufferSettings: {
    StreamBufferCount: { kind: 'integer', default: 3, min: 1, unsupported: STREAM_BUFFERS },
    StreamBufferSizeInMB: { kind: 'integer', default: 8, min: 1, unsupported: STREAM_BUFFERS },
    CtrlStreamBufferSizeInMB: { kind: 'integer', default: 5, min: 1, unsupported: STREAM_BUFFERS },
  },
  ChangeProcessingTuning: {
    BatchApplyPreserveTransaction: { kind: 'boolean', default: true },
    BatchApplyTimeoutMin: { kind: 'integer', default: 1, min: 0 },
    BatchApplyTimeoutMax: { kind: 'integer', default: 30, min: 1 },
    BatchApplyMemoryLimit: { kind: 'integer', default: 500, min: 1 },
    BatchSplitSize: { kind: 'integer', default: 0, min: 0 },
    MinTransactionSize: { kind: 'integer', default: 1000, min: 1 },
    CommitTimeout: { kind: 'integer', default: 1, min: 1 },
    MemoryLimitTotal: { kind: 'integer', default: 1024, min: 1 },
    MemoryKeepTime: { kind: 'integer', default: 60, min: 1 },
    StatementCacheSize: { kind: 'integer', default: 50, min: 0, max: 200 },
  },
  ChangeProcessingDdlHandlingPolicy: {
    HandleSourceTableDropped: {
      kind: 'boolean',
      default: true,
      unsupported: 'source DDL is not captured by logical replication; Ferry does not replay DDL',
    },
    HandleSourceTableTruncated: {
      kind: 'boolean',
      default: true,
      unsupported: 'source DDL is not captured by logical replication; Ferry does not replay DDL',
    },
    HandleSourceTableAltered: {
      kind: 'boolean',
      default: true,
      unsupported: 'source DDL is not captured by logical replication; Ferry does not replay DDL',
    },
  },
  ValidationSettings: {
    EnableValidation: { kind: 'boolean', default: false },
    ValidationMode: { kind: 'enum', default: 'ROW_LEVEL', values: ['ROW_LEVEL', 'GROUP_LEVEL'] },
    ThreadCount: { kind: 'integer', default: 5, min: 1 },
    PartitionSize: { kind: 'integer', default: 10000, min: 1 },
    FailureMaxCount: { kind: 'integer', default: 10000, min: 0 },
    TableFailureMaxCount: { kind: 'integer', default: 1000, min: 0 },
    RecordFailureDelayInMinutes: { kind: 'integer', default: 5, min: 0 },
    RecordFailureDelayLimitInMinutes: { kind: 'integer', default: 0, min: 0 },
    RecordSuspendDelayInMinutes: { kind: 'integer', default: 30, min: 0 },
    MaxKeyColumnSize: { kind: 'integer', default: 8096, min: 1 },
    HandleCollationDiff: { kind: 'boolean', default: false },
    SkipLobColumns: { kind: 'boolean', default: false },
    ValidationPartialLobSize: { kind: 'integer', default: 0, min: 0 },
    ValidationQueryCdcDelaySeconds: { kind: 'integer', default: 0, min: 0 },
    ValidationOnly: { kind: 'boolean', default: false },
  },
  ErrorBehavior: {
    DataErrorPolicy: { kind: 'enum', default: 'LOG_ERROR', values: POLICY },
    DataTruncationErrorPolicy: { kind: 'enum', default: 'LOG_ERROR', values: POLICY },
    DataMaskingErrorPolicy: { kind: 'enum', default: 'STOP_TASK', values: POLICY },
    DataErrorEscalationPolicy: {
      kind: 'enum',
      default: 'SUSPEND_TABLE',
      values: ['SUSPEND_TABLE', 'STOP_TASK'],
    },
    DataErrorEscalationCount: { kind: 'integer', default: 0, min: 0 },
    EventErrorPolicy: { kind: 'enum', default: 'IGNORE', values: ['IGNORE', 'STOP_TASK'] },
    TableErrorPolicy: { kind: 'enum', default: 'SUSPEND_TABLE', values: ['SUSPEND_TABLE', 'STOP_TASK'] },
    TableErrorEscalationPolicy: { kind: 'enum', default: 'STOP_TASK', values: ['STOP_TASK'] },
    TableErrorEscalationCount: { kind: 'integer', default: 0, min: 0 },
    RecoverableErrorCount: {
      kind: 'integer',
      default: -1,
      min: -1,
      range: '-1 (retry forever), 0 (never) or more',
    },
    RecoverableErrorInterval: { kind: 'integer', default: 5, min: 1 },
    RecoverableErrorThrottling: { kind: 'boolean', default: true },
    RecoverableErrorThrottlingMax: { kind: 'integer', default: 1800, min: 1 },
    RecoverableErrorStopRetryAfterThrottlingMax: { kind: 'boolean', default: true },
    ApplyErrorDeletePolicy: { kind: 'enum', default: 'IGNORE_RECORD', values: POLICY },
    ApplyErrorInsertPolicy: { kind: 'enum', default: 'LOG_ERROR', values: [...POLICY, 'INSERT_RECORD'] },
    ApplyErrorUpdatePolicy: { kind: 'enum', default: 'LOG_ERROR', values: [...POLICY, 'UPDATE_RECORD'] },
    ApplyErrorEscalationPolicy: {
      kind: 'enum',
      default: 'LOG_ERROR',
      values: ['LOG_ERROR', 'SUSPEND_TABLE', 'STOP_TASK'],
    },
    ApplyErrorEscalationCount: { kind: 'integer', default: 0, min: 0 },
    ApplyErrorFailOnTruncationDdl: { kind: 'boolean', default: false },
    FailOnNoTablesCaptured: { kind: 'boolean', default: false },
    FailOnTransactionConsistencyBreached: { kind: 'boolean', default: false },
    FullLoadIgnoreConflicts: { kind: 'boolean', default: true },
  },
};

/** Top-level keys that are not sections (DMS exports carry them, usually null). */
const TOP_LEVEL: Record<string, KeySpec> = {
  TTSettings: {
    kind: 'object',
    default: null,
    unsupported: 'Time Travel writes DMS task data to S3; Ferry keeps history in Temporal',
  },
  BeforeImageSettings: {
    kind: 'object',
    default: null,
    unsupported:
      'before images are written to Kinesis/Kafka targets; use an add-before-image-columns rule instead',
  },
  LoopbackPreventionSettings: {
    kind: 'object',
    default: null,
    unsupported:
      'loop-back prevention is for bidirectional DMS tasks; Ferry fallback replication tags its own changes',
  },
  CharacterSetSettings: {
    kind: 'object',
    default: null,
    unsupported:
      'character substitution applies to DMS character-set conversion; PostgreSQL→PostgreSQL copies text unchanged',
  },
  PostProcessingRules: {
    kind: 'object',
    default: null,
    unsupported: 'DMS post-processing rules are not documented for relational targets',
  },
  FailTaskWhenCleanTaskResourceFailed: {
    kind: 'boolean',
    default: false,
    unsupported: 'Ferry cleans up through its compensation steps, which report their own failures',
  },
};

/** The settings DMS applies when a task has no settings file. */
export function defaultEngineSettings(): EngineSettings {
  return parseTaskSettings({}, '(default settings)').settings;
}

/**
 * Validate a DMS task-settings document. Returns the normalised settings and warnings; throws
 * FerryError CONFIG_INVALID listing every error (one per line: file, key, what, fix).
 */
export function parseTaskSettings(
  json: unknown,
  file: string,
): { settings: EngineSettings; findings: Finding[] } {
  const problems = new Problems(file);
  const values: Record<string, Record<string, unknown>> = {};
  for (const section of Object.keys(REGISTRY)) values[section] = {};

  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    problems.error(
      '(top level)',
      `got ${show(json)}; a task-settings file is a JSON object such as {"TargetMetadata": {...}}`,
    );
    problems.throwIfAny();
  }
  const root = json as Record<string, unknown>;
  const sectionNames = [...Object.keys(REGISTRY), ...Object.keys(TOP_LEVEL)];

  for (const [key, raw] of Object.entries(root)) {
    if (key in TOP_LEVEL) {
      checkValue(problems, key, TOP_LEVEL[key], raw);
      continue;
    }
    const registry = REGISTRY[key];
    if (!registry) {
      const near = closest(key, sectionNames);
      problems.warning(
        key,
        near
          ? `unknown section; did you mean "${near}"? It is ignored`
          : `unknown section; it is ignored (sections Ferry reads: ${Object.keys(REGISTRY).join(', ')})`,
      );
      continue;
    }
    if (raw === null) continue;
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      problems.error(key, `got ${show(raw)}; use an object of settings: "${key}": { ... }`);
      continue;
    }
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      const spec = registry[name];
      const field = `${key}.${name}`;
      if (!spec) {
        const here = closest(name, Object.keys(registry));
        const elsewhere = Object.keys(REGISTRY).find((s) => s !== key && name in REGISTRY[s]);
        problems.warning(
          field,
          here
            ? `unknown key; did you mean "${here}"? It is ignored`
            : elsewhere
              ? `unknown key in ${key}; DMS reads it from ${elsewhere}. It is ignored here`
              : `unknown key; it is ignored`,
        );
        continue;
      }
      const ok = checkValue(problems, field, spec, value);
      if (ok && value !== null && value !== undefined) values[key][name] = value;
    }
  }

  // Fill DMS defaults.
  const get = <T>(section: string, name: string): T =>
    (name in values[section] ? values[section][name] : REGISTRY[section][name].default) as T;
  const sectionWithDefaults = (section: string) => {
    const out: Record<string, string | number | boolean> = {};
    for (const [name, spec] of Object.entries(REGISTRY[section])) {
      const v = name in values[section] ? values[section][name] : spec.default;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = v;
    }
    return out;
  };

  const settings: EngineSettings = {
    targetSchema: get<string>('TargetMetadata', 'TargetSchema'),
    supportLobs: get<boolean>('TargetMetadata', 'SupportLobs'),
    fullLobMode: get<boolean>('TargetMetadata', 'FullLobMode'),
    lobChunkSizeKb: get<number>('TargetMetadata', 'LobChunkSize'),
    limitedSizeLobMode: get<boolean>('TargetMetadata', 'LimitedSizeLobMode'),
    lobMaxSizeKb: get<number>('TargetMetadata', 'LobMaxSize'),
    targetTablePrepMode: get<TargetTablePrepMode>('FullLoadSettings', 'TargetTablePrepMode'),
    createPkAfterFullLoad: get<boolean>('FullLoadSettings', 'CreatePkAfterFullLoad'),
    maxFullLoadSubTasks: get<number>('FullLoadSettings', 'MaxFullLoadSubTasks'),
    commitRate: get<number>('FullLoadSettings', 'CommitRate'),
    stopTaskCachedChangesApplied: get<boolean>('FullLoadSettings', 'StopTaskCachedChangesApplied'),
    stopTaskCachedChangesNotApplied: get<boolean>('FullLoadSettings', 'StopTaskCachedChangesNotApplied'),
    batchApplyEnabled: get<boolean>('TargetMetadata', 'BatchApplyEnabled'),
    parallelLoadThreads: get<number>('TargetMetadata', 'ParallelLoadThreads'),
    errorBehavior: sectionWithDefaults('ErrorBehavior'),
    changeProcessingTuning: sectionWithDefaults('ChangeProcessingTuning') as Record<string, number | boolean>,
    validation: sectionWithDefaults('ValidationSettings'),
  };

  crossChecks(problems, settings, values);
  problems.throwIfAny();
  return { settings, findings: problems.findings };
}

/** Type and range check of one value; warns about unsupported keys set away from their default. */
function checkValue(problems: Problems, field: string, spec: KeySpec, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  const fail = (fix: string) => {
    problems.error(
      field,
      `got ${show(value)}${typeof value === 'string' && spec.kind !== 'string' && spec.kind !== 'enum' ? ' (a string)' : ''}; ${fix}`,
    );
    return false;
  };
  switch (spec.kind) {
    case 'boolean':
      if (typeof value !== 'boolean') return fail('use true or false (without quotes)');
      break;
    case 'string':
      if (typeof value !== 'string') return fail('use a string');
      break;
    case 'integer': {
      const range =
        spec.range ??
        (spec.min !== undefined && spec.max !== undefined
          ? `from ${spec.min} to ${spec.max}`
          : spec.min !== undefined
            ? `of at least ${spec.min}`
            : 'whole');
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        return fail(`use a whole number ${range === 'whole' ? '' : range}`.trim());
      }
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        return fail(`use a whole number ${range}`);
      }
      break;
    }
    case 'enum':
      if (typeof value !== 'string' || !spec.values!.includes(value)) {
        const near = typeof value === 'string' ? closest(value, spec.values!) : undefined;
        return fail(`use one of: ${spec.values!.join(', ')}${near ? ` (did you mean "${near}"?)` : ''}`);
      }
      break;
    case 'list':
      if (!Array.isArray(value)) return fail('use a list');
      break;
    case 'object':
      if (typeof value !== 'object' || Array.isArray(value)) return fail('use an object or null');
      break;
  }
  if (spec.unsupported && !sameValue(value, spec.default)) {
    problems.warning(field, `not honoured by the native engine: ${spec.unsupported}`);
  }
  return true;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Rules across keys, as DMS enforces them. */
function crossChecks(
  problems: Problems,
  s: EngineSettings,
  given: Record<string, Record<string, unknown>>,
): void {
  if (s.supportLobs) {
    if (!s.fullLobMode && !s.limitedSizeLobMode) {
      problems.error(
        'TargetMetadata.SupportLobs',
        'is true but neither FullLobMode nor LimitedSizeLobMode is; set one of them to true (or SupportLobs to false)',
      );
    }
    if (s.fullLobMode && s.limitedSizeLobMode && 'LimitedSizeLobMode' in given.TargetMetadata) {
      problems.warning(
        'TargetMetadata.LimitedSizeLobMode',
        'FullLobMode and LimitedSizeLobMode are both true; full LOB mode applies and no LOB is truncated',
      );
    }
    if (s.fullLobMode && s.lobChunkSizeKb < 1) {
      problems.error(
        'TargetMetadata.LobChunkSize',
        `got ${s.lobChunkSizeKb}; FullLobMode needs a chunk size from 1 KB (64 is recommended)`,
      );
    } else if (s.fullLobMode && s.lobChunkSizeKb > 64) {
      problems.warning(
        'TargetMetadata.LobChunkSize',
        'above 64 KB can make DMS tasks fail; Ferry copies LOBs whole and ignores the chunk size',
      );
    }
    if (!s.fullLobMode && s.limitedSizeLobMode && s.lobMaxSizeKb < 1) {
      problems.error(
        'TargetMetadata.LobMaxSize',
        `got ${s.lobMaxSizeKb}; LimitedSizeLobMode needs a maximum from 1 to 102400 KB (or set FullLobMode)`,
      );
    }
  } else {
    problems.warning(
      'TargetMetadata.SupportLobs',
      'is false: LOB columns (text, bytea, json, jsonb, xml, arrays) are left out of the migration, as DMS does',
    );
  }
  if (s.stopTaskCachedChangesApplied && s.stopTaskCachedChangesNotApplied) {
    problems.error(
      'FullLoadSettings.StopTaskCachedChangesNotApplied',
      'both StopTaskCachedChangesApplied and StopTaskCachedChangesNotApplied are true; set at most one',
    );
  }
  const cpt = s.changeProcessingTuning;
  if ((cpt.BatchApplyTimeoutMin as number) > (cpt.BatchApplyTimeoutMax as number)) {
    problems.error(
      'ChangeProcessingTuning.BatchApplyTimeoutMin',
      `got ${String(cpt.BatchApplyTimeoutMin)}, above BatchApplyTimeoutMax (${String(cpt.BatchApplyTimeoutMax)}); make it at most the maximum`,
    );
  }
  if (s.validation.ValidationOnly === true && s.targetTablePrepMode !== 'DO_NOTHING') {
    problems.error(
      'ValidationSettings.ValidationOnly',
      `is true with TargetTablePrepMode ${s.targetTablePrepMode}; a validation-only task needs TargetTablePrepMode DO_NOTHING`,
    );
  }
  if (s.targetSchema !== '' && s.targetSchema.trim() !== s.targetSchema) {
    problems.error(
      'TargetMetadata.TargetSchema',
      `got ${show(s.targetSchema)}; remove the leading/trailing spaces`,
    );
  }
}

/** Every section and key the registry knows (for documentation and tests). */
export function knownSettingKeys(): string[] {
  return [
    ...Object.entries(REGISTRY).flatMap(([section, keys]) => Object.keys(keys).map((k) => `${section}.${k}`)),
    ...Object.keys(TOP_LEVEL),
  ];
}

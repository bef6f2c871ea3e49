// Task settings: DMS defaults, the keys the native engine honours, warnings for unknown keys (with a
// did-you-mean) and for keys it does not act on, and a real DMS export read without noise.
import assert from 'node:assert/strict';
import { defaultEngineSettings, knownSettingKeys, parseTaskSettings } from '../../src/mapping';

describe('mapping/settings', () => {
  it('fills DMS defaults when the file is empty', () => {
    const s = defaultEngineSettings();
    assert.deepEqual(
      { ...s, errorBehavior: undefined, changeProcessingTuning: undefined, validation: undefined },
      {
        targetSchema: '',
        supportLobs: true,
        fullLobMode: false,
        lobChunkSizeKb: 64,
        limitedSizeLobMode: true,
        lobMaxSizeKb: 32,
        targetTablePrepMode: 'DO_NOTHING',
        createPkAfterFullLoad: false,
        maxFullLoadSubTasks: 8,
        commitRate: 10000,
        stopTaskCachedChangesApplied: false,
        stopTaskCachedChangesNotApplied: false,
        batchApplyEnabled: false,
        parallelLoadThreads: 0,
        errorBehavior: undefined,
        changeProcessingTuning: undefined,
        validation: undefined,
      },
    );
    assert.equal(s.errorBehavior.DataErrorPolicy, 'LOG_ERROR');
    assert.equal(s.errorBehavior.RecoverableErrorCount, -1);
    assert.equal(s.errorBehavior.ApplyErrorDeletePolicy, 'IGNORE_RECORD');
    assert.equal(s.changeProcessingTuning.BatchApplyTimeoutMax, 30);
    assert.equal(s.changeProcessingTuning.StatementCacheSize, 50);
    assert.equal(s.validation.EnableValidation, false);
    assert.equal(s.validation.ValidationMode, 'ROW_LEVEL');
  });

  it('reads the keys Ferry honours, verbatim sections keeping their defaults for unset keys', () => {
    const { settings, findings } = parseTaskSettings(
      {
        TargetMetadata: {
          TargetSchema: 'aurora',
          FullLobMode: true,
          LobChunkSize: 32,
          BatchApplyEnabled: true,
          ParallelLoadThreads: 4,
        },
        FullLoadSettings: {
          TargetTablePrepMode: 'TRUNCATE_BEFORE_LOAD',
          CreatePkAfterFullLoad: true,
          MaxFullLoadSubTasks: 49,
          CommitRate: 50000,
          StopTaskCachedChangesApplied: true,
        },
        ErrorBehavior: { ApplyErrorInsertPolicy: 'INSERT_RECORD', RecoverableErrorCount: 0 },
        ChangeProcessingTuning: { BatchApplyTimeoutMin: 5 },
        ValidationSettings: { EnableValidation: true, ValidationMode: 'GROUP_LEVEL' },
      },
      'settings.json',
    );
    assert.equal(settings.targetSchema, 'aurora');
    assert.equal(settings.fullLobMode, true, 'FullLobMode wins over the default LimitedSizeLobMode');
    assert.equal(settings.lobChunkSizeKb, 32);
    assert.equal(settings.batchApplyEnabled, true);
    assert.equal(settings.parallelLoadThreads, 4);
    assert.equal(settings.targetTablePrepMode, 'TRUNCATE_BEFORE_LOAD');
    assert.equal(settings.createPkAfterFullLoad, true);
    assert.equal(settings.maxFullLoadSubTasks, 49);
    assert.equal(settings.commitRate, 50000);
    assert.equal(settings.stopTaskCachedChangesApplied, true);
    assert.equal(settings.errorBehavior.ApplyErrorInsertPolicy, 'INSERT_RECORD');
    assert.equal(settings.errorBehavior.RecoverableErrorCount, 0);
    assert.equal(settings.errorBehavior.ApplyErrorUpdatePolicy, 'LOG_ERROR');
    assert.equal(settings.changeProcessingTuning.BatchApplyTimeoutMin, 5);
    assert.equal(settings.validation.ValidationMode, 'GROUP_LEVEL');
    assert.deepEqual(findings, []);
  });

  it('warns about unknown sections and keys, with a did-you-mean', () => {
    const { findings } = parseTaskSettings(
      {
        Loging: {},
        TargetMetadata: { LobMaxSise: 64, Nonsense: 1 },
        FullLoadSettings: { BatchApplyEnabled: true },
      },
      'settings.json',
    );
    assert.deepEqual(
      findings.map((f) => `${f.severity} ${f.field}: ${f.message}`),
      [
        'warning Loging: unknown section; did you mean "Logging"? It is ignored',
        'warning TargetMetadata.LobMaxSise: unknown key; did you mean "LobMaxSize"? It is ignored',
        'warning TargetMetadata.Nonsense: unknown key; it is ignored',
        'warning FullLoadSettings.BatchApplyEnabled: unknown key in FullLoadSettings; DMS reads it from TargetMetadata. It is ignored here',
      ],
    );
  });

  it('warns, with the reason, about keys the native engine does not act on when set away from the default', () => {
    const { findings } = parseTaskSettings(
      {
        TargetMetadata: { InlineLobMaxSize: 512, ParallelApplyThreads: 8 },
        FullLoadSettings: { TransactionConsistencyTimeout: 900 },
        ControlTablesSettings: { StatusTableEnabled: true },
        Logging: { EnableLogging: true },
        StreamBufferSettings: { StreamBufferCount: 3 },
        BeforeImageSettings: { EnableBeforeImage: true },
      },
      'settings.json',
    );
    const byField = Object.fromEntries(findings.map((f) => [f.field, f.message]));
    assert.match(
      byField['TargetMetadata.InlineLobMaxSize'],
      /^not honoured by the native engine: Ferry copies every LOB inline/,
    );
    assert.match(byField['TargetMetadata.ParallelApplyThreads'], /non-relational targets/);
    assert.match(byField['FullLoadSettings.TransactionConsistencyTimeout'], /one exported snapshot/);
    assert.match(
      byField['ControlTablesSettings.StatusTableEnabled'],
      /awsdms_\* control tables are not created/,
    );
    assert.match(byField['Logging.EnableLogging'], /Temporal history/);
    assert.match(byField.BeforeImageSettings, /add-before-image-columns rule/);
    assert.equal(
      byField['StreamBufferSettings.StreamBufferCount'],
      undefined,
      'the default value is not worth a warning',
    );
    assert.equal(findings.length, 6);
  });

  it('reads a task exported by DMS (nulls, the lower-case historyTimeslotInMinutes) without noise', () => {
    const exported = {
      Logging: {
        EnableLogging: false,
        EnableLogContext: false,
        LogComponents: [{ Severity: 'LOGGER_SEVERITY_DEFAULT', Id: 'TRANSFORMATION' }],
        CloudWatchLogGroup: null,
        CloudWatchLogStream: null,
      },
      StreamBufferSettings: { StreamBufferCount: 3, CtrlStreamBufferSizeInMB: 5, StreamBufferSizeInMB: 8 },
      ErrorBehavior: {
        FailOnNoTablesCaptured: true,
        ApplyErrorUpdatePolicy: 'LOG_ERROR',
        FailOnTransactionConsistencyBreached: false,
        RecoverableErrorThrottlingMax: 1800,
        DataErrorEscalationPolicy: 'SUSPEND_TABLE',
        ApplyErrorEscalationCount: 0,
        RecoverableErrorStopRetryAfterThrottlingMax: true,
        RecoverableErrorThrottling: true,
        ApplyErrorFailOnTruncationDdl: false,
        DataTruncationErrorPolicy: 'LOG_ERROR',
        ApplyErrorInsertPolicy: 'LOG_ERROR',
        EventErrorPolicy: 'IGNORE',
        ApplyErrorEscalationPolicy: 'LOG_ERROR',
        RecoverableErrorCount: -1,
        DataErrorEscalationCount: 0,
        TableErrorEscalationPolicy: 'STOP_TASK',
        RecoverableErrorInterval: 5,
        ApplyErrorDeletePolicy: 'IGNORE_RECORD',
        TableErrorEscalationCount: 0,
        FullLoadIgnoreConflicts: true,
        DataErrorPolicy: 'LOG_ERROR',
        TableErrorPolicy: 'SUSPEND_TABLE',
      },
      ValidationSettings: {
        ValidationPartialLobSize: 0,
        PartitionSize: 10000,
        EnableValidation: true,
        ThreadCount: 5,
        ValidationOnly: false,
      },
      TTSettings: null,
      FullLoadSettings: {
        CommitRate: 10000,
        MaxFullLoadSubTasks: 8,
        TransactionConsistencyTimeout: 600,
        CreatePkAfterFullLoad: false,
        TargetTablePrepMode: 'TRUNCATE_BEFORE_LOAD',
      },
      TargetMetadata: {
        ParallelApplyBufferSize: 0,
        TargetSchema: '',
        InlineLobMaxSize: 0,
        SupportLobs: true,
        LobChunkSize: 0,
        TaskRecoveryTableEnabled: false,
        ParallelLoadThreads: 0,
        LobMaxSize: 32,
        BatchApplyEnabled: false,
        FullLobMode: false,
        LimitedSizeLobMode: true,
        LoadMaxFileSize: 0,
        ParallelLoadBufferSize: 0,
      },
      BeforeImageSettings: null,
      ControlTablesSettings: {
        historyTimeslotInMinutes: 5,
        HistoryTimeslotInMinutes: 5,
        StatusTableEnabled: false,
        ControlSchema: '',
        FullLoadExceptionTableEnabled: false,
      },
      LoopbackPreventionSettings: null,
      CharacterSetSettings: null,
      FailTaskWhenCleanTaskResourceFailed: false,
      ChangeProcessingTuning: {
        StatementCacheSize: 50,
        CommitTimeout: 1,
        BatchApplyPreserveTransaction: true,
      },
      ChangeProcessingDdlHandlingPolicy: {
        HandleSourceTableDropped: true,
        HandleSourceTableTruncated: true,
        HandleSourceTableAltered: true,
      },
      PostProcessingRules: null,
    };
    const { settings, findings } = parseTaskSettings(exported, 'task.json');
    assert.deepEqual(findings, []);
    assert.equal(settings.targetTablePrepMode, 'TRUNCATE_BEFORE_LOAD');
    assert.equal(settings.errorBehavior.FailOnNoTablesCaptured, true);
  });

  it('warns that SupportLobs false leaves LOB columns out', () => {
    const { settings, findings } = parseTaskSettings(
      { TargetMetadata: { SupportLobs: false } },
      'settings.json',
    );
    assert.equal(settings.supportLobs, false);
    assert.match(
      findings[0].message,
      /LOB columns \(text, bytea, json, jsonb, xml, arrays\) are left out of the migration/,
    );
  });

  it('lists every key of the registry', () => {
    const keys = knownSettingKeys();
    for (const k of [
      'TargetMetadata.TargetSchema',
      'FullLoadSettings.MaxFullLoadSubTasks',
      'ErrorBehavior.DataMaskingErrorPolicy',
      'TTSettings',
    ]) {
      assert.ok(keys.includes(k), k);
    }
  });
});

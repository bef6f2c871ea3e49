// The DMS task settings both Ferry runners load with, so `ferry` (durable) and `ferry_engine`
// (in-process) compile the same plan and differ only in how the work is driven.

/**
 * DMS defaults except: the parallelism, which every tool in the bench gets the same of; full LOB mode,
 * because DMS's default limited LOB mode truncates values above 32 KB and the bench compares checksums
 * (the other tools copy every value whole); and DROP_AND_CREATE, DMS's own default prep mode (Ferry
 * defaults to DO_NOTHING; on the bench's empty target databases both create every table).
 */
export function benchTaskSettings(jobs: number): Record<string, Record<string, unknown>> {
  return {
    FullLoadSettings: { MaxFullLoadSubTasks: jobs, TargetTablePrepMode: 'DROP_AND_CREATE' },
    TargetMetadata: { FullLobMode: true, LimitedSizeLobMode: false },
  };
}

// DMS ValidationSettings (already parsed and defaulted by mapping/settings.ts) as the engine's
// ValidationConfig: which keys are honoured, and how.
import type { ValidationConfig } from './types';

type Raw = Record<string, string | number | boolean | undefined>;

function int(v: unknown, fallback: number, min: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.max(min, Math.floor(n)) : fallback;
}

function bool(v: unknown, fallback: boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fallback;
}

/**
 * Honoured: EnableValidation, ValidationOnly, ValidationMode, ThreadCount, PartitionSize, FailureMaxCount,
 * TableFailureMaxCount, RecordFailureDelayLimitInMinutes, SkipLobColumns, ValidationPartialLobSize,
 * ValidationQueryCdcDelaySeconds. HandleCollationDiff is always on in effect: collatable key columns are
 * ordered and ranged with COLLATE "C" on both sides. Not acted on: RecordFailureDelayInMinutes,
 * RecordSuspendDelayInMinutes, MaxKeyColumnSize.
 */
export function validationConfig(raw: Raw = {}): ValidationConfig {
  return {
    enabled: bool(raw.EnableValidation, false) || bool(raw.ValidationOnly, false),
    mode: raw.ValidationMode === 'GROUP_LEVEL' ? 'GROUP_LEVEL' : 'ROW_LEVEL',
    threadCount: Math.min(64, int(raw.ThreadCount, 5, 1)),
    partitionSize: int(raw.PartitionSize, 10000, 1),
    failureMaxCount: int(raw.FailureMaxCount, 10000, 0),
    tableFailureMaxCount: int(raw.TableFailureMaxCount, 1000, 0),
    recordFailureDelayLimitMinutes: int(raw.RecordFailureDelayLimitInMinutes, 0, 0),
    skipLobColumns: bool(raw.SkipLobColumns, false),
    partialLobSizeKb: int(raw.ValidationPartialLobSize, 0, 0),
    cdcDelaySeconds: int(raw.ValidationQueryCdcDelaySeconds, 0, 0),
  };
}

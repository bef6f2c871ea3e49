// Durations as ferry.yaml writes them ("15m", "0s", "250ms"): parse to seconds, format back.

import { ErrorType, FerryError } from '../errors';

/** One whole number and one unit; no compound forms, so every value has exactly one spelling. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** "15m" → 900. Milliseconds give fractional seconds ("250ms" → 0.25). Throws CONFIG_INVALID. */
export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (!match) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `${JSON.stringify(text)} is not a duration; use a whole number followed by ms, s, m, h or d, e.g. 15m`,
    );
  }
  const amount = Number(match[1]);
  const unit = match[2] as 'ms' | keyof typeof UNIT_SECONDS;
  // Divide rather than multiply by 0.001: 7 * 0.001 is 0.007000000000000001, 7 / 1000 is 0.007.
  return unit === 'ms' ? amount / 1000 : amount * UNIT_SECONDS[unit];
}

/**
 * 900 → "15m", 5400 → "90m", 0.25 → "250ms": the largest unit that divides the value exactly, so the
 * output is valid ferry.yaml input and parseDuration(formatDuration(x)) === x for whole milliseconds.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(`formatDuration: expected a finite number of seconds >= 0, got ${seconds}`);
  }
  if (seconds === 0) return '0s';
  if (Number.isInteger(seconds)) {
    for (const unit of ['d', 'h', 'm'] as const) {
      if (seconds % UNIT_SECONDS[unit] === 0) return `${seconds / UNIT_SECONDS[unit]}${unit}`;
    }
    return `${seconds}s`;
  }
  return `${Math.round(seconds * 1000)}ms`;
}

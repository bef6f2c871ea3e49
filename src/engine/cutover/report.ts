// The cutover's account of itself: how long the application could not write (freeze → switch, or →
// unfreeze when the cutover was abandoned) against the SLA's downtime budget, and what was done.
import type { WindowCheck } from './window';
import type { FreezeMethod } from './freeze';
import type { SequenceAbove } from './sequences';

export interface CutoverReport {
  window: WindowCheck;
  freezeMethod: FreezeMethod;
  /** ISO 8601 instants. */
  frozenAt: string;
  /** The source's WAL position once frozen, which CDC drained to. */
  freezeLsn: string;
  lagZeroAt: string;
  sequences: SequenceAbove[];
  /** Absent when the cutover stopped before the switch. */
  switchedAt?: string;
  writeFreezeMs: number;
  /** The SLA's maxDowntime in ms, when it has one. */
  slaMaxDowntimeMs?: number;
  /** writeFreezeMs within slaMaxDowntimeMs (true when the SLA sets none). */
  withinSla: boolean;
}

/** Milliseconds the writes were frozen: from `handle.frozenAt` to `end` (the switch, or the unfreeze). */
export function measureFreeze(handle: { frozenAt: Date | string }, end: Date): number {
  return Math.max(0, end.getTime() - new Date(handle.frozenAt).getTime());
}

/** writeFreezeMs and the SLA verdict, for CutoverReport. `maxDowntimeSeconds` is Sla.maxDowntime. */
export function freezeVerdict(
  handle: { frozenAt: Date | string },
  end: Date,
  maxDowntimeSeconds?: number,
): Pick<CutoverReport, 'writeFreezeMs' | 'slaMaxDowntimeMs' | 'withinSla'> {
  const writeFreezeMs = measureFreeze(handle, end);
  if (maxDowntimeSeconds === undefined) return { writeFreezeMs, withinSla: true };
  const slaMaxDowntimeMs = maxDowntimeSeconds * 1000;
  return { writeFreezeMs, slaMaxDowntimeMs, withinSla: writeFreezeMs <= slaMaxDowntimeMs };
}

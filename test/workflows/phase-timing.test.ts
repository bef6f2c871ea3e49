// movePhase: the phase timings the runbook, CDC and `ferry status` show.
import assert from 'node:assert/strict';
import { movePhase, type PhaseTiming } from '../../src/workflows/common';

describe('workflows: phase timings', () => {
  it('ends the phase left with its seconds, starts the next, and restarts a phase entered again', () => {
    const t: Partial<Record<'a' | 'b', PhaseTiming>> = {};
    movePhase(t, 'a', 'a', '2026-11-28T10:00:00.000Z');
    assert.deepEqual({ ...t }, { a: { start: '2026-11-28T10:00:00.000Z' } });
    movePhase(t, 'a', 'b', '2026-11-28T10:00:02.500Z');
    assert.deepEqual(t.a, {
      start: '2026-11-28T10:00:00.000Z',
      end: '2026-11-28T10:00:02.500Z',
      seconds: 2.5,
    });
    assert.deepEqual(t.b, { start: '2026-11-28T10:00:02.500Z' });
    // Staying in a phase changes nothing.
    movePhase(t, 'b', 'b', '2026-11-28T10:00:03.000Z');
    assert.deepEqual(t.b, { start: '2026-11-28T10:00:02.500Z' });
    // Back to a phase that ended: it starts again.
    movePhase(t, 'b', 'a', '2026-11-28T10:00:04.000Z');
    assert.equal(t.b?.seconds, 1.5);
    assert.deepEqual(t.a, { start: '2026-11-28T10:00:04.000Z' });
  });
});

// FullLoadState and the full-load ordering helpers without a server.
import assert from 'node:assert/strict';
import type { TableRef } from '../../src/workflows/definitions';
import { batches, orderTables } from '../../src/workflows/full-load';
import { FullLoadState, TABLE_STATES } from '../../src/workflows/full-load-state';

const ref = (key: string, bytes: number, loadOrder = 0, segments = 1): TableRef => ({
  key,
  source: key,
  target: key,
  bytes,
  estimatedRows: 0,
  segments,
  loadOrder,
});

describe('full-load state', () => {
  it('orders by load-order (higher first), then largest first, then name', () => {
    const got = orderTables([ref('a', 10), ref('b', 30), ref('c', 5, 2), ref('d', 30)]).map((t) => t.key);
    assert.deepEqual(got, ['c', 'b', 'd', 'a']);
  });

  it('splits tables into child batches', () => {
    assert.deepEqual(batches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(batches([], 3), []);
  });

  it('keeps totals consistent when the same table update arrives twice (signal, then child result)', () => {
    const st = new FullLoadState('m');
    st.setTables([ref('a', 10, 0, 2), ref('b', 10, 0, 1)]);
    assert.equal(st.status.totals.segments, 3);
    const done = {
      key: 'a',
      source: 'a',
      target: 'a',
      state: TABLE_STATES.completed,
      rows: 100,
      bytes: 1000,
      segments: 2,
      segmentsDone: 2,
    };
    st.applyTableUpdate(done);
    st.applyTableUpdate({ ...done });
    assert.deepEqual(st.status.totals, {
      tables: 2,
      completed: 1,
      rows: 100,
      bytes: 1000,
      segments: 3,
      segmentsDone: 2,
    });
    st.applyTableUpdate({ ...done, key: 'zzz' });
    assert.equal(st.status.totals.completed, 1, 'unknown tables are ignored');
  });

  it('records phase timings and bounds findings', () => {
    const st = new FullLoadState('m');
    st.setPhase('loading', new Date(1000));
    st.setPhase('post-data', new Date(5000));
    assert.equal(st.status.timings.loading.end, new Date(5000).toISOString());
    for (let i = 0; i < 300; i++) st.addFinding(`f${i}`);
    assert.equal(st.status.findings.length, 201);
  });
});

// The approval gates every workflow shares, driven without a server.
import assert from 'node:assert/strict';
import type { ApprovalRecord, PendingGate } from '../../src/workflows/definitions';
import { ApprovalRejectedError, GateKeeper } from '../../src/workflows/gates';
import { lagBucket } from '../../src/workflows/common';
import { tableStatistics } from '../../src/workflows/table-stats';

describe('GateKeeper', () => {
  const holder = () => ({
    migration: 'm1',
    phase: 'assessment',
    approvals: [] as ApprovalRecord[],
    pendingGate: undefined as PendingGate | undefined,
  });

  it('lets only a listed approver pass the pending gate, and records who, when and why', () => {
    const h = holder();
    const g = new GateKeeper(h);
    g.setApprovers(['alice', 'bob']);
    assert.throws(() => g.validate({ gate: 'assessment', by: 'alice' }), /no gate is waiting/);
    g.open('assessment', new Date('2026-01-01T00:00:00Z'), new Date('2026-01-08T00:00:00Z'));
    assert.deepEqual(h.pendingGate?.approvers, ['alice', 'bob']);
    assert.throws(
      () => g.validate({ gate: 'assessment', by: 'mallory' }),
      /"mallory" is not an approver of migration m1/,
    );
    assert.throws(() => g.validate({ gate: 'poc', by: 'alice' }), /pending gate is "assessment"/);
    assert.throws(() => g.validate({ gate: 'assessment', by: ' ' }), ApprovalRejectedError);
    g.validate({ gate: 'assessment', by: 'bob' });
    const rec = g.decide(
      { gate: 'assessment', by: 'bob', reason: 'ok' },
      'approved',
      new Date('2026-01-02T00:00:00Z'),
    );
    assert.deepEqual(rec, {
      gate: 'assessment',
      decision: 'approved',
      by: 'bob',
      reason: 'ok',
      at: '2026-01-02T00:00:00.000Z',
    });
    assert.equal(h.pendingGate, undefined);
    assert.equal(g.decision('assessment')?.by, 'bob');
  });

  it('requires a reason to override, but not to reject', () => {
    const h = holder();
    const g = new GateKeeper(h);
    g.setApprovers(['alice']);
    g.open('assessment', new Date(), undefined, { reasonRequiredToApprove: true });
    assert.throws(() => g.validate({ gate: 'assessment', by: 'alice' }, 'approved'), /say why with --reason/);
    g.validate({ gate: 'assessment', by: 'alice' }, 'rejected');
    g.validate({ gate: 'assessment', by: 'alice', reason: 'known, accepted' }, 'approved');
  });
});

describe('lag buckets and table statistics', () => {
  it('buckets CDC lag for the FerryLagBucket search attribute', () => {
    assert.equal(lagBucket(undefined, undefined), 'none');
    assert.equal(lagBucket(5, 0), 'none');
    assert.equal(lagBucket(3, 100), '<10s');
    assert.equal(lagBucket(30, 100), '<1m');
    assert.equal(lagBucket(300, 100), '<10m');
    assert.equal(lagBucket(3600, 100), '>=10m');
  });

  it('merges full-load rows, CDC counters and validation states per table, DMS style', () => {
    const rows = tableStatistics({
      fullLoadRows: { 'public.a': { target: 'public.a', rows: 10, at: '2026-01-01T00:00:00.000Z' } },
      cdc: {
        'public.a': { inserts: 2, updates: 3, deletes: 1, truncates: 1, applied: 7, conflicts: 0 },
        'public.b': { inserts: 1, updates: 0, deletes: 0, truncates: 0, applied: 1, conflicts: 0 },
      },
      updatedAt: { 'public.a': '2026-01-02T00:00:00.000Z' },
      validation: {
        enabled: true,
        passes: 1,
        mismatches: 1,
        pending: 0,
        tables: [
          {
            key: 'public.a',
            target: 'public.a',
            state: 'Mismatched records',
            sourceRows: 11,
            targetRows: 11,
            mismatched: 1,
            pending: 0,
          },
        ],
      },
      adopted: ['public.b'],
    });
    assert.deepEqual(rows, [
      {
        table: 'public.a',
        target: 'public.a',
        inserts: 2,
        updates: 3,
        deletes: 1,
        ddls: 1,
        fullLoadRows: 10,
        validationState: 'Mismatched records',
        lastUpdateTime: '2026-01-02T00:00:00.000Z',
      },
      {
        table: 'public.b',
        target: 'public.b',
        inserts: 1,
        updates: 0,
        deletes: 0,
        ddls: 1,
        fullLoadRows: 0,
        validationState: 'Pending validation',
      },
    ]);
  });
});

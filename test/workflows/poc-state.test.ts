// PocState without a server: steps, timings, gate validation and decisions.
import assert from 'node:assert/strict';
import { ApprovalRejectedError, PocState } from '../../src/workflows/poc-state';
import { parseTimeout } from '../../src/workflows/common';

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

describe('PocState', () => {
  it('records step timings and details', () => {
    const st = new PocState('m');
    st.begin('dump', t(0));
    assert.equal(st.running(), 'dump');
    st.end('dump', t(12), '1 MiB');
    const dump = st.status.steps.find((s) => s.name === 'dump')!;
    assert.equal(dump.status, 'done');
    assert.equal(dump.seconds, 12);
    assert.equal(dump.detail, '1 MiB');
    assert.equal(st.running(), undefined);
  });

  it('validates approvals: gate open, right gate, listed approver, identity present', () => {
    const st = new PocState('m');
    st.setApprovers(['alice']);
    assert.throws(() => st.validate({ gate: 'poc', by: 'alice' }), /no gate is waiting/);
    st.openGate('poc', t(0));
    assert.throws(() => st.validate({ gate: 'poc', by: '' }), ApprovalRejectedError);
    assert.throws(() => st.validate({ gate: 'cutover', by: 'alice' }), /pending gate is "poc"/);
    assert.throws(
      () => st.validate({ gate: 'poc', by: 'eve' }),
      /"eve" is not an approver of migration m; approvers: alice/,
    );
    st.validate({ gate: 'poc', by: 'alice' });
  });

  it('a decision closes the gate and is kept with who, when and why', () => {
    const st = new PocState('m');
    st.setApprovers(['alice']);
    st.openGate('poc', t(0), t(60));
    assert.equal(st.status.pendingGate?.deadline, t(60).toISOString());
    const rec = st.decide({ gate: 'poc', by: 'alice', reason: 'ok' }, 'approved', t(5));
    assert.deepEqual(rec, {
      gate: 'poc',
      decision: 'approved',
      by: 'alice',
      reason: 'ok',
      at: t(5).toISOString(),
    });
    assert.equal(st.status.pendingGate, undefined);
    assert.equal(st.decision('poc'), rec);
    assert.throws(() => st.validate({ gate: 'poc', by: 'alice' }), /no gate is waiting/);
  });

  it('fail() marks the running step failed and keeps the message', () => {
    const st = new PocState('m');
    st.begin('restore', t(0));
    st.fail('boom');
    assert.equal(st.status.phase, 'failed');
    assert.equal(st.status.error, 'boom');
    assert.equal(st.status.steps.find((s) => s.name === 'restore')!.status, 'failed');
  });
});

describe('parseTimeout', () => {
  it('parses the units operators write', () => {
    assert.equal(parseTimeout('7 days'), 7 * 86_400_000);
    assert.equal(parseTimeout('30m'), 1_800_000);
    assert.equal(parseTimeout('2s'), 2000);
    assert.equal(parseTimeout('1.5 hours'), 5_400_000);
    assert.equal(parseTimeout('250ms'), 250);
    assert.throws(() => parseTimeout('soon'), /invalid gate timeout "soon"/);
  });
});

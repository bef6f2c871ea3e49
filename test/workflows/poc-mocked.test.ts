// The PoC workflow on the real Temporal dev server with stubbed activities: gates, validators,
// compensation and failure paths, fast and without databases.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { WORKER_TUNING } from '../../src/worker';
import type { Activities as AllActivities } from '../../src/activities';

/** The PoC's activities: the ones these stubs stand in for. */
type Activities = Pick<
  AllActivities,
  | 'describeMigration'
  | 'inspectSource'
  | 'dumpSource'
  | 'restoreToScratch'
  | 'verifyScratch'
  | 'planFromPoc'
  | 'dropScratch'
  | 'recordAudit'
  | 'notifyPeople'
>;
import { FerryClient } from '../../src/client';
import { FerryError } from '../../src/errors';
import type { PocStatus } from '../../src/workflows/definitions';
import { temporalEnv, workflowBundle } from '../support/temporal';

interface Calls {
  names: string[];
  /** Notifications sent (kind and text), beside the steps too. */
  notes?: { kind: string; text: string }[];
  /** Audit entries the workflow recorded (not in `names`: the trail is written beside the steps). */
  audit?: { action: string; by: string; reason?: string; detail?: Record<string, unknown> }[];
}

function stubs(calls: Calls, overrides: Partial<Activities> = {}): Activities {
  const rec =
    <A extends unknown[], R>(name: string, fn: (...a: A) => Promise<R>) =>
    async (...a: A) => {
      calls.names.push(name);
      return fn(...a);
    };
  const base: Activities = {
    describeMigration: rec('describeMigration', async ({ migration }) => ({
      migration,
      source: 'onsite',
      target: 'aurora',
      database: 'shop',
      approvers: ['alice', 'bob'],
      poc: { scope: { schemas: [], tables: [] }, sizeCapMb: 10, compression: 6, jobs: 2 },
    })),
    inspectSource: rec('inspectSource', async () => ({
      serverVersion: '13.23',
      serverMajor: 13,
      databaseSize: 100 * 1024 * 1024,
      scopeBytes: 10 * 1024 * 1024,
      tables: [
        {
          schema: 'public',
          name: 't',
          kind: 'table' as const,
          bytes: 8192,
          estimatedRows: 3,
          hasPrimaryKey: true,
        },
      ],
      findings: ['public.x has no primary key (CDC will need REPLICA IDENTITY FULL)'],
    })),
    dumpSource: rec('dumpSource', async () => ({
      file: '/tmp/x.dump',
      bytes: 1234,
      seconds: 1.5,
      writesBefore: {},
    })),
    restoreToScratch: rec('restoreToScratch', async () => ({
      scratchDatabase: 'ferry_poc_m',
      seconds: 2,
      warnings: [],
    })),
    verifyScratch: rec('verifyScratch', async () => ({
      ok: true,
      tables: 1,
      checksummed: 1,
      differences: [],
      changed: [],
    })),
    planFromPoc: rec('planFromPoc', async () => ({
      estimate: { bytesPerSecond: 1e6, estimatedSeconds: 100, basis: 'test' },
      planFile: '/tmp/plan.json',
    })),
    dropScratch: rec('dropScratch', async () => ({ database: 'ferry_poc_m', dropped: true })),
    recordAudit: async ({ entries }) => {
      (calls.audit ??= []).push(...entries);
      return entries.length;
    },
    notifyPeople: async ({ kind, text }) => {
      (calls.notes ??= []).push({ kind, text });
      return { recipients: 1 };
    },
  };
  return { ...base, ...overrides };
}

async function waitForGate(client: FerryClient, id: string): Promise<PocStatus> {
  for (let i = 0; i < 200; i++) {
    try {
      const st = await client.status(id);
      if (st.pendingGate) return st;
    } catch {
      // first workflow task not processed yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`workflow ${id} never reached a gate`);
}

describe('PoC workflow (stubbed activities, real dev server)', function () {
  this.timeout(60_000);

  async function run<T>(
    acts: Activities,
    fn: (client: FerryClient, taskQueue: string) => Promise<T>,
  ): Promise<T> {
    const env = await temporalEnv();
    const taskQueue = `test-${randomUUID()}`;
    const worker = await Worker.create({
      ...WORKER_TUNING,
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: acts,
    });
    return worker.runUntil(fn(FerryClient.fromClient(env.client, taskQueue), taskQueue));
  }

  it('runs every step, waits at gate poc, records the approval and cleans the scratch database', async () => {
    const calls: Calls = { names: [] };
    const res = await run(stubs(calls), async (client) => {
      const id = `poc-${randomUUID()}`;
      await client.startPoc({ migration: 'm' }, id);
      const st = await waitForGate(client, id);
      assert.equal(st.phase, 'awaiting-approval');
      assert.deepEqual(st.pendingGate?.approvers, ['alice', 'bob']);
      assert.deepEqual(
        st.steps.map((s) => s.status),
        ['done', 'done', 'done', 'done', 'done', 'running'],
      );
      assert.ok(st.findings.some((f) => f.includes('no primary key')));
      // Search attributes show the phase and the gate in the UI and in `ferry list`.
      const desc = await client.describe(id);
      assert.deepEqual(desc.searchAttributes.FerryPendingGate, ['poc']);
      const rec = await client.decide(id, 'approve', { gate: 'poc', by: 'alice', reason: 'looks good' });
      assert.equal(rec.decision, 'approved');
      return client.result(id);
    });
    assert.equal(res.outcome, 'approved');
    assert.equal(res.status.approvals[0].by, 'alice');
    assert.equal(res.status.approvals[0].reason, 'looks good');
    assert.ok(res.status.approvals[0].at);
    assert.equal(res.status.pendingGate, undefined);
    assert.deepEqual(res.status.compensations, [
      { name: 'drop scratch database', status: 'done', detail: 'dropped ferry_poc_m' },
    ]);
    assert.deepEqual(calls.names, [
      'describeMigration',
      'inspectSource',
      'dumpSource',
      'restoreToScratch',
      'verifyScratch',
      'planFromPoc',
      'dropScratch',
    ]);
    // The approval is in the audit trail, with who, why and the gate.
    assert.deepEqual(
      calls.audit?.map((a) => [a.action, a.by, a.detail?.gate]),
      [['approve', res.status.approvals[0].by, 'poc']],
    );
  });

  it('refuses approvals from non-approvers, for the wrong gate, or with no gate pending', async () => {
    const calls: Calls = { names: [] };
    await run(stubs(calls), async (client) => {
      const id = `poc-${randomUUID()}`;
      await client.startPoc({ migration: 'm' }, id);
      await waitForGate(client, id);
      await assert.rejects(client.decide(id, 'approve', { gate: 'poc', by: 'mallory' }), (e: unknown) => {
        assert.ok(e instanceof FerryError);
        assert.match(e.message, /"mallory" is not an approver of migration m; approvers: alice, bob/);
        return true;
      });
      await assert.rejects(
        client.decide(id, 'approve', { gate: 'cutover', by: 'alice' }),
        /gate "cutover" is not pending/,
      );
      await client.decide(id, 'approve', { gate: 'poc', by: 'bob' });
      await client.result(id);
      // Refused updates never enter history: exactly one accepted update.
      const history = await client.handle(id).fetchHistory();
      const accepted = history.events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
      assert.equal(accepted.length, 1);
    });
  });

  it('on reject runs the compensation and ends rejected', async () => {
    const calls: Calls = { names: [] };
    const res = await run(stubs(calls), async (client) => {
      const id = `poc-${randomUUID()}`;
      await client.startPoc({ migration: 'm' }, id);
      await waitForGate(client, id);
      await client.decide(id, 'reject', { gate: 'poc', by: 'bob', reason: 'restore too slow' });
      return client.result(id);
    });
    assert.equal(res.outcome, 'rejected');
    assert.equal(res.status.approvals[0].decision, 'rejected');
    assert.equal(calls.names.at(-1), 'dropScratch');
    assert.equal(res.status.phase, 'rejected');
  });

  it('a failed verify cleans up and fails the workflow naming the differences', async () => {
    const calls: Calls = { names: [] };
    const acts = stubs(calls, {
      verifyScratch: async () => {
        calls.names.push('verifyScratch');
        return {
          ok: false,
          tables: 1,
          checksummed: 1,
          differences: ['public.t: 3 rows on source, 2 on target'],
          changed: [],
        };
      },
    });
    await run(acts, async (client) => {
      const id = `poc-${randomUUID()}`;
      await client.startPoc({ migration: 'm' }, id);
      await assert.rejects(client.result(id), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError);
        assert.ok(e.cause instanceof ApplicationFailure);
        assert.equal(e.cause.type, 'VERIFY_FAILED');
        assert.match(e.cause.message, /public\.t: 3 rows on source, 2 on target/);
        return true;
      });
      const st = await client.status(id);
      assert.equal(st.phase, 'failed');
      assert.equal(st.steps.find((s) => s.name === 'verify')?.status, 'failed');
      assert.equal(st.compensations[0].status, 'done');
    });
    assert.equal(calls.names.at(-1), 'dropScratch');
  });

  it('a non-retryable restore failure fails fast with its type, after cleaning up', async () => {
    const calls: Calls = { names: [] };
    let restores = 0;
    const acts = stubs(calls, {
      restoreToScratch: async () => {
        restores++;
        throw ApplicationFailure.create({
          type: 'TOOL_FAILED',
          message: 'pg_restore failed: extension "postgis" is not available on endpoint aurora',
          nonRetryable: true,
        });
      },
    });
    await run(acts, async (client) => {
      const id = `poc-${randomUUID()}`;
      await client.startPoc({ migration: 'm' }, id);
      await assert.rejects(client.result(id), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure);
        assert.equal(e.cause.type, 'TOOL_FAILED');
        assert.match(e.cause.message, /postgis/);
        return true;
      });
    });
    assert.equal(restores, 1, 'non-retryable: one attempt only');
    assert.equal(calls.names.at(-1), 'dropScratch');
  });

  it('a failed undo is reported in status, not swallowed', async () => {
    const calls: Calls = { names: [] };
    const acts = stubs(calls, {
      dropScratch: async () => {
        throw ApplicationFailure.create({
          type: 'SCRATCH_NOT_OURS',
          message: 'not ours',
          nonRetryable: true,
        });
      },
    });
    const res = await run(acts, async (client) => {
      const id = `poc-${randomUUID()}`;
      await client.startPoc({ migration: 'm' }, id);
      await waitForGate(client, id);
      await client.decide(id, 'reject', { gate: 'poc', by: 'alice' });
      return client.result(id);
    });
    assert.equal(res.status.compensations[0].status, 'failed');
    assert.match(res.status.compensations[0].detail ?? '', /not ours/);
  });

  it('an approval gate that times out rejects the PoC', async () => {
    const calls: Calls = { names: [] };
    const res = await run(stubs(calls), async (client) => {
      const id = `poc-${randomUUID()}`;
      await client.startPoc({ migration: 'm', gateTimeout: '2s' }, id);
      return client.result(id);
    });
    assert.equal(res.outcome, 'rejected');
    assert.equal(res.status.approvals[0].decision, 'timed-out');
    // The approvers were asked, reminded half way, and the deadline escalated.
    assert.deepEqual(
      calls.notes?.map((n) => n.kind),
      ['gate-pending', 'gate-reminder', 'gate-escalation'],
    );
    assert.match(calls.notes![0].text, /ferry approve poc-.* --gate poc/);
    assert.match(calls.notes![2].text, /without a decision from alice, bob/);
  });
});

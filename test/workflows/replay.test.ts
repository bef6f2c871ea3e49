// Determinism guard: recorded PoC histories replay against today's workflow code without a
// DeterminismViolationError. Record a new one with FERRY_RECORD_HISTORY=<file> (see poc-real.test).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/temporal';

const DIR = path.resolve(__dirname, '../../../test/fixtures/histories');

describe('replay of recorded PoC histories', function () {
  this.timeout(60_000);

  it('has recorded histories to replay', async () => {
    const files = (await fs.readdir(DIR)).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 1, `no histories in ${DIR}`);
  });

  it('replays each one deterministically', async () => {
    const files = (await fs.readdir(DIR)).filter((f) => f.endsWith('.json'));
    for (const f of files) {
      const history = JSON.parse(await fs.readFile(path.join(DIR, f), 'utf8'));
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${f}`);
    }
  });

  it('detects a workflow that no longer matches its history', async () => {
    // Guard against a replay test that cannot fail: a history whose first command differs must throw.
    const files = (await fs.readdir(DIR)).filter((f) => f.endsWith('.json'));
    const history = JSON.parse(await fs.readFile(path.join(DIR, files[0]), 'utf8'));
    const scheduled = history.events.find(
      (e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes,
    );
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'replay-mutated'),
      /Nondeterminism|DeterminismViolation|does not match/i,
    );
  });
});

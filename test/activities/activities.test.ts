// Activities alone (MockActivityEnvironment, no Temporal server) against real PostgreSQL: heartbeats
// carry progress, errors become typed failures, retries start from a clean scratch database.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { scratchDatabaseName } from '../../src/engine/poc';
import { targetDatabases, testMigration, TestMigration } from '../support/stack';

/** MockActivityEnvironment.run with the activity's own types (its generic does not infer them). */
function run<A, R>(env: MockActivityEnvironment, fn: (a: A) => Promise<R>, a: A): Promise<R> {
  return env.run(fn, a) as Promise<R>;
}

describe('activities (mock activity environment, real PostgreSQL)', function () {
  this.timeout(180_000);
  let m: TestMigration;
  let bad: TestMigration;
  before(async () => {
    m = await testMigration({ label: 'acts' });
    bad = await testMigration({ label: 'acts-bad', sourcePassword: 'nope-not-it' });
  });
  after(async () => {
    await createActivities({ configPath: m.configPath }).dropScratch({ migration: m.name });
    await m.cleanup();
    await bad.cleanup();
  });

  it('describeMigration returns the brief without any secret', async () => {
    const acts = createActivities({ configPath: m.configPath });
    const brief = await run(new MockActivityEnvironment(), acts.describeMigration, { migration: m.name });
    assert.deepEqual(brief.approvers, ['alice']);
    assert.equal(brief.poc.compression, 1);
    assert.ok(!JSON.stringify(brief).includes(m.source.password));
  });

  it('dumpSource heartbeats progress and writes the dump; restoreToScratch twice starts fresh each time', async () => {
    const acts = createActivities({ configPath: m.configPath, heartbeatMs: 50 });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const dump = await run(env, acts.dumpSource, {
      migration: m.name,
      scope: { schemas: [], tables: [] },
      compression: 1,
      runId: 'run1',
    });
    assert.ok(existsSync(dump.file) && dump.bytes > 0);
    assert.ok(beats.length >= 1 && beats.every((b) => typeof (b as { bytes: number }).bytes === 'number'));
    // A retry after a crash: the second restore must not trip over the first one's objects.
    const r1 = await run(env, acts.restoreToScratch, { migration: m.name, file: dump.file, jobs: 2 });
    const r2 = await run(env, acts.restoreToScratch, { migration: m.name, file: dump.file, jobs: 2 });
    assert.equal(r1.scratchDatabase, scratchDatabaseName(m.name));
    assert.equal(r2.scratchDatabase, r1.scratchDatabase);
    assert.deepEqual(await targetDatabases(m.target, r1.scratchDatabase), [r1.scratchDatabase]);
  });

  it('a wrong password becomes a non-retryable AUTH_FAILED naming the endpoint', async () => {
    const acts = createActivities({ configPath: bad.configPath });
    await assert.rejects(
      run(new MockActivityEnvironment(), acts.inspectSource, {
        migration: bad.name,
        scope: { schemas: [], tables: [] },
      }),
      (e: unknown) => {
        assert.ok(e instanceof ApplicationFailure);
        assert.equal(e.type, 'AUTH_FAILED');
        assert.equal(e.nonRetryable, true);
        assert.match(e.message, /onsite/);
        assert.ok(!e.message.includes('nope-not-it'));
        return true;
      },
    );
  });

  it('an unknown migration is a non-retryable MIGRATION_UNKNOWN listing the known ones', async () => {
    const acts = createActivities({ configPath: m.configPath });
    await assert.rejects(
      run(new MockActivityEnvironment(), acts.describeMigration, { migration: 'nope' }),
      (e: unknown) => {
        assert.ok(e instanceof ApplicationFailure);
        assert.equal(e.type, 'MIGRATION_UNKNOWN');
        assert.equal(e.nonRetryable, true);
        assert.ok(e.message.includes(m.name));
        return true;
      },
    );
  });
});

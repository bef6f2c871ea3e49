// The sample migration (test/support/stack.ts: the seeded "shop" database to an empty target), assessed
// with input built the way an activity builds it (ferry.yaml → migrationEndpoints + loadMappingFiles):
// no blocker, and only the findings the sample is known to deserve. Then the run is stored on the
// target and read back.
import assert from 'node:assert/strict';
import { migrationEndpoints } from '../../src/activities/context';
import {
  type AssessmentInput,
  type AssessmentResult,
  RULES,
  appliesTo,
  latestAssessment,
  runAssessment,
  saveAssessment,
} from '../../src/assessment';
import { loadMappingFiles } from '../../src/mapping';
import { connect } from '../support/pg';
import { type TestMigration, testMigration } from '../support/stack';
import { assertFires, describeResult } from './fixtures';

/** What the sample deserves: plain-text test servers, big LOBs, one keyless table, one timestamp. */
const EXPECTED = new Set([
  'endpoint-plaintext',
  'source-lob-truncation',
  'source-table-without-key',
  'type-timestamp-without-tz',
  'target-free-space',
  'mapping-note',
]);

/** How an activity builds the input from ferry.yaml. */
async function inputFor(m: TestMigration): Promise<AssessmentInput> {
  const { m: mig, sourceConn, targetConn } = await migrationEndpoints(m.configPath, m.name);
  const files = await loadMappingFiles(mig.tableMappings, mig.taskSettings);
  return {
    migration: mig.name,
    migrationType: mig.migrationType,
    source: { id: mig.source, conn: sourceConn },
    target: { id: mig.target, conn: targetConn },
    mapping: files.mapping,
    settings: files.settings,
    settingsFindings: files.findings,
  };
}

describe('assessment: the sample migration', function () {
  this.timeout(300_000);
  let m: TestMigration;
  let result: AssessmentResult;

  before(async () => {
    m = await testMigration({ label: 'assess-sample' });
    result = await runAssessment(await inputFor(m));
  });

  after(async () => {
    await m?.cleanup();
  });

  it('has no blocker and only the findings the sample deserves', () => {
    assert.equal(result.blocked, false, describeResult(result));
    const unexpected = result.findings.filter((f) => !EXPECTED.has(f.id));
    assert.deepEqual(unexpected, [], describeResult(result));
    // Every rule that can apply to a full load was evaluated, except those of skipped checks (none here).
    const applicable = RULES.filter((r) => appliesTo(r, 'full-load'));
    const notCounted = ['endpoint-checks-skipped', 'assessment-check-failed', 'mapping-note'];
    assert.ok(
      result.rulesRun >= applicable.length - notCounted.length,
      `rulesRun ${result.rulesRun} of ${applicable.length} applicable`,
    );
    assert.ok(result.seconds > 0 && result.seconds < 30, `took ${result.seconds}s`);
  });

  it('names the sample’s known findings', () => {
    const lobs = assertFires(result, 'source-lob-truncation').map((f) => f.object);
    for (const col of ['column:public.documents.body', 'column:inventory.product_images.content']) {
      assert.ok(lobs.includes(col), `${col} in ${lobs.join(', ')}`);
    }
    assertFires(result, 'source-table-without-key', 'table:audit.events_log');
    assertFires(result, 'type-timestamp-without-tz', 'column:"Legacy"."CustomerNotes"."CreatedAt"');
    const severities = result.findings.map((f) => f.severity);
    assert.deepEqual(
      severities,
      [...severities].sort(
        (a, b) => ['blocker', 'warning', 'info'].indexOf(a) - ['blocker', 'warning', 'info'].indexOf(b),
      ),
      'sorted blocker → warning → info',
    );
  });

  it('is stored on the target and read back; saving the same run again keeps one row', async () => {
    assert.equal(await latestAssessment(m.targetConn, m.name), undefined, 'nothing stored yet');
    const id = await saveAssessment(m.targetConn, m.name, result);
    assert.equal(
      await saveAssessment(m.targetConn, m.name, result),
      id,
      'a retried save updates the same row',
    );
    const stored = await latestAssessment(m.targetConn, m.name);
    assert.ok(stored);
    assert.equal(stored.id, id);
    assert.equal(stored.migration, m.name);
    assert.equal(stored.startedAt, result.startedAt);
    assert.equal(stored.blocked, result.blocked);
    assert.equal(stored.rulesRun, result.rulesRun);
    assert.deepEqual(stored.findings, result.findings);

    const later = {
      ...result,
      startedAt: new Date(Date.parse(result.startedAt) + 60_000).toISOString(),
      blocked: true,
    };
    const laterId = await saveAssessment(m.targetConn, m.name, later);
    assert.notEqual(laterId, id);
    assert.equal((await latestAssessment(m.targetConn, m.name))?.id, laterId);
    assert.equal(await latestAssessment(m.targetConn, `${m.name}-other`), undefined);

    const c = await connect(m.target, m.targetDb);
    try {
      const { rows } = await c.query(
        `SELECT blockers, warnings, infos, jsonb_array_length(findings) AS n FROM ferry.assessment_runs WHERE id = $1`,
        [id],
      );
      const count = (s: string) => result.findings.filter((f) => f.severity === s).length;
      assert.deepEqual(rows[0], {
        blockers: count('blocker'),
        warnings: count('warning'),
        infos: count('info'),
        n: result.findings.length,
      });
    } finally {
      await c.end();
    }
  });
});

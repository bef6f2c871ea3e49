// The whole runbook with `engine: aws-dms`, through the real Temporal dev server: AWS DMS and RDS are
// the in-memory fake behind aws-sdk-client-mock (no AWS call is made), Secrets Manager is mocked, the
// source and target are real PostgreSQL servers. The AWS request sequence is compared with a golden
// file; the cutover freezes the real source and waits for "DMS" (a loop advancing its slot, as DMS
// confirms what it applied) to reach the freeze point; done deletes what Ferry created.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { plain } from '../dms/fake';
import { connect } from '../support/pg';
import { dmsRunbook, type DmsRunbook } from '../support/dms-runbook';

const GOLDEN = path.resolve(__dirname, '../../../test/workflows/golden/dms-runbook.json');

describe('migration workflow on engine aws-dms (fake AWS, real Temporal and PostgreSQL)', function () {
  this.timeout(300_000);
  let rb: DmsRunbook | undefined;
  after(async () => {
    await rb?.cleanup();
  });

  it('provisions, loads, validates, cuts over and tears down what it created; the requests as the golden file', async () => {
    rb = await dmsRunbook({ label: 'mig-dms', slotName: 'dms_slot' });
    const { m, fake, client, id } = rb;
    const worker = await rb.worker();
    const st = await worker.runUntil(async () => {
      await rb!.start();
      return rb!.drive(rb!.approveCutover);
    });
    assert.equal(st.phase, 'done', `${st.error}\n${st.findings.join('\n')}`);
    assert.deepEqual(Object.keys(st.phases), [
      'catalog',
      'assess',
      'provision',
      'full-load',
      'cdc',
      'validate',
      'awaiting-cutover',
      'cutover',
      'post-cutover',
      'done',
    ]);
    const r = st.dms!.resources;
    assert.ok(
      r.instance.created && r.source.created && r.target.created && r.task.created,
      JSON.stringify(r),
    );
    assert.equal(st.dms!.snapshot?.created, true);
    assert.deepEqual(
      st.cutover!.steps.map((s) => s.name),
      ['window', 'freeze', 'drained', 'validated', 'sequences', 'switch'],
    );
    assert.match(st.cutover!.steps[2].detail!, /on slot dms_slot/);
    assert.ok(st.cutover!.writeFreezeMs! > 0 && st.cutover!.withinSla, JSON.stringify(st.cutover));
    // Done: everything Ferry created is deleted, task first, instance last.
    const deletes = fake.log.filter((x) => x.command.startsWith('Delete')).map((x) => x.command);
    assert.deepEqual(deletes, [
      'DeleteReplicationTask',
      'DeleteEndpoint',
      'DeleteEndpoint',
      'DeleteReplicationInstance',
    ]);
    // The source stays frozen for the application after the cutover.
    const s = await connect(m.source, rb.srcDb);
    try {
      await assert.rejects(
        s.query(`UPDATE inventory.products SET description = 'late' WHERE id = 1`),
        /read-only/,
      );
    } finally {
      await s.end();
    }

    // The AWS requests, in order (consecutive repeats of a poll folded), names made stable.
    const runId = (await client.describe(id)).runId;
    const folded: { service: string; command: string; input: unknown; repeated?: boolean }[] = [];
    for (const x of fake.log) {
      const last = folded.at(-1);
      const same =
        last && last.command === x.command && JSON.stringify(last.input) === JSON.stringify(plain(x.input));
      if (same) last.repeated = true;
      else folded.push({ service: x.service, command: x.command, input: plain(x.input) });
    }
    const stable = JSON.parse(
      JSON.stringify(folded)
        .replace(new RegExp(m.name, 'gi'), '<migration>') // the fake's ARNs upper-case ids
        .replaceAll(runId.slice(0, 8), '<run>')
        .replaceAll(rb.srcDb, '<source-db>')
        .replaceAll(m.targetDb, '<target-db>')
        .replace(/"Port":\d+/g, '"Port":"<port>"'),
    );
    if (process.env.FERRY_UPDATE_GOLDEN === '1') {
      await fs.mkdir(path.dirname(GOLDEN), { recursive: true });
      await fs.writeFile(GOLDEN, JSON.stringify(stable, null, 2) + '\n');
    }
    assert.deepEqual(stable, JSON.parse(await fs.readFile(GOLDEN, 'utf8')));
  });
});

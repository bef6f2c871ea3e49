// The monitoring commands as an operator runs them, against real servers: `ferry assess --json`
// (its last-line contract and exit code), `ferry validate` naming corrupted rows by key, `ferry audit`,
// `ferry logs` and `ferry changes`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { readSourceCatalog } from '../../src/engine/catalog';
import { appendAudit } from '../../src/engine/audit';
import { runFullLoadLocal } from '../../src/engine/fullload/run';
import { compilePlan, loadMappingFiles } from '../../src/mapping';
import { connect } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';

const execFileP = promisify(execFile);
const BIN = path.resolve(__dirname, '../../../bin/ferry.js');

const SALES_ONLY = {
  rules: [
    {
      'rule-type': 'selection',
      'rule-id': '1',
      'rule-name': 'sales',
      'object-locator': { 'schema-name': 'sales', 'table-name': '%' },
      'rule-action': 'include',
    },
  ],
};

async function ferry(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP('node', [BIN, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

const lastLine = (s: string) => s.trim().split('\n').at(-1)!;

describe('ferry assess, validate, audit, logs, changes (CLI)', function () {
  this.timeout(300_000);
  let m: TestMigration;
  before(async () => {
    m = await testMigration({ label: 'cli-mon', tableMappings: SALES_ONLY });
  });
  after(async () => {
    await m?.cleanup();
  });

  it('assess --json: the last line is {blocked, findings[id, severity, object, message, advice]}', async () => {
    const r = await ferry('assess', m.name, '--config', m.configPath, '--json');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(lastLine(r.stdout));
    assert.deepEqual(Object.keys(doc), ['blocked', 'findings']);
    assert.equal(doc.blocked, false);
    assert.ok(doc.findings.length > 0);
    for (const f of doc.findings) {
      assert.deepEqual(Object.keys(f), ['id', 'severity', 'object', 'message', 'advice']);
      assert.ok(['blocker', 'warning', 'info'].includes(f.severity));
    }
    // The run is stored: --last prints it without assessing again.
    const last = await ferry('assess', m.name, '--config', m.configPath, '--json', '--last');
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(JSON.parse(lastLine(last.stdout)), doc);
    // The sample's plain-text loopback sessions are named per endpoint.
    assert.ok(
      doc.findings.some(
        (f: { id: string; object: string }) =>
          f.id === 'endpoint-plaintext' && f.object === 'endpoint:onsite',
      ),
    );
  });

  it('assess: a wrong password is a blocker named for its endpoint, exit code 2', async () => {
    const bad = path.join(m.dir, 'bad.yaml');
    const text = await fs.readFile(m.configPath, 'utf8');
    await fs.writeFile(path.join(m.dir, 'wrong.pw'), 'not-the-password\n', { mode: 0o600 });
    await fs.writeFile(bad, text.replace('file:source.pw', 'file:wrong.pw'));
    const r = await ferry('assess', m.name, '--config', bad, '--json');
    assert.equal(r.code, 2, r.stderr);
    const doc = JSON.parse(lastLine(r.stdout));
    assert.equal(doc.blocked, true);
    const f = doc.findings.find((x: { id: string }) => x.id === 'endpoint-auth-failed');
    assert.ok(f, JSON.stringify(doc.findings));
    assert.equal(f.object, 'endpoint:onsite');
    assert.ok(!lastLine(r.stdout).includes('not-the-password'), 'the password never appears');
    const text2 = await ferry('assess', m.name, '--config', bad);
    assert.match(text2.stdout, /BLOCKED/);
    assert.match(text2.stdout, /ferry approve <workflow-id> --gate assessment/);
  });

  it('validate: a loaded target validates; corrupted rows are named by key and kind, exit code 2', async () => {
    const catalog = await readSourceCatalog(m.sourceConn);
    const files = await loadMappingFiles(path.join(m.dir, 'mappings.json'));
    const plan = compilePlan(files.mapping, catalog, files.settings);
    await runFullLoadLocal({
      migration: m.name,
      source: m.sourceConn,
      target: m.targetConn,
      plan,
      catalog,
      concurrency: 2,
    });

    const clean = await ferry('validate', m.name, '--config', m.configPath, '--json');
    assert.equal(clean.code, 0, clean.stderr);
    const ok = JSON.parse(lastLine(clean.stdout));
    assert.equal(ok.totals.mismatches, 0);
    assert.equal(ok.totals.validated, ok.totals.tables);

    const tgt = await connect(m.target, m.targetDb);
    let ids: number[];
    try {
      const r = await tgt.query<{ id: string }>('SELECT id FROM sales.customers ORDER BY id LIMIT 2');
      ids = r.rows.map((x) => Number(x.id));
      // No triggers (updated_at) or foreign keys in the way: only the corruption itself.
      await tgt.query('SET session_replication_role = replica');
      await tgt.query(`UPDATE sales.customers SET full_name = 'tampered' WHERE id = $1`, [ids[0]]);
      await tgt.query('DELETE FROM sales.customers WHERE id = $1', [ids[1]]);
    } finally {
      await tgt.end();
    }
    const bad = await ferry(
      'validate',
      m.name,
      '--config',
      m.configPath,
      '--table',
      'sales.customers',
      '--json',
    );
    assert.equal(bad.code, 2, bad.stderr);
    const report = JSON.parse(lastLine(bad.stdout));
    assert.equal(report.tables[0].state, 'Mismatched records');
    const kinds = Object.fromEntries(
      report.failures.map((f: { key: Record<string, string>; kind: string }) => [f.key.id, f.kind]),
    );
    assert.deepEqual(kinds, { [String(ids[0])]: 'different', [String(ids[1])]: 'missing-on-target' });
    const different = report.failures.find((f: { kind: string }) => f.kind === 'different');
    assert.equal(different.target.full_name, 'tampered');
    assert.notEqual(different.source.full_name, 'tampered');

    const text = await ferry('validate', m.name, '--config', m.configPath, '--report');
    assert.match(text.stdout, /Mismatched records/);
    assert.match(text.stdout, new RegExp(`different sales\\.customers key \\{"id":"${ids[0]}"\\}`));
  });

  it('audit: lists who did what, when and why', async () => {
    await appendAudit(m.targetConn, [
      {
        migration: m.name,
        action: 'pause',
        by: 'alice',
        reason: 'month-end batch',
        at: '2026-01-01T10:00:00.000Z',
        key: 'k1',
      },
    ]);
    const r = await ferry('audit', m.name, '--config', m.configPath, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(lastLine(r.stdout));
    assert.deepEqual(
      rows.map((x: { action: string; by: string; reason: string }) => [x.action, x.by, x.reason]),
      [['pause', 'alice', 'month-end batch']],
    );
    const text = await ferry('audit', m.name, '--config', m.configPath);
    assert.match(text.stdout, /pause\s+by alice — month-end batch/);
  });

  it("logs: the embedded servers' logs are read; an error of the window is listed", async () => {
    const c = await connect(m.source, m.sourceDb);
    try {
      await c.query("SET application_name = 'ferry-cli-test'");
      await c.query('SELECT * FROM no_such_table_for_logs').catch(() => undefined);
    } finally {
      await c.end();
    }
    const r = await ferry(
      'logs',
      m.name,
      '--config',
      m.configPath,
      '--since',
      '5m',
      '--errors-only',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(lastLine(r.stdout));
    assert.equal(doc.source.readable, true, JSON.stringify(doc.source));
    assert.equal(doc.target.readable, true, JSON.stringify(doc.target));
    assert.ok(
      doc.source.lines.some(
        (l: { severity: string; message: string }) =>
          l.severity === 'ERROR' && /no_such_table_for_logs/.test(l.message),
      ),
      JSON.stringify(doc.source.lines),
    );
  });

  it('changes: says how to turn the journal on when it is off', async () => {
    const r = await ferry(
      'changes',
      m.name,
      '--config',
      m.configPath,
      '--table',
      'sales.customers',
      '--since',
      '1h',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /journal of .* is off: set migrations\[\]\.cdc\.journal\.enabled: true/);
    const bad = await ferry('changes', m.name, '--config', m.configPath, '--since', 'yesterday-ish');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /since|time/i);
  });
});

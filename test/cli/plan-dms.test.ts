// `ferry plan <migration> --engine aws-dms --dry-run`: the exact AWS requests, built from ferry.yaml,
// with the migration's own mapping and settings files, compared with a golden file; nothing is sent
// (no AWS endpoint is reachable here, and none is needed).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/ferry.js');
const GOOD = path.join(ROOT, 'test/config/fixtures/good');
const GOLDEN = path.join(ROOT, 'test/cli/golden/plan-dms-good.json');

interface Planned {
  phase: string;
  service: string;
  command: string;
  input: Record<string, unknown>;
}

const ferry = (...args: string[]) => execFileP(process.execPath, [BIN, ...args], { cwd: ROOT });

describe('ferry plan --engine aws-dms --dry-run', function () {
  this.timeout(60_000);

  it('prints the AWS requests of a fresh setup, from ferry.yaml and the DMS files, as the golden file says', async () => {
    const cfg = path.join(GOOD, 'ferry.yaml');
    const { stdout } = await ferry(
      'plan',
      'shop-to-aurora',
      '--engine',
      'aws-dms',
      '--dry-run',
      '--json',
      '--config',
      cfg,
    );
    const plan = JSON.parse(stdout) as Planned[];
    if (process.env.FERRY_UPDATE_GOLDEN === '1')
      await fs.writeFile(GOLDEN, JSON.stringify(plan, null, 2) + '\n');
    assert.deepEqual(plan, JSON.parse(await fs.readFile(GOLDEN, 'utf8')));

    const first = (command: string) => plan.find((r) => r.command === command)!.input;
    const ri = first('CreateReplicationInstance');
    assert.equal(ri.ReplicationInstanceClass, 'dms.r6i.large');
    assert.equal(ri.MultiAZ, true);
    assert.equal(ri.PubliclyAccessible, false);
    const source = plan.find(
      (r) => r.command === 'CreateEndpoint' && r.input.EndpointType === 'source',
    )!.input;
    const pg = source.PostgreSQLSettings as Record<string, unknown>;
    assert.equal(
      pg.SecretsManagerSecretId,
      'arn:aws:secretsmanager:eu-central-1:123456789012:secret:ferry-onsite-XyZ123',
    );
    assert.equal(pg.SecretsManagerAccessRoleArn, 'arn:aws:iam::123456789012:role/dms-secrets');
    // The task gets the migration's own DMS files, as written.
    const task = first('CreateReplicationTask');
    assert.equal(task.MigrationType, 'full-load-and-cdc');
    assert.equal(task.TableMappings, await fs.readFile(path.join(GOOD, 'mappings.json'), 'utf8'));
    assert.equal(task.ReplicationTaskSettings, await fs.readFile(path.join(GOOD, 'settings.json'), 'utf8'));
    // Every created resource is tagged with the migration, its owner and who created it.
    for (const r of plan.filter((x) => x.command.startsWith('Create'))) {
      const tags = (r.input.Tags as { Key: string; Value: string }[] | undefined) ?? [];
      assert.ok(
        tags.some((t) => t.Key === 'created-by' && t.Value === 'ferry'),
        `${r.command} untagged`,
      );
    }
    assert.ok(!/"Password"\s*:\s*"(?!<redacted>)/.test(stdout), 'no password in the plan');
  });

  it('plans a full-load migration as a task with MigrationType full-load', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-plan-dms-'));
    try {
      await fs.cp(GOOD, dir, { recursive: true });
      const cfg = path.join(dir, 'ferry.yaml');
      const text = await fs.readFile(cfg, 'utf8');
      await fs.writeFile(cfg, text.replace('migrationType: full-load-and-cdc', 'migrationType: full-load'));
      const { stdout } = await ferry(
        'plan',
        'shop-to-aurora',
        '--engine',
        'aws-dms',
        '--dry-run',
        '--json',
        '--config',
        cfg,
      );
      const plan = JSON.parse(stdout) as Planned[];
      const task = plan.find((r) => r.command === 'CreateReplicationTask')!.input;
      assert.equal(task.MigrationType, 'full-load');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a native migration with the fix', async () => {
    const cfg = path.join(GOOD, 'ferry.yaml');
    await assert.rejects(
      ferry('plan', 'shop-rehearsal', '--engine', 'aws-dms', '--dry-run', '--config', cfg),
      /does not run on AWS DMS: set engine: aws-dms, a dms: section and aws: \{ region \}/,
    );
  });
});

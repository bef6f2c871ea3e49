// Every file in fixtures/bad is an invalid ferry.yaml; each must fail with CONFIG_INVALID naming the
// field, what was found and the fix. The table below is the contract for those messages.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/config';
import { ErrorType, FerryError } from '../../src/errors';

// Compiled to dist/test/config; fixtures stay in the source tree.
const BAD = path.resolve(__dirname, '../../../test/config/fixtures/bad');

interface Case {
  /** Substrings the message must contain: field path, what was found, the fix. */
  expect: string[];
  /** Substrings it must not contain (a secret, a noise message). */
  absent?: string[];
  /** Number of problem lines; 1 unless the fixture has more. */
  lines?: number;
}

const CASES: Record<string, Case> = {
  'dms-incomplete.yaml': {
    expect: [
      'aws: missing, and migrations[0] uses engine aws-dms; add aws: { region: eu-central-1 }',
      'endpoints[0].password: migration shop-to-aurora runs on AWS DMS, which reads this password itself; use an aws-secretsmanager:ARN reference',
      'migrations[0].dms.replicationInstance.subnetGroup: missing; add subnetGroup',
      'migrations[0].dms.secretsAccessRoleArn: got "dms-secrets"; use an IAM role ARN',
      'migrations[1].dms: only engine aws-dms uses a dms: section',
    ],
    lines: 6,
  },
  'cutover-hook-missing.yaml': {
    expect: [
      'migrations[0].cutover.sequenceMargin: got -5; use at least 0',
      'migrations[0].cutover.freezeHook: freeze: hook needs a freezeHook',
    ],
    lines: 2,
  },
  'cutover-bad-freeze.yaml': {
    expect: [
      'migrations[0].cutover.freeze: got "readonly"; use one of: read-only, revoke, hook',
      'migrations[0].cutover.postCutoverWatch: got "forever"; use a whole number followed by ms, s, m, h or d',
      'migrations[0].provision.replicas: got 0; use at least 1',
    ],
    lines: 3,
  },
  'empty.yaml': { expect: ['the file is empty; add at least an endpoints: list'] },
  'not-a-mapping.yaml': { expect: ['got a list at the top level; write a mapping'] },
  'yaml-syntax.yaml': {
    expect: [
      'yaml-syntax.yaml:7:5: Flow sequence',
      'end with a ]; fix the YAML syntax there',
      'more YAML error(s)',
    ],
    lines: 2,
  },
  'duplicate-yaml-key.yaml': {
    expect: ['duplicate-yaml-key.yaml:8:5: Map keys must be unique; keep one of the repeated keys'],
  },
  'missing-endpoints.yaml': { expect: ['endpoints: missing; add endpoints: PostgreSQL servers'] },
  'empty-endpoints.yaml': { expect: ['endpoints: got an empty list; list at least 1'] },
  'missing-host.yaml': { expect: ['endpoints[0].host: missing; add host: host name or IP address'] },
  'bad-port.yaml': { expect: ['endpoints[0].port: got 70000; use at most 65535'] },
  'port-not-number.yaml': { expect: ['endpoints[0].port: got "fivefourthreetwo"; use a number'] },
  'literal-password.yaml': {
    expect: [
      'endpoints[0].password: a literal password (value not shown)',
      'use a secret reference instead: env:NAME, file:PATH or aws-secretsmanager:ARN',
    ],
    absent: ['hunter2', 's3cret'],
  },
  'bad-secret-ref.yaml': {
    expect: ['endpoints[0].password: an env: reference without a valid variable name'],
  },
  'unknown-key-suggestion.yaml': { expect: ['endpoints[0].prot: unknown key; did you mean "port"?'] },
  'unknown-key-case.yaml': { expect: ['temporal.taskqueue: unknown key; did you mean "taskQueue"?'] },
  'unknown-key-root.yaml': {
    expect: [
      'colour: unknown key; remove it (keys allowed here: temporal, workDir, endpoints, inventory, migrations, notifications, control, aws)',
    ],
  },
  'bad-sslmode.yaml': {
    expect: [
      'endpoints[0].sslmode: got "required"; use one of: disable, allow, prefer, require, verify-ca, verify-full',
      '(did you mean "require"?)',
    ],
  },
  'bad-endpoint-id.yaml': { expect: ['endpoints[0].id: got "on site"; use letters, digits'] },
  'dup-endpoint-id.yaml': {
    expect: ['endpoints[1].id: "onsite" is already the id of endpoints[0]; give each endpoint a unique id'],
  },
  'migration-unknown-endpoint.yaml': {
    expect: ['migrations[0].source: endpoint "nope" is not defined; use one of: onsite, aurora'],
  },
  'migration-source-role.yaml': {
    expect: [
      'migrations[0].source: endpoint "aurora" has role target, not source; use an endpoint with role source: onsite',
    ],
  },
  'migration-target-role.yaml': {
    expect: [
      'migrations[0].target: endpoint "onsite" has role source, not target; use an endpoint with role target: aurora',
    ],
  },
  'bad-engine.yaml': { expect: ['migrations[0].engine: got "dms"; use one of: native, aws-dms'] },
  'bad-migration-type.yaml': {
    expect: [
      'migrations[0].migrationType: got "full-load-cdc"; use one of: full-load, full-load-and-cdc, cdc',
    ],
  },
  'missing-approvers.yaml': { expect: ['migrations[0].approvers: missing; add approvers: who may approve'] },
  'empty-approvers.yaml': { expect: ['migrations[0].approvers: got an empty list; list at least 1'] },
  'dup-migration-name.yaml': {
    expect: [
      'migrations[1].name: "shop-to-aurora" is already the name of migrations[0]; give each migration a unique name',
    ],
  },
  'compression-12.yaml': {
    expect: ['migrations[0].poc.compression: got 12; use at most 9 (pg_dump -Z compression level'],
  },
  'jobs-0.yaml': { expect: ['migrations[0].poc.jobs: got 0; use at least 1 (pg_restore -j'] },
  'size-cap-zero.yaml': { expect: ['migrations[0].poc.sizeCapMb: got 0; use more than 0'] },
  'poc-table-format.yaml': {
    expect: ['migrations[0].poc.tables[1]: got "orders"; write tables as schema.table'],
  },
  'mapping-missing.yaml': {
    expect: [
      `migrations[0].tableMappings: file ${path.join(BAD, 'no-such-mappings.json')} does not exist; create it or correct the path`,
    ],
  },
  'bad-duration.yaml': {
    expect: [
      'inventory[0].sla.maxDowntime: got "15 minutes"; use a whole number followed by ms, s, m, h or d',
    ],
  },
  'inventory-endpoint-not-source.yaml': {
    expect: [
      'inventory[0].endpoint: endpoint "aurora" has role target, not source; use an endpoint with role source: onsite',
    ],
  },
  'inventory-bad-email.yaml': { expect: ['inventory[0].owners[0].email: got "alice"; use an email address'] },
  'inventory-tag-number.yaml': {
    expect: ['inventory[0].tags.tier: got 1; use a string: quote it, e.g. "1"'],
  },
  'many-problems.yaml': {
    expect: [
      'temporal.adress: unknown key; did you mean "address"?',
      'endpoints[0].port: got 0; use at least 1',
      'endpoints[0].password: a literal password',
      'migrations[0].source: endpoint "aurora" has role target, not source',
      'migrations[0].target: endpoint "nowhere" is not defined; use one of: onsite, aurora',
      'migrations[0].engine: got "dms"; use one of: native, aws-dms',
    ],
    absent: ['hunter2'],
    lines: 6,
  },
};

describe('config: bad ferry.yaml files', () => {
  it('has an expectation for every fixture, and a fixture for every expectation', () => {
    const files = fs
      .readdirSync(BAD)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    assert.deepEqual(files, Object.keys(CASES).sort());
    assert.ok(files.length >= 18);
  });

  for (const [file, c] of Object.entries(CASES)) {
    it(file, async () => {
      const configPath = path.join(BAD, file);
      const err = await loadConfig(configPath).then(
        () => assert.fail(`${file} loaded without error`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof FerryError, String(err));
      assert.equal(err.type, ErrorType.CONFIG_INVALID);
      const lines = err.message.split('\n');
      assert.equal(lines.length, c.lines ?? 1, `problem lines:\n${err.message}`);
      for (const line of lines) assert.ok(line.startsWith(`${configPath}:`), `no file label: ${line}`);
      // "<file>: <field>: <found>; <fix>" (or "<file>:L:C: ..." for YAML syntax): every line has a fix.
      for (const line of lines) assert.match(line, /; \S/, `no fix in: ${line}`);
      for (const part of c.expect)
        assert.ok(err.message.includes(part), `missing ${JSON.stringify(part)} in:\n${err.message}`);
      for (const part of c.absent ?? [])
        assert.ok(!err.message.includes(part), `must not contain ${JSON.stringify(part)}:\n${err.message}`);
    });
  }
});

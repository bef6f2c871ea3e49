// Tests for secret references: parsing, resolving env:/file:/aws-secretsmanager:, and never echoing a value.

import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkSecretFilePermissions, parseConfig, parseSecretRef, resolveSecret } from '../../src/config';
import { ErrorType, FerryError } from '../../src/errors';

const ARN = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:ferry-aurora-AbCdEf';
const SECRET = 'pa55-W0rd!never-show-me';

/** Runs fn, expects SECRET_UNRESOLVED, and returns its message after checking SECRET is not in it. */
async function unresolved(fn: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof FerryError, `expected FerryError, got ${String(err)}`);
    assert.equal(err.type, ErrorType.SECRET_UNRESOLVED);
    assert.ok(!err.message.includes(SECRET), `message echoes the secret: ${err.message}`);
    return err.message;
  }
  assert.fail('expected SECRET_UNRESOLVED, nothing was thrown');
}

describe('config/secrets', () => {
  let dir: string;
  const envName = `FERRY_TEST_SECRET_${process.pid}`;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-secrets-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    delete process.env[envName];
  });

  function secretFile(name: string, content: string, mode: number): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    fs.chmodSync(file, mode); // explicit: the umask would otherwise decide
    return file;
  }

  describe('parseSecretRef', () => {
    it('splits each kind', () => {
      assert.deepEqual(parseSecretRef('env:PGPASS'), { kind: 'env', name: 'PGPASS' });
      assert.deepEqual(parseSecretRef('file:/run/secrets/pg'), { kind: 'file', path: '/run/secrets/pg' });
      assert.deepEqual(parseSecretRef('file:secrets/pg.pw'), { kind: 'file', path: 'secrets/pg.pw' });
      assert.deepEqual(parseSecretRef(`aws-secretsmanager:${ARN}`), { kind: 'aws-secretsmanager', arn: ARN });
    });

    it('rejects a literal password without echoing it', async () => {
      const message = await unresolved(() => parseSecretRef(SECRET));
      assert.match(message, /literal password/);
      assert.match(message, /env:NAME, file:PATH or aws-secretsmanager:ARN/);
    });

    it('rejects malformed references', async () => {
      assert.match(await unresolved(() => parseSecretRef('env:')), /variable name/);
      assert.match(await unresolved(() => parseSecretRef('env:1BAD')), /variable name/);
      assert.match(await unresolved(() => parseSecretRef('file:')), /without a path/);
      assert.match(await unresolved(() => parseSecretRef('aws-secretsmanager:my-secret')), /ARN/);
    });
  });

  describe('env:', () => {
    it('returns the variable', async () => {
      process.env[envName] = SECRET;
      assert.equal(await resolveSecret(`env:${envName}`), SECRET);
    });

    it('names a missing variable and how to set it', async () => {
      delete process.env[envName];
      const message = await unresolved(() => resolveSecret(`env:${envName}`));
      assert.match(message, new RegExp(`environment variable ${envName} is not set`));
      assert.match(message, new RegExp(`export ${envName}=`));
    });

    it('treats an empty variable as unresolved', async () => {
      process.env[envName] = '';
      assert.match(await unresolved(() => resolveSecret(`env:${envName}`)), /set but empty/);
    });
  });

  describe('file:', () => {
    it('reads the file and drops the trailing newline', async () => {
      const file = secretFile('pw-abs', `${SECRET}\n`, 0o600);
      const warnings: string[] = [];
      assert.equal(await resolveSecret(`file:${file}`, { warn: (w) => warnings.push(w) }), SECRET);
      assert.deepEqual(warnings, []);
    });

    it('resolves a relative path against baseDir', async () => {
      secretFile('pw-rel', `${SECRET}\r\n`, 0o600);
      assert.equal(await resolveSecret('file:pw-rel', { baseDir: dir, warn: () => {} }), SECRET);
    });

    it('reports a missing file with its path', async () => {
      const missing = path.join(dir, 'nope');
      const message = await unresolved(() => resolveSecret(`file:${missing}`));
      assert.ok(message.includes(missing), message);
      assert.match(message, /ENOENT/);
    });

    it('reports an empty file', async () => {
      const file = secretFile('pw-empty', '\n', 0o600);
      assert.match(await unresolved(() => resolveSecret(`file:${file}`)), /is empty/);
    });

    it('warns when group or others can read the file, and still returns the value', async () => {
      const file = secretFile('pw-open', SECRET, 0o644);
      const warning = checkSecretFilePermissions(file);
      assert.ok(warning, 'expected a warning for mode 0644');
      assert.match(warning, /readable by group or others \(mode 0644\)/);
      assert.ok(warning.includes(`chmod 600 ${file}`));
      assert.ok(!warning.includes(SECRET));

      const warnings: string[] = [];
      assert.equal(await resolveSecret(`file:${file}`, { warn: (w) => warnings.push(w) }), SECRET);
      assert.deepEqual(warnings, [warning]);
    });

    it('does not warn for 0600 or 0400, nor for a file that is not there', () => {
      assert.equal(checkSecretFilePermissions(secretFile('pw-600', SECRET, 0o600)), undefined);
      assert.equal(checkSecretFilePermissions(secretFile('pw-400', SECRET, 0o400)), undefined);
      assert.equal(checkSecretFilePermissions(path.join(dir, 'absent')), undefined);
    });
  });

  describe('aws-secretsmanager:', () => {
    const ref = `aws-secretsmanager:${ARN}`;

    it('passes the ARN to the fetcher and returns a plain secret as is', async () => {
      const asked: string[] = [];
      const value = await resolveSecret(ref, {
        awsFetch: async (arn) => {
          asked.push(arn);
          return SECRET;
        },
      });
      assert.equal(value, SECRET);
      assert.deepEqual(asked, [ARN]);
    });

    it('takes the password key of a JSON secret, as RDS-managed secrets store it', async () => {
      const json = JSON.stringify({ username: 'ferry', password: SECRET, engine: 'postgres' });
      assert.equal(await resolveSecret(ref, { awsFetch: async () => json }), SECRET);
    });

    it('rejects a JSON secret without a password key, naming keys but no values', async () => {
      const json = JSON.stringify({ username: 'ferry', pass: SECRET });
      const message = await unresolved(() => resolveSecret(ref, { awsFetch: async () => json }));
      assert.match(message, /without a non-empty "password" key \(keys: username, pass\)/);
    });

    it('wraps a fetcher failure as SECRET_UNRESOLVED', async () => {
      const failing = async (): Promise<string> => {
        const err = new Error('User is not authorized to perform: secretsmanager:GetSecretValue');
        err.name = 'AccessDeniedException';
        throw err;
      };
      const message = await unresolved(() => resolveSecret(ref, { awsFetch: failing }));
      assert.match(message, /AccessDeniedException/);
      assert.ok(message.includes(ARN));
    });

    it("the default fetcher asks Secrets Manager in the ARN's region and reads a JSON secret's password", async () => {
      const sm = mockClient(SecretsManagerClient);
      try {
        sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({
          SecretString: JSON.stringify({ username: 'ferry', password: SECRET, host: 'h', port: 5432 }),
        });
        assert.equal(await resolveSecret(ref), SECRET);
        const calls = sm.commandCalls(GetSecretValueCommand);
        assert.equal(calls.length, 1);
        assert.equal(await calls[0].thisValue.config.region(), ARN.split(':')[3]);
        sm.on(GetSecretValueCommand).rejects(
          Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), {
            name: 'AccessDeniedException',
          }),
        );
        assert.match(await unresolved(() => resolveSecret(ref)), /AccessDeniedException/);
      } finally {
        sm.restore();
      }
    });
  });

  it('a literal password in ferry.yaml is rejected without being echoed', () => {
    const yaml = [
      'endpoints:',
      '  - { id: onsite, role: source, host: h, database: d, user: u, password: "' + SECRET + '" }',
    ].join('\n');
    assert.throws(
      () => parseConfig(yaml, 'ferry.yaml', dir),
      (err: unknown) =>
        err instanceof FerryError &&
        err.type === ErrorType.CONFIG_INVALID &&
        err.message.includes('endpoints[0].password: a literal password') &&
        err.message.includes('env:NAME, file:PATH or aws-secretsmanager:ARN') &&
        !err.message.includes(SECRET),
    );
  });
});

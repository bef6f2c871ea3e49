// Secret references (env:NAME, file:PATH, aws-secretsmanager:ARN): parse them, and resolve them to the
// value inside activities only, so passwords never sit in ferry.yaml or in workflow history.

import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorType, FerryError } from '../errors';

export type SecretRef =
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'aws-secretsmanager'; arn: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Partitions aws, aws-cn, aws-us-gov; a secret ARN ends in ":secret:<name>-<6 random chars>".
const SECRETS_MANAGER_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

/** The same rule as secretRefProblem, for the JSON Schema (editors flag a literal password early). */
export const SECRET_REF_PATTERN =
  /^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|aws-secretsmanager:arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+)$/;

const REF_FORMS = 'env:NAME, file:PATH or aws-secretsmanager:ARN';

/**
 * Why `text` is not a usable secret reference, as "what was found" and "the fix", or undefined if it
 * is one. Neither part ever contains `text`: a config author who typed the password itself must not
 * see it echoed into logs, CI output or an error report.
 */
export function secretRefProblem(text: string): { found: string; fix: string } | undefined {
  if (text.startsWith('env:')) {
    if (ENV_NAME.test(text.slice(4))) return undefined;
    return {
      found: 'an env: reference without a valid variable name',
      fix: 'write env: followed by an environment variable name such as PGPASSWORD',
    };
  }
  if (text.startsWith('file:')) {
    if (text.length > 5) return undefined;
    return {
      found: 'a file: reference without a path',
      fix: 'write file: followed by the path of a file that holds only the password',
    };
  }
  if (text.startsWith('aws-secretsmanager:')) {
    if (SECRETS_MANAGER_ARN.test(text.slice('aws-secretsmanager:'.length))) return undefined;
    return {
      found: 'an aws-secretsmanager: reference without a secret ARN',
      fix: 'write aws-secretsmanager: followed by the ARN, arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME',
    };
  }
  return {
    found: 'a literal password (value not shown)',
    fix: `use a secret reference instead: ${REF_FORMS}; Ferry keeps passwords out of config files and workflow history`,
  };
}

/** Splits a reference into its kind and target. Throws SECRET_UNRESOLVED (without echoing `text`). */
export function parseSecretRef(text: string): SecretRef {
  const problem = secretRefProblem(text);
  if (problem) throw new FerryError(ErrorType.SECRET_UNRESOLVED, `${problem.found}; ${problem.fix}`);
  if (text.startsWith('env:')) return { kind: 'env', name: text.slice(4) };
  if (text.startsWith('file:')) return { kind: 'file', path: text.slice(5) };
  return { kind: 'aws-secretsmanager', arn: text.slice('aws-secretsmanager:'.length) };
}

export interface ResolveSecretOptions {
  /** Relative file: paths resolve against this (the config file's directory); default: cwd. */
  baseDir?: string;
  /** Returns the SecretString of an ARN; default: AWS SDK v3, if @aws-sdk/client-secrets-manager is installed. */
  awsFetch?: (arn: string) => Promise<string>;
  /** Receives warnings such as a group-readable secret file; default: process.emitWarning, once per file. */
  warn?: (message: string) => void;
}

/** Resolves a reference to the secret's value. Every failure is SECRET_UNRESOLVED and never shows the value. */
export async function resolveSecret(ref: string, opts: ResolveSecretOptions = {}): Promise<string> {
  const parsed = parseSecretRef(ref);
  switch (parsed.kind) {
    case 'env':
      return resolveEnv(parsed.name);
    case 'file':
      return resolveFile(
        path.resolve(opts.baseDir ?? process.cwd(), parsed.path),
        ref,
        opts.warn ?? warnOnce,
      );
    case 'aws-secretsmanager':
      return resolveAws(parsed.arn, opts.awsFetch ?? fetchFromSecretsManager);
  }
}

function resolveEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined) {
    throw new FerryError(
      ErrorType.SECRET_UNRESOLVED,
      `environment variable ${name} is not set (from env:${name}); set it in the environment of the ` +
        `ferry worker and CLI (export ${name}=...), or use file: or aws-secretsmanager: instead`,
    );
  }
  if (value === '') {
    throw new FerryError(
      ErrorType.SECRET_UNRESOLVED,
      `environment variable ${name} is set but empty (from env:${name}); set it to the password, or ` +
        `remove the password from the endpoint if the server needs none`,
    );
  }
  return value;
}

async function resolveFile(file: string, ref: string, warn: (message: string) => void): Promise<string> {
  let content: string;
  try {
    content = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    const fix =
      code === 'ENOENT'
        ? 'create it with only the password in it (chmod 600), or fix the path'
        : 'make it readable by the user running ferry (and by no one else: chmod 600)';
    throw new FerryError(
      ErrorType.SECRET_UNRESOLVED,
      `cannot read secret file ${file} (from ${ref}): ${code}; ${fix}`,
    );
  }
  const warning = checkSecretFilePermissions(file);
  if (warning) warn(warning);
  // Editors and `echo pw > file` add a final newline that is not part of the password.
  const value = content.replace(/[\r\n]+$/, '');
  if (value === '') {
    throw new FerryError(
      ErrorType.SECRET_UNRESOLVED,
      `secret file ${file} (from ${ref}) is empty; write the password into it`,
    );
  }
  return value;
}

/**
 * A warning if group or others can read the secret file (the way ssh refuses a readable private key),
 * else undefined. Undefined too when the file cannot be stat'ed (reading it reports that) or on Windows,
 * whose mode bits say nothing about access.
 */
export function checkSecretFilePermissions(file: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  let mode: number;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o044) === 0) return undefined;
  return `secret file ${file} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${file}`;
}

const warnedFiles = new Set<string>();
function warnOnce(message: string): void {
  // Activities resolve the same secret on every attempt; one warning per file and process is enough.
  if (warnedFiles.has(message)) return;
  warnedFiles.add(message);
  process.emitWarning(message, { code: 'FERRY_SECRET_FILE_MODE' });
}

async function resolveAws(arn: string, fetch: (arn: string) => Promise<string>): Promise<string> {
  let secretString: string;
  try {
    secretString = await fetch(arn);
  } catch (err) {
    if (err instanceof FerryError) throw err;
    const e = err as { name?: string; message?: string };
    throw new FerryError(
      ErrorType.SECRET_UNRESOLVED,
      `cannot read ${arn} from AWS Secrets Manager: ${e.name ?? 'Error'}: ${e.message ?? String(err)}; ` +
        'check the ARN, the region, and that the worker role may call secretsmanager:GetSecretValue',
      { cause: err },
    );
  }
  return passwordFromSecretString(secretString, arn);
}

/**
 * RDS-managed and console-created database secrets are JSON ({"username", "password", ...}): take the
 * password key. Anything that is not a JSON object is the password itself.
 */
function passwordFromSecretString(secretString: string, arn: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    parsed = undefined;
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const record = parsed as Record<string, unknown>;
    if (typeof record.password === 'string' && record.password !== '') return record.password;
    // Key names are safe to show; values are not.
    throw new FerryError(
      ErrorType.SECRET_UNRESOLVED,
      `secret ${arn} is a JSON object without a non-empty "password" key (keys: ${Object.keys(record).join(', ') || 'none'}); ` +
        'store the password under "password", as RDS-managed secrets do',
    );
  }
  if (secretString === '') {
    throw new FerryError(ErrorType.SECRET_UNRESOLVED, `secret ${arn} is empty; store the password in it`);
  }
  return secretString;
}

/** The default fetcher: the AWS SDK v3 client, credentials from the default provider chain. */
async function fetchFromSecretsManager(arn: string): Promise<string> {
  // The ARN names its region (arn:aws:secretsmanager:REGION:...), which may differ from AWS_REGION.
  const client = new SecretsManagerClient({ region: arn.split(':')[3] });
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    if (out.SecretString === undefined) {
      throw new FerryError(
        ErrorType.SECRET_UNRESOLVED,
        `secret ${arn} has no SecretString (binary secrets are not supported); store the password as a string`,
      );
    }
    return out.SecretString;
  } finally {
    client.destroy();
  }
}

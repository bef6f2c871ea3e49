// Loads ferry.yaml: YAML → zod validation → cross-reference checks → normalized FerryConfig, reporting
// every problem at once as "<file>: <field.path>: <what was found>; <the fix>".

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { z } from 'zod';
import { ErrorType, FerryError } from '../errors';
import { DURATION_PATTERN, parseDuration } from './duration';
import {
  ENDPOINT_ROLES,
  FerryFileSchema,
  type EndpointConfig,
  type FerryConfig,
  type FerryFile,
  type InventoryEntry,
  type CutoverOptions,
  type DmsOptions,
  type HookOptions,
  type MigrationConfig,
  type NotifierConfig,
  type Owner,
} from './schema';
import { secretRefProblem } from './secrets';

type FieldPath = readonly PropertyKey[];

/** One problem: where (a field path, empty for the whole file) and "<what was found>; <the fix>". */
interface Problem {
  path: FieldPath;
  text: string;
}

/**
 * Reads, validates and normalizes a config file. Throws one CONFIG_INVALID listing every problem, one
 * per line; the path as given is the file label in the messages, since that is what the user typed.
 */
export async function loadConfig(configPath: string): Promise<FerryConfig> {
  const absolute = path.resolve(configPath);
  let text: string;
  try {
    text = await fs.promises.readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new FerryError(
        ErrorType.CONFIG_INVALID,
        `no config file at ${absolute}; run \`ferry dev up\` (it starts a local stack and writes ` +
          `.ferry/dev/ferry.yaml, then pass --config .ferry/dev/ferry.yaml), or pass --config <path to your ferry.yaml>`,
      );
    }
    const fix =
      code === 'EISDIR'
        ? 'pass --config <path to the file itself>'
        : 'check its permissions or pass --config <path>';
    const found = `cannot read config file ${absolute} (${code ?? String(err)})`;
    throw new FerryError(ErrorType.CONFIG_INVALID, `${found}; ${fix}`, { cause: err });
  }
  return parseConfigAt(text, configPath, absolute);
}

/** loadConfig on text already in hand: `fileLabel` names it in messages, `baseDir` anchors relative paths. */
export function parseConfig(text: string, fileLabel: string, baseDir: string): FerryConfig {
  return parseConfigAt(text, fileLabel, path.resolve(baseDir, path.basename(fileLabel)));
}

function parseConfigAt(text: string, label: string, configPath: string): FerryConfig {
  const fail = (lines: string[]): never => {
    throw new FerryError(ErrorType.CONFIG_INVALID, lines.join('\n'));
  };

  // merge: true accepts `<<: *defaults`, which operators use to share endpoint settings.
  const doc = YAML.parseDocument(text, { merge: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    // After the first syntax error the parser is out of step and the rest mostly echo it (one unclosed
    // "[" yields a dozen); show the first and count the others. Duplicate keys do not derail the parser,
    // so each is its own problem.
    const [first, ...rest] = doc.errors;
    const duplicates = rest.filter((e) => e.code === 'DUPLICATE_KEY');
    const others = rest.length - duplicates.length;
    const lines = [first, ...duplicates].map((e) => yamlErrorLine(label, e));
    if (others > 0) {
      lines.push(
        `${label}: ${others} more YAML error(s) after that may follow from it; fix it and load again`,
      );
    }
    fail(lines);
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    // e.g. an alias expanding past maxAliasCount (a "billion laughs" file).
    fail([`${label}: ${(err as Error).message}; simplify the YAML anchors and aliases`]);
  }
  if (raw === null || raw === undefined) {
    fail([`${label}: the file is empty; add at least an endpoints: list (see schema/ferry.schema.json)`]);
  }
  if (!isRecord(raw)) {
    fail([
      `${label}: got ${describeValue(raw)} at the top level; write a mapping with keys such as endpoints: and migrations:`,
    ]);
  }
  const file = raw as Record<string, unknown>;

  const configDir = path.dirname(configPath);
  const parsed = FerryFileSchema.safeParse(file);
  const problems = parsed.success ? [] : parsed.error.issues.flatMap((issue) => issueProblems(issue, file));
  // Run on the raw data even when the schema failed, so a bad port and a dangling reference show together.
  problems.push(...crossReferenceProblems(file, configDir));
  if (problems.length > 0 || !parsed.success) {
    sortByPosition(problems, doc);
    fail(
      problems.map((p) =>
        p.path.length > 0 ? `${label}: ${formatPath(p.path)}: ${p.text}` : `${label}: ${p.text}`,
      ),
    );
  }
  return normalize(parsed.data as FerryFile, configPath);
}

/** Orders problems as their fields appear in the file (zod lists unknown keys after everything else). */
function sortByPosition(problems: Problem[], doc: YAML.Document): void {
  const offsetOf = (fieldPath: FieldPath): number => {
    // A missing field has no node: use the nearest ancestor that has one.
    for (let n = fieldPath.length; n > 0; n--) {
      const node: unknown = doc.getIn(fieldPath.slice(0, n) as unknown[], true);
      if (YAML.isNode(node) && node.range) return node.range[0];
    }
    return -1;
  };
  const keyed = problems.map((p, i) => ({ p, i, at: offsetOf(p.path) }));
  keyed.sort((a, b) => a.at - b.at || a.i - b.i);
  keyed.forEach((k, i) => (problems[i] = k.p));
}

function yamlErrorLine(label: string, err: YAML.YAMLError): string {
  const pos = err.linePos?.[0];
  const where = pos ? `${label}:${pos.line}:${pos.col}` : label;
  // prettyErrors appends " at line L, column C:" and a source excerpt; the position is already in front.
  const message = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  const fix = err.code === 'DUPLICATE_KEY' ? 'keep one of the repeated keys' : 'fix the YAML syntax there';
  return `${where}: ${message}; ${fix}`;
}

// ---- schema issues → problems

function issueProblems(issue: z.core.$ZodIssue, file: unknown): Problem[] {
  const at = issue.path;
  const value = valueAt(file, at);
  const description = descriptionAt(at);
  // The field's description as the fix's hint: "after: text" or "(text)".
  const hint = (prefix: ': ' | ' ') => (description ? `${prefix}${description}` : '');
  const aside = description ? ` (${description})` : '';

  if (at[at.length - 1] === 'password' && value !== undefined)
    return [{ path: at, text: passwordProblem(value) }];

  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = objectKeysAt(at);
      return issue.keys.map((key) => {
        const suggestion = closest(key, known);
        const fix = suggestion
          ? `did you mean "${suggestion}"?`
          : `remove it${known.length > 0 ? ` (keys allowed here: ${known.join(', ')})` : ''}`;
        return { path: [...at, key], text: `unknown key; ${fix}` };
      });
    }
    case 'invalid_type': {
      if (value === undefined) {
        const key = at[at.length - 1];
        return [{ path: at, text: `missing; add ${String(key)}:${hint(' ')}` }];
      }
      let fix = `use ${typeWord(issue.expected)}`;
      if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
        fix += `: quote it, e.g. "${String(value)}"`;
      }
      return [{ path: at, text: `got ${describeValue(value)}; ${fix}${aside}` }];
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') {
        const found =
          Array.isArray(value) && value.length === 0 ? 'an empty list' : `${describeValue(value)}`;
        return [{ path: at, text: `got ${found}; list at least ${min}${hint(': ')}` }];
      }
      if (issue.origin === 'string')
        return [{ path: at, text: `got an empty string; write a value${hint(': ')}` }];
      const bound = issue.inclusive ? `at least ${min}` : `more than ${min}`;
      return [{ path: at, text: `got ${describeValue(value)}; use ${bound}${aside}` }];
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      const bound = issue.inclusive ? `at most ${max}` : `less than ${max}`;
      return [{ path: at, text: `got ${describeValue(value)}; use ${bound}${aside}` }];
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      const suggestion = typeof value === 'string' ? closest(value, allowed) : undefined;
      const fix = `use one of: ${allowed.join(', ')}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
      return [{ path: at, text: `got ${describeValue(value)}; ${fix}` }];
    }
    default:
      // invalid_format (our regexes and z.email carry their fix as the message), custom, and the rest.
      return [{ path: at, text: `got ${describeValue(value)}; ${issue.message}` }];
  }
}

/** Never shows the value: a password field may hold the password itself. */
function passwordProblem(value: unknown): string {
  const problem =
    typeof value === 'string'
      ? secretRefProblem(value)
      : {
          found: `${kindOf(value)} (value not shown)`,
          fix: 'use a secret reference: env:NAME, file:PATH or aws-secretsmanager:ARN',
        };
  return problem
    ? `${problem.found}; ${problem.fix}`
    : 'not a secret reference; use env:NAME, file:PATH or aws-secretsmanager:ARN';
}

function typeWord(expected: string): string {
  const words: Record<string, string> = {
    int: 'a whole number',
    number: 'a number',
    string: 'a string',
    array: 'a list',
    object: 'a mapping (key: value lines)',
    boolean: 'true or false',
    record: 'a mapping (key: value lines)',
  };
  return words[expected] ?? expected;
}

function kindOf(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > 60 ? `${quoted.slice(0, 56)}…"` : quoted;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return kindOf(value);
}

// ---- walking the schema along an issue path (for descriptions and allowed keys)

interface ZodDefLike {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
}
const defOf = (schema: z.ZodType): ZodDefLike =>
  (schema as unknown as { _zod: { def: ZodDefLike } })._zod.def;
const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch']);

/** The wrappers (optional, default, ...) and the schema they wrap, outermost first. */
function layers(schema: z.ZodType): z.ZodType[] {
  const out = [schema];
  for (let def = defOf(schema); WRAPPERS.has(def.type) && def.innerType; def = defOf(def.innerType)) {
    out.push(def.innerType);
  }
  return out;
}

function schemaAt(fieldPath: FieldPath): z.ZodType | undefined {
  let current: z.ZodType | undefined = FerryFileSchema;
  for (const key of fieldPath) {
    if (!current) return undefined;
    const def = defOf(layers(current).at(-1)!);
    if (def.type === 'object') current = def.shape?.[String(key)];
    else if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else return undefined;
  }
  return current;
}

function descriptionAt(fieldPath: FieldPath): string | undefined {
  const schema = schemaAt(fieldPath);
  if (!schema) return undefined;
  for (const layer of layers(schema)) {
    const description = z.globalRegistry.get(layer)?.description;
    if (description) return description;
  }
  return undefined;
}

function objectKeysAt(fieldPath: FieldPath): string[] {
  const schema = schemaAt(fieldPath);
  const def = schema && defOf(layers(schema).at(-1)!);
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

// ---- cross-reference checks (what a per-field schema cannot see)

function crossReferenceProblems(file: Record<string, unknown>, configDir: string): Problem[] {
  const problems: Problem[] = [];
  const endpoints = arrayAt(file.endpoints);
  const inventory = arrayAt(file.inventory);
  const migrations = arrayAt(file.migrations);

  const endpointIndex = new Map<string, number>();
  endpoints.forEach((ep, i) => {
    if (typeof ep.id !== 'string') return;
    const first = endpointIndex.get(ep.id);
    if (first === undefined) endpointIndex.set(ep.id, i);
    else
      problems.push({
        path: ['endpoints', i, 'id'],
        text: `"${ep.id}" is already the id of endpoints[${first}]; give each endpoint a unique id`,
      });
  });
  const ids = [...endpointIndex.keys()];

  const checkEndpointRef = (at: FieldPath, ref: unknown, role: 'source' | 'target') => {
    if (typeof ref !== 'string' || ref === '') return; // the schema reports wrong types
    const index = endpointIndex.get(ref);
    if (index === undefined) {
      const suggestion = closest(ref, ids);
      const fix =
        ids.length === 0
          ? 'define it under endpoints:'
          : `use one of: ${ids.join(', ')}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
      problems.push({ path: at, text: `endpoint "${ref}" is not defined; ${fix}` });
      return;
    }
    const actual = endpoints[index].role;
    // A misspelt role is the schema's to report; say nothing more about it here.
    if (actual === role || !(ENDPOINT_ROLES as readonly unknown[]).includes(actual)) return;
    const withRole = endpoints
      .filter((ep) => ep.role === role && typeof ep.id === 'string')
      .map((ep) => ep.id as string);
    const fix =
      withRole.length > 0
        ? `use an endpoint with role ${role}: ${withRole.join(', ')}`
        : `add an endpoint with role: ${role}, or change the role of "${ref}"`;
    problems.push({ path: at, text: `endpoint "${ref}" has role ${actual}, not ${role}; ${fix}` });
  };

  const inventoryIndex = new Map<string, number>();
  inventory.forEach((entry, i) => {
    checkEndpointRef(['inventory', i, 'endpoint'], entry.endpoint, 'source');
    if (typeof entry.endpoint !== 'string' || typeof entry.database !== 'string') return;
    // getInventoryFor returns one entry per (endpoint, database); two would silently hide one.
    const key = `${entry.endpoint}\u0000${entry.database}`;
    const first = inventoryIndex.get(key);
    if (first === undefined) inventoryIndex.set(key, i);
    else {
      problems.push({
        path: ['inventory', i],
        text: `database "${entry.database}" on endpoint "${entry.endpoint}" is already listed at inventory[${first}]; merge the two entries`,
      });
    }
  });

  const migrationIndex = new Map<string, number>();
  migrations.forEach((m, i) => {
    if (typeof m.name === 'string') {
      const first = migrationIndex.get(m.name);
      if (first === undefined) migrationIndex.set(m.name, i);
      else
        problems.push({
          path: ['migrations', i, 'name'],
          text: `"${m.name}" is already the name of migrations[${first}]; give each migration a unique name`,
        });
    }
    checkEndpointRef(['migrations', i, 'source'], m.source, 'source');
    checkEndpointRef(['migrations', i, 'target'], m.target, 'target');
    for (const key of ['tableMappings', 'taskSettings'] as const) {
      const problem = missingFileProblem(m[key], configDir);
      if (problem) problems.push({ path: ['migrations', i, key], text: problem });
    }
    problems.push(...journalProblems(m.cdc, ['migrations', i, 'cdc', 'journal']));
    problems.push(...dmsProblems(m, i, isRecord(file.aws), endpoints, endpointIndex));
    const c = m.cutover;
    if (isRecord(c)) {
      if (c.freeze === 'hook' && c.freezeHook === undefined) {
        problems.push({
          path: ['migrations', i, 'cutover', 'freezeHook'],
          text: "freeze: hook needs a freezeHook; add freezeHook: { command: /path/to/script, args: [...] }, the command that stops the application's writes",
        });
      }
      if (c.freezeHook !== undefined && c.freeze !== 'hook') {
        problems.push({
          path: ['migrations', i, 'cutover', 'freeze'],
          text: 'a freezeHook is set but freeze is not "hook": set freeze: hook, or remove the freezeHook',
        });
      }
    }
  });

  arrayAt(file.notifications).forEach((n, i) => problems.push(...notifierProblems(n, ['notifications', i])));
  if (isRecord(file.control) && typeof file.control.endpoint === 'string' && file.control.endpoint !== '') {
    const ref = file.control.endpoint;
    if (!endpointIndex.has(ref)) {
      const suggestion = closest(ref, ids);
      problems.push({
        path: ['control', 'endpoint'],
        text: `endpoint "${ref}" is not defined; use one of: ${ids.join(', ')}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
      });
    }
  }
  return problems;
}

/**
 * engine aws-dms: the migration needs a dms: section and the file an aws: section; DMS reads the
 * endpoints' passwords itself, so they must be aws-secretsmanager: references. A dms: section on a
 * native migration would be silently unused: said too.
 */
function dmsProblems(
  m: Record<string, unknown>,
  i: number,
  hasAws: boolean,
  endpoints: Record<string, unknown>[],
  endpointIndex: Map<string, number>,
): Problem[] {
  const problems: Problem[] = [];
  if (m.engine !== 'aws-dms') {
    if (m.dms !== undefined)
      problems.push({
        path: ['migrations', i, 'dms'],
        text: 'only engine aws-dms uses a dms: section; set engine: aws-dms, or remove it',
      });
    return problems;
  }
  if (m.dms === undefined)
    problems.push({
      path: ['migrations', i, 'dms'],
      text: 'missing for engine aws-dms; add dms: { replicationInstance: { subnetGroup: ... }, secretsAccessRoleArn: ... }',
    });
  if (!hasAws)
    problems.push({
      path: ['aws'],
      text: `missing, and migrations[${i}] uses engine aws-dms; add aws: { region: eu-central-1 }`,
    });
  for (const key of ['source', 'target'] as const) {
    const index = typeof m[key] === 'string' ? endpointIndex.get(m[key]) : undefined;
    const ep = index === undefined ? undefined : endpoints[index];
    if (ep && typeof ep.password === 'string' && !ep.password.startsWith('aws-secretsmanager:'))
      problems.push({
        path: ['endpoints', index!, 'password'],
        text:
          `migration ${String(m.name)} runs on AWS DMS, which reads this password itself; ` +
          'use an aws-secretsmanager:ARN reference (DMS reads it with dms.secretsAccessRoleArn)',
      });
  }
  return problems;
}

/** What the flat notifier schema cannot say: which fields each type needs or ignores. */
function notifierProblems(n: Record<string, unknown>, at: FieldPath): Problem[] {
  const problems: Problem[] = [];
  if (n.type === 'webhook') {
    if (n.url === undefined)
      problems.push({
        path: [...at, 'url'],
        text: 'missing; add url: the http(s) URL to POST notifications to',
      });
    if (n.stream !== undefined)
      problems.push({ path: [...at, 'stream'], text: 'only a console notifier has a stream; remove it' });
    if (isRecord(n.headers)) {
      for (const [key, value] of Object.entries(n.headers)) {
        // A value that looks like a reference but is not one would be sent literally: say so now.
        if (typeof value !== 'string' || !/^(env|file|aws-secretsmanager):/.test(value)) continue;
        const problem = secretRefProblem(value);
        if (problem)
          problems.push({ path: [...at, 'headers', key], text: `${problem.found}; ${problem.fix}` });
      }
    }
  } else if (n.type === 'console') {
    for (const key of ['url', 'headers', 'timeout'] as const) {
      if (n[key] !== undefined)
        problems.push({
          path: [...at, key],
          text: `only a webhook notifier has ${key}; remove it, or set type: webhook`,
        });
    }
  }
  return problems;
}

/** What the schema cannot say of cdc.journal: a zero retention, a table listed twice. */
function journalProblems(cdc: unknown, at: FieldPath): Problem[] {
  const journal = isRecord(cdc) ? cdc.journal : undefined;
  if (!isRecord(journal)) return [];
  const problems: Problem[] = [];
  const { retention, tables } = journal;
  if (typeof retention === 'string' && DURATION_PATTERN.test(retention) && parseDuration(retention) === 0) {
    problems.push({
      path: [...at, 'retention'],
      text: `got ${describeValue(retention)}, which would delete every row at once; use more than 0, e.g. 7d (or enabled: false to stop the journal)`,
    });
  }
  if (Array.isArray(tables)) {
    const seen = new Map<unknown, number>();
    tables.forEach((t, j) => {
      const first = seen.get(t);
      if (first === undefined) seen.set(t, j);
      else
        problems.push({
          path: [...at, 'tables', j],
          text: `${describeValue(t)} is already listed at tables[${first}]; list each table once`,
        });
    });
  }
  return problems;
}

function missingFileProblem(value: unknown, configDir: string): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const file = path.resolve(configDir, value);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    const note = path.isAbsolute(value) ? '' : ` (relative paths start from ${configDir})`;
    return `file ${file} does not exist; create it or correct the path${note}`;
  }
  return stat.isFile() ? undefined : `${file} is not a file; point it at the JSON file`;
}

// ---- normalization

function normalize(data: FerryFile, configPath: string): FerryConfig {
  const configDir = path.dirname(configPath);
  const resolve = (p: string) => path.resolve(configDir, p);

  const endpoints = data.endpoints.map((e): EndpointConfig => {
    const ep: EndpointConfig = {
      id: e.id,
      role: e.role,
      host: e.host,
      port: e.port,
      database: e.database,
      user: e.user,
      // Workers may run with another cwd: anchor file: secrets to the config file now.
      password: e.password.startsWith('file:') ? `file:${resolve(e.password.slice(5))}` : e.password,
      sslmode: e.sslmode,
    };
    if (e.sslrootcert !== undefined) ep.sslrootcert = resolve(e.sslrootcert);
    return ep;
  });
  const byId = new Map(endpoints.map((e) => [e.id, e]));

  const inventory = data.inventory.map((entry): InventoryEntry => {
    const sla: InventoryEntry['sla'] = {};
    if (entry.sla?.maxDowntime !== undefined) sla.maxDowntime = parseDuration(entry.sla.maxDowntime);
    if (entry.sla?.rpo !== undefined) sla.rpo = parseDuration(entry.sla.rpo);
    if (entry.sla?.businessHours !== undefined) sla.businessHours = entry.sla.businessHours;
    return {
      database: entry.database,
      endpoint: entry.endpoint,
      application: entry.application,
      owners: entry.owners.map(owner),
      approvers: [...(entry.approvers ?? [])],
      sla,
      tags: { ...entry.tags },
    };
  });

  const migrations = data.migrations.map((m): MigrationConfig => {
    return {
      name: m.name,
      source: m.source,
      target: m.target,
      database: m.database ?? byId.get(m.source)!.database,
      engine: m.engine,
      migrationType: m.migrationType,
      ...(m.tableMappings !== undefined && { tableMappings: resolve(m.tableMappings) }),
      ...(m.taskSettings !== undefined && { taskSettings: resolve(m.taskSettings) }),
      approvers: [...m.approvers],
      poc: { ...m.poc, schemas: [...m.poc.schemas], tables: [...m.poc.tables] },
      cdc: cdcOptions(m.cdc),
      fallback: { contacts: m.fallback.contacts.map(owner) },
      cutover: cutoverOptions(m.cutover),
      provision: { ...m.provision },
      ...(m.dms && { dms: dmsOptions(m.dms) }),
    };
  });

  const anchor = (value: string) => (value.startsWith('file:') ? `file:${resolve(value.slice(5))}` : value);
  const notifications = data.notifications?.map((n): NotifierConfig => {
    const out: NotifierConfig = { type: n.type };
    if (n.stream !== undefined) out.stream = n.stream;
    if (n.url !== undefined) out.url = n.url;
    if (n.headers !== undefined)
      out.headers = Object.fromEntries(Object.entries(n.headers).map(([k, v]) => [k, anchor(v)]));
    if (n.timeout !== undefined) out.timeout = parseDuration(n.timeout);
    return out;
  });

  return {
    configPath,
    configDir,
    temporal: { ...data.temporal },
    workDir: resolve(data.workDir),
    endpoints,
    inventory,
    migrations,
    ...(notifications && { notifications }),
    ...(data.control && {
      control: {
        endpoint: data.control.endpoint,
        database: data.control.database ?? byId.get(data.control.endpoint)!.database,
      },
    }),
    ...(data.aws && {
      aws: { region: data.aws.region, ...(data.aws.roleArn && { roleArn: data.aws.roleArn }) },
    }),
  };
}

function dmsOptions(d: NonNullable<FerryFile['migrations'][number]['dms']>): DmsOptions {
  const ri = d.replicationInstance;
  return {
    replicationInstance: {
      ...(ri.identifier && { identifier: ri.identifier }),
      class: ri.class,
      allocatedStorage: ri.allocatedStorage,
      multiAz: ri.multiAz,
      ...(ri.engineVersion && { engineVersion: ri.engineVersion }),
      subnetGroup: ri.subnetGroup,
      securityGroups: [...ri.securityGroups],
      publiclyAccessible: ri.publiclyAccessible,
    },
    secretsAccessRoleArn: d.secretsAccessRoleArn,
    sslMode: d.sslMode,
    pluginName: d.pluginName,
    heartbeat: d.heartbeat,
    ...(d.assessment && { assessment: { ...d.assessment } }),
    ...(d.auroraClusterId && { auroraClusterId: d.auroraClusterId }),
  };
}

function cdcOptions(c: FerryFile['migrations'][number]['cdc']): MigrationConfig['cdc'] {
  const { journal, ...rest } = c;
  return {
    ...rest,
    ...(journal && {
      journal: {
        enabled: journal.enabled,
        retention: parseDuration(journal.retention),
        pruneMinutes: journal.pruneMinutes,
        tables: [...journal.tables],
      },
    }),
  };
}

function hookOptions(h: NonNullable<FerryFile['migrations'][number]['cutover']['switchHook']>): HookOptions {
  return {
    command: h.command,
    args: [...h.args],
    ...(h.env && { env: { ...h.env } }),
    ...(h.timeout !== undefined && { timeoutMs: parseDuration(h.timeout) * 1000 }),
  };
}

function cutoverOptions(c: FerryFile['migrations'][number]['cutover']): CutoverOptions {
  return {
    freeze: c.freeze,
    ...(c.freezeHook && { freezeHook: hookOptions(c.freezeHook) }),
    terminateSessions: c.terminateSessions,
    ...(c.switchHook && { switchHook: hookOptions(c.switchHook) }),
    sequenceMargin: c.sequenceMargin,
    readyLag: parseDuration(c.readyLag),
    gateTimeout: parseDuration(c.gateTimeout),
    postCutoverWatch: parseDuration(c.postCutoverWatch),
  };
}

function owner(o: Owner): Owner {
  const out: Owner = { name: o.name };
  if (o.email !== undefined) out.email = o.email;
  if (o.phone !== undefined) out.phone = o.phone;
  if (o.role !== undefined) out.role = o.role;
  return out;
}

// ---- lookups

/** The named migration, or MIGRATION_UNKNOWN listing the names there are. */
export function getMigration(cfg: FerryConfig, name: string): MigrationConfig {
  const found = cfg.migrations.find((m) => m.name === name);
  if (found) return found;
  const names = cfg.migrations.map((m) => m.name);
  const fix =
    names.length === 0
      ? `add it under migrations: in ${cfg.configPath}`
      : `use one of: ${names.join(', ')}${suggest(name, names)}`;
  throw new FerryError(
    ErrorType.MIGRATION_UNKNOWN,
    `migration "${name}" is not defined in ${cfg.configPath}; ${fix}`,
  );
}

/** The endpoint with this id, or CONFIG_INVALID listing the ids there are. */
export function getEndpoint(cfg: FerryConfig, id: string): EndpointConfig {
  const found = cfg.endpoints.find((e) => e.id === id);
  if (found) return found;
  const ids = cfg.endpoints.map((e) => e.id);
  throw new FerryError(
    ErrorType.CONFIG_INVALID,
    `endpoint "${id}" is not defined in ${cfg.configPath}; use one of: ${ids.join(', ')}${suggest(id, ids)}`,
  );
}

/** The inventory entry (owners, SLA) of a database on an endpoint; undefined if it is not catalogued. */
export function getInventoryFor(
  cfg: FerryConfig,
  endpointId: string,
  database: string,
): InventoryEntry | undefined {
  return cfg.inventory.find((e) => e.endpoint === endpointId && e.database === database);
}

// ---- small helpers

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function arrayAt(value: unknown): Record<string, unknown>[] {
  // Keep indexes aligned with the file: a non-mapping item becomes {} (the schema reports it).
  return Array.isArray(value) ? value.map((v) => (isRecord(v) ? v : {})) : [];
}

function valueAt(root: unknown, fieldPath: FieldPath): unknown {
  let current = root;
  for (const key of fieldPath) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** migrations[0].poc.compression; keys that are not identifiers are quoted: tags["a b"]. */
export function formatPath(fieldPath: FieldPath): string {
  let out = '';
  for (const key of fieldPath) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(key))) out += out === '' ? String(key) : `.${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function suggest(word: string, candidates: readonly string[]): string {
  const match = closest(word, candidates);
  return match ? ` (did you mean "${match}"?)` : '';
}

/**
 * The candidate nearest to `word` within edit distance 2, case-insensitive (so `taskqueue` and
 * `task_queue` find `taskQueue`); shorter words get a smaller budget, so "x" does not suggest "id".
 */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const budget = Math.min(2, Math.max(1, Math.floor(word.length / 2)));
  let best: string | undefined;
  let bestDistance = budget + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

// Checks the Docker deployment files (docker-compose.yml, Dockerfile, deploy/ferry.compose.yaml,
// .dockerignore) by their structure, because CI machines have no Docker engine to run the stack; when the
// compose plugin is installed, `docker compose config` validates the file as well.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Repository root: the nearest ancestor holding Ferry's package.json (works from test/ and dist/test/). */
function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ferry') {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`no Ferry package.json above ${from}`);
  }
}

const ROOT = findRepoRoot(__dirname);
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const DOCKERFILE = path.join(ROOT, 'Dockerfile');
const DEPLOY_CONFIG = path.join(ROOT, 'deploy', 'ferry.compose.yaml');
const DOCKERIGNORE = path.join(ROOT, '.dockerignore');

const CONFIG_IN_CONTAINER = '/etc/ferry/ferry.yaml';
const SERVICES = ['source', 'target', 'temporal', 'worker'];
/** Port each service listens on inside its container; a published port must map to one of these. */
const CONTAINER_PORTS: Record<string, number[]> = {
  temporal: [7233, 8233],
  source: [5432],
  target: [5432],
  worker: [],
};
const LOOPBACK = new Set(['127.0.0.1', '[::1]', '::1']);

// A key whose value is a credential. Its value must be a reference, never the secret itself.
const SECRET_KEY = /pass(word)?|secret|token|credential|api_?key|private_?key/i;
// Compose: the whole value is one required-variable reference, `${VAR}` or `${VAR:?message}`. A default
// (`${VAR:-postgres}`) is a literal password in disguise and is refused.
const COMPOSE_SECRET_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(:?\?[^}]*)?\}$/;
// Ferry config: a secret reference resolved inside activities (DESIGN.md, "Secrets never enter history").
const FERRY_SECRET_REF = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/\S+|aws-secretsmanager:\S+)$/;
// Credentials inside a connection URL: scheme://user:password@host, unless the password is a reference.
const URL_WITH_PASSWORD = /:\/\/[^\s:/@]+:(?!\$\{)([^\s@]+)@/;

function asObject(value: Json | undefined, where: string): JsonObject {
  assert.ok(
    value !== null && typeof value === 'object' && !Array.isArray(value),
    `${where} should be a mapping, got ${JSON.stringify(value)}`,
  );
  return value;
}

function asArray(value: Json | undefined, where: string): Json[] {
  assert.ok(Array.isArray(value), `${where} should be a list, got ${JSON.stringify(value)}`);
  return value;
}

function asString(value: Json | undefined, where: string): string {
  assert.equal(typeof value, 'string', `${where} should be a string, got ${JSON.stringify(value)}`);
  return value as string;
}

function loadYaml(file: string): JsonObject {
  return asObject(parse(readFileSync(file, 'utf8')) as Json, path.relative(ROOT, file));
}

/** `command:` in either form, as one string of words. */
function commandText(value: Json | undefined, where: string): string {
  if (Array.isArray(value)) return value.map((w, i) => asString(w, `${where}[${i}]`)).join(' ');
  return asString(value, where);
}

/** `environment:` in either form (mapping, or list of KEY=VALUE) as a mapping. */
function environmentOf(service: JsonObject, where: string): Record<string, string | null> {
  const env = service.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry, i) => {
        const text = asString(entry, `${where}.environment[${i}]`);
        const eq = text.indexOf('=');
        return eq < 0 ? [text, null] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(asObject(env, `${where}.environment`)).map(([k, v]) => [k, v === null ? null : String(v)]),
  );
}

/** Every (path, key, value) of a parsed document, depth first. */
function* walk(value: Json, where: string, key = ''): Generator<{ where: string; key: string; value: Json }> {
  yield { where, key, value };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* walk(value[i], `${where}[${i}]`, key);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* walk(v, `${where}.${k}`, k);
  }
}

interface PortMapping {
  hostIp: string | undefined;
  hostPort: number;
  containerPort: number;
  protocol: string;
}

function parsePort(value: Json, where: string): PortMapping {
  const toPort = (text: string | number | undefined, what: string): number => {
    const n = Number(text);
    assert.ok(Number.isInteger(n) && n >= 1 && n <= 65535, `${where}: ${what} ${String(text)} is not a port`);
    return n;
  };
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    // Long syntax: { target, published, host_ip, protocol }.
    const published = value.published;
    assert.ok(published !== undefined, `${where}: a port with no "published" is not published at all`);
    return {
      hostIp: value.host_ip === undefined ? undefined : asString(value.host_ip, `${where}.host_ip`),
      hostPort: toPort(String(published), 'published port'),
      containerPort: toPort(String(value.target), 'target port'),
      protocol: value.protocol === undefined ? 'tcp' : asString(value.protocol, `${where}.protocol`),
    };
  }
  // Short syntax must be a quoted string: YAML 1.1 readers take an unquoted `22:22` for a base-60 number.
  const text = asString(value, where);
  const match = /^(?:(\[[0-9a-fA-F:]+\]|\d{1,3}(?:\.\d{1,3}){3}):)?(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(
    text,
  );
  assert.ok(match, `${where}: "${text}" is not [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]`);
  const [, hostIp, hostPort, containerPort, protocol] = match;
  assert.ok(hostPort !== undefined, `${where}: "${text}" publishes on a random host port`);
  return {
    hostIp,
    hostPort: toPort(hostPort, 'host port'),
    containerPort: toPort(containerPort, 'container port'),
    protocol: protocol ?? 'tcp',
  };
}

interface VolumeMount {
  source: string | undefined;
  target: string;
  readOnly: boolean;
}

function parseVolume(value: Json, where: string): VolumeMount {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return {
      source: value.source === undefined ? undefined : asString(value.source, `${where}.source`),
      target: asString(value.target, `${where}.target`),
      readOnly: value.read_only === true,
    };
  }
  const parts = asString(value, where).split(':');
  if (parts.length === 1) return { source: undefined, target: parts[0], readOnly: false };
  const modes = (parts[2] ?? '').split(',');
  return { source: parts[0], target: parts[1], readOnly: modes.includes('ro') };
}

/**
 * Compose's variable substitution on every string value: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`. Throws on a missing
 * required variable, as `docker compose` refuses to start. The model stands in for `docker compose config`
 * where the compose plugin is not installed.
 */
function interpolate(value: Json, env: Record<string, string | undefined>): Json {
  if (typeof value === 'string') {
    return value.replace(
      /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(.?))/g,
      (_all, dollar?: string, braced?: string, op?: string, arg?: string, bare?: string, bad?: string) => {
        if (dollar) return '$';
        if (bad !== undefined) throw new Error(`invalid interpolation format in "${value}"`);
        const name = (braced ?? bare) as string;
        const current = env[name];
        const unset = current === undefined;
        const empty = unset || current === '';
        switch (op) {
          case undefined:
            return current ?? '';
          case ':-':
            return empty ? (arg ?? '') : (current as string);
          case '-':
            return unset ? (arg ?? '') : (current as string);
          case ':+':
            return empty ? '' : (arg ?? '');
          case '+':
            return unset ? '' : (arg ?? '');
          case ':?':
          case '?':
            if (op === ':?' ? empty : unset) {
              throw new Error(`required variable ${name} is missing a value: ${arg ?? ''}`);
            }
            return current as string;
          default:
            throw new Error(`unsupported interpolation operator ${op}`);
        }
      },
    );
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  }
  return value;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function dockerfileInstructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (!full) continue;
    const space = full.search(/\s/);
    out.push({
      op: (space < 0 ? full : full.slice(0, space)).toUpperCase(),
      args: space < 0 ? '' : full.slice(space + 1).trim(),
    });
  }
  return out;
}

/** `docker compose` or the standalone `docker-compose`, when one of them answers `version`. */
function findComposeTool(): string[] | undefined {
  for (const argv of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(argv[0], [...argv.slice(1), 'version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0) return argv;
  }
  return undefined;
}

const TEST_ENV = {
  FERRY_SOURCE_PASSWORD: 'test-only-source-not-a-secret',
  FERRY_TARGET_PASSWORD: 'test-only-target-not-a-secret',
};

describe('docker deployment', () => {
  let compose: JsonObject;
  let services: JsonObject;
  let deploy: JsonObject;
  const service = (name: string): JsonObject => asObject(services[name], `services.${name}`);

  before(() => {
    compose = loadYaml(COMPOSE_FILE);
    services = asObject(compose.services, 'services');
    deploy = loadYaml(DEPLOY_CONFIG);
  });

  describe('docker-compose.yml', () => {
    it('defines exactly the temporal, source, target and worker services', () => {
      assert.deepEqual(Object.keys(services).sort(), SERVICES);
    });

    it('runs the Temporal dev server with its Web UI and a persistent SQLite file', () => {
      const temporal = service('temporal');
      assert.match(asString(temporal.image, 'temporal.image'), /^temporalio\/temporal(:[\w.-]+)?$/);
      const command = commandText(temporal.command, 'temporal.command');
      assert.match(command, /(^|\s)server start-dev(\s|$)/);
      assert.match(
        command,
        /--ip[ =]0\.0\.0\.0(\s|$)/,
        'the server must listen beyond the container loopback',
      );
      const db = /--db-filename[ =](\S+)/.exec(command);
      assert.ok(db, 'without --db-filename the dev server forgets every workflow on restart');
      const mounts = asArray(temporal.volumes, 'temporal.volumes').map((v, i) =>
        parseVolume(v, `temporal.volumes[${i}]`),
      );
      const dbDir = path.posix.dirname(db[1]);
      assert.ok(
        mounts.some((m) => m.source && (dbDir === m.target || dbDir.startsWith(`${m.target}/`))),
        `${db[1]} must live on a volume`,
      );
      const published = asArray(temporal.ports, 'temporal.ports').map((p, i) =>
        parsePort(p, `temporal.ports[${i}]`),
      );
      assert.deepEqual(published.map((p) => p.containerPort).sort(), [7233, 8233]);
    });

    it('runs the source on PostgreSQL 13 with logical decoding', () => {
      const source = service('source');
      assert.match(asString(source.image, 'source.image'), /^postgres:13([.-][\w.-]*)?$/);
      const command = commandText(source.command, 'source.command');
      assert.match(command, /^postgres\b/);
      assert.match(command, /-c wal_level=logical\b/);
      assert.match(command, /-c max_replication_slots=\d+/);
      assert.match(command, /-c max_wal_senders=\d+/);
      assert.equal(
        environmentOf(source, 'source').POSTGRES_PASSWORD,
        '${FERRY_SOURCE_PASSWORD:?set FERRY_SOURCE_PASSWORD}',
      );
    });

    it('runs the target on PostgreSQL 15', () => {
      const target = service('target');
      assert.match(asString(target.image, 'target.image'), /^postgres:15([.-][\w.-]*)?$/);
      assert.match(environmentOf(target, 'target').POSTGRES_PASSWORD ?? '', COMPOSE_SECRET_REF);
    });

    it('gives both databases a pg_isready healthcheck, and every awaited service a healthcheck', () => {
      for (const name of ['source', 'target']) {
        const healthcheck = asObject(service(name).healthcheck, `${name}.healthcheck`);
        assert.match(commandText(healthcheck.test, `${name}.healthcheck.test`), /pg_isready/);
      }
      for (const [name, raw] of Object.entries(services)) {
        const dependsOn = asObject(raw, name).depends_on;
        if (dependsOn === undefined || Array.isArray(dependsOn)) continue;
        for (const [dep, spec] of Object.entries(asObject(dependsOn, `${name}.depends_on`))) {
          if (asObject(spec, `${name}.depends_on.${dep}`).condition !== 'service_healthy') continue;
          const healthcheck = asObject(service(dep).healthcheck, `${dep}.healthcheck`);
          assert.ok(
            commandText(healthcheck.test, `${dep}.healthcheck.test`).trim() !== '',
            `${name} waits for ${dep} to be healthy, so ${dep} needs a healthcheck`,
          );
        }
      }
    });

    it('builds the worker from this repository, after both databases are healthy', () => {
      const worker = service('worker');
      const build = worker.build;
      const context = typeof build === 'string' ? build : asObject(build, 'worker.build').context;
      assert.ok(
        context === '.' || context === './',
        `worker.build should be ".", got ${JSON.stringify(build)}`,
      );
      const dependsOn = asObject(worker.depends_on, 'worker.depends_on');
      for (const db of ['source', 'target']) {
        assert.equal(asObject(dependsOn[db], `worker.depends_on.${db}`).condition, 'service_healthy');
      }
      assert.ok(dependsOn.temporal !== undefined, 'the worker must start after Temporal');
      const env = environmentOf(worker, 'worker');
      assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233');
    });

    it('mounts deploy/ferry.compose.yaml read-only where the image looks for its config', () => {
      const mounts = asArray(service('worker').volumes, 'worker.volumes').map((v, i) =>
        parseVolume(v, `worker.volumes[${i}]`),
      );
      const config = mounts.find((m) => m.target === CONFIG_IN_CONTAINER);
      assert.ok(config, `nothing is mounted at ${CONFIG_IN_CONTAINER}`);
      assert.equal(config.source, './deploy/ferry.compose.yaml');
      assert.ok(config.readOnly, 'the config mount should be :ro');
      assert.ok(existsSync(path.join(ROOT, config.source)), `${config.source} does not exist`);
      const workDir = asString(deploy.workDir, 'deploy workDir');
      assert.ok(
        mounts.some((m) => m.target === workDir && m.source),
        `workDir ${workDir} should be a volume, so a restarted worker keeps its files`,
      );
    });

    it('publishes every port on loopback, on a fixed and unique host port, to a port the service listens on', () => {
      const seen = new Map<string, string>();
      for (const name of Object.keys(services)) {
        const ports = service(name).ports;
        if (ports === undefined) continue;
        asArray(ports, `${name}.ports`).forEach((raw, i) => {
          const where = `services.${name}.ports[${i}]`;
          const p = parsePort(raw, where);
          assert.ok(p.hostIp && LOOPBACK.has(p.hostIp), `${where} binds ${p.hostIp ?? 'all interfaces'}`);
          assert.ok(
            CONTAINER_PORTS[name].includes(p.containerPort),
            `${where}: ${name} listens on ${CONTAINER_PORTS[name].join(', ') || 'nothing'}, not ${p.containerPort}`,
          );
          const key = `${p.hostPort}/${p.protocol}`;
          assert.ok(!seen.has(key), `${where} reuses host port ${key} of ${seen.get(key)}`);
          seen.set(key, where);
        });
      }
      assert.ok(seen.size >= 2, 'the Temporal frontend and Web UI should be reachable from the host');
    });
  });

  describe('no literal secret', () => {
    it('docker-compose.yml passes every credential as a required ${VAR}', () => {
      for (const name of Object.keys(services)) {
        for (const [key, value] of Object.entries(environmentOf(service(name), name))) {
          if (!SECRET_KEY.test(key)) continue;
          assert.match(
            value ?? '',
            COMPOSE_SECRET_REF,
            `services.${name}.environment.${key} is not a \${VAR} reference`,
          );
        }
      }
      for (const { where, key, value } of walk(compose, 'compose')) {
        if (typeof value !== 'string') continue;
        if (SECRET_KEY.test(key))
          assert.match(value, COMPOSE_SECRET_REF, `${where} is not a \${VAR} reference`);
        assert.doesNotMatch(value, URL_WITH_PASSWORD, `${where} embeds a password in a URL`);
        assert.doesNotMatch(value, /\bPGPASSWORD=(?!\$\{)/, `${where} sets PGPASSWORD to a literal`);
      }
    });

    it('deploy/ferry.compose.yaml uses only secret references (env:, file:, aws-secretsmanager:)', () => {
      let references = 0;
      for (const { where, key, value } of walk(deploy, 'ferry.compose.yaml')) {
        if (typeof value !== 'string') continue;
        if (SECRET_KEY.test(key)) {
          assert.match(value, FERRY_SECRET_REF, `${where} is not a secret reference`);
          references++;
        }
        assert.doesNotMatch(value, URL_WITH_PASSWORD, `${where} embeds a password in a URL`);
      }
      assert.ok(references >= 2, 'both endpoints should carry a password reference');
    });

    it('gives the worker each env: secret, from the same variable the database was started with', () => {
      const workerEnv = environmentOf(service('worker'), 'worker');
      for (const [i, raw] of asArray(deploy.endpoints, 'endpoints').entries()) {
        const endpoint = asObject(raw, `endpoints[${i}]`);
        const host = asString(endpoint.host, `endpoints[${i}].host`);
        assert.ok(
          SERVICES.includes(host),
          `endpoint ${String(endpoint.id)} points at ${host}, not a service`,
        );
        const ref = /^env:(.+)$/.exec(asString(endpoint.password, `endpoints[${i}].password`));
        assert.ok(ref, `endpoint ${String(endpoint.id)}: the compose stack passes passwords as env:`);
        const inWorker = COMPOSE_SECRET_REF.exec(workerEnv[ref[1]] ?? '');
        assert.ok(inWorker, `worker.environment.${ref[1]} should be a \${VAR} reference`);
        const inDatabase = COMPOSE_SECRET_REF.exec(
          environmentOf(service(host), host).POSTGRES_PASSWORD ?? '',
        );
        assert.ok(inDatabase, `${host}.environment.POSTGRES_PASSWORD should be a \${VAR} reference`);
        assert.equal(
          inWorker[1],
          inDatabase[1],
          `the worker and ${host} must read the same password variable`,
        );
      }
    });
  });

  describe('deploy/ferry.compose.yaml', () => {
    it('reaches Temporal and the databases by their compose service names', () => {
      const temporal = asObject(deploy.temporal, 'temporal');
      assert.equal(temporal.address, 'temporal:7233');
      assert.equal(temporal.address, environmentOf(service('worker'), 'worker').TEMPORAL_ADDRESS);
      const endpoints = asArray(deploy.endpoints, 'endpoints').map((e, i) => asObject(e, `endpoints[${i}]`));
      assert.deepEqual(
        endpoints.map((e) => [e.id, e.role, e.host, e.port]),
        [
          ['onsite', 'source', 'source', 5432],
          ['aurora', 'target', 'target', 5432],
        ],
      );
      const ids = new Set(endpoints.map((e) => e.id));
      for (const [i, raw] of asArray(deploy.migrations, 'migrations').entries()) {
        const migration = asObject(raw, `migrations[${i}]`);
        assert.ok(ids.has(migration.source), `migrations[${i}].source names no endpoint`);
        assert.ok(ids.has(migration.target), `migrations[${i}].target names no endpoint`);
      }
    });
  });

  describe('Dockerfile', () => {
    it('builds the worker on node:20 with the PostgreSQL 15 client tools', () => {
      assert.ok(existsSync(DOCKERFILE), 'Dockerfile is missing');
      const steps = dockerfileInstructions(readFileSync(DOCKERFILE, 'utf8'));
      const from = steps.filter((s) => s.op === 'FROM');
      assert.match(from[0]?.args ?? '', /^node:20-bookworm-slim(\s|$)/);
      const runs = steps.map((s, i) => ({ ...s, i })).filter((s) => s.op === 'RUN');
      const apt = runs.find((s) => /apt-get\b.*\binstall\b/.test(s.args));
      assert.ok(apt, 'no apt-get install step');
      assert.match(apt.args, /\bpostgresql-client-15\b/);
      const ci = runs.find((s) => /(^|[\s;&])npm ci\b/.test(s.args));
      const build = runs.find((s) => /\bnpm run build\b/.test(s.args));
      assert.ok(ci, 'no `npm ci` step');
      assert.ok(build, 'no `npm run build` step');
      assert.ok(ci.i <= build.i, '`npm ci` must run before `npm run build`');
      const copiesRepo = steps.some((s, i) => s.op === 'COPY' && /^\.\s+\S+$/.test(s.args) && i < build.i);
      assert.ok(copiesRepo, 'the repository must be copied (COPY . …) before `npm run build`');
      const entrypoint = steps.filter((s) => s.op === 'ENTRYPOINT').pop();
      assert.ok(entrypoint, 'no ENTRYPOINT');
      assert.deepEqual(JSON.parse(entrypoint.args), [
        'node',
        'bin/ferry.js',
        'worker',
        '--config',
        CONFIG_IN_CONTAINER,
      ]);
    });

    it('.dockerignore keeps local state and secrets out but lets the build inputs in', () => {
      const patterns = readFileSync(DOCKERIGNORE, 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.replace(/^\/+|\/+$/g, ''));
      for (const excluded of ['node_modules', 'dist', '.git', '.env']) {
        assert.ok(patterns.includes(excluded), `.dockerignore should exclude ${excluded}`);
      }
      for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'bin', '*', '**']) {
        assert.ok(
          !patterns.includes(needed),
          `.dockerignore must not exclude ${needed}: the image build needs it`,
        );
      }
    });
  });

  // Runs in every environment: with the compose plugin it asks Docker, without it the interpolation model
  // answers the same two questions. Either way the structural tests above are the main check.
  const tool = findComposeTool();
  describe(`variable substitution (${tool ? tool.join(' ') + ' config' : 'no compose plugin: interpolation model'})`, () => {
    let scratch: string;
    let emptyEnvFile: string;
    before(() => {
      scratch = mkdtempSync(path.join(os.tmpdir(), 'ferry-compose-'));
      emptyEnvFile = path.join(scratch, 'empty.env');
      writeFileSync(emptyEnvFile, '');
    });
    after(() => rmSync(scratch, { recursive: true, force: true }));

    /** The resolved compose file, or the error `docker compose` would print. */
    function resolve(
      env: Record<string, string>,
    ): { ok: true; doc: JsonObject } | { ok: false; error: string } {
      if (!tool) {
        try {
          return { ok: true, doc: asObject(interpolate(compose, env), 'resolved') };
        } catch (err) {
          return { ok: false, error: (err as Error).message };
        }
      }
      const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
      for (const name of Object.keys(TEST_ENV)) if (!(name in env)) delete childEnv[name];
      // An empty --env-file, so a developer's .env cannot make the "without passwords" case pass.
      const r = spawnSync(
        tool[0],
        [...tool.slice(1), '--env-file', emptyEnvFile, '-f', COMPOSE_FILE, 'config', '--format', 'json'],
        { cwd: ROOT, env: childEnv, encoding: 'utf8', timeout: 60_000 },
      );
      if (r.status !== 0) return { ok: false, error: `${r.stderr}${r.error?.message ?? ''}` };
      return { ok: true, doc: asObject(JSON.parse(r.stdout) as Json, 'docker compose config') };
    }

    it('resolves with both passwords set and hands each one to its database and the worker', () => {
      const resolved = resolve(TEST_ENV);
      assert.ok(resolved.ok, `compose file did not resolve: ${resolved.ok ? '' : resolved.error}`);
      const svc = asObject(resolved.doc.services, 'services');
      const env = (name: string) => environmentOf(asObject(svc[name], name), name);
      assert.deepEqual(Object.keys(svc).sort(), SERVICES);
      assert.equal(env('source').POSTGRES_PASSWORD, TEST_ENV.FERRY_SOURCE_PASSWORD);
      assert.equal(env('target').POSTGRES_PASSWORD, TEST_ENV.FERRY_TARGET_PASSWORD);
      assert.equal(env('worker').FERRY_SOURCE_PASSWORD, TEST_ENV.FERRY_SOURCE_PASSWORD);
      assert.equal(env('worker').FERRY_TARGET_PASSWORD, TEST_ENV.FERRY_TARGET_PASSWORD);
      for (const { where, value } of walk(resolved.doc, 'resolved')) {
        if (typeof value === 'string') assert.doesNotMatch(value, /\$\{/, `${where} was left unresolved`);
      }
    });

    for (const missing of Object.keys(TEST_ENV)) {
      it(`refuses to start without ${missing}, naming it`, () => {
        const env: Record<string, string> = { ...TEST_ENV };
        delete env[missing];
        const resolved = resolve(env);
        assert.ok(!resolved.ok, `the stack would start with an empty ${missing}`);
        assert.match(resolved.error, new RegExp(missing));
      });
    }
  });
});

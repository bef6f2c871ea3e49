// Finding pg_dump/pg_restore: search order, Debian's pg_wrapper, too-old and missing tools.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findPgTool, findPgToolIn, parseToolVersion } from '../../src/engine/pg-tools';
import { FerryError } from '../../src/errors';

async function rejection(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof FerryError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

describe('engine/pg-tools', () => {
  let tmp: string;
  let empty: string;
  let fake: string;
  const saved = process.env.PG_BIN_DIR;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-tools-'));
    empty = path.join(tmp, 'empty');
    fake = path.join(tmp, 'fake');
    await fs.mkdir(empty);
    await fs.mkdir(fake);
    await fs.writeFile(path.join(fake, 'pg_dump'), "#!/bin/sh\necho 'pg_dump (PostgreSQL) 11.0'\n", {
      mode: 0o755,
    });
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.PG_BIN_DIR;
    else process.env.PG_BIN_DIR = saved;
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('parses --version output', () => {
    assert.deepEqual(parseToolVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'), {
      major: 15,
      version: '15.18',
    });
    assert.deepEqual(parseToolVersion('pg_dump (PostgreSQL) 11.0'), { major: 11, version: '11.0' });
    assert.deepEqual(parseToolVersion('pg_restore (PostgreSQL) 9.6.24'), { major: 9, version: '9.6.24' });
    assert.deepEqual(parseToolVersion('pg_dump (PostgreSQL) 17beta1'), { major: 17, version: '17beta1' });
    assert.equal(parseToolVersion('something else'), undefined);
  });

  it('finds pg_dump 15, the real binary rather than pg_wrapper', async () => {
    delete process.env.PG_BIN_DIR;
    const t = await findPgTool('pg_dump', 13);
    assert.ok(t.major >= 15, JSON.stringify(t));
    assert.equal(path.basename(await fs.realpath(t.path)), 'pg_dump');
    const r = await findPgTool('pg_restore');
    assert.ok(r.major >= 15);
  });

  it('falls through a PG_BIN_DIR that does not hold the tool', async () => {
    process.env.PG_BIN_DIR = empty;
    const t = await findPgTool('pg_dump', 13);
    assert.ok(t.major >= 15);
    assert.ok(!t.path.startsWith(empty));
  });

  it('refuses an old pg_dump in PG_BIN_DIR for a newer server, saying what to install', async () => {
    process.env.PG_BIN_DIR = fake;
    const e = await rejection(findPgTool('pg_dump', 13));
    assert.equal(e.type, 'TOOL_MISSING');
    assert.equal(
      e.message,
      'pg_dump 11 cannot dump a PostgreSQL 13 server; install postgresql-client-15 or newer ' +
        `(apt-get install -y postgresql-client-15) or set PG_BIN_DIR (found ${path.join(fake, 'pg_dump')} via PG_BIN_DIR)`,
    );
    assert.match(e.message, /apt-get install -y postgresql-client-15/);
    assert.match(e.message, /PG_BIN_DIR/);
    // Without a minimum the operator's explicit choice is used as is.
    assert.equal((await findPgTool('pg_dump')).major, 11);
  });

  it('skips a too-old pg_dump on PATH for a newer one under /usr/lib/postgresql', async () => {
    const t = await findPgToolIn('pg_dump', 13, { pathEnv: fake, debianRoot: '/usr/lib/postgresql' });
    assert.ok(t.major >= 15);
    const e = await rejection(findPgToolIn('pg_dump', 16, { pathEnv: fake, debianRoot: empty }));
    assert.match(
      e.message,
      /^pg_dump 11 cannot dump a PostgreSQL 16 server; install postgresql-client-16 or newer \(apt-get install -y postgresql-client-16\) or set PG_BIN_DIR \(newest found: .*fake\/pg_dump\)$/,
    );
  });

  it('missing everywhere → TOOL_MISSING with the apt-get line; pg_wrapper alone does not count', async () => {
    const e = await rejection(
      findPgToolIn('pg_restore', undefined, { binDir: empty, pathEnv: empty, debianRoot: empty }),
    );
    assert.equal(e.type, 'TOOL_MISSING');
    assert.match(e.message, /pg_restore not found .*apt-get install -y postgresql-client-15/);
    const wrapperOnly = await fs.realpath('/usr/bin/pg_dump').catch(() => '');
    if (path.basename(wrapperOnly) === 'pg_wrapper') {
      const w = await rejection(
        findPgToolIn('pg_dump', undefined, { pathEnv: '/usr/bin', debianRoot: empty }),
      );
      assert.equal(w.type, 'TOOL_MISSING');
    }
  });
});

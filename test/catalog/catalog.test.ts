// The catalog against real servers: discovery of the seeded database (size, tables, extensions,
// readiness), changes between refreshes (new database, new extension, size jump, lost connectivity
// without the password), and the list/show CLI reading the stored history.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  changeNotification,
  diffCatalog,
  readiness,
  refreshCatalog,
  type CatalogRow,
  type DatabaseFacts,
  type RefreshResult,
} from '../../src/catalog';
import type { CatalogDetail } from '../../src/catalog';
import { loadConfig } from '../../src/config/load';
import type { FerryConfig } from '../../src/config/schema';
import { pickPort } from '../../src/dev/postgres';
import { connect, dropDatabase, freshDatabase } from '../support/pg';
import { testMigration, type TestMigration } from '../support/stack';
import { promises as fs } from 'node:fs';

const execFileP = promisify(execFile);
const BIN = path.resolve(__dirname, '../../../bin/ferry.js');
const SAMPLE_MS = 100;

const find = (r: RefreshResult, endpoint: string, database: string) =>
  r.databases.find((d) => d.endpoint === endpoint && d.database === database);

async function firstAvailableExtension(tm: TestMigration, db: string): Promise<string> {
  const c = await connect(tm.source, db);
  try {
    const { rows } = await c.query<{ name: string }>(
      `SELECT name FROM pg_available_extensions
        WHERE name IN ('hstore', 'pg_trgm', 'citext', 'pgcrypto', 'btree_gist') AND installed_version IS NULL
        ORDER BY name LIMIT 1`,
    );
    assert.ok(rows.length, 'no contrib extension available on the test server');
    await c.query(`CREATE EXTENSION "${rows[0].name}"`);
    return rows[0].name;
  } finally {
    await c.end();
  }
}

describe('catalog', function () {
  let tm: TestMigration;
  let cfg: FerryConfig;
  const created: string[] = [];

  before(async () => {
    tm = await testMigration({ label: 'catalog' });
    cfg = await loadConfig(tm.configPath);
  });
  after(async () => {
    for (const db of created) await dropDatabase(tm.source, db);
    await tm?.cleanup();
  });

  it('discovers the seeded database: size, tables, extensions, activity, readiness, inventory', async () => {
    const r = await refreshCatalog(cfg, { sampleMs: SAMPLE_MS });
    assert.ok(r.refreshId > 0);
    assert.deepEqual(r.changes, [], 'the first refresh has nothing to compare with');
    const shop = find(r, 'onsite', tm.sourceDb);
    assert.ok(shop, 'seeded database found');
    assert.equal(shop.reachable, true);
    assert.ok(shop.sizeBytes! > 1_000_000, `size ${shop.sizeBytes}`);
    assert.ok(shop.tables! >= 3, `tables ${shop.tables}`);
    assert.ok(shop.largestTables!.length > 0 && shop.largestTables!.length <= 5);
    const sizes = shop.largestTables!.map((t) => t.bytes);
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => b - a),
      'largest first',
    );
    assert.ok(shop.extensions!.some((x) => x.name === 'plpgsql'));
    assert.match(shop.serverVersion!, /^13/);
    assert.equal(typeof shop.xactPerSecond, 'number');
    assert.equal(shop.replication!.walLevel, 'logical');
    assert.equal(shop.replication!.replicationPrivilege, true);
    assert.equal(shop.application, 'storefront');
    assert.deepEqual(shop.owners, [{ name: 'Owner', email: 'owner@example.com' }]);
    assert.deepEqual(shop.sla, { maxDowntime: 900, rpo: 0 });
    assert.deepEqual(readiness(shop), { ready: true, reasons: [] });
    // Template databases are not catalogued.
    assert.ok(!r.databases.some((d) => d.database === 'template1' || d.database === 'template0'));
    // Not in the inventory: discovered, but not ready.
    const pg = find(r, 'onsite', 'postgres');
    assert.ok(pg && !pg.inInventory);
    assert.match(readiness(pg).reasons.join(';'), /not in the inventory/);
  });

  it('a second refresh reports a new database, a new extension and a size jump, addressed to owners', async () => {
    const grown = await freshDatabase(tm.source, 'cat_grown');
    created.push(grown);
    // Inventory the database so its changes have owners to tell.
    const local: FerryConfig = {
      ...cfg,
      inventory: [
        ...cfg.inventory,
        {
          database: grown,
          endpoint: 'onsite',
          application: 'billing',
          owners: [{ name: 'Bea', email: 'bea@example.com' }],
          approvers: [],
          sla: {},
          tags: { tier: 'silver' },
        },
      ],
    };
    const first = await refreshCatalog(local, { sampleMs: SAMPLE_MS });
    assert.ok(first.changes.some((c) => c.kind === 'new-database' && c.database === grown));

    const extension = await firstAvailableExtension(tm, grown);
    const c = await connect(tm.source, grown);
    try {
      await c.query(
        `CREATE TABLE "big" AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g`,
      );
    } finally {
      await c.end();
    }
    const fresh = await freshDatabase(tm.source, 'cat_new');
    created.push(fresh);

    const second = await refreshCatalog(local, {
      sampleMs: SAMPLE_MS,
      thresholds: { sizeJumpBytes: 1024 * 1024, sizeJumpRatio: 0.2 },
    });
    assert.equal(second.previousRefreshId, first.refreshId);
    const mine = second.changes.filter((x) => x.database === grown || x.database === fresh);
    const kinds = mine.map((x) => `${x.kind}:${x.database}`).sort();
    assert.deepEqual(kinds, [`new-database:${fresh}`, `new-extension:${grown}`, `size-jump:${grown}`].sort());
    const ext = mine.find((x) => x.kind === 'new-extension')!;
    assert.ok(
      ext.text.includes(extension) && ext.text.includes(grown) && ext.text.includes('onsite'),
      ext.text,
    );
    assert.deepEqual(ext.owners, [{ name: 'Bea', email: 'bea@example.com' }]);
    const jump = mine.find((x) => x.kind === 'size-jump')!;
    assert.match(jump.text, /grew from/);
    const note = changeNotification(ext, second.at);
    assert.equal(note.kind, 'catalog-change');
    assert.equal(note.database, grown);
    assert.deepEqual(note.to, [{ name: 'Bea', email: 'bea@example.com' }]);
    assert.ok(note.text.includes(grown) && note.text.includes('catalog'));
    // The unchanged seeded database is quiet.
    assert.ok(!second.changes.some((x) => x.database === tm.sourceDb));
  });

  it('an unreachable endpoint is lost connectivity, classified, without the password', async () => {
    const password = 'Very-Secret-Pw-4711';
    const pwFile = path.join(tm.dir, 'branch.pw');
    await fs.writeFile(pwFile, password + '\n', { mode: 0o600 });
    const source = cfg.endpoints.find((e) => e.id === 'onsite')!;
    const withBranch = (port: number, pw: string): FerryConfig => ({
      ...cfg,
      endpoints: [...cfg.endpoints, { ...source, id: 'branch', port, password: pw }],
      inventory: [
        ...cfg.inventory,
        {
          database: tm.sourceDb,
          endpoint: 'branch',
          application: 'branch-office',
          owners: [{ name: 'Carl', email: 'carl@example.com' }],
          approvers: [],
          sla: {},
          tags: {},
        },
      ],
    });
    // Reachable first (the real server, real password), then the same endpoint on a closed port.
    const up = await refreshCatalog(withBranch(source.port, source.password), { sampleMs: SAMPLE_MS });
    assert.equal(find(up, 'branch', tm.sourceDb)?.reachable, true);
    const closed = await pickPort();
    const down = await refreshCatalog(withBranch(closed, `file:${pwFile}`), {
      sampleMs: SAMPLE_MS,
      connectTimeoutMs: 3000,
    });
    const lost = find(down, 'branch', tm.sourceDb)!;
    assert.equal(lost.reachable, false);
    assert.equal(lost.error!.type, 'ENDPOINT_UNREACHABLE');
    assert.ok(lost.error!.message.includes(`${closed}`), lost.error!.message);
    const change = down.changes.find((x) => x.endpoint === 'branch' && x.database === tm.sourceDb);
    assert.equal(change?.kind, 'lost-connectivity');
    assert.deepEqual(change.owners, [{ name: 'Carl', email: 'carl@example.com' }]);
    // Every database known on the endpoint is reported, not only the inventoried one.
    assert.ok(down.databases.filter((d) => d.endpoint === 'branch').length > 1);
    assert.ok(!JSON.stringify(down).includes(password));
    assert.ok(!JSON.stringify(down).includes(tm.source.password));

    // Wrong password on a reachable server: AUTH_FAILED, the password not shown.
    const denied = await refreshCatalog(withBranch(source.port, `file:${pwFile}`), { sampleMs: SAMPLE_MS });
    const d = find(denied, 'branch', tm.sourceDb)!;
    assert.equal(d.error?.type, 'AUTH_FAILED');
    assert.ok(!JSON.stringify(denied).includes(password));
  });

  it('diffCatalog: regained connectivity, version change, database gone', () => {
    const base: DatabaseFacts = {
      endpoint: 'e',
      database: 'd',
      inInventory: true,
      owners: [{ name: 'O' }],
      sla: {},
      tags: {},
      reachable: true,
      serverVersion: '13.1',
      sizeBytes: 1000,
      extensions: [],
    };
    const down = { ...base, reachable: false, error: { type: 'ENDPOINT_UNREACHABLE', message: 'x' } };
    assert.deepEqual(
      diffCatalog([down], [base]).map((c) => c.kind),
      ['regained-connectivity'],
    );
    assert.deepEqual(
      diffCatalog([base], [{ ...base, serverVersion: '13.9' }]).map((c) => c.kind),
      ['version-change'],
    );
    assert.deepEqual(
      diffCatalog([base], []).map((c) => c.kind),
      ['database-gone'],
    );
    assert.deepEqual(
      diffCatalog([base], [{ ...down, error: { type: 'DATABASE_MISSING', message: 'gone' } }]).map(
        (c) => c.kind,
      ),
      ['database-gone'],
    );
    assert.deepEqual(diffCatalog([down], [down]), []);
    // Default thresholds: 20% and 100 MiB both.
    assert.deepEqual(diffCatalog([base], [{ ...base, sizeBytes: 50 * 1024 * 1024 }]), []);
  });

  it('ferry catalog list / show / refresh (CLI, --json)', async () => {
    const run = async (...args: string[]) =>
      execFileP('node', [BIN, 'catalog', ...args, '--config', tm.configPath], { maxBuffer: 64 << 20 });

    const list = JSON.parse((await run('list', '--json')).stdout) as CatalogRow[];
    const shop = list.find((r) => r.endpoint === 'onsite' && r.database === tm.sourceDb);
    assert.ok(shop);
    assert.equal(shop.application, 'storefront');
    assert.deepEqual(shop.owners, [{ name: 'Owner', email: 'owner@example.com' }]);
    assert.deepEqual(shop.sla, { maxDowntime: 900, rpo: 0 });
    assert.equal(shop.readiness.ready, true);
    assert.ok(shop.sizeBytes! > 0 && shop.serverVersion && shop.lastRefreshed);
    const outsider = list.find((r) => r.database === 'postgres')!;
    assert.equal(outsider.readiness.ready, false);

    const text = (await run('list')).stdout;
    assert.ok(text.includes(`onsite/${tm.sourceDb}:`) && text.includes('max downtime 15m'), text);

    const show = JSON.parse((await run('show', tm.sourceDb, '--json')).stdout) as CatalogDetail;
    assert.ok(show.facts!.largestTables!.length > 0);
    assert.ok(show.facts!.extensions!.some((x) => x.name === 'plpgsql'));
    assert.ok(show.history.length >= 3, `history ${show.history.length}`);
    assert.ok(show.history.every((h) => h.sizeBytes! > 0));
    const shown = (await run('show', tm.sourceDb)).stdout;
    assert.match(shown, /largest tables:/);
    assert.match(shown, /size history:/);

    const missing = await run('show', 'no_such_db').then(
      () => assert.fail('expected failure'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /not in the catalog/);

    // refresh notifies owners of changes on the console (stderr) as JSON lines.
    const extra = await freshDatabase(tm.source, 'cat_cli');
    created.push(extra);
    const r = await run('refresh', '--json', '--sample', '100');
    const result = JSON.parse(r.stdout) as RefreshResult;
    assert.ok(result.changes.some((c) => c.kind === 'new-database' && c.database === extra));
    const notes = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { kind: string; database: string });
    assert.ok(
      notes.some((n) => n.kind === 'catalog-change' && n.database === extra),
      r.stderr,
    );
  });
});

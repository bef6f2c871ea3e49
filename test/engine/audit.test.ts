// The audit trail on a real target: entries recorded once per key, listed in order, config changes
// detected by fingerprint.
import assert from 'node:assert/strict';
import { appendAudit, fingerprint, listAudit, recordConfigChange } from '../../src/engine/audit';
import type { PgConnInfo } from '../../src/engine/connection';
import { dropDatabase, freshDatabase, testServer, type TestServer } from '../support/pg';

describe('audit trail (ferry.audit_log)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let db: string;
  let conn: PgConnInfo;
  before(async () => {
    server = await testServer(15);
    db = await freshDatabase(server, 'audit');
    conn = {
      endpointId: 'aurora',
      host: server.host,
      port: server.port,
      database: db,
      user: server.user,
      password: server.password,
    };
  });
  after(async () => {
    await dropDatabase(server, db);
  });

  it('is empty before anything was recorded, and records each key once', async () => {
    assert.deepEqual(await listAudit(conn, 'm1'), []);
    const e = {
      migration: 'm1',
      action: 'pause' as const,
      by: 'alice',
      reason: 'batch window',
      at: '2026-01-01T10:00:00.000Z',
      workflowId: 'cdc-m1',
      key: 'cdc-m1:run:1',
    };
    assert.equal(await appendAudit(conn, [e]), 1);
    // A retried activity sends the same entry again.
    assert.equal(await appendAudit(conn, [e]), 0);
    await appendAudit(conn, [
      {
        ...e,
        action: 'stop',
        by: 'bob',
        reason: undefined,
        at: '2026-01-01T11:00:00.000Z',
        key: 'cdc-m1:run:2',
        detail: { dropSlot: true },
      },
      { ...e, migration: 'other', key: 'x' },
    ]);
    const rows = await listAudit(conn, 'm1');
    assert.deepEqual(
      rows.map((r) => [r.action, r.by, r.reason, r.at, r.detail]),
      [
        ['pause', 'alice', 'batch window', '2026-01-01T10:00:00.000Z', undefined],
        ['stop', 'bob', undefined, '2026-01-01T11:00:00.000Z', { dropSlot: true }],
      ],
    );
  });

  it('records the first configuration and then only changes, naming the files that changed', async () => {
    const base = { migration: 'm2', by: 'alice', at: '2026-01-01T10:00:00.000Z', workflowId: 'w' };
    const v1 = fingerprint({ 'ferry.yaml migrations.m2': 'a', 'mappings.json': '{}' });
    assert.deepEqual(await recordConfigChange(conn, { ...base, files: v1 }), []);
    assert.equal(
      await recordConfigChange(conn, { ...base, at: '2026-01-01T11:00:00.000Z', files: v1 }),
      undefined,
    );
    const v2 = fingerprint({ 'ferry.yaml migrations.m2': 'a', 'mappings.json': '{"rules":[]}' });
    assert.deepEqual(
      await recordConfigChange(conn, { ...base, by: 'bob', at: '2026-01-01T12:00:00.000Z', files: v2 }),
      ['mappings.json'],
    );
    const rows = await listAudit(conn, 'm2', { action: 'config-change' });
    assert.equal(rows.length, 2);
    assert.equal(rows[1].by, 'bob');
    assert.match(rows[1].reason ?? '', /changed: mappings\.json/);
  });
});

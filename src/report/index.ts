// The migration report (issue 7 §3): write one self-contained HTML page for a migration, and a sample
// report for tests and the demo.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { renderReport } from './html';
import type { MigrationReport } from './types';

export { deriveThroughput, escapeHtml, renderReport } from './html';
export type * from './types';

/**
 * Renders `r` and writes it to `outPath` (parent folders created). The page is written to a temporary
 * file beside it and renamed into place, so a reader never sees half a report. Returns the absolute path.
 */
export async function writeReport(r: MigrationReport, outPath: string): Promise<string> {
  const target = path.resolve(outPath);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, renderReport(r), { encoding: 'utf8', mode: 0o644 });
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return target;
}

/**
 * A complete report of a fictional full-load-and-cdc migration, with awkward table names (quotes,
 * markup, non-ASCII) so renderers and tests see the escaping paths. Times start at `start`.
 */
export function sampleReport(start = new Date('2026-03-02T08:00:00Z')): MigrationReport {
  const t0 = start.getTime();
  const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
  const tables = [
    { key: 'public.orders', rows: 1_200_000, bytes: 310_000_000, from: 140, to: 620 },
    { key: 'public.order_items', rows: 4_800_000, bytes: 820_000_000, from: 140, to: 900 },
    { key: 'public.customers', rows: 250_000, bytes: 64_000_000, from: 150, to: 260 },
    { key: 'sales."<script>alert(1)</script>"', rows: 1_234, bytes: 98_304, from: 160, to: 163 },
    { key: 'inventory."stock ü € 日本"', rows: 56_789, bytes: 9_437_184, from: 262, to: 300 },
  ].map((t, i) => ({
    key: t.key,
    source: t.key,
    target: t.key,
    state: 'Table completed',
    rows: t.rows,
    bytes: t.bytes,
    segments: 4 + i,
    segmentsDone: 4 + i,
    startedAt: at(t.from),
    finishedAt: at(t.to),
    seconds: t.to - t.from,
  }));
  const totals = {
    tables: tables.length,
    completed: tables.length,
    rows: tables.reduce((n, t) => n + t.rows, 0),
    bytes: tables.reduce((n, t) => n + t.bytes, 0),
  };
  const cdcLag = Array.from({ length: 30 }, (_, i) => ({
    at: at(960 + i * 60),
    lagSeconds: Math.max(0.2, 45 * Math.exp(-i / 4)),
    lagBytes: Math.round(Math.max(2048, 90_000_000 * Math.exp(-i / 4))),
  }));
  const freezeAt = 960 + 30 * 60 + 120;
  return {
    migration: 'shop-to-aurora',
    workflowId: 'cdc-shop-to-aurora',
    generatedAt: at(freezeAt + 600),
    database: 'shop',
    application: 'Shop storefront',
    owners: [
      { name: 'Alice Owner', email: 'alice@example.com', role: 'app-owner' },
      { name: 'Bob DBA', email: 'bob@example.com', phone: '+49 30 1234567', role: 'dba' },
    ],
    sla: { maxDowntimeSeconds: 900, rpoSeconds: 0, businessHours: 'Mon-Fri 08:00-18:00 Europe/Berlin' },
    phases: [
      { name: 'catalog', startedAt: at(0), endedAt: at(4), status: 'done' },
      { name: 'assess', startedAt: at(4), endedAt: at(16), status: 'done' },
      { name: 'poc', startedAt: at(16), endedAt: at(130), status: 'done' },
      { name: 'full-load', startedAt: at(140), endedAt: at(905), status: 'done' },
      { name: 'cdc', startedAt: at(905), endedAt: at(freezeAt + 6), status: 'done' },
      { name: 'validate', startedAt: at(910), endedAt: at(1500), status: 'done' },
      { name: 'cutover', startedAt: at(freezeAt), endedAt: at(freezeAt + 9), status: 'done' },
    ],
    assessment: {
      blocked: false,
      counts: { blocker: 1, warning: 2, info: 1 },
      findings: [
        {
          id: 'source.wal-level',
          severity: 'blocker',
          object: 'endpoint:onsite',
          message: 'wal_level is replica; CDC needs logical',
          advice: 'ALTER SYSTEM SET wal_level = logical; restart the server',
        },
        {
          id: 'data.money-type',
          severity: 'warning',
          object: 'table:public.orders',
          message: 'column total uses money; its format depends on lc_monetary',
          advice: 'set the same lc_monetary on the target, or change the column to numeric(12,2)',
        },
        {
          id: 'data.timestamp-without-tz',
          severity: 'warning',
          object: 'table:sales."<script>alert(1)</script>"',
          message: 'column created_at is timestamp without time zone',
          advice: 'keep the server TimeZone the same on the target',
        },
        {
          id: 'target.version',
          severity: 'info',
          object: 'endpoint:aurora',
          message: 'target runs PostgreSQL 15.6, source 13.14',
          advice: 'nothing to do',
        },
      ],
      startedAt: at(4),
      seconds: 12,
      overriddenBy: 'carol@example.com',
    },
    poc: {
      outcome: 'approved',
      dump: { file: '/var/lib/ferry/poc/shop.dump', bytes: 52_428_800, seconds: 21.5 },
      restore: { scratchDatabase: 'ferry_poc_shop', seconds: 38.2, warnings: 0 },
      verify: { ok: true, tables: 5, checksummed: 4, differences: [] },
      estimate: {
        bytesPerSecond: 1_572_864,
        estimatedSeconds: 780,
        basis: 'dump+restore of 50 MiB, 5 tables',
      },
    },
    load: { tables, totals },
    cdcLag,
    validation: {
      enabled: true,
      passes: 3,
      mismatches: 2,
      pending: 0,
      at: at(1500),
      tables: tables.map((t, i) => ({
        key: t.key,
        target: t.target,
        state: i === 1 ? 'Mismatched records' : 'Validated',
        sourceRows: t.rows,
        targetRows: i === 1 ? t.rows - 2 : t.rows,
        mismatched: i === 1 ? 2 : 0,
        pending: 0,
        lastValidatedAt: at(1500),
      })),
    },
    tableStatistics: tables.map((t) => ({
      table: t.key,
      target: t.target,
      inserts: 1200,
      updates: 340,
      deletes: 12,
      ddls: 0,
      fullLoadRows: t.rows,
      validationState: 'Validated',
      lastUpdateTime: at(freezeAt),
    })),
    approvals: [
      {
        gate: 'assessment',
        decision: 'approved',
        by: 'carol@example.com',
        reason: 'wal_level changed in the maintenance window',
        at: at(15),
      },
      {
        gate: 'poc',
        decision: 'approved',
        by: 'bob@example.com',
        reason: 'counts and checksums equal',
        at: at(135),
      },
      {
        gate: 'cutover',
        decision: 'approved',
        by: 'alice@example.com',
        reason: 'Saturday window, <15 min outage agreed',
        at: at(freezeAt - 30),
      },
    ],
    cutover: {
      frozenAt: at(freezeAt),
      switchedAt: at(freezeAt + 8.42),
      writeFreezeMs: 8420,
      slaMaxDowntimeMs: 900_000,
      withinSla: true,
      steps: [
        { name: 'source writes stopped', at: at(freezeAt), detail: 'default_transaction_read_only = on' },
        { name: 'lag drained', at: at(freezeAt + 3.1), detail: 'applied up to 0/5A0F3C8' },
        { name: 'sequences synced', at: at(freezeAt + 4.0), detail: '12 sequences' },
        { name: 'final validation', at: at(freezeAt + 7.9), detail: '5 tables equal' },
        { name: 'target promoted', at: at(freezeAt + 8.42) },
      ],
    },
    fallbackPlan: {
      contacts: [{ name: 'Bob DBA', email: 'bob@example.com', phone: '+49 30 1234567', role: 'on-call' }],
      applications: ['Shop storefront', 'Shop back office'],
      steps: [
        'Stop application writes to the target.',
        'Let reverse replication (target -> source) drain to zero lag.',
        'Point the applications back at the on-site source.',
        'If reverse replication failed: restore /var/lib/ferry/poc/shop.dump and the Aurora snapshot.',
      ],
    },
    findings: ['1 table over 512 MiB was loaded in 5 segments', 'LOB truncation: none'],
  };
}

// `ferry catalog refresh | list | show`: the catalog of source databases (issue 7 §1) from the command
// line. refresh discovers now and notifies each changed database's owners through ferry.yaml's
// notifications; list and show read the stored history on the control database.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import type { CatalogRefreshInput } from '../activities/catalog';
import type { CatalogDetail, CatalogRow } from '../catalog';
import { loadConfig } from '../config';
import { DURATION_PATTERN, formatDuration, parseDuration } from '../config/duration';
import { FerryClient } from '../client';
import { FerryError } from '../errors';
import { bytes } from './format';
import { resolveConfigPath } from './index';

type Out = (line: string) => void;
const out: Out = (l) => process.stdout.write(l + '\n');
const err: Out = (l) => process.stderr.write(l + '\n');

export function registerCatalogCommands(program: Command): void {
  const catalog = program
    .command('catalog')
    .description('source databases: sizes, versions, extensions, owners, SLA and migration readiness');

  catalog
    .command('refresh')
    .description('discover every source endpoint now, store the result, and notify owners of what changed')
    .option('--config <file>', 'ferry.yaml')
    .option('--json', 'print {refreshId, at, databases, changes} as JSON')
    .option('--sample <ms>', 'milliseconds between the two transaction-rate samples', '2000')
    .action(async (o: { config?: string; json?: boolean; sample: string }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
      const { refreshCatalog, changeNotification } = require('../catalog') as typeof import('../catalog');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { notifierFrom } = require('../notify') as typeof import('../notify');
      const cfg = await loadConfig(resolveConfigPath(o.config));
      const sampleMs = Number(o.sample);
      const result = await refreshCatalog(cfg, {
        sampleMs: Number.isFinite(sampleMs) && sampleMs >= 0 ? sampleMs : 2000,
      });
      const notifier = notifierFrom(cfg);
      const failed: string[] = [];
      for (const change of result.changes) {
        await notifier
          .notify(changeNotification(change, result.at))
          .catch((e: Error) => failed.push(e.message));
      }
      for (const f of failed) err(`warning: notification not delivered: ${f}`);
      if (o.json) {
        out(JSON.stringify(result));
      } else {
        const lost = result.databases.filter((d) => !d.reachable);
        out(
          `catalog refresh ${result.refreshId} at ${result.at}: ${result.databases.length} databases` +
            `${lost.length ? `, ${lost.length} unreachable` : ''}, ${result.changes.length} changes` +
            (result.previousRefreshId === undefined ? ' (first refresh)' : ''),
        );
        for (const c of result.changes) {
          const who = c.owners.map((x) => x.email ?? x.name).join(', ');
          out(`  ${c.kind}: ${c.text}${who ? ` → ${who}` : ''}`);
        }
        for (const d of lost) out(`  unreachable: ${d.endpoint}/${d.database}: ${d.error?.message ?? ''}`);
      }
      if (failed.length) process.exitCode = 1;
    });

  catalog
    .command('list')
    .description('each database: endpoint, size, version, application, owners, SLA, readiness, last refresh')
    .option('--config <file>', 'ferry.yaml')
    .option('--json')
    .action(async (o: { config?: string; json?: boolean }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
      const { listCatalog } = require('../catalog') as typeof import('../catalog');
      const cfg = await loadConfig(resolveConfigPath(o.config));
      const rows = await listCatalog(cfg);
      if (o.json) {
        out(JSON.stringify(rows.map(({ facts: _facts, ...r }) => r)));
        return;
      }
      if (!rows.length)
        out(
          'the catalog is empty: run `ferry catalog refresh`, or add databases to inventory: in ferry.yaml',
        );
      for (const r of rows) out(renderRow(r));
    });

  catalog
    .command('show <database>')
    .description('everything about one database: facts, largest tables, extensions, tags, size history')
    .option('--config <file>', 'ferry.yaml')
    .option('--endpoint <id>', 'the endpoint, when several hold a database of that name')
    .option('--json')
    .action(async (database: string, o: { config?: string; endpoint?: string; json?: boolean }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
      const { showCatalogDatabase } = require('../catalog') as typeof import('../catalog');
      const cfg = await loadConfig(resolveConfigPath(o.config));
      const detail = await showCatalogDatabase(cfg, database, o.endpoint);
      if (o.json) out(JSON.stringify(detail));
      else out(renderDetail(detail));
    });

  catalog
    .command('schedule')
    .description('refresh the catalog periodically: creates or updates the Temporal Schedule ferry-catalog')
    .requiredOption('--every <duration>', 'interval, e.g. 1h, 30m, 1d')
    .option('--config <file>', 'ferry.yaml')
    .option('--json')
    .action(async (o: { every: string; config?: string; json?: boolean }) => {
      if (!DURATION_PATTERN.test(o.every) || parseDuration(o.every) < 60) {
        throw new FerryError(
          'CONFIG_INVALID',
          `--every got "${o.every}"; use a duration of at least 1m, e.g. 1h`,
        );
      }
      const cfg = await loadConfig(resolveConfigPath(o.config));
      const client = await FerryClient.connect(cfg.temporal);
      try {
        const everyMs = parseDuration(o.every) * 1000;
        const what = await ensureCatalogSchedule(client.client, {
          everyMs,
          taskQueue: cfg.temporal.taskQueue,
        });
        if (o.json) out(JSON.stringify({ scheduleId: CATALOG_SCHEDULE_ID, every: o.every, result: what }));
        else
          out(
            `${what} schedule ${CATALOG_SCHEDULE_ID}: catalog refresh every ${o.every} on task queue ${cfg.temporal.taskQueue}`,
          );
      } finally {
        await client.close();
      }
    });
}

export const CATALOG_SCHEDULE_ID = 'ferry-catalog';
export const CATALOG_WORKFLOW_ID = 'ferry-catalog-refresh';

/**
 * Creates the `ferry-catalog` Schedule starting `catalogRefresh` every `everyMs`, or updates its
 * interval and action if it exists. A refresh still running when the next is due is skipped.
 */
export async function ensureCatalogSchedule(
  client: Client,
  opts: { everyMs: number; taskQueue: string; input?: CatalogRefreshInput },
): Promise<'created' | 'updated'> {
  const spec = { intervals: [{ every: opts.everyMs }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'catalogRefresh',
    workflowId: CATALOG_WORKFLOW_ID,
    taskQueue: opts.taskQueue,
    args: [opts.input ?? {}],
  };
  try {
    await client.schedule.create({
      scheduleId: CATALOG_SCHEDULE_ID,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(CATALOG_SCHEDULE_ID).update((previous) => ({ ...previous, spec, action }));
  return 'updated';
}

function sla(r: CatalogRow): string {
  const parts = [];
  if (r.sla.maxDowntime !== undefined) parts.push(`max downtime ${formatDuration(r.sla.maxDowntime)}`);
  if (r.sla.rpo !== undefined) parts.push(`RPO ${formatDuration(r.sla.rpo)}`);
  return parts.length ? parts.join(', ') : 'no SLA';
}

export function renderRow(r: CatalogRow): string {
  const owners = r.owners.map((o) => (o.email ? `${o.name} <${o.email}>` : o.name)).join(', ') || 'no owners';
  const facts =
    r.reachable === false
      ? 'UNREACHABLE'
      : r.reachable === undefined
        ? 'not refreshed'
        : `${bytes(r.sizeBytes)}, PostgreSQL ${r.serverVersion ?? '?'}`;
  const ready = r.readiness.ready ? 'ready' : `not ready: ${r.readiness.reasons.join('; ')}`;
  return (
    `${r.endpoint}/${r.database}: ${facts}; ${r.application ?? 'no application'}; ${owners}; ${sla(r)}\n` +
    `  ${ready}${r.lastRefreshed ? `\n  last refreshed ${r.lastRefreshed}` : ''}`
  );
}

export function renderDetail(d: CatalogDetail): string {
  const lines = [renderRow(d)];
  const f = d.facts;
  if (f?.error) lines.push(`  error: ${f.error.message}`);
  if (f?.reachable) {
    lines.push(
      `  tables: ${f.tables ?? 0}; transactions/s: ${f.xactPerSecond ?? '?'}; extensions: ` +
        ((f.extensions ?? []).map((x) => `${x.name} ${x.version}`).join(', ') || 'none'),
    );
    if (f.replication) {
      const r = f.replication;
      lines.push(
        `  replication: wal_level ${r.walLevel}, ${r.freeSlots}/${r.maxReplicationSlots} slots free, ` +
          `${r.freeSenders}/${r.maxWalSenders} WAL senders free, REPLICATION privilege ${r.replicationPrivilege ? 'yes' : 'no'}`,
      );
    }
    if (f.largestTables?.length) {
      lines.push('  largest tables:');
      for (const t of f.largestTables)
        lines.push(`    ${t.schema}.${t.name}: ${bytes(t.bytes)}, ~${Math.max(t.rowsEstimate, 0)} rows`);
    }
  }
  const tags = Object.entries(d.tags);
  if (tags.length) lines.push(`  tags: ${tags.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (d.history.length) {
    lines.push('  size history:');
    for (const h of d.history) lines.push(`    ${h.at}: ${h.reachable ? bytes(h.sizeBytes) : 'unreachable'}`);
  }
  return lines.join('\n');
}

// `ferry report`: one self-contained HTML page for a migration, filled from the runbook workflow and
// its children (PoC, full load, CDC) and the inventory of ferry.yaml.
import type { FerryClient } from '../client';
import { getInventoryFor, getMigration, type FerryConfig } from '../config';
import { type MigrationReport, writeReport } from '../report';

async function optional<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch {
    return undefined; // a child that never ran (skipped PoC, fallback before the load)
  }
}

export async function buildReport(
  client: FerryClient,
  cfg: FerryConfig,
  workflowId: string,
): Promise<MigrationReport> {
  const st = await client.migrationStatus(workflowId);
  const m = getMigration(cfg, st.migration);
  const database = st.database ?? m.database;
  const inv = getInventoryFor(cfg, m.source, database);
  const poc = st.poc ? await optional(client.status(st.poc.workflowId)) : undefined;
  const loadId = st.fullLoadWorkflowId ?? `full-load-${st.migration}`;
  const load = await optional(client.fullLoadStatus(loadId));
  const cdc = st.cdcWorkflowId ? await optional(client.cdcStatus(st.cdcWorkflowId)) : undefined;
  // Full load only: the statistics and validation are the load's own.
  const statsOf = st.cdcWorkflowId ?? (st.fullLoadWorkflowId && loadId);
  const stats = statsOf ? await optional(client.tableStatistics(statsOf)) : undefined;
  const validation = cdc?.validation ?? (st.fullLoadWorkflowId ? load?.validation : undefined);
  const fullLoadOnly = st.migrationType === 'full-load';
  const c = st.cutover;
  return {
    migration: st.migration,
    workflowId,
    generatedAt: new Date().toISOString(),
    database,
    ...(inv && { application: inv.application }),
    owners: inv?.owners ?? [],
    sla: st.sla ?? {},
    phases: Object.entries(st.phases).map(([name, p]) => ({
      name,
      startedAt: p!.start,
      ...(p!.end && { endedAt: p!.end }),
      ...(p!.seconds !== undefined && { seconds: p!.seconds }),
      status: p!.end || name === 'done' ? 'done' : st.phase === name ? 'running' : 'done',
    })),
    ...(st.assessment && { assessment: st.assessment }),
    ...(poc && {
      poc: {
        outcome: st.poc?.outcome ?? poc.phase,
        ...(poc.estimate && { estimate: poc.estimate }),
        ...(poc.dump && { dump: poc.dump }),
        ...(poc.restore && { restore: poc.restore }),
        ...(poc.verify && { verify: poc.verify }),
      },
    }),
    ...(load && {
      load: {
        tables: load.tables,
        totals: {
          tables: load.totals.tables,
          completed: load.totals.completed,
          rows: load.totals.rows,
          bytes: load.totals.bytes,
        },
      },
    }),
    // The lag as the CDC child reported it over time (the runbook keeps a thinned history).
    ...(st.lagHistory?.length && { cdcLag: st.lagHistory }),
    ...(validation && { validation }),
    ...(stats && { tableStatistics: stats }),
    approvals: [...(poc?.approvals ?? []), ...st.approvals].sort((a, b) => a.at.localeCompare(b.at)),
    ...(c?.frozenAt &&
      c.switchedAt && {
        cutover: {
          frozenAt: c.frozenAt,
          switchedAt: c.switchedAt,
          writeFreezeMs: c.writeFreezeMs ?? 0,
          ...(c.slaMaxDowntimeMs !== undefined && { slaMaxDowntimeMs: c.slaMaxDowntimeMs }),
          withinSla: c.withinSla ?? true,
          steps: c.steps,
        },
      }),
    fallbackPlan: {
      contacts: [...(inv?.owners ?? []), ...m.fallback.contacts],
      applications: inv ? [inv.application] : [],
      steps: [
        `ferry fallback ${workflowId} --by <approver> --reason "<why>"`,
        fullLoadOnly
          ? 'before the cutover: nothing was done to the source; after a failed load its freeze is undone'
          : 'before the cutover: CDC stops and its slot is dropped; the source was never changed',
        fullLoadOnly
          ? 'after the cutover: the target is frozen and the source takes writes again, as it was at the freeze; ' +
            'writes made on the target since the switch are NOT carried back (full load only, no reverse replication)' +
            (st.restorePoint
              ? `; if the source was written meanwhile, restore the pre-cutover dump ${st.restorePoint.file} with pg_restore --clean`
              : '')
          : 'after the cutover: the target is frozen, its writes since the cutover are drained into the source through ' +
            'reverse replication, and the source takes writes again; point the application back at it',
      ],
    },
    ...(cdc?.serverLogs && { serverLogs: cdc.serverLogs }),
    findings: [...st.findings, ...(cdc?.findings ?? [])],
  };
}

export async function reportCommand(
  client: FerryClient,
  cfg: FerryConfig,
  workflowId: string,
  out: string,
): Promise<string> {
  return writeReport(await buildReport(client, cfg, workflowId), out);
}

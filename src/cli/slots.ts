// `ferry slots`: Ferry's replication slots on each source of ferry.yaml, with the WAL each keeps and
// whether a running CDC workflow uses it. A slot nobody streams keeps WAL forever: this is where an
// abandoned one shows up, with the command that drops it.
import { endpointConn, migrationContext, sourceDatabase } from '../activities/context';
import { cdcNames } from '../activities/full-load';
import { FerryClient, cdcWorkflowId } from '../client';
import { loadConfig } from '../config';
import { listFerrySlots } from '../engine/cdc/source';

export interface SlotReport {
  endpoint: string;
  slot: string;
  database: string;
  active: boolean;
  retainedWalBytes: number;
  confirmedFlushLsn?: string;
  /** The migration of ferry.yaml whose slot this is, if any. */
  migration?: string;
  /** RUNNING, COMPLETED, ... of its CDC workflow; undefined when there is none (or Temporal is down). */
  workflow?: string;
  /** No running CDC workflow streams it. */
  abandoned: boolean;
}

export async function slotReports(configPath: string): Promise<{ slots: SlotReport[]; warnings: string[] }> {
  const cfg = await loadConfig(configPath);
  const warnings: string[] = [];
  let client: FerryClient | undefined;
  try {
    client = await FerryClient.connect(cfg.temporal);
  } catch (e) {
    warnings.push(`Temporal not reachable (${(e as Error).message}): workflow states unknown`);
  }
  const bySlot = new Map(cfg.migrations.map((m) => [cdcNames(m).slotName, m.name]));
  const seen = new Set<string>();
  const slots: SlotReport[] = [];
  try {
    for (const m of cfg.migrations.filter((x) => x.engine === 'native')) {
      if (seen.has(m.source)) continue;
      seen.add(m.source);
      const ctx = await migrationContext(configPath, m.name);
      const conn = await endpointConn(cfg, ctx.source, sourceDatabase(m, ctx.source));
      let list;
      try {
        list = await listFerrySlots(conn);
      } catch (e) {
        warnings.push(`endpoint ${m.source}: ${(e as Error).message}`);
        continue;
      }
      for (const s of list) {
        const migration = bySlot.get(s.name);
        let workflow: string | undefined;
        if (migration && client) {
          workflow = await client
            .describe(cdcWorkflowId(migration))
            .then((d) => d.status.name)
            .catch(() => undefined);
        }
        slots.push({
          endpoint: m.source,
          slot: s.name,
          database: s.database,
          active: s.active,
          retainedWalBytes: s.retainedWalBytes,
          ...(s.confirmedFlushLsn && { confirmedFlushLsn: s.confirmedFlushLsn }),
          ...(migration && { migration }),
          ...(workflow && { workflow }),
          abandoned: workflow !== 'RUNNING' && !s.active,
        });
      }
    }
  } finally {
    await client?.close();
  }
  return { slots, warnings };
}

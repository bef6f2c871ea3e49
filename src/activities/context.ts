// What every activity needs first: the migration from ferry.yaml and connections with resolved
// secrets. Only here, inside an activity, does a password exist in memory.
import type { EndpointConfig, FerryConfig, MigrationConfig } from '../config';
import { getEndpoint, getMigration, loadConfig } from '../config';
import { endpointConnInfo, type PgConnInfo } from '../engine/connection';

export interface MigrationContext {
  cfg: FerryConfig;
  m: MigrationConfig;
  source: EndpointConfig;
  target: EndpointConfig;
}

/** Re-read on every activity so an operator's fix to ferry.yaml applies on the next retry. */
export async function migrationContext(configPath: string, migration: string): Promise<MigrationContext> {
  const cfg = await loadConfig(configPath);
  const m = getMigration(cfg, migration);
  return { cfg, m, source: getEndpoint(cfg, m.source), target: getEndpoint(cfg, m.target) };
}

/** An endpoint's connection settings, its secret resolved (only here, inside an activity). */
export const endpointConn = endpointConnInfo;

/** The source database of a migration: its own `database`, else the endpoint's. */
export function sourceDatabase(m: MigrationConfig, ep: EndpointConfig): string {
  return m.database ?? ep.database;
}

/** The migration with both endpoints' connection settings (secrets resolved): the source at its database. */
export async function migrationEndpoints(
  configPath: string,
  migration: string,
): Promise<MigrationContext & { sourceConn: PgConnInfo; targetConn: PgConnInfo }> {
  const ctx = await migrationContext(configPath, migration);
  const sourceConn = await endpointConn(ctx.cfg, ctx.source, sourceDatabase(ctx.m, ctx.source));
  const targetConn = await endpointConn(ctx.cfg, ctx.target);
  return { ...ctx, sourceConn, targetConn };
}

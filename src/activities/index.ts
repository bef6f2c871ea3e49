// Activities: thin adapters from plain JSON to engine calls. They resolve secrets, open connections,
// heartbeat progress, and turn FerryErrors into Temporal failures an operator can act on.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { getInventoryFor } from '../config';
import { endpointConn, migrationContext, sourceDatabase } from './context';
import { wrap } from './failures';
import { withHeartbeat } from './heartbeat';
import { createFullLoadActivities } from './full-load';
import { createCdcActivities } from './cdc';
import { createRunbookActivities } from './runbook';
import { createCatalogActivities } from './catalog';
import { createCutoverActivities } from './cutover';
import { createFallbackActivities } from './fallback';
import { type AwsClients, createDmsActivities, type DmsActivityDeps } from './dms';
import type { FerryConfig } from '../config';
import {
  buildFallbackPlan,
  dropScratchDatabase,
  dumpDatabase,
  ensureScratchDatabase,
  estimateFullMigration,
  inspectSource as engineInspect,
  restoreDump,
  scratchDatabaseName,
  verifyRestore,
  writeCounters,
} from '../engine/poc';
import { findPgTool } from '../engine/pg-tools';
import type { PocScope } from '../workflows/definitions';

export interface ActivityDeps {
  /** Where ferry.yaml is; re-read on every activity so an operator's fix applies on the next retry. */
  configPath: string;
  /** Heartbeat period for long work. */
  heartbeatMs?: number;
  /** engine aws-dms: the SDK clients of a migration (default: activities/dms.ts awsClients). */
  awsClients?: (cfg: FerryConfig, migration: string) => AwsClients;
  /** engine aws-dms: how often waits poll AWS (default 15 s) and the adapter's retry of describes. */
  dmsPollMs?: DmsActivityDeps['dmsPollMs'];
  dmsRetry?: DmsActivityDeps['dmsRetry'];
}

export interface MigrationBrief {
  migration: string;
  source: string;
  target: string;
  database: string;
  approvers: string[];
  /** Absent in histories from before it was added: those ran with CDC. */
  migrationType?: 'full-load' | 'full-load-and-cdc' | 'cdc';
  /** native (Ferry's workers move the data) or aws-dms; absent in older histories: native. */
  engine?: 'native' | 'aws-dms';
  /** The database's first owner from the inventory (name), for the FerryOwner search attribute. */
  owner?: string;
  /** The inventory's SLA for the database: the cutover's downtime budget and window. */
  sla?: { maxDowntimeSeconds?: number; rpoSeconds?: number; businessHours?: string };
  poc: { scope: PocScope; sizeCapMb: number; compression: number; jobs: number };
  /** ferry.yaml `cutover:` timings (seconds), the workflow's defaults. */
  cutover?: {
    readyLagSeconds: number;
    gateTimeoutSeconds: number;
    postCutoverSeconds: number;
    freeze: string;
  };
  /** ferry.yaml `provision:`: the worker pool the migration needs. */
  provision?: { concurrency: number; replicas: number };
}

export interface TableSummary {
  schema: string;
  name: string;
  kind: 'table' | 'partitioned' | 'partition';
  bytes: number;
  estimatedRows: number;
  hasPrimaryKey: boolean;
}

export function createActivities(deps: ActivityDeps) {
  const hbMs = deps.heartbeatMs ?? 5_000;

  const context = (migration: string) => migrationContext(deps.configPath, migration);

  return {
    ...createFullLoadActivities(deps),
    ...createCdcActivities(deps),
    ...createRunbookActivities(deps),
    ...createCatalogActivities(deps),
    ...createCutoverActivities(deps),
    ...createFallbackActivities(deps),
    ...createDmsActivities(deps),
    async describeMigration(input: { migration: string }): Promise<MigrationBrief> {
      return wrap(async () => {
        const { cfg, m, source } = await context(input.migration);
        const database = sourceDatabase(m, source);
        const inv = getInventoryFor(cfg, m.source, database);
        const owner = inv?.owners[0]?.name;
        const sla = inv && {
          ...(inv.sla.maxDowntime !== undefined && { maxDowntimeSeconds: inv.sla.maxDowntime }),
          ...(inv.sla.rpo !== undefined && { rpoSeconds: inv.sla.rpo }),
          ...(inv.sla.businessHours && { businessHours: inv.sla.businessHours }),
        };
        return {
          migration: m.name,
          source: m.source,
          target: m.target,
          database,
          migrationType: m.migrationType,
          engine: m.engine,
          // The migration's approvers and the application's (inventory), each once.
          approvers: [...new Set([...m.approvers, ...(inv?.approvers ?? [])])],
          ...(owner && { owner }),
          ...(sla && { sla }),
          poc: {
            scope: { schemas: m.poc.schemas, tables: m.poc.tables },
            sizeCapMb: m.poc.sizeCapMb,
            compression: m.poc.compression,
            jobs: m.poc.jobs,
          },
          cutover: {
            readyLagSeconds: m.cutover.readyLag,
            gateTimeoutSeconds: m.cutover.gateTimeout,
            postCutoverSeconds: m.cutover.postCutoverWatch,
            freeze: m.cutover.freeze,
          },
          provision: { ...m.provision },
        };
      });
    },

    async inspectSource(input: { migration: string; scope: PocScope }): Promise<{
      serverVersion: string;
      serverMajor: number;
      databaseSize: number;
      scopeBytes: number;
      tables: TableSummary[];
      findings: string[];
    }> {
      return wrap(async () => {
        const { cfg, m, source } = await context(input.migration);
        const c = await endpointConn(cfg, source, sourceDatabase(m, source));
        const inv = await engineInspect(c, input.scope);
        // Refuse early, before a long dump, if our pg_dump cannot dump this server.
        await findPgTool('pg_dump', inv.serverMajor);
        const findings: string[] = [];
        for (const t of inv.tables) {
          if (t.kind === 'table' && !t.hasPrimaryKey) {
            findings.push(`${t.schema}.${t.name} has no primary key (CDC will need REPLICA IDENTITY FULL)`);
          }
        }
        if (inv.tables.length === 0) findings.push('the PoC scope selects no tables');
        return {
          serverVersion: inv.serverVersion,
          serverMajor: inv.serverMajor,
          databaseSize: inv.databaseSize,
          scopeBytes: inv.scopeBytes,
          tables: inv.tables.map((t) => ({
            schema: t.schema,
            name: t.name,
            kind: t.kind,
            bytes: t.bytes,
            estimatedRows: t.estimatedRows,
            hasPrimaryKey: t.hasPrimaryKey,
          })),
          findings,
        };
      });
    },

    async dumpSource(input: {
      migration: string;
      scope: PocScope;
      compression: number;
      runId: string;
    }): Promise<{ file: string; bytes: number; seconds: number; writesBefore: Record<string, number> }> {
      return wrap(async () => {
        const { cfg, m, source } = await context(input.migration);
        const c = await endpointConn(cfg, source, sourceDatabase(m, source));
        // Before the dump's snapshot: a table written from here on may differ at verify, and is told apart.
        const writesBefore = await writeCounters(c);
        const dir = path.join(cfg.workDir, m.name);
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        const outFile = path.join(dir, `poc-${input.runId}.dump`);
        let bytes = 0;
        const r = await withHeartbeat(
          hbMs,
          () => ({ bytes }),
          (signal) =>
            dumpDatabase({
              conn: c,
              scope: input.scope,
              compression: input.compression,
              outFile,
              signal,
              onProgress: (p) => (bytes = p.bytes),
            }),
        );
        return { file: r.file, bytes: r.bytes, seconds: r.seconds, writesBefore };
      });
    },

    async restoreToScratch(input: {
      migration: string;
      file: string;
      jobs: number;
    }): Promise<{ scratchDatabase: string; seconds: number; warnings: string[] }> {
      return wrap(async () => {
        const { cfg, m, target } = await context(input.migration);
        const admin = await endpointConn(cfg, target);
        const scratch = scratchDatabaseName(m.name);
        // A retry (say after a worker died mid-restore) starts from a fresh scratch database.
        await ensureScratchDatabase(admin, scratch, m.name);
        let progress = { done: 0, total: 0 };
        const r = await withHeartbeat(
          hbMs,
          () => progress,
          (signal) =>
            restoreDump({
              conn: { ...admin, database: scratch },
              file: input.file,
              jobs: input.jobs,
              signal,
              onProgress: (p) => (progress = { done: p.done, total: p.total }),
            }),
        );
        return { scratchDatabase: scratch, seconds: r.seconds, warnings: r.warnings };
      });
    },

    async verifyScratch(input: {
      migration: string;
      tables: TableSummary[];
      sizeCapBytes: number;
      writesBefore?: Record<string, number>;
    }): Promise<{
      ok: boolean;
      tables: number;
      checksummed: number;
      differences: string[];
      changed: string[];
    }> {
      return wrap(async () => {
        const { cfg, m, source, target } = await context(input.migration);
        const src = await endpointConn(cfg, source, sourceDatabase(m, source));
        const tgt = await endpointConn(cfg, target, scratchDatabaseName(m.name));
        let progress = { done: 0, total: input.tables.length };
        const report = await withHeartbeat(
          hbMs,
          () => progress,
          () =>
            verifyRestore({
              source: src,
              target: tgt,
              tables: input.tables,
              sizeCapBytes: input.sizeCapBytes,
              ...(input.writesBefore && { writesBefore: input.writesBefore }),
              onProgress: (p) => (progress = { done: p.done, total: p.total }),
            }),
        );
        const dir = path.join(cfg.workDir, m.name);
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        await fs.writeFile(path.join(dir, 'poc-verify.json'), JSON.stringify(report, null, 2));
        return {
          ok: report.ok,
          tables: report.tables.length,
          checksummed: report.tables.filter((t) => t.checksummed).length,
          differences: report.differences,
          changed: report.changed,
        };
      });
    },

    async planFromPoc(input: {
      migration: string;
      dumpFile: string;
      dumpBytes: number;
      dumpSeconds: number;
      restoreSeconds: number;
      scopeBytes: number;
      databaseBytes: number;
    }): Promise<{
      estimate: { bytesPerSecond: number; estimatedSeconds: number; basis: string };
      planFile: string;
    }> {
      return wrap(async () => {
        const { cfg, m, source } = await context(input.migration);
        const estimate = estimateFullMigration({
          scopeBytes: input.scopeBytes,
          databaseBytes: input.databaseBytes,
          dumpSeconds: input.dumpSeconds,
          restoreSeconds: input.restoreSeconds,
          dumpBytes: input.dumpBytes,
        });
        const db = sourceDatabase(m, source);
        const inv = getInventoryFor(cfg, source.id, db);
        const plan = buildFallbackPlan({
          migration: m.name,
          source: {
            endpointId: source.id,
            host: source.host,
            port: source.port,
            database: db,
            user: source.user,
            passwordRef: source.password,
          },
          dumpFile: input.dumpFile,
          owners: inv?.owners ?? [],
          fallbackContacts: m.fallback?.contacts ?? [],
          application: inv?.application,
          sla: inv?.sla,
        });
        const dir = path.join(cfg.workDir, m.name);
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        const planFile = path.join(dir, 'fallback-plan.json');
        await fs.writeFile(planFile, JSON.stringify({ migration: m.name, estimate, ...plan }, null, 2));
        return { estimate, planFile };
      });
    },

    async dropScratch(input: {
      migration: string;
    }): Promise<{ database: string; dropped: boolean; reason?: string }> {
      return wrap(async () => {
        const { cfg, m, target } = await context(input.migration);
        const admin = await endpointConn(cfg, target);
        const database = scratchDatabaseName(m.name);
        const r = await dropScratchDatabase(admin, database, m.name);
        return { database, dropped: r.dropped, reason: r.reason };
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

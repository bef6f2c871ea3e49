// Activities of the way back: reverse replication (target -> source) from the cutover on, undoing the
// source's write freeze, freezing the target, and notifying the people the inventory names.
import { promises as fs } from 'node:fs';
import { Context } from '@temporalio/activity';
import { getInventoryFor } from '../config';
import { type FreezeState, freezeWrites, undoFreeze } from '../engine/cutover';
import { readCurrentLsn } from '../engine/cdc/source';
import { connectPg } from '../engine/connection';
import { loadPlan } from '../engine/plan-store';
import { writeCounters } from '../engine/poc/verify';
import { dropReverse, prepareReverse, runReverse } from '../engine/reverse';
import { notifierFrom, type NotificationKind } from '../notify';
import { migrationEndpoints, migrationContext, sourceDatabase } from './context';
import { wrap } from './failures';

export interface FallbackActivityDeps {
  configPath: string;
  heartbeatMs?: number;
}

export function createFallbackActivities(deps: FallbackActivityDeps) {
  const endpoints = (migration: string) => migrationEndpoints(deps.configPath, migration);

  return {
    /** At the cutover, while the source is frozen: a slot on the target captures every later write. */
    async prepareReverseReplication(input: {
      migration: string;
      planId: string;
    }): Promise<{ slotName: string; publication: string; startLsn: string; findings: string[] }> {
      return wrap(async () => {
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan, catalog } = await loadPlan(targetConn, m.name, input.planId);
        const r = await prepareReverse({
          migration: m.name,
          plan,
          catalog,
          target: targetConn,
          source: sourceConn,
        });
        return {
          slotName: r.slotName,
          publication: r.publication,
          startLsn: r.startLsn,
          findings: r.plan.skipped.map(
            (s) => `reverse replication leaves out ${s.schema}.${s.name}: ${s.reason}`,
          ),
        };
      }, input.migration);
    },

    /**
     * Apply the target's writes to the source: until cancelled (the post-cutover watch), or, with
     * `drain`, until everything the target wrote so far is on the source.
     */
    async streamReverse(input: {
      migration: string;
      planId: string;
      drain?: boolean;
    }): Promise<{ appliedLsn: string; changes: number; untilLsn?: string }> {
      return wrap(async () => {
        const ctx = Context.current();
        const { m, sourceConn, targetConn } = await endpoints(input.migration);
        const { plan, catalog } = await loadPlan(targetConn, m.name, input.planId);
        let untilLsn: string | undefined;
        if (input.drain) {
          const c = await connectPg(targetConn, 'ferry-fallback');
          try {
            untilLsn = await readCurrentLsn(c);
          } finally {
            await c.end().catch(() => undefined);
          }
        }
        const hb = setInterval(() => ctx.heartbeat({ untilLsn }), deps.heartbeatMs ?? 5000);
        try {
          const p = await runReverse({
            migration: m.name,
            plan,
            catalog,
            target: targetConn,
            source: sourceConn,
            signal: ctx.cancellationSignal,
            ...(untilLsn && { untilLsn }),
            onProgress: (x) => ctx.heartbeat({ untilLsn, appliedLsn: x.appliedLsn }),
          });
          return { appliedLsn: p.appliedLsn, changes: p.changes, ...(untilLsn && { untilLsn }) };
        } finally {
          clearInterval(hb);
        }
      }, input.migration);
    },

    async dropReverseReplication(input: { migration: string }): Promise<{ slotDropped: boolean }> {
      return wrap(async () => {
        const { m, targetConn } = await endpoints(input.migration);
        const r = await dropReverse({ target: targetConn, migration: m.name });
        return { slotDropped: r.slotDropped };
      }, input.migration);
    },

    /** Take writes on the source again (the cutover's freeze undone). Idempotent. */
    async unfreezeSource(input: { migration: string; state: FreezeState }): Promise<void> {
      return wrap(async () => {
        const { sourceConn } = await endpoints(input.migration);
        await undoFreeze(sourceConn, input.state);
      }, input.migration);
    },

    /**
     * Full load only: has the source moved since the freeze? Compares each table's write counters with
     * those kept next to the pre-cutover dump. If it moved, the dump is the way back, and this says how.
     */
    async sourceSinceFreeze(input: {
      migration: string;
      restorePoint: { file: string; writesFile: string };
    }): Promise<{ unchanged: boolean; changedTables: string[]; restoreCommand: string }> {
      return wrap(async () => {
        const { sourceConn } = await endpoints(input.migration);
        const before = JSON.parse(await fs.readFile(input.restorePoint.writesFile, 'utf8')) as Record<
          string,
          number
        >;
        const now = await writeCounters(sourceConn);
        const changedTables = Object.keys({ ...before, ...now })
          .filter((t) => (before[t] ?? -1) !== (now[t] ?? -1))
          .sort();
        const restoreCommand =
          `pg_restore --clean --if-exists --single-transaction -h ${sourceConn.host} -p ${sourceConn.port} ` +
          `-U ${sourceConn.user} -d ${JSON.stringify(sourceConn.database)} ${JSON.stringify(input.restorePoint.file)}`;
        return { unchanged: changedTables.length === 0, changedTables, restoreCommand };
      }, input.migration);
    },

    /** Stop the application's writes on the target before going back (read-only, sessions ended). */
    async freezeTarget(input: { migration: string }): Promise<{ state: FreezeState; frozenAt: string }> {
      return wrap(async () => {
        const { targetConn } = await endpoints(input.migration);
        const h = await freezeWrites(targetConn, {
          databases: [targetConn.database],
          method: 'read-only',
          terminate: true,
        });
        return { state: h.state, frozenAt: h.frozenAt.toISOString() };
      }, input.migration);
    },

    /** Tell the database's owners and the migration's fallback contacts (ferry.yaml inventory). */
    async notifyPeople(input: {
      migration: string;
      kind: NotificationKind;
      phase: string;
      subject: string;
      text: string;
      data?: Record<string, unknown>;
    }): Promise<{ recipients: number }> {
      return wrap(async () => {
        const { cfg, m, source } = await migrationContext(deps.configPath, input.migration);
        const database = sourceDatabase(m, source);
        const inv = getInventoryFor(cfg, m.source, database);
        const to = [
          ...(inv?.owners ?? []),
          ...(input.kind === 'fallback' || input.kind === 'gate-escalation' ? m.fallback.contacts : []),
        ];
        await notifierFrom(cfg).notify({
          kind: input.kind,
          migration: m.name,
          database,
          ...(inv && { application: inv.application }),
          phase: input.phase,
          subject: input.subject,
          text: input.text,
          to,
          at: new Date().toISOString(),
          ...(input.data && { data: input.data }),
        });
        return { recipients: to.length };
      }, input.migration);
    },
  };
}

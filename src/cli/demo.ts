// `npm run demo`: the whole runbook on the embedded stack. A worker in this process, the sample shop
// application writing to the source throughout, the migration workflow from catalog to done with every
// gate approved as `demo-approver` (after printing what a real approver would type), the application
// switched to the target at the cutover, then the HTML report and a check that no order was lost.
import { Client } from 'pg';
import { FerryClient } from '../client';
import { getEndpoint, getMigration, loadConfig } from '../config';
import * as stack from '../dev/stack';
import { missingOrders, SampleAppWriter, type WriterStats } from '../dev/writer';
import { endpointConnInfo, pgClientConfig } from '../engine/connection';
import { createWorker, installRuntime } from '../worker';
import { migrationWorkflowId } from '../workflows/migration';
import type { MigrationStatus } from '../workflows/definitions';
import { renderMigration } from './format';
import { reportCommand } from './report';
import path from 'node:path';

export interface DemoOptions {
  scale?: number;
  json: boolean;
  approver: string;
  /** Seconds of the post-cutover watch (the application writes to the target, the source follows). */
  postCutoverSeconds?: number;
  out: (l: string) => void;
  err: (l: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDemo(o: DemoOptions): Promise<boolean> {
  // With --json, stdout carries only the final JSON line; narration goes to stderr.
  const say = o.json ? o.err : o.out;
  const t0 = Date.now();
  say(
    'ferry demo: starting the embedded stack (Temporal dev server, PostgreSQL 13 source, PostgreSQL 15 target)',
  );
  let info = await stack.up({ scale: o.scale, log: (m) => say(`  ${m}`) });
  say(`Temporal Web UI: ${info.uiUrl}`);
  installRuntime('WARN');
  const cfg = await loadConfig(info.configPath);
  const client = await FerryClient.connect(cfg.temporal);
  const id = migrationWorkflowId(stack.DEMO_MIGRATION);
  const ui = (wf: string) => `${info.uiUrl}/namespaces/${cfg.temporal.namespace}/workflows/${wf}`;

  // A demo interrupted earlier left its migration running: pick it up. Otherwise start from a fresh
  // sample: one that ended left a migrated (frozen) source, and a sample not just seeded may have been
  // migrated by a run whose history this Temporal server no longer has.
  const prev = await client.describe(id).catch(() => undefined);
  const resume = prev?.status.name === 'RUNNING';
  if (!resume && !info.seededNow) {
    say(
      prev
        ? `the last demo migration ended (${prev.status.name}): reseeding the source, emptying the target`
        : 'starting from a fresh sample: reseeding the source, emptying the target',
    );
    info = await stack.up({ scale: o.scale, reseed: true, resetTarget: true, log: (m) => say(`  ${m}`) });
  }

  const { worker, connection } = await createWorker({ configPath: info.configPath });
  const running = worker.run();
  const m = getMigration(cfg, stack.DEMO_MIGRATION);
  const src = await endpointConnInfo(cfg, getEndpoint(cfg, m.source));
  const tgt = await endpointConnInfo(cfg, getEndpoint(cfg, m.target));
  const app = { asTheApplication: true };
  const writer = new SampleAppWriter({
    source: pgClientConfig(src, 'shop-app', app),
    target: pgClientConfig(tgt, 'shop-app', app),
  });
  let stats: WriterStats | undefined;
  try {
    if (resume) say(`resuming the running workflow ${id}`);
    else {
      await client.startMigration({
        migration: stack.DEMO_MIGRATION,
        requestedBy: o.approver,
        postCutoverSeconds: o.postCutoverSeconds ?? 10,
      });
      say(`started workflow ${id}`);
    }
    say(`watch it: ${ui(id)}`);
    writer.start();
    say('the shop application places orders on the source the whole time (about 30 a second)');

    const st = await drive(client, id, writer, { ...o, configPath: info.configPath }, say);
    stats = await writer.stop();
    say(
      `the application committed ${stats.commits.source} orders on the source and ${stats.commits.target} on the ` +
        `target; ${stats.refused} writes were refused while frozen; longest gap between two commits ` +
        `${stats.longestGapMs} ms`,
    );

    // Nothing lost: every order committed on the source is on the target, and (reverse replication
    // during the post-cutover watch) every order committed on the target is on the source.
    const lost = await checkOrders(src, tgt, stats);
    const reportPath = await reportCommand(
      client,
      cfg,
      id,
      path.join(cfg.configDir, `report-${stack.DEMO_MIGRATION}.html`),
    );
    // The PoC's gate is decided in its child workflow; the others in the migration itself.
    const poc = st.poc ? await client.status(st.poc.workflowId).catch(() => undefined) : undefined;
    const approvals = [...(poc?.approvals ?? []), ...st.approvals].sort((a, b) => a.at.localeCompare(b.at));
    // The cutover's final re-check is the last word; without a cutover, CDC's last validation pass.
    const mismatches = st.cutover?.validation?.mismatches ?? st.cdc?.validation?.mismatches ?? 0;
    const ok =
      st.phase === 'done' &&
      mismatches === 0 &&
      lost.missingOnTarget.length === 0 &&
      lost.missingOnSource.length === 0 &&
      stats.errors === 0;
    if (o.json) {
      o.out(
        JSON.stringify({
          ok,
          workflowId: id,
          phase: st.phase,
          phases: Object.fromEntries(Object.entries(st.phases).map(([p, v]) => [p, v?.seconds ?? null])),
          cutover: st.cutover && {
            writeFreezeMs: st.cutover.writeFreezeMs,
            slaMaxDowntimeMs: st.cutover.slaMaxDowntimeMs,
            withinSla: st.cutover.withinSla,
            method: st.cutover.method,
            sequences: st.cutover.sequences,
            steps: st.cutover.steps.map((s) => s.name),
          },
          validation: {
            mismatches,
            pending: st.cutover?.validation?.pending ?? null,
            passes: st.cdc?.validation?.passes ?? null,
            validated: st.cdc?.validation?.validated ?? null,
            tables: st.cdc?.validation?.tables ?? null,
          },
          writer: {
            sourceCommits: stats.commits.source,
            targetCommits: stats.commits.target,
            refusedWhileFrozen: stats.refused,
            longestGapMs: stats.longestGapMs,
            errors: stats.errors,
            ...(stats.lastError && { lastError: stats.lastError }),
            missingOnTarget: lost.missingOnTarget.length,
            missingOnSource: lost.missingOnSource.length,
          },
          approvals: approvals.map((a) => ({ gate: a.gate, decision: a.decision, by: a.by, at: a.at })),
          scale: info.seededScale,
          report: reportPath,
          uiUrl: ui(id),
          ...(st.error && { error: st.error }),
          totalSeconds: (Date.now() - t0) / 1000,
        }),
      );
    } else {
      o.out(renderMigration(st));
      o.out(
        `orders lost: ${lost.missingOnTarget.length} on the target, ${lost.missingOnSource.length} back on the source`,
      );
      o.out(`report: ${reportPath}`);
      o.out(`see it in the Temporal Web UI: ${ui(id)}`);
      o.out('the stack keeps running; stop it with `npx ferry dev down`');
    }
    return ok;
  } finally {
    if (!stats) await writer.stop().catch(() => undefined);
    await client.close();
    worker.shutdown();
    await running;
    await connection.close();
  }
}

/**
 * Follow the migration to its end: print each phase, approve each gate as it opens (printing the command
 * a real approver types), switch the application to the target once the cutover is done, and stop it
 * half way through the post-cutover watch so the source can catch up on its last orders.
 */
async function drive(
  client: FerryClient,
  id: string,
  writer: SampleAppWriter,
  o: DemoOptions & { configPath: string },
  say: (l: string) => void,
): Promise<MigrationStatus> {
  let phase = '';
  let postCutoverAt: number | undefined;
  let stopped = false;
  const watchMs = (o.postCutoverSeconds ?? 10) * 1000;
  const pocId = `poc-${stack.DEMO_MIGRATION}`;
  for (;;) {
    const desc = await client.describe(id);
    const st = await client.migrationStatus(id).catch(() => undefined);
    if (st && st.phase !== phase) {
      phase = st.phase;
      const detail =
        phase === 'validate' && st.cdc?.lag ? ` (CDC lag ${st.cdc.lag.lagSeconds.toFixed(1)} s)` : '';
      say(`phase ${phase}${detail}`);
    }
    if (desc.status.name !== 'RUNNING') return client.migrationStatus(id);
    if (!st) {
      await sleep(300);
      continue;
    }
    // The gates: assessment and cutover on the migration itself, poc on its PoC child.
    const poc = st.phase === 'poc' ? await client.status(pocId).catch(() => undefined) : undefined;
    const gate = st.pendingGate
      ? { workflowId: id, name: st.pendingGate.name }
      : poc?.pendingGate && { workflowId: pocId, name: poc.pendingGate.name };
    if (gate) {
      say(`gate "${gate.name}" waits for an approver. A real approver runs:`);
      say(
        `  npx ferry approve ${gate.workflowId} --gate ${gate.name} --by <approver> --reason "<why>" --config ${o.configPath}`,
      );
      const rec = await client.decide(gate.workflowId, 'approve', {
        gate: gate.name,
        by: o.approver,
        reason: `auto-approved by npm run demo`,
      });
      say(`  approved by ${rec.by} at ${rec.at}`);
    }
    if (st.cutover?.switchedAt && writer.current === 'source') {
      writer.switchTo('target');
      say(
        `cutover: source frozen for ${st.cutover.writeFreezeMs} ms (SLA ${st.cutover.slaMaxDowntimeMs ?? '-'} ms); ` +
          'the application now writes to the target, and reverse replication keeps the source current',
      );
    }
    if (st.phase === 'post-cutover') {
      postCutoverAt ??= Date.now();
      if (Date.now() - postCutoverAt > watchMs / 2 && !stopped) {
        stopped = true;
        await writer.stop();
        say('the application stops writing; the post-cutover watch lets the source catch up');
      }
    }
    await sleep(300);
  }
}

async function checkOrders(
  src: Parameters<typeof pgClientConfig>[0],
  tgt: Parameters<typeof pgClientConfig>[0],
  stats: WriterStats,
): Promise<{ missingOnTarget: string[]; missingOnSource: string[] }> {
  const s = new Client(pgClientConfig(src));
  const t = new Client(pgClientConfig(tgt));
  await s.connect();
  await t.connect();
  try {
    return {
      missingOnTarget: await missingOrders(t, stats.orders.source),
      missingOnSource: await missingOrders(s, stats.orders.target),
    };
  } finally {
    await s.end();
    await t.end();
  }
}

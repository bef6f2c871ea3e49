// `npm run demo`: the embedded stack, a worker in this process, the PoC of the sample database,
// an automatic approval (after printing what a real approver would type), the summary and UI link.
import { FerryClient, fullLoadWorkflowId, pocWorkflowId } from '../client';
import { loadConfig } from '../config';
import * as stack from '../dev/stack';
import { FerryError } from '../errors';
import { createWorker, installRuntime } from '../worker';
import { follow } from './index';
import { renderFullLoad, renderStatus } from './format';
import type { FullLoadStatus } from '../workflows/definitions';

export interface DemoOptions {
  scale?: number;
  json: boolean;
  approver: string;
  out: (l: string) => void;
  err: (l: string) => void;
}

export async function runDemo(o: DemoOptions): Promise<boolean> {
  // With --json, stdout carries only the final JSON line; narration goes to stderr.
  const say = o.json ? o.err : o.out;
  const t0 = Date.now();
  let loadSeconds = 0;
  say(
    'ferry demo: starting the embedded stack (Temporal dev server, PostgreSQL 13 source, PostgreSQL 15 target)',
  );
  const info = await stack.up({ scale: o.scale, log: (m) => say(`  ${m}`) });
  say(`Temporal Web UI: ${info.uiUrl}`);

  installRuntime('WARN');
  const cfg = await loadConfig(info.configPath);
  const { worker, connection } = await createWorker({ configPath: info.configPath });
  const running = worker.run();
  const client = await FerryClient.connect(cfg.temporal);
  const workflowId = pocWorkflowId(stack.DEMO_MIGRATION);
  try {
    try {
      await client.startPoc({ migration: stack.DEMO_MIGRATION });
      say(`started workflow ${workflowId}`);
    } catch (e) {
      // A demo interrupted at the gate left its workflow waiting: pick it up instead of failing.
      if (!(e instanceof FerryError)) throw e;
      say(`resuming the running workflow ${workflowId}`);
    }
    const url = `${info.uiUrl}/namespaces/${cfg.temporal.namespace}/workflows/${workflowId}`;
    say(`watch it: ${url}`);
    const atGate = await follow(client, workflowId, { untilGate: true, print: say });
    if (atGate?.pendingGate) {
      say(`the PoC waits at gate "poc". A real approver runs:`);
      say(
        `  npx ferry approve ${workflowId} --gate poc --by <approver> --reason "PoC checked" --config ${info.configPath}`,
      );
      const rec = await client.decide(workflowId, 'approve', {
        gate: 'poc',
        by: o.approver,
        reason: 'auto-approved by npm run demo',
      });
      say(`approved by ${rec.by} at ${rec.at}`);
    }
    const res = await client.result(workflowId);
    let ok = res.outcome === 'approved' && !!res.status.verify?.ok;

    // The PoC approved, the full load moves the database with Ferry's own engine.
    let load: FullLoadStatus | undefined;
    if (ok) {
      const loadId = fullLoadWorkflowId(stack.DEMO_MIGRATION);
      say(
        `full load: starting workflow ${loadId} (${info.uiUrl}/namespaces/${cfg.temporal.namespace}/workflows/${loadId})`,
      );
      const t1 = Date.now();
      await client.startFullLoad({ migration: stack.DEMO_MIGRATION, requestedBy: o.approver });
      let last = '';
      for (;;) {
        const desc = await client.describe(loadId);
        const st = await client.fullLoadStatus(loadId).catch(() => undefined);
        const line = st
          ? `  ${st.phase}: ${st.totals.completed}/${st.totals.tables} tables, ${st.totals.rows} rows`
          : '';
        if (line && line !== last) say(line);
        last = line;
        if (desc.status.name !== 'RUNNING') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      load = await client.fullLoadStatus(loadId);
      loadSeconds = (Date.now() - t1) / 1000;
      // Validated after the load (the stack's task settings enable it): a mismatch fails the demo.
      ok = load.phase === 'completed' && (load.validation?.mismatches ?? 0) === 0;
    }
    if (o.json) {
      const timings = Object.fromEntries(res.status.steps.map((s) => [s.name, s.seconds ?? null]));
      o.out(
        JSON.stringify({
          ok,
          workflowId,
          outcome: res.outcome,
          scale: info.seededScale,
          sourceBytes: res.status.source?.databaseSize,
          dumpBytes: res.status.dump?.bytes,
          tables: res.status.verify?.tables,
          checksummed: res.status.verify?.checksummed,
          verified: res.status.verify?.ok,
          timings,
          estimate: res.status.estimate,
          fallbackPlanFile: res.status.fallbackPlanFile,
          fullLoad: load && {
            phase: load.phase,
            tables: load.totals.tables,
            rows: load.totals.rows,
            bytes: load.totals.bytes,
            seconds: loadSeconds,
            postData: load.postData,
            assessment: load.assessment && { blocked: load.assessment.blocked, ...load.assessment.counts },
            validation: load.validation && {
              enabled: load.validation.enabled,
              mismatches: load.validation.mismatches,
              pending: load.validation.pending,
              validated: load.validation.tables.filter((t) => t.state === 'Validated').length,
              tables: load.validation.tables.length,
            },
            error: load.error,
          },
          uiUrl: url,
          totalSeconds: (Date.now() - t0) / 1000,
        }),
      );
    } else {
      o.out(renderStatus(workflowId, res.status));
      if (load) o.out(renderFullLoad(fullLoadWorkflowId(stack.DEMO_MIGRATION), load, 10));
      o.out(`see it in the Temporal Web UI: ${url}`);
      o.out('the stack keeps running; stop it with `npx ferry dev down`');
    }
    return ok;
  } finally {
    await client.close();
    worker.shutdown();
    await running;
    await connection.close();
  }
}

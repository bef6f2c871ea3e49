// The `ferry` command line: dev stack, worker, PoC, status, approvals, list, demo.
// Command names and --json outputs are an interface scripts call: add to them, never rename.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { defaultPayloadConverter } from '@temporalio/common';
import { FerryClient, cdcWorkflowId, fullLoadWorkflowId, pocWorkflowId } from '../client';
import { loadConfig } from '../config';
import * as stack from '../dev/stack';
import { FerryError } from '../errors';
import type { FullLoadStatus, PocInput, PocStatus } from '../workflows/definitions';
import { bytes, lagLine, renderCdc, renderFullLoad, renderMigration, renderStatus } from './format';
import { registerCatalogCommands } from './catalog';
import type { CdcOptions, TemporalConfig } from '../config';

type Out = (line: string) => void;
const out: Out = (l) => process.stdout.write(l + '\n');
const err: Out = (l) => process.stderr.write(l + '\n');

/** --config, else $FERRY_CONFIG, else ./ferry.yaml, else the embedded stack's .ferry/dev/ferry.yaml. */
export function resolveConfigPath(flag?: string): string {
  if (flag) return path.resolve(flag);
  if (process.env.FERRY_CONFIG) return path.resolve(process.env.FERRY_CONFIG);
  const local = path.resolve('ferry.yaml');
  if (existsSync(local)) return local;
  const dev = stack.stackPaths().config;
  if (existsSync(dev)) return dev;
  return local; // loadConfig explains what to do when it is missing
}

async function clientFor(configFlag?: string): Promise<FerryClient> {
  const cfg = await loadConfig(resolveConfigPath(configFlag));
  return FerryClient.connect(cfg.temporal);
}

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw new FerryError('CONFIG_INVALID', `${name} must be a whole number ≥ 1, got "${v}"`);
    }
    return n;
  };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Follow a workflow until it finishes or reaches a gate, printing each step transition once.
 * Returns the last status seen.
 */
export async function follow(
  client: FerryClient,
  workflowId: string,
  opts: { untilGate?: boolean; print?: Out; pollMs?: number },
): Promise<PocStatus | undefined> {
  const print = opts.print ?? (() => undefined);
  const seen = new Map<string, string>();
  let last: PocStatus | undefined;
  let lastProgress = '';
  let lastProgressAt = 0;
  for (;;) {
    const desc = await client.describe(workflowId);
    // Progress of long steps comes from the running activity's last heartbeat.
    for (const a of desc.raw.pendingActivities ?? []) {
      const payload = a.heartbeatDetails?.payloads?.[0];
      if (!payload) continue;
      const line = progressLine(a.activityType?.name ?? '', defaultPayloadConverter.fromPayload(payload));
      if (line && line !== lastProgress && Date.now() - lastProgressAt >= 2000) {
        print(`  ${line}`);
        lastProgress = line;
        lastProgressAt = Date.now();
      }
    }
    try {
      last = await client.status(workflowId);
    } catch {
      // The first workflow task may not have run yet; a closed workflow still answers queries.
    }
    if (last) {
      for (const s of last.steps) {
        const key = `${s.status}`;
        if (seen.get(s.name) !== key && s.status !== 'pending') {
          seen.set(s.name, key);
          const t = s.seconds !== undefined ? ` (${s.seconds.toFixed(1)} s)` : '';
          print(`  ${s.name}: ${s.status}${t}${s.detail && s.status !== 'running' ? ` — ${s.detail}` : ''}`);
        }
      }
      if (opts.untilGate && last.pendingGate) return last;
    }
    if (desc.status.name !== 'RUNNING') return last;
    await sleep(opts.pollMs ?? 500);
  }
}

/** One line of progress from an activity's heartbeat details, or undefined if it has none. */
export function progressLine(activity: string, details: unknown): string | undefined {
  const d = details as { bytes?: number; done?: number; total?: number } | undefined;
  if (!d) return undefined;
  if (activity === 'dumpSource' && typeof d.bytes === 'number') return `dump: ${bytes(d.bytes)} written`;
  if (typeof d.done === 'number' && typeof d.total === 'number' && d.total > 0) {
    const what = activity === 'verifyScratch' ? 'tables verified' : 'items restored';
    return `${activity === 'verifyScratch' ? 'verify' : 'restore'}: ${d.done}/${d.total} ${what} (${Math.floor((100 * d.done) / d.total)}%)`;
  }
  return undefined;
}

export function buildProgram(): Command {
  const program = new Command('ferry')
    .description('Migrate PostgreSQL to Aurora PostgreSQL (or any PostgreSQL) as durable Temporal workflows')
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const dev = program
    .command('dev')
    .description('the embedded stack: Temporal dev server + PostgreSQL 13 and 15');
  dev
    .command('up')
    .description('start (or reuse) the stack on loopback and write .ferry/dev/ferry.yaml')
    .option('--scale <n>', 'size of the sample database (1 ≈ 30 MiB)', positiveInt('--scale'))
    .option('--reseed', 'drop and reseed the sample database')
    .option('--json', 'print the stack description as JSON')
    .action(async (o: { scale?: number; reseed?: boolean; json?: boolean }) => {
      const info = await stack.up({ scale: o.scale, reseed: o.reseed, log: o.json ? err : out });
      if (o.json) out(JSON.stringify(info));
      else {
        out(`ready. config: ${info.configPath}`);
        out(`Temporal: ${info.temporalAddress}   Web UI: ${info.uiUrl}`);
        out(`source PostgreSQL 13: 127.0.0.1:${info.source.port}/${info.source.database}`);
        out(`target PostgreSQL 15: 127.0.0.1:${info.target.port}/${info.target.database}`);
      }
    });
  dev
    .command('down')
    .description('stop everything `dev up` started (data is kept unless --purge)')
    .option('--purge', 'also delete .ferry/dev (databases, Temporal history, passwords)')
    .action(async (o: { purge?: boolean }) => {
      const stopped = await stack.down(undefined, o.purge);
      out(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
    });
  dev
    .command('status')
    .description('what of the embedded stack runs')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      const st = await stack.status();
      if (o.json) out(JSON.stringify(st));
      else
        for (const c of st)
          out(
            `${c.running ? 'running' : 'stopped'}  ${c.name}  ${c.address ?? ''}  ${c.pid ? `pid ${c.pid}` : ''}  ${c.detail ?? ''}`,
          );
    });

  program
    .command('worker')
    .description('run a worker: all workflows and activities on the task queue')
    .option('--config <file>', 'ferry.yaml')
    .option('--task-queue <name>', 'overrides temporal.taskQueue')
    .option(
      '--max-activities <n>',
      'activities this worker runs at once (the "instance class"; default: the largest provision.concurrency in ferry.yaml, 16)',
      positiveInt('--max-activities'),
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on http://<host>:<port>/metrics (0: any free port; default $FERRY_METRICS_PORT, else off)',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535) {
          throw new FerryError('CONFIG_INVALID', `--metrics-port must be a port number 0-65535, got "${v}"`);
        }
        return n;
      },
    )
    .action(
      async (o: { config?: string; taskQueue?: string; maxActivities?: number; metricsPort?: number }) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the worker's native runtime loads only for this command
        const { runWorker } = require('../worker') as typeof import('../worker');
        const configPath = resolveConfigPath(o.config);
        err(`ferry worker: config ${configPath}`);
        await runWorker({
          configPath,
          taskQueue: o.taskQueue,
          maxConcurrentActivityTaskExecutions: o.maxActivities,
          ...(o.metricsPort !== undefined && { metricsPort: o.metricsPort }),
        });
      },
    );

  program
    .command('poc <migration>')
    .description('run the proof of concept: pg_dump, pg_restore into a scratch database, verify, approve')
    .option('--config <file>', 'ferry.yaml')
    .option('--schema <name>', 'limit the scope to this schema (repeatable)', collect, [])
    .option('--table <schema.table>', 'limit the scope to this table (repeatable)', collect, [])
    .option(
      '--size-cap-mb <n>',
      'tables larger than this are counted but not checksummed',
      positiveInt('--size-cap-mb'),
    )
    .option('--wait', 'follow progress until the approval gate and the end')
    .option('--json', 'print JSON (the final line is the result or the started workflow)')
    .action(
      async (
        migration: string,
        o: {
          config?: string;
          schema: string[];
          table: string[];
          sizeCapMb?: number;
          wait?: boolean;
          json?: boolean;
        },
      ) => {
        const cfg = await loadConfig(resolveConfigPath(o.config));
        const client = await FerryClient.connect(cfg.temporal);
        try {
          const input: PocInput = { migration };
          if (o.schema.length || o.table.length) input.scope = { schemas: o.schema, tables: o.table };
          if (o.sizeCapMb) input.sizeCapMb = o.sizeCapMb;
          if (!cfg.migrations.some((m) => m.name === migration)) {
            throw new FerryError(
              'MIGRATION_UNKNOWN',
              `${cfg.configPath}: migration "${migration}" is not defined; defined: ${cfg.migrations.map((m) => m.name).join(', ') || 'none'}`,
            );
          }
          const h = await client.startPoc(input);
          if (!o.json) out(`started ${h.workflowId}; follow with \`ferry status ${h.workflowId}\``);
          if (!o.wait) {
            if (o.json) out(JSON.stringify({ workflowId: h.workflowId, runId: h.firstExecutionRunId }));
            return;
          }
          const st = await follow(client, h.workflowId, { untilGate: true, print: o.json ? err : out });
          if (st?.pendingGate) {
            (o.json ? err : out)(
              `waiting for approval: ferry approve ${h.workflowId} --gate ${st.pendingGate.name} --by <approver> --reason "..."  (approvers: ${st.pendingGate.approvers.join(', ')})`,
            );
          }
          const res = await client.result(h.workflowId);
          if (o.json) out(JSON.stringify({ workflowId: h.workflowId, ...res }));
          else out(renderStatus(h.workflowId, res.status));
        } finally {
          await client.close();
        }
      },
    );

  program
    .command('plan <migration>')
    .description('compile the DMS table mapping and task settings against the live source: what moves where')
    .option('--config <file>', 'ferry.yaml')
    .option('--json', 'print the plan as JSON')
    .addOption(
      new Option(
        '--engine <engine>',
        "plan for this engine (default: the migration's); aws-dms prints the AWS requests instead",
      ).choices(['native', 'aws-dms']),
    )
    .option(
      '--dry-run',
      'send nothing (a plan never does): with --engine aws-dms, list the exact AWS requests',
    )
    .action(
      async (
        migration: string,
        o: { config?: string; json?: boolean; engine?: string; dryRun?: boolean },
      ) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- keeps `ferry --help` fast
        const { planMigration, planDms } = require('./plan') as typeof import('./plan');
        const configPath = resolveConfigPath(o.config);
        if (
          o.engine === 'aws-dms' ||
          (o.engine === undefined &&
            (await loadConfig(configPath)).migrations.find((m) => m.name === migration)?.engine === 'aws-dms')
        ) {
          const requests = await planDms(configPath, migration);
          out(o.json ? JSON.stringify(requests.plan) : requests.text);
          return;
        }
        const plan = await planMigration(configPath, migration);
        if (o.json) out(JSON.stringify(plan.plan));
        else out(plan.explain);
      },
    );

  const migrate = program
    .command('migrate')
    .description('move the data: full load, then change data capture until cutover');
  migrate
    .command('start <migration>')
    .description(
      'start the migration workflow of a migration of ferry.yaml: full-load, full-load-and-cdc or cdc (its migrationType)',
    )
    .option('--config <file>', 'ferry.yaml')
    .option('--wait', 'follow per-table progress until the load ends')
    .option(
      '--tables-per-child <n>',
      'tables per child workflow (history size bound)',
      positiveInt('--tables-per-child'),
    )
    .option('--by <who>', 'your identity, recorded in the audit trail (default: your OS user)')
    .option('--skip-assessment', 'do not run the premigration assessment (recorded in the audit trail)')
    .option('--gate-timeout <duration>', 'how long the assessment gate waits for an approver', '7 days')
    .option('--json', 'print JSON; the final line is the status')
    .action(
      async (
        migration: string,
        o: {
          config?: string;
          wait?: boolean;
          tablesPerChild?: number;
          json?: boolean;
          by?: string;
          skipAssessment?: boolean;
          gateTimeout: string;
        },
      ) => {
        const cfg = await loadConfig(resolveConfigPath(o.config));
        const m = cfg.migrations.find((x) => x.name === migration);
        if (!m) {
          throw new FerryError(
            'MIGRATION_UNKNOWN',
            `${cfg.configPath}: migration "${migration}" is not defined; defined: ${cfg.migrations.map((x) => x.name).join(', ') || 'none'}`,
          );
        }
        if (m.engine !== 'native') {
          throw new FerryError(
            'CONFIG_INVALID',
            `${cfg.configPath}: migration "${migration}" uses engine ${m.engine}; this release runs the native engine only`,
          );
        }
        if (m.migrationType !== 'full-load') {
          await startCdcCommand(cfg.temporal, m.name, m.migrationType, m.cdc, o);
          return;
        }
        const client = await FerryClient.connect(cfg.temporal);
        try {
          const h = await client.startFullLoad({
            migration,
            tablesPerChild: o.tablesPerChild,
            ...runbookOptions(o),
          });
          const say = o.json ? err : out;
          say(`started ${h.workflowId}; follow with \`ferry status ${h.workflowId}\``);
          if (!o.wait) {
            if (o.json) out(JSON.stringify({ workflowId: h.workflowId, runId: h.firstExecutionRunId }));
            return;
          }
          let lastLine = '';
          for (;;) {
            const desc = await client.describe(h.workflowId);
            const st = await client.fullLoadStatus(h.workflowId).catch(() => undefined);
            if (st) {
              const t = st.totals;
              const line = `  ${st.phase}: ${t.completed}/${t.tables} tables, ${t.segmentsDone}/${t.segments} segments, ${t.rows.toLocaleString('en-US')} rows, ${bytes(t.bytes)}`;
              if (line !== lastLine) say(line);
              lastLine = line;
            }
            if (desc.status.name !== 'RUNNING') break;
            await sleep(1000);
          }
          const st = await client.fullLoadStatus(h.workflowId);
          if (o.json) out(JSON.stringify({ workflowId: h.workflowId, ok: st.phase === 'completed', ...st }));
          else out(renderFullLoad(h.workflowId, st));
          if (st.phase !== 'completed') process.exitCode = 1;
        } finally {
          await client.close();
        }
      },
    );

  migrate
    .command('run <migration>')
    .description(
      'the whole runbook as one workflow (migration-<name>): assess, PoC, load, CDC, validate, gate cutover, ' +
        'cutover, post-cutover watch; follow it with `ferry status`, decide with `ferry approvals`',
    )
    .option('--config <file>', 'ferry.yaml')
    .option('--by <who>', 'your identity, recorded in the audit trail (default: your OS user)')
    .option('--skip-poc', 'no proof of concept (recorded in the audit trail)')
    .option(
      '--post-cutover-seconds <n>',
      'how long fallback by reverse replication stays open',
      positiveInt('--post-cutover-seconds'),
    )
    .option('--json', 'print the started workflow as JSON')
    .action(
      async (
        migration: string,
        o: { config?: string; by?: string; skipPoc?: boolean; postCutoverSeconds?: number; json?: boolean },
      ) => {
        const client = await clientFor(o.config);
        try {
          const h = await client.startMigration({
            migration,
            ...runbookOptions(o),
            ...(o.skipPoc && { skipPoc: true }),
            ...(o.postCutoverSeconds && { postCutoverSeconds: o.postCutoverSeconds }),
          });
          if (o.json) out(JSON.stringify({ workflowId: h.workflowId, runId: h.firstExecutionRunId }));
          else
            out(
              `started ${h.workflowId}; follow with \`ferry status ${h.workflowId}\`, gates with \`ferry approvals\``,
            );
        } finally {
          await client.close();
        }
      },
    );

  for (const action of ['pause', 'resume', 'stop'] as const) {
    const cmd = migrate
      .command(`${action} <migration>`)
      .description(
        action === 'stop'
          ? 'stop CDC after the batch in flight; the slot is kept (and reported) unless --drop-slot'
          : `${action} CDC of a migration (the slot keeps the changes meanwhile)`,
      )
      .requiredOption('--by <who>', 'your identity; recorded in history')
      .option('--reason <text>', 'why; recorded in history')
      .option('--config <file>', 'ferry.yaml')
      .option('--json');
    if (action === 'stop') {
      cmd.option('--drop-slot', 'also drop the replication slot and publication: CDC can never resume');
      cmd.option('--wait', 'wait until CDC has stopped and print its final status');
    }
    cmd.action(
      async (
        migration: string,
        o: {
          by: string;
          reason?: string;
          config?: string;
          json?: boolean;
          dropSlot?: boolean;
          wait?: boolean;
        },
      ) => {
        const client = await clientFor(o.config);
        try {
          const id = cdcWorkflowId(migration);
          let st = await client.controlCdc(id, action, {
            by: o.by,
            ...(o.reason && { reason: o.reason }),
            ...(action === 'stop' && { dropSlot: !!o.dropSlot }),
          });
          if (o.wait) {
            await client
              .handle(id)
              .result()
              .catch(() => undefined);
            st = await client.cdcStatus(id);
          }
          if (o.json) out(JSON.stringify(st));
          else out(renderCdc(st));
        } finally {
          await client.close();
        }
      },
    );
  }

  program
    .command('assess <migration>')
    .description(
      'premigration assessment now, against both endpoints: connectivity, replication settings, privileges, ' +
        'data types and Aurora support, target state, mapping; exit code 2 when a blocker is found',
    )
    .option('--config <file>', 'ferry.yaml')
    .option(
      '--json',
      'last line: {"blocked":bool,"findings":[{"id","severity","object","message","advice"}]}',
    )
    .option('--last', "do not assess: print the latest stored run (a workflow's or an earlier command's)")
    .action(async (migration: string, o: { config?: string; json?: boolean; last?: boolean }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
      const mon = require('./monitor') as typeof import('./monitor');
      const r = await mon.assessCommand(resolveConfigPath(o.config), migration, { last: o.last });
      if (o.json) {
        const findings = r.findings.map(({ id, severity, object, message, advice }) => ({
          id,
          severity,
          object,
          message,
          advice,
        }));
        out(JSON.stringify({ blocked: r.blocked, findings }));
      } else out(mon.renderAssessment(migration, r));
      if (r.blocked) process.exitCode = 2;
    });

  program
    .command('validate <migration>')
    .description(
      'validate now (row counts and chunked checksums per table, the mapping applied) and list the states ' +
        "and mismatching keys with both sides' values; exit code 2 when a row mismatches",
    )
    .option('--config <file>', 'ferry.yaml')
    .option('--table <schema.table>', 'only this table (repeatable)', collect, [])
    .option('--pending', 're-check only the pending and mismatched keys recorded by earlier passes')
    .option('--report', 'do not validate: print what the last passes recorded')
    .option('--limit <n>', 'failures listed at most', positiveInt('--limit'), 100)
    .option('--json')
    .action(
      async (
        migration: string,
        o: {
          config?: string;
          table: string[];
          pending?: boolean;
          report?: boolean;
          limit: number;
          json?: boolean;
        },
      ) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
        const mon = require('./monitor') as typeof import('./monitor');
        const r = await mon.validateCommand(resolveConfigPath(o.config), migration, {
          tables: o.table,
          pending: o.pending,
          reportOnly: o.report,
          limit: o.limit,
        });
        if (o.json) out(JSON.stringify(r));
        else out(mon.renderValidation(r));
        if (r.totals.mismatches > 0) process.exitCode = 2;
      },
    );

  program
    .command('changes <migration>')
    .description(
      'the change journal of a CDC migration (cdc.journal in ferry.yaml): LSN, commit time, operation and key ' +
        'of each applied change',
    )
    .option('--config <file>', 'ferry.yaml')
    .option('--table <name>', 'source schema.table, target name, or bare table name')
    .option('--since <time>', 'ISO time or relative (15m, 2h, 1 day)')
    .option('--until <time>', 'ISO time or relative')
    .option('--operation <op>', 'insert, update, delete or truncate')
    .option(
      '--limit <n>',
      'rows at most (with --since: the first ones, else the latest)',
      positiveInt('--limit'),
      100,
    )
    .option('--json')
    .action(
      async (
        migration: string,
        o: {
          config?: string;
          table?: string;
          since?: string;
          until?: string;
          operation?: string;
          limit: number;
          json?: boolean;
        },
      ) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
        const mon = require('./monitor') as typeof import('./monitor');
        const r = await mon.changesCommand(resolveConfigPath(o.config), migration, o);
        if (o.json) out(JSON.stringify(r.rows));
        else out(mon.renderChanges(migration, r));
      },
    );

  program
    .command('logs <migration>')
    .description(
      "source and target server log lines of a window: errors and Ferry's sessions; when a log cannot be " +
        'read, why and how to fetch it',
    )
    .option('--config <file>', 'ferry.yaml')
    .option('--since <time>', 'ISO time or relative (15m, 2h, 1 day)', '1h')
    .option('--until <time>', 'ISO time or relative')
    .option('--errors-only', 'only ERROR, FATAL, PANIC and WARNING lines')
    .option('--max-lines <n>', 'lines per server at most (the latest)', positiveInt('--max-lines'), 200)
    .option('--json')
    .action(
      async (
        migration: string,
        o: {
          config?: string;
          since: string;
          until?: string;
          errorsOnly?: boolean;
          maxLines: number;
          json?: boolean;
        },
      ) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
        const mon = require('./monitor') as typeof import('./monitor');
        const r = await mon.logsCommand(resolveConfigPath(o.config), migration, o);
        if (o.json) out(JSON.stringify(r));
        else out(mon.renderLogs(r));
      },
    );

  program
    .command('audit <migration>')
    .description(
      'the audit trail: approvals, overrides, pauses, stops and config changes, with who, when, why',
    )
    .option('--config <file>', 'ferry.yaml')
    .option('--json')
    .action(async (migration: string, o: { config?: string; json?: boolean }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
      const mon = require('./monitor') as typeof import('./monitor');
      const rows = await mon.auditCommand(resolveConfigPath(o.config), migration);
      if (o.json) out(JSON.stringify(rows));
      else out(mon.renderAudit(migration, rows));
    });

  program
    .command('slots')
    .description(
      "Ferry's replication slots on each source: WAL kept, and whether a running CDC workflow uses them",
    )
    .option('--config <file>', 'ferry.yaml')
    .option('--json')
    .action(async (o: { config?: string; json?: boolean }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads pg only for this command
      const { slotReports } = require('./slots') as typeof import('./slots');
      const { slots, warnings } = await slotReports(resolveConfigPath(o.config));
      for (const w of warnings) err(`warning: ${w}`);
      if (o.json) {
        out(JSON.stringify(slots));
        return;
      }
      if (!slots.length) out('no Ferry replication slots on the sources');
      for (const s of slots) {
        out(
          `${s.endpoint}/${s.database} ${s.slot}: ${s.active ? 'streaming' : 'idle'}, retains ${bytes(s.retainedWalBytes)} of WAL` +
            `${s.migration ? `, migration ${s.migration}` : ''}${s.workflow ? ` (CDC workflow ${s.workflow})` : ''}` +
            (s.abandoned
              ? `\n  ABANDONED: no running CDC workflow uses it; resume with \`ferry migrate start ${s.migration ?? '<migration>'}\` ` +
                `(migrationType cdc) or drop it: SELECT pg_drop_replication_slot('${s.slot}')`
              : ''),
        );
      }
    });

  program
    .command('status <workflow-id>')
    .description('phase, step timings, findings and the pending gate of a workflow')
    .option('--config <file>', 'ferry.yaml')
    .option('--json')
    .action(async (id: string, o: { config?: string; json?: boolean }) => {
      const client = await clientFor(o.config);
      try {
        const desc = await client.describe(id);
        if (desc.type === 'migration') {
          const mst = await client.migrationStatus(id);
          if (o.json) out(JSON.stringify({ ...mst, type: desc.type, execution: desc.status.name }));
          else out(`${renderMigration(mst)}\n  execution: ${desc.status.name}`);
          return;
        }
        if (desc.type === 'cdcMigration') {
          const cst = await client.cdcStatus(id);
          if (o.json) {
            const tableStatistics = await client.tableStatistics(id);
            out(JSON.stringify({ ...cst, type: desc.type, execution: desc.status.name, tableStatistics }));
          } else out(`${renderCdc(cst)}\n  execution: ${desc.status.name}`);
          return;
        }
        const st = desc.type === 'fullLoad' ? await client.fullLoadStatus(id) : await client.status(id);
        if (o.json) {
          const extra = desc.type === 'fullLoad' ? { tableStatistics: await client.tableStatistics(id) } : {};
          out(
            JSON.stringify({ workflowId: id, type: desc.type, execution: desc.status.name, ...st, ...extra }),
          );
        } else if (desc.type === 'fullLoad')
          out(`${renderFullLoad(id, st as FullLoadStatus)}\n  execution: ${desc.status.name}`);
        else out(`${renderStatus(id, st as PocStatus)}\n  execution: ${desc.status.name}`);
      } finally {
        await client.close();
      }
    });

  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(`${decision} <workflow-id>`)
      .description(`${decision} the pending gate of a workflow (recorded with who, when, why)`)
      .requiredOption('--gate <name>', 'the gate, e.g. poc')
      .requiredOption('--by <who>', 'your identity; must be an approver of the migration')
      .option('--reason <text>', 'why; recorded in history')
      .option('--config <file>', 'ferry.yaml')
      .option('--json')
      .action(
        async (
          id: string,
          o: { gate: string; by: string; reason?: string; config?: string; json?: boolean },
        ) => {
          const client = await clientFor(o.config);
          try {
            const rec = await client.decide(id, decision, { gate: o.gate, by: o.by, reason: o.reason });
            if (o.json) out(JSON.stringify(rec));
            else out(`${rec.gate}: ${rec.decision} by ${rec.by} at ${rec.at}`);
          } finally {
            await client.close();
          }
        },
      );
  }

  program
    .command('fallback <workflow-id>')
    .description(
      'go back: before the cutover, stop and drop the slot (the source was never touched); after it, freeze the ' +
        'target, drain the reverse replication into the source and let the source take writes again',
    )
    .requiredOption('--by <who>', 'your identity; must be an approver of the migration')
    .requiredOption('--reason <text>', 'why; recorded in the audit trail and sent to the owners')
    .option('--wait', 'wait until the fallback is done and print the final status')
    .option('--config <file>', 'ferry.yaml')
    .option('--json')
    .action(
      async (
        id: string,
        o: { by: string; reason: string; wait?: boolean; config?: string; json?: boolean },
      ) => {
        const client = await clientFor(o.config);
        try {
          let st = await client.fallback(id, { by: o.by, reason: o.reason });
          if (o.wait) {
            await client
              .handle(id)
              .result()
              .catch(() => undefined);
            st = await client.migrationStatus(id);
          }
          if (o.json) out(JSON.stringify(st));
          else {
            out(`${id}: fallback requested by ${o.by} in phase ${st.fallback?.fromPhase ?? st.phase}`);
            for (const s of st.fallback?.steps ?? [])
              out(`  ${s.at} ${s.name}${s.detail ? `: ${s.detail}` : ''}`);
            if (st.fallback?.done) out('  done');
          }
        } finally {
          await client.close();
        }
      },
    );

  program
    .command('report <workflow-id>')
    .description(
      'one self-contained HTML page for a runbook workflow: inventory and SLA, assessment, PoC, load, CDC, ' +
        'validation, approvals, cutover with the write freeze against the SLA, fallback plan',
    )
    .requiredOption('--out <file>', 'where to write the HTML page')
    .option('--config <file>', 'ferry.yaml')
    .action(async (id: string, o: { out: string; config?: string }) => {
      const cfg = await loadConfig(resolveConfigPath(o.config));
      const client = await FerryClient.connect(cfg.temporal);
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the report renderer loads only here
        const { reportCommand } = require('./report') as typeof import('./report');
        out(await reportCommand(client, cfg, id, o.out));
      } finally {
        await client.close();
      }
    });

  program
    .command('approvals')
    .description(
      'gates waiting for an approver across migrations: which, since when, until when, who may decide',
    )
    .option('--config <file>', 'ferry.yaml')
    .option('--json')
    .action(async (o: { config?: string; json?: boolean }) => {
      const client = await clientFor(o.config);
      try {
        const rows = await client.pendingApprovals();
        if (o.json) out(JSON.stringify(rows));
        else if (!rows.length) out('no gate is waiting for an approver');
        else
          for (const r of rows) {
            out(
              `${r.workflowId}: gate "${r.gate}"${r.migration ? ` of ${r.migration}` : ''}` +
                `${r.database ? ` (database ${r.database}${r.owner ? `, owner ${r.owner}` : ''})` : ''}` +
                `${r.since ? ` since ${r.since}` : ''}${r.deadline ? `, until ${r.deadline}` : ''}` +
                `${r.summary ? ` — ${r.summary}` : ''}\n  approvers: ${r.approvers.join(', ') || '(see ferry.yaml)'}\n` +
                `  ferry approve ${r.workflowId} --gate ${r.gate} --by <approver> --reason "<why>"`,
            );
          }
      } finally {
        await client.close();
      }
    });

  program
    .command('list')
    .description('migration workflows on the task queue, newest first')
    .option('--config <file>', 'ferry.yaml')
    .option('--json')
    .action(async (o: { config?: string; json?: boolean }) => {
      const client = await clientFor(o.config);
      try {
        const rows = await client.list();
        if (o.json) out(JSON.stringify(rows));
        else if (!rows.length) out('no workflows yet; start one with `ferry poc <migration>`');
        else
          for (const r of rows)
            out(
              `${r.workflowId.padEnd(32)} ${r.status.padEnd(10)} ${(r.phase ?? '').padEnd(18)} ${r.pendingGate ? `gate ${r.pendingGate}` : ''}`.trimEnd(),
            );
      } finally {
        await client.close();
      }
    });

  program
    .command('demo')
    .description(
      'start the embedded stack and a worker, run the whole runbook on the sample database while its ' +
        'application writes (every gate auto-approved), cut over, write the report',
    )
    .option('--scale <n>', 'size of the sample database', positiveInt('--scale'))
    .option('--json', 'print one JSON line with the result at the end')
    .option(
      '--post-cutover-seconds <n>',
      'how long the post-cutover watch lasts (the application writes to the target)',
      positiveInt('--post-cutover-seconds'),
    )
    .addOption(new Option('--approver <name>', 'who auto-approves').default(stack.DEMO_APPROVER).hideHelp())
    .action(async (o: { scale?: number; json?: boolean; approver: string; postCutoverSeconds?: number }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads the worker runtime only for the demo
      const { runDemo } = require('./demo') as typeof import('./demo');
      const ok = await runDemo({
        scale: o.scale,
        json: !!o.json,
        approver: o.approver,
        postCutoverSeconds: o.postCutoverSeconds,
        out,
        err,
      });
      if (!ok) process.exitCode = 1;
    });

  registerCatalogCommands(program);
  return program;
}

/**
 * Start CDC (full-load-and-cdc or cdc). With --wait, follow until CDC streams and has caught up (the
 * workflow keeps running; stop it with `ferry migrate stop`).
 */
/** Who starts a migration and how it treats the assessment: recorded in the audit trail. */
function runbookOptions(o: { by?: string; skipAssessment?: boolean; gateTimeout?: string }) {
  return {
    requestedBy: o.by ?? `${os.userInfo().username}@${os.hostname()}`,
    ...(o.skipAssessment && { skipAssessment: true }),
    ...(o.gateTimeout && { gateTimeout: o.gateTimeout }),
  };
}

async function startCdcCommand(
  temporal: TemporalConfig,
  migration: string,
  mode: 'full-load-and-cdc' | 'cdc',
  cdc: CdcOptions,
  o: {
    wait?: boolean;
    tablesPerChild?: number;
    json?: boolean;
    by?: string;
    skipAssessment?: boolean;
    gateTimeout: string;
  },
): Promise<void> {
  const client = await FerryClient.connect(temporal);
  try {
    const h = await client.startCdc({
      migration,
      mode,
      ...runbookOptions(o),
      windowMinutes: cdc.windowMinutes,
      progressSeconds: cdc.progressSeconds,
      ...(o.tablesPerChild && { fullLoad: { tablesPerChild: o.tablesPerChild } }),
    });
    const say = o.json ? err : out;
    say(
      `started ${h.workflowId}; follow with \`ferry status ${h.workflowId}\`, stop with \`ferry migrate stop ${migration} --by <you>\``,
    );
    if (!o.wait) {
      if (o.json) out(JSON.stringify({ workflowId: h.workflowId, runId: h.firstExecutionRunId }));
      return;
    }
    let last = '';
    for (;;) {
      const desc = await client.describe(h.workflowId);
      const st = await client.cdcStatus(h.workflowId).catch(() => undefined);
      if (st) {
        const line = `  ${st.phase}${st.phase === 'streaming' ? lagLine(st).replace(/^ +/, ': ') : ''}`;
        if (line !== last) say(line);
        last = line;
        const caughtUp = st.phase === 'streaming' && st.lag !== undefined && st.lag.lagSeconds === 0;
        if (caughtUp || desc.status.name !== 'RUNNING') {
          if (o.json) out(JSON.stringify({ ok: caughtUp, ...st }));
          else out(renderCdc(st));
          if (!caughtUp) process.exitCode = 1;
          return;
        }
      } else if (desc.status.name !== 'RUNNING') {
        process.exitCode = 1;
        return;
      }
      await sleep(1000);
    }
  } finally {
    await client.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof FerryError) {
      err(`ferry: ${e.type}: ${e.message}`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}

void pocWorkflowId;
void fullLoadWorkflowId;
if (require.main === module) {
  main(process.argv).catch((e) => {
    err(`ferry: ${(e as Error).message}`);
    process.exit(1);
  });
}

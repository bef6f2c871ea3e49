// The practical limit: pre-data through psql, then N parallel `COPY t TO STDOUT | COPY t FROM STDIN`
// pipes between two psql processes (largest table first), then post-data with pg_restore -j N (indexes
// and constraints in parallel) and setval for every sequence. No snapshot is shared: the bench's source
// is idle, which a real migration could not assume.
import path from 'node:path';
import type { Client } from 'pg';
import { PG_CLIENT_BIN, quoteIdent, withClient } from '../servers';
import { checkExit, runLogged } from '../proc';
import type { RunContext, RunResult, ToolRunner } from './types';

/** Leaf tables on the source, largest first, so the longest copy starts first. */
async function tablesBySize(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY pg_table_size(c.oid) DESC, 1, 2`,
  );
  return rows.map((r) => `${quoteIdent(r.schema)}.${quoteIdent(r.name)}`);
}

/** setval statements that give the target every source sequence's state (last_value and is_called). */
async function sequenceSetvals(c: Client): Promise<string[]> {
  const { rows } = await c.query<{ q: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS q
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
  );
  const out: string[] = [];
  for (const { q } of rows) {
    const s = await c.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text, is_called FROM ${q}`,
    );
    const lit = q.replace(/'/g, "''");
    out.push(`SELECT pg_catalog.setval('${lit}', ${s.rows[0].last_value}, ${s.rows[0].is_called})`);
  }
  return out;
}

export const copyPipeRunner: ToolRunner = {
  name: 'copy_pipe',
  async run(ctx: RunContext): Promise<RunResult> {
    const started = process.hrtime.bigint();
    const psql = path.join(PG_CLIENT_BIN, 'psql');
    const pgDump = path.join(PG_CLIENT_BIN, 'pg_dump');
    const postDump = path.join(ctx.workDir, 'post-data.dump');
    // URIs and SQL reach bash as variables, never spliced into the script: no quoting to get wrong.
    const env = { ...ctx.env, SRC: ctx.sourceUri, DST: ctx.targetUri, PSQL: psql, PG_DUMP: pgDump };
    const bash = (script: string, extra: NodeJS.ProcessEnv = {}) =>
      runLogged('bash', ['-c', `set -euo pipefail; ${script}`], {
        env: { ...env, ...extra },
        logFile: ctx.logFile,
      });

    // Pre-data restore and the post-data dump need nothing from each other.
    const [pre, post, tables] = await Promise.all([
      bash(`"$PG_DUMP" --section=pre-data -d "$SRC" | "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DST"`),
      runLogged(pgDump, ['-Fc', '--section=post-data', '-f', postDump, '-d', ctx.sourceUri], {
        env: ctx.env,
        logFile: ctx.logFile,
      }),
      withClient(ctx.servers, ctx.sourceServer, ctx.sourceDb, tablesBySize),
    ]);
    checkExit('pre-data (pg_dump | psql)', pre, ctx.logFile);
    checkExit('pg_dump --section=post-data', post, ctx.logFile);

    const queue = [...tables];
    const failures: string[] = [];
    const worker = async () => {
      for (let t = queue.shift(); t && !failures.length; t = queue.shift()) {
        // -q on the sending side: without it psql appends the "COPY n" tag to the data stream.
        const r = await bash(
          `"$PSQL" -X -q -d "$SRC" -c "$OUT_SQL" | "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DST" -c "$IN_SQL"`,
          {
            OUT_SQL: `COPY ${t} TO STDOUT`,
            IN_SQL: `COPY ${t} FROM STDIN`,
          },
        );
        if (r.code !== 0)
          failures.push(
            `COPY ${t} exited with ${r.code ?? r.signal}: ${r.tail.split('\n').slice(-3).join(' | ')}`,
          );
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(ctx.jobs, tables.length)) }, worker));
    if (failures.length) throw new Error(`${failures.join('\n')}\n(log: ${ctx.logFile})`);

    // Indexes and constraints in parallel; sequence values meanwhile (they need only the tables).
    const [postRestore] = await Promise.all([
      runLogged(
        path.join(PG_CLIENT_BIN, 'pg_restore'),
        ['-j', String(ctx.jobs), '--exit-on-error', '-d', ctx.targetUri, postDump],
        {
          env: ctx.env,
          logFile: ctx.logFile,
        },
      ),
      (async () => {
        const setvals = await withClient(ctx.servers, ctx.sourceServer, ctx.sourceDb, sequenceSetvals);
        await withClient(ctx.servers, ctx.targetServer, ctx.targetDb, async (c) => {
          for (const sql of setvals) await c.query(sql);
        });
      })(),
    ]);
    checkExit('pg_restore --section=post-data', postRestore, ctx.logFile);
    return {
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      notes: `${tables.length} tables, one pipe per table (no table split), ${ctx.jobs} at a time`,
    };
  },
};

// pgcopydb clone (Debian package `pgcopydb`): pre-data, parallel COPY, parallel CREATE INDEX, VACUUM
// ANALYZE, sequences, post-data, all in one command. No --follow, so no slot or origin is created.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkExit, runLogged } from '../proc';
import { type RunContext, type RunResult, type ToolRunner, ToolUnavailableError } from './types';

export const PGCOPYDB_BIN = '/usr/bin/pgcopydb';

export const pgcopydbRunner: ToolRunner = {
  name: 'pgcopydb',
  async run(ctx: RunContext): Promise<RunResult> {
    if (!existsSync(PGCOPYDB_BIN))
      throw new ToolUnavailableError(`${PGCOPYDB_BIN} not found: apt-get install -y pgcopydb`);
    const args = [
      'clone',
      '--source',
      ctx.sourceUri,
      '--target',
      ctx.targetUri,
      '--dir',
      path.join(ctx.workDir, 'pgcopydb'),
      '--table-jobs',
      String(ctx.jobs),
      '--index-jobs',
      String(ctx.jobs),
    ];
    const r = await runLogged(PGCOPYDB_BIN, args, { env: ctx.env, logFile: ctx.logFile });
    checkExit('pgcopydb clone', r, ctx.logFile);
    return {
      seconds: r.seconds,
      // pgcopydb 0.10 always VACUUM ANALYZEs each copied table; the others leave that to autovacuum.
      notes: 'includes its per-table VACUUM ANALYZE (not optional in this version)',
    };
  },
};

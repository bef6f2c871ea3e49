// pg_dump -Fd -j N into a directory, then pg_restore -j N from it: the baseline every operator knows.
import path from 'node:path';
import { PG_CLIENT_BIN } from '../servers';
import { checkExit, runLogged } from '../proc';
import type { RunContext, RunResult, ToolRunner } from './types';

export const pgDumpRestoreRunner: ToolRunner = {
  name: 'pg_dump_restore',
  async run(ctx: RunContext): Promise<RunResult> {
    const dir = path.join(ctx.workDir, 'dump');
    const opts = { env: ctx.env, logFile: ctx.logFile };
    // --compress=0: the dump never leaves this machine, so gzip would only spend the CPU the other tools
    // get to use for copying; this is pg_dump/pg_restore at their fastest.
    const dump = await runLogged(
      path.join(PG_CLIENT_BIN, 'pg_dump'),
      ['-Fd', '-j', String(ctx.jobs), '--compress=0', '-f', dir, '-d', ctx.sourceUri],
      opts,
    );
    checkExit('pg_dump', dump, ctx.logFile);
    const restore = await runLogged(
      path.join(PG_CLIENT_BIN, 'pg_restore'),
      ['-j', String(ctx.jobs), '--exit-on-error', '-d', ctx.targetUri, dir],
      opts,
    );
    checkExit('pg_restore', restore, ctx.logFile);
    return {
      seconds: dump.seconds + restore.seconds,
      notes: `dump ${dump.seconds.toFixed(1)} s + restore ${restore.seconds.toFixed(1)} s, uncompressed`,
    };
  },
};

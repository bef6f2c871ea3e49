// Test fixture: a Ferry worker as its own process (`node dist/src/worker.js`), so a test can SIGKILL it
// the way a crashed machine would, and start another.
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';

const WORKER = path.resolve(__dirname, '../../src/worker.js');

/** `logFile`: append the worker's stdout and stderr (JSON log lines) there, for a post-mortem. */
export function startWorkerProcess(
  configPath: string,
  address: string,
  taskQueue: string,
  opts: { logFile?: string } = {},
): ChildProcess {
  const out = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  try {
    return spawn(process.execPath, [WORKER, configPath, taskQueue], {
      env: { ...process.env, TEMPORAL_ADDRESS: address, FERRY_HEARTBEAT_MS: '1000' },
      stdio: out === undefined ? ['ignore', 'ignore', 'ignore'] : ['ignore', out, out],
    });
  } finally {
    if (out !== undefined) closeSync(out);
  }
}

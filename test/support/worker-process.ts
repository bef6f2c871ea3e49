// Test fixture: a Ferry worker as its own process (`node dist/src/worker.js`), so a test can SIGKILL it
// the way a crashed machine would, and start another.
import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const WORKER = path.resolve(__dirname, '../../src/worker.js');

export function startWorkerProcess(configPath: string, address: string, taskQueue: string): ChildProcess {
  return spawn(process.execPath, [WORKER, configPath, taskQueue], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, FERRY_HEARTBEAT_MS: '1000' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
}

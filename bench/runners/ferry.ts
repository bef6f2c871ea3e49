// The `ferry_engine` tool: Ferry's full-load engine called in-process (ferry-engine-child.ts), in a
// separate process so its peak RSS is its own. No Temporal, no worker: next to the durable `ferry`
// tool (ferry-durable.ts) it shows what durability costs.
import path from 'node:path';
import type { ChildInput, ChildOutput } from '../ferry-engine-child';
import { runLogged } from '../proc';
import { type RunContext, type RunResult, type ToolRunner, ToolUnavailableError } from './types';

/** The last line of `stdout` that parses as a JSON object, if any. */
export function lastJsonLine<T>(stdout: string): T | undefined {
  const lines = stdout.trimEnd().split('\n').reverse();
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    try {
      return JSON.parse(l) as T;
    } catch {
      // not JSON after all; keep looking
    }
  }
  return undefined;
}

export const ferryEngineRunner: ToolRunner = {
  name: 'ferry_engine',
  async run(ctx: RunContext): Promise<RunResult> {
    const { password: _s, ...source } = ctx.source;
    const { password: _t, ...target } = ctx.target;
    const input: ChildInput = { source, target, jobs: ctx.jobs };
    const child = path.join(__dirname, '..', 'ferry-engine-child.js');
    const r = await runLogged(process.execPath, [child, JSON.stringify(input)], {
      env: ctx.env,
      logFile: ctx.logFile,
      captureStdout: true,
    });
    const out = lastJsonLine<ChildOutput>(r.stdout);
    if (out?.unavailable) throw new ToolUnavailableError(out.unavailable);
    if (r.code !== 0 || !out?.ok) {
      throw new Error(
        `Ferry's full load failed (exit ${r.code ?? r.signal}): ${out?.error ?? 'no result line'} (log: ${ctx.logFile})`,
      );
    }
    const t = out.timings;
    const phases = t
      ? `snapshot ${t.snapshot.toFixed(1)} s, pre-data ${t.preData.toFixed(1)} s, copy ${t.copy.toFixed(1)} s, ` +
        `post-data ${t.postData.toFixed(1)} s, sequences ${t.sequences.toFixed(1)} s`
      : 'no phase timings';
    return {
      seconds: r.seconds,
      peakRssMb: out.peakRssMb,
      rssScope: 'process',
      notes:
        `runFullLoadLocal in a child process, ${out.engineSeconds?.toFixed(2)} s inside it (${phases})` +
        (out.findings?.length ? `; ${out.findings.length} findings in ${ctx.logFile}` : ''),
    };
  },
};

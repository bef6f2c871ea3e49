// Operator commands at cutover: the write-freeze hook (method 'hook') and the application switch
// (DNS, pgbouncer, a script). Run without a shell, with a timeout, and with a small environment: the
// worker's own environment may hold secrets (`env:NAME` secret references), so only a few harmless
// variables pass through, plus what the hook's config sets, plus Ferry's FERRY_* variables.
import type { PgConnInfo } from '../connection';
import { runTool } from '../pg-tools';
import { ErrorType, FerryError } from '../../errors';

/** A command from ferry.yaml: program and arguments (no shell), extra environment, timeout. */
export interface HookCommand {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  /** Default 60 s. */
  timeoutMs?: number;
}

export interface HookResult {
  command: string;
  /** stdout, trimmed (and cut to its last 4000 characters). */
  stdout: string;
  /** The last stderr lines, trimmed. */
  stderr: string;
  durationMs: number;
}

export const DEFAULT_HOOK_TIMEOUT_MS = 60_000;
/** Worker variables a hook inherits; everything else (secrets included) stays out. */
const INHERITED = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'SHELL'];
const MAX_STDOUT = 4000;

/** `command args...` for messages. */
export function describeHook(h: HookCommand): string {
  return [h.command, ...(h.args ?? [])]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)))
    .join(' ');
}

/**
 * Run `hook` with `ferryEnv` (FERRY_* variables, which win over the hook's own env). Non-zero exit,
 * a signal or the timeout → FerryError TOOL_FAILED naming the command and the tail of its stderr; a
 * command that cannot be started → TOOL_MISSING.
 */
export async function runHook(
  hook: HookCommand,
  ferryEnv: Record<string, string>,
  what: string,
): Promise<HookResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const k of INHERITED) if (process.env[k] !== undefined) env[k] = process.env[k];
  Object.assign(env, hook.env ?? {}, ferryEnv);
  const timeoutMs = hook.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  const started = Date.now();
  const r = await runTool(hook.command, hook.args ?? [], {
    env,
    captureStdout: true,
    timeoutMs,
    keepLines: 20,
  }).catch((err: unknown) => {
    throw new FerryError(
      ErrorType.TOOL_MISSING,
      `${what}: cannot run ${describeHook(hook)} (${err instanceof Error ? err.message : String(err)}); ` +
        `check the command path and that it is executable on every worker`,
      { cause: err },
    );
  });
  const stderr = r.stderrTail.join('\n').trim();
  const tail = stderr ? `; stderr: ${stderr.slice(-1500)}` : '';
  if (r.aborted)
    throw new FerryError(
      ErrorType.TOOL_FAILED,
      `${what}: ${describeHook(hook)} did not finish within ${timeoutMs} ms and was killed${tail}`,
    );
  if (r.code !== 0)
    throw new FerryError(
      ErrorType.TOOL_FAILED,
      `${what}: ${describeHook(hook)} ${r.code === null ? `was killed by ${r.signal}` : `exited with ${r.code}`}${tail}`,
    );
  return {
    command: describeHook(hook),
    stdout: r.stdout.trim().slice(-MAX_STDOUT),
    stderr,
    durationMs: Date.now() - started,
  };
}

/**
 * Switch the application to the target: run the operator's switch command (update DNS, repoint
 * pgbouncer, deploy config) with FERRY_MIGRATION, FERRY_TARGET_HOST, FERRY_TARGET_PORT,
 * FERRY_TARGET_DATABASE and FERRY_TARGET_USER. Never the password: the command gets that from its
 * own secret store. Non-zero exit → FerryError TOOL_FAILED with the stderr tail.
 */
export async function runSwitchHook(
  hook: HookCommand,
  ctx: { migration: string; target: Pick<PgConnInfo, 'host' | 'port' | 'database' | 'user' | 'endpointId'> },
): Promise<HookResult & { switchedAt: Date }> {
  const r = await runHook(
    hook,
    {
      FERRY_ACTION: 'switch',
      FERRY_MIGRATION: ctx.migration,
      FERRY_TARGET_ENDPOINT: ctx.target.endpointId,
      FERRY_TARGET_HOST: ctx.target.host,
      FERRY_TARGET_PORT: String(ctx.target.port),
      FERRY_TARGET_DATABASE: ctx.target.database,
      FERRY_TARGET_USER: ctx.target.user,
    },
    `switch hook of migration ${ctx.migration}`,
  );
  return { ...r, switchedAt: new Date() };
}

// Test fixture: one real Temporal dev server (the CLI's `temporal server start-dev`) for the whole
// run, with Ferry's search attributes, and the workflow bundle built once.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Runtime, DefaultLogger, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { findTemporalBinary } from '../../src/dev/temporal';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/definitions';

let env: Promise<TestWorkflowEnvironment> | undefined;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let runtimeInstalled = false;

/** The shared dev server. Startup is retried: the SDK's 5 s readiness wait flakes on a cold machine. */
export function temporalEnv(): Promise<TestWorkflowEnvironment> {
  if (!env) {
    env = (async () => {
      if (!runtimeInstalled) {
        runtimeInstalled = true;
        Runtime.install({ logger: new DefaultLogger('ERROR') });
      }
      const path = await findTemporalBinary();
      let lastErr: unknown;
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          return await TestWorkflowEnvironment.createLocal({
            server: {
              executable: { type: 'existing-path', path },
              searchAttributes: SEARCH_ATTRIBUTES.map((s) =>
                defineSearchAttributeKey(s.name, SearchAttributeType.KEYWORD),
              ),
              log: { format: 'pretty', level: 'warn' },
            },
          });
        } catch (err) {
          lastErr = err;
        }
      }
      throw lastErr;
    })();
  }
  return env;
}

export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      logger: new DefaultLogger('WARN'),
    });
  }
  return bundle;
}

export async function stopTemporal(): Promise<void> {
  if (env) {
    const e = await env.catch(() => undefined);
    env = undefined;
    await e?.teardown();
  }
}

// Build step: bundle src/workflows once into dist/workflow-bundle.js, so a worker loads it instead of
// running webpack at every start (seconds of CPU and ~100 MB of peak memory per worker).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

export const BUNDLE_PATH = path.resolve(__dirname, '..', 'workflow-bundle.js');

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  await fs.writeFile(BUNDLE_PATH, code);
  process.stderr.write(
    `workflow bundle: ${path.relative(process.cwd(), BUNDLE_PATH)} (${(code.length / 1024).toFixed(0)} KiB)\n`,
  );
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bundle-workflows: ${(err as Error).message}\n`);
    process.exit(1);
  });
}

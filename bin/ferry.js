#!/usr/bin/env node
// Entry point of the `ferry` command: runs the compiled CLI (npm run build produces dist/).
require('../dist/src/cli/index.js').main(process.argv).catch((err) => {
  process.stderr.write(`ferry: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1);
});

// Writes schema/ferry.schema.json from the zod schema in src/config (npm run schema); --check only
// compares, for CI. A test also compares, so the committed file cannot drift from the loader.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderFerryJsonSchema } from '../src/config/schema';

/** The repository root: the nearest directory above this file with a package.json (works from dist/ too). */
export function repoRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const SCHEMA_FILE = path.join('schema', 'ferry.schema.json');

function main(argv: string[]): number {
  const file = path.join(repoRoot(), SCHEMA_FILE);
  const fresh = renderFerryJsonSchema();
  if (argv.includes('--check')) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (current === fresh) return 0;
    process.stderr.write(`${file} is out of date; run npm run schema and commit it\n`);
    return 1;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, fresh);
  process.stdout.write(`wrote ${file}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

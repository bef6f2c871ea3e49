// Golden plans: realistic DMS mapping (and settings) files compiled against a hand-built catalog of the
// Ferry sample database; the expected plan JSON and explain text are reviewed by eye and compared
// exactly. UPDATE_GOLDEN=1 rewrites them after a deliberate change.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { explainPlan } from '../../src/mapping';
import { GOLDEN, GOLDEN_CASES, compileCase } from './helpers';

const UPDATE = process.env.UPDATE_GOLDEN === '1';
function golden(file: string, actual: string): void {
  const full = path.join(GOLDEN, file);
  if (UPDATE || !fs.existsSync(full)) {
    fs.writeFileSync(full, actual);
    if (!UPDATE) assert.fail(`${file} did not exist and was written; review it and run again`);
    return;
  }
  const expected = fs.readFileSync(full, 'utf8');
  if (file.endsWith('.json'))
    assert.deepEqual(
      JSON.parse(actual),
      JSON.parse(expected),
      `${file} differs (UPDATE_GOLDEN=1 rewrites it)`,
    );
  else assert.equal(actual, expected, `${file} differs (UPDATE_GOLDEN=1 rewrites it)`);
}

describe('mapping golden plans', () => {
  for (const name of GOLDEN_CASES) {
    it(`${name}: plan JSON and explain view match the golden files`, () => {
      const plan = compileCase(name);
      golden(`${name}.plan.json`, JSON.stringify(plan, null, 2) + '\n');
      golden(`${name}.explain.txt`, explainPlan(plan));
    });
  }
});

// The committed schema/ferry.schema.json must be exactly what the zod schema generates today.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ferryJsonSchema, renderFerryJsonSchema } from '../../src/config';
import { repoRoot, SCHEMA_FILE } from '../../scripts/gen-json-schema';

describe('config: schema/ferry.schema.json', () => {
  it('matches the zod schema (run `npm run schema` after changing src/config/schema.ts)', () => {
    const committed = fs.readFileSync(path.join(repoRoot(__dirname), SCHEMA_FILE), 'utf8');
    assert.equal(committed, renderFerryJsonSchema());
  });

  it('describes the top level of ferry.yaml, strictly, with defaults as the input shape', () => {
    const schema = ferryJsonSchema() as {
      type: string;
      properties: Record<
        string,
        { default?: unknown; items?: { properties: Record<string, { pattern?: string; default?: unknown }> } }
      >;
      required: string[];
      additionalProperties: boolean;
    };
    assert.equal(schema.type, 'object');
    assert.deepEqual(Object.keys(schema.properties), [
      'temporal',
      'workDir',
      'endpoints',
      'inventory',
      'migrations',
      'notifications',
      'control',
      'aws',
    ]);
    assert.deepEqual(schema.required, ['endpoints']);
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.workDir.default, '.ferry/work');
    const endpoint = schema.properties.endpoints.items!.properties;
    assert.equal(endpoint.port.default, 5432);
    assert.ok(endpoint.password.pattern?.includes('env:'), 'a literal password is flagged by editors too');
  });
});

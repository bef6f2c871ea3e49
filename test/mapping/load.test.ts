// loadMappingFiles: reads both files, falls back to the DMS defaults, and reports unreadable or
// malformed files (both at once) with the file name and where the JSON breaks.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FerryError } from '../../src/errors';
import { DEFAULT_MAPPING_FILE, loadMappingFiles } from '../../src/mapping';

describe('mapping/load', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-mapping-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await fs.writeFile(file, text);
    return file;
  };

  it('uses the DMS default mapping (include %.%) and default settings when no file is given', async () => {
    const loaded = await loadMappingFiles();
    assert.equal(loaded.mapping.implicit, true);
    assert.equal(loaded.mapping.file, DEFAULT_MAPPING_FILE);
    assert.deepEqual(
      loaded.mapping.rules.map((r) => r.type === 'selection' && `${r.action} ${r.schema}.${r.table}`),
      ['include %.%'],
    );
    assert.equal(loaded.settings.maxFullLoadSubTasks, 8);
    assert.deepEqual(loaded.findings, []);
  });

  it('reads and validates both files (a BOM is fine)', async () => {
    const mapping = await write(
      'mappings.json',
      '\uFEFF{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"1","object-locator":{"schema-name":"sales","table-name":"%"},"rule-action":"include"}]}',
    );
    const settings = await write(
      'settings.json',
      '{"FullLoadSettings":{"MaxFullLoadSubTasks":4},"Bogus":{}}',
    );
    const loaded = await loadMappingFiles(mapping, settings);
    assert.equal(loaded.mapping.file, mapping);
    assert.equal(loaded.settings.maxFullLoadSubTasks, 4);
    assert.equal(loaded.findings[0].field, 'Bogus');
  });

  it('reports a missing file and broken JSON together, naming each file', async () => {
    const broken = await write('broken.json', '{\n  "TargetMetadata": {\n    "TargetSchema": "x",\n  }\n}\n');
    await assert.rejects(loadMappingFiles(path.join(dir, 'nope.json'), broken), (e: unknown) => {
      assert.ok(e instanceof FerryError);
      assert.equal(e.type, 'CONFIG_INVALID');
      const [first, second] = e.message.split('\n');
      assert.match(first, /nope\.json: cannot read the file \(ENOENT\); check the path/);
      assert.match(second, /broken\.json: not valid JSON: .*line 4.*; fix the JSON syntax there/);
      return true;
    });
  });
});

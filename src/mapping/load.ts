// Reads a migration's DMS table-mapping and task-settings files (either may be absent: DMS defaults
// apply) and validates both, so a bad file fails at start-up with every problem listed.
import { readFile } from 'node:fs/promises';
import { ErrorType, FerryError } from '../errors';
import { parseTableMapping } from './parse';
import { defaultEngineSettings, parseTaskSettings } from './settings';
import type { EngineSettings, Finding, TableMapping } from './types';

export const DEFAULT_MAPPING_FILE = '(default mapping: include %.%)';

/**
 * The mapping DMS uses when none is given: every table of every schema. compilePlan never lets a
 * wildcard reach pg_catalog, information_schema, pg_toast or Ferry's own `ferry` schema.
 */
export function defaultTableMapping(): TableMapping {
  return {
    file: DEFAULT_MAPPING_FILE,
    rules: [
      {
        type: 'selection',
        index: 0,
        id: '1',
        name: 'default',
        action: 'include',
        schema: '%',
        table: '%',
        tableType: 'table',
        loadOrder: 0,
        filters: [],
      },
    ],
    findings: [],
    implicit: true,
  };
}

export interface LoadedMappingFiles {
  mapping: TableMapping;
  settings: EngineSettings;
  /** Task-settings warnings (mapping warnings are in `mapping.findings`). */
  findings: Finding[];
}

/**
 * Read and validate the files. Throws FerryError CONFIG_INVALID naming the file when one cannot be
 * read, is not JSON, or breaks a rule; when both files are bad, both are reported.
 */
export async function loadMappingFiles(
  mappingPath?: string,
  settingsPath?: string,
): Promise<LoadedMappingFiles> {
  const errors: string[] = [];
  let mapping: TableMapping = defaultTableMapping();
  let settings = defaultEngineSettings();
  let findings: Finding[] = [];
  if (mappingPath !== undefined) {
    try {
      mapping = parseTableMapping(await readJson(mappingPath), mappingPath);
    } catch (e) {
      errors.push(messageOf(e));
    }
  }
  if (settingsPath !== undefined) {
    try {
      ({ settings, findings } = parseTaskSettings(await readJson(settingsPath), settingsPath));
    } catch (e) {
      errors.push(messageOf(e));
    }
  }
  if (errors.length > 0) throw new FerryError(ErrorType.CONFIG_INVALID, errors.join('\n'));
  return { mapping, settings, findings };
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `${file}: cannot read the file (${err.code ?? err.message}); check the path in the migration's tableMappings/taskSettings`,
    );
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `${file}: not valid JSON: ${jsonErrorWhere(text, (e as Error).message)}; fix the JSON syntax there`,
    );
  }
}

/** Adds line:column to V8's "at position N" JSON messages. */
function jsonErrorWhere(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m || /line \d+/.test(message)) return message;
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const column = Number(m[1]) - before.lastIndexOf('\n');
  return `${message} (line ${line}, column ${column})`;
}

function messageOf(e: unknown): string {
  if (e instanceof FerryError && e.type === ErrorType.CONFIG_INVALID) return e.message;
  throw e;
}

// The premigration assessment: connectivity and TLS of both endpoints, source readiness (privileges,
// keys, CDC), data types and database properties, target state, and the mapping compiled against the
// live catalog; every finding names a rule of the catalogue (rules.ts). Plain async functions, no
// Temporal: an activity builds AssessmentInput from ferry.yaml (migrationEndpoints, loadMappingFiles)
// and stores the result with saveAssessment.
//
// Never throws for a server problem: an unreachable endpoint is a blocker finding, and the checks that
// need it are skipped with an info finding saying so; a check that fails is a warning.
import type { PgConnInfo } from '../engine/connection';
import type { EngineSettings, Finding, MigrationPlan, SourceCatalog, TableMapping } from '../mapping/types';
import { checkCdc } from './cdc';
import { type Probe, probeEndpoint } from './connectivity';
import { checkColumnCollations, checkColumnTypes, checkDatabaseProperties } from './data-types';
import { checkAuroraExtensions, checkTargetExtensions, readSourceExtensions } from './extensions';
import { type AssessmentFinding, Findings, objectName } from './findings';
import { checkColumnExpressions, checkNarrowing, compileMapping } from './mapping';
import { checkLobSizes, checkReadPrivileges, checkSourceTables, checkSourceVersion } from './source';
import { checkTargetSchemas, checkTargetSpace, checkTargetTables, checkTargetVersion } from './target';

export type { AssessmentFinding } from './findings';
export {
  RULES,
  findRule,
  getRule,
  appliesTo,
  type Rule,
  type RuleId,
  type RuleCategory,
  type Severity,
  type MigrationType,
} from './rules';
export { AURORA_EXTENSIONS, AURORA_EXTENSIONS_SOURCE, auroraExtensions } from './aurora';
export { saveAssessment, latestAssessment, ensureAssessmentTable, type StoredAssessment } from './store';

export interface AssessmentResult {
  /** True when any finding is a blocker. */
  blocked: boolean;
  /** Blockers first, then warnings, then infos. */
  findings: AssessmentFinding[];
  /** ISO 8601 start time. */
  startedAt: string;
  seconds: number;
  /** Rules of the catalogue that were evaluated (skipped checks' rules are not counted). */
  rulesRun: number;
}

export interface AssessmentInput {
  migration: string;
  migrationType: 'full-load' | 'full-load-and-cdc' | 'cdc';
  /** Endpoint ids from ferry.yaml and their connection settings (secrets resolved; source at its database). */
  source: { id: string; conn: PgConnInfo };
  target: { id: string; conn: PgConnInfo };
  /** Parsed DMS table mapping (loadMappingFiles().mapping). */
  mapping: TableMapping;
  /** Parsed task settings (loadMappingFiles().settings). */
  settings: EngineSettings;
  /** Task-settings warnings (loadMappingFiles().findings): unsupported keys are reported from them. */
  settingsFindings?: Finding[];
  /** Target Aurora major to check the extension allow-list against; default: the target server's major. */
  auroraMajor?: number;
  /** The migration's slot and publication; default ferry_<migration> for both. */
  cdc?: { slotName: string; publication: string };
  /** Connect timeout per endpoint (default: the engine's CONNECT_TIMEOUT_SECONDS). */
  connectTimeoutMs?: number;
}

export async function runAssessment(input: AssessmentInput): Promise<AssessmentResult> {
  const t0 = Date.now();
  const startedAt = new Date(t0).toISOString();
  const findings = new Findings();
  const sourceConn: PgConnInfo = { ...input.source.conn, endpointId: input.source.id };
  const targetConn: PgConnInfo = { ...input.target.conn, endpointId: input.target.id };
  const connect = {
    ...(input.connectTimeoutMs !== undefined ? { connectTimeoutMs: input.connectTimeoutMs } : {}),
  };
  const [src, tgt] = await Promise.all([
    probeEndpoint('source', sourceConn, findings, connect),
    probeEndpoint('target', targetConn, findings, connect),
  ]);
  try {
    await assess(input, src, tgt, findings);
  } finally {
    await Promise.all([src.client?.end().catch(() => undefined), tgt.client?.end().catch(() => undefined)]);
  }
  const sorted = findings.sorted();
  return {
    blocked: sorted.some((f) => f.severity === 'blocker'),
    findings: sorted,
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    rulesRun: findings.rulesRun,
  };
}

async function assess(input: AssessmentInput, src: Probe, tgt: Probe, findings: Findings): Promise<void> {
  const guard = async (what: string, conn: PgConnInfo, fn: () => Promise<void> | void) => {
    try {
      await fn();
    } catch (err) {
      findings.add(
        'assessment-check-failed',
        objectName.endpoint(conn.endpointId),
        `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  const sourceConn = src.conn;
  const targetConn = tgt.conn;
  const type = input.migrationType;

  if (!src.client) {
    findings.add(
      'endpoint-checks-skipped',
      objectName.endpoint(sourceConn.endpointId),
      `source ${sourceConn.endpointId} was not reached: the mapping was not compiled, and the source checks ` +
        `(version, privileges, keys, ${type === 'full-load' ? '' : 'CDC, '}data types, LOB sizes, extensions) ` +
        `and the target checks that need the plan (tables, schemas, space) were skipped`,
    );
  }
  if (!tgt.client) {
    findings.add(
      'endpoint-checks-skipped',
      objectName.endpoint(targetConn.endpointId),
      `target ${targetConn.endpointId} was not reached: its version, encoding, collations, privileges, tables ` +
        `and extensions were not checked, nor the source's read privileges (checked together with the target's)`,
    );
  }

  // Server-level checks.
  if (src.facts) checkSourceVersion(sourceConn, src.facts, findings);
  if (src.facts && tgt.facts) {
    checkTargetVersion(src.facts, tgt.facts, targetConn, findings);
    checkDatabaseProperties(sourceConn, src.facts, targetConn, tgt.facts, findings);
  }

  if (!src.client || !src.facts) return;
  const source = src.client;

  // Extensions: Aurora's list for the target major, and what the target can install.
  await guard('checking extensions', sourceConn, async () => {
    const extensions = await readSourceExtensions(source, sourceConn, findings);
    if (!extensions) return;
    checkAuroraExtensions(extensions, input.auroraMajor ?? tgt.facts?.major ?? src.facts!.major, findings);
    if (tgt.client) await checkTargetExtensions(extensions, tgt.client, targetConn, findings);
  });

  // The mapping against the live catalog; everything table-level needs the plan.
  let compiled: { plan?: MigrationPlan; catalog?: SourceCatalog } = {};
  await guard('compiling the mapping', sourceConn, async () => {
    compiled = await compileMapping(
      sourceConn,
      input.mapping,
      input.settings,
      input.settingsFindings ?? [],
      findings,
    );
  });
  const { plan, catalog } = compiled;
  if (!plan || !catalog || plan.tables.length === 0) {
    findings.add(
      'endpoint-checks-skipped',
      `mapping:${input.mapping.file}`,
      `the mapping selects no table${plan ? '' : ' (it does not compile)'}: the table-level checks (privileges, keys, ` +
        `${type === 'full-load' ? '' : 'CDC, '}data types, LOB sizes, target tables and space) were skipped`,
    );
    return;
  }

  if (tgt.client) {
    await guard('checking privileges', sourceConn, () =>
      checkReadPrivileges(source, sourceConn, targetConn, plan, findings),
    );
  }
  if (type !== 'full-load') {
    await guard('the CDC preflight', sourceConn, () =>
      checkCdc(sourceConn, plan, input.migration, type, input.cdc, findings),
    );
  }
  await guard('checking source tables', sourceConn, () =>
    checkSourceTables(source, sourceConn, plan, catalog, type, findings),
  );
  await guard('measuring LOB sizes', sourceConn, () =>
    checkLobSizes(source, sourceConn, plan, catalog, input.settings, findings),
  );
  await guard('checking column expressions', sourceConn, () =>
    checkColumnExpressions(source, sourceConn, plan, findings),
  );
  await guard('checking type changes', sourceConn, () =>
    checkNarrowing(plan, catalog, input.mapping, findings),
  );
  await guard('checking column types', sourceConn, () =>
    checkColumnTypes(source, sourceConn, plan, src.facts!, tgt.facts, tgt.client, findings),
  );
  await guard('estimating the target space', sourceConn, () =>
    checkTargetSpace(source, sourceConn, targetConn, tgt.facts, plan, findings),
  );
  if (!tgt.client) return;
  const target = tgt.client;
  await guard('checking column collations', targetConn, () =>
    checkColumnCollations(source, sourceConn, target, targetConn, plan, findings),
  );
  await guard('checking target tables', targetConn, () =>
    checkTargetTables(target, targetConn, plan, input.settings, type, findings, input.migration),
  );
  await guard('checking target schemas', targetConn, () =>
    checkTargetSchemas(target, targetConn, plan, findings),
  );
}

// CDC readiness of the source, by the engine's own preflight (checkCdcSource): its findings mapped to
// rule ids. The preflight names objects as `setting wal_level`, `role x`, `table s.t`, `slot x`,
// `publication x`, `view s.t`, `server`; a table finding is told apart by the fix it carries (the
// preflight's advice for each is fixed text: SET LOGGED, GRANT, the identity options).
import {
  type CdcFinding,
  checkCdcSource,
  defaultPublicationName,
  defaultSlotName,
} from '../engine/cdc/source';
import type { PgConnInfo } from '../engine/connection';
import type { MigrationPlan } from '../mapping/types';
import { errorText } from './connectivity';
import { Findings, objectName } from './findings';
import type { RuleId } from './rules';

export const CDC_RULES: RuleId[] = [
  'source-wal-level',
  'source-replication-slots',
  'source-wal-senders',
  'source-replication-privilege',
  'cdc-server',
  'cdc-replica-identity',
  'cdc-unlogged-table',
  'cdc-slot',
  'cdc-publication',
  'cdc-view-not-captured',
  'cdc-warning',
  'cdc-plan',
  'source-select-privilege',
];

export async function checkCdc(
  conn: PgConnInfo,
  plan: MigrationPlan,
  migration: string,
  mode: 'full-load-and-cdc' | 'cdc',
  names: { slotName: string; publication: string } | undefined,
  findings: Findings,
): Promise<void> {
  const opts = {
    slotName: names?.slotName ?? defaultSlotName(migration),
    publication: names?.publication ?? defaultPublicationName(migration),
    mode,
  };
  let result;
  try {
    result = await checkCdcSource(conn, plan, opts);
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(conn.endpointId),
      `the CDC preflight of the source failed: ${errorText(err, conn)}`,
    );
    return;
  }
  findings.ran(...CDC_RULES);
  for (const f of result.findings) {
    const { id, object } = classify(f, conn.endpointId);
    // checkPrivileges reports the same unreadable tables for every migration type: keep one.
    if (id === 'source-select-privilege' && findings.has(id, object)) continue;
    findings.add(id, object, f.message, f.advice || undefined);
  }
}

/** The rule and object of one preflight finding. */
export function classify(f: CdcFinding, endpointId: string): { id: RuleId; object: string } {
  const [kind, ...rest] = f.object.split(' ');
  const name = rest.join(' ');
  if (kind === 'setting') {
    const object = objectName.parameter(name);
    if (name === 'wal_level') return { id: 'source-wal-level', object };
    if (name === 'max_replication_slots') return { id: 'source-replication-slots', object };
    if (name === 'max_wal_senders') return { id: 'source-wal-senders', object };
    return { id: bySeverity(f), object };
  }
  if (kind === 'role') return { id: 'source-replication-privilege', object: objectName.role(name) };
  if (kind === 'view') return { id: 'cdc-view-not-captured', object: objectName.table(name) };
  if (kind === 'slot')
    return { id: f.severity === 'error' ? 'cdc-slot' : bySeverity(f), object: `slot:${name}` };
  if (kind === 'publication') {
    return { id: f.severity === 'error' ? 'cdc-publication' : bySeverity(f), object: `publication:${name}` };
  }
  if (kind === 'table') {
    const object = objectName.table(name);
    if (f.severity !== 'error') return { id: bySeverity(f), object };
    if (/SET LOGGED\s*$/.test(f.advice)) return { id: 'cdc-unlogged-table', object };
    if (/^GRANT USAGE ON SCHEMA/.test(f.advice)) return { id: 'source-select-privilege', object };
    if (/REPLICA IDENTITY/.test(f.advice)) return { id: 'cdc-replica-identity', object };
    if (/^ALTER PUBLICATION/.test(f.advice)) return { id: 'cdc-publication', object };
    return { id: 'cdc-server', object };
  }
  if (kind === 'server') return { id: 'cdc-server', object: objectName.endpoint(endpointId) };
  // cdcStartPosition and anything new the preflight learns to report.
  return { id: f.severity === 'error' ? 'cdc-slot' : bySeverity(f), object: f.object };
}

function bySeverity(f: CdcFinding): RuleId {
  return f.severity === 'info' ? 'cdc-plan' : f.severity === 'warning' ? 'cdc-warning' : 'cdc-server';
}

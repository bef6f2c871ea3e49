// Extensions of the source database against Aurora PostgreSQL's list for the target major (aurora.ts)
// and against what the target server itself can install (pg_available_extensions).
import type { Client } from 'pg';
import type { PgConnInfo } from '../engine/connection';
import { quoteIdent, quoteLiteral } from '../engine/ident';
import { AURORA_EXTENSIONS_SOURCE, auroraExtensions } from './aurora';
import { errorText } from './connectivity';
import { Findings, objectName } from './findings';

export interface SourceExtension {
  name: string;
  version: string;
}

export async function readSourceExtensions(
  source: Client,
  conn: PgConnInfo,
  findings: Findings,
): Promise<SourceExtension[] | undefined> {
  try {
    const { rows } = await source.query<SourceExtension>(
      `SELECT extname AS name, extversion AS version FROM pg_catalog.pg_extension ORDER BY 1`,
    );
    return rows;
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(conn.endpointId),
      `listing extensions failed: ${errorText(err, conn)}`,
    );
    return undefined;
  }
}

/** Every source extension must be on Aurora's list for `auroraMajor`. */
export function checkAuroraExtensions(
  extensions: SourceExtension[],
  auroraMajor: number,
  findings: Findings,
): void {
  findings.ran('extension-not-on-aurora');
  const list = auroraExtensions(auroraMajor);
  const which = list.exact
    ? `Aurora PostgreSQL ${list.major}`
    : `Aurora PostgreSQL ${list.requested} (Ferry's list has no ${list.requested}; checked against ${list.major})`;
  for (const e of extensions) {
    if (list.extensions.has(e.name)) continue;
    findings.add(
      'extension-not-on-aurora',
      objectName.extension(e.name),
      `extension ${e.name} ${e.version} is installed in the source database but is not on the extension list of ${which} (${AURORA_EXTENSIONS_SOURCE})`,
      `remove the dependency on ${e.name} (DROP EXTENSION ${quoteIdent(e.name)} after moving the objects that use it) ` +
        `or replace it with a supported extension; if Aurora has added it since, add it to src/assessment/aurora.ts`,
    );
  }
}

/** Every source extension must be installable on the target, preferably in the same version. */
export async function checkTargetExtensions(
  extensions: SourceExtension[],
  target: Client,
  targetConn: PgConnInfo,
  findings: Findings,
): Promise<void> {
  findings.ran('target-extension-missing', 'target-extension-version');
  if (extensions.length === 0) return;
  try {
    const { rows } = await target.query<{ name: string; versions: string[]; installed: string | null }>(
      `SELECT a.name, a.installed_version AS installed,
              COALESCE((SELECT array_agg(v.version::text ORDER BY v.version)
                          FROM pg_catalog.pg_available_extension_versions v WHERE v.name = a.name), '{}') AS versions
         FROM pg_catalog.pg_available_extensions a WHERE a.name = ANY ($1::text[])`,
      [extensions.map((e) => e.name)],
    );
    const available = new Map(rows.map((r) => [r.name, r]));
    for (const e of extensions) {
      const a = available.get(e.name);
      const object = objectName.extension(e.name);
      if (!a) {
        findings.add(
          'target-extension-missing',
          object,
          `extension ${e.name} ${e.version} is installed in the source database, but target ${targetConn.endpointId} cannot install it (not in pg_available_extensions)`,
        );
      } else if (!a.versions.includes(e.version) && a.installed !== e.version) {
        findings.add(
          'target-extension-version',
          object,
          `extension ${e.name} is ${e.version} on the source; target ${targetConn.endpointId} offers ${a.versions.join(', ') || 'no version'}${a.installed ? ` (installed: ${a.installed})` : ''}`,
          `ALTER EXTENSION ${quoteIdent(e.name)} UPDATE TO ${quoteLiteral(a.versions[a.versions.length - 1] ?? e.version)} on the source if that version exists there, or install ${e.name} ${e.version} on the target`,
        );
      }
    }
  } catch (err) {
    findings.add(
      'assessment-check-failed',
      objectName.endpoint(targetConn.endpointId),
      `listing available extensions failed: ${errorText(err, targetConn)}`,
    );
  }
}

// Everything CDC needs on the source besides streaming: a preflight that reports every problem with the
// exact change that fixes it, the publication and the logical replication slot, and reports of slots
// (an abandoned slot keeps WAL on the source until its disk fills).
//
// Order of operations, and why: checkCdcSource/assertCdcReady → ensurePublication → the slot (createSlot,
// or holdSnapshot's CREATE_REPLICATION_SLOT for full-load-and-cdc). pgoutput decodes each change with
// the catalog as it was when the change was written, so:
//   - a change written before the publication existed cannot be decoded at all (PostgreSQL 12-17 stop
//     with `publication "x" does not exist`): the publication must exist before the slot's first change;
//   - a change to a table written before the table joined the publication is skipped silently.
// Hence the publication rule of the preflight: when a slot is still to be created, a missing publication
// or missing tables are only `info` (ensurePublication fixes them first); when the migration continues
// from an existing slot ('cdc' mode), they are errors, because fixing them now cannot bring back the
// changes in between: the advice is to fix the publication and start from a new slot.
import { bytes } from '../../mapping/explain';
import type { Client } from 'pg';
import { ErrorType, FerryError } from '../../errors';
import type { MigrationPlan } from '../../mapping/types';
import { type PgConnInfo, classifyPgError, connectPg, describeEndpoint } from '../connection';
import { displayName, migrationObjectName, qualify, quoteIdent, quoteLiteral } from '../ident';
import { compareLsn, isLsn } from './types';

export type CdcMode = 'full-load-and-cdc' | 'cdc';

export interface CdcFinding {
  /** `error` blocks CDC; `warning` may lose or distort data the operator should know of; `info` is what Ferry will do. */
  severity: 'error' | 'warning' | 'info';
  /** What the finding is about: `setting wal_level`, `role ferry`, `table public.orders`, `slot ferry_x`, ... */
  object: string;
  message: string;
  /** The exact change that fixes it (SQL or configuration), or '' for info. */
  advice: string;
}

export interface CdcPreflight {
  findings: CdcFinding[];
  /** `server_version` of the source, e.g. '13.14'. */
  serverVersion: string;
  /** The slot named by `slotName`, if it exists (whatever its type or database). */
  slot?: SlotInfo;
}

export interface CdcSourceOptions {
  slotName: string;
  publication: string;
  /**
   * full-load-and-cdc: the slot is created with the load's snapshot, so it must not exist yet.
   * cdc: continue from the slot if it exists (from `startLsn` when given), else create it now.
   */
  mode: CdcMode;
  /** cdc only: where to start (DMS CdcStartPosition); requires the slot to exist and to still hold it. */
  startLsn?: string;
}

/** A replication slot as pg_replication_slots shows it. */
export interface SlotInfo {
  name: string;
  type: 'logical' | 'physical';
  /** Output plugin ('pgoutput', 'test_decoding', ...); '' for a physical slot. */
  plugin: string;
  /** Database the slot decodes; '' for a physical slot. */
  database: string;
  /** A session is streaming from it right now. */
  active: boolean;
  activePid?: number;
  /** Everything before this LSN was confirmed by the consumer and is gone from the slot. */
  confirmedFlushLsn?: string;
  /** Oldest WAL the slot keeps. */
  restartLsn?: string;
  /** pg_current_wal_lsn() - restart_lsn: WAL the server keeps on disk for this slot alone, in bytes. */
  retainedWalBytes: number;
  /** PostgreSQL 13+: reserved | extended | unreserved | lost ('lost': the WAL it needs is removed). */
  walStatus?: string;
}

/** Slot names allow lower-case letters, digits and underscores only, up to NAMEDATALEN-1 bytes. */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
const DEFAULT_PREFIX = 'ferry_';

/** SQLSTATEs decided on (never message text). */
const DUPLICATE_OBJECT = '42710';
const CONFIGURATION_LIMIT_EXCEEDED = '53400';
const OBJECT_NOT_IN_PREREQUISITE_STATE = '55000';
const INSUFFICIENT_PRIVILEGE = '42501';

// ---- Names ------------------------------------------------------------------------------------------

/**
 * `ferry_<migration>`: lower case, [a-z0-9_] only (the only characters a slot name may have), at most
 * 63 bytes. When that loses information (other characters, upper case, or too long) a hash of the full
 * name is appended, so two migrations never share a slot. Stable: the same migration always gets the
 * same name, which is how a restarted run finds its slot.
 */
export function defaultSlotName(migration: string): string {
  return ferryName(migration);
}

/** The publication named like the slot (defaultSlotName), so an operator sees which belong together. */
export function defaultPublicationName(migration: string): string {
  return ferryName(migration);
}

function ferryName(migration: string): string {
  return migrationObjectName(DEFAULT_PREFIX, migration);
}

function checkSlotName(slotName: string): void {
  if (!SLOT_NAME.test(slotName)) {
    throw new FerryError(
      ErrorType.CONFIG_INVALID,
      `replication slot name ${JSON.stringify(slotName)} is invalid: PostgreSQL allows only lower-case letters, ` +
        `digits and "_", at most 63 characters; use e.g. ${defaultSlotName(slotName || 'migration')}`,
    );
  }
}

/** The planned tables CDC captures: views and materialized views have no changes to publish. */
export function cdcTables(plan: MigrationPlan): { schema: string; name: string }[] {
  const seen = new Set<string>();
  const out: { schema: string; name: string }[] = [];
  for (const t of plan.tables) {
    if (t.source.kind === 'view') continue;
    const key = displayName(t.source.schema, t.source.name);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ schema: t.source.schema, name: t.source.name });
  }
  return out;
}

// ---- Catalog reads shared by the preflight and ensurePublication ------------------------------------

interface ServerFacts {
  version: string;
  num: number;
  standby: boolean;
  walLevel: string;
  maxSlots: number;
  maxSenders: number;
  usedSlots: number;
  usedSenders: number;
  /** rds.logical_replication is a known setting: Amazon RDS or Aurora. */
  rds: boolean;
  user: string;
  database: string;
  superuser: boolean;
  replication: boolean;
  rdsReplication: boolean;
  canCreate: boolean;
  inactiveSlots: string[];
}

const SERVER_SQL = `
SELECT pg_catalog.current_setting('server_version') AS version,
       pg_catalog.current_setting('server_version_num')::int AS num,
       pg_catalog.pg_is_in_recovery() AS standby,
       pg_catalog.current_setting('wal_level') AS wal_level,
       pg_catalog.current_setting('max_replication_slots')::int AS max_slots,
       pg_catalog.current_setting('max_wal_senders')::int AS max_senders,
       (SELECT count(*) FROM pg_catalog.pg_replication_slots)::int AS used_slots,
       (SELECT count(*) FROM pg_catalog.pg_stat_replication)::int AS used_senders,
       pg_catalog.current_setting('rds.logical_replication', true) AS rds_logical,
       current_user AS "user", pg_catalog.current_database() AS db,
       r.rolsuper AS superuser, r.rolreplication AS replication,
       COALESCE((SELECT bool_or(pg_catalog.pg_has_role(current_user, x.oid, 'MEMBER'))
                   FROM pg_catalog.pg_roles x WHERE x.rolname = 'rds_replication'), false) AS rds_replication,
       pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') AS can_create,
       COALESCE((SELECT array_agg(s.slot_name::text ORDER BY s.slot_name)
                   FROM pg_catalog.pg_replication_slots s WHERE NOT s.active), '{}') AS inactive_slots
  FROM pg_catalog.pg_roles r
 WHERE r.rolname = current_user`;

async function readServer(client: Client): Promise<ServerFacts> {
  const { rows } = await client.query<{
    version: string;
    num: number;
    standby: boolean;
    wal_level: string;
    max_slots: number;
    max_senders: number;
    used_slots: number;
    used_senders: number;
    rds_logical: string | null;
    user: string;
    db: string;
    superuser: boolean;
    replication: boolean;
    rds_replication: boolean;
    can_create: boolean;
    inactive_slots: string[];
  }>(SERVER_SQL);
  const r = rows[0];
  return {
    version: r.version,
    num: Number(r.num),
    standby: r.standby,
    walLevel: r.wal_level,
    maxSlots: Number(r.max_slots),
    maxSenders: Number(r.max_senders),
    usedSlots: Number(r.used_slots),
    usedSenders: Number(r.used_senders),
    rds: r.rds_logical !== null,
    user: r.user,
    database: r.db,
    superuser: r.superuser,
    replication: r.replication,
    rdsReplication: r.rds_replication,
    canCreate: r.can_create,
    inactiveSlots: r.inactive_slots,
  };
}

interface IdentityFacts {
  /** pg_class.relreplident: d(efault), n(othing), f(ull), i(ndex). */
  replident: string;
  hasPk: boolean;
  hasIdentIndex: boolean;
}

interface LeafFacts extends IdentityFacts {
  schema: string;
  name: string;
}

interface TableFacts extends IdentityFacts {
  schema: string;
  name: string;
  key: string;
  exists: boolean;
  oid?: string;
  /** pg_class.relkind: r, p, v, m, f. */
  relkind?: string;
  unlogged: boolean;
  canSelect: boolean;
  /** The user is (or inherits) the owner: needed to put the table into a publication. */
  owns: boolean;
  /** Partitioned: its leaf partitions, whose replica identity is what UPDATE/DELETE use. */
  leaves: LeafFacts[];
}

const TABLES_SQL = `
SELECT w.ord::int AS ord, c.oid::int8::text AS oid, c.relkind::text AS relkind,
       c.relpersistence::text AS persistence, c.relreplident::text AS replident,
       COALESCE(pg_catalog.has_schema_privilege(n.oid, 'USAGE') AND pg_catalog.has_table_privilege(c.oid, 'SELECT'), false) AS can_select,
       COALESCE(pg_catalog.pg_has_role(c.relowner, 'USAGE'), false) AS owns,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_ident_index
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema, name, ord)
  LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
  LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
 ORDER BY w.ord`;

/** Leaf partitions (ordinary tables) of partitioned tables, PostgreSQL 12+ (pg_partition_tree). */
const LEAVES_SQL = `
SELECT r.root::text AS root, n.nspname AS schema, l.relname AS name, l.relreplident::text AS replident,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = l.oid AND i.indisprimary) AS has_pk,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = l.oid AND i.indisreplident) AS has_ident_index
  FROM unnest($1::oid[]) AS r(root)
  CROSS JOIN LATERAL pg_catalog.pg_partition_tree(r.root::pg_catalog.regclass) pt
  JOIN pg_catalog.pg_class l ON l.oid = pt.relid
  JOIN pg_catalog.pg_namespace n ON n.oid = l.relnamespace
 WHERE pt.isleaf AND l.relkind = 'r'
 ORDER BY 1, 2, 3`;

async function readTables(
  client: Client,
  tables: readonly { schema: string; name: string }[],
  serverNum: number,
): Promise<TableFacts[]> {
  const { rows } = await client.query<{
    ord: number;
    oid: string | null;
    relkind: string | null;
    persistence: string | null;
    replident: string | null;
    can_select: boolean;
    owns: boolean;
    has_pk: boolean;
    has_ident_index: boolean;
  }>(TABLES_SQL, [tables.map((t) => t.schema), tables.map((t) => t.name)]);
  const facts: TableFacts[] = rows.map((r) => {
    const t = tables[Number(r.ord) - 1];
    return {
      schema: t.schema,
      name: t.name,
      key: displayName(t.schema, t.name),
      exists: r.oid !== null,
      oid: r.oid ?? undefined,
      relkind: r.relkind ?? undefined,
      unlogged: r.persistence === 'u',
      canSelect: r.can_select,
      owns: r.owns,
      replident: r.replident ?? 'd',
      hasPk: r.has_pk,
      hasIdentIndex: r.has_ident_index,
      leaves: [],
    };
  });
  const roots = facts.filter((f) => f.relkind === 'p' && f.oid);
  if (roots.length && serverNum >= 120000) {
    const { rows: leaves } = await client.query<{
      root: string;
      schema: string;
      name: string;
      replident: string;
      has_pk: boolean;
      has_ident_index: boolean;
    }>(LEAVES_SQL, [roots.map((f) => f.oid)]);
    for (const l of leaves) {
      roots
        .find((f) => f.oid === l.root)
        ?.leaves.push({
          schema: l.schema,
          name: l.name,
          replident: l.replident,
          hasPk: l.has_pk,
          hasIdentIndex: l.has_ident_index,
        });
    }
  }
  return facts;
}

/** Why UPDATE/DELETE of the table cannot be captured, or undefined when its replica identity serves. */
function identityProblem(f: IdentityFacts): string | undefined {
  switch (f.replident) {
    case 'f':
      return undefined;
    case 'i':
      return f.hasIdentIndex
        ? undefined
        : 'its REPLICA IDENTITY USING INDEX names an index that no longer exists';
    case 'n':
      return 'its REPLICA IDENTITY is NOTHING';
    default:
      return f.hasPk ? undefined : 'it has no primary key and its REPLICA IDENTITY is DEFAULT';
  }
}

function identityAdvice(schema: string, name: string): string {
  const q = qualify(schema, name);
  return (
    `add a primary key (ALTER TABLE ${q} ADD PRIMARY KEY (<key columns>)), or ALTER TABLE ${q} REPLICA IDENTITY FULL ` +
    `(the whole old row goes to WAL: more WAL per UPDATE/DELETE), or ALTER TABLE ${q} REPLICA IDENTITY USING INDEX ` +
    `<a unique index on NOT NULL columns>`
  );
}

/** Tables (or leaf partitions) whose UPDATE/DELETE cannot be captured, as findings. */
function identityFindings(t: TableFacts): CdcFinding[] {
  const why =
    'the source cannot say which row an UPDATE or DELETE changed, so CDC cannot apply them, and once the ' +
    'table is in a publication PostgreSQL refuses UPDATE and DELETE on it';
  if (t.relkind === 'p') {
    return t.leaves.flatMap((l) => {
      const problem = identityProblem(l);
      return problem
        ? [
            {
              severity: 'error' as const,
              object: `table ${t.key}`,
              message: `partition ${displayName(l.schema, l.name)} of ${t.key}: ${problem}; ${why}`,
              advice: identityAdvice(l.schema, l.name),
            },
          ]
        : [];
    });
  }
  const problem = identityProblem(t);
  return problem
    ? [
        {
          severity: 'error',
          object: `table ${t.key}`,
          message: `${t.key}: ${problem}; ${why}`,
          advice: identityAdvice(t.schema, t.name),
        },
      ]
    : [];
}

interface PublicationFacts {
  oid: string;
  allTables: boolean;
  insert: boolean;
  update: boolean;
  delete: boolean;
  truncate: boolean;
  viaRoot: boolean;
  owns: boolean;
  owner: string;
  /** Tables pgoutput sends changes under (pg_publication_tables), by displayName. */
  published: Set<string>;
  /** Tables put into the publication by name (pg_publication_rel), by oid. */
  members: Map<string, { rowFilter: boolean; columnList: boolean }>;
  /** PostgreSQL 15+: schemas published whole (FOR TABLES IN SCHEMA), by oid. */
  schemas: Set<string>;
}

// to_jsonb(row) reads columns that only some versions have (pubtruncate 11+, pubviaroot 13+,
// prqual/prattrs 15+) without a query per version: a missing key reads as NULL.
const PUBLICATION_SQL = `
SELECT p.oid::int8::text AS oid, p.puballtables AS all_tables, p.pubinsert AS ins, p.pubupdate AS upd,
       p.pubdelete AS del, COALESCE((pg_catalog.to_jsonb(p) ->> 'pubtruncate')::boolean, false) AS trunc,
       COALESCE((pg_catalog.to_jsonb(p) ->> 'pubviaroot')::boolean, false) AS via_root,
       pg_catalog.pg_has_role(p.pubowner, 'USAGE') AS owns, pg_catalog.pg_get_userbyid(p.pubowner) AS owner
  FROM pg_catalog.pg_publication p
 WHERE p.pubname = $1`;

const PUBLICATION_MEMBERS_SQL = `
SELECT pr.prrelid::int8::text AS relid,
       (pg_catalog.to_jsonb(pr) ->> 'prqual') IS NOT NULL AS row_filter,
       (pg_catalog.to_jsonb(pr) ->> 'prattrs') IS NOT NULL AS column_list
  FROM pg_catalog.pg_publication_rel pr
 WHERE pr.prpubid = $1::oid`;

async function readPublication(
  client: Client,
  name: string,
  serverNum: number,
): Promise<PublicationFacts | undefined> {
  const { rows } = await client.query<{
    oid: string;
    all_tables: boolean;
    ins: boolean;
    upd: boolean;
    del: boolean;
    trunc: boolean;
    via_root: boolean;
    owns: boolean;
    owner: string;
  }>(PUBLICATION_SQL, [name]);
  const p = rows[0];
  if (!p) return undefined;
  const published = await client.query<{ schema: string; name: string }>(
    `SELECT schemaname AS schema, tablename AS name FROM pg_catalog.pg_publication_tables WHERE pubname = $1`,
    [name],
  );
  const members = await client.query<{ relid: string; row_filter: boolean; column_list: boolean }>(
    PUBLICATION_MEMBERS_SQL,
    [p.oid],
  );
  const schemas =
    serverNum >= 150000
      ? (
          await client.query<{ nsp: string }>(
            `SELECT pn.pnnspid::int8::text AS nsp FROM pg_catalog.pg_publication_namespace pn WHERE pn.pnpubid = $1::oid`,
            [p.oid],
          )
        ).rows.map((r) => r.nsp)
      : [];
  return {
    oid: p.oid,
    allTables: p.all_tables,
    insert: p.ins,
    update: p.upd,
    delete: p.del,
    truncate: p.trunc,
    viaRoot: p.via_root,
    owns: p.owns,
    owner: p.owner,
    published: new Set(published.rows.map((r) => displayName(r.schema, r.name))),
    members: new Map(
      members.rows.map((r) => [r.relid, { rowFilter: r.row_filter, columnList: r.column_list }]),
    ),
    schemas: new Set(schemas),
  };
}

// ---- Slots ------------------------------------------------------------------------------------------

const SLOTS_SQL = `
SELECT s.slot_name::text AS name, s.slot_type AS type, COALESCE(s.plugin::text, '') AS plugin,
       COALESCE(s.database::text, '') AS database, s.active, s.active_pid,
       s.confirmed_flush_lsn::text AS confirmed_flush_lsn, s.restart_lsn::text AS restart_lsn,
       pg_catalog.to_jsonb(s) ->> 'wal_status' AS wal_status,
       COALESCE(pg_catalog.pg_wal_lsn_diff(
         CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
              ELSE pg_catalog.pg_current_wal_lsn() END,
         s.restart_lsn), 0)::int8::text AS retained
  FROM pg_catalog.pg_replication_slots s`;

type SlotRow = {
  name: string;
  type: string;
  plugin: string;
  database: string;
  active: boolean;
  active_pid: number | null;
  confirmed_flush_lsn: string | null;
  restart_lsn: string | null;
  wal_status: string | null;
  retained: string;
};

function toSlotInfo(r: SlotRow): SlotInfo {
  const s: SlotInfo = {
    name: r.name,
    type: r.type === 'physical' ? 'physical' : 'logical',
    plugin: r.plugin,
    database: r.database,
    active: r.active,
    retainedWalBytes: Math.max(0, Number(r.retained)),
  };
  if (r.active_pid !== null) s.activePid = Number(r.active_pid);
  if (r.confirmed_flush_lsn) s.confirmedFlushLsn = r.confirmed_flush_lsn;
  if (r.restart_lsn) s.restartLsn = r.restart_lsn;
  if (r.wal_status) s.walStatus = r.wal_status;
  return s;
}

async function readSlot(client: Client, slotName: string): Promise<SlotInfo | undefined> {
  const { rows } = await client.query<SlotRow>(`${SLOTS_SQL} WHERE s.slot_name = $1`, [slotName]);
  return rows[0] ? toSlotInfo(rows[0]) : undefined;
}

function describeSlot(s: SlotInfo): string {
  const state = s.active ? `active (streaming to pid ${s.activePid ?? '?'})` : 'inactive';
  const kind = s.type === 'physical' ? 'physical slot' : `logical slot of plugin ${s.plugin}`;
  return (
    `${kind}${s.database ? ` in database ${s.database}` : ''}, ${state}, retaining ${bytes(s.retainedWalBytes)} of WAL` +
    (s.confirmedFlushLsn ? `, confirmed up to ${s.confirmedFlushLsn}` : '')
  );
}

/** The slot, or undefined when there is none of that name on the server. */
export async function slotInfo(conn: PgConnInfo, slotName: string): Promise<SlotInfo | undefined> {
  return withClient(conn, 'ferry-cdc-source', (c) => readSlot(c, slotName));
}

/**
 * Every logical slot on the server (all databases) whose name starts with `prefix`, by name: what
 * reports list as Ferry's slots, with the WAL each keeps, so an abandoned one is seen and dropped.
 */
export async function listFerrySlots(conn: PgConnInfo, prefix = DEFAULT_PREFIX): Promise<SlotInfo[]> {
  return withClient(conn, 'ferry-cdc-source', async (c) => {
    const { rows } = await c.query<SlotRow>(
      `${SLOTS_SQL} WHERE s.slot_type = 'logical' AND pg_catalog.left(s.slot_name::text, pg_catalog.length($1)) = $1
        ORDER BY s.slot_name`,
      [prefix],
    );
    return rows.map(toSlotInfo);
  });
}

/**
 * Create the logical slot `slotName` (pgoutput) with SQL, starting now: for 'cdc' without a start
 * position. (full-load-and-cdc creates its slot with the load's snapshot instead, see holdSnapshot.)
 * Waits until the transactions running on the server end, as every new slot does: a long open
 * transaction delays it. Create the publication first (ensurePublication).
 * @throws REPLICATION_SLOT_EXISTS when the name is taken; REPLICATION_NOT_READY when wal_level is not
 * logical or every slot is in use; PRIVILEGE_MISSING without the REPLICATION attribute.
 */
export async function createSlot(
  conn: PgConnInfo,
  slotName: string,
): Promise<{ slotName: string; lsn: string }> {
  checkSlotName(slotName);
  return withClient(conn, 'ferry-cdc-source', async (c) => {
    try {
      const { rows } = await c.query<{ slot_name: string; lsn: string }>(
        `SELECT slot_name::text AS slot_name, lsn::text AS lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')`,
        [slotName],
      );
      return { slotName: rows[0].slot_name, lsn: rows[0].lsn };
    } catch (err) {
      const code = (err as { code?: string }).code;
      const where = describeEndpoint(conn);
      const detail = ` (server said: ${(err as Error).message})`;
      if (code === DUPLICATE_OBJECT) {
        const existing = await readSlot(c, slotName).catch(() => undefined);
        throw new FerryError(
          ErrorType.REPLICATION_SLOT_EXISTS,
          `${where}: replication slot "${slotName}" already exists${existing ? ` (${describeSlot(existing)})` : ''}; ` +
            `to continue from it run migrationType cdc with cdcStartPosition at or after its confirmed position, ` +
            `to start over drop it (SELECT pg_drop_replication_slot(${quoteLiteral(slotName)})), or pick another slotName`,
          { cause: err },
        );
      }
      if (code === CONFIGURATION_LIMIT_EXCEEDED) {
        throw new FerryError(
          ErrorType.REPLICATION_NOT_READY,
          `${where}: all replication slots are in use; drop slots nobody uses (SELECT pg_drop_replication_slot('<name>'), ` +
            `see pg_replication_slots) or raise max_replication_slots and restart the server${detail}`,
          { cause: err },
        );
      }
      if (code === OBJECT_NOT_IN_PREREQUISITE_STATE) {
        throw new FerryError(
          ErrorType.REPLICATION_NOT_READY,
          `${where}: the server cannot create a logical slot now; ${walLevelAdvice(false)}${detail}`,
          { cause: err },
        );
      }
      if (code === INSUFFICIENT_PRIVILEGE) {
        throw new FerryError(
          ErrorType.PRIVILEGE_MISSING,
          `${where}: user ${conn.user} may not create replication slots; ${replicationAdvice(conn.user, false)}${detail}`,
          { cause: err },
        );
      }
      throw err;
    }
  });
}

/** pg_current_wal_lsn() (on a standby: the last replayed LSN). */
export async function currentWalLsn(conn: PgConnInfo): Promise<string> {
  return withClient(conn, 'ferry-cdc-source', (c) => readCurrentLsn(c));
}

/** The server's WAL position on an open session (a standby's replay position). */
export async function readCurrentLsn(c: Client): Promise<string> {
  const { rows } = await c.query<{ lsn: string }>(
    `SELECT (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
                  ELSE pg_catalog.pg_current_wal_lsn() END)::text AS lsn`,
  );
  return rows[0].lsn;
}

// ---- Publication ------------------------------------------------------------------------------------

/**
 * Make publication `name` publish `tables`: CREATE PUBLICATION ... FOR TABLE ... (PostgreSQL 13+: WITH
 * (publish_via_partition_root = true), so a partitioned table is listed itself, not its partitions, and
 * its changes arrive under its own name); when it exists, ALTER PUBLICATION ... ADD TABLE for the ones
 * it lacks (also how tables new to the selection join), and publish_via_partition_root is switched on
 * if a partitioned table is listed. Views are left out (no changes). `added` names the tables this call
 * put in (all of them when `created`). Idempotent.
 *
 * Refuses (REPLICATION_NOT_READY) to add a table without a usable replica identity: PostgreSQL would
 * then refuse the application's UPDATE and DELETE on it. Needs CREATE on the database and ownership of
 * the tables (and of the publication to alter it), as PostgreSQL requires.
 * @throws SCHEMA_MISMATCH when a table does not exist.
 */
export async function ensurePublication(
  conn: PgConnInfo,
  name: string,
  tables: { schema: string; name: string }[],
): Promise<{ created: boolean; added: string[] }> {
  return withClient(conn, 'ferry-cdc-source', async (c) => {
    // ADD TABLE waits for a SHARE UPDATE EXCLUSIVE lock; behind an ALTER TABLE or VACUUM FULL it would
    // hang: give up instead (55P03, classified as retryable).
    await c.query(`SELECT pg_catalog.set_config('lock_timeout', '30s', false)`);
    const server = await readServer(c);
    const where = describeEndpoint(conn);
    if (server.num < 100000) {
      throw new FerryError(
        ErrorType.REPLICATION_NOT_READY,
        `${where}: PostgreSQL ${server.version} has no publications (logical replication needs 10 or later)`,
      );
    }
    const facts = await readTables(c, tables, server.num);
    const missing = facts.filter((f) => !f.exists);
    if (missing.length) {
      throw new FerryError(
        ErrorType.SCHEMA_MISMATCH,
        `${where}: cannot publish ${missing.map((f) => f.key).join(', ')}: no such table; recompile the plan ` +
          `against the current source catalog`,
      );
    }
    const publishable = facts.filter((f) => f.relkind === 'r' || f.relkind === 'p');
    const hasPartitioned = publishable.some((f) => f.relkind === 'p');
    if (hasPartitioned && server.num < 130000) {
      throw new FerryError(
        ErrorType.REPLICATION_NOT_READY,
        `${where}: PostgreSQL ${server.version} cannot publish partitioned tables ` +
          `(${publishable
            .filter((f) => f.relkind === 'p')
            .map((f) => f.key)
            .join(', ')}); select their partitions ` +
          `as tables instead, or upgrade the source to PostgreSQL 13 or later`,
      );
    }
    const pub = await readPublication(c, name, server.num);
    const toAdd = pub ? publishable.filter((f) => !isMember(pub, f)) : publishable;
    const noIdentity = toAdd.flatMap(identityFindings);
    if (noIdentity.length) {
      throw new FerryError(
        ErrorType.REPLICATION_NOT_READY,
        `${where}: not adding tables to publication "${name}": ` +
          noIdentity.map((f) => `${f.message}; fix: ${f.advice}`).join('\n'),
      );
    }
    const list = toAdd.map((f) => qualify(f.schema, f.name)).join(', ');
    if (!pub) {
      const withRoot = server.num >= 130000 ? ' WITH (publish_via_partition_root = true)' : '';
      try {
        await c.query(
          `CREATE PUBLICATION ${quoteIdent(name)}${toAdd.length ? ` FOR TABLE ${list}` : ''}${withRoot}`,
        );
        return { created: true, added: toAdd.map((f) => f.key) };
      } catch (err) {
        // Another worker created it between our read and our CREATE: extend theirs below.
        if ((err as { code?: string }).code !== DUPLICATE_OBJECT) throw err;
        return ensureExisting(c, name, publishable, server.num);
      }
    }
    return ensureExisting(c, name, publishable, server.num);
  });
}

async function ensureExisting(
  c: Client,
  name: string,
  publishable: TableFacts[],
  serverNum: number,
): Promise<{ created: boolean; added: string[] }> {
  const pub = await readPublication(c, name, serverNum);
  if (!pub) throw new Error(`publication ${name} vanished while being extended`);
  if (serverNum >= 130000 && !pub.viaRoot && publishable.some((f) => f.relkind === 'p')) {
    await c.query(`ALTER PUBLICATION ${quoteIdent(name)} SET (publish_via_partition_root = true)`);
  }
  const toAdd = publishable.filter((f) => !isMember(pub, f));
  if (toAdd.length) {
    await c.query(
      `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${toAdd.map((f) => qualify(f.schema, f.name)).join(', ')}`,
    );
  }
  return { created: false, added: toAdd.map((f) => f.key) };
}

/** Put into the publication by name, by FOR ALL TABLES or (15+) by its schema. */
function isMember(pub: PublicationFacts, t: TableFacts): boolean {
  return pub.allTables || (!!t.oid && pub.members.has(t.oid)) || pub.published.has(t.key);
}

/** DROP PUBLICATION IF EXISTS; true when there was one. */
export async function dropPublication(conn: PgConnInfo, name: string): Promise<boolean> {
  return withClient(conn, 'ferry-cdc-source', async (c) => {
    const { rows } = await c.query(`SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1`, [name]);
    await c.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
    return rows.length > 0;
  });
}

// ---- Preflight --------------------------------------------------------------------------------------

function walLevelAdvice(rds: boolean): string {
  const generic = `run ALTER SYSTEM SET wal_level = logical as a superuser and restart PostgreSQL (a reload is not enough)`;
  const aws =
    `on Amazon RDS / Aurora set rds.logical_replication = 1 in the DB (cluster) parameter group and reboot ` +
    `the instance (the writer for Aurora)`;
  return rds ? `${aws}; elsewhere ${generic}` : `${generic}; ${aws}`;
}

function replicationAdvice(user: string, rds: boolean): string {
  const generic = `as a superuser run ALTER ROLE ${quoteIdent(user)} REPLICATION`;
  const aws = `on Amazon RDS / Aurora run GRANT rds_replication TO ${quoteIdent(user)}`;
  return rds ? `${aws} (elsewhere ${generic})` : `${generic} (${aws})`;
}

/**
 * Check the source for CDC under `opts`, collecting every problem (never stops at the first): server
 * version and wal_level, free slots and WAL senders, the REPLICATION attribute, SELECT on the tables,
 * replica identity of every table (of every partition of a partitioned one), the slot as the mode needs
 * it, the start position, and the publication (see the file comment for when its gaps are errors).
 * Changes nothing on the source. The caller decides what to do with the findings (assertCdcReady
 * throws on errors).
 */
export async function checkCdcSource(
  conn: PgConnInfo,
  plan: MigrationPlan,
  opts: CdcSourceOptions,
): Promise<CdcPreflight> {
  return withClient(conn, 'ferry-cdc-preflight', async (c) => {
    const findings: CdcFinding[] = [];
    const add = (severity: CdcFinding['severity'], object: string, message: string, advice = '') =>
      findings.push({ severity, object, message, advice });
    const where = describeEndpoint(conn);
    const server = await readServer(c);
    const slotObject = `slot ${opts.slotName}`;
    const pubObject = `publication ${opts.publication}`;

    // Server: version, role in replication, wal_level.
    if (server.num < 100000) {
      add(
        'error',
        'server',
        `${where} runs PostgreSQL ${server.version}, which has no logical replication`,
        'upgrade the source to PostgreSQL 12 or later (Ferry supports 12+)',
      );
      return { findings, serverVersion: server.version };
    }
    if (server.standby) {
      add(
        'error',
        'server',
        `${where} is a standby (in recovery); PostgreSQL before 16 decodes changes only on the primary`,
        'point the source endpoint at the primary (the writer endpoint on Aurora)',
      );
    }
    if (server.walLevel !== 'logical') {
      add(
        'error',
        'setting wal_level',
        `wal_level is ${server.walLevel}; logical decoding needs wal_level = logical`,
        walLevelAdvice(server.rds),
      );
    }
    checkSlotNameFinding(opts.slotName, add);

    // The slot as the mode needs it.
    const slot = await readSlot(c, opts.slotName);
    let slotWillBeCreated = false;
    if (opts.mode === 'full-load-and-cdc') {
      if (opts.startLsn !== undefined) {
        add(
          'warning',
          slotObject,
          `a start position (${opts.startLsn}) is ignored by full-load-and-cdc: CDC starts where the load's snapshot ends`,
          'remove cdcStartPosition, or use migrationType cdc to continue from an existing slot',
        );
      }
      if (slot) {
        add(
          'error',
          slotObject,
          `replication slot ${opts.slotName} already exists (${describeSlot(slot)}); full-load-and-cdc creates ` +
            `its slot together with the load's snapshot and cannot use one made earlier`,
          `drop it if nothing needs it (SELECT pg_drop_replication_slot(${quoteLiteral(opts.slotName)})), or pick ` +
            `another slotName, or continue from it with migrationType cdc and cdcStartPosition` +
            (slot.confirmedFlushLsn ? ` ${slot.confirmedFlushLsn} (its confirmed position)` : ''),
        );
      } else {
        slotWillBeCreated = true;
      }
    } else if (!slot) {
      if (opts.startLsn !== undefined) {
        add(
          'error',
          slotObject,
          `cdcStartPosition ${opts.startLsn} needs replication slot ${opts.slotName}, which does not exist on ${where}: ` +
            `PostgreSQL keeps changes only for a slot created before them, so the changes since ${opts.startLsn} cannot be read`,
          `check slotName (inactive slots on the server: ${server.inactiveSlots.join(', ') || 'none inactive'}); or remove ` +
            `cdcStartPosition to capture changes from now on (a new slot is created), or run full-load-and-cdc`,
        );
      } else {
        slotWillBeCreated = true;
      }
    } else {
      slotFindings(slot, opts, server, where, add);
      if (opts.startLsn !== undefined) await startLsnFindings(c, slot, opts, add);
    }

    // Capacity and the REPLICATION attribute.
    if (slotWillBeCreated && server.usedSlots >= server.maxSlots) {
      add(
        'error',
        'setting max_replication_slots',
        `all ${server.maxSlots} replication slots are in use; Ferry needs one more for ${opts.slotName}`,
        `drop slots nobody uses (inactive now: ${server.inactiveSlots.join(', ') || 'none'}; SELECT ` +
          `pg_drop_replication_slot('<name>')) or raise max_replication_slots and restart the server ` +
          `(on RDS / Aurora: in the parameter group)`,
      );
    }
    if (server.usedSenders >= server.maxSenders) {
      add(
        'error',
        'setting max_wal_senders',
        `all ${server.maxSenders} WAL senders are busy (${server.usedSenders} replication connections); ` +
          `CDC streams through one`,
        `raise max_wal_senders and restart the server (on RDS / Aurora: in the parameter group), or end ` +
          `replication connections nobody uses (pg_stat_replication)`,
      );
    }
    if (!server.superuser && !server.replication && !server.rdsReplication) {
      add(
        'error',
        `role ${server.user}`,
        `role ${server.user} has no REPLICATION attribute; it cannot ${slotWillBeCreated ? 'create a replication slot or ' : ''}` +
          `stream changes`,
        replicationAdvice(server.user, server.rds),
      );
    }

    // Tables: exist, readable, WAL-logged, with a replica identity.
    const planned = cdcTables(plan);
    for (const t of plan.tables) {
      if (t.source.kind === 'view') {
        add(
          'warning',
          `view ${displayName(t.source.schema, t.source.name)}`,
          `${displayName(t.source.schema, t.source.name)} is a view: the full load copies it, CDC captures no ` +
            `changes of it, so the target copy goes stale`,
          'exclude the view from the selection, or reload it before cutover',
        );
      }
    }
    const facts = await readTables(c, planned, server.num);
    for (const t of facts) {
      const object = `table ${t.key}`;
      if (!t.exists) {
        add(
          'error',
          object,
          `${t.key} is in the plan but not on the source`,
          'recompile the plan against the current source catalog',
        );
        continue;
      }
      if (t.relkind === 'v' || t.relkind === 'm') {
        add(
          'warning',
          `view ${t.key}`,
          `${t.key} is a ${t.relkind === 'm' ? 'materialized view' : 'view'}: CDC captures no changes of it`,
          'exclude it from the selection, or reload it before cutover',
        );
        continue;
      }
      if (!t.canSelect) {
        add(
          'error',
          object,
          `user ${server.user} cannot read ${t.key} (CDC reads it for the load and to publish its changes)`,
          `GRANT USAGE ON SCHEMA ${quoteIdent(t.schema)} TO ${quoteIdent(server.user)}; ` +
            `GRANT SELECT ON ${qualify(t.schema, t.name)} TO ${quoteIdent(server.user)}`,
        );
      }
      if (t.unlogged) {
        add(
          'error',
          object,
          `${t.key} is UNLOGGED: its changes never reach the WAL, so CDC cannot see them (and it cannot be published)`,
          `ALTER TABLE ${qualify(t.schema, t.name)} SET LOGGED`,
        );
      }
      if (t.relkind === 'p' && server.num < 130000) {
        add(
          'error',
          object,
          `${t.key} is partitioned; PostgreSQL ${server.version} cannot publish partitioned tables`,
          'select its partitions as tables instead, or upgrade the source to PostgreSQL 13 or later',
        );
      }
      findings.push(...identityFindings(t));
    }

    // Publication.
    await publicationFindings(c, opts, server, facts, slot, slotWillBeCreated, pubObject, add);

    if (slot && opts.mode === 'cdc' && slot.type === 'logical' && slot.database === server.database) {
      add('info', slotObject, `CDC continues from slot ${opts.slotName} (${describeSlot(slot)})`);
    } else if (slotWillBeCreated) {
      add(
        'info',
        slotObject,
        opts.mode === 'full-load-and-cdc'
          ? `Ferry creates slot ${opts.slotName} with the load's snapshot`
          : `Ferry creates slot ${opts.slotName} now; changes from then on are captured`,
      );
    }
    return { findings, serverVersion: server.version, ...(slot ? { slot } : {}) };
  });
}

type AddFinding = (
  severity: CdcFinding['severity'],
  object: string,
  message: string,
  advice?: string,
) => void;

function checkSlotNameFinding(slotName: string, add: AddFinding): void {
  if (SLOT_NAME.test(slotName)) return;
  add(
    'error',
    `slot ${slotName}`,
    `${JSON.stringify(slotName)} is not a valid replication slot name (lower-case letters, digits and "_", at most 63)`,
    `set slotName to e.g. ${defaultSlotName(slotName || 'migration')}`,
  );
}

/** An existing slot that 'cdc' mode would continue from. */
function slotFindings(
  slot: SlotInfo,
  opts: CdcSourceOptions,
  server: ServerFacts,
  where: string,
  add: AddFinding,
): void {
  const object = `slot ${slot.name}`;
  const drop = `SELECT pg_drop_replication_slot(${quoteLiteral(slot.name)})`;
  if (slot.type !== 'logical' || slot.plugin !== 'pgoutput') {
    add(
      'error',
      object,
      `replication slot ${slot.name} is a ${describeSlot(slot)}; Ferry streams from logical slots of plugin pgoutput`,
      `pick another slotName, or drop it if nothing uses it (${drop}) and let Ferry create it`,
    );
    return;
  }
  if (slot.database !== server.database) {
    add(
      'error',
      object,
      `replication slot ${slot.name} decodes database ${slot.database}, not ${server.database} of ${where}`,
      `pick another slotName, or point the migration at database ${slot.database}`,
    );
    return;
  }
  if (slot.walStatus === 'lost') {
    add(
      'error',
      object,
      `replication slot ${slot.name} is invalidated: the WAL it needs was removed (max_slot_wal_keep_size), ` +
        `its changes are gone`,
      `drop it (${drop}) and start over with full-load-and-cdc`,
    );
  } else if (slot.walStatus === 'unreserved') {
    add(
      'warning',
      object,
      `replication slot ${slot.name} retains more WAL than max_slot_wal_keep_size allows; the server may remove ` +
        `WAL it needs at the next checkpoint`,
      'start CDC now, or raise max_slot_wal_keep_size',
    );
  }
  if (slot.active) {
    add(
      'error',
      object,
      `replication slot ${slot.name} is in use by another session (pid ${slot.activePid ?? '?'}); a slot streams to one session at a time`,
      `stop that consumer; if it is a dead Ferry run, end it with SELECT pg_terminate_backend(${slot.activePid ?? '<pid>'})`,
    );
  }
}

async function startLsnFindings(
  c: Client,
  slot: SlotInfo,
  opts: CdcSourceOptions,
  add: AddFinding,
): Promise<void> {
  const start = opts.startLsn ?? '';
  const object = `slot ${slot.name}`;
  if (!isLsn(start)) {
    add(
      'error',
      'cdcStartPosition',
      `cdcStartPosition ${JSON.stringify(start)} is not an LSN`,
      `write it as PostgreSQL prints LSNs, e.g. ${slot.confirmedFlushLsn ?? '0/16B3748'}`,
    );
    return;
  }
  if (slot.type !== 'logical' || slot.plugin !== 'pgoutput') return;
  if (slot.confirmedFlushLsn && compareLsn(start, slot.confirmedFlushLsn) < 0) {
    add(
      'error',
      object,
      `cdcStartPosition ${start} is before ${slot.confirmedFlushLsn}, the position slot ${slot.name} has confirmed; ` +
        `the changes in between are gone from the slot`,
      `start at ${slot.confirmedFlushLsn} or later if the target already holds every change up to it, ` +
        `otherwise reload with full-load-and-cdc`,
    );
  }
  const current = await readCurrentLsn(c);
  if (compareLsn(start, current) > 0) {
    add(
      'error',
      object,
      `cdcStartPosition ${start} is past the end of the source's WAL (${current}); it was not taken from this server`,
      `use a position this server printed (slot ${slot.name} is at ${slot.confirmedFlushLsn ?? '?'})`,
    );
  }
}

async function publicationFindings(
  c: Client,
  opts: CdcSourceOptions,
  server: ServerFacts,
  facts: TableFacts[],
  slot: SlotInfo | undefined,
  slotWillBeCreated: boolean,
  object: string,
  add: AddFinding,
): Promise<void> {
  const tables = facts.filter((t) => t.exists && (t.relkind === 'r' || t.relkind === 'p'));
  const pub = await readPublication(c, opts.publication, server.num);
  const pubName = quoteIdent(opts.publication);
  const withRoot = server.num >= 130000 ? ' WITH (publish_via_partition_root = true)' : '';
  const createSql = `CREATE PUBLICATION ${pubName} FOR TABLE ${tables.map((t) => qualify(t.schema, t.name)).join(', ')}${withRoot}`;
  // Continuing from an existing slot: fixing the publication now cannot recover the changes before.
  const continuing = opts.mode === 'cdc' && !!slot && !slotWillBeCreated;
  const notOwned = tables.filter((t) => !t.owns);
  const ownerAdvice = (sql: string) =>
    `have the owner run ${sql}, or grant user ${server.user} the owning role (GRANT <owner> TO ${quoteIdent(server.user)})`;

  if (!pub) {
    if (continuing) {
      add(
        'error',
        object,
        `publication ${opts.publication} does not exist, but slot ${opts.slotName} does: changes the slot holds from ` +
          `before the publication exists cannot be decoded with it`,
        `${createSql}; then drop the slot (SELECT pg_drop_replication_slot(${quoteLiteral(opts.slotName)})) and ` +
          `start from a new one (cdc without cdcStartPosition after the target is in sync, or full-load-and-cdc)`,
      );
      return;
    }
    if (!tables.length) return;
    const cannot: string[] = [];
    if (!server.canCreate) cannot.push(`user ${server.user} lacks CREATE on database ${server.database}`);
    if (notOwned.length)
      cannot.push(`user ${server.user} does not own ${notOwned.map((t) => t.key).join(', ')}`);
    if (cannot.length) {
      add(
        'error',
        object,
        `Ferry cannot create publication ${opts.publication}: ${cannot.join('; ')} (PostgreSQL requires both)`,
        ownerAdvice(createSql),
      );
    } else {
      add(
        'info',
        object,
        `Ferry creates publication ${opts.publication} for ${tables.length} table(s) before the slot`,
      );
    }
    return;
  }

  if (!pub.insert || !pub.update || !pub.delete) {
    const off = [
      !pub.insert ? 'insert' : '',
      !pub.update ? 'update' : '',
      !pub.delete ? 'delete' : '',
    ].filter((x) => x);
    add(
      'error',
      object,
      `publication ${opts.publication} does not publish ${off.join(', ')}; those changes would never reach the target`,
      `ALTER PUBLICATION ${pubName} SET (publish = 'insert, update, delete, truncate')`,
    );
  } else if (!pub.truncate && server.num >= 110000) {
    add(
      'warning',
      object,
      `publication ${opts.publication} does not publish truncate; a TRUNCATE on the source leaves the target rows in place`,
      `ALTER PUBLICATION ${pubName} SET (publish = 'insert, update, delete, truncate')`,
    );
  }

  for (const t of tables) {
    const member = t.oid ? pub.members.get(t.oid) : undefined;
    if (member?.rowFilter || member?.columnList) {
      add(
        'error',
        `table ${t.key}`,
        `publication ${opts.publication} publishes ${t.key} with a ${member.rowFilter ? 'row filter' : 'column list'}; ` +
          `changes outside it never reach the target`,
        `ALTER PUBLICATION ${pubName} SET TABLE ... without WHERE / column list for ${qualify(t.schema, t.name)} ` +
          `(or DROP TABLE and ADD TABLE ${qualify(t.schema, t.name)}); filter with the mapping's rules instead`,
      );
    }
  }

  // Tables pgoutput would not send under their own name.
  const partitionedUnderLeaves = tables.filter(
    (t) => t.relkind === 'p' && !pub.viaRoot && !pub.published.has(t.key) && isMember(pub, t),
  );
  const missing = tables.filter((t) => !isMember(pub, t));
  const hidden = tables.filter(
    (t) => isMember(pub, t) && !pub.published.has(t.key) && !partitionedUnderLeaves.includes(t),
  );
  const severity = continuing ? 'error' : 'info';
  const lost = continuing
    ? ` Changes since slot ${opts.slotName}'s position were decoded without them and are skipped, so fixing ` +
      `the publication now leaves a gap`
    : '';
  const restart = continuing
    ? `; then reload those tables (or drop the slot and start over with full-load-and-cdc)`
    : '';
  if (partitionedUnderLeaves.length && server.num >= 130000) {
    const sql = `ALTER PUBLICATION ${pubName} SET (publish_via_partition_root = true)`;
    const what =
      `publication ${opts.publication} sends changes of ${partitionedUnderLeaves.map((t) => t.key).join(', ')} ` +
      `under their partitions' names (publish_via_partition_root is off)`;
    if (continuing) add('error', object, `${what}.${lost}`, `${sql}${restart}`);
    else if (!pub.owns) {
      add(
        'error',
        object,
        `${what}; Ferry cannot switch it on: user ${server.user} does not own the publication (owner: ${pub.owner})`,
        ownerAdvice(sql),
      );
    } else add('info', object, `${what}; Ferry switches it on before creating the slot`);
  }
  if (missing.length) {
    const addSql = `ALTER PUBLICATION ${pubName} ADD TABLE ${missing.map((t) => qualify(t.schema, t.name)).join(', ')}`;
    const missingOwned = missing.filter((t) => !t.owns);
    if (!continuing && (!pub.owns || missingOwned.length)) {
      const cannot: string[] = [];
      if (!pub.owns) cannot.push(`user ${server.user} does not own the publication (owner: ${pub.owner})`);
      if (missingOwned.length) {
        cannot.push(`user ${server.user} does not own ${missingOwned.map((t) => t.key).join(', ')}`);
      }
      add(
        'error',
        object,
        `publication ${opts.publication} lacks ${missing.map((t) => t.key).join(', ')} and Ferry cannot add them: ` +
          `${cannot.join('; ')}`,
        ownerAdvice(addSql),
      );
    } else {
      add(
        severity,
        object,
        `publication ${opts.publication} lacks ${missing.map((t) => t.key).join(', ')}` +
          (continuing ? '.' + lost : '; Ferry adds them before creating the slot'),
        continuing ? `${addSql}${restart}` : '',
      );
    }
  }
  if (hidden.length) {
    add(
      'error',
      object,
      `publication ${opts.publication} sends changes of ${hidden.map((t) => t.key).join(', ')} under the name of ` +
        `a partitioned table it also publishes (publish_via_partition_root), not under their own`,
      `select the partitioned table instead of its partitions, or remove it from the publication ` +
        `(ALTER PUBLICATION ${pubName} DROP TABLE <parent>)`,
    );
  }
}

/**
 * checkCdcSource, then throw one REPLICATION_NOT_READY error listing every error finding with its fix
 * (warnings and infos are returned, not thrown).
 */
export async function assertCdcReady(
  conn: PgConnInfo,
  plan: MigrationPlan,
  opts: CdcSourceOptions,
): Promise<CdcPreflight> {
  const result = await checkCdcSource(conn, plan, opts);
  const errors = result.findings.filter((f) => f.severity === 'error');
  if (errors.length) {
    throw new FerryError(
      ErrorType.REPLICATION_NOT_READY,
      `${describeEndpoint(conn)} is not ready for CDC (slot ${opts.slotName}, publication ${opts.publication}, ` +
        `${opts.mode}); fix ${errors.length === 1 ? 'this' : `these ${errors.length} problems`} and start again:\n` +
        errors.map((f) => `- ${f.object}: ${f.message}. Fix: ${f.advice}`).join('\n'),
    );
  }
  return result;
}

// ---- Sessions ---------------------------------------------------------------------------------------

async function withClient<T>(conn: PgConnInfo, app: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await connectPg(conn, app);
  try {
    return await fn(client);
  } catch (err) {
    throw classifyPgError(err, conn);
  } finally {
    await client.end().catch(() => undefined);
  }
}

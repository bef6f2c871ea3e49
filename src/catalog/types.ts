// Catalog glossary. A *refresh* discovers every source endpoint once and stores one *fact sheet* per
// database (what the server said, merged with the inventory's owners and SLA); a *change* is the
// difference between two consecutive refreshes that someone (the database's owners) should hear about.
import type { Owner, Sla } from '../config/schema';
import type { ErrorType } from '../errors';

export interface TableSize {
  schema: string;
  name: string;
  /** pg_total_relation_size: heap, indexes, TOAST. */
  bytes: number;
  /** pg_class.reltuples estimate; -1 when never analyzed. */
  rowsEstimate: number;
}

export interface ReplicationReadiness {
  walLevel: string;
  maxReplicationSlots: number;
  freeSlots: number;
  maxWalSenders: number;
  freeSenders: number;
  /** The endpoint's user has REPLICATION (or is superuser, or rds_replication on RDS/Aurora). */
  replicationPrivilege: boolean;
}

/** Everything a refresh learned about one database; plain JSON (stored as jsonb). */
export interface DatabaseFacts {
  endpoint: string;
  database: string;
  /** Listed in ferry.yaml's inventory. */
  inInventory: boolean;
  application?: string;
  owners: Owner[];
  sla: Sla;
  tags: Record<string, string>;
  /** Ferry could connect to it and read its facts. */
  reachable: boolean;
  /** Why not, when unreachable: the classified error (never a password). */
  error?: { type: ErrorType | string; message: string };
  serverVersion?: string;
  serverVersionNum?: number;
  sizeBytes?: number;
  extensions?: { name: string; version: string }[];
  tables?: number;
  largestTables?: TableSize[];
  /** Commits + rollbacks per second over the sampling interval. */
  xactPerSecond?: number;
  replication?: ReplicationReadiness;
}

export interface Readiness {
  ready: boolean;
  /** Empty when ready; each says what is wrong and what to do. */
  reasons: string[];
}

export const CHANGE_KINDS = [
  'new-database',
  'database-gone',
  'size-jump',
  'new-extension',
  'lost-connectivity',
  'regained-connectivity',
  'version-change',
] as const;
export type CatalogChangeKind = (typeof CHANGE_KINDS)[number];

export interface CatalogChange {
  kind: CatalogChangeKind;
  endpoint: string;
  database: string;
  /** One sentence naming database, endpoint and what changed. */
  text: string;
  /** Who to tell: the inventory owners (empty for a database not in the inventory). */
  owners: Owner[];
  application?: string;
  before?: unknown;
  after?: unknown;
}

export interface DiffThresholds {
  /** A size change counts when it exceeds this fraction of the previous size... default 0.2. */
  sizeJumpRatio: number;
  /** ...and this many bytes; default 100 MiB. */
  sizeJumpBytes: number;
}

export const DEFAULT_THRESHOLDS: DiffThresholds = { sizeJumpRatio: 0.2, sizeJumpBytes: 100 * 1024 * 1024 };

// The premigration assessment's rule catalogue, as data: every finding the assessment can report has a
// rule here with a stable kebab-case id (operators, approvals and stored runs refer to it: never rename
// one), a severity, what it checks and the advice that fixes it. The checks themselves live next door
// (connectivity.ts, source.ts, cdc.ts, data-types.ts, target.ts, mapping.ts) and name rules by id.
//
// Severities, as DMS premigration assessments use them:
//   blocker  the migration fails or loses data if started now; the run stops until fixed or overridden
//   warning  it runs, but something is lost, changed or slower than expected: read before approving
//   info     what Ferry will do, or a fact to know (an estimate, a type worth a look)

import type { ErrorType } from '../errors';

export type Severity = 'blocker' | 'warning' | 'info';
export type MigrationType = 'full-load' | 'full-load-and-cdc' | 'cdc';
export type RuleCategory =
  'connectivity' | 'source' | 'cdc' | 'data-types' | 'target' | 'mapping' | 'assessment';

export interface Rule {
  /** Stable kebab-case id; findings, stored runs and overrides refer to it. */
  id: string;
  severity: Severity;
  category: RuleCategory;
  title: string;
  /** What the check looks at, in a sentence. */
  checks: string;
  /** What to do about a finding of this rule (a finding may carry more exact advice, e.g. the SQL). */
  advice: string;
  /** Migration types the rule applies to; all when absent. */
  migrationTypes?: readonly MigrationType[];
  /**
   * A blocker no approval can override: the migration's own step refuses it anyway (it cannot connect,
   * the mapping does not compile, the source cannot replicate...). A workflow fails at once with this
   * error type instead of waiting at gate `assessment` for an override that would change nothing.
   */
  fails?: ErrorType;
}

const CDC_TYPES = ['full-load-and-cdc', 'cdc'] as const;

const CATALOGUE = [
  // ---- connectivity and TLS -------------------------------------------------------------------------
  {
    id: 'endpoint-connection-refused',
    severity: 'blocker',
    fails: 'ENDPOINT_UNREACHABLE',
    category: 'connectivity',
    title: 'Connection refused',
    checks:
      'A TCP connection to the endpoint host and port is refused (ECONNREFUSED): nothing listens there.',
    advice:
      "Check the endpoint's host and port in ferry.yaml, that PostgreSQL runs, and that it listens on that " +
      'address (listen_addresses, port in postgresql.conf; on Aurora use the cluster endpoint and port 5432 unless changed).',
  },
  {
    id: 'endpoint-connect-timeout',
    severity: 'blocker',
    fails: 'ENDPOINT_UNREACHABLE',
    category: 'connectivity',
    title: 'Connection attempt timed out',
    checks: 'The endpoint does not answer within the connect timeout (packets dropped, or the server hangs).',
    advice:
      "Allow TCP to the endpoint's port from Ferry's workers: firewalls, security groups (inbound rule on the " +
      "DB cluster's security group), network ACLs, routes/VPN; then check the server is not overloaded.",
  },
  {
    id: 'endpoint-dns',
    severity: 'blocker',
    fails: 'ENDPOINT_UNREACHABLE',
    category: 'connectivity',
    title: 'Host name does not resolve',
    checks: 'The endpoint host name has no DNS answer (ENOTFOUND / EAI_AGAIN).',
    advice:
      "Fix the endpoint's host in ferry.yaml (for Aurora: the cluster endpoint shown by the RDS console), or the " +
      'DNS resolver of the workers (private hosted zone, VPC DNS resolution).',
  },
  {
    id: 'endpoint-no-route',
    severity: 'blocker',
    fails: 'ENDPOINT_UNREACHABLE',
    category: 'connectivity',
    title: 'No route to the endpoint',
    checks:
      'The network reports the host or network unreachable (EHOSTUNREACH / ENETUNREACH) or resets the connection.',
    advice: 'Fix routing between the workers and the endpoint (VPC peering, VPN, route tables, subnet).',
  },
  {
    id: 'endpoint-unavailable',
    severity: 'blocker',
    fails: 'ENDPOINT_UNREACHABLE',
    category: 'connectivity',
    title: 'Server not accepting connections',
    checks:
      'The server answers but refuses sessions for now (too many connections, starting up, shutting down).',
    advice:
      'Free connections (pg_stat_activity) or raise max_connections; wait for the server to finish starting; then assess again.',
  },
  {
    id: 'endpoint-pg-hba',
    severity: 'blocker',
    fails: 'AUTH_FAILED',
    category: 'connectivity',
    title: 'Rejected by pg_hba.conf',
    checks:
      "The server's host-based authentication has no line accepting this user, database and address (or a reject line matches).",
    advice:
      "Add a pg_hba.conf line for the user and database from the workers' address (host ... scram-sha-256, or " +
      'hostssl if TLS is required) and SELECT pg_reload_conf(); on RDS/Aurora this is the security group and ' +
      'rds.force_ssl (set sslmode: require).',
  },
  {
    id: 'endpoint-auth-failed',
    severity: 'blocker',
    fails: 'AUTH_FAILED',
    category: 'connectivity',
    title: 'Authentication failed',
    checks: 'The password is refused, the role does not exist, or it may not log in.',
    advice:
      "Check the endpoint's password secret reference holds the current password, that the role exists " +
      '(\\du) and has LOGIN (ALTER ROLE ... LOGIN).',
  },
  {
    id: 'endpoint-database-missing',
    severity: 'blocker',
    fails: 'DATABASE_MISSING',
    category: 'connectivity',
    title: 'Database does not exist',
    checks: 'The database named by the endpoint or the migration does not exist on the server.',
    advice:
      "Fix the database name of the endpoint (or the migration's database), or create it: CREATE DATABASE ... " +
      '(the target database must exist before the load).',
  },
  {
    id: 'endpoint-tls-unavailable',
    severity: 'blocker',
    fails: 'ENDPOINT_UNREACHABLE',
    category: 'connectivity',
    title: 'TLS required but not offered',
    checks:
      "The endpoint's sslmode requires TLS (require, verify-ca, verify-full) and the server has no TLS.",
    advice:
      'Enable TLS on the server (ssl = on with a certificate), or lower sslmode to prefer/disable for this endpoint ' +
      'if plain text is acceptable on that network.',
  },
  {
    id: 'endpoint-tls-certificate',
    severity: 'blocker',
    fails: 'ENDPOINT_UNREACHABLE',
    category: 'connectivity',
    title: 'TLS certificate not trusted',
    checks:
      "The server's certificate does not verify against sslrootcert (or names another host for verify-full), or sslrootcert cannot be read.",
    advice:
      'Point sslrootcert at the CA bundle that signed the server certificate (Aurora/RDS: the global-bundle.pem ' +
      'from AWS), and for verify-full connect by the name in the certificate.',
  },
  {
    id: 'endpoint-plaintext',
    severity: 'warning',
    category: 'connectivity',
    title: 'Connection not encrypted',
    checks:
      'The session is not encrypted (pg_stat_ssl.ssl is false) and sslmode (disable, allow, prefer or unset) does not demand TLS.',
    advice:
      'Enable TLS on the server and set sslmode: verify-full with sslrootcert (Aurora: rds.force_ssl = 1 and the ' +
      'RDS CA bundle), or accept plain text only on a trusted network.',
  },
  {
    id: 'endpoint-tls',
    severity: 'info',
    category: 'connectivity',
    title: 'Connection encrypted',
    checks: 'The session is encrypted; reports the TLS version and cipher from pg_stat_ssl.',
    advice: 'Nothing to do; use sslmode verify-full so the server certificate is checked as well.',
  },
  {
    id: 'endpoint-checks-skipped',
    severity: 'info',
    category: 'connectivity',
    title: 'Checks skipped',
    checks: 'Checks that need an endpoint (or a compiled mapping) that is not available were not run.',
    advice: 'Fix the blocking findings above and assess again; the skipped checks then run.',
  },

  // ---- source ---------------------------------------------------------------------------------------
  {
    id: 'source-version',
    severity: 'blocker',
    category: 'source',
    title: 'Source PostgreSQL too old',
    checks: 'The source server is PostgreSQL 12 or later (what Ferry supports).',
    advice: 'Upgrade the source to PostgreSQL 12 or later (pg_upgrade) before migrating with Ferry.',
  },
  {
    id: 'source-select-privilege',
    severity: 'blocker',
    fails: 'PRIVILEGE_MISSING',
    category: 'source',
    title: 'Source table not readable',
    checks: 'The source user has USAGE on the schema and SELECT on every selected table.',
    advice: 'GRANT USAGE ON SCHEMA <schema> TO <user>; GRANT SELECT ON <table> TO <user> (or use the owner).',
  },
  {
    id: 'source-table-without-key',
    severity: 'warning',
    category: 'source',
    title: 'Table without primary key',
    checks: 'A selected table has no primary key and no unique NOT NULL index.',
    advice:
      'Add a primary key on the source (ALTER TABLE ... ADD PRIMARY KEY), or a define-primary-key rule for the ' +
      'target: without one, validation cannot match rows by key and the target table has no key either.',
    migrationTypes: ['full-load'],
  },
  {
    id: 'source-unlogged-table',
    severity: 'warning',
    category: 'source',
    title: 'Unlogged table',
    checks:
      'A selected table is UNLOGGED: it is copied, but stays unlogged on the target, where a crash or failover empties it.',
    advice:
      'ALTER TABLE ... SET LOGGED (on the source before the load, or on the target after) if the data must survive a failover.',
    migrationTypes: ['full-load'],
  },
  {
    id: 'source-temp-table',
    severity: 'info',
    category: 'source',
    title: 'Temporary tables exist',
    checks:
      'Sessions on the source hold temporary tables; they belong to their session and are never migrated.',
    advice:
      'Nothing to migrate; if the application keeps data it needs in them, move that data into permanent tables.',
  },
  {
    id: 'source-large-objects',
    severity: 'warning',
    category: 'source',
    title: 'Large objects are not migrated',
    checks:
      'pg_largeobject_metadata holds large objects (lo_import / lo_create), which table copies do not carry.',
    advice:
      'Move them with pg_dump --large-objects (-b) into the target after the load and keep the oid columns ' +
      'pointing at them, or convert them to bytea columns before migrating.',
  },
  {
    id: 'source-lob-truncation',
    severity: 'warning',
    category: 'source',
    title: 'LOB values above LobMaxSize',
    checks:
      'In limited LOB mode, the largest sampled value of each LOB column (text, bytea, json, jsonb, xml, arrays) ' +
      "against TargetMetadata.LobMaxSize (or the table's lob-settings bulk-max-size).",
    advice:
      'Raise TargetMetadata.LobMaxSize above the largest value, add a table-settings lob-settings rule for the ' +
      'table, or set FullLobMode: true; otherwise those values are truncated on the target.',
  },

  // ---- CDC on the source (checkCdcSource, mapped) --------------------------------------------------
  {
    id: 'source-wal-level',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'wal_level is not logical',
    checks: 'Logical decoding needs wal_level = logical on the source.',
    advice:
      'ALTER SYSTEM SET wal_level = logical and restart PostgreSQL; on RDS/Aurora set rds.logical_replication = 1 ' +
      'in the parameter group and reboot.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'source-replication-slots',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'No free replication slot',
    checks: 'max_replication_slots leaves a slot free for the migration.',
    advice: 'Drop slots nobody uses (pg_drop_replication_slot) or raise max_replication_slots and restart.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'source-wal-senders',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'No free WAL sender',
    checks: 'max_wal_senders leaves a sender free for the CDC stream.',
    advice:
      'Raise max_wal_senders and restart, or end replication connections nobody uses (pg_stat_replication).',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'source-replication-privilege',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'Source user lacks REPLICATION',
    checks: 'The source user has the REPLICATION attribute (or rds_replication, or is a superuser).',
    advice: 'ALTER ROLE <user> REPLICATION as a superuser; on RDS/Aurora GRANT rds_replication TO <user>.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'cdc-server',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'Source server cannot decode changes',
    checks: 'The source is a primary (not a standby) of a version that can publish the selected tables.',
    advice:
      'Point the source endpoint at the primary (writer) and, for partitioned tables, use PostgreSQL 13 or later.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'cdc-replica-identity',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'Table without replica identity',
    checks:
      'Every selected table (every partition) has a primary key or a usable REPLICA IDENTITY, so UPDATE and DELETE can be captured.',
    advice:
      'ALTER TABLE ... ADD PRIMARY KEY, or ALTER TABLE ... REPLICA IDENTITY FULL, or REPLICA IDENTITY USING INDEX ' +
      '<unique index on NOT NULL columns>.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'cdc-unlogged-table',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'Unlogged table under CDC',
    checks: 'No selected table is UNLOGGED: its changes never reach the WAL, so CDC cannot see them.',
    advice: 'ALTER TABLE ... SET LOGGED, or exclude the table from a CDC migration.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'cdc-slot',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'Replication slot not usable',
    checks:
      "The migration's slot name is valid, and the slot is absent (full-load-and-cdc) or usable (cdc): logical, pgoutput, this database, not in use, not invalidated, holding the start position.",
    advice:
      'Follow the finding: drop or rename the slot, fix cdcStartPosition, or start over with full-load-and-cdc.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'cdc-publication',
    severity: 'blocker',
    fails: 'REPLICATION_NOT_READY',
    category: 'cdc',
    title: 'Publication not usable',
    checks:
      "The migration's publication exists or can be created, publishes insert/update/delete of every selected table, without row filters or column lists.",
    advice:
      'Follow the finding: the owner runs the CREATE/ALTER PUBLICATION it names, or Ferry is granted the owning role.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'cdc-view-not-captured',
    severity: 'warning',
    category: 'cdc',
    title: 'View selected under CDC',
    checks:
      'A selected view or materialized view is copied by the load but has no changes for CDC to capture.',
    advice: 'Exclude the view from the selection, or reload it before cutover.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'cdc-warning',
    severity: 'warning',
    category: 'cdc',
    title: 'CDC caveat',
    checks:
      'Other CDC conditions that lose or delay changes (truncate not published, slot retaining too much WAL, ignored start position).',
    advice: 'Apply the change the finding names before starting CDC.',
    migrationTypes: CDC_TYPES,
  },
  {
    id: 'cdc-plan',
    severity: 'info',
    category: 'cdc',
    title: 'What Ferry creates for CDC',
    checks: 'The slot and publication Ferry creates or continues from.',
    advice: 'Nothing to do; drop the slot when the migration is abandoned, a leaked slot keeps WAL forever.',
    migrationTypes: CDC_TYPES,
  },

  // ---- data types and database properties (SCT "supported data types") -------------------------------
  {
    id: 'type-user-defined-base',
    severity: 'blocker',
    category: 'data-types',
    title: 'User-defined base type',
    checks:
      'A selected column uses a base type created with CREATE TYPE ... (INPUT = ..., OUTPUT = ...) outside any extension: its functions are C code the target cannot load.',
    advice:
      'Aurora loads no user C code: change the column to a built-in type (or a domain/composite) on the source, or ' +
      'map it with a change-data-type rule to string, or package the type as a trusted language extension (pg_tle).',
  },
  {
    id: 'type-money',
    severity: 'warning',
    category: 'data-types',
    title: 'money column',
    checks: 'A selected column is of type money, whose text form depends on lc_monetary.',
    advice:
      'Make lc_monetary on the target equal the source (parameter group / ALTER DATABASE ... SET lc_monetary), or ' +
      'change the column to numeric(…,2) before migrating.',
  },
  {
    id: 'type-xml',
    severity: 'info',
    category: 'data-types',
    title: 'xml column',
    checks: 'A selected column is of type xml (a LOB to DMS, validated as text).',
    advice:
      'Nothing blocks; check documents above LobMaxSize and that the target was built with libxml (Aurora is).',
  },
  {
    id: 'type-tsvector',
    severity: 'info',
    category: 'data-types',
    title: 'Full-text search column',
    checks:
      'A selected column is tsvector/tsquery; the text search configurations it is built and queried with must exist on the target.',
    advice:
      'Create custom text search configurations, dictionaries and parsers on the target before the load (pg_dump them), and keep default_text_search_config equal.',
  },
  {
    id: 'type-timestamp-without-tz',
    severity: 'info',
    category: 'data-types',
    title: 'timestamp without time zone',
    checks:
      'A selected column is timestamp without time zone: its values carry no zone and are read in whatever zone the application assumes.',
    advice:
      "Consider timestamptz (ALTER TABLE ... TYPE timestamptz USING c AT TIME ZONE '<zone>') and keep the target TimeZone equal to the source.",
  },
  {
    id: 'extension-not-on-aurora',
    severity: 'blocker',
    category: 'data-types',
    title: 'Extension not supported by Aurora PostgreSQL',
    checks:
      "An extension installed in the source database is not on Aurora PostgreSQL's extension list for the target major version.",
    advice:
      'Remove the dependency on the extension (drop it and the objects using it) or replace it with a supported ' +
      'one; if Aurora has since added it, update src/assessment/aurora.ts.',
  },
  {
    id: 'encoding-mismatch',
    severity: 'blocker',
    category: 'data-types',
    title: 'Target encoding cannot hold the source text',
    checks: 'The target database encoding is UTF8 or equal to the source server encoding.',
    advice:
      "Create the target database with ENCODING 'UTF8' (TEMPLATE template0) and point the target endpoint at it.",
  },
  {
    id: 'encoding-sql-ascii',
    severity: 'warning',
    category: 'data-types',
    title: 'Source encoding SQL_ASCII',
    checks:
      'The source is SQL_ASCII, which stores any bytes unchecked; invalid sequences fail to load into an encoded target.',
    advice:
      'Find and fix invalid byte sequences on the source (or convert them) before the load; the load reports the rows it rejects.',
  },
  {
    id: 'collation-mismatch',
    severity: 'warning',
    category: 'data-types',
    title: 'Database collation differs',
    checks:
      'The default collation and character classification (datcollate, datctype) of source and target databases are equal.',
    advice:
      "Create the target database with the source's LC_COLLATE/LC_CTYPE (TEMPLATE template0), or accept that " +
      'ORDER BY, comparisons and unique indexes on text may behave differently.',
  },
  {
    id: 'collation-missing',
    severity: 'blocker',
    category: 'data-types',
    title: 'Column collation missing on target',
    checks: 'Every non-default collation used by a selected column exists on the target.',
    advice:
      'CREATE COLLATION on the target as the finding shows (same provider and locale), or change the column collation on the source.',
  },
  {
    id: 'mapping-type-narrowing',
    severity: 'warning',
    category: 'data-types',
    title: 'Transformation narrows a type',
    checks:
      'A change-data-type rule maps a column to a type with less precision, scale, range or length than the source.',
    advice:
      "Widen the rule's data-type to hold every source value, or check the source data fits (the load rejects or truncates values that do not).",
  },

  // ---- target ----------------------------------------------------------------------------------------
  {
    id: 'target-version-older',
    severity: 'blocker',
    category: 'target',
    title: 'Target older than source',
    checks:
      'The target server major version is at least the source major version (Ferry supports no major downgrade).',
    advice:
      'Create the target with the source major version or later (Aurora: choose the engine version accordingly).',
  },
  {
    id: 'target-table-not-empty',
    severity: 'blocker',
    category: 'target',
    title: 'Target table has rows and prep mode is DO_NOTHING',
    checks: 'With TargetTablePrepMode DO_NOTHING, target tables the load writes into are empty.',
    advice:
      'Empty the table (TRUNCATE), set TargetTablePrepMode to TRUNCATE_BEFORE_LOAD or DROP_AND_CREATE, or exclude it.',
    migrationTypes: ['full-load', 'full-load-and-cdc'],
  },
  {
    id: 'target-data-overwritten',
    severity: 'warning',
    category: 'target',
    title: 'Load replaces existing target data',
    checks:
      'With TargetTablePrepMode DROP_AND_CREATE or TRUNCATE_BEFORE_LOAD, target tables already holding rows.',
    advice:
      'Confirm the rows named may be lost (take a snapshot/backup first), or set TargetTablePrepMode DO_NOTHING.',
    migrationTypes: ['full-load', 'full-load-and-cdc'],
  },
  {
    id: 'target-table-missing',
    severity: 'blocker',
    category: 'target',
    title: 'Target table missing for CDC-only',
    checks:
      'A cdc-only migration applies changes to target tables that must already exist (loaded another way).',
    advice:
      'Load the tables first (full-load-and-cdc, or pg_dump/pg_restore) or fix the target names in the mapping.',
    migrationTypes: ['cdc'],
  },
  {
    id: 'target-create-privilege',
    severity: 'blocker',
    fails: 'PRIVILEGE_MISSING',
    category: 'target',
    title: 'Target user cannot create',
    checks:
      'The target user has CREATE on the database (new schemas) and on existing target schemas (new tables).',
    advice:
      'GRANT CREATE ON DATABASE <db> TO <user>; GRANT CREATE ON SCHEMA <schema> TO <user> (or use the owner).',
  },
  {
    id: 'target-free-space',
    severity: 'info',
    category: 'target',
    title: 'Space the target needs',
    checks:
      'Estimate of the target space: pg_total_relation_size of the selected source tables (indexes and TOAST included).',
    advice:
      'Aurora storage grows by itself (up to 128 TiB); on self-managed PostgreSQL check free space on the target ' +
      'data directory (SHOW data_directory; df -h there) against the estimate plus WAL headroom.',
  },
  {
    id: 'target-extension-missing',
    severity: 'blocker',
    category: 'target',
    title: 'Extension not available on target',
    checks: "Every extension installed in the source database is in the target's pg_available_extensions.",
    advice:
      'Install the extension package on the target server (or pick an Aurora version that ships it), then CREATE EXTENSION in the target database.',
  },
  {
    id: 'target-extension-version',
    severity: 'warning',
    category: 'target',
    title: 'Extension version not available on target',
    checks: "The source's installed extension version is among the target's available versions.",
    advice:
      'ALTER EXTENSION ... UPDATE on the source to a version the target has, or install that version on the target; objects may differ between versions.',
  },

  // ---- mapping and task settings (compilePlan findings, mapped) -------------------------------------
  {
    id: 'mapping-selection-empty',
    severity: 'blocker',
    fails: 'CONFIG_INVALID',
    category: 'mapping',
    title: 'Selection matches no table',
    checks: 'Each selection rule matches at least one source table, and the mapping selects at least one.',
    advice:
      'Fix the schema/table names or patterns of the selection rules (they are case-sensitive; % and _ are wildcards).',
  },
  {
    id: 'mapping-filter-column',
    severity: 'blocker',
    fails: 'CONFIG_INVALID',
    category: 'mapping',
    title: 'Filter names a missing column',
    checks: 'Every source filter of a selection rule names an existing column of the tables it selects.',
    advice: "Fix the column-name of the filter (names are case-sensitive) or the rule's table.",
  },
  {
    id: 'mapping-transformation-invalid',
    severity: 'blocker',
    fails: 'CONFIG_INVALID',
    category: 'mapping',
    title: 'Transformation produces an invalid column',
    checks:
      'Every transformation compiles and its column expressions and type conversions are accepted by the source (SELECT ... LIMIT 0).',
    advice:
      'Fix the rule: a data-type the source type can be cast to, an expression over existing columns, a valid name.',
  },
  {
    id: 'mapping-invalid',
    severity: 'blocker',
    fails: 'CONFIG_INVALID',
    category: 'mapping',
    title: 'Mapping error',
    checks: 'The table mapping compiles against the source catalog.',
    advice: 'Fix the rule the finding names.',
  },
  {
    id: 'mapping-cast-fails',
    severity: 'warning',
    category: 'mapping',
    title: 'Source values fail a conversion',
    checks:
      'Sampled source rows convert with the planned column expressions (change-data-type casts, add-column expressions).',
    advice:
      "Clean the values on the source, widen or change the rule's data-type, or filter the rows out; the load rejects them otherwise.",
  },
  {
    id: 'setting-not-supported',
    severity: 'warning',
    category: 'mapping',
    title: 'Task setting not supported',
    checks: 'Task-settings keys the native engine does not act on, or does not know.',
    advice: 'Remove the key or set it to its DMS default; it only takes effect on the aws-dms engine.',
  },
  {
    id: 'setting-effect',
    severity: 'warning',
    category: 'mapping',
    title: 'Task setting changes what is migrated',
    checks:
      'Task settings whose values leave data out or behave unlike the operator may expect (SupportLobs false, both LOB modes, ...).',
    advice: 'Read the finding and change the setting if that is not what you want.',
  },
  {
    id: 'mapping-warning',
    severity: 'warning',
    category: 'mapping',
    title: 'Mapping rule caveat',
    checks: 'Mapping rules that are overridden, match nothing, or behave differently from DMS.',
    advice: 'Fix or remove the rule the finding names.',
  },
  {
    id: 'mapping-note',
    severity: 'info',
    category: 'mapping',
    title: 'Mapping note',
    checks:
      'What the compiler decided where DMS documents nothing (partitions copied as tables, filters on patterns, ...).',
    advice: 'Nothing to do unless it is not what you intended.',
  },

  // ---- the assessment itself ------------------------------------------------------------------------
  {
    id: 'assessment-check-failed',
    severity: 'warning',
    category: 'assessment',
    title: 'A check could not run',
    checks:
      'A check failed with a database error (missing privilege on a catalog view, statement timeout, ...).',
    advice:
      "Fix the cause named in the finding (often a privilege of the assessing user) and assess again; the check's rules were not evaluated.",
  },
] as const satisfies readonly Rule[];

export type RuleId = (typeof CATALOGUE)[number]['id'];

/** Every rule, in catalogue order (connectivity, source, CDC, data types, target, mapping, assessment). */
export const RULES: readonly Rule[] = CATALOGUE;

const BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((r) => [r.id, r]));

/** The rule of `id`, or undefined for an id the catalogue does not have. */
export function findRule(id: string): Rule | undefined {
  return BY_ID.get(id);
}

/** The rule of a known id (throws for an unknown one: a programming error). */
export function getRule(id: RuleId): Rule {
  const r = BY_ID.get(id);
  if (!r) throw new Error(`assessment rule ${id} is not in the catalogue`);
  return r;
}

/** Whether a rule applies to the migration type. */
export function appliesTo(rule: Rule, type: MigrationType): boolean {
  return !rule.migrationTypes || rule.migrationTypes.includes(type);
}

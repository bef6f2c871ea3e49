// Aurora PostgreSQL's extension allow-list per major version, as data: an extension a source database
// uses that is not listed here for the target's major is reported as `extension-not-on-aurora`.
//
// Source: "Extension versions for Amazon Aurora PostgreSQL",
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraPostgreSQLReleaseNotes/AuroraPostgreSQL.Extensions.html
//
// A reasonable subset, majors 13–17, names only (not the per-minor versions): the extensions that page
// lists for every current minor of the major. Extensions added in a later minor of a major (vector,
// pg_tle, rds_tools, ...) are listed for the whole major; the target-extension-missing rule, which
// reads the real target's pg_available_extensions, catches an Aurora minor too old for one. When AWS
// adds an extension, add it here. Not on the list and never on Aurora: untrusted languages (plpython3u,
// plperlu, pltclu), file_fdw, adminpack, xml2, pg_surgery, old_snapshot, timescaledb, citus.

export const AURORA_EXTENSIONS_SOURCE =
  'https://docs.aws.amazon.com/AmazonRDS/latest/AuroraPostgreSQLReleaseNotes/AuroraPostgreSQL.Extensions.html';

/** Listed for Aurora PostgreSQL 13 through 17. */
const COMMON = [
  'address_standardizer',
  'address_standardizer_data_us',
  'amcheck',
  'apg_plan_mgmt',
  'aurora_stat_utils',
  'autoinc',
  'aws_commons',
  'aws_lambda',
  'aws_ml',
  'aws_s3',
  'bloom',
  'bool_plperl',
  'btree_gin',
  'btree_gist',
  'citext',
  'cube',
  'dblink',
  'dict_int',
  'dict_xsyn',
  'earthdistance',
  'fuzzystrmatch',
  'hll',
  'hstore',
  'hstore_plperl',
  'hypopg',
  'insert_username',
  'intagg',
  'intarray',
  'ip4r',
  'isn',
  'jsonb_plperl',
  'lo',
  'log_fdw',
  'ltree',
  'moddatetime',
  'mysql_fdw',
  'orafce',
  'pageinspect',
  'pg_bigm',
  'pg_buffercache',
  'pg_cron',
  'pg_freespacemap',
  'pg_hint_plan',
  'pg_partman',
  'pg_prewarm',
  'pg_proctab',
  'pg_repack',
  'pg_similarity',
  'pg_stat_statements',
  'pg_tle',
  'pg_trgm',
  'pg_visibility',
  'pgaudit',
  'pgcrypto',
  'pglogical',
  'pgrouting',
  'pgrowlocks',
  'pgstattuple',
  'pgtap',
  'plperl',
  'plpgsql',
  'plprofiler',
  'pltcl',
  'plv8',
  'postgis',
  'postgis_raster',
  'postgis_tiger_geocoder',
  'postgis_topology',
  'postgres_fdw',
  'prefix',
  'rdkit',
  'rds_tools',
  'refint',
  'seg',
  'sslinfo',
  'tablefunc',
  'tcn',
  'tds_fdw',
  'tsm_system_rows',
  'tsm_system_time',
  'unaccent',
  'uuid-ossp',
  'vector',
] as const;

/** Extension names per Aurora PostgreSQL major. */
export const AURORA_EXTENSIONS: Readonly<Record<number, readonly string[]>> = {
  // plcoffee and plls (plv8's CoffeeScript/LiveScript) were dropped with PostgreSQL 15.
  13: [...COMMON, 'plcoffee', 'plls'],
  14: [...COMMON, 'plcoffee', 'plls'],
  // pg_walinspect is new in PostgreSQL 15.
  15: [...COMMON, 'pg_walinspect'],
  16: [...COMMON, 'pg_walinspect'],
  17: [...COMMON, 'pg_walinspect'],
};

export interface AuroraExtensionList {
  /** The major whose list is used: `requested` when the data has it, else the nearest listed one. */
  major: number;
  requested: number;
  exact: boolean;
  extensions: ReadonlySet<string>;
}

/** The allow-list for `major`, or for the nearest major the data has (lower first) when it has none. */
export function auroraExtensions(major: number): AuroraExtensionList {
  const majors = Object.keys(AURORA_EXTENSIONS)
    .map(Number)
    .sort((a, b) => a - b);
  const used = AURORA_EXTENSIONS[major] ? major : ([...majors].reverse().find((m) => m < major) ?? majors[0]);
  return {
    major: used,
    requested: major,
    exact: used === major,
    extensions: new Set(AURORA_EXTENSIONS[used]),
  };
}

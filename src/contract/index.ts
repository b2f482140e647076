/**
 * The runtime contract: every name and default that the construct, the Lambda runtime and local mode must agree
 * on, defined once. CDK-free (plain constants), so `lambda-src/` and `local/` import it without pulling in
 * aws-cdk-lib. docs/design.md, "The runtime contract", explains each entry; the S3 layout itself is in
 * docs/contract.md §3.
 *
 * Internal: not exported from the package index (users configure the pipeline through the construct's props).
 */
export { SNAPSHOT_DATE_MIN, SNAPSHOT_DAYS_AHEAD, SNAPSHOT_PROJECTION_RANGE, snapshotDateMax, snapshotOutOfRange } from './snapshot-range';

/** The product's name: the first part of every pipeline name, service name and alarm name. */
export const PRODUCT_NAME = 'medlaunch-elt';

/** The Lambda handlers: `lambda-src/handlers/<name>.ts`, bundled to `assets/lambda/<name>/`. */
export const HANDLERS = ['validator', 'query-runner', 'publish-results'] as const;

/** One Lambda handler (asset) name. */
export type HandlerName = (typeof HANDLERS)[number];

/** The service name of a handler's logs (`POWERTOOLS_SERVICE_NAME`): what the construct sets and the runtime's fallback. */
export function serviceNameOf(handler: HandlerName): string {
  return `${PRODUCT_NAME}-${handler}`;
}

/** The default S3 prefix of every area of the data bucket (each is a construct prop of the same name). */
export const DEFAULT_PREFIXES = {
  rawPrefix: 'data/batch/',
  validatedPrefix: 'validated/',
  expiringPrefix: 'expiring/',
  quarantinePrefix: 'quarantine/',
  curatedPrefix: 'curated/facility_metrics/',
  resultsPrefix: 'results/state_counts/',
  productionPrefix: 'production/state_counts/',
  athenaResultsPrefix: 'athena-results/',
} as const;

/** One area of the data bucket, named as its construct prop. */
export type PrefixName = keyof typeof DEFAULT_PREFIXES;

/** The Lambda environment variable that carries each prefix. */
export const PREFIX_ENV: Readonly<Record<PrefixName, string>> = {
  rawPrefix: 'RAW_PREFIX',
  validatedPrefix: 'VALIDATED_PREFIX',
  expiringPrefix: 'EXPIRING_PREFIX',
  quarantinePrefix: 'QUARANTINE_PREFIX',
  curatedPrefix: 'CURATED_PREFIX',
  resultsPrefix: 'RESULTS_PREFIX',
  productionPrefix: 'PRODUCTION_PREFIX',
  athenaResultsPrefix: 'ATHENA_RESULTS_PREFIX',
};

/** The other Lambda environment variables the construct sets and the runtime reads. */
export const ENV = {
  dataBucket: 'DATA_BUCKET',
  glueDatabase: 'GLUE_DATABASE',
  validatedTable: 'VALIDATED_TABLE',
  curatedTable: 'CURATED_TABLE',
  athenaWorkgroup: 'ATHENA_WORKGROUP',
  athenaOutputLocation: 'ATHENA_OUTPUT_LOCATION',
  expiryMonths: 'EXPIRY_MONTHS',
  asOfDate: 'AS_OF_DATE',
  queryWaitSafetyMs: 'QUERY_WAIT_SAFETY_MS',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
} as const;

/** The Glue table over the validated NDJSON (fixed: the SQL names it). Its columns come from the record schema. */
export const VALIDATED_TABLE = 'validated_facilities';

/** The Glue table over the facility extract's Parquet (fixed: the SQL names it). */
export const CURATED_TABLE = 'facility_metrics';

/** A table column: name and Hive type. */
export interface ColumnDefinition {
  readonly name: string;
  readonly type: string;
}

/**
 * The facility extract's columns (`facility_metrics`), in the order `lambda-src/sql/facility_extract.sql` selects
 * them (the brief's five, then the earliest expiry of any accreditation); the table is partitioned by
 * `snapshot_date` besides.
 */
export const CURATED_COLUMNS: readonly ColumnDefinition[] = [
  { name: 'facility_id', type: 'string' },
  { name: 'facility_name', type: 'string' },
  { name: 'employee_count', type: 'int' },
  { name: 'number_of_offered_services', type: 'int' },
  { name: 'expiry_date_of_first_accreditation', type: 'date' },
  { name: 'earliest_accreditation_expiry', type: 'date' },
];

/**
 * The queries the query runner runs, as the state machine names them in its payload (`{query}`) and as their SQL
 * files are named (`lambda-src/sql/<name>.sql`).
 */
export const QUERY_NAMES = { facilityExtract: 'facility_extract', stateCounts: 'state_counts' } as const;

/** The snapshot ticket operations the state machine asks of the validator (`{coordination}`; docs/runtime.md). */
export const TICKET_OPERATIONS = { claim: 'claim', check: 'check' } as const;

/** The expiry window in calendar months: the construct's `expiryMonths`, `EXPIRY_MONTHS` and the CLI's `--months`. */
export const EXPIRY_MONTHS = { default: 6, min: 1, max: 120 } as const;

/** Time the query runner keeps back from its Lambda deadline (`QUERY_WAIT_SAFETY_MS`), in milliseconds. */
export const QUERY_WAIT_SAFETY_MS = 10_000;

/**
 * What the runtime falls back to when it runs without the construct's environment (the CLI's `expiring` command,
 * tests): the Glue database and the Athena workgroup. The construct always sets both.
 */
export const RUNTIME_FALLBACKS = { glueDatabase: 'medlaunch_elt', athenaWorkgroup: 'primary' } as const;

/**
 * The data file extensions (optionally gzip-compressed). Stage 2 reads any case; the construct's rule starts
 * executions for the lowercase spellings only (EventBridge wildcards are case-sensitive: docs/construct.md).
 */
export const DATA_FILE_EXTENSIONS = ['.jsonl', '.ndjson', '.json', '.jsonl.gz', '.ndjson.gz', '.json.gz'] as const;

/** True when the key names a data file: one of DATA_FILE_EXTENSIONS, in any case. */
export function isDataFileKey(key: string): boolean {
  const lower = key.toLowerCase();
  return DATA_FILE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

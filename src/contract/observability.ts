/**
 * The observability contract (issue: operability): the CloudWatch metrics the Lambdas emit through Powertools
 * Metrics (embedded metric format, no PutMetricData calls), the per-file summaries Stage 2 leaves behind, and the
 * run report the publisher writes for every published snapshot. The runtime emits and writes them, the construct
 * builds the dashboard and alarms on them, `medlaunch-elt report` and local mode read them. CDK-free.
 * docs/operability.md explains each metric and field.
 */

/** The pipeline name the runtime uses without the construct's `PIPELINE_NAME` (the CLI, tests). */
export const DEFAULT_PIPELINE_NAME = 'medlaunch-elt';

/** The CloudWatch namespace of every pipeline metric (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRICS_NAMESPACE = 'MedlaunchElt';

/**
 * The dimension every metric carries: the pipeline's name (`PIPELINE_NAME`, derived from the construct's path,
 * like the database and workgroup names). Dimensions stay low-cardinality: never a snapshot date or a key.
 */
export const PIPELINE_DIMENSION = 'Pipeline';

/** The extra dimension of `QuarantinedByReason`: one of the fixed reason codes (docs/semantics.md). */
export const REASON_DIMENSION = 'Reason';

/** The extra dimension of the query metrics: `facility_extract` or `state_counts`. */
export const QUERY_DIMENSION = 'Query';

/** Metric names and units. Every metric has the `Pipeline` dimension (and only the extra one listed). */
export const METRICS = {
  // Stage 2 (the validator), once per processed raw object:
  recordsRead: { name: 'RecordsRead', unit: 'Count' },
  recordsValid: { name: 'RecordsValid', unit: 'Count' },
  recordsQuarantined: { name: 'RecordsQuarantined', unit: 'Count' },
  /** Quarantined records per reason code: dimensions Pipeline + Reason. */
  quarantinedByReason: { name: 'QuarantinedByReason', unit: 'Count' },
  duplicateRecords: { name: 'DuplicateRecords', unit: 'Count' },
  blankLines: { name: 'BlankLines', unit: 'Count' },
  expiringFacilities: { name: 'ExpiringFacilities', unit: 'Count' },
  filesProcessed: { name: 'FilesProcessed', unit: 'Count' },
  // The query runner, once per query that ends (dimensions Pipeline + Query):
  queryBytesScanned: { name: 'QueryBytesScanned', unit: 'Bytes' },
  queryEngineTime: { name: 'QueryEngineTime', unit: 'Milliseconds' },
  queriesSucceeded: { name: 'QueriesSucceeded', unit: 'Count' },
  queriesFailed: { name: 'QueriesFailed', unit: 'Count' },
  // The publisher, once per production publish:
  snapshotsPublished: { name: 'SnapshotsPublished', unit: 'Count' },
  /** Seconds from the raw object's creation (its event time) to the production publish of its snapshot. */
  publishLag: { name: 'PublishLag', unit: 'Seconds' },
} as const;

/** Environment variables of the observability contract (the construct sets them on every function). */
export const OBSERVABILITY_ENV = {
  pipelineName: 'PIPELINE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  reportsPrefix: 'REPORTS_PREFIX',
} as const;

/** The run report's file name in its snapshot folder. */
export const REPORT_FILE = 'report.json';

/** Default prefix of the run reports (`<reportsPrefix>snapshot_date=<d>/report.json`); a construct prop. */
export const DEFAULT_REPORTS_PREFIX = 'reports/';

/**
 * Where Stage 2 leaves the summary of one raw object: `<validatedPrefix>_summaries/snapshot_date=<d>/<stem>.json`
 * (outside every table partition, like the tickets under `_coordination/`). Written with the outputs, removed with
 * them when the raw object is deleted, never replaced by an older version's.
 */
export const FILE_SUMMARIES_FOLDER = '_summaries/';

/** The record counts of a file summary, and of a run report's totals. */
export interface RecordCounts {
  readonly read: number;
  readonly valid: number;
  readonly quarantined: number;
  readonly duplicates: number;
  readonly blankLines: number;
  readonly expiring: number;
}

/** The fields of {@link RecordCounts}. */
export const RECORD_COUNT_FIELDS: ReadonlyArray<keyof RecordCounts> = ['read', 'valid', 'quarantined', 'duplicates', 'blankLines', 'expiring'];

/** The summary Stage 2 writes for one raw object (one JSON object). */
export interface FileSummary extends RecordCounts {
  readonly schemaVersion: 1;
  readonly key: string;
  readonly etag?: string;
  readonly versionId?: string;
  readonly snapshotDate: string;
  readonly asOf: string;
  /** Quarantined lines per reason code (only codes that occurred). */
  readonly reasons: Readonly<Record<string, number>>;
  /** The execution that validated it (`$$.Execution.Id`), when run by the state machine. */
  readonly executionArn?: string;
  /** ISO times: the raw object's event time, and when validation finished. */
  readonly objectCreatedAt?: string;
  readonly validatedAt: string;
}

/** One query of a run report. */
export interface ReportQuery {
  readonly query: 'facility_extract' | 'state_counts';
  readonly queryExecutionId: string;
  readonly submittedAt?: string;
  readonly completedAt?: string;
  readonly bytesScanned?: number;
  readonly engineTimeMs?: number;
  readonly state: string;
}

/** One execution of a run report: the executions that validated the snapshot's files, and the one that published. */
export interface ReportExecution {
  readonly executionArn: string;
  /** The raw object the execution was started for. */
  readonly key?: string;
  readonly startedAt?: string;
  /** 'validated' (its file's summary) or 'published' (the execution that wrote this report). */
  readonly role: 'validated' | 'published';
  readonly finishedAt?: string;
}

/** `<reportsPrefix>snapshot_date=<d>/report.json`: what one published snapshot consisted of. */
export interface RunReport {
  readonly schemaVersion: 1;
  readonly pipeline: string;
  readonly snapshotDate: string;
  readonly asOf: string;
  readonly expiryMonths: number;
  /** The expiry window: [from, to] inclusive, YYYY-MM-DD. */
  readonly window: { readonly from: string; readonly to: string };
  readonly generatedAt: string;
  readonly files: readonly FileSummary[];
  readonly totals: RecordCounts & {
    readonly files: number;
    /** quarantined / read (0 when nothing was read). */
    readonly quarantineRate: number;
  };
  readonly reasons: Readonly<Record<string, number>>;
  /** The published state counts (accredited facilities per state). */
  readonly stateCounts: ReadonlyArray<{ readonly state: string; readonly accreditedFacilities: number }>;
  readonly queries: readonly ReportQuery[];
  readonly executions: readonly ReportExecution[];
  readonly publish: {
    readonly publishedAt: string;
    /** Seconds from the publishing execution's raw object creation to the publish. */
    readonly lagSeconds?: number;
    readonly productionKeys: readonly string[];
  };
}

/**
 * `$.run` of the state machine's state: the execution's own identity, written by a Pass state (from the context
 * object `$$.Execution`) before ProcessObject, so Stage 2 records which execution validated a file. The validator
 * receives it inside its payload (the whole state) and ignores it when absent (direct invocations, the CLI).
 */
export interface RunContext {
  readonly executionArn: string;
  readonly startedAt: string;
}

/**
 * The PublishResults payload: `{ bucket, snapshotDate, results, extract?, run? }` — `results` the state counts
 * QueryStatus (as before), `extract` the facility extract's QueryStatus and `run` the RunContext, both optional so
 * an older state machine's payload still publishes. The QueryStatus of a SUCCEEDED query carries `bytesScanned`,
 * `engineTimeMs` and `completedAt` (from GetQueryExecution's Statistics and Status) for the report.
 */
export const PUBLISH_PAYLOAD_FIELDS = ['bucket', 'snapshotDate', 'results', 'extract', 'run'] as const;

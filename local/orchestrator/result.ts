/**
 * What a local run returns (`LocalRunResult`): the contract summary per snapshot, the details the
 * text summary shows, the executions, the drill report and the AWS requests made.
 */
import type { DeliveryRecord } from '../events';
import type { AccessDeniedNotice } from '../s3';
import type { RunMetrics } from './observability';
import type { FaultName } from './options';

export interface SnapshotSummary {
  records: number;
  valid: number;
  quarantined: number;
  extract_rows: number;
  expiring: string[];
  state_counts: Record<string, number>;
}

export interface ExecutionSummary {
  readonly snapshot: string;
  readonly status: string;
  readonly key?: string;
  readonly name?: string;
  readonly error?: string;
}

export interface LocalRunResult {
  readonly snapshots: Record<string, SnapshotSummary>;
  /** What the contract summary leaves out, per snapshot (same keys as `snapshots`). */
  readonly details: Record<string, SnapshotDetails>;
  /** Files of --data that were not uploaded, and why. */
  readonly skipped: SkippedFile[];
  /** Data files uploaded. */
  readonly uploaded: number;
  /** The SNS alerts log, when any alert was published (the file exists only then). */
  readonly alertsLog?: string;
  /** What the drill options injected and how the pipeline recovered. */
  readonly drill: DrillReport;
  readonly alerts: unknown[];
  readonly executions: ExecutionSummary[];
  readonly bucket: string;
  readonly bucketDir: string;
  readonly workDir: string;
  /** Wall time of the run, ms. */
  readonly durationMs: number;
  /** Requests the local S3 refused with AccessDenied (empty when IAM is not enforced). */
  readonly accessDenied: AccessDeniedNotice[];
  /** Events EventBridge could not deliver (e.g. the rule's role may not start the state machine). */
  readonly failedDeliveries: DeliveryRecord[];
  /** The AWS requests the run made, per service and operation ({@link RequestReport}). */
  readonly requests: RequestReport;
  /**
   * The metrics the functions emitted (embedded metric format, as CloudWatch would store them: one series per
   * namespace, name, unit and dimension set), the rejected EMF documents, and the data quality computed from them.
   */
  readonly metrics: RunMetrics;
  /** `<workDir>/executions/`: one `<execution name>.json` per execution, in GetExecutionHistory's shape. */
  readonly executionHistories: string;
  /** `<workDir>/report.html`, the run's HTML report, when the run was given `writeReport` (the CLI always is). */
  readonly report?: string;
}

/**
 * The AWS requests a run made, per service and operation, counted at the service boundary: every HTTP
 * request the embedded S3, Athena and SNS endpoints received (SDK retries included, as AWS meters them),
 * every Lambda Invoke, Step Functions' StartExecution calls and state transitions, and the events put on
 * the EventBridge bus. The uploads and the read-back of the results (the CLI's own calls) are included
 * in `s3`/`athena`, and broken out in `client`.
 */
export interface RequestReport {
  /** S3 operation → requests (ListObjectsV2, GetObject, PutObject, HeadObject, CopyObject, DeleteObject, …). */
  readonly s3: Record<string, number>;
  /** Athena operation → requests (StartQueryExecution, GetQueryExecution, GetQueryResults, …). */
  readonly athena: Record<string, number>;
  /** SNS operation → requests (Publish). */
  readonly sns: Record<string, number>;
  /** Lambda: function name → invocations (Invoke calls the function accepted). */
  readonly lambda: Record<string, number>;
  /** Lambda: function name → billed GB-seconds (duration × MemorySize). */
  readonly lambda_gb_seconds: Record<string, number>;
  /** Step Functions: StartExecution calls and state transitions (states entered, retries included). */
  readonly stepfunctions: { StartExecution: number; StateTransitions: number };
  /** EventBridge: events put on the bus (S3 Object Created events) and target invocations (deliveries). */
  readonly events: { PutEvents: number; TargetInvocations: number };
  /**
   * Of the S3/Athena requests above, those signed with the CLI's credentials: the uploads, reading the
   * results back, and the S3 calls Athena makes for the CLI's queries (it acts with the caller's identity).
   */
  readonly client: { s3: Record<string, number>; athena: Record<string, number> };
}

/** A file of --data that was not uploaded. */
export interface SkippedFile {
  /** Path relative to --data. */
  readonly path: string;
  readonly reason: string;
}

/** Per-snapshot details the text summary (and `--json`'s `details`) shows. */
export interface SnapshotDetails {
  /** Data files of the snapshot. */
  files: number;
  /** Lines read: records + blank lines. */
  lines: number;
  /** Valid records whose facility_id the snapshot already had (counted once). */
  duplicates: number;
  blank: number;
  /** Quarantined lines by reason code. */
  quarantine_reasons: Record<string, number>;
  /** Local folder of the quarantine output. */
  quarantine_path: string;
  /** The expiry window: as-of date (the snapshot date unless --as-of) to as-of + months, both inclusive. */
  window: { from: string; to: string; months: number };
  /** Local folder of the expiring output. */
  expiring_path: string;
  /** Local `.parquet` copies of the Stage 1 extract's files (S3 keys have no extension, as Athena writes them). */
  extract_files: string[];
  /** The first rows of the extract by facility_id (up to 3; Athena's text values). */
  extract_sample: Array<Record<string, string | null>>;
}

export interface DrillReport {
  readonly seed: number;
  readonly duplicate_events: number;
  readonly shuffle: boolean;
  /** The faults injected (see {@link InjectedFault}). */
  readonly faults: InjectedFault[];
  /** S3 503 SlowDown responses actually sent. */
  readonly s3_slowdowns: number;
  /** Lambda invocations that timed out, by object key. */
  readonly lambda_timeouts: string[];
  /** State machine retries by error (StateRetried events in the executions' histories). */
  readonly retries: Record<string, number>;
  /** Executions started (deliveries of duplicate events that start an execution included). */
  readonly executions: number;
  readonly failed: number;
  readonly alerts: number;
  /** True when every execution succeeded despite the faults. */
  readonly recovered: boolean;
}

/** One injected fault, as the drill report shows it. */
export interface InjectedFault {
  readonly fault: FaultName;
  /** What was injected, in words. */
  readonly injected: string;
  /**
   * What the fault targets, when it targets one thing: a snapshot (`athena-fail`) or an object key
   * (`lambda-timeout`), chosen from the seed and the sorted snapshot names or data keys.
   */
  readonly target?: string;
}

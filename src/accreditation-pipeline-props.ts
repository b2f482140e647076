import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';

/**
 * Properties of {@link AccreditationPipeline}. Every property is optional:
 * `new AccreditationPipeline(stack, 'Pipeline')` synthesizes a complete pipeline.
 *
 * S3 prefixes must be non-empty, end with `/`, not start with `/`, be distinct and not be nested
 * in one another (none may be the start of another).
 */
export interface AccreditationPipelineProps {
  /**
   * An existing data bucket to use instead of creating one. The bucket must have EventBridge
   * notifications enabled (the construct cannot change an imported bucket). Cannot be combined
   * with `removalPolicy: DESTROY`. When the bucket is encrypted with a customer-managed KMS key,
   * pass that key as `encryptionKey` (or pass a bucket object that carries it).
   *
   * @default - a new KMS-encrypted, versioned bucket with server access logging
   */
  readonly bucket?: s3.IBucket;

  /**
   * The customer-managed KMS key of the pipeline's data, Athena results, logs, topic and queue. When `bucket`
   * carries its own key, this must be the same key. A key you bring needs key policy statements
   * (docs/construct.md, "Bringing your own key").
   *
   * @default - the key of `bucket` when it has one, else a new key with yearly rotation
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * An existing SNS topic for failure alerts and alarm actions. Cannot be combined with `alarmEmails`
   * (subscribe your own topic yourself). Its policies must let the construct's alarms publish
   * (docs/construct.md, "Bringing your own alert topic").
   *
   * @default - a new KMS-encrypted topic that only accepts TLS requests
   */
  readonly alertTopic?: sns.ITopic;

  /**
   * E-mail addresses subscribed to the alert topic the construct creates.
   *
   * @default - no subscriptions
   */
  readonly alarmEmails?: string[];

  /**
   * What happens to the stateful resources (buckets, key, log groups, state machine, rule DLQ) when
   * they leave the stack: `RETAIN` or `DESTROY`. `DESTROY` also empties the buckets and cannot be combined
   * with an imported `bucket`. The catalog and the workgroup are always deleted (docs/construct.md, "Removal policy").
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Prefix of the raw input objects `<rawPrefix><YYYY-MM-DD>/<file>` (`.jsonl`, `.ndjson` or `.json`, optionally
   * `.gz`, lowercase); "Object Created" and "Object Deleted" events of such files start the state machine.
   *
   * @default 'data/batch/'
   */
  readonly rawPrefix?: string;

  /**
   * Prefix of the validated copy of every valid record (`snapshot_date=<d>/` partitions, NDJSON).
   *
   * @default 'validated/'
   */
  readonly validatedPrefix?: string;

  /**
   * Prefix of the expiring facilities written by Stage 2.
   *
   * @default 'expiring/'
   */
  readonly expiringPrefix?: string;

  /**
   * Prefix of the quarantined (invalid) lines.
   *
   * @default 'quarantine/'
   */
  readonly quarantinePrefix?: string;

  /**
   * Prefix of the Stage 1 Parquet extract (the `facility_metrics` table).
   *
   * @default 'curated/facility_metrics/'
   */
  readonly curatedPrefix?: string;

  /**
   * Prefix of the Stage 3 results (accredited facilities per state).
   *
   * @default 'results/state_counts/'
   */
  readonly resultsPrefix?: string;

  /**
   * Prefix where Stage 4 publishes the results of successful runs.
   *
   * @default 'production/state_counts/'
   */
  readonly productionPrefix?: string;

  /**
   * Prefix of the Athena query results in the data bucket (expired by a lifecycle rule).
   *
   * @default 'athena-results/'
   */
  readonly athenaResultsPrefix?: string;

  /**
   * Prefix of the run reports the publisher writes (`<reportsPrefix>snapshot_date=<d>/report.json`).
   *
   * @default 'reports/'
   */
  readonly reportsPrefix?: string;

  /**
   * How long Athena query results are kept under `athenaResultsPrefix`.
   *
   * @default Duration.days(7)
   */
  readonly athenaResultsExpiration?: Duration;

  /**
   * Months of the "expiring within N months" window of Stage 2 (integer from 1 to 120).
   *
   * @default 6
   */
  readonly expiryMonths?: number;

  /**
   * Name of the Glue database (lowercase letters, digits and `_`, at most 255 characters).
   *
   * @default - `medlaunch_elt_` followed by a name derived from the construct path
   */
  readonly databaseName?: string;

  /**
   * Name of the Athena workgroup (letters, digits, `.`, `_` and `-`, at most 128 characters).
   *
   * @default - `medlaunch-elt-` followed by a name derived from the construct path
   */
  readonly workGroupName?: string;

  /**
   * Athena cancels any query of the workgroup that scans more bytes than this (at least 10 MB).
   *
   * @default 10 GiB (10737418240)
   */
  readonly bytesScannedCutoffPerQuery?: number;

  /**
   * Retention of every log group the construct creates (Lambda functions and state machine).
   *
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Log level of the Lambda functions (`POWERTOOLS_LOG_LEVEL`): DEBUG, INFO, WARN, ERROR or SILENT.
   *
   * @default 'INFO'
   */
  readonly lambdaLogLevel?: string;

  /**
   * Reserved concurrency of each of the three Lambda functions.
   *
   * @default - no reserved concurrency (the account's unreserved pool)
   */
  readonly reservedConcurrentExecutions?: number;

  /**
   * Timeout of the Stage 2 processor function (at most 15 minutes).
   *
   * @default Duration.minutes(10)
   */
  readonly processorTimeout?: Duration;

  /**
   * Memory of the Stage 2 processor function in MB.
   *
   * @default 1024
   */
  readonly processorMemorySize?: number;

  /**
   * Timeout of the query-runner function. Each call waits for its Athena query inside this budget
   * (less a 10 s safety margin) before handing back to the state machine's polling loop.
   *
   * @default Duration.minutes(2)
   */
  readonly queryTimeout?: Duration;

  /**
   * Time the state machine waits between two polls of a running Athena query.
   *
   * @default Duration.seconds(15)
   */
  readonly queryPollInterval?: Duration;

  /**
   * Calls of the query-runner per query (start and polls) before the execution fails with
   * `QueryPollLimitExceeded` (integer from 1 to 1000).
   *
   * @default 40
   */
  readonly maxQueryPolls?: number;

  /**
   * How long an execution waits, after writing its snapshot's ticket, before it reads the ticket back
   * and refreshes the snapshot if the ticket still names it. From 1 second to 1 hour, shorter than
   * `stateMachineTimeout` (docs/construct.md, "Snapshot quiet period").
   *
   * @default Duration.seconds(30)
   */
  readonly snapshotQuietPeriod?: Duration;

  /**
   * Ignored: executions no longer wait for a snapshot's pending raw objects (which listed the
   * snapshot's folders on every call); they coordinate through a per-snapshot ticket instead
   * (`snapshotQuietPeriod`). Still accepted, so existing apps keep synthesizing.
   *
   * @deprecated use `snapshotQuietPeriod`.
   * @default - ignored
   */
  readonly pendingInputWindow?: Duration;

  /**
   * Timeout of a whole state machine execution.
   *
   * @default Duration.hours(3)
   */
  readonly stateMachineTimeout?: Duration;

  /**
   * Create the CloudWatch dashboard (executions, data quality, freshness, Athena, Lambda; docs/construct.md,
   * "Monitoring").
   *
   * @default true
   */
  readonly enableDashboard?: boolean;

  /**
   * Warning alarm when more than this percent of the records read in one hour were quarantined (0 to 100; 0 turns
   * the alarm off).
   *
   * @default 5
   */
  readonly quarantineRateWarningPercent?: number;

  /**
   * Error alarm when more than this percent of the records read in one hour were quarantined (0 to 100, above the
   * warning level; 0 turns the alarm off).
   *
   * @default 20
   */
  readonly quarantineRateErrorPercent?: number;

  /**
   * Freshness alarm: no snapshot was published within this duration (whole hours, 1 hour to 7 days). Set it to the
   * cadence you expect new data at, with some slack; hours without data count as breaching.
   *
   * @default - no freshness alarm
   */
  readonly freshnessThreshold?: Duration;

  /**
   * Width, in standard deviations, of the anomaly detection band on the records read per hour; the alarm fires
   * outside the band (0 to 10; 0 turns the alarm off).
   *
   * @default 2
   */
  readonly recordVolumeAnomalyStdDevs?: number;

  /**
   * Alarm when at least this many Athena queries failed within 5 minutes (integer from 0 to 1000; 0 turns the
   * alarm off).
   *
   * @default 1
   */
  readonly failedQueriesThreshold?: number;
}

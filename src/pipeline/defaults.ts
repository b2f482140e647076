import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { PRODUCT_NAME, QUERY_WAIT_SAFETY_MS } from '../contract';

/**
 * The construct's own prop defaults and validation ranges (aws-solutions-constructs' `*-defaults.ts`), defined
 * once. The runtime contract's defaults (prefixes, table names, the expiry window) live in `src/contract`;
 * the props' `@default` docs state the same values (test/construct/props-docs.test.ts keeps them equal).
 */

/** An integer prop: its default (when it has one) and the inclusive range it must lie in. */
export interface IntegerSetting {
  readonly default?: number;
  readonly min: number;
  readonly max: number;
}

/** A Duration prop: its default and the inclusive range of its value in `unit`s. */
export interface DurationSetting {
  readonly default: Duration;
  readonly unit: 'seconds' | 'days';
  readonly min: number;
  readonly max: number;
}

/** Resource settings that no prop changes. */
export const FIXED = {
  /** Name prefix of the derived Glue database, Athena workgroup and alarm names. */
  namePrefix: PRODUCT_NAME,
  /** Memory (MB) of the query runner and of the publisher. */
  queryRunnerMemorySize: 512,
  publisherMemorySize: 256,
  /** Timeout of the publisher function. */
  publisherTimeout: Duration.minutes(1),
} as const;

/** Defaults of the props that are not integers or durations. */
export const PROP_DEFAULTS = {
  removalPolicy: RemovalPolicy.RETAIN,
  logRetention: logs.RetentionDays.ONE_YEAR,
  lambdaLogLevel: 'INFO',
} as const;

/** The Powertools log levels `lambdaLogLevel` accepts. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;

/** Integer props. */
export const INTEGER_PROPS = {
  maxQueryPolls: { default: 40, min: 1, max: 1000 },
  bytesScannedCutoffPerQuery: { default: 10 * 1024 ** 3, min: 10_000_000, max: Number.MAX_SAFE_INTEGER },
  reservedConcurrentExecutions: { min: 1, max: 100_000 },
  processorMemorySize: { default: 1024, min: 128, max: 10240 },
} satisfies Record<string, IntegerSetting>;

/** Duration props. */
export const DURATION_PROPS = {
  processorTimeout: { default: Duration.minutes(10), unit: 'seconds', min: 10, max: 900 },
  // The query runner keeps QUERY_WAIT_SAFETY_MS back from its deadline and needs some time besides.
  queryTimeout: { default: Duration.minutes(2), unit: 'seconds', min: QUERY_WAIT_SAFETY_MS / 1000 + 20, max: 900 },
  queryPollInterval: { default: Duration.seconds(15), unit: 'seconds', min: 1, max: 3600 },
  stateMachineTimeout: { default: Duration.hours(3), unit: 'seconds', min: 60, max: 365 * 24 * 3600 },
  snapshotQuietPeriod: { default: Duration.seconds(30), unit: 'seconds', min: 1, max: 3600 },
  athenaResultsExpiration: { default: Duration.days(7), unit: 'days', min: 1, max: 3650 },
} satisfies Record<string, DurationSetting>;

/**
 * The monitoring props (docs/construct.md, "Monitoring"): each alarm's threshold, where 0 turns the alarm off, and
 * its range. The freshness alarm has no default (it is off until `freshnessThreshold` names the expected cadence).
 */
export const MONITORING_PROPS = {
  /** Percent of the records read in one period that were quarantined. */
  quarantineRateWarningPercent: { default: 5, min: 0, max: 100 },
  quarantineRateErrorPercent: { default: 20, min: 0, max: 100 },
  /** Width of the anomaly detection band on RecordsRead, in standard deviations. */
  recordVolumeAnomalyStdDevs: { default: 2, min: 0, max: 10 },
  /** Failed Athena queries in one period. */
  failedQueriesThreshold: { default: 1, min: 0, max: 1000 },
  /** The freshness alarm's threshold, in whole hours (CloudWatch evaluates at most 7 days of hourly periods). */
  freshnessThresholdHours: { min: 1, max: 168 },
} satisfies Record<string, { default?: number; min: number; max: number }>;

/** The dashboard is created unless `enableDashboard` is false. */
export const DASHBOARD_DEFAULT = true;

/** Periods of the alarms on the pipeline's own metrics. */
export const MONITORING_PERIODS = {
  /** Quarantine rate and the record-volume band: records summed per hour (a batch's files land within it). */
  quality: Duration.hours(1),
  /** Failed queries: like the execution alarms. */
  queries: Duration.minutes(5),
  /** Freshness: hourly sums of SnapshotsPublished, all of the threshold's hours must be empty. */
  freshness: Duration.hours(1),
} as const;

import { ArnFormat, Duration, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { DASHBOARD_DEFAULT, DurationSetting, DURATION_PROPS, FIXED, INTEGER_PROPS, MONITORING_PROPS, PROP_DEFAULTS } from './defaults';
import type { AccreditationPipelineProps } from '../accreditation-pipeline-props';
import { DEFAULT_PREFIXES, EXPIRY_MONTHS } from '../contract';
import { DEFAULT_REPORTS_PREFIX } from '../contract/observability';
import {
  PREFIX_PROP_NAMES, PipelinePrefixes, PrefixPropName, validateDatabaseName, validateEmails, validateInteger, validateLogLevel, validateNumber,
  validatePrefixes,
  validateWorkGroupName,
} from '../validation';

/** The props resolved against their defaults and checked: what every building block reads. */
export interface PipelineSettings {
  readonly removalPolicy: RemovalPolicy;
  /** removalPolicy is DESTROY (the construct's buckets are emptied on deletion). */
  readonly destroy: boolean;
  readonly prefixes: PipelinePrefixes;
  readonly expiryMonths: number;
  readonly maxQueryPolls: number;
  readonly bytesScannedCutoffPerQuery: number;
  readonly logRetention: logs.RetentionDays;
  readonly lambdaLogLevel: string;
  readonly reservedConcurrentExecutions?: number;
  readonly processorTimeout: Duration;
  readonly processorMemorySize: number;
  readonly queryTimeout: Duration;
  readonly queryPollInterval: Duration;
  readonly stateMachineTimeout: Duration;
  readonly snapshotQuietPeriod: Duration;
  readonly athenaResultsExpiration: Duration;
  /** Expiry of an abandoned UNLOAD staging folder (derived from stateMachineTimeout). */
  readonly stagingExpiration: Duration;
  readonly alarmEmails: readonly string[];
  readonly databaseName: string;
  readonly workGroupName: string;
  /** The pipeline's name (`medlaunch-elt-<path-derived>`): `PIPELINE_NAME`, the metrics' `Pipeline` dimension. */
  readonly pipelineName: string;
  /** Prefix of every alarm name. */
  readonly alarmNamePrefix: string;
  /** ARN pattern of the construct's alarms (the topic and key policies let CloudWatch act for these only). */
  readonly alarmArnPattern: string;
  readonly monitoring: MonitoringSettings;
}

/** The dashboard and the thresholds of the alarms on the pipeline's metrics; 0 (or no freshness) turns one off. */
export interface MonitoringSettings {
  readonly enableDashboard: boolean;
  readonly quarantineRateWarningPercent: number;
  readonly quarantineRateErrorPercent: number;
  /** Whole hours without a publish before the freshness alarm fires; undefined: no freshness alarm. */
  readonly freshnessThresholdHours?: number;
  readonly recordVolumeAnomalyStdDevs: number;
  readonly failedQueriesThreshold: number;
}

/** The monitoring props, defaulted and checked. */
function resolveMonitoring(props: AccreditationPipelineProps): MonitoringSettings {
  const m = MONITORING_PROPS;
  const number = (name: 'quarantineRateWarningPercent' | 'quarantineRateErrorPercent' | 'recordVolumeAnomalyStdDevs', value?: number) =>
    validateNumber(name, value ?? m[name].default, m[name].min, m[name].max);
  const warning = number('quarantineRateWarningPercent', props.quarantineRateWarningPercent);
  const error = number('quarantineRateErrorPercent', props.quarantineRateErrorPercent);
  if (warning > 0 && error > 0 && error <= warning) {
    throw new Error(`quarantineRateErrorPercent (${error}) must be above quarantineRateWarningPercent (${warning}), or one of them 0 (off)`);
  }
  let freshnessThresholdHours: number | undefined;
  if (props.freshnessThreshold !== undefined) {
    const hours = props.freshnessThreshold.toHours({ integral: false });
    const { min, max } = m.freshnessThresholdHours;
    freshnessThresholdHours = validateInteger('freshnessThreshold (hours)', hours, min, max);
  }
  return {
    enableDashboard: props.enableDashboard ?? DASHBOARD_DEFAULT,
    quarantineRateWarningPercent: warning,
    quarantineRateErrorPercent: error,
    freshnessThresholdHours,
    recordVolumeAnomalyStdDevs: number('recordVolumeAnomalyStdDevs', props.recordVolumeAnomalyStdDevs),
    failedQueriesThreshold: validateInteger('failedQueriesThreshold', props.failedQueriesThreshold ?? m.failedQueriesThreshold.default,
      m.failedQueriesThreshold.min, m.failedQueriesThreshold.max),
  };
}

/** A Duration prop, defaulted and checked against its range. */
function duration(name: keyof typeof DURATION_PROPS, value: Duration | undefined): Duration {
  const setting: DurationSetting = DURATION_PROPS[name];
  const resolved = value ?? setting.default;
  const amount = setting.unit === 'days' ? resolved.toDays() : resolved.toSeconds();
  validateInteger(`${name} (${setting.unit})`, amount, setting.min, setting.max);
  return resolved;
}

/** An integer prop with a default, checked against its range. */
function integer(name: 'maxQueryPolls' | 'bytesScannedCutoffPerQuery' | 'processorMemorySize', value: number | undefined): number {
  const setting = INTEGER_PROPS[name];
  return validateInteger(name, value ?? setting.default, setting.min, setting.max);
}

/** Checks the combinations of props the construct refuses. */
function checkCombinations(props: AccreditationPipelineProps, removalPolicy: RemovalPolicy): void {
  if (removalPolicy !== RemovalPolicy.RETAIN && removalPolicy !== RemovalPolicy.DESTROY) {
    throw new Error(`removalPolicy must be RETAIN or DESTROY (got ${removalPolicy})`);
  }
  if (props.bucket && removalPolicy === RemovalPolicy.DESTROY) {
    throw new Error('removalPolicy DESTROY cannot be combined with an imported bucket: the construct never deletes a bucket it does not own');
  }
  if (props.bucket?.encryptionKey && props.encryptionKey && props.bucket.encryptionKey !== props.encryptionKey) {
    throw new Error('encryptionKey must be the key of the given bucket (bucket.encryptionKey) when the bucket carries one');
  }
  if (props.alertTopic && (props.alarmEmails?.length ?? 0) > 0) {
    throw new Error('alarmEmails subscribes the topic the construct creates; it cannot be combined with alertTopic (subscribe your own topic yourself)');
  }
}

/** The S3 prefixes: each prop or its contract default, checked. */
function resolvePrefixes(props: AccreditationPipelineProps): PipelinePrefixes {
  const defaults: Record<PrefixPropName, string> = { ...DEFAULT_PREFIXES, reportsPrefix: DEFAULT_REPORTS_PREFIX };
  const entries = Object.entries(PREFIX_PROP_NAMES) as [keyof PipelinePrefixes, PrefixPropName][];
  const prefixes = {} as Record<keyof PipelinePrefixes, string>;
  for (const [area, prop] of entries) prefixes[area] = props[prop] ?? defaults[prop];
  validatePrefixes(prefixes);
  return prefixes;
}

/**
 * Resolves and checks every prop of the pipeline `scope` (one-line errors for bad values or combinations).
 * The derived names come from the construct path of `scope`.
 */
export function resolveSettings(scope: Construct, props: AccreditationPipelineProps): PipelineSettings {
  const removalPolicy = props.removalPolicy ?? PROP_DEFAULTS.removalPolicy;
  checkCombinations(props, removalPolicy);
  const prefixes = resolvePrefixes(props);
  const expiryMonths = validateInteger('expiryMonths', props.expiryMonths ?? EXPIRY_MONTHS.default, EXPIRY_MONTHS.min, EXPIRY_MONTHS.max);
  const maxQueryPolls = integer('maxQueryPolls', props.maxQueryPolls);
  const bytesScannedCutoffPerQuery = integer('bytesScannedCutoffPerQuery', props.bytesScannedCutoffPerQuery);
  const logRetention = props.logRetention ?? PROP_DEFAULTS.logRetention;
  const lambdaLogLevel = validateLogLevel(props.lambdaLogLevel ?? PROP_DEFAULTS.lambdaLogLevel);
  const { min: minReserved, max: maxReserved } = INTEGER_PROPS.reservedConcurrentExecutions;
  const reservedConcurrentExecutions = props.reservedConcurrentExecutions === undefined
    ? undefined : validateInteger('reservedConcurrentExecutions', props.reservedConcurrentExecutions, minReserved, maxReserved);
  const processorTimeout = duration('processorTimeout', props.processorTimeout);
  const processorMemorySize = integer('processorMemorySize', props.processorMemorySize);
  const queryTimeout = duration('queryTimeout', props.queryTimeout);
  const queryPollInterval = duration('queryPollInterval', props.queryPollInterval);
  const stateMachineTimeout = duration('stateMachineTimeout', props.stateMachineTimeout);
  // pendingInputWindow is deprecated and ignored (the ticket replaced the pending-input wait).
  const snapshotQuietPeriod = duration('snapshotQuietPeriod', props.snapshotQuietPeriod);
  if (snapshotQuietPeriod.toSeconds() >= stateMachineTimeout.toSeconds()) {
    throw new Error(`snapshotQuietPeriod (${snapshotQuietPeriod.toSeconds()} s) must be shorter than stateMachineTimeout (${stateMachineTimeout.toSeconds()} s)`);
  }
  const athenaResultsExpiration = duration('athenaResultsExpiration', props.athenaResultsExpiration);
  // Well above the longest execution that could still promote a staging folder: twice stateMachineTimeout, at least 7 days.
  const stagingExpiration = Duration.days(Math.max(7, Math.ceil((2 * stateMachineTimeout.toSeconds()) / 86_400)));
  const alarmEmails = validateEmails(props.alarmEmails ?? []);
  const derived = Names.uniqueResourceName(scope, { maxLength: 60, separator: '_' }).toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const pipelineName = `${FIXED.namePrefix}-${derived.replace(/_/g, '-')}`;
  const databaseName = validateDatabaseName(props.databaseName ?? `${FIXED.namePrefix.replace(/-/g, '_')}_${derived}`);
  const workGroupName = validateWorkGroupName(props.workGroupName ?? pipelineName);
  // Every alarm is named <alarmNamePrefix><what>, so the topic and key policies can let CloudWatch act for
  // exactly these alarms (aws:SourceArn); alarms are deleted with the stack, so the names never block a redeploy.
  const alarmNamePrefix = `${pipelineName}-`;
  const alarmArnPattern = Stack.of(scope).formatArn({
    service: 'cloudwatch', resource: 'alarm', resourceName: `${alarmNamePrefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  return {
    removalPolicy,
    destroy: removalPolicy === RemovalPolicy.DESTROY,
    prefixes,
    expiryMonths,
    maxQueryPolls,
    bytesScannedCutoffPerQuery,
    logRetention,
    lambdaLogLevel,
    reservedConcurrentExecutions,
    processorTimeout,
    processorMemorySize,
    queryTimeout,
    queryPollInterval,
    stateMachineTimeout,
    snapshotQuietPeriod,
    athenaResultsExpiration,
    stagingExpiration,
    alarmEmails,
    databaseName,
    workGroupName,
    pipelineName,
    alarmNamePrefix,
    alarmArnPattern,
    monitoring: resolveMonitoring(props),
  };
}

import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { MONITORING_PERIODS } from './defaults';
import { UNALERTED_ERRORS } from './definition';
import { PipelineMetrics } from './metrics';
import type { MonitoringSettings } from './settings';

/** The pipeline's alarms, each notifying the alert topic. */
export interface PipelineAlarms {
  readonly failuresNotAlertedAlarm: cloudwatch.Alarm;
  readonly executionsTimedOutAlarm: cloudwatch.Alarm;
  readonly executionsAbortedAlarm: cloudwatch.Alarm;
  readonly ruleDlqDepthAlarm: cloudwatch.Alarm;
  readonly ruleEventsLostAlarm: cloudwatch.Alarm;
}

/** What the alarms watch and whom they notify. */
export interface MonitoredResources {
  readonly alertTopic: sns.ITopic;
  readonly stateMachine: sfn.StateMachine;
  readonly stateMachineLogGroup: logs.ILogGroup;
  readonly rule: events.IRule;
  readonly ruleDeadLetterQueue: sqs.IQueue;
}

/**
 * The alarms (each named `<alarmNamePrefix><what>`, threshold 1 in 5 minutes, missing data not breaching).
 * One failure, one alert (README, "Alerting"). NotifyFailure (execution, object, error, cause) is THE alert of
 * every failure the definition catches; alarms cover only what it cannot: failures that never reached it or
 * where it failed itself, timeouts, aborts, and events that never started an execution. Lambda errors are not
 * alarmed: a retried error that then succeeds must not page, and one that is not retried reaches NotifyFailure.
 */
export function createAlarms(scope: Construct, alarmNamePrefix: string, watched: MonitoredResources): PipelineAlarms {
  const action = new cwActions.SnsAction(watched.alertTopic);
  const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) =>
    notifying(new cloudwatch.Alarm(scope, alarmId, {
      alarmName: alarmName(alarmNamePrefix, alarmId),
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    }), action);
  const period = Duration.minutes(5);
  const notAlerted = new logs.MetricFilter(scope, 'FailuresNotAlertedFilter', {
    logGroup: watched.stateMachineLogGroup,
    filterPattern: logs.FilterPattern.all(
      logs.FilterPattern.stringValue('$.type', '=', 'ExecutionFailed'),
      logs.FilterPattern.any(...UNALERTED_ERRORS.map((e) => logs.FilterPattern.stringValue('$.details.error', '=', e))),
    ),
    metricNamespace: 'medlaunch-elt',
    metricName: `${alarmNamePrefix}FailuresNotAlerted`,
    metricValue: '1',
  });
  const failuresNotAlertedAlarm = alarm('FailuresNotAlertedAlarm', notAlerted.metric({ period, statistic: 'Sum' }),
    `An execution failed without its NotifyFailure alert (${UNALERTED_ERRORS.join(', ')}): see the state machine's executions and log group`);
  const executionsTimedOutAlarm = alarm('ExecutionsTimedOutAlarm', watched.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
    'A pipeline execution timed out (stateMachineTimeout); no NotifyFailure alert was sent');
  const executionsAbortedAlarm = alarm('ExecutionsAbortedAlarm', watched.stateMachine.metricAborted({ period, statistic: 'Sum' }),
    'A pipeline execution was aborted (stopped); no NotifyFailure alert was sent');
  const ruleDlqDepthAlarm = alarm('RuleDlqDepthAlarm',
    watched.ruleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
    'The dead-letter queue of the EventBridge rule holds events that never started an execution');
  // A target invocation that failed permanently lands in the DLQ (the alarm above) or, when even that fails, is
  // counted here (EventBridge metrics, InvocationsFailedToBeSentToDlq): the two never count the same event.
  const ruleEventsLostAlarm = alarm('RuleEventsLostAlarm', new cloudwatch.Metric({
    namespace: 'AWS/Events',
    metricName: 'InvocationsFailedToBeSentToDlq',
    dimensionsMap: { RuleName: watched.rule.ruleName },
    period,
    statistic: 'Sum',
  }), 'The EventBridge rule could neither start an execution nor put the event in its dead-letter queue: the object was not processed');
  return { failuresNotAlertedAlarm, executionsTimedOutAlarm, executionsAbortedAlarm, ruleDlqDepthAlarm, ruleEventsLostAlarm };
}

/** `<alarmNamePrefix><what>`: the alarm's construct id without its `Alarm` suffix (the topic policy relies on it). */
function alarmName(alarmNamePrefix: string, alarmId: string): string {
  return `${alarmNamePrefix}${alarmId.replace(/Alarm$/, '')}`;
}

function notifying<T extends cloudwatch.Alarm>(alarm: T, action: cloudwatch.IAlarmAction): T {
  alarm.addAlarmAction(action);
  return alarm;
}

/** The alarms on the pipeline's own metrics; each is absent when its threshold turns it off. */
export interface DataAlarms {
  readonly quarantineRateWarningAlarm?: cloudwatch.Alarm;
  readonly quarantineRateErrorAlarm?: cloudwatch.Alarm;
  readonly freshnessAlarm?: cloudwatch.Alarm;
  readonly recordVolumeAnomalyAlarm?: cloudwatch.Alarm;
  readonly queriesFailedAlarm?: cloudwatch.Alarm;
}

/**
 * The alarms on the data the pipeline processes (docs/construct.md, "Monitoring"), each named
 * `<alarmNamePrefix><what>` and notifying the alert topic: the quarantine rate (warning and error level, metric math),
 * freshness (no publish within `freshnessThresholdHours`, missing data breaching), the record volume (anomaly
 * detection band on RecordsRead) and failed Athena queries.
 */
export function createDataAlarms(scope: Construct, settings: { alarmNamePrefix: string; pipelineName: string; monitoring: MonitoringSettings },
  alertTopic: sns.ITopic): DataAlarms {
  const m = settings.monitoring;
  const metrics = new PipelineMetrics(settings.pipelineName);
  const action = new cwActions.SnsAction(alertTopic);
  const threshold = (alarmId: string, props: Omit<cloudwatch.AlarmProps, 'alarmName'>) =>
    notifying(new cloudwatch.Alarm(scope, alarmId, { alarmName: alarmName(settings.alarmNamePrefix, alarmId), ...props }), action);
  const { quality, queries, freshness } = MONITORING_PERIODS;

  const rate = (level: 'Warning' | 'Error', percent: number) => percent <= 0 ? undefined : threshold(`QuarantineRate${level}Alarm`, {
    metric: metrics.quarantineRate(quality),
    threshold: percent,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: `${level}: more than ${percent}% of the records read in one hour were quarantined; see the run report `
      + 'and the quarantine prefix for the reasons (docs/construct.md, "Monitoring")',
  });
  // Freshness: every one of the last N hourly sums of SnapshotsPublished is below 1, an hour without any data counting
  // as breaching (CloudWatch: N x 1 hour may span at most 7 days).
  const hours = m.freshnessThresholdHours;
  const freshnessAlarm = hours === undefined ? undefined : threshold('FreshnessAlarm', {
    metric: metrics.metric('snapshotsPublished', freshness),
    threshold: 1,
    evaluationPeriods: hours,
    datapointsToAlarm: hours,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    alarmDescription: `No snapshot was published for ${hours} hours (freshnessThreshold): check that raw files arrive and that executions succeed`,
  });
  const recordVolumeAnomalyAlarm = m.recordVolumeAnomalyStdDevs <= 0 ? undefined : notifying(
    new cloudwatch.AnomalyDetectionAlarm(scope, 'RecordVolumeAnomalyAlarm', {
      alarmName: alarmName(settings.alarmNamePrefix, 'RecordVolumeAnomalyAlarm'),
      metric: metrics.metric('recordsRead', quality),
      stdDevs: m.recordVolumeAnomalyStdDevs,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD,
      // An hour without files is normal: only hours that read records are compared with the band.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `The records read in one hour lie outside the expected band (${m.recordVolumeAnomalyStdDevs} standard deviations): `
        + 'a truncated or duplicated delivery?',
    }), action);
  const queriesFailedAlarm = m.failedQueriesThreshold <= 0 ? undefined : threshold('QueriesFailedAlarm', {
    metric: metrics.queriesFailed(queries),
    threshold: m.failedQueriesThreshold,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: `At least ${m.failedQueriesThreshold} Athena queries failed within 5 minutes: see the query runner's logs and the run's NotifyFailure alert`,
  });
  return {
    quarantineRateWarningAlarm: rate('Warning', m.quarantineRateWarningPercent),
    quarantineRateErrorAlarm: rate('Error', m.quarantineRateErrorPercent),
    freshnessAlarm,
    recordVolumeAnomalyAlarm,
    queriesFailedAlarm,
  };
}

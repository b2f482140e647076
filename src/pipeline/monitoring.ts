import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { UNALERTED_ERRORS } from './definition';

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
  const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
    const a = new cloudwatch.Alarm(scope, alarmId, {
      alarmName: `${alarmNamePrefix}${alarmId.replace(/Alarm$/, '')}`,
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    a.addAlarmAction(action);
    return a;
  };
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

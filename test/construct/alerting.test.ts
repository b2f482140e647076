import { Match } from 'aws-cdk-lib/assertions';
import { only, synth } from './helpers';

/** The alerting and monitoring building blocks (src/pipeline/alerting.ts, src/pipeline/monitoring.ts). */
const { template } = synth();

describe('alerting and monitoring', () => {
  test('KMS-encrypted SNS topic, TLS only', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('alarms for failures not alerted, timed-out/aborted executions and the rule\'s lost events, all notify the topic', () => {
    // the data alarms (test/construct/monitoring.test.ts) are off here: only the execution and rule alarms remain
    const t = synth({ quarantineRateWarningPercent: 0, quarantineRateErrorPercent: 0, recordVolumeAnomalyStdDevs: 0, failedQueriesThreshold: 0 });
    const alarms = t.template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(5);
    expect(t.pipeline.alarms).toHaveLength(5);
    const metrics = Object.values(alarms).map((a: any) => a.Properties.MetricName).sort();
    expect(metrics).toEqual([
      'ApproximateNumberOfMessagesVisible', 'ExecutionsAborted', 'ExecutionsTimedOut', 'InvocationsFailedToBeSentToDlq',
      `${t.pipeline.alarmNamePrefix}FailuresNotAlerted`,
    ]);
    const topicId = only(t.template, 'AWS::SNS::Topic').logicalId;
    for (const a of Object.values(alarms) as any[]) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  test('alarm e-mails become subscriptions', () => {
    const t = synth({ alarmEmails: ['oncall@example.com', 'qa@example.org'] }).template;
    t.resourceCountIs('AWS::SNS::Subscription', 2);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });
});

import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { only, synth } from './helpers';
import { MONITORING_PROPS } from '../../src/pipeline/defaults';

/** The data alarms (src/pipeline/monitoring.ts, createDataAlarms; src/pipeline/metrics.ts) and their props. */
const { template, pipeline } = synth();

/** The alarm named `<alarmNamePrefix><what>`, or undefined. */
function alarmNamed(t: Template, name: string): any {
  return Object.values(t.findResources('AWS::CloudWatch::Alarm')).find((a: any) => a.Properties.AlarmName === name)?.Properties;
}

/** The MetricStat entry of a metric-math alarm with the given id. */
function stat(alarm: any, id: string): any {
  return alarm.Metrics.find((m: any) => m.Id === id).MetricStat;
}

const PIPELINE_DIM = () => [{ Name: 'Pipeline', Value: pipeline.pipelineName }];

describe('data alarms (defaults)', () => {
  test('the four default data alarms exist, are public, are in `alarms` and notify the alert topic', () => {
    const topicId = only(template, 'AWS::SNS::Topic').logicalId;
    const data = [
      pipeline.quarantineRateWarningAlarm, pipeline.quarantineRateErrorAlarm, pipeline.recordVolumeAnomalyAlarm, pipeline.queriesFailedAlarm,
    ];
    for (const alarm of data) {
      expect(alarm).toBeDefined();
      expect(pipeline.alarms).toContain(alarm);
    }
    expect(pipeline.freshnessAlarm).toBeUndefined();
    expect(pipeline.alarms).toHaveLength(9);
    for (const what of ['QuarantineRateWarning', 'QuarantineRateError', 'RecordVolumeAnomaly', 'QueriesFailed']) {
      const a = alarmNamed(template, `${pipeline.alarmNamePrefix}${what}`);
      expect({ what, actions: a?.AlarmActions }).toEqual({ what, actions: [{ Ref: topicId }] });
    }
  });

  test('every alarm name starts with alarmNamePrefix: the topic and key policies let CloudWatch publish for exactly these', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[];
    for (const a of alarms) expect(a.Properties.AlarmName.startsWith(pipeline.alarmNamePrefix)).toBe(true);
    const policy = JSON.stringify(only(template, 'AWS::SNS::TopicPolicy').props);
    expect(policy).toContain(`alarm:${pipeline.alarmNamePrefix}*`);
    const key = JSON.stringify(only(template, 'AWS::KMS::Key').props.KeyPolicy);
    expect(key).toContain(`alarm:${pipeline.alarmNamePrefix}*`);
  });

  test.each([
    ['QuarantineRateWarning', MONITORING_PROPS.quarantineRateWarningPercent.default],
    ['QuarantineRateError', MONITORING_PROPS.quarantineRateErrorPercent.default],
  ])('%s: metric math 100 * RecordsQuarantined / RecordsRead (hourly sums) > %d', (what, threshold) => {
    const a = alarmNamed(template, `${pipeline.alarmNamePrefix}${what}`);
    expect(a).toMatchObject({ Threshold: threshold, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching', EvaluationPeriods: 1 });
    expect(a.Metrics.find((m: any) => m.ReturnData).Expression).toBe('100 * quarantined / read');
    expect(stat(a, 'quarantined')).toEqual({
      Metric: { Namespace: 'MedlaunchElt', MetricName: 'RecordsQuarantined', Dimensions: PIPELINE_DIM() }, Period: 3600, Stat: 'Sum',
    });
    expect(stat(a, 'read')).toEqual({
      Metric: { Namespace: 'MedlaunchElt', MetricName: 'RecordsRead', Dimensions: PIPELINE_DIM() }, Period: 3600, Stat: 'Sum',
    });
  });

  test('record volume: an anomaly detection band (2 standard deviations) on the hourly RecordsRead, outside either side', () => {
    const a = alarmNamed(template, `${pipeline.alarmNamePrefix}RecordVolumeAnomaly`);
    expect(a.ComparisonOperator).toBe('LessThanLowerOrGreaterThanUpperThreshold');
    expect(a.TreatMissingData).toBe('notBreaching');
    const band = a.Metrics.find((m: any) => m.Id === a.ThresholdMetricId);
    expect(band.Expression).toMatch(/^ANOMALY_DETECTION_BAND\((\w+), 2\)$/);
    const id = /\((\w+),/.exec(band.Expression)![1];
    expect(stat(a, id)).toEqual({ Metric: { Namespace: 'MedlaunchElt', MetricName: 'RecordsRead', Dimensions: PIPELINE_DIM() }, Period: 3600, Stat: 'Sum' });
  });

  test('failed queries: QueriesFailed of both queries summed per 5 minutes >= 1', () => {
    const a = alarmNamed(template, `${pipeline.alarmNamePrefix}QueriesFailed`);
    expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    expect(a.Metrics.find((m: any) => m.ReturnData).Expression).toBe('extract + counts');
    for (const [id, query] of [['extract', 'facility_extract'], ['counts', 'state_counts']]) {
      expect(stat(a, id)).toEqual({
        Metric: { Namespace: 'MedlaunchElt', MetricName: 'QueriesFailed', Dimensions: [...PIPELINE_DIM(), { Name: 'Query', Value: query }] },
        Period: 300,
        Stat: 'Sum',
      });
    }
  });
});

describe('data alarm props', () => {
  test('freshnessThreshold: SnapshotsPublished hourly sums < 1 in every one of its hours, missing data breaching', () => {
    const { template: t, pipeline: p } = synth({ freshnessThreshold: Duration.hours(26) });
    expect(p.freshnessAlarm).toBeDefined();
    expect(p.alarms).toContain(p.freshnessAlarm);
    expect(alarmNamed(t, `${p.alarmNamePrefix}Freshness`)).toMatchObject({
      Namespace: 'MedlaunchElt',
      MetricName: 'SnapshotsPublished',
      Dimensions: [{ Name: 'Pipeline', Value: p.pipelineName }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: only(t, 'AWS::SNS::Topic').logicalId }],
    });
    expect(alarmNamed(synth({ freshnessThreshold: Duration.days(7) }).template, `${p.alarmNamePrefix}Freshness`).EvaluationPeriods).toBe(168);
  });

  test('thresholds reach their alarms', () => {
    const { template: t, pipeline: p } = synth({
      quarantineRateWarningPercent: 2.5, quarantineRateErrorPercent: 50, recordVolumeAnomalyStdDevs: 3, failedQueriesThreshold: 4,
    });
    expect(alarmNamed(t, `${p.alarmNamePrefix}QuarantineRateWarning`).Threshold).toBe(2.5);
    expect(alarmNamed(t, `${p.alarmNamePrefix}QuarantineRateError`).Threshold).toBe(50);
    expect(JSON.stringify(alarmNamed(t, `${p.alarmNamePrefix}RecordVolumeAnomaly`).Metrics)).toContain('ANOMALY_DETECTION_BAND(m0, 3)');
    expect(alarmNamed(t, `${p.alarmNamePrefix}QueriesFailed`).Threshold).toBe(4);
  });

  test.each([
    ['quarantineRateWarningPercent', 'QuarantineRateWarning', 'quarantineRateWarningAlarm'],
    ['quarantineRateErrorPercent', 'QuarantineRateError', 'quarantineRateErrorAlarm'],
    ['recordVolumeAnomalyStdDevs', 'RecordVolumeAnomaly', 'recordVolumeAnomalyAlarm'],
    ['failedQueriesThreshold', 'QueriesFailed', 'queriesFailedAlarm'],
  ] as const)('%s: 0 turns the alarm off', (prop, what, property) => {
    const { template: t, pipeline: p } = synth({ [prop]: 0 });
    expect(alarmNamed(t, `${p.alarmNamePrefix}${what}`)).toBeUndefined();
    expect(p[property]).toBeUndefined();
    expect(p.alarms).toHaveLength(8);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 8);
  });

  test('with a topic you bring, the data alarms notify it', () => {
    const { template: t } = synth((stack) => ({ alertTopic: sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:us-east-1:123456789012:alerts') }));
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: ['arn:aws:sns:us-east-1:123456789012:alerts'] }, 9);
  });

  test.each([
    [{ quarantineRateWarningPercent: -1 }, /quarantineRateWarningPercent must be a number from 0 to 100/],
    [{ quarantineRateErrorPercent: 101 }, /quarantineRateErrorPercent must be a number from 0 to 100/],
    [{ quarantineRateWarningPercent: 30, quarantineRateErrorPercent: 20 }, /quarantineRateErrorPercent \(20\) must be above quarantineRateWarningPercent \(30\)/],
    [{ recordVolumeAnomalyStdDevs: 11 }, /recordVolumeAnomalyStdDevs must be a number from 0 to 10/],
    [{ failedQueriesThreshold: 1.5 }, /failedQueriesThreshold must be an integer from 0 to 1000/],
    [{ freshnessThreshold: Duration.minutes(90) }, /freshnessThreshold \(hours\) must be an integer from 1 to 168/],
    [{ freshnessThreshold: Duration.days(8) }, /freshnessThreshold \(hours\) must be an integer from 1 to 168/],
  ])('invalid %o', (props, error) => {
    expect(() => synth(props)).toThrow(error);
  });

  test('a warning level above the error level is accepted when one of them is off', () => {
    expect(() => synth({ quarantineRateWarningPercent: 30, quarantineRateErrorPercent: 0 })).not.toThrow();
    const { template: t } = synth({ quarantineRateWarningPercent: 0, quarantineRateErrorPercent: 3 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: Match.stringLikeRegexp('QuarantineRateError$'), Threshold: 3 });
  });
});

import { Match } from 'aws-cdk-lib/assertions';
import { only, synth } from './helpers';

/** The trigger building block (src/pipeline/trigger.ts): the EventBridge rule and its dead-letter queue. */
const { template, pipeline } = synth();

describe('trigger: EventBridge rule and its dead-letter queue', () => {
  test('EventBridge rule: Object Created and Object Deleted under the raw prefix of the bucket, retry policy and SQS DLQ', () => {
    const rule = only(template, 'AWS::Events::Rule').props;
    expect(rule.EventPattern).toMatchObject({
      'source': ['aws.s3'],
      'detail-type': ['Object Created', 'Object Deleted'],
      'detail': { bucket: { name: [expect.anything()] }, object: { key: expect.arrayContaining([{ wildcard: 'data/batch/*.jsonl' }]) } },
    });
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0]).toMatchObject({
      RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 6 * 3600 },
      DeadLetterConfig: { Arn: expect.anything() },
    });
  });

  test('the rule starts an execution for created and deleted data files', () => {
    const rule: any = Object.values(template.findResources('AWS::Events::Rule'))[0];
    expect(rule.Properties.EventPattern['detail-type']).toEqual(['Object Created', 'Object Deleted']);
  });

  test('the one DLQ (the rule target\'s) is a KMS-encrypted SQS queue', () => {
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() }, 1);
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    expect(pipeline.dlqs).toEqual([pipeline.ruleDeadLetterQueue]);
  });
});

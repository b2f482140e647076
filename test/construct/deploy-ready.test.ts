/**
 * What a first deployment in a real AWS account needs beyond what the local emulator checks: each test
 * names the AWS behaviour it guards (README, "Security" and "Alerting").
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { definitionOf, ENV, only, synth } from './helpers';
import { AccreditationPipeline } from '../../src';

const { template, pipeline } = synth();

function policyOf(t: Template, logicalIdPrefix: string): any[] {
  const entry = Object.entries(t.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith(logicalIdPrefix));
  if (!entry) throw new Error(`no policy ${logicalIdPrefix}`);
  return (entry[1] as any).Properties.PolicyDocument.Statement;
}

const actions = (s: any): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const dataBucketId = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) => id.startsWith('PipelineDataBucket'))!;

describe('missing keys answer 404, not 403 (s3:ListBucket without an s3:prefix condition)', () => {
  /** The statement granting s3:ListBucket on the data bucket with no condition, if any. */
  const unconditionedList = (st: any[]) => st.find((s) => actions(s).includes('s3:ListBucket')
    && s.Condition === undefined
    && JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [dataBucketId, 'Arn'] }));

  test.each(['PipelineProcessorRole', 'PipelineQueryRunnerRole', 'PipelinePublisherRole'])('%s', (role) => {
    const st = policyOf(template, `${role}DefaultPolicy`);
    expect(unconditionedList(st)).toBeDefined();
    // never a ListBucket limited by s3:prefix (it would not apply to GET/HEAD of a missing key)
    expect(JSON.stringify(st)).not.toContain('s3:prefix');
  });

  test('grantReadResults and grantRunQueries behave the same for the user roles', () => {
    const stack = new Stack(new App(), 'Stack', { env: ENV });
    const p = new AccreditationPipeline(stack, 'Pipeline');
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
    p.grantReadResults(reader);
    p.grantRunQueries(analyst);
    const t = Template.fromStack(stack);
    expect(unconditionedList(policyOf(t, 'ReaderDefaultPolicy'))).toBeDefined();
    expect(unconditionedList(policyOf(t, 'AnalystDefaultPolicy'))).toBeDefined();
    // still no object reads outside the granted prefixes
    const get = policyOf(t, 'ReaderDefaultPolicy').find((s) => actions(s).includes('s3:GetObject'));
    expect(JSON.stringify(get.Resource)).toContain('/results/state_counts/*');
    expect(JSON.stringify(get.Resource)).not.toContain('/validated/');
  });
});


describe('Athena writes results without ACLs', () => {
  test('the workgroup sets no AclConfiguration (x-amz-acl would need s3:PutObjectAcl; the bucket has ACLs disabled)', () => {
    const wg = template.findResources('AWS::Athena::WorkGroup');
    expect(JSON.stringify(wg)).not.toContain('AclConfiguration');
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain('s3:PutObjectAcl');
    template.hasResourceProperties('AWS::S3::Bucket', {
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] },
    });
  });
});

describe('alarms can notify the encrypted topic', () => {
  const alarmArnPattern = {
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudwatch:us-east-1:123456789012:alarm:${pipeline.alarmNamePrefix}*`]],
  };

  test('the topic policy (which replaces the default one) allows CloudWatch alarms of this construct to publish', () => {
    const policy = only(template, 'AWS::SNS::TopicPolicy').props;
    const topicId = only(template, 'AWS::SNS::Topic').logicalId;
    expect(policy.PolicyDocument.Statement).toEqual(expect.arrayContaining([{
      Sid: 'AllowCloudWatchAlarmsToPublish',
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: { Ref: topicId },
      Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': alarmArnPattern } },
    }]));
  });

  test('the key lets CloudWatch (only for these alarms) encrypt to the topic', () => {
    const key = only(template, 'AWS::KMS::Key').props;
    expect(key.KeyPolicy.Statement).toEqual(expect.arrayContaining([expect.objectContaining({
      Sid: 'AllowCloudWatchAlarms',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': alarmArnPattern } },
    })]));
    const topicKey = only(template, 'AWS::SNS::Topic').props.KmsMasterKeyId;
    expect(topicKey).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::KMS::Key').logicalId, 'Arn'] });
  });

  test('every alarm carries the prefix the policies allow', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[];
    expect(alarms.length).toBeGreaterThan(0);
    for (const a of alarms) expect(a.Properties.AlarmName.startsWith(pipeline.alarmNamePrefix)).toBe(true);
    expect(pipeline.alarmNamePrefix).toMatch(/^medlaunch-elt-[a-z0-9-]+-$/);
  });
});

describe('delete the stack, deploy it again', () => {
  /** Properties that give a resource a fixed physical name. */
  const NAME_PROPS = ['BucketName', 'LogGroupName', 'QueueName', 'TopicName', 'Name', 'FunctionName', 'StateMachineName',
    'RoleName', 'AliasName', 'RuleName', 'AlarmName', 'DatabaseInput', 'TableInput'];
  const mentionsStackId = (v: unknown) => JSON.stringify(v).includes('"AWS::StackId"');

  test('no resource that outlives the stack (DeletionPolicy Retain) has a fixed name', () => {
    for (const t of [template, synth({ databaseName: 'accreditation', workGroupName: 'acc-wg' }).template]) {
      const retained = Object.entries(t.toJSON().Resources as Record<string, any>).filter(([, r]) => r.DeletionPolicy === 'Retain');
      expect(retained.length).toBeGreaterThan(0);
      for (const [id, r] of retained) {
        for (const prop of NAME_PROPS) {
          const v = r.Properties?.[prop];
          if (v !== undefined && !mentionsStackId(v)) throw new Error(`${id} (${r.Type}) is retained with a fixed ${prop}`);
        }
      }
    }
  });

  test('Glue database and tables and the workgroup are always deleted with the stack (recursively: it holds query history)', () => {
    for (const type of ['AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup']) {
      for (const r of Object.values(template.findResources(type)) as any[]) {
        expect(r.DeletionPolicy).toBe('Delete');
        expect(r.UpdateReplacePolicy).toBe('Delete');
      }
    }
    template.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: true });
  });

  test('the state machine log group stays under /aws/vendedlogs/states/ and ends in the stack UUID', () => {
    const lg = template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: {} } });
    const [r] = Object.values(lg) as any[];
    expect(r.DeletionPolicy).toBe('Retain');
    const parts = r.Properties.LogGroupName['Fn::Join'][1];
    expect(parts[0]).toMatch(/^\/aws\/vendedlogs\/states\/[A-Za-z0-9-]+-$/);
    expect(parts[1]).toEqual({ 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] });
    expect(pipeline.stateMachineLogGroup.logGroupName).toBeDefined();
  });
});

describe('the rule starts executions for data files only', () => {
  test('one wildcard per lowercase data file extension under the raw prefix (EventBridge ORs the matchers of one field)', () => {
    const rule = only(template, 'AWS::Events::Rule').props;
    expect(rule.EventPattern.detail.object.key).toEqual([
      { wildcard: 'data/batch/*.jsonl' }, { wildcard: 'data/batch/*.ndjson' }, { wildcard: 'data/batch/*.json' },
      { wildcard: 'data/batch/*.jsonl.gz' }, { wildcard: 'data/batch/*.ndjson.gz' }, { wildcard: 'data/batch/*.json.gz' },
    ]);
  });
});

describe('no inert dead-letter queues', () => {
  test('the functions (invoked synchronously by Step Functions) have no async DLQ; the rule target keeps its DLQ and alarm', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'nodejs24.x' } })) as any[]) {
      expect(fn.Properties.DeadLetterConfig).toBeUndefined();
    }
    const [queueId] = Object.keys(template.findResources('AWS::SQS::Queue'));
    expect(Object.keys(template.findResources('AWS::SQS::Queue'))).toHaveLength(1);
    expect(only(template, 'AWS::Events::Rule').props.Targets[0].DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
    const depth = template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'ApproximateNumberOfMessagesVisible' } });
    expect(Object.values(depth).map((a: any) => a.Properties.Dimensions)).toEqual([[{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }]]);
    // every state machine Lambda task is a synchronous invoke (never InvocationType Event)
    expect(JSON.stringify(only(template, 'AWS::StepFunctions::StateMachine').props.DefinitionString)).not.toContain('"InvocationType":"Event"');
  });
});

describe('one failure, one alert', () => {
  test('no alarm on raw ExecutionsFailed or Lambda Errors (NotifyFailure alerts every caught failure; retried errors must not page)', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as any[];
    // every metric an alarm reads: its own, or those of its metric math (the data alarms, docs/construct.md "Monitoring")
    const metricsOf = (p: any): string[] => (p.Metrics
      ? p.Metrics.filter((m: any) => m.MetricStat).map((m: any) => `${m.MetricStat.Metric.Namespace}/${m.MetricStat.Metric.MetricName}`)
      : [`${p.Namespace}/${p.MetricName}`]);
    const names = alarms.flatMap((a) => metricsOf(a.Properties));
    expect(names).not.toContain('AWS/States/ExecutionsFailed');
    expect(names.filter((n) => n.startsWith('AWS/Lambda/'))).toEqual([]);
    expect(names.filter((n) => !n.startsWith('MedlaunchElt/')).sort()).toEqual([
      'AWS/Events/InvocationsFailedToBeSentToDlq', 'AWS/SQS/ApproximateNumberOfMessagesVisible', 'AWS/States/ExecutionsAborted',
      'AWS/States/ExecutionsTimedOut', `medlaunch-elt/${pipeline.alarmNamePrefix}FailuresNotAlerted`,
    ]);
    // the data alarms read the pipeline's own data metrics only (never an execution or Lambda failure count)
    expect([...new Set(names.filter((n) => n.startsWith('MedlaunchElt/')))].sort()).toEqual([
      'MedlaunchElt/QueriesFailed', 'MedlaunchElt/RecordsQuarantined', 'MedlaunchElt/RecordsRead',
    ]);
  });

  test('NotifyFailure catches its own failure into the AlertNotDelivered Fail state', () => {
    const def = definitionOf(template);
    expect(def.States.NotifyFailure.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.alertError', Next: 'AlertNotDelivered' }]);
    expect(def.States.AlertNotDelivered).toMatchObject({ Type: 'Fail', Error: 'AlertNotDelivered', CausePath: '$.alertError.Cause' });
    // every other Catch leads to NotifyFailure: directly, through AlertWhichError (the first error of the execution),
    // or, for Stage 2, through the snapshot ticket (a failed file still coordinates its snapshot, then alerts)
    const catches: any[] = [];
    const walk = (states: Record<string, any>) => {
      for (const [name, st] of Object.entries(states)) {
        if (name !== 'NotifyFailure') catches.push(...(st.Catch ?? []));
        for (const b of st.Branches ?? []) walk(b.States);
      }
    };
    walk(def.States);
    expect(catches.length).toBeGreaterThan(0);
    for (const c of catches) expect(['NotifyFailure', 'AlertWhichError', 'ClaimSnapshot']).toContain(c.Next);
    expect(def.States.ProcessObject.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ClaimSnapshot' }]);
    const which = def.States.AlertWhichError;
    expect(which.Choices[0]).toMatchObject({ Variable: '$.error', IsPresent: true, Next: 'NotifyFailure' });
    expect(def.States[which.Default]).toMatchObject({ Type: 'Pass', ResultPath: '$.error', Next: 'NotifyFailure' });
    // the ends after the ticket alert for a failed Stage 2 and succeed otherwise
    for (const end of ['AfterRefresh', 'AfterSuperseded']) {
      expect(def.States[end].Choices[0]).toMatchObject({ Variable: '$.error', IsPresent: true, Next: 'NotifyFailure' });
      expect(def.States[def.States[end].Default].Type).toBe('Succeed');
    }
  });

  test('failures NotifyFailure cannot report are counted from the state machine log group', () => {
    const filter = only(template, 'AWS::Logs::MetricFilter').props;
    const logGroupId = Object.keys(template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: {} } }))[0];
    expect(filter.LogGroupName).toEqual({ Ref: logGroupId });
    expect(filter.FilterPattern).toBe('{ ($.type = "ExecutionFailed") && (($.details.error = "AlertNotDelivered") || '
      + '($.details.error = "States.Runtime") || ($.details.error = "States.DataLimitExceeded")) }');
    expect(filter.MetricTransformations).toEqual([{
      MetricNamespace: 'medlaunch-elt', MetricName: `${pipeline.alarmNamePrefix}FailuresNotAlerted`, MetricValue: '1',
    }]);
    // the log group records every event with its error (level ALL, execution data included)
    expect(only(template, 'AWS::StepFunctions::StateMachine').props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(pipeline.failuresNotAlertedAlarm.alarmArn).toBeDefined();
  });

  test('events the rule could not deliver: in the DLQ (depth alarm) or lost (InvocationsFailedToBeSentToDlq alarm)', () => {
    const ruleId = only(template, 'AWS::Events::Rule').logicalId;
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'InvocationsFailedToBeSentToDlq',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: ruleId } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
});

describe('lifecycle and log permissions', () => {
  const rules = () => {
    const data = Object.entries(template.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('PipelineDataBucket'))![1] as any;
    return data.Properties.LifecycleConfiguration.Rules as any[];
  };

  test('expired delete markers are removed bucket-wide (Athena results expiry and _staging/ churn leave them)', () => {
    expect(rules()).toEqual(expect.arrayContaining([{ Id: 'remove-expired-delete-markers', ExpiredObjectDeleteMarker: true, Status: 'Enabled' }]));
  });

  test('an abandoned _staging/ computation expires well after the state machine timeout; its noncurrent versions after a day', () => {
    expect(rules()).toEqual(expect.arrayContaining([{
      Id: 'expire-abandoned-staging',
      Prefix: 'curated/facility_metrics/_staging/',
      ExpirationInDays: 7,
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      Status: 'Enabled',
    }]));
    expect(rules()).toEqual(expect.arrayContaining([expect.objectContaining({
      Id: 'expire-athena-query-results', Prefix: 'athena-results/', NoncurrentVersionExpiration: { NoncurrentDays: 1 },
    })]));
    // a 5-day state machine timeout: twice that
    const long = synth({ stateMachineTimeout: Duration.days(5) }).template;
    const data = Object.entries(long.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('PipelineDataBucket'))![1] as any;
    expect(data.Properties.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([expect.objectContaining({
      Id: 'expire-abandoned-staging', ExpirationInDays: 10,
    })]));
  });

  test.each(['PipelineProcessor', 'PipelineQueryRunner', 'PipelinePublisher'])('%s writes to its own log group and its streams (well-formed ARNs)', (fn) => {
    const st = policyOf(template, `${fn}RoleDefaultPolicy`).find((s) => actions(s).includes('logs:PutLogEvents'));
    const logGroupId = Object.keys(template.findResources('AWS::Logs::LogGroup')).find((id) => id.startsWith(`${fn}Logs`))!;
    expect(st.Resource).toEqual([
      { 'Fn::GetAtt': [logGroupId, 'Arn'] },
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:us-east-1:123456789012:log-group:', { Ref: logGroupId }, ':log-stream:*']] },
    ]);
    expect(JSON.stringify(st.Resource)).not.toContain(':*:log-stream');
  });
});

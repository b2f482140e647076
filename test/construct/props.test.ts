import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ENV, actionsOf, only, statementsOf, synth } from './helpers';
import { AccreditationPipeline, AccreditationPipelineProps } from '../../src';

function build(props: AccreditationPipelineProps | ((stack: Stack) => AccreditationPipelineProps)): () => void {
  return () => {
    synth(props);
  };
}

describe('invalid prop combinations throw clear errors', () => {
  test('DESTROY with an imported bucket', () => {
    expect(build((stack) => ({ bucket: s3.Bucket.fromBucketName(stack, 'B', 'existing'), removalPolicy: RemovalPolicy.DESTROY })))
      .toThrow(/removalPolicy DESTROY cannot be combined with an imported bucket/);
  });

  test('a bucket that carries a key with a different encryptionKey', () => {
    expect(build((stack) => {
      const k1 = new kms.Key(stack, 'K1');
      const k2 = new kms.Key(stack, 'K2');
      return { bucket: new s3.Bucket(stack, 'B', { encryptionKey: k1, eventBridgeEnabled: true }), encryptionKey: k2 };
    })).toThrow(/encryptionKey must be the key of the given bucket/);
  });

  test('alarmEmails with an imported topic', () => {
    expect(build((stack) => ({
      alertTopic: sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:us-east-1:123456789012:alerts'),
      alarmEmails: ['a@example.com'],
    }))).toThrow(/cannot be combined with alertTopic/);
  });

  test.each([
    ['SNAPSHOT', RemovalPolicy.SNAPSHOT],
    ['RETAIN_ON_UPDATE_OR_DELETE', RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE],
  ])('removalPolicy %s', (_n, policy) => {
    expect(build({ removalPolicy: policy })).toThrow(/removalPolicy must be RETAIN or DESTROY/);
  });

  test.each([
    [{ rawPrefix: '' }, /rawPrefix must not be empty/],
    [{ rawPrefix: 'data/batch' }, /rawPrefix must end with '\/'/],
    [{ validatedPrefix: '/validated/' }, /validatedPrefix must not start with '\/'/],
    [{ curatedPrefix: 'a//b/' }, /empty path segment/],
    [{ resultsPrefix: 'res ults/' }, /may only contain/],
    [{ expiringPrefix: 'validated/' }, /validatedPrefix and expiringPrefix must be distinct/],
    [{ quarantinePrefix: 'validated/bad/' }, /quarantinePrefix \('validated\/bad\/'\) must not be nested in validatedPrefix/],
    [{ rawPrefix: 'data/', productionPrefix: 'data/batch/prod/' }, /must not be nested in rawPrefix/],
    [{ athenaResultsPrefix: 'curated/' }, /must not be nested in athenaResultsPrefix/],
    [{ reportsPrefix: 'reports' }, /reportsPrefix must end with '\/'/],
    [{ reportsPrefix: 'production/state_counts/' }, /productionPrefix and reportsPrefix must be distinct/],
    [{ reportsPrefix: 'validated/reports/' }, /reportsPrefix \('validated\/reports\/'\) must not be nested in validatedPrefix/],
  ] as [AccreditationPipelineProps, RegExp][])('prefixes %o', (props, error) => {
    expect(build(props)).toThrow(error);
  });

  test.each([
    [{ expiryMonths: 0 }, /expiryMonths must be an integer from 1 to 120/],
    [{ expiryMonths: 121 }, /expiryMonths/],
    [{ expiryMonths: 2.5 }, /expiryMonths/],
    [{ maxQueryPolls: 0 }, /maxQueryPolls/],
    [{ bytesScannedCutoffPerQuery: 1_000 }, /bytesScannedCutoffPerQuery must be an integer from 10000000/],
    [{ databaseName: 'Bad-Name' }, /databaseName must be/],
    [{ databaseName: '' }, /databaseName must be/],
    [{ workGroupName: 'bad name' }, /workGroupName must be/],
    [{ lambdaLogLevel: 'TRACE' }, /lambdaLogLevel must be one of/],
    [{ reservedConcurrentExecutions: 0 }, /reservedConcurrentExecutions/],
    [{ processorTimeout: Duration.minutes(20) }, /processorTimeout/],
    [{ queryTimeout: Duration.seconds(5) }, /queryTimeout/],
    [{ snapshotQuietPeriod: Duration.seconds(0) }, /snapshotQuietPeriod \(seconds\) must be an integer from 1 to 3600/],
    [{ snapshotQuietPeriod: Duration.hours(2) }, /snapshotQuietPeriod \(seconds\) must be an integer from 1 to 3600/],
    [{ snapshotQuietPeriod: Duration.minutes(30), stateMachineTimeout: Duration.minutes(20) }, /snapshotQuietPeriod \(1800 s\) must be shorter than stateMachineTimeout \(1200 s\)/],
    [{ alarmEmails: ['not-an-email'] }, /is not an e-mail address/],
    [{ alarmEmails: ['a@example.com', 'a@example.com'] }, /duplicates/],
  ] as [AccreditationPipelineProps, RegExp][])('values %o', (props, error) => {
    expect(build(props)).toThrow(error);
  });
});

describe('bring your own resources', () => {
  test('imported bucket: no buckets created, a key is still created for the other resources', () => {
    const { template, pipeline } = synth((stack) => ({ bucket: s3.Bucket.fromBucketName(stack, 'B', 'existing-data') }));
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::KMS::Key', 1);
    expect(pipeline.accessLogsBucket).toBeUndefined();
    expect(JSON.stringify(template.toJSON())).toContain('existing-data');
  });

  test('a bucket with its own key: that key is used everywhere, no new key', () => {
    let key: kms.Key | undefined;
    const { template, pipeline } = synth((s) => {
      key = new kms.Key(s, 'OwnKey', { enableKeyRotation: true });
      return { bucket: new s3.Bucket(s, 'OwnBucket', { encryptionKey: key, eventBridgeEnabled: true }) };
    });
    template.resourceCountIs('AWS::KMS::Key', 1);
    expect(pipeline.encryptionKey).toBe(key);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Stack.of(key!).getLogicalId(key!.node.defaultChild as any), 'Arn'] } });
  });

  test('an imported key and topic', () => {
    const { template, pipeline } = synth((stack) => ({
      encryptionKey: kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555'),
      alertTopic: sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:us-east-1:123456789012:alerts'),
    }));
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    for (const a of pipeline.alarms) {
      expect(Stack.of(a).resolve((a.node.defaultChild as any).alarmActions)).toEqual(['arn:aws:sns:us-east-1:123456789012:alerts']);
    }
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555',
          },
        }],
      },
    });
  });

  test('two pipelines in one stack get distinct database and workgroup names', () => {
    const app = new App();
    const stack = new Stack(app, 'Two', { env: ENV });
    const a = new AccreditationPipeline(stack, 'A');
    const b = new AccreditationPipeline(stack, 'B');
    expect(a.databaseName).not.toBe(b.databaseName);
    expect(a.workGroupName).not.toBe(b.workGroupName);
  });
});

describe('grants', () => {
  test('grantWriteRaw, grantReadResults and grantRunQueries are scoped to prefixes, workgroup and tables', () => {
    const app = new App();
    const stack = new Stack(app, 'G', { env: ENV });
    const p = new AccreditationPipeline(stack, 'Pipeline');
    const uploader = new Role(stack, 'Uploader', { assumedBy: new AccountRootPrincipal() });
    const reader = new Role(stack, 'Reader', { assumedBy: new AccountRootPrincipal() });
    const analyst = new Role(stack, 'Analyst', { assumedBy: new AccountRootPrincipal() });
    p.grantWriteRaw(uploader);
    p.grantReadResults(reader);
    p.grantRunQueries(analyst);
    const policies = stack.resolve(Object.fromEntries(['Uploader', 'Reader', 'Analyst'].map((n) => {
      const role = stack.node.findChild(n);
      return [n, JSON.stringify(stack.resolve((role.node.findChild('DefaultPolicy').node.defaultChild as any).policyDocument))];
    })));
    expect(policies.Uploader).toContain('s3:PutObject');
    expect(policies.Uploader).toContain('/data/batch/*');
    expect(policies.Uploader).not.toContain('/validated/');
    expect(policies.Reader).toContain('/production/state_counts/*');
    expect(policies.Reader).toContain('/reports/*');
    expect(policies.Reader).toContain('/expiring/*');
    expect(policies.Reader).not.toContain('s3:PutObject');
    expect(policies.Analyst).toContain('athena:StartQueryExecution');
    expect(policies.Analyst).toContain('glue:GetTable');
    expect(policies.Analyst).toContain('/athena-results/*');
    expect(policies.Analyst).not.toContain('/production/');
  });
});

describe('props reach every building block', () => {
  test('custom prefixes reach the rule, tables, lifecycle and environment', () => {
    const { template: t } = synth({ rawPrefix: 'in/', validatedPrefix: 'ok/', athenaResultsPrefix: 'aq/', expiryMonths: 3 });
    expect(only(t, 'AWS::Events::Rule').props.EventPattern.detail.object.key).toEqual(expect.arrayContaining([{ wildcard: 'in/*.json.gz' }]));
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ RAW_PREFIX: 'in/', VALIDATED_PREFIX: 'ok/', EXPIRY_MONTHS: '3' }) } });
    t.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: 'aq/' })]) } });
  });

  test('reportsPrefix reaches the environment, the publisher\'s grant and the public property', () => {
    const { template: t, pipeline: p } = synth({ reportsPrefix: 'runs/reports/' });
    expect(p.reportsPrefix).toBe('runs/reports/');
    t.resourcePropertiesCountIs('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ REPORTS_PREFIX: 'runs/reports/' }) } }, 3);
    const put = statementsOf(t, 'PipelinePublisherRoleDefaultPolicy').find((s) => actionsOf([s]).includes('s3:PutObject'));
    expect(JSON.stringify(put.Resource)).toContain('/runs/reports/*');
    expect(JSON.stringify(put.Resource)).not.toContain('"/reports/*"');
  });

  test('removalPolicy DESTROY deletes buckets (auto-delete), key, logs and the workgroup', () => {
    const { template: t } = synth({ removalPolicy: RemovalPolicy.DESTROY });
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    t.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: true });
    for (const type of ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup']) {
      for (const r of Object.values(t.findResources(type)) as any[]) expect(r.DeletionPolicy).toBe('Delete');
    }
  });

  test('logRetention, databaseName and workGroupName', () => {
    const { template: t } = synth({ logRetention: logs.RetentionDays.ONE_MONTH, databaseName: 'accreditation', workGroupName: 'acc-wg' });
    t.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 4);
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'accreditation' } });
    t.hasResourceProperties('AWS::Glue::Table', { DatabaseName: 'accreditation' });
    t.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'acc-wg' });
  });
});

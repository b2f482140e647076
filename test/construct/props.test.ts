import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ENV, synth } from './helpers';
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
    expect(policies.Reader).not.toContain('s3:PutObject');
    expect(policies.Analyst).toContain('athena:StartQueryExecution');
    expect(policies.Analyst).toContain('glue:GetTable');
    expect(policies.Analyst).toContain('/athena-results/*');
    expect(policies.Analyst).not.toContain('/production/');
  });
});

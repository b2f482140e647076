import { Match } from 'aws-cdk-lib/assertions';
import { only, synth } from './helpers';

/** The key and the storage building block (src/pipeline/storage.ts): the KMS key and its policy, the data bucket, the access-log bucket. */
const { template, pipeline } = synth();

describe('storage: key, data bucket and access logs', () => {
  test('one KMS key with rotation, RETAIN by default', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('data bucket: KMS, block public access, versioning, EventBridge, access logs, lifecycle', () => {
    const data = template.findResources('AWS::S3::Bucket', { Properties: { NotificationConfiguration: Match.anyValue() } });
    expect(Object.keys(data)).toHaveLength(0); // EventBridge is turned on through the notifications custom resource
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() },
          }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'data-bucket/' },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' }),
            Match.objectLike({ Prefix: 'athena-results/', ExpirationInDays: 7, Status: 'Enabled' }),
          ]),
        },
      },
    });
  });

  test('two buckets (data + access logs), both TLS-only', () => {
    template.resourceCountIs('AWS::S3::Bucket', 2);
    const policies = template.findResources('AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const p of Object.values(policies) as any[]) {
      expect(p.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
      ]));
    }
  });

  test('access log bucket uses SSE-S3 (the only encryption S3 log delivery supports)', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
    expect(pipeline.accessLogsBucket).toBeDefined();
  });

  test("prefixes default to the contract's layout (docs/contract.md §3)", () => {
    expect([pipeline.rawPrefix, pipeline.validatedPrefix, pipeline.expiringPrefix, pipeline.quarantinePrefix,
      pipeline.curatedPrefix, pipeline.resultsPrefix, pipeline.productionPrefix, pipeline.athenaResultsPrefix]).toEqual([
      'data/batch/', 'validated/', 'expiring/', 'quarantine/', 'curated/facility_metrics/', 'results/state_counts/',
      'production/state_counts/', 'athena-results/',
    ]);
  });

  test('the key policy lets CloudWatch Logs, EventBridge and CloudWatch alarms use the key', () => {
    const key = only(template, 'AWS::KMS::Key').props;
    const principals = JSON.stringify(key.KeyPolicy.Statement.map((s: any) => s.Principal));
    expect(principals).toContain('logs.us-east-1.amazonaws.com');
    expect(principals).toContain('events.amazonaws.com');
    expect(principals).toContain('cloudwatch.amazonaws.com');
  });
});

import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { PipelineSettings } from './settings';

/**
 * The encryption key: the given one, else the given bucket's, else a new customer-managed key with rotation whose
 * policy lets the services that encrypt on the pipeline's behalf use it.
 */
export function createEncryptionKey(scope: Construct, settings: PipelineSettings,
  given: { encryptionKey?: kms.IKey; bucket?: s3.IBucket }): kms.IKey {
  const key = given.encryptionKey ?? given.bucket?.encryptionKey ?? new kms.Key(scope, 'Key', {
    description: `medlaunch-elt pipeline ${scope.node.path}: data, logs, alerts and queues`,
    enableKeyRotation: true,
    removalPolicy: settings.removalPolicy,
    pendingWindow: Duration.days(30),
  });
  if (key instanceof kms.Key) allowServicesToUseKey(key, settings.alarmArnPattern);
  return key;
}

/** Key policy statements for the services that encrypt with the key on the pipeline's behalf. */
function allowServicesToUseKey(key: kms.Key, alarmArnPattern: string): void {
  const stack = Stack.of(key);
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowCloudWatchLogs',
    principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: {
      ArnLike: { 'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    },
  }));
  // EventBridge writes to the KMS-encrypted rule DLQ.
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowEventBridge',
    principals: [new iam.ServicePrincipal('events.amazonaws.com')],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
  }));
  // CloudWatch alarms publish to the KMS-encrypted alert topic (SNS docs, "Enable compatibility between event
  // sources from AWS services and encrypted topics"): only this construct's alarms.
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowCloudWatchAlarms',
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': alarmArnPattern },
    },
  }));
}

/** The data bucket and, when the construct creates it, its server access log bucket. */
export interface PipelineStorage {
  readonly bucket: s3.IBucket;
  readonly accessLogsBucket?: s3.Bucket;
}

/** Lifecycle rules of both buckets. */
const HOUSEKEEPING_RULES: s3.LifecycleRule[] = [
  { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
  { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(90) },
];

/** The given data bucket, or a new KMS-encrypted, versioned, TLS-only one with access logs and lifecycle rules. */
export function createStorage(scope: Construct, settings: PipelineSettings, key: kms.IKey, given?: s3.IBucket): PipelineStorage {
  if (given) return { bucket: given };
  const { removalPolicy, destroy, prefixes: p } = settings;
  const accessLogsBucket = new s3.Bucket(scope, 'AccessLogsBucket', {
    // S3 server access logs can only be delivered to SSE-S3 buckets.
    // Object ownership is left to CDK: ObjectWriter with the log-delivery ACL, or a bucket
    // policy for the logging service under @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy.
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: true,
    removalPolicy,
    autoDeleteObjects: destroy,
    lifecycleRules: [...HOUSEKEEPING_RULES],
  });
  const bucket = new s3.Bucket(scope, 'DataBucket', {
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: key,
    bucketKeyEnabled: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: true,
    eventBridgeEnabled: true,
    serverAccessLogsBucket: accessLogsBucket,
    serverAccessLogsPrefix: 'data-bucket/',
    removalPolicy,
    autoDeleteObjects: destroy,
    lifecycleRules: [
      ...HOUSEKEEPING_RULES,
      // Deleting an object of a versioned bucket leaves a delete marker; once its noncurrent versions have
      // expired it is an "expired object delete marker" that S3 removes only when a rule says so (S3 User
      // Guide, lifecycle configuration elements). Athena results expiry and the _staging/ churn create many.
      { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      {
        id: 'expire-athena-query-results',
        prefix: p.athenaResults,
        expiration: settings.athenaResultsExpiration,
        noncurrentVersionExpiration: Duration.days(1),
      },
      {
        // A computation's UNLOAD staging folder is deleted when it is promoted; one abandoned by an execution that
        // timed out or was stopped expires here, long after any execution that could still promote it has ended.
        id: 'expire-abandoned-staging',
        prefix: `${p.curated}_staging/`,
        expiration: settings.stagingExpiration,
        noncurrentVersionExpiration: Duration.days(1),
      },
    ],
  });
  return { bucket, accessLogsBucket };
}

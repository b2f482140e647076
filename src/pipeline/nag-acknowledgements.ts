import { Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { PipelineFunctions } from './functions';
import type { PipelineSettings } from './settings';
import { FILE_SUMMARIES_FOLDER } from '../contract/observability';
import { NagAcknowledgement, acknowledge } from '../nag';

/** The resources whose deliberate cdk-nag findings are acknowledged. */
export interface AcknowledgedResources extends PipelineFunctions {
  readonly bucket: s3.IBucket;
  readonly accessLogsBucket?: s3.IBucket;
  readonly stateMachine: sfn.StateMachine;
  readonly ruleDeadLetterQueue: sqs.Queue;
}

/**
 * cdk-nag (AwsSolutions, HIPAA Security) findings that are deliberate, each recorded on its one
 * resource with the reason (listed in the README, "Compliance (cdk-nag)"). `scope` is the pipeline.
 */
export function acknowledgeNagFindings(scope: Construct, settings: PipelineSettings, resources: AcknowledgedResources): void {
  const hasReservedConcurrency = settings.reservedConcurrentExecutions !== undefined;
  const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  const prefixObjects = {
    id: 'AwsSolutions-IAM5',
    reason: 'Object-level S3 actions are scoped to the pipeline prefixes the role reads or writes (<bucket>/<prefix>*), the narrowest grant for keys that are only known at run time.',
    appliesTo: [...Object.values(settings.prefixes), `${settings.prefixes.validated}${FILE_SUMMARIES_FOLDER}`]
      .map((x) => ({ regex: `/^Resource::.+\\/${escape(x)}\\*$/` })),
  };
  const inline = {
    id: 'HIPAA.Security-IAMNoInlinePolicy',
    reason: 'The policy belongs to exactly one role, is generated from least-privilege grants and is created and deleted with it; a customer-managed policy would add no control.',
  };
  for (const fn of [resources.processorFunction, resources.queryFunction, resources.publishFunction]) {
    const policy = fn.role!.node.tryFindChild('DefaultPolicy');
    if (policy) {
      acknowledge(policy, [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (Resource "*") and are needed for active X-Ray tracing.',
          appliesTo: ['Resource::*'],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'Log streams are created by the Lambda service with run-time names; the grant is limited to the streams of the function\'s own log group.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:logs:.+:log-group:<[^>]+>:log-stream:\\*$/' }],
        },
        prefixObjects,
        inline,
      ]);
    }
    const rules: NagAcknowledgement[] = [{
      id: 'HIPAA.Security-LambdaInsideVPC',
      reason: 'The functions call only regional AWS APIs (S3, Athena, Glue, SNS) over TLS with IAM authentication and reach no private network resources; a VPC would add NAT or endpoints without reducing exposure.',
    }, {
      id: 'HIPAA.Security-LambdaDLQ',
      reason: 'Step Functions invokes the function synchronously; a Lambda dead-letter queue only receives failed asynchronous invocations and would stay empty. Every failure reaches the state machine (Retry, then Catch to the NotifyFailure alert).',
    }];
    if (!hasReservedConcurrency) {
      rules.push({
        id: 'HIPAA.Security-LambdaConcurrency',
        reason: 'Reserved concurrency is opt-in (prop reservedConcurrentExecutions): reserving it by default fails in accounts with a low concurrency quota. Executions are bounded by the EventBridge rule and the state machine.',
      });
    }
    acknowledge(fn, rules);
  }
  const smPolicy = resources.stateMachine.role.node.tryFindChild('DefaultPolicy');
  if (smPolicy) {
    acknowledge(smPolicy, [
      {
        id: 'AwsSolutions-IAM5',
        reason: 'Step Functions needs Resource "*" for X-Ray (xray:PutTraceSegments, GetSamplingRules) and for CloudWatch Logs delivery (logs:CreateLogDelivery and related actions have no resource-level permissions).',
        appliesTo: ['Resource::*'],
      },
      {
        id: 'AwsSolutions-IAM5',
        reason: 'lambda:InvokeFunction on <function ARN>:* covers the versions and aliases of the pipeline\'s own three functions only (CDK LambdaInvoke grant).',
        appliesTo: [{ regex: '/^Resource::<.+\\.Arn>:\\*$/' }],
      },
      inline,
    ]);
  }
  const eventsRole = resources.stateMachine.node.tryFindChild('EventsRole');
  const eventsPolicy = eventsRole?.node.tryFindChild('DefaultPolicy');
  if (eventsPolicy) acknowledge(eventsPolicy, [inline]);
  acknowledge(resources.ruleDeadLetterQueue, [{
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is itself the dead-letter queue of the EventBridge rule target; it is alarmed on depth.',
  }]);
  const replication = {
    id: 'HIPAA.Security-S3BucketReplicationEnabled',
    reason: 'Cross-region replication is an account-level disaster-recovery decision (destination bucket, region, key); the bucket is versioned so replication can be added without changes here.',
  };
  if (resources.bucket instanceof s3.Bucket && resources.bucket.node.scope === scope) acknowledge(resources.bucket, [replication]);
  if (resources.accessLogsBucket) {
    acknowledge(resources.accessLogsBucket, [
      replication,
      {
        id: 'HIPAA.Security-S3DefaultEncryptionKMS',
        reason: 'S3 server access logs can only be delivered to a bucket with SSE-S3 default encryption (SSE-KMS is not supported for the log target); the logs hold request metadata, not records.',
      },
      {
        id: 'AwsSolutions-S1',
        reason: 'This is the server access log bucket itself; logging it to itself would loop.',
      },
    ]);
  }
  // The stack-wide handler that CDK adds to turn on EventBridge notifications of the data bucket.
  const stack = Stack.of(scope);
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
    const role = child.node.tryFindChild('Role');
    if (role) {
      acknowledge(role, [{
        id: 'AwsSolutions-IAM4',
        reason: 'CDK-owned singleton that calls PutBucketNotificationConfiguration once per deployment; it uses AWSLambdaBasicExecutionRole for its own logs.',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      }]);
      const policy = role.node.tryFindChild('DefaultPolicy');
      if (policy) acknowledge(policy, [inline]);
    }
  }
}

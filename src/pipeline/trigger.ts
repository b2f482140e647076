import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { PipelineSettings } from './settings';
import { DATA_FILE_EXTENSIONS } from '../contract';

/**
 * The rule's matcher on `detail.object.key`: keys under the raw prefix that end in a data file extension.
 * An event pattern ANDs fields but ORs the matchers of one field, so "prefix and suffix" on the same key is one
 * `wildcard` per extension (`<prefix>*<ext>`; `*` matches any characters, `/` included). Wildcards are
 * case-sensitive and EventBridge has no case-insensitive wildcard (`equals-ignore-case` combines only with
 * `prefix`/`suffix` of a whole field), so the rule matches lowercase extensions only (docs/contract.md §1).
 */
function dataFileKeyPattern(rawPrefix: string): Array<{ wildcard: string }> {
  // A wildcard escapes `*` and `\` with a backslash (EventBridge event patterns, wildcard matching).
  const literal = rawPrefix.replace(/[\\*]/g, (c) => `\\${c}`);
  return DATA_FILE_EXTENSIONS.map((ext) => ({ wildcard: `${literal}*${ext}` }));
}

/** The EventBridge rule that starts the state machine, and the dead-letter queue of its target. */
export interface PipelineTrigger {
  readonly rule: events.Rule;
  readonly ruleDeadLetterQueue: sqs.Queue;
}

/**
 * Starts `stateMachine` for every data file created or deleted under the raw prefix of `bucket`; events that
 * cannot start an execution (10 retries within 6 hours) go to a KMS-encrypted, TLS-only dead-letter queue.
 */
export function createTrigger(scope: Construct, settings: PipelineSettings, opts: {
  bucket: s3.IBucket; key: kms.IKey; stateMachine: sfn.IStateMachine;
}): PipelineTrigger {
  const ruleDeadLetterQueue = new sqs.Queue(scope, 'RuleDlq', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: opts.key,
    dataKeyReuse: Duration.hours(1),
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy: settings.removalPolicy,
  });
  const raw = settings.prefixes.raw;
  const rule = new events.Rule(scope, 'ObjectCreatedRule', {
    description: `Starts the medlaunch-elt state machine for every data file (${DATA_FILE_EXTENSIONS.join(', ')}) created or deleted under ${raw}`,
    eventPattern: {
      source: ['aws.s3'],
      // "Object Deleted" covers DeleteObject (deletion-type "Permanently Deleted" or "Delete Marker Created") and
      // lifecycle expiration (S3 User Guide, "Using EventBridge").
      detailType: ['Object Created', 'Object Deleted'],
      detail: {
        bucket: { name: [opts.bucket.bucketName] },
        object: { key: dataFileKeyPattern(raw) },
      },
    },
    targets: [new targets.SfnStateMachine(opts.stateMachine, {
      deadLetterQueue: ruleDeadLetterQueue,
      retryAttempts: 10,
      maxEventAge: Duration.hours(6),
    })],
  });
  return { rule, ruleDeadLetterQueue };
}

import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { PipelineSettings } from './settings';

/**
 * The alert topic: the given one (left unchanged: docs/construct.md, "Bringing your own alert topic"), else a new
 * KMS-encrypted, TLS-only topic with the e-mail subscriptions, which only this construct's alarms may publish to.
 */
export function createAlertTopic(scope: Construct, settings: PipelineSettings, key: kms.IKey, given?: sns.ITopic): sns.ITopic {
  if (given) return given;
  const topic = new sns.Topic(scope, 'AlertTopic', {
    displayName: 'medlaunch-elt pipeline alerts',
    masterKey: key,
    enforceSSL: true,
  });
  for (const email of settings.alarmEmails) topic.addSubscription(new subs.EmailSubscription(email));
  // enforceSSL makes CDK write an AWS::SNS::TopicPolicy, which replaces the topic's default policy: without
  // this statement CloudWatch could not publish and no alarm would ever notify. Scoped as the SNS docs
  // recommend against the confused deputy: this account, and only this construct's alarms.
  topic.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowCloudWatchAlarmsToPublish',
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['sns:Publish'],
    resources: [topic.topicArn],
    conditions: {
      StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
      ArnLike: { 'aws:SourceArn': settings.alarmArnPattern },
    },
  }));
  return topic;
}

/**
 * Publishing to a KMS-encrypted topic needs the topic's key: `publisher` (the state machine, whose NotifyFailure
 * task already has `sns:Publish`) gets it on the construct's key, or on the key of the topic the user brought.
 */
export function grantAlertKey(publisher: iam.IGrantable, key: kms.IKey, given?: sns.ITopic): void {
  const topicKey = given ? given.masterKey : key;
  topicKey?.grant(publisher, 'kms:Decrypt', 'kms:GenerateDataKey');
}

import { Aws, Fn, Names } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { DefinitionTargets, buildDefinition } from './definition';
import type { PipelineSettings } from './settings';

/** The state machine and its log group. */
export interface PipelineStateMachine {
  readonly stateMachine: sfn.StateMachine;
  readonly stateMachineLogGroup: logs.LogGroup;
}

/** The Standard state machine (JSONPath, X-Ray, logging ALL to its own KMS-encrypted log group). */
export function createStateMachine(scope: Construct, settings: PipelineSettings, key: kms.IKey,
  targets: DefinitionTargets): PipelineStateMachine {
  // Under /aws/vendedlogs/ (Step Functions docs, "Avoiding CloudWatch Logs resource policy size restrictions"),
  // ending in the stack's id (a new UUID for every created stack): a log group RETAINed from a deleted stack never
  // collides with the next deployment's.
  const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
  const stateMachineLogGroup = new logs.LogGroup(scope, 'StateMachineLogs', {
    logGroupName: `/aws/vendedlogs/states/${Names.uniqueResourceName(scope, { maxLength: 200, separator: '-' })}-${stackUuid}`,
    retention: settings.logRetention,
    encryptionKey: key,
    removalPolicy: settings.removalPolicy,
  });
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineType: sfn.StateMachineType.STANDARD,
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    comment: 'medlaunch-elt: Stage 2 on the new object, then Stage 1 and Stage 3 for its snapshot, then Stage 4',
    definitionBody: sfn.DefinitionBody.fromChainable(buildDefinition(scope, settings, targets)),
    timeout: settings.stateMachineTimeout,
    tracingEnabled: true,
    logs: { destination: stateMachineLogGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    removalPolicy: settings.removalPolicy,
  });
  return { stateMachine, stateMachineLogGroup };
}

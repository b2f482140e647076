/**
 * A small stack shaped like the pipeline (bucket + EventBridge rule → state machine with
 * LambdaInvoke/SnsPublish/Wait/Choice/Parallel, Glue, Athena) used to test the local engine.
 */
import { join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';

/** Builds the fixture into `stack`; `codeDir` holds index.js of every function. */
export function buildFixtureStack(stack: Stack, codeDir: string): void {
  const bucket = new s3.Bucket(stack, 'Data', { eventBridgeEnabled: true });
  const topic = new sns.Topic(stack, 'Alerts');
  const db = new glue.CfnDatabase(stack, 'Db', {
    catalogId: stack.account,
    databaseInput: { name: 'medlaunch_local' },
  });
  new glue.CfnTable(stack, 'Validated', {
    catalogId: stack.account,
    databaseName: db.ref,
    tableInput: {
      name: 'validated_facilities',
      tableType: 'EXTERNAL_TABLE',
      storageDescriptor: {
        location: `s3://${bucket.bucketName}/validated/`,
        columns: [{ name: 'facility_id', type: 'string' }],
      },
      partitionKeys: [{ name: 'snapshot_date', type: 'string' }],
    },
  });
  const wg = new athena.CfnWorkGroup(stack, 'Wg', {
    name: `medlaunch-${stack.region}`,
    workGroupConfiguration: {
      resultConfiguration: { outputLocation: `s3://${bucket.bucketName}/athena-results/` },
      enforceWorkGroupConfiguration: true,
    },
  });
  const mk = (id: string, handler: string, timeout = 10) => new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    code: lambda.Code.fromAsset(codeDir),
    handler,
    timeout: Duration.seconds(timeout),
    memorySize: 256,
    environment: {
      DATA_BUCKET: bucket.bucketName,
      TOPIC_ARN: topic.topicArn,
      ATHENA_WORKGROUP: wg.name,
      ATHENA_OUTPUT_LOCATION: `s3://${bucket.bucketName}/athena-results/`,
      FUNCTION_ROLE: id,
    },
  });
  const processFn = mk('ProcessFn', 'index.process');
  const queryFn = mk('QueryFn', 'index.query');
  const publishFn = mk('PublishFn', 'index.publish', 5);

  const notify = new tasks.SnsPublish(stack, 'NotifyFailure', {
    topic,
    message: sfn.TaskInput.fromObject({
      execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
      error: sfn.JsonPath.stringAt('$.error.Error'),
      cause: sfn.JsonPath.stringAt('$.error.Cause'),
    }),
    resultPath: sfn.JsonPath.DISCARD,
  }).next(new sfn.Fail(stack, 'Failed', { error: 'PipelineFailed', cause: 'see the alert' }));

  const transientRetry = (t: tasks.LambdaInvoke) => t.addRetry({
    errors: ['TransientError', 'Lambda.TooManyRequestsException'],
    interval: Duration.seconds(1),
    maxAttempts: 3,
    backoffRate: 2,
  });
  const processObject = new tasks.LambdaInvoke(stack, 'ProcessObject', {
    lambdaFunction: processFn, payloadResponseOnly: false, resultSelector: { 'summary.$': '$.Payload' }, resultPath: '$.process',
  });
  transientRetry(processObject);

  const branch = (name: string) => {
    const start = new tasks.LambdaInvoke(stack, `${name}Start`, {
      lambdaFunction: queryFn,
      payload: sfn.TaskInput.fromObject({ 'query': name, 'bucket.$': '$.detail.bucket.name', 'polls': 0 }),
      outputPath: '$.Payload',
    });
    const poll = new tasks.LambdaInvoke(stack, `${name}Poll`, { lambdaFunction: queryFn, outputPath: '$.Payload' });
    const wait = new sfn.Wait(stack, `${name}Wait`, { time: sfn.WaitTime.duration(Duration.seconds(5)) });
    const done = new sfn.Choice(stack, `${name}Done`)
      .when(sfn.Condition.booleanEquals('$.done', true), new sfn.Succeed(stack, `${name}Ok`))
      .when(sfn.Condition.numberGreaterThan('$.polls', 5), new sfn.Fail(stack, `${name}TooManyPolls`, { error: 'PollLimit' }))
      .otherwise(wait.next(poll));
    poll.next(done);
    transientRetry(start);
    transientRetry(poll);
    return start.next(done);
  };
  const refresh = new sfn.Parallel(stack, 'RefreshSnapshot', { resultPath: '$.refresh' })
    .branch(branch('facility_extract'))
    .branch(branch('state_counts'));
  const publish = new tasks.LambdaInvoke(stack, 'PublishResults', {
    lambdaFunction: publishFn,
    payload: sfn.TaskInput.fromObject({ 'bucket.$': '$.detail.bucket.name', 'results.$': '$.refresh[1]' }),
    resultSelector: { 'published.$': '$.Payload' },
  });
  transientRetry(publish);
  for (const t of [processObject, refresh, publish]) t.addCatch(notify, { resultPath: '$.error' });

  const machine = new sfn.StateMachine(stack, 'Machine', {
    definitionBody: sfn.DefinitionBody.fromChainable(processObject.next(refresh).next(publish)),
  });
  new events.Rule(stack, 'ObjectCreated', {
    eventPattern: {
      source: ['aws.s3'],
      detailType: ['Object Created'],
      detail: { bucket: { name: [bucket.bucketName] }, object: { key: [{ prefix: 'data/batch/' }] } },
    },
    targets: [new targets.SfnStateMachine(machine, { retryAttempts: 4, maxEventAge: Duration.hours(2) })],
  });
}

/** CommonJS source of the fixture handlers, driven by the event (no AWS calls). */
export const FIXTURE_HANDLER_SOURCE = `
'use strict';
const seen = new Map();
exports.process = async (event) => {
  const key = event.detail && event.detail.object && event.detail.object.key || '';
  if (key.includes('permanent')) { const e = new Error('bad object ' + key); e.name = 'InvalidEventError'; throw e; }
  if (key.includes('flaky')) {
    const n = (seen.get(key) || 0) + 1; seen.set(key, n);
    if (n <= 2) { const e = new Error('throttled ' + n); e.name = 'TransientError'; throw e; }
  }
  return { key, attempt: seen.get(key) || 1, bucket: process.env.DATA_BUCKET, role: process.env.FUNCTION_ROLE };
};
exports.query = async (req) => {
  const polls = (req.polls || 0) + 1;
  return { ...req, polls, queryExecutionId: req.queryExecutionId || 'q-' + req.query, done: polls >= 3 };
};
exports.publish = async (req) => ({ published: true, bucket: req.bucket, polls: req.results.polls });
`;

/** Joins the fixture code folder's handler file path. */
export function fixtureHandlerFile(dir: string): string {
  return join(dir, 'index.js');
}

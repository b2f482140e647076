import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { synthesizeFixture } from './engine-helpers';
import { LocalLambdaRuntime } from '../../local/lambda';
import { LocalS3 } from '../../local/s3';
import { LocalSns } from '../../local/sns';
import { LocalStepFunctions, StepFunctionsApiError, type ApiHistoryEvent } from '../../local/stepfunctions';
import { resolveTemplate, ResolvedTemplate } from '../../local/template';

jest.setTimeout(60_000);

const sleepCode = mkdtempSync(join(tmpdir(), 'medlaunch-elt-sfn-test-'));
writeFileSync(join(sleepCode, 'index.js'),
  'exports.sleep = async (e) => { await new Promise((r) => setTimeout(r, e.ms)); return Date.now(); };\n');

let template: ResolvedTemplate;
let sns: LocalSns;
let lambda: LocalLambdaRuntime;
let sfn: LocalStepFunctions;
let machineArn: string;
let bucket: string;

beforeAll(async () => {
  const s = synthesizeFixture();
  template = resolveTemplate(s.template, { assemblyDir: s.assemblyDir });
  sns = await LocalSns.start();
  lambda = new LocalLambdaRuntime({ log: () => undefined });
  lambda.registerAll(template.lambdaFunctions());
  lambda.register({ name: 'fn-sleep', assetDir: sleepCode, handler: 'index.sleep', timeoutSeconds: 10 });
  sfn = new LocalStepFunctions({ lambda, endpoints: { sns: sns.endpoint }, waitScale: 0.01, retryScale: 0.01 });
  machineArn = sfn.register(template.stateMachine());
  bucket = template.buckets()[0].name;
});

afterAll(async () => {
  await sfn.close();
  await lambda.close();
  await sns.close();
});

const event = (key: string) => ({ 'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': { bucket: { name: bucket }, object: { key } } });
const trail = (h: { type: string; state?: string }[], type: string) => h.filter((e) => e.type === type).map((e) => e.state);

describe('synthesized definition on LocalStepFunctions', () => {
  test('success: LambdaInvoke result selectors, Parallel branches, Wait + Choice polling loop', async () => {
    const started = Date.now();
    const r = await sfn.startExecution(machineArn, event('data/batch/2025-08-10/a.jsonl'), 'ok-1').result;
    expect(r.status).toBe('SUCCEEDED');
    expect(r.executionArn).toBe(`${machineArn.replace(':stateMachine:', ':execution:')}:ok-1`);
    // PublishResults selected `$.Payload` of the optimized integration's result; the state counts branch polled 3 times.
    expect(r.output).toEqual({ published: { published: true, bucket, polls: 3 } });
    // Wait states of 5 s were scaled by 0.01: 2 waits per branch.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(trail(r.history, 'StateEntered').filter((s) => s === 'state_countsWait')).toHaveLength(2);
    expect(trail(r.history, 'StateEntered').filter((s) => s === 'facility_extractPoll')).toHaveLength(2);
    expect(r.history.filter((e) => e.type === 'ParallelBranchSucceeded')).toHaveLength(2);
    expect(sfn.describeExecution(r.executionArn).status).toBe('SUCCEEDED');
  });

  test('Tasks without TimeoutSeconds run without the library\'s 60 s default; explicit ones are kept', () => {
    const def = sfn.effectiveDefinition(machineArn);
    expect(def.States.ProcessObject.TimeoutSeconds).toBe(2147483);
    expect(def.States.RefreshSnapshot.Branches[0].States.facility_extractPoll.TimeoutSeconds).toBe(2147483);
    expect(template.stateMachine().definition.States.ProcessObject.TimeoutSeconds).toBeUndefined();
  });

  test('retries: a function failing twice with TransientError, then succeeding', async () => {
    const r = await sfn.startExecution(machineArn, event('data/batch/2025-08-10/flaky.jsonl')).result;
    expect(r.status).toBe('SUCCEEDED');
    const failed = r.history.filter((e) => e.type === 'StateFailed' && e.state === 'ProcessObject');
    expect(failed.map((e) => e.error)).toEqual(['TransientError', 'TransientError']);
    expect(JSON.parse(failed[0].cause!)).toMatchObject({ errorType: 'TransientError', errorMessage: 'throttled 1' });
    expect(r.history.filter((e) => e.type === 'StateRetried').map((e) => e.attempt)).toEqual([1, 2]);
  });

  test('getExecutionHistory: the API event types and details, numbered in time order; a retry is another TaskScheduled', async () => {
    const r = await sfn.startExecution(machineArn, event('data/batch/2025-08-10/flaky-history.jsonl'), 'history-1').result;
    expect(r.status).toBe('SUCCEEDED');
    const h = sfn.getExecutionHistory(r.executionArn);
    expect(h).toMatchObject({ executionArn: r.executionArn, stateMachineArn: machineArn, name: 'history-1', status: 'SUCCEEDED' });
    expect(h.stopDate! >= h.startDate).toBe(true);
    const ev = h.events;
    expect(ev.map((e) => e.id)).toEqual(ev.map((_, i) => i + 1));
    expect(ev.every((e, i) => i === 0 || e.timestamp >= ev[i - 1].timestamp)).toBe(true);
    expect(ev.every((e) => e.previousEventId < e.id)).toBe(true);
    expect(ev[0]).toMatchObject({ id: 1, previousEventId: 0, type: 'ExecutionStarted' });
    expect(JSON.parse(ev[0].executionStartedEventDetails!.input as string)).toEqual(event('data/batch/2025-08-10/flaky-history.jsonl'));
    expect(ev[ev.length - 1].type).toBe('ExecutionSucceeded');
    // No engine-only types (StateRetried, StateCaught, ParallelBranch…) leak into the API's shape.
    const types = new Set(ev.map((e) => e.type));
    for (const t of types) expect(t).toMatch(/^(Execution(Started|Succeeded)|(Task|Pass|Choice|Wait|Succeed|Parallel)State(Entered|Exited)|ParallelState(Started|Succeeded)|Task(Scheduled|Started|Succeeded|Failed))$/);
    // ProcessObject failed twice with TransientError and was retried within one TaskStateEntered.
    const name = (e: ApiHistoryEvent) => (e.stateEnteredEventDetails ?? e.stateExitedEventDetails)?.name;
    const from = ev.findIndex((e) => e.type === 'TaskStateEntered' && name(e) === 'ProcessObject');
    const to = ev.findIndex((e) => e.type === 'TaskStateExited' && name(e) === 'ProcessObject');
    const inside = ev.slice(from + 1, to).filter((e) => e.type.startsWith('Task'));
    expect(inside.map((e) => e.type)).toEqual([
      'TaskScheduled', 'TaskStarted', 'TaskFailed', 'TaskScheduled', 'TaskStarted', 'TaskFailed', 'TaskScheduled', 'TaskStarted', 'TaskSucceeded',
    ]);
    expect(inside[0].taskScheduledEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke', region: 'us-east-1' });
    // Without historyData (the local run), Task parameters are left out as with includeExecutionData: false.
    expect(inside[0].taskScheduledEventDetails!.parameters).toBeUndefined();
    expect(inside[2].taskFailedEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke', error: 'TransientError' });
    expect(JSON.parse(inside[2].taskFailedEventDetails!.cause as string)).toMatchObject({ errorType: 'TransientError' });
    // Every state entered exits, with its name; the local history and the API's agree on the states entered.
    const entered = ev.filter((e) => e.type.endsWith('StateEntered')).map(name);
    expect(ev.filter((e) => e.type.endsWith('StateExited')).map(name).sort()).toEqual([...entered].sort());
    expect(entered).toEqual(trail(r.history, 'StateEntered'));
    // The Parallel state: Entered, Started, (both branches), Succeeded, Exited; a branch's events chain to its Started event.
    const p = ev.filter((e) => e.type.startsWith('ParallelState')).map((e) => e.type);
    expect(p).toEqual(['ParallelStateEntered', 'ParallelStateStarted', 'ParallelStateSucceeded', 'ParallelStateExited']);
    const started = ev.find((e) => e.type === 'ParallelStateStarted')!;
    const branchFirsts = ev.filter((e) => e.previousEventId === started.id).map(name);
    expect(branchFirsts.sort()).toEqual(['facility_extractStart', 'state_countsStart']);
  });

  test('Catch → SNS publish → Fail on a permanent error', async () => {
    const before = sns.messages.length;
    const r = await sfn.startExecution(machineArn, event('data/batch/2025-08-10/permanent.jsonl'), 'perm-1').result;
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('PipelineFailed');
    expect(r.cause).toBe('see the alert');
    expect(trail(r.history, 'StateRetried')).toEqual([]);
    expect(trail(r.history, 'StateCaught')).toEqual(['ProcessObject']);
    // As the API shows a caught error: TaskFailed, the state exits, the handlers run, a Fail state ends the execution.
    const api = sfn.getExecutionHistory(r.executionArn).events.map((e) => e.type);
    expect(api.slice(api.indexOf('TaskFailed'), api.indexOf('TaskFailed') + 2)).toEqual(['TaskFailed', 'TaskStateExited']);
    expect(api.slice(-2)).toEqual(['FailStateEntered', 'ExecutionFailed']);
    expect(sfn.getExecutionHistory(r.executionArn).events.at(-1)!.executionFailedEventDetails).toEqual({ error: 'PipelineFailed', cause: 'see the alert' });
    const msgs = sns.messages.slice(before);
    expect(msgs).toHaveLength(1);
    expect(msgs[0].topicArn).toBe(template.snsTopics()[0].arn);
    const body = JSON.parse(msgs[0].message);
    expect(body.execution).toBe(r.executionArn);
    expect(body.error).toBe('InvalidEventError');
    expect(JSON.parse(body.cause)).toMatchObject({ errorType: 'InvalidEventError', errorMessage: 'bad object data/batch/2025-08-10/permanent.jsonl' });
  });

  test('Lambda throttling surfaces as Lambda.TooManyRequestsException and is retried', async () => {
    lambda.setFaults({ throttleNext: { fn: template.lambdaFunctions().find((f) => f.handler === 'index.publish')!.name, n: 2 } });
    const r = await sfn.startExecution(machineArn, event('data/batch/2025-08-10/b.jsonl')).result;
    lambda.setFaults({});
    expect(r.status).toBe('SUCCEEDED');
    const failures = r.history.filter((e) => e.type === 'StateFailed' && e.state === 'PublishResults');
    expect(failures.map((e) => e.error)).toEqual(['Lambda.TooManyRequestsException', 'Lambda.TooManyRequestsException']);
  });

  test('a Lambda timeout is a Sandbox.Timedout task failure (caught, alerted)', async () => {
    lambda.setFaults({ timeoutNext: { fn: template.lambdaFunctions().find((f) => f.handler === 'index.process')!.logicalId, n: 1 } });
    const before = sns.messages.length;
    const r = await sfn.startExecution(machineArn, event('data/batch/2025-08-10/c.jsonl')).result;
    lambda.setFaults({});
    expect(r.status).toBe('FAILED');
    expect(JSON.parse(sns.messages[before].message).error).toBe('Sandbox.Timedout');
  });

  test('execution names: same name and input is idempotent, another input is rejected', async () => {
    const a = sfn.startExecution(machineArn, event('data/batch/2025-08-10/d.jsonl'), 'same');
    const b = sfn.startExecution(machineArn, event('data/batch/2025-08-10/d.jsonl'), 'same');
    expect(b.executionArn).toBe(a.executionArn);
    expect(() => sfn.startExecution(machineArn, event('data/batch/2025-08-10/e.jsonl'), 'same')).toThrow(StepFunctionsApiError);
    expect(() => sfn.startExecution(`${machineArn}x`, {})).toThrow(/State Machine Does Not Exist/);
    await a.result;
    expect(sfn.listExecutions(machineArn).length).toBeGreaterThanOrEqual(6);
  });
});

describe('hand-written definitions', () => {
  let s3: LocalS3;
  let s3Url: string;
  let s3Root: string;
  beforeAll(async () => {
    s3Root = mkdtempSync(join(tmpdir(), 'medlaunch-elt-sfn-s3-'));
    s3 = await LocalS3.start({ rootDir: s3Root });
    await s3.createBucket('data');
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await client.send(new PutObjectCommand({ Bucket: 'data', Key: 'present.txt', Body: 'hello', ContentType: 'text/plain' }));
    client.destroy();
    s3Url = s3.endpoint;
  });
  afterAll(async () => {
    await s3.close();
    rmSync(s3Root, { recursive: true, force: true });
  });

  test('aws-sdk:s3 integration: result as JSON, errors named S3.NoSuchKeyException', async () => {
    const local = new LocalStepFunctions({ lambda, endpoints: { s3: s3Url } });
    const arn = local.register({
      name: 'sdk',
      definition: {
        StartAt: 'Get',
        States: {
          Get: {
            Type: 'Task',
            Resource: 'arn:aws:states:::aws-sdk:s3:getObject',
            Parameters: { 'Bucket': 'data', 'Key.$': '$.key' },
            ResultSelector: { 'body.$': '$.Body', 'etag.$': '$.ETag' },
            Catch: [{ ErrorEquals: ['S3.NoSuchKeyException'], ResultPath: '$.error', Next: 'Missing' }],
            End: true,
          },
          Missing: { Type: 'Pass', End: true },
        },
      },
    });
    const ok = await local.startExecution(arn, { key: 'present.txt' }).result;
    expect(ok).toMatchObject({ status: 'SUCCEEDED', output: { body: 'hello', etag: `"${createHash('md5').update('hello').digest('hex')}"` } });
    const missing = await local.startExecution(arn, { key: 'missing.txt' }).result;
    expect(missing.status).toBe('SUCCEEDED');
    expect((missing.output as any).error.Error).toBe('S3.NoSuchKeyException');
    expect((missing.output as any).error.Cause).toContain('Status Code: 404');
    await local.close();
  });

  test('Wait overrides and the lambda:invoke optimized-integration result shape', async () => {
    const local = new LocalStepFunctions({ lambda, waitTimeOverrides: { Pause: 300 } });
    const arn = local.register({
      name: 'shape',
      definition: {
        StartAt: 'Pause',
        States: {
          Pause: { Type: 'Wait', Seconds: 3600, Next: 'Call' },
          Call: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'fn-sleep', Payload: { ms: 1 } },
            End: true,
          },
        },
      },
    });
    const started = Date.now();
    const r = await local.startExecution(arn, {}).result;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(r.status).toBe('SUCCEEDED');
    const out = r.output as any;
    expect(out.StatusCode).toBe(200);
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(typeof out.Payload).toBe('number');
    expect(out.SdkHttpMetadata.HttpStatusCode).toBe(200);
    expect(out.SdkHttpMetadata.HttpHeaders['X-Amz-Executed-Version']).toBe('$LATEST');
    expect(out.SdkResponseMetadata.RequestId).toMatch(/^[0-9a-f-]{36}$/);
    await local.close();
  });

  test('a Task over its TimeoutSeconds fails with States.Timeout; a plain Lambda ARN returns the raw payload', async () => {
    const local = new LocalStepFunctions({ lambda, historyData: true });
    const queryArn = template.lambdaFunctions().find((f) => f.handler === 'index.query')!.arn;
    const arn = local.register({
      name: 'raw',
      definition: {
        StartAt: 'Raw',
        States: {
          Raw: { Type: 'Task', Resource: queryArn, Next: 'Slow' },
          Slow: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            TimeoutSeconds: 1,
            Parameters: { FunctionName: 'fn-sleep', Payload: { ms: 2500 } },
            Catch: [{ ErrorEquals: ['States.TaskFailed'], Next: 'NotForTimeouts' }],
            End: true,
          },
          NotForTimeouts: { Type: 'Succeed' },
        },
      },
    });
    const started = Date.now();
    const r = await local.startExecution(arn, { query: 'q' }).result;
    expect(Date.now() - started).toBeLessThan(2400);
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('States.Timeout');
    const raw = r.history.find((e) => e.type === 'StateExited' && e.state === 'Raw');
    expect(raw?.output).toEqual({ query: 'q', polls: 1, queryExecutionId: 'q-q', done: false });
    // A Lambda function ARN as the Resource is a LambdaFunction* task; a state over its timeout ends TaskTimedOut.
    const api = local.getExecutionHistory(r.executionArn).events;
    expect(api.map((e) => e.type)).toEqual([
      'ExecutionStarted', 'TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionSucceeded', 'TaskStateExited',
      'TaskStateEntered', 'TaskScheduled', 'TaskStarted', 'TaskTimedOut', 'ExecutionFailed',
    ]);
    expect(api[2].lambdaFunctionScheduledEventDetails).toEqual({ resource: queryArn, input: JSON.stringify({ query: 'q' }), inputDetails: { truncated: false } });
    expect(JSON.parse(api[4].lambdaFunctionSucceededEventDetails!.output as string)).toMatchObject({ queryExecutionId: 'q-q' });
    expect(api[7].taskScheduledEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke', timeoutInSeconds: 1 });
    expect(JSON.parse(api[7].taskScheduledEventDetails!.parameters!)).toEqual({ FunctionName: 'fn-sleep', Payload: { ms: 2500 } });
    expect(api[9].taskTimedOutEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke', error: 'States.Timeout' });
    // With historyData, the states' inputs and outputs are kept as the API gives them (JSON text).
    expect(JSON.parse(api[1].stateEnteredEventDetails!.input as string)).toEqual({ query: 'q' });
    expect(() => local.getExecutionHistory(`${r.executionArn}x`)).toThrow(/Execution Does Not Exist/);
    await local.close();
  });

  test('getExecutionHistory: a failed Parallel aborts the states still running in its other branches; a caught failure exits', async () => {
    const local = new LocalStepFunctions({ lambda, waitTimeOverrides: { Long: 5000 } });
    const arn = local.register({
      name: 'aborts',
      definition: {
        StartAt: 'Both',
        States: {
          Both: {
            Type: 'Parallel',
            Branches: [
              { StartAt: 'Quick', States: { Quick: { Type: 'Pass', Next: 'Boom' }, Boom: { Type: 'Fail', Error: 'Boom', Cause: 'on purpose' } } },
              { StartAt: 'Long', States: { Long: { Type: 'Wait', Seconds: 3600, End: true } } },
            ],
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Handled' }],
            Next: 'Handled',
          },
          Handled: { Type: 'Pass', End: true },
        },
      },
    });
    const started = Date.now();
    const r = await local.startExecution(arn, {}).result;
    expect(Date.now() - started).toBeLessThan(4000);
    expect(r.status).toBe('SUCCEEDED');
    const types = local.getExecutionHistory(r.executionArn).events.map((e) => e.type);
    expect(types.slice(types.indexOf('FailStateEntered'))).toEqual([
      'FailStateEntered', 'ParallelStateFailed', 'WaitStateAborted', 'ParallelStateExited', 'PassStateEntered', 'PassStateExited', 'ExecutionSucceeded',
    ]);
    expect(types).not.toContain('ParallelStateSucceeded');
    await local.close();
  });

  test('a Lambda init error fails the task with the runtime error type', async () => {
    const local = new LocalStepFunctions({ lambda });
    lambda.register({ name: 'fn-never', assetDir: sleepCode, handler: 'index.never' });
    const arn = local.register({
      name: 'init',
      definition: { StartAt: 'A', States: { A: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'fn-never' }, End: true } } },
    });
    const r = await local.startExecution(arn, {}).result;
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('Runtime.HandlerNotFound');
    expect(JSON.parse(r.cause!)).toMatchObject({ errorType: 'Runtime.HandlerNotFound' });
    await local.close();
  });

  test('sns:publish against the embedded local SNS (local/sns)', async () => {
    const real = await LocalSns.start();
    const local = new LocalStepFunctions({ lambda, endpoints: { sns: real.endpoint } });
    try {
      const arn = local.register({
        name: 'publish',
        definition: {
          StartAt: 'P',
          States: {
            P: {
              Type: 'Task',
              Resource: 'arn:aws:states:::sns:publish',
              Parameters: { TopicArn: 'arn:aws:sns:us-east-1:000000000000:alerts', Subject: 'failure', Message: { 'execution.$': '$$.Execution.Name', 'n': 1 } },
              End: true,
            },
          },
        },
      });
      const r = await local.startExecution(arn, {}, 'exec-7').result;
      expect(r.status).toBe('SUCCEEDED');
      expect(typeof (r.output as any).MessageId).toBe('string');
      expect(real.messages).toHaveLength(1);
      expect(real.messages[0]).toMatchObject({ topicArn: 'arn:aws:sns:us-east-1:000000000000:alerts', subject: 'failure', messageId: (r.output as any).MessageId });
      expect(JSON.parse(real.messages[0].message)).toEqual({ execution: 'exec-7', n: 1 });
    } finally {
      await local.close();
      await real.close();
    }
  });

  test('an SDK integration without a local endpoint never reaches AWS: States.Runtime', async () => {
    const saved = { sns: process.env.AWS_ENDPOINT_URL_SNS, all: process.env.AWS_ENDPOINT_URL };
    delete process.env.AWS_ENDPOINT_URL_SNS;
    delete process.env.AWS_ENDPOINT_URL;
    const local = new LocalStepFunctions({ lambda });
    try {
      const arn = local.register({
        name: 'noendpoint',
        definition: { StartAt: 'P', States: { P: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', Parameters: { TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', Message: 'x' }, End: true } } },
      });
      const r = await local.startExecution(arn, {}).result;
      expect(r).toMatchObject({ status: 'FAILED', error: 'States.Runtime', cause: 'no local endpoint configured for sns' });
    } finally {
      if (saved.sns !== undefined) process.env.AWS_ENDPOINT_URL_SNS = saved.sns;
      if (saved.all !== undefined) process.env.AWS_ENDPOINT_URL = saved.all;
      await local.close();
    }
  });

  test('JSONata definitions and unsupported resources are refused', async () => {
    const local = new LocalStepFunctions({ lambda });
    expect(() => local.register({ name: 'j', definition: { QueryLanguage: 'JSONata', StartAt: 'A', States: { A: { Type: 'Succeed' } } } }))
      .toThrow(/JSONata/);
    const arn = local.register({
      name: 'sync',
      definition: {
        StartAt: 'A',
        States: { A: { Type: 'Task', Resource: 'arn:aws:states:::glue:startJobRun.sync', Parameters: { JobName: 'x' }, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'B' }], End: true }, B: { Type: 'Succeed' } },
      },
    });
    const r = await local.startExecution(arn, {}).result;
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('States.Runtime');
    await local.close();
  });

  test('stopExecution aborts a running execution', async () => {
    const local = new LocalStepFunctions({ lambda });
    const arn = local.register({ name: 'long', definition: { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 600, End: true } } } });
    const e = local.startExecution(arn, {});
    local.stopExecution(e.executionArn);
    expect((await e.result).status).toBe('ABORTED');
    await local.close();
  });
});

/**
 * Runs the synthesized state machine definition in aws-local-stepfunctions (the engine the local
 * mode uses) with in-memory task handlers: payload shapes, polling cap, retries and alerts.
 */
import type * as Asl from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import { definitionOf, synth } from './helpers';
// The package is ESM-typed but ships a CommonJS build for require (see local/stepfunctions).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ExecutionError, StateMachine } = require('aws-local-stepfunctions') as typeof Asl;
type ExecutionError = InstanceType<typeof Asl.ExecutionError>;

const definition = definitionOf(synth({ maxQueryPolls: 4 }).template);

const EVENT = {
  'version': '0',
  'id': 'e1',
  'source': 'aws.s3',
  'detail-type': 'Object Created',
  'account': '123456789012',
  'region': 'us-east-1',
  'time': '2025-08-10T00:00:00Z',
  'resources': [],
  'detail': {
    bucket: { name: 'data-bucket' },
    object: { key: 'data/batch/2025-08-10/part-1.jsonl', etag: 'abc', size: 10 },
  },
};

function failure(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

interface Calls { [state: string]: any[] }

/** Task handlers that behave like the Lambdas; `behaviour` overrides single states. */
function handlers(calls: Calls, behaviour: Record<string, (input: any, n: number) => any> = {}) {
  // A lambda:invoke handler receives {FunctionName, Payload}; SNS gets {TopicArn, Message, Subject}.
  const record = (state: string, fallback: (input: any, n: number) => any) => async (params: any) => {
    const input = state === 'NotifyFailure' ? params : params.Payload;
    if (state !== 'NotifyFailure' && typeof params.FunctionName !== 'string') throw new Error('no FunctionName');
    (calls[state] ??= []).push(input);
    const n = calls[state].length;
    return (behaviour[state] ?? fallback)(input, n);
  };
  const query = (input: any) => {
    const polls = (input.polls ?? 0) + 1;
    const done = polls >= 2;
    return {
      StatusCode: 200,
      Payload: {
        query: input.query,
        bucket: input.bucket,
        key: input.key,
        snapshotDate: input.snapshotDate,
        polls,
        queryExecutionId: input.queryExecutionId ?? `q-${input.query}`,
        state: done ? 'SUCCEEDED' : 'RUNNING',
        submittedAt: '2025-08-10T00:00:01.000Z',
        done,
        ...(done && input.query === 'state_counts' ? { resultKeys: ['results/state_counts/snapshot_date=2025-08-10/state_counts.csv'], rows: 3 } : {}),
      },
    };
  };
  return {
    ProcessObject: record('ProcessObject', (input) => ({
      StatusCode: 200,
      Payload: {
        bucket: input.detail?.bucket?.name ?? input.bucket,
        key: input.detail?.object?.key ?? input.key,
        snapshotDate: '2025-08-10',
        asOf: '2025-08-10',
        read: 3,
        valid: 3,
        matched: 1,
        quarantined: 0,
        duplicates: 0,
        blank: 0,
        outputs: { validated: [], expiring: [], quarantine: [] },
      },
    })),
    StartExtract: record('StartExtract', query),
    PollExtract: record('PollExtract', query),
    StartStateCounts: record('StartStateCounts', query),
    PollStateCounts: record('PollStateCounts', query),
    PublishResults: record('PublishResults', () => ({ StatusCode: 200, Payload: { published: true, reason: 'published', keys: ['k'] } })),
    NotifyFailure: record('NotifyFailure', () => ({ MessageId: 'm-1' })),
  };
}

async function run(input: any, behaviour: Record<string, (input: any, n: number) => any> = {}) {
  const calls: Calls = {};
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  const zero = Object.fromEntries(['ProcessObject', 'StartExtract', 'PollExtract', 'StartStateCounts', 'PollStateCounts', 'PublishResults', 'NotifyFailure'].map((s) => [s, 0]));
  const execution = machine.run(input, {
    overrides: {
      taskResourceLocalHandlers: handlers(calls, behaviour),
      waitTimeOverrides: { WaitForExtract: 0, WaitForStateCounts: 0 },
      retryIntervalOverrides: zero,
    },
    context: {
      Execution: { Id: 'arn:aws:states:us-east-1:123456789012:execution:sm:run-1', Name: 'run-1', StartTime: '2025-08-10T00:00:00Z' },
      StateMachine: { Id: 'arn:aws:states:us-east-1:123456789012:stateMachine:sm', Name: 'sm' },
    } as any,
  });
  try {
    return { calls, output: await execution.result, error: undefined as ExecutionError | undefined };
  } catch (err) {
    return { calls, output: undefined, error: err as ExecutionError };
  }
}

describe('state machine (executed by aws-local-stepfunctions)', () => {
  test('happy path: process, extract and counts polled to completion, publish the counts', async () => {
    const { calls, output, error } = await run(EVENT);
    expect(error).toBeUndefined();
    expect(calls.ProcessObject[0].detail.object.key).toBe('data/batch/2025-08-10/part-1.jsonl');
    expect(calls.StartExtract[0]).toEqual({
      query: 'facility_extract', bucket: 'data-bucket', key: 'data/batch/2025-08-10/part-1.jsonl', snapshotDate: '2025-08-10', polls: 0,
    });
    expect(calls.StartStateCounts[0].query).toBe('state_counts');
    expect(calls.PollStateCounts[0]).toMatchObject({ queryExecutionId: 'q-state_counts', polls: 1, done: false });
    expect(calls.PublishResults).toHaveLength(1);
    expect(calls.PublishResults[0]).toMatchObject({
      bucket: 'data-bucket',
      snapshotDate: '2025-08-10',
      results: { query: 'state_counts', state: 'SUCCEEDED', done: true, resultKeys: [expect.stringContaining('state_counts.csv')] },
    });
    expect(calls.NotifyFailure).toBeUndefined();
    expect(output).toMatchObject({ publish: { published: { published: true } }, refresh: { extract: { done: true }, stateCounts: { done: true } } });
  });

  test('transient errors are retried, then the run succeeds', async () => {
    const { calls, error } = await run(EVENT, {
      ProcessObject: (input, n) => {
        if (n <= 2) throw failure('TransientError', 'SlowDown');
        return handlers({}).ProcessObject({ FunctionName: 'f', Payload: input });
      },
      StartStateCounts: (input, n) => {
        if (n === 1) throw failure('Lambda.TooManyRequestsException', 'Rate exceeded');
        return handlers({}).StartStateCounts({ FunctionName: 'f', Payload: input });
      },
    });
    expect(error).toBeUndefined();
    expect(calls.ProcessObject).toHaveLength(3);
    expect(calls.StartStateCounts).toHaveLength(2);
    expect(calls.PublishResults).toHaveLength(1);
  });

  test.each(['InvalidEventError', 'QueryFailedError', 'QueryCancelledError'])('permanent %s: no retry, alert naming execution, object and error, then fail', async (name) => {
    const state = name === 'InvalidEventError' ? 'ProcessObject' : 'PollStateCounts';
    const { calls, error } = await run(EVENT, { [state]: () => { throw failure(name, 'broken'); } });
    expect(calls[state]).toHaveLength(1);
    expect(calls.PublishResults).toBeUndefined();
    expect(calls.NotifyFailure).toHaveLength(1);
    const alert = calls.NotifyFailure[0];
    expect(alert.Subject).toMatch(/failed/);
    expect(alert.Message).toMatchObject({
      execution: 'arn:aws:states:us-east-1:123456789012:execution:sm:run-1',
      bucket: 'data-bucket',
      key: 'data/batch/2025-08-10/part-1.jsonl',
      object: 's3://data-bucket/data/batch/2025-08-10/part-1.jsonl',
      error: name,
    });
    expect(error).toBeInstanceOf(ExecutionError);
    expect((error as any).cause?.name).toBe(name);
  });

  test('the polling loop is capped', async () => {
    const { calls, error } = await run(EVENT, {
      PollExtract: (input) => ({ StatusCode: 200, Payload: { ...input, polls: input.polls + 1, done: false, state: 'RUNNING' } }),
    });
    expect(calls.StartExtract).toHaveLength(1);
    expect(calls.PollExtract).toHaveLength(3); // start + 3 polls = the cap of 4 calls
    expect(calls.NotifyFailure[0].Message.error).toBe('QueryPollLimitExceeded');
    expect((error as any).cause?.name).toBe('QueryPollLimitExceeded');
  });

  test('a manual start {bucket, key} runs the same pipeline', async () => {
    const { calls, error } = await run({ bucket: 'data-bucket', key: 'data/batch/2025-08-10/part-1.jsonl' });
    expect(error).toBeUndefined();
    expect(calls.ProcessObject[0]).toMatchObject({ bucket: 'data-bucket', key: 'data/batch/2025-08-10/part-1.jsonl' });
    expect(calls.PublishResults).toHaveLength(1);
  });

  test('when the alert itself cannot be published, the execution fails with AlertNotDelivered (the alarm\'s error)', async () => {
    const { calls, error } = await run(EVENT, {
      ProcessObject: () => { throw failure('QueryFailedError', 'broken'); },
      NotifyFailure: () => { throw failure('SNS.AuthorizationErrorException', 'no publish for you'); },
    });
    expect(calls.NotifyFailure).toHaveLength(1); // an authorization error is not retried
    expect(error).toBeInstanceOf(ExecutionError);
    expect((error as any).cause?.name).toBe('AlertNotDelivered');
  });

  test('a failure the definition catches ends in exactly one NotifyFailure publication, with the original error', async () => {
    const { calls, error } = await run(EVENT, {
      PublishResults: (_input, n) => {
        if (n === 1) throw failure('TransientError', 'SlowDown'); // retried: must not alert
        throw failure('QueryFailedError', 'broken');
      },
    });
    expect(calls.PublishResults).toHaveLength(2);
    expect(calls.NotifyFailure).toHaveLength(1);
    expect((error as any).cause?.name).toBe('QueryFailedError');
  });

  test('an input that names no object is rejected with an alert', async () => {
    const { calls, error } = await run({ hello: 'world' });
    expect(calls.ProcessObject).toBeUndefined();
    expect(calls.NotifyFailure[0].Message).toMatchObject({ bucket: 'unknown', key: 'unknown', error: 'InvalidEventError' });
    expect((error as any).cause?.name).toBe('InvalidEventError');
  });
});

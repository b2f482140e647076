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
const EXECUTION_ID = 'arn:aws:states:us-east-1:123456789012:execution:sm:run-1';
const CLAIM = '["\\"etag-1\\"","v-1","2025-08-10T00:00:00.000Z"]';

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
    // Stage 2, then the claim of the snapshot ticket in the same invocation (the payload names the execution in `run`).
    ProcessObject: record('ProcessObject', (input) => ({
      StatusCode: 200,
      Payload: {
        ticket: { bucket: input.object.bucket, object: input.object.key, snapshotDate: '2025-08-10', ticketKey: 't', execution: input.run.executionArn },
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
    // The snapshot ticket when Stage 2 failed: by default this execution still holds it when it reads it back.
    ClaimSnapshot: record('ClaimSnapshot', (input) => ({
      StatusCode: 200,
      Payload: { bucket: input.bucket, object: input.object, snapshotDate: '2025-08-10', ticketKey: 't', execution: input.execution },
    })),
    ReadTicket: record('ReadTicket', (input) => ({
      StatusCode: 200,
      Payload: {
        bucket: input.bucket,
        object: input.object,
        snapshotDate: '2025-08-10',
        ticketKey: 't',
        execution: input.execution,
        holder: input.execution,
        latest: true,
        claim: CLAIM,
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
  const zero = Object.fromEntries(['ProcessObject', 'ClaimSnapshot', 'ReadTicket', 'StartExtract', 'PollExtract', 'StartStateCounts', 'PollStateCounts', 'PublishResults', 'NotifyFailure'].map((s) => [s, 0]));
  const execution = machine.run(input, {
    overrides: {
      taskResourceLocalHandlers: handlers(calls, behaviour),
      waitTimeOverrides: { WaitForExtract: 0, WaitForStateCounts: 0, WaitQuietPeriod: 0 },
      retryIntervalOverrides: zero,
    },
    context: {
      Execution: { Id: EXECUTION_ID, Name: 'run-1', StartTime: '2025-08-10T00:00:00Z' },
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
  test('a manual start naming an as-of date: Stage 2 and both refresh queries use it; an event leaves it null (each stage\'s default)', async () => {
    const manual = await run({ bucket: 'data-bucket', key: 'data/batch/2025-08-10/part-1.jsonl', asOf: '2026-01-01' });
    expect(manual.error).toBeUndefined();
    expect(manual.calls.ProcessObject[0]).toMatchObject({ asOf: '2026-01-01' });
    expect(manual.calls.StartExtract[0]).toMatchObject({ query: 'facility_extract', asOf: '2026-01-01' });
    expect(manual.calls.StartStateCounts[0]).toMatchObject({ query: 'state_counts', asOf: '2026-01-01' });
    const plain = await run({ bucket: 'data-bucket', key: 'data/batch/2025-08-10/part-1.jsonl' });
    expect(plain.error).toBeUndefined();
    expect(plain.calls.StartStateCounts[0].asOf).toBeNull();
  });

  test('happy path: process, claim the ticket, read it back, extract and counts polled to completion, publish the counts', async () => {
    const { calls, output, error } = await run(EVENT);
    expect(error).toBeUndefined();
    expect(calls.ProcessObject[0].detail.object.key).toBe('data/batch/2025-08-10/part-1.jsonl');
    const ticket = { bucket: 'data-bucket', object: 'data/batch/2025-08-10/part-1.jsonl', execution: EXECUTION_ID };
    // ProcessObject claims the ticket itself: its payload names the execution and the object; no ClaimSnapshot call.
    expect(calls.ProcessObject[0]).toMatchObject({ object: { bucket: ticket.bucket, key: ticket.object }, run: { executionArn: EXECUTION_ID } });
    expect(calls.ClaimSnapshot).toBeUndefined();
    expect(calls.ReadTicket).toEqual([{ coordination: 'check', ...ticket }]);
    // The refresh queries get what ReadTicket returned: its claim names the refresh in their token.
    const readTicket = { ...ticket, snapshotDate: '2025-08-10', ticketKey: 't', holder: EXECUTION_ID, latest: true, claim: CLAIM };
    expect(calls.StartExtract[0]).toEqual({
      query: 'facility_extract',
      bucket: 'data-bucket',
      key: 'data/batch/2025-08-10/part-1.jsonl',
      snapshotDate: '2025-08-10',
      asOf: null,
      polls: 0,
      ticket: readTicket,
    });
    expect(calls.StartStateCounts[0]).toMatchObject({ query: 'state_counts', ticket: readTicket });
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

  test('a ReadTicket result without a claim (no ticket, an older handler) still refreshes: the payload never names a missing field', async () => {
    const { calls, error } = await run(EVENT, {
      ReadTicket: (input) => ({ StatusCode: 200, Payload: { ...input, snapshotDate: '2025-08-10', latest: true } }),
    });
    expect(error).toBeUndefined();
    expect(calls.StartExtract[0].ticket).not.toHaveProperty('claim');
    expect(calls.PublishResults).toHaveLength(1);
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
    // A failed Stage 2 still takes the ticket and, holding it, refreshes the snapshot (a failed file never holds
    // its snapshot back); a failed refresh publishes nothing.
    expect(calls.PublishResults?.length ?? 0).toBe(state === 'ProcessObject' ? 1 : 0);
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

  test('superseded: the ticket names a later execution, so this one ends in Succeed without any query', async () => {
    const { calls, output, error } = await run(EVENT, {
      ReadTicket: (input) => ({ StatusCode: 200, Payload: { ...input, snapshotDate: '2025-08-10', holder: 'arn:later', latest: false } }),
    });
    expect(error).toBeUndefined();
    expect(calls.ReadTicket).toHaveLength(1);
    expect(calls.StartExtract).toBeUndefined();
    expect(calls.StartStateCounts).toBeUndefined();
    expect(calls.PublishResults).toBeUndefined();
    expect(calls.NotifyFailure).toBeUndefined();
    expect(output).toMatchObject({ ticket: { latest: false, ticket: { holder: 'arn:later' } } });
  });

  test('a failed Stage 2 whose ticket was taken over alerts once, runs no query', async () => {
    const { calls, error } = await run(EVENT, {
      ProcessObject: () => { throw failure('CorruptInputError', 'bad gzip'); },
      ReadTicket: (input) => ({ StatusCode: 200, Payload: { ...input, snapshotDate: '2025-08-10', holder: 'arn:later', latest: false } }),
    });
    expect(calls.ClaimSnapshot).toHaveLength(1);
    expect(calls.StartExtract).toBeUndefined();
    expect(calls.NotifyFailure).toHaveLength(1);
    expect(calls.NotifyFailure[0].Message).toMatchObject({ error: 'CorruptInputError', cause: expect.stringContaining('bad gzip') });
    expect((error as any).cause?.name).toBe('CorruptInputError');
  });

  test('a failed Stage 2 holding the ticket refreshes and publishes the snapshot, then alerts once with the Stage 2 error', async () => {
    const { calls, error } = await run(EVENT, {
      ProcessObject: () => { throw failure('CorruptInputError', 'bad gzip'); },
      PollStateCounts: () => { throw failure('QueryFailedError', 'also broken'); },
    });
    expect(calls.StartStateCounts).toHaveLength(1);
    expect(calls.NotifyFailure).toHaveLength(1);
    expect(calls.NotifyFailure[0].Message.error).toBe('CorruptInputError');
    expect((error as any).cause?.name).toBe('CorruptInputError');
  });

  test.each(['ReadTicket'])('a permanent failure of %s alerts once with its error; transient ones are retried', async (state) => {
    const { calls, error } = await run(EVENT, {
      [state]: (_input: any, n: number) => { throw failure(n === 1 ? 'TransientError' : 'AccessDenied', 'no'); },
    });
    expect(calls[state]).toHaveLength(2);
    expect(calls.StartExtract).toBeUndefined();
    expect(calls.NotifyFailure).toHaveLength(1);
    expect(calls.NotifyFailure[0].Message.error).toBe('AccessDenied');
    expect((error as any).cause?.name).toBe('AccessDenied');
  });

  test('a failed Stage 2 whose ticket cannot be written either alerts once, with the Stage 2 error', async () => {
    const { calls, error } = await run(EVENT, {
      ProcessObject: () => { throw failure('CorruptInputError', 'bad gzip'); },
      ClaimSnapshot: (_input: any, n: number) => { throw failure(n === 1 ? 'TransientError' : 'AccessDenied', 'no'); },
    });
    expect(calls.ClaimSnapshot).toHaveLength(2);
    expect(calls.ReadTicket).toBeUndefined();
    expect(calls.NotifyFailure).toHaveLength(1);
    expect(calls.NotifyFailure[0].Message.error).toBe('CorruptInputError');
    expect((error as any).cause?.name).toBe('CorruptInputError');
  });

  test('an "Object Deleted" event runs Stage 2 (which removes the outputs), the ticket and the refresh', async () => {
    const { calls, error } = await run({ ...EVENT, 'detail-type': 'Object Deleted', 'detail': { ...EVENT.detail, 'deletion-type': 'Delete Marker Created' } });
    expect(error).toBeUndefined();
    expect(calls.ProcessObject[0]['detail-type']).toBe('Object Deleted');
    expect(calls.ReadTicket).toHaveLength(1);
    expect(calls.PublishResults).toHaveLength(1);
  });

  test('the execution never waits for other files beyond the quiet period: one ticket read, no loop', () => {
    const states = JSON.stringify(definition);
    expect(definition.States.WaitQuietPeriod).toMatchObject({ Type: 'Wait', Seconds: 30, Next: 'ReadTicket' });
    expect(states).not.toContain('WAITING_FOR_INPUT');
    expect(definition.States.Superseded).toMatchObject({ Type: 'Succeed' });
  });

  test('an input that names no object is rejected with an alert', async () => {
    const { calls, error } = await run({ hello: 'world' });
    expect(calls.ProcessObject).toBeUndefined();
    expect(calls.NotifyFailure[0].Message).toMatchObject({ bucket: 'unknown', key: 'unknown', error: 'InvalidEventError' });
    expect((error as any).cause?.name).toBe('InvalidEventError');
  });
});

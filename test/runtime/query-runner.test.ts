/**
 * The query runner's life cycle (lambda-src/athena/query-runner.ts), through the state counts: polling
 * within the time budget and handing back, resuming by id, throttling, failures, cancellations and the
 * capped replacement of failed queries.
 */
import { GetQueryExecutionCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { MAX_RESTARTS } from '../../lambda-src/athena/query-runner';
import { runStateCounts } from '../../lambda-src/count';
import { awsError } from '../support/aws-error';
import { REQ, useQueryRunnerHarness } from '../support/query-runner-harness';

const h = useQueryRunnerHarness();
const { athenaMock, bucket, fakeAthena, sleeps, deps } = h;

describe('query runner (lambda-src/athena/query-runner): start, poll, resume, replace', () => {
  test('time running out returns done:false with the id; the next call resumes without starting a query', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED'];
      q.rows = fakeAthena.stateRows;
    };
    h.budget = 0;
    const first = await runStateCounts(REQ, deps());
    expect(first).toMatchObject({ done: false, state: 'QUEUED', queryExecutionId: 'q-0001', polls: 1, submittedAt: '2025-08-10T12:00:01.000Z' });
    expect(first.resultKeys).toBeUndefined();
    const second = await runStateCounts(first, deps());
    expect(second).toMatchObject({ done: false, state: 'RUNNING', queryExecutionId: 'q-0001', polls: 2 });
    h.budget = 600_000;
    const third = await runStateCounts(second, deps());
    expect(third).toMatchObject({ done: true, state: 'SUCCEEDED', queryExecutionId: 'q-0001', polls: 3, rows: 3 });
    expect(athenaMock).toHaveReceivedCommandTimes(StartQueryExecutionCommand, 1);
    expect(bucket.objects.has('results/state_counts/snapshot_date=2025-08-10/state_counts.json')).toBe(true);
  });

  test('polls with exponential backoff and jitter while time allows, then hands back', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['RUNNING'];
    };
    let left = 3000;
    const status = await runStateCounts(REQ, deps({
      remainingMs: () => left,
      sleep: async (ms) => {
        sleeps.push(ms);
        left -= ms;
      },
    }));
    expect(status.done).toBe(false);
    // random() = 0.5: equal jitter gives 3/4 of 250, 500, 1000, 2000 ms ...
    expect(sleeps).toEqual([188, 375, 750, 1500]);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3000);
  });

  test('throttling on start is a TransientError', async () => {
    athenaMock.on(StartQueryExecutionCommand).rejects(awsError('TooManyRequestsException', 400));
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'TransientError' });
    athenaMock.on(StartQueryExecutionCommand).rejects(awsError('InternalServerException', 500));
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'TransientError' });
  });

  test('a rejected query string is permanent (QueryFailedError)', async () => {
    athenaMock.on(StartQueryExecutionCommand).rejects(awsError('InvalidRequestException', 400));
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
  });

  test('throttling on poll is retried with backoff; persistent throttling is a TransientError', async () => {
    fakeAthena.beforeGet.push(() => {
      throw awsError('ThrottlingException', 400);
    });
    const ok = await runStateCounts(REQ, deps());
    expect(ok.done).toBe(true);
    expect(athenaMock).toHaveReceivedCommandTimes(GetQueryExecutionCommand, 3);
    expect(sleeps.length).toBeGreaterThanOrEqual(2);

    for (let i = 0; i < 10; i++) {
      fakeAthena.beforeGet.push(() => {
        throw awsError('TooManyRequestsException', 400);
      });
    }
    await expect(runStateCounts({ ...REQ, queryExecutionId: 'q-0001' }, deps())).rejects.toMatchObject({ name: 'TransientError' });
  });

  test('a throttled poll with no time left is a TransientError (the state machine retries the same payload)', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['RUNNING'];
    };
    h.budget = 0;
    const first = await runStateCounts(REQ, deps());
    fakeAthena.beforeGet.push(() => {
      throw awsError('ThrottlingException', 400);
    });
    await expect(runStateCounts(first, deps())).rejects.toMatchObject({ name: 'TransientError', message: expect.stringContaining(first.queryExecutionId!) });
    // The retried payload resumes the same query.
    await expect(runStateCounts(first, deps())).resolves.toMatchObject({ done: false, queryExecutionId: first.queryExecutionId, polls: 2 });
  });

  test('replacements are counted across calls: a request that used them all is not replaced again', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['FAILED'];
      q.error = { ErrorCategory: 1, Retryable: true };
    };
    await expect(runStateCounts({ ...REQ, restarts: MAX_RESTARTS - 1 }, deps())).rejects.toMatchObject({ name: 'TransientError' });
    expect(athenaMock).toHaveReceivedCommandTimes(StartQueryExecutionCommand, 2);
    athenaMock.resetHistory();
    await expect(runStateCounts({ ...REQ, restarts: MAX_RESTARTS }, deps())).rejects.toMatchObject({ name: 'TransientError' });
    expect(athenaMock).toHaveReceivedCommandTimes(StartQueryExecutionCommand, 1);
  });

  test('polling an unknown query id is InvalidEventError', async () => {
    await expect(runStateCounts({ ...REQ, queryExecutionId: 'q-9999' }, deps())).rejects.toMatchObject({ name: 'InvalidEventError' });
  });

  test('FAILED with a user error is a QueryFailedError carrying StateChangeReason', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['RUNNING', 'FAILED'];
      q.reason = 'COLUMN_NOT_FOUND: line 1:8: Column \'stat\' cannot be resolved';
      q.error = { ErrorCategory: 2, ErrorType: 1006, Retryable: false, ErrorMessage: 'column not found' };
    };
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({
      name: 'QueryFailedError', message: expect.stringContaining("Column 'stat' cannot be resolved"),
    });
    expect(athenaMock).toHaveReceivedCommandTimes(StartQueryExecutionCommand, 1);
    expect(bucket.keysUnder('results/')).toEqual([]);
  });

  test('FAILED with a retryable/system error starts a replacement query (deterministic token), capped', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['FAILED'];
      q.reason = 'Query exhausted resources at this scale factor';
      q.error = { ErrorCategory: 1, ErrorType: 401, Retryable: false };
    };
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'TransientError', message: expect.stringContaining('exhausted resources') });
    const starts = athenaMock.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.ClientRequestToken);
    expect(starts).toHaveLength(1 + MAX_RESTARTS);
    expect(new Set(starts).size).toBe(1 + MAX_RESTARTS);

    // A duplicate execution that sees the same failure converges on the same replacement.
    athenaMock.resetHistory();
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'TransientError' });
    expect(athenaMock.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.ClientRequestToken)).toEqual(starts);
    expect(fakeAthena.queries.size).toBe(1 + MAX_RESTARTS);
  });

  test('a retryable failure followed by success stores the replacement\'s results', async () => {
    let n = 0;
    fakeAthena.plan = (q) => {
      if (n++ === 0) {
        q.states = ['FAILED'];
        q.error = { ErrorCategory: 3, Retryable: true, ErrorMessage: 'S3 slow down' };
      } else {
        q.states = ['SUCCEEDED'];
        q.rows = fakeAthena.stateRows;
      }
    };
    const status = await runStateCounts(REQ, deps());
    expect(status).toMatchObject({ done: true, queryExecutionId: 'q-0002', restarts: 1 });
    expect(JSON.parse(bucket.text('results/state_counts/snapshot_date=2025-08-10/state_counts.json')).watermark.query_execution_id).toBe('q-0002');
  });

  test('CANCELLED is a QueryCancelledError', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['RUNNING', 'CANCELLED'];
      q.reason = 'Query cancelled by user';
    };
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'QueryCancelledError', message: expect.stringContaining('cancelled by user') });
  });
});

/**
 * Coalescing (lambda-src/athena/query-runner.ts): a computation still queued when a newer computation
 * of the same data is announced under the latest-computation key is stopped, and its waiters take the
 * newer result; a running query is never stopped.
 */
import { StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { latestComputationKey } from '../../lambda-src/athena/query-runner';
import type { QueryRequest } from '../../lambda-src/athena/types';
import { runStateCounts } from '../../lambda-src/count';
import { REQ, config, useQueryRunnerHarness } from '../support/query-runner-harness';

const h = useQueryRunnerHarness();
const { athenaMock, bucket, fakeAthena, deps } = h;

describe('coalescing: a queued computation superseded by a newer one of the same data', () => {
  const part2 = 'validated/snapshot_date=2025-08-10/part-0002.jsonl';
  const REQ2: QueryRequest = { ...REQ, key: 'data/batch/2025-08-10/part-0002.jsonl', etag: '"p2"' };

  test('is stopped while queued, and its waiters take the newer computation\'s result', async () => {
    athenaMock.on(StopQueryExecutionCommand).resolves({});
    fakeAthena.plan = (q) => {
      q.states = q.id === 'q-0001' ? ['QUEUED'] : ['QUEUED', 'SUCCEEDED'];
      q.rows = fakeAthena.stateRows;
    };
    h.budget = 0;
    const first = await runStateCounts(REQ, deps());
    expect(first).toMatchObject({ done: false, state: 'QUEUED', queryExecutionId: 'q-0001' });
    bucket.put(part2, '{"facility_id":"FAC2"}\n'); // the second file's records are validated
    const second = await runStateCounts(REQ2, deps());
    expect(second).toMatchObject({ done: false, queryExecutionId: 'q-0002' });
    expect(bucket.text(latestComputationKey(config, { ...REQ, asOf: '2025-08-10' }))).toContain('q-0002');
    h.budget = 600_000;
    const resumed = await runStateCounts(first, deps());
    expect(athenaMock).toHaveReceivedCommandWith(StopQueryExecutionCommand, { QueryExecutionId: 'q-0001' });
    expect(resumed).toMatchObject({ done: true, state: 'SUCCEEDED', queryExecutionId: 'q-0002', rows: 3 });
    expect(JSON.parse(bucket.text('results/state_counts/snapshot_date=2025-08-10/state_counts.json')).watermark.query_execution_id).toBe('q-0002');
    expect(fakeAthena.queries.size).toBe(2);
  });

  test('a queued query that starts running just before the stop is not stopped (QUEUED is re-read right before)', async () => {
    athenaMock.on(StopQueryExecutionCommand).resolves({});
    fakeAthena.plan = (q) => {
      q.states = q.id === 'q-0001' ? ['QUEUED', 'QUEUED', 'RUNNING', 'SUCCEEDED'] : ['QUEUED', 'SUCCEEDED'];
      q.rows = fakeAthena.stateRows;
    };
    h.budget = 0;
    const first = await runStateCounts(REQ, deps());
    bucket.put(part2, '{"facility_id":"FAC2"}\n');
    await runStateCounts(REQ2, deps());
    h.budget = 600_000;
    const resumed = await runStateCounts(first, deps());
    // superseded while queued, but it was RUNNING when re-read: not stopped; the waiter follows the newer one
    expect(athenaMock).toHaveReceivedCommandTimes(StopQueryExecutionCommand, 0);
    expect(resumed).toMatchObject({ done: true, queryExecutionId: 'q-0002' });
  });

  test('a running query is never stopped: it finishes and is later superseded as usual', async () => {
    athenaMock.on(StopQueryExecutionCommand).resolves({});
    fakeAthena.plan = (q) => {
      q.states = q.id === 'q-0001' ? ['RUNNING', 'RUNNING', 'SUCCEEDED'] : ['QUEUED'];
      q.rows = fakeAthena.stateRows;
    };
    h.budget = 0;
    const first = await runStateCounts(REQ, deps());
    bucket.put(part2, '{"facility_id":"FAC2"}\n');
    await runStateCounts(REQ2, deps());
    h.budget = 600_000;
    const resumed = await runStateCounts(first, deps());
    expect(resumed).toMatchObject({ done: true, queryExecutionId: 'q-0001' });
    expect(athenaMock).toHaveReceivedCommandTimes(StopQueryExecutionCommand, 0);
  });

  test('a waiter that finds its query CANCELLED follows a newer computation; with none it fails', async () => {
    fakeAthena.plan = (q) => {
      q.states = q.id === 'q-0001' ? ['QUEUED', 'CANCELLED'] : ['QUEUED', 'SUCCEEDED'];
      q.reason = 'Query was cancelled by the user';
      q.rows = fakeAthena.stateRows;
    };
    h.budget = 0;
    const first = await runStateCounts(REQ, deps());
    // Nothing newer announced yet: a CANCELLED query is an error.
    h.budget = 600_000;
    await expect(runStateCounts(first, deps())).rejects.toMatchObject({ name: 'QueryCancelledError' });
    h.budget = 0;
    bucket.put(part2, '{"facility_id":"FAC2"}\n');
    await runStateCounts(REQ2, deps());
    h.budget = 600_000;
    const again = await runStateCounts(first, deps());
    expect(again).toMatchObject({ done: true, queryExecutionId: 'q-0002' });
  });

  test('a newer computation of another as-of date or another snapshot does not supersede', () => {
    const a = latestComputationKey(config, { ...REQ, asOf: '2025-08-10' });
    expect(a).toBe('athena-results/_latest/state_counts/snapshot_date=2025-08-10/as_of=2025-08-10.json');
    expect(latestComputationKey(config, { ...REQ, asOf: '2025-12-31' })).not.toBe(a);
    expect(latestComputationKey(config, { ...REQ, snapshotDate: '2025-08-11', asOf: '2025-08-10' })).not.toBe(a);
    expect(latestComputationKey(config, { ...REQ, query: 'facility_extract', asOf: '2025-08-10' })).not.toBe(a);
  });
});

/**
 * The state-counts query (lambda-src/count): how it is started, and the CSV and JSON results it
 * writes (paged reads, sorting, the watermark, stale results, lost conditional-write races).
 */
import { GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { computationDigest, inputDigest, requestToken } from '../../lambda-src/athena/client';
import { latestComputationKey } from '../../lambda-src/athena/query-runner';
import { runStateCounts } from '../../lambda-src/count';
import { loadConfig } from '../../lambda-src/lib/config';
import { formatWatermark, parseWatermark } from '../../lambda-src/lib/watermark';
import { awsError } from '../support/aws-error';
import { BUCKET, ENV, REQ, STATE_SQL, config, useQueryRunnerHarness } from '../support/query-runner-harness';

const h = useQueryRunnerHarness();
const { athenaMock, s3Mock, s3, bucket, fakeAthena, deps } = h;

describe('state counts (lambda-src/count, Stage 3): the query and its results', () => {
  test('results of a non-default as-of date go under as_of=<a>/, never over the default answer', async () => {
    bucket.put('validated/snapshot_date=2025-08-10/part-0001.jsonl', '{"facility_id":"FAC1"}\n');
    const base = 'results/state_counts/snapshot_date=2025-08-10/';
    const def = await runStateCounts(REQ, deps());
    expect(def.resultKeys).toEqual([`${base}state_counts.csv`, `${base}state_counts.json`]);
    const replay = await runStateCounts({ ...REQ, asOf: '2025-12-31' }, deps());
    expect(replay.resultKeys).toEqual([`${base}as_of=2025-12-31/state_counts.csv`, `${base}as_of=2025-12-31/state_counts.json`]);
    expect(JSON.parse(bucket.text(`${base}state_counts.json`)).as_of).toBe('2025-08-10');
    expect(JSON.parse(bucket.text(`${base}as_of=2025-12-31/state_counts.json`)).as_of).toBe('2025-12-31');
    // an explicit as-of equal to the default is the default answer
    expect((await runStateCounts({ ...REQ, asOf: '2025-08-10' }, deps())).resultKeys).toEqual(def.resultKeys);
  });

  test('starts a parameterised query with the idempotency token, database, workgroup and output location', async () => {
    bucket.put('validated/snapshot_date=2025-08-10/part-0001.jsonl', '{"facility_id":"FAC1"}\n');
    const digest = await inputDigest(s3, BUCKET, 'validated/snapshot_date=2025-08-10/');
    const status = await runStateCounts(REQ, deps());
    expect(athenaMock).toHaveReceivedCommandTimes(StartQueryExecutionCommand, 1);
    expect(athenaMock).toHaveReceivedCommandWith(StartQueryExecutionCommand, {
      QueryString: STATE_SQL,
      ExecutionParameters: ["'2025-08-10'", "'2025-08-10'"],
      QueryExecutionContext: { Database: 'medlaunch_db' },
      WorkGroup: 'medlaunch-wg',
      ResultConfiguration: { OutputLocation: `s3://${BUCKET}/athena-results/` },
      ClientRequestToken: requestToken({
        ...REQ, asOf: '2025-08-10', inputDigest: digest, computation: computationDigest(config, STATE_SQL, ["'2025-08-10'", "'2025-08-10'"]),
      }),
    });
    const token = athenaMock.commandCalls(StartQueryExecutionCommand)[0].args[0].input.ClientRequestToken!;
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(status).toMatchObject({
      query: 'state_counts',
      queryExecutionId: 'q-0001',
      state: 'SUCCEEDED',
      done: true,
      polls: 1,
      rows: 3,
      asOf: '2025-08-10',
      submittedAt: '2025-08-10T12:00:01.000Z',
      resultKeys: ['results/state_counts/snapshot_date=2025-08-10/state_counts.csv', 'results/state_counts/snapshot_date=2025-08-10/state_counts.json'],
    });
  });

  test('no OutputLocation when ATHENA_OUTPUT_LOCATION is unset', async () => {
    const cfg = loadConfig({ ...ENV, ATHENA_OUTPUT_LOCATION: '' });
    await runStateCounts(REQ, deps({ config: cfg }));
    const input = athenaMock.commandCalls(StartQueryExecutionCommand)[0].args[0].input;
    expect(input.ResultConfiguration).toBeUndefined();
  });

  test('reads every page of results (header skipped once), sorts by state and writes CSV + JSON with the watermark', async () => {
    fakeAthena.stateRows = [['TX', '7'], ['AK', '1'], ['MI', '12'], ['CA', '3'], ['PR', '0']];
    const status = await runStateCounts(REQ, deps());
    expect(athenaMock).toHaveReceivedCommandTimes(GetQueryResultsCommand, 3);
    expect(athenaMock).toHaveReceivedCommandWith(GetQueryResultsCommand, { MaxResults: 1000 });
    expect(status.rows).toBe(5);
    const csvKey = 'results/state_counts/snapshot_date=2025-08-10/state_counts.csv';
    const jsonKey = 'results/state_counts/snapshot_date=2025-08-10/state_counts.json';
    expect(bucket.text(csvKey)).toBe('state,accredited_facilities\nAK,1\nCA,3\nMI,12\nPR,0\nTX,7\n');
    expect(JSON.parse(bucket.text(jsonKey))).toEqual({
      snapshot_date: '2025-08-10',
      as_of: '2025-08-10',
      watermark: { submitted_at: '2025-08-10T12:00:01.000Z', query_execution_id: 'q-0001' },
      state_counts: [
        { state: 'AK', accredited_facilities: 1 }, { state: 'CA', accredited_facilities: 3 },
        { state: 'MI', accredited_facilities: 12 }, { state: 'PR', accredited_facilities: 0 },
        { state: 'TX', accredited_facilities: 7 },
      ],
    });
    for (const k of [csvKey, jsonKey]) {
      expect(parseWatermark(bucket.objects.get(k)!.metadata.watermark)).toEqual({ submittedAt: '2025-08-10T12:00:01.000Z', queryExecutionId: 'q-0001' });
    }
    expect(bucket.objects.get(csvKey)!.contentType).toMatch(/^text\/csv/);
  });

  test('an empty result writes a header-only CSV and an empty list', async () => {
    fakeAthena.stateRows = [];
    const status = await runStateCounts(REQ, deps());
    expect(status.rows).toBe(0);
    expect(bucket.text('results/state_counts/snapshot_date=2025-08-10/state_counts.csv')).toBe('state,accredited_facilities\n');
  });

  test('an unexpected result row is a QueryFailedError', async () => {
    fakeAthena.stateRows = [['MI', 'many']];
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
    fakeAthena.stateRows = [['MI', '1'], ['MI', '2']];
    bucket.put('validated/snapshot_date=2025-08-10/part-0002.jsonl', '{}'); // new data: a new query
    await expect(runStateCounts({ ...REQ, etag: 'other' }, deps())).rejects.toMatchObject({ name: 'QueryFailedError', message: expect.stringContaining('twice') });
  });

  test('an older computation never replaces newer results (stale)', async () => {
    const csvKey = 'results/state_counts/snapshot_date=2025-08-10/state_counts.csv';
    const newer = { submittedAt: '2025-08-10T13:00:00.000Z', queryExecutionId: 'q-newer' };
    bucket.put(csvKey, 'state,accredited_facilities\nMI,99\n', { metadata: { watermark: formatWatermark(newer) } });
    const status = await runStateCounts(REQ, deps());
    expect(status.done).toBe(true);
    expect(status.resultKeys).toContain(csvKey);
    expect(bucket.text(csvKey)).toBe('state,accredited_facilities\nMI,99\n');
    // The JSON is not written beside a newer computation's CSV (the newer one writes its own pair).
    expect(bucket.objects.has('results/state_counts/snapshot_date=2025-08-10/state_counts.json')).toBe(false);
  });

  test('a lost 412 race on a conditional write (here the announcement, then the CSV) is re-read and retried', async () => {
    const fail = () => {
      throw awsError('PreconditionFailed', 412);
    };
    bucket.before.put.push(fail, () => undefined, fail);
    const status = await runStateCounts(REQ, deps());
    expect(status.done).toBe(true);
    // announcement ×2, CSV ×2, JSON
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 5);
    expect(bucket.text(latestComputationKey(config, { ...REQ, asOf: '2025-08-10' }))).toContain('"query_execution_id":"q-0001"');
    expect(bucket.text('results/state_counts/snapshot_date=2025-08-10/state_counts.csv')).toContain('MI,2');
  });
});

/**
 * The idempotency token of a state-counts query (lambda-src/athena/client.ts, used by
 * lambda-src/count): the same computation of the same data shares one Athena query; new data, another
 * as-of date or edited SQL is another computation.
 */
import { StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { computationDigest, requestToken } from '../../lambda-src/athena/client';
import { runStateCounts } from '../../lambda-src/count';
import { loadConfig } from '../../lambda-src/lib/config';
import { BUCKET, ENV, EXTRACT_SQL, REQ, STATE_SQL, config, useQueryRunnerHarness } from '../support/query-runner-harness';

const h = useQueryRunnerHarness();
const { athenaMock, s3Mock, bucket, fakeAthena, deps } = h;

describe('state counts (lambda-src/count, Stage 3): one query token per computation', () => {
  test('after a deploy that edits the SQL, an unchanged snapshot is a new computation (not a reused token Athena rejects)', async () => {
    bucket.put('validated/snapshot_date=2025-08-10/part-0001.jsonl', '{"facility_id":"FAC1"}\n');
    const before = await runStateCounts(REQ, deps());
    expect(before.done).toBe(true);
    const edited = `${STATE_SQL}\n-- edited`;
    // The fake Athena, like Athena, rejects a token reused with another QueryString.
    const after = await runStateCounts(REQ, deps({ loadSql: (name) => (name === 'state_counts' ? edited : EXTRACT_SQL) }));
    expect(after).toMatchObject({ done: true, state: 'SUCCEEDED' });
    expect(after.queryExecutionId).not.toBe(before.queryExecutionId);
    // and another workgroup or database is another computation too
    const c = computationDigest(config, STATE_SQL, ["'2025-08-10'"]);
    expect(computationDigest({ ...config, athenaWorkgroup: 'other' }, STATE_SQL, ["'2025-08-10'"])).not.toBe(c);
    expect(computationDigest({ ...config, glueDatabase: 'other' }, STATE_SQL, ["'2025-08-10'"])).not.toBe(c);
    expect(computationDigest(config, STATE_SQL, ["'2025-08-11'"])).not.toBe(c);
  });

  test('asOf (request, else AS_OF_DATE) becomes the second parameter and part of the token', async () => {
    await runStateCounts({ ...REQ, asOf: '2025-12-31' }, deps());
    await runStateCounts(REQ, deps({ config: loadConfig({ ...ENV, AS_OF_DATE: '2026-01-15' }) }));
    const calls = athenaMock.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
    expect(calls[0].ExecutionParameters).toEqual(["'2025-08-10'", "'2025-12-31'"]);
    expect(calls[1].ExecutionParameters).toEqual(["'2025-08-10'", "'2026-01-15'"]);
    expect(calls[0].ClientRequestToken).not.toBe(calls[1].ClientRequestToken);
  });

  test('a duplicate event reuses the same token, so Athena returns the query already running', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['RUNNING'];
    };
    h.budget = 0;
    const a = await runStateCounts(REQ, deps());
    const b = await runStateCounts({ ...REQ }, deps());
    const tokens = athenaMock.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.ClientRequestToken);
    expect(tokens[0]).toBe(tokens[1]);
    expect(a.queryExecutionId).toBe(b.queryExecutionId);
    expect(fakeAthena.queries.size).toBe(1);
    // Another file of the snapshot whose execution finds the same validated data shares the query…
    const other = await runStateCounts({ ...REQ, key: 'data/batch/2025-08-10/part-0002.jsonl', etag: '"def"' }, deps());
    expect(other.queryExecutionId).toBe(a.queryExecutionId);
    expect(fakeAthena.queries.size).toBe(1);
    // …and once its records are validated (the data changed), it is another computation.
    bucket.put('validated/snapshot_date=2025-08-10/part-0002.jsonl', '{"facility_id":"FAC2"}\n');
    await runStateCounts({ ...REQ, key: 'data/batch/2025-08-10/part-0002.jsonl', etag: '"def"' }, deps());
    expect(fakeAthena.queries.size).toBe(2);
  });

  test('without an input digest the token names the triggering object and its ETag', () => {
    const base = { query: 'state_counts', bucket: BUCKET, snapshotDate: '2025-08-10' };
    const t = (p: Partial<Parameters<typeof requestToken>[0]>) => requestToken({ ...base, ...p });
    expect(t({ key: 'a', etag: '"1"' })).toBe(t({ key: 'a', etag: '"1"' }));
    expect(t({ key: 'a', etag: '"1"' })).not.toBe(t({ key: 'a', etag: '"2"' }));
    expect(t({ key: 'a', etag: '"1"' })).not.toBe(t({ key: 'b', etag: '"1"' }));
    expect(t({ key: 'a', inputDigest: 'd' })).toBe(t({ key: 'b', etag: '"9"', inputDigest: 'd' }));
    expect(t({ inputDigest: 'd' })).not.toBe(t({ inputDigest: 'e' }));
    expect(t({ inputDigest: 'd' })).not.toBe(t({ inputDigest: 'd', query: 'facility_extract' }));
    expect(t({ inputDigest: 'd' })).not.toBe(t({ inputDigest: 'd', asOf: '2025-08-11' }));
  });

  test('changed input data is a new computation even without an ETag; unchanged input is not', async () => {
    const noEtag = { ...REQ, etag: undefined };
    const vkey = 'validated/snapshot_date=2025-08-10/part-0001.jsonl';
    bucket.put(vkey, 'v1');
    const a = await runStateCounts(noEtag, deps());
    const b = await runStateCounts(noEtag, deps());
    expect(b.queryExecutionId).toBe(a.queryExecutionId);
    bucket.put(vkey, 'v2'); // the same key uploaded again with other records
    const c = await runStateCounts(noEtag, deps());
    expect(c.queryExecutionId).not.toBe(a.queryExecutionId);
    bucket.put('validated/snapshot_date=2025-08-10/part-0002.jsonl', 'v1'); // another file of the snapshot
    const d = await runStateCounts(noEtag, deps());
    expect(new Set([a, c, d].map((x) => x.queryExecutionId)).size).toBe(3);
    // Files of other snapshots do not matter.
    bucket.put('validated/snapshot_date=2025-08-11/part-0001.jsonl', 'v1');
    expect((await runStateCounts(noEtag, deps())).queryExecutionId).toBe(d.queryExecutionId);
    // Polling does not list the input again.
    s3Mock.resetHistory();
    await runStateCounts({ ...noEtag, queryExecutionId: d.queryExecutionId }, deps());
    expect(s3Mock).toHaveReceivedCommandTimes(ListObjectsV2Command, 0);
  });
});

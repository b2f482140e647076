/**
 * The query-runner Lambda handler (lambda-src/handlers/query-runner.ts): the event decides the query,
 * the Lambda deadline bounds the wait.
 */
import { BUCKET, ENV, RAW_KEY, REQ, useQueryRunnerHarness } from '../support/query-runner-harness';

// The handler reads SQL with loadSql(); these unit tests mock Athena, so they give it the same text.
jest.mock('../../lambda-src/sql', () => ({
  loadSql: (name: string) => (name === 'state_counts'
    ? 'SELECT state, accredited_facilities FROM x WHERE snapshot_date = CAST(? AS DATE) AND d >= CAST(? AS DATE)'
    : "UNLOAD (SELECT * FROM validated_facilities WHERE snapshot_date = ?) TO '{{output_location}}' WITH (format = 'PARQUET')"),
}));

const { fakeAthena } = useQueryRunnerHarness();

describe('query-runner handler', () => {
  const context = { getRemainingTimeInMillis: () => 900_000, functionName: 'query-runner', awsRequestId: 'r1' } as any;
  let handler: (event: unknown, ctx: unknown) => Promise<any>;

  beforeAll(() => {
    Object.assign(process.env, ENV, { POWERTOOLS_LOG_LEVEL: 'SILENT' });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../lambda-src/handlers/query-runner').handler;
  });

  test('an EventBridge event runs the state counts of its snapshot', async () => {
    const out = await handler({
      'source': 'aws.s3',
      'detail-type': 'Object Created',
      'detail': { bucket: { name: BUCKET }, object: { key: RAW_KEY, etag: 'e1' } },
    }, context);
    expect(out).toMatchObject({ query: 'state_counts', snapshotDate: '2025-08-10', done: true, rows: 3 });
  });

  test('a facility_extract request runs Stage 1', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['SUCCEEDED'];
      q.unloadFiles = ['f1'];
    };
    const out = await handler({ query: 'facility_extract', bucket: BUCKET, snapshotDate: '2025-08-10' }, context);
    expect(out).toMatchObject({ query: 'facility_extract', done: true, promoted: true });
  });

  test('malformed or unrelated events fail with InvalidEventError', async () => {
    await expect(handler({ hello: 'world' }, context)).rejects.toMatchObject({ name: 'InvalidEventError' });
    await expect(handler({ 'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': { bucket: { name: BUCKET }, object: { key: 'validated/x.jsonl' } } }, context))
      .rejects.toMatchObject({ name: 'InvalidEventError' });
  });

  test('the Lambda deadline minus QUERY_WAIT_SAFETY_MS bounds the wait', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['RUNNING'];
    };
    const out = await handler({ ...REQ }, { ...context, getRemainingTimeInMillis: () => 10_100 });
    expect(out).toMatchObject({ done: false, state: 'RUNNING', queryExecutionId: 'q-0001', polls: 1 });
  });
});

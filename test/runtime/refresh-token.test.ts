/**
 * Issue #16, SQL-only rollback: every refresh of a snapshot is a new computation, retries of one
 * refresh are one query, and the executions of a duplicated event share one query
 * (lambda-src/athena/query-runner.ts, the refresh id in the query token).
 *
 * Deploy SQL A, then B, then A again over unchanged data: without a refresh id in the token, A's
 * second refresh has the token of A's first, Athena returns that OLD execution (old submission
 * time), every compare-and-swap refuses its results as older than B's, and production keeps B's
 * numbers although A's code is deployed.
 *
 * S3 is the embedded local S3 (ticket writes, conditional writes, listings as S3 does them); Athena
 * is scripted with the behaviour that matters here: a ClientRequestToken seen before returns the
 * query that token started, with its original submission time.
 */
import {
  AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { RunnerDeps } from '../../lambda-src/athena/query-runner';
import { checkTicket, claimSnapshot, currentClaim } from '../../lambda-src/coordination/ticket';
import { runStateCounts } from '../../lambda-src/count';
import { loadConfig } from '../../lambda-src/lib/config';
import { useLocalS3 } from '../support/local-s3';

jest.setTimeout(30_000);

const BUCKET = 'refresh-token';
const D = '2025-08-10';
const OBJECT = `data/batch/${D}/part-1.jsonl`;
const RESULTS_CSV = `results/state_counts/snapshot_date=${D}/state_counts.csv`;
const config = loadConfig({ DATA_BUCKET: BUCKET });
const s3Fixture = useLocalS3(BUCKET, 'refresh-token');

// SQL versions A and B: A counts CA 1, B counts CA 2 (what each deploy's state_counts.sql returns).
const SQL = {
  A: 'SELECT state, accredited_facilities FROM v WHERE snapshot_date = CAST(? AS DATE) AND d >= CAST(? AS DATE) -- A',
  B: 'SELECT state, accredited_facilities FROM v WHERE snapshot_date = CAST(? AS DATE) AND d >= CAST(? AS DATE) -- B',
} as const;
const ROWS: Record<string, string> = { [SQL.A]: '1', [SQL.B]: '2' };

const athenaMock = mockClient(AthenaClient);
const athena = new AthenaClient({ region: 'us-east-1' });
interface Started { id: string; sql: string; submitted: Date }
let byToken: Map<string, Started>;
let byId: Map<string, Started>;
let clock: number;

beforeEach(async () => {
  await s3Fixture.emptyBucket();
  athenaMock.reset();
  byToken = new Map();
  byId = new Map();
  clock = Date.parse('2025-08-10T12:00:00Z');
  athenaMock.on(StartQueryExecutionCommand).callsFake(async (i) => {
    const seen = byToken.get(i.ClientRequestToken!);
    if (seen) {
      if (seen.sql !== i.QueryString) throw Object.assign(new Error('token reused with another query'), { name: 'InvalidRequestException' });
      return { QueryExecutionId: seen.id };
    }
    const q = { id: `q-${byId.size + 1}`, sql: i.QueryString!, submitted: new Date((clock += 60_000)) };
    byToken.set(i.ClientRequestToken!, q);
    byId.set(q.id, q);
    return { QueryExecutionId: q.id };
  });
  athenaMock.on(GetQueryExecutionCommand).callsFake(async (i) => {
    const q = byId.get(i.QueryExecutionId!)!;
    return { QueryExecution: { QueryExecutionId: q.id, Query: q.sql, Status: { State: 'SUCCEEDED', SubmissionDateTime: q.submitted } } };
  });
  athenaMock.on(GetQueryResultsCommand).callsFake(async (i) => {
    const q = byId.get(i.QueryExecutionId!)!;
    const row = (a: string, b: string) => ({ Data: [{ VarCharValue: a }, { VarCharValue: b }] });
    return {
      ResultSet: {
        ResultSetMetadata: { ColumnInfo: [{ Name: 'state' }, { Name: 'accredited_facilities' }] },
        Rows: [row('state', 'accredited_facilities'), row('CA', ROWS[q.sql])],
      },
    };
  });
  // The snapshot's validated data: unchanged through the whole test.
  await s3Fixture.newClient().send(new PutObjectCommand({
    Bucket: BUCKET, Key: `validated/snapshot_date=${D}/part-1.jsonl`, Body: '{"facility_id":"F1"}\n',
  }));
});
afterAll(() => {
  athenaMock.restore();
  athena.destroy();
});

function deps(sql: string): RunnerDeps {
  const s3 = s3Fixture.newClient();
  return { athena, s3, config, remainingMs: () => 60_000, sleep: async () => undefined, random: () => 0.5, loadSql: () => sql };
}

/**
 * One execution's refresh of the snapshot as the state machine runs it: claim the ticket, read it back
 * (ReadTicket), then the query (Start) with the claim ReadTicket read. `fromRequest: false` starts the query
 * without it (a query started outside the state machine, or by an older definition): the runner reads the
 * ticket itself.
 */
async function refresh(execution: string, sql: string, claim = true, fromRequest = true) {
  const s3 = s3Fixture.newClient();
  if (claim) await claimSnapshot({ coordination: 'claim', bucket: BUCKET, object: OBJECT, execution }, { s3, config });
  const ticket = await checkTicket({ coordination: 'check', bucket: BUCKET, object: OBJECT, execution }, { s3, config });
  return runStateCounts({
    query: 'state_counts', bucket: BUCKET, key: OBJECT, snapshotDate: D, ...(fromRequest && ticket.claim ? { claim: ticket.claim } : {}),
  }, deps(sql));
}

async function resultsCsv(): Promise<string> {
  const out = await s3Fixture.newClient().send(new GetObjectCommand({ Bucket: BUCKET, Key: RESULTS_CSV }));
  return out.Body!.transformToString();
}

test.each([
  ['the claim ReadTicket read', true],
  ['the ticket read by the runner', false],
])('SQL A, then B, then A again over unchanged data (%s): the last refresh is a new query and its numbers are the results', async (_name, fromRequest) => {
  const a1 = await refresh('exec-1', SQL.A, true, fromRequest);
  expect(await resultsCsv()).toBe('state,accredited_facilities\nCA,1\n');
  const b = await refresh('exec-2', SQL.B, true, fromRequest);
  expect(await resultsCsv()).toBe('state,accredited_facilities\nCA,2\n');
  const a2 = await refresh('exec-3', SQL.A, true, fromRequest);
  expect(a2.queryExecutionId).not.toBe(a1.queryExecutionId);
  expect(Date.parse(a2.submittedAt!)).toBeGreaterThan(Date.parse(b.submittedAt!));
  expect(await resultsCsv()).toBe('state,accredited_facilities\nCA,1\n');
});

test('ReadTicket\'s claim is the one HeadObject reads for the same version, and the runner then reads neither ticket nor partition', async () => {
  const s3 = s3Fixture.newClient();
  await claimSnapshot({ coordination: 'claim', bucket: BUCKET, object: OBJECT, execution: 'exec-1' }, { s3, config });
  const ticket = await checkTicket({ coordination: 'check', bucket: BUCKET, object: OBJECT, execution: 'exec-1' }, { s3, config });
  expect(ticket.claim).toBe(await currentClaim(s3, BUCKET, config.validatedPrefix, D));
  const counted = deps(SQL.A);
  const requests: string[] = [];
  counted.s3.middlewareStack.add((next, ctx) => async (args) => {
    requests.push(`${String(ctx.commandName).replace('Command', '')} ${String((args.input as { Key?: string }).Key)}`);
    return next(args);
  }, { step: 'initialize', name: 'count-requests' });
  const withClaim = await runStateCounts({ query: 'state_counts', bucket: BUCKET, key: OBJECT, snapshotDate: D, claim: ticket.claim! }, counted);
  // The first computation of the snapshot: it announces itself and creates its two results files, one
  // request each; the ticket and the validated partition are not read.
  expect(requests).toEqual([
    `PutObject athena-results/_latest/state_counts/snapshot_date=${D}/as_of=${D}.json`,
    `PutObject ${RESULTS_CSV}`,
    `PutObject ${RESULTS_CSV.replace('.csv', '.json')}`,
  ]);
  expect(withClaim).toMatchObject({ resultsCreated: true, resultETags: [expect.any(String), expect.any(String)] });
  // The same refresh without the claim in its request (the runner reads the ticket): the same query.
  const readByRunner = await runStateCounts({ query: 'state_counts', bucket: BUCKET, key: OBJECT, snapshotDate: D }, deps(SQL.A));
  expect(readByRunner.queryExecutionId).toBe(withClaim.queryExecutionId);
  expect(byId.size).toBe(1);
});

test('a missing ticket reads back as claim null: the token then names the validated objects (input digest)', async () => {
  const s3 = s3Fixture.newClient();
  const ticket = await checkTicket({ coordination: 'check', bucket: BUCKET, object: OBJECT, execution: 'exec-1' }, { s3, config });
  expect(ticket).toMatchObject({ latest: true, claim: null });
  const first = await runStateCounts({ query: 'state_counts', bucket: BUCKET, key: OBJECT, snapshotDate: D }, deps(SQL.A));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `validated/snapshot_date=${D}/part-2.jsonl`, Body: '{"facility_id":"F2"}\n' }));
  const second = await runStateCounts({ query: 'state_counts', bucket: BUCKET, key: OBJECT, snapshotDate: D }, deps(SQL.A));
  expect(second.queryExecutionId).not.toBe(first.queryExecutionId);
});

test('a retried Start of one refresh (same ticket) is the same query: no second computation', async () => {
  const first = await refresh('exec-1', SQL.A);
  // The state machine retries StartStateCounts (a timeout, a TransientError): no new claim in between.
  const retried = await refresh('exec-1', SQL.A, false);
  expect(retried.queryExecutionId).toBe(first.queryExecutionId);
  expect(byId.size).toBe(1);
});

test('two executions of a duplicated event that both refresh after the later claim share one query', async () => {
  const s3 = s3Fixture.newClient();
  await claimSnapshot({ coordination: 'claim', bucket: BUCKET, object: OBJECT, execution: 'exec-dup-1' }, { s3, config });
  await claimSnapshot({ coordination: 'claim', bucket: BUCKET, object: OBJECT, execution: 'exec-dup-2' }, { s3, config });
  const [x, y] = await Promise.all([refresh('exec-dup-1', SQL.A, false), refresh('exec-dup-2', SQL.A, false)]);
  expect(x.queryExecutionId).toBe(y.queryExecutionId);
  expect(byId.size).toBe(1);
});

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { computationDigest, inputDigest, requestToken } from '../../lambda-src/athena/client';
import { MAX_RESTARTS, RunnerDeps, latestComputationKey } from '../../lambda-src/athena/query-runner';
import { parseQueryEvent } from '../../lambda-src/athena/request';
import type { QueryRequest } from '../../lambda-src/athena/types';
import { runStateCounts } from '../../lambda-src/count';
import {
  curatedPartition,
  extractQueryString,
  partitionWatermarkKey,
  runFacilityExtract,
  promoteExtract,
  stagingPrefix,
} from '../../lambda-src/extract';
import { loadConfig } from '../../lambda-src/lib/config';
import { formatWatermark, parseWatermark } from '../../lambda-src/lib/watermark';

const BUCKET = 'medlaunch-data';
const ENV = {
  DATA_BUCKET: BUCKET,
  GLUE_DATABASE: 'medlaunch_db',
  ATHENA_WORKGROUP: 'medlaunch-wg',
  ATHENA_OUTPUT_LOCATION: `s3://${BUCKET}/athena-results/`,
  QUERY_WAIT_SAFETY_MS: '10000',
};
const config = loadConfig(ENV);
const STATE_SQL = 'SELECT state, accredited_facilities FROM x WHERE snapshot_date = CAST(? AS DATE) AND d >= CAST(? AS DATE)';
const EXTRACT_SQL = "UNLOAD (SELECT * FROM validated_facilities WHERE snapshot_date = ?) TO '{{output_location}}' WITH (format = 'PARQUET')";

// The handler reads SQL with loadSql(); these unit tests mock Athena, so they give it the same text.
jest.mock('../../lambda-src/sql', () => ({
  loadSql: (name: string) => (name === 'state_counts'
    ? 'SELECT state, accredited_facilities FROM x WHERE snapshot_date = CAST(? AS DATE) AND d >= CAST(? AS DATE)'
    : "UNLOAD (SELECT * FROM validated_facilities WHERE snapshot_date = ?) TO '{{output_location}}' WITH (format = 'PARQUET')"),
}));

const athenaMock = mockClient(AthenaClient);
const s3Mock = mockClient(S3Client);
const athena = new AthenaClient({ region: 'us-east-1' });
const s3 = new S3Client({ region: 'us-east-1' });

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} (${status})`), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

// ---------------------------------------------------------------- an in-memory S3 (one bucket)
interface Stored { body: Buffer; etag: string; metadata: Record<string, string>; contentType?: string; modified?: number }
let store: Map<string, Stored>;
let beforePut: Array<() => void>;
let beforeCopy: Array<() => void>;

async function bytes(body: unknown): Promise<Buffer> {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}
function etagOf(b: Buffer): string {
  return `"${createHash('md5').update(b).digest('hex')}"`;
}
function putRaw(key: string, body: string, metadata: Record<string, string> = {}, modified?: number): void {
  const b = Buffer.from(body);
  store.set(key, { body: b, etag: etagOf(b), metadata, modified });
}
function text(key: string): string {
  const o = store.get(key);
  if (!o) throw new Error(`no object ${key}`);
  return o.body.toString();
}
function keysUnder(prefix: string): string[] {
  return [...store.keys()].filter((k) => k.startsWith(prefix)).sort();
}

function installS3(): void {
  store = new Map();
  beforePut = [];
  beforeCopy = [];
  s3Mock.on(HeadObjectCommand).callsFake(async (i) => {
    const o = store.get(i.Key);
    if (!o) throw awsError('NotFound', 404);
    return { ETag: o.etag, Metadata: o.metadata, ContentLength: o.body.length, ContentType: o.contentType };
  });
  s3Mock.on(GetObjectCommand).callsFake(async (i) => {
    const o = store.get(i.Key);
    if (!o) throw awsError('NoSuchKey', 404);
    if (i.IfMatch && i.IfMatch !== o.etag) throw awsError('PreconditionFailed', 412);
    return { Body: Readable.from([o.body]), ETag: o.etag, Metadata: o.metadata, ContentLength: o.body.length, ContentType: o.contentType };
  });
  s3Mock.on(PutObjectCommand).callsFake(async (i) => {
    beforePut.shift()?.();
    const cur = store.get(i.Key);
    if (i.IfNoneMatch === '*' && cur) throw awsError('PreconditionFailed', 412);
    if (i.IfMatch !== undefined && (!cur || cur.etag !== i.IfMatch)) throw awsError('PreconditionFailed', 412);
    const b = await bytes(i.Body);
    store.set(i.Key, { body: b, etag: etagOf(b), metadata: { ...(i.Metadata ?? {}) }, contentType: i.ContentType });
    return { ETag: etagOf(b) };
  });
  s3Mock.on(ListObjectsV2Command).callsFake(async (i) => {
    const all = keysUnder(i.Prefix ?? '');
    const start = i.ContinuationToken ? Number(i.ContinuationToken) : 0;
    const page = all.slice(start, start + 2); // tiny pages, to exercise pagination
    const more = start + 2 < all.length;
    return {
      Contents: page.map((Key) => ({ Key, ETag: store.get(Key)!.etag, LastModified: new Date(store.get(Key)!.modified ?? 0) })),
      IsTruncated: more,
      NextContinuationToken: more ? String(start + 2) : undefined,
    };
  });
  s3Mock.on(CopyObjectCommand).callsFake(async (i) => {
    beforeCopy.shift()?.();
    const src = decodeURIComponent(String(i.CopySource).slice(BUCKET.length + 1));
    const o = store.get(src);
    if (!o) throw awsError('NoSuchKey', 404);
    store.set(i.Key!, { ...o, metadata: i.MetadataDirective === 'REPLACE' ? { ...(i.Metadata ?? {}) } : { ...o.metadata } });
    return {};
  });
  s3Mock.on(DeleteObjectsCommand).callsFake(async (i) => {
    for (const o of i.Delete?.Objects ?? []) store.delete(o.Key!);
    return { Deleted: i.Delete?.Objects };
  });
}

// ---------------------------------------------------------------- a scripted Athena
interface FakeQuery {
  id: string;
  token: string;
  sql: string;
  params?: string[];
  submitted: Date;
  /** States returned by successive GetQueryExecution calls (the last one repeats). */
  states: string[];
  polls: number;
  error?: { ErrorCategory?: number; ErrorType?: number; Retryable?: boolean; ErrorMessage?: string };
  reason?: string;
  /** Result rows (header excluded) for a SELECT. */
  rows?: string[][];
  /** Staged files an UNLOAD writes when it succeeds. */
  unloadFiles?: string[];
}
let queries: Map<string, FakeQuery>;
let byToken: Map<string, string>;
let nextId: number;
let clock: number;
/** Decides the script of each new query (called at StartQueryExecution). */
let plan: (q: FakeQuery) => void;
let stateRows: string[][];
/** Hooks run (once each) before the next GetQueryExecution is answered: they may throw. */
let beforeGet: Array<() => void>;

function installAthena(): void {
  queries = new Map();
  byToken = new Map();
  beforeGet = [];
  nextId = 1;
  clock = Date.parse('2025-08-10T12:00:00.000Z');
  stateRows = [['MI', '2'], ['CA', '10'], ['TX', '0']];
  plan = (q) => {
    q.states = ['RUNNING', 'SUCCEEDED'];
    q.rows = stateRows;
  };
  athenaMock.on(StartQueryExecutionCommand).callsFake(async (i) => {
    const token = i.ClientRequestToken!;
    const existing = byToken.get(token);
    if (existing) {
      if (queries.get(existing)!.sql !== i.QueryString) throw awsError('InvalidRequestException', 400);
      return { QueryExecutionId: existing };
    }
    const q: FakeQuery = {
      id: `q-${String(nextId++).padStart(4, '0')}`,
      token,
      sql: i.QueryString!,
      params: i.ExecutionParameters,
      submitted: new Date((clock += 1000)),
      states: ['SUCCEEDED'],
      polls: 0,
    };
    plan(q);
    queries.set(q.id, q);
    byToken.set(token, q.id);
    return { QueryExecutionId: q.id };
  });
  athenaMock.on(GetQueryExecutionCommand).callsFake(async (i) => {
    beforeGet.shift()?.();
    const q = queries.get(i.QueryExecutionId!);
    if (!q) throw awsError('InvalidRequestException', 400);
    const state = q.states[Math.min(q.polls, q.states.length - 1)];
    q.polls++;
    const m = /TO '(s3:\/\/[^']+)'/.exec(q.sql);
    if (state === 'SUCCEEDED' && q.unloadFiles && m) {
      const prefix = m[1].slice(`s3://${BUCKET}/`.length);
      for (const f of q.unloadFiles) if (!store.has(prefix + f)) putRaw(prefix + f, `parquet of ${q.id}/${f}`);
    }
    return {
      QueryExecution: {
        QueryExecutionId: q.id,
        Query: q.sql,
        Status: {
          State: state as any,
          SubmissionDateTime: q.submitted,
          StateChangeReason: state === 'FAILED' || state === 'CANCELLED' ? q.reason : undefined,
          AthenaError: state === 'FAILED' ? q.error : undefined,
        },
      },
    };
  });
  athenaMock.on(GetQueryResultsCommand).callsFake(async (i) => {
    const q = queries.get(i.QueryExecutionId!)!;
    const all = [['state', 'accredited_facilities'], ...(q.rows ?? [])];
    const size = 2; // pages of 2 rows to exercise NextToken
    const start = i.NextToken ? Number(i.NextToken) : 0;
    const page = all.slice(start, start + size);
    const more = start + size < all.length;
    return {
      ResultSet: {
        ResultSetMetadata: start === 0 ? { ColumnInfo: [{ Name: 'state', Type: 'varchar' }, { Name: 'accredited_facilities', Type: 'bigint' }] } : undefined,
        Rows: page.map((r) => ({ Data: r.map((v) => ({ VarCharValue: v })) })),
      },
      NextToken: more ? String(start + size) : undefined,
    };
  });
}

let budget: number;
const sleeps: number[] = [];
function deps(over: Partial<RunnerDeps> = {}): RunnerDeps {
  return {
    athena,
    s3,
    config,
    remainingMs: () => budget,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    loadSql: (name) => (name === 'state_counts' ? STATE_SQL : EXTRACT_SQL),
    ...over,
  };
}

const RAW_KEY = 'data/batch/2025-08-10/part-0001.jsonl';
const REQ: QueryRequest = { query: 'state_counts', bucket: BUCKET, key: RAW_KEY, etag: '"abc"', snapshotDate: '2025-08-10' };

afterAll(() => {
  athenaMock.restore();
  s3Mock.restore();
  athena.destroy();
  s3.destroy();
});

beforeEach(() => {
  athenaMock.reset();
  s3Mock.reset();
  installS3();
  installAthena();
  budget = 600_000;
  sleeps.length = 0;
});

// ====================================================================================== events
describe('query-runner input', () => {
  const eb = (key: string, bucket = BUCKET): unknown => ({
    'version': '0',
    'source': 'aws.s3',
    'detail-type': 'Object Created',
    'detail': { bucket: { name: bucket }, object: { key, etag: 'e1', size: 10 } },
  });

  test('an EventBridge Object Created event means state counts for the key\'s snapshot', () => {
    expect(parseQueryEvent(eb(RAW_KEY), config)).toEqual({
      query: 'state_counts', bucket: BUCKET, key: RAW_KEY, etag: 'e1', snapshotDate: '2025-08-10',
    });
  });

  test('an S3 notification works the same; several snapshots in one event are rejected', () => {
    const rec = (key: string): unknown => ({ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key, eTag: 'e2' } } });
    expect(parseQueryEvent({ Records: [rec('data/batch/2025-08-11/a+b.jsonl')] }, config)).toMatchObject({ key: 'data/batch/2025-08-11/a b.jsonl', snapshotDate: '2025-08-11' });
    expect(() => parseQueryEvent({ Records: [rec('data/batch/2025-08-11/a.jsonl'), rec('data/batch/2025-08-12/a.jsonl')] }, config))
      .toThrow(expect.objectContaining({ name: 'InvalidEventError' }));
  });

  test.each([
    ['outside the raw prefix', 'other/2025-08-10/a.jsonl'],
    ['no date folder', 'data/batch/a.jsonl'],
    ['not a calendar date', 'data/batch/2025-02-30/a.jsonl'],
    ['the folder itself', 'data/batch/2025-08-10/'],
    ['a nested non-date folder', 'data/batch/latest/2025-08-10/a.jsonl'],
  ])('keys %s are InvalidEventError', (_what, key) => {
    expect(() => parseQueryEvent(eb(key), config)).toThrow(expect.objectContaining({ name: 'InvalidEventError' }));
  });

  test.each([
    ['null', null],
    ['a string', 'hello'],
    ['an unrelated EventBridge event', { 'source': 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification', 'detail': {} }],
    ['an S3 delete', { 'source': 'aws.s3', 'detail-type': 'Object Deleted', 'detail': { bucket: { name: BUCKET }, object: { key: RAW_KEY } } }],
    ['another bucket', eb(RAW_KEY, 'someone-elses-bucket')],
    ['an unknown query', { ...REQ, query: 'drop_tables' }],
    ['a bad snapshot date', { ...REQ, snapshotDate: "2025-08-10'; DROP TABLE x; --", key: undefined }],
    ['a bad as-of date', { ...REQ, asOf: '2025-13-01' }],
    ['a key of another snapshot', { ...REQ, key: 'data/batch/2025-08-11/a.jsonl' }],
    ['a malformed query id', { ...REQ, queryExecutionId: "x' OR 1=1" }],
    ['negative polls', { ...REQ, polls: -1 }],
  ])('%s is InvalidEventError', (_what, event) => {
    expect(() => parseQueryEvent(event, config)).toThrow(expect.objectContaining({ name: 'InvalidEventError' }));
  });

  test('a QueryRequest passes through with its optional fields', () => {
    expect(parseQueryEvent({ ...REQ, asOf: '2025-09-01', queryExecutionId: 'q-1', polls: 3, restarts: 1 }, config))
      .toEqual({ ...REQ, asOf: '2025-09-01', queryExecutionId: 'q-1', polls: 3, restarts: 1 });
  });
});

// ================================================================================ state counts
describe('coalescing: a queued computation superseded by a newer one of the same data', () => {
  const part2 = 'validated/snapshot_date=2025-08-10/part-0002.jsonl';
  const REQ2: QueryRequest = { ...REQ, key: 'data/batch/2025-08-10/part-0002.jsonl', etag: '"p2"' };

  test('is stopped while queued, and its waiters take the newer computation\'s result', async () => {
    athenaMock.on(StopQueryExecutionCommand).resolves({});
    plan = (q) => {
      q.states = q.id === 'q-0001' ? ['QUEUED'] : ['QUEUED', 'SUCCEEDED'];
      q.rows = stateRows;
    };
    budget = 0;
    const first = await runStateCounts(REQ, deps());
    expect(first).toMatchObject({ done: false, state: 'QUEUED', queryExecutionId: 'q-0001' });
    putRaw(part2, '{"facility_id":"FAC2"}\n'); // the second file's records are validated
    const second = await runStateCounts(REQ2, deps());
    expect(second).toMatchObject({ done: false, queryExecutionId: 'q-0002' });
    expect(text(latestComputationKey(config, { ...REQ, asOf: '2025-08-10' }))).toContain('q-0002');
    budget = 600_000;
    const resumed = await runStateCounts(first, deps());
    expect(athenaMock).toHaveReceivedCommandWith(StopQueryExecutionCommand, { QueryExecutionId: 'q-0001' });
    expect(resumed).toMatchObject({ done: true, state: 'SUCCEEDED', queryExecutionId: 'q-0002', rows: 3 });
    expect(JSON.parse(text('results/state_counts/snapshot_date=2025-08-10/state_counts.json')).watermark.query_execution_id).toBe('q-0002');
    expect(queries.size).toBe(2);
  });

  test('a queued query that starts running just before the stop is not stopped (QUEUED is re-read right before)', async () => {
    athenaMock.on(StopQueryExecutionCommand).resolves({});
    plan = (q) => {
      q.states = q.id === 'q-0001' ? ['QUEUED', 'QUEUED', 'RUNNING', 'SUCCEEDED'] : ['QUEUED', 'SUCCEEDED'];
      q.rows = stateRows;
    };
    budget = 0;
    const first = await runStateCounts(REQ, deps());
    putRaw(part2, '{"facility_id":"FAC2"}\n');
    await runStateCounts(REQ2, deps());
    budget = 600_000;
    const resumed = await runStateCounts(first, deps());
    // superseded while queued, but it was RUNNING when re-read: not stopped; the waiter follows the newer one
    expect(athenaMock).toHaveReceivedCommandTimes(StopQueryExecutionCommand, 0);
    expect(resumed).toMatchObject({ done: true, queryExecutionId: 'q-0002' });
  });

  test('a running query is never stopped: it finishes and is later superseded as usual', async () => {
    athenaMock.on(StopQueryExecutionCommand).resolves({});
    plan = (q) => {
      q.states = q.id === 'q-0001' ? ['RUNNING', 'RUNNING', 'SUCCEEDED'] : ['QUEUED'];
      q.rows = stateRows;
    };
    budget = 0;
    const first = await runStateCounts(REQ, deps());
    putRaw(part2, '{"facility_id":"FAC2"}\n');
    await runStateCounts(REQ2, deps());
    budget = 600_000;
    const resumed = await runStateCounts(first, deps());
    expect(resumed).toMatchObject({ done: true, queryExecutionId: 'q-0001' });
    expect(athenaMock).toHaveReceivedCommandTimes(StopQueryExecutionCommand, 0);
  });

  test('a waiter that finds its query CANCELLED follows a newer computation; with none it fails', async () => {
    plan = (q) => {
      q.states = q.id === 'q-0001' ? ['QUEUED', 'CANCELLED'] : ['QUEUED', 'SUCCEEDED'];
      q.reason = 'Query was cancelled by the user';
      q.rows = stateRows;
    };
    budget = 0;
    const first = await runStateCounts(REQ, deps());
    // Nothing newer announced yet: a CANCELLED query is an error.
    budget = 600_000;
    await expect(runStateCounts(first, deps())).rejects.toMatchObject({ name: 'QueryCancelledError' });
    budget = 0;
    putRaw(part2, '{"facility_id":"FAC2"}\n');
    await runStateCounts(REQ2, deps());
    budget = 600_000;
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

describe('Stage 3 state counts', () => {
  test('results of a non-default as-of date go under as_of=<a>/, never over the default answer', async () => {
    putRaw('validated/snapshot_date=2025-08-10/part-0001.jsonl', '{"facility_id":"FAC1"}\n');
    const base = 'results/state_counts/snapshot_date=2025-08-10/';
    const def = await runStateCounts(REQ, deps());
    expect(def.resultKeys).toEqual([`${base}state_counts.csv`, `${base}state_counts.json`]);
    const replay = await runStateCounts({ ...REQ, asOf: '2025-12-31' }, deps());
    expect(replay.resultKeys).toEqual([`${base}as_of=2025-12-31/state_counts.csv`, `${base}as_of=2025-12-31/state_counts.json`]);
    expect(JSON.parse(text(`${base}state_counts.json`)).as_of).toBe('2025-08-10');
    expect(JSON.parse(text(`${base}as_of=2025-12-31/state_counts.json`)).as_of).toBe('2025-12-31');
    // an explicit as-of equal to the default is the default answer
    expect((await runStateCounts({ ...REQ, asOf: '2025-08-10' }, deps())).resultKeys).toEqual(def.resultKeys);
  });

  test('after a deploy that edits the SQL, an unchanged snapshot is a new computation (not a reused token Athena rejects)', async () => {
    putRaw('validated/snapshot_date=2025-08-10/part-0001.jsonl', '{"facility_id":"FAC1"}\n');
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

  test('starts a parameterised query with the idempotency token, database, workgroup and output location', async () => {
    putRaw('validated/snapshot_date=2025-08-10/part-0001.jsonl', '{"facility_id":"FAC1"}\n');
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
    stateRows = [['TX', '7'], ['AK', '1'], ['MI', '12'], ['CA', '3'], ['PR', '0']];
    const status = await runStateCounts(REQ, deps());
    expect(athenaMock).toHaveReceivedCommandTimes(GetQueryResultsCommand, 3);
    expect(athenaMock).toHaveReceivedCommandWith(GetQueryResultsCommand, { MaxResults: 1000 });
    expect(status.rows).toBe(5);
    const csvKey = 'results/state_counts/snapshot_date=2025-08-10/state_counts.csv';
    const jsonKey = 'results/state_counts/snapshot_date=2025-08-10/state_counts.json';
    expect(text(csvKey)).toBe('state,accredited_facilities\nAK,1\nCA,3\nMI,12\nPR,0\nTX,7\n');
    expect(JSON.parse(text(jsonKey))).toEqual({
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
      expect(parseWatermark(store.get(k)!.metadata.watermark)).toEqual({ submittedAt: '2025-08-10T12:00:01.000Z', queryExecutionId: 'q-0001' });
    }
    expect(store.get(csvKey)!.contentType).toMatch(/^text\/csv/);
  });

  test('an empty result writes a header-only CSV and an empty list', async () => {
    stateRows = [];
    const status = await runStateCounts(REQ, deps());
    expect(status.rows).toBe(0);
    expect(text('results/state_counts/snapshot_date=2025-08-10/state_counts.csv')).toBe('state,accredited_facilities\n');
  });

  test('an unexpected result row is a QueryFailedError', async () => {
    stateRows = [['MI', 'many']];
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
    stateRows = [['MI', '1'], ['MI', '2']];
    putRaw('validated/snapshot_date=2025-08-10/part-0002.jsonl', '{}'); // new data: a new query
    await expect(runStateCounts({ ...REQ, etag: 'other' }, deps())).rejects.toMatchObject({ name: 'QueryFailedError', message: expect.stringContaining('twice') });
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
    plan = (q) => {
      q.states = ['RUNNING'];
    };
    budget = 0;
    const a = await runStateCounts(REQ, deps());
    const b = await runStateCounts({ ...REQ }, deps());
    const tokens = athenaMock.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.ClientRequestToken);
    expect(tokens[0]).toBe(tokens[1]);
    expect(a.queryExecutionId).toBe(b.queryExecutionId);
    expect(queries.size).toBe(1);
    // Another file of the snapshot whose execution finds the same validated data shares the query…
    const other = await runStateCounts({ ...REQ, key: 'data/batch/2025-08-10/part-0002.jsonl', etag: '"def"' }, deps());
    expect(other.queryExecutionId).toBe(a.queryExecutionId);
    expect(queries.size).toBe(1);
    // …and once its records are validated (the data changed), it is another computation.
    putRaw('validated/snapshot_date=2025-08-10/part-0002.jsonl', '{"facility_id":"FAC2"}\n');
    await runStateCounts({ ...REQ, key: 'data/batch/2025-08-10/part-0002.jsonl', etag: '"def"' }, deps());
    expect(queries.size).toBe(2);
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
    putRaw(vkey, 'v1');
    const a = await runStateCounts(noEtag, deps());
    const b = await runStateCounts(noEtag, deps());
    expect(b.queryExecutionId).toBe(a.queryExecutionId);
    putRaw(vkey, 'v2'); // the same key uploaded again with other records
    const c = await runStateCounts(noEtag, deps());
    expect(c.queryExecutionId).not.toBe(a.queryExecutionId);
    putRaw('validated/snapshot_date=2025-08-10/part-0002.jsonl', 'v1'); // another file of the snapshot
    const d = await runStateCounts(noEtag, deps());
    expect(new Set([a, c, d].map((x) => x.queryExecutionId)).size).toBe(3);
    // Files of other snapshots do not matter.
    putRaw('validated/snapshot_date=2025-08-11/part-0001.jsonl', 'v1');
    expect((await runStateCounts(noEtag, deps())).queryExecutionId).toBe(d.queryExecutionId);
    // Polling does not list the input again.
    s3Mock.resetHistory();
    await runStateCounts({ ...noEtag, queryExecutionId: d.queryExecutionId }, deps());
    expect(s3Mock).toHaveReceivedCommandTimes(ListObjectsV2Command, 0);
  });

  test('time running out returns done:false with the id; the next call resumes without starting a query', async () => {
    plan = (q) => {
      q.states = ['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED'];
      q.rows = stateRows;
    };
    budget = 0;
    const first = await runStateCounts(REQ, deps());
    expect(first).toMatchObject({ done: false, state: 'QUEUED', queryExecutionId: 'q-0001', polls: 1, submittedAt: '2025-08-10T12:00:01.000Z' });
    expect(first.resultKeys).toBeUndefined();
    const second = await runStateCounts(first, deps());
    expect(second).toMatchObject({ done: false, state: 'RUNNING', queryExecutionId: 'q-0001', polls: 2 });
    budget = 600_000;
    const third = await runStateCounts(second, deps());
    expect(third).toMatchObject({ done: true, state: 'SUCCEEDED', queryExecutionId: 'q-0001', polls: 3, rows: 3 });
    expect(athenaMock).toHaveReceivedCommandTimes(StartQueryExecutionCommand, 1);
    expect(store.has('results/state_counts/snapshot_date=2025-08-10/state_counts.json')).toBe(true);
  });

  test('polls with exponential backoff and jitter while time allows, then hands back', async () => {
    plan = (q) => {
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
    beforeGet.push(() => {
      throw awsError('ThrottlingException', 400);
    });
    const ok = await runStateCounts(REQ, deps());
    expect(ok.done).toBe(true);
    expect(athenaMock).toHaveReceivedCommandTimes(GetQueryExecutionCommand, 3);
    expect(sleeps.length).toBeGreaterThanOrEqual(2);

    for (let i = 0; i < 10; i++) {
      beforeGet.push(() => {
        throw awsError('TooManyRequestsException', 400);
      });
    }
    await expect(runStateCounts({ ...REQ, queryExecutionId: 'q-0001' }, deps())).rejects.toMatchObject({ name: 'TransientError' });
  });

  test('a throttled poll with no time left is a TransientError (the state machine retries the same payload)', async () => {
    plan = (q) => {
      q.states = ['RUNNING'];
    };
    budget = 0;
    const first = await runStateCounts(REQ, deps());
    beforeGet.push(() => {
      throw awsError('ThrottlingException', 400);
    });
    await expect(runStateCounts(first, deps())).rejects.toMatchObject({ name: 'TransientError', message: expect.stringContaining(first.queryExecutionId!) });
    // The retried payload resumes the same query.
    await expect(runStateCounts(first, deps())).resolves.toMatchObject({ done: false, queryExecutionId: first.queryExecutionId, polls: 2 });
  });

  test('replacements are counted across calls: a request that used them all is not replaced again', async () => {
    plan = (q) => {
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
    plan = (q) => {
      q.states = ['RUNNING', 'FAILED'];
      q.reason = 'COLUMN_NOT_FOUND: line 1:8: Column \'stat\' cannot be resolved';
      q.error = { ErrorCategory: 2, ErrorType: 1006, Retryable: false, ErrorMessage: 'column not found' };
    };
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({
      name: 'QueryFailedError', message: expect.stringContaining("Column 'stat' cannot be resolved"),
    });
    expect(athenaMock).toHaveReceivedCommandTimes(StartQueryExecutionCommand, 1);
    expect(keysUnder('results/')).toEqual([]);
  });

  test('FAILED with a retryable/system error starts a replacement query (deterministic token), capped', async () => {
    plan = (q) => {
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
    expect(queries.size).toBe(1 + MAX_RESTARTS);
  });

  test('a retryable failure followed by success stores the replacement\'s results', async () => {
    let n = 0;
    plan = (q) => {
      if (n++ === 0) {
        q.states = ['FAILED'];
        q.error = { ErrorCategory: 3, Retryable: true, ErrorMessage: 'S3 slow down' };
      } else {
        q.states = ['SUCCEEDED'];
        q.rows = stateRows;
      }
    };
    const status = await runStateCounts(REQ, deps());
    expect(status).toMatchObject({ done: true, queryExecutionId: 'q-0002', restarts: 1 });
    expect(JSON.parse(text('results/state_counts/snapshot_date=2025-08-10/state_counts.json')).watermark.query_execution_id).toBe('q-0002');
  });

  test('CANCELLED is a QueryCancelledError', async () => {
    plan = (q) => {
      q.states = ['RUNNING', 'CANCELLED'];
      q.reason = 'Query cancelled by user';
    };
    await expect(runStateCounts(REQ, deps())).rejects.toMatchObject({ name: 'QueryCancelledError', message: expect.stringContaining('cancelled by user') });
  });

  test('an older computation never replaces newer results (stale)', async () => {
    const csvKey = 'results/state_counts/snapshot_date=2025-08-10/state_counts.csv';
    const newer = { submittedAt: '2025-08-10T13:00:00.000Z', queryExecutionId: 'q-newer' };
    putRaw(csvKey, 'state,accredited_facilities\nMI,99\n', { watermark: formatWatermark(newer) });
    const status = await runStateCounts(REQ, deps());
    expect(status.done).toBe(true);
    expect(status.resultKeys).toContain(csvKey);
    expect(text(csvKey)).toBe('state,accredited_facilities\nMI,99\n');
    // The JSON is not written beside a newer computation's CSV (the newer one writes its own pair).
    expect(store.has('results/state_counts/snapshot_date=2025-08-10/state_counts.json')).toBe(false);
  });

  test('a lost 412 race on a conditional write (here the announcement, then the CSV) is re-read and retried', async () => {
    const fail = () => {
      throw awsError('PreconditionFailed', 412);
    };
    beforePut.push(fail, () => undefined, fail);
    const status = await runStateCounts(REQ, deps());
    expect(status.done).toBe(true);
    // announcement ×2, CSV ×2, JSON
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 5);
    expect(text(latestComputationKey(config, { ...REQ, asOf: '2025-08-10' }))).toContain('"query_execution_id":"q-0001"');
    expect(text('results/state_counts/snapshot_date=2025-08-10/state_counts.csv')).toContain('MI,2');
  });
});

// ============================================================================= facility extract
describe('Stage 1 facility extract', () => {
  const EREQ: QueryRequest = { query: 'facility_extract', bucket: BUCKET, key: RAW_KEY, etag: '"abc"', snapshotDate: '2025-08-10' };
  const partition = 'curated/facility_metrics/snapshot_date=2025-08-10/';

  beforeEach(() => {
    plan = (q) => {
      q.states = ['RUNNING', 'SUCCEEDED'];
      q.unloadFiles = ['20250810_000001_00001_abcde_1', '20250810_000001_00001_abcde_2', 'sub/part-3'];
    };
  });

  test('UNLOADs into a fresh staging folder named after the token, with the snapshot as parameter', async () => {
    await runFacilityExtract(EREQ, deps());
    const input = athenaMock.commandCalls(StartQueryExecutionCommand)[0].args[0].input;
    const token = input.ClientRequestToken!;
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(input.ExecutionParameters).toEqual(["'2025-08-10'"]);
    expect(input.QueryString).toBe(EXTRACT_SQL.replace('{{output_location}}', `s3://${BUCKET}/curated/facility_metrics/_staging/snapshot_date=2025-08-10/${token}/`));
    expect(stagingPrefix(config, '2025-08-10', token)).toBe(`curated/facility_metrics/_staging/snapshot_date=2025-08-10/${token}/`);
  });

  test('promotes the staged files into the partition, removes older computations\' files and the staging folder', async () => {
    putRaw(`${partition}q-old_part-1`, 'old parquet');
    putRaw(`${partition}manual-file`, 'stray');
    const status = await runFacilityExtract(EREQ, deps());
    expect(status).toMatchObject({ done: true, state: 'SUCCEEDED', promoted: true, queryExecutionId: 'q-0001' });
    expect(keysUnder(partition)).toEqual([
      `${partition}q-0001_20250810_000001_00001_abcde_1`,
      `${partition}q-0001_20250810_000001_00001_abcde_2`,
      `${partition}q-0001_sub__part-3`,
    ]);
    expect(status).toMatchObject({ extractPrefix: `${partition}q-0001_`, extractFiles: 3 });
    expect(text(`${partition}q-0001_sub__part-3`)).toBe('parquet of q-0001/sub/part-3');
    expect(keysUnder('curated/facility_metrics/_staging/')).toEqual([]);
    const wm = store.get(partitionWatermarkKey(config, '2025-08-10'))!;
    expect(parseWatermark(wm.metadata.watermark)).toEqual({ submittedAt: '2025-08-10T12:00:01.000Z', queryExecutionId: 'q-0001' });
    expect(JSON.parse(wm.body.toString())).toMatchObject({ snapshot_date: '2025-08-10', file_prefix: `${partition}q-0001_` });
  });

  /** A new version of the raw object, whose records Stage 2 validated: the snapshot's data changed. */
  const newVersion = (): typeof EREQ => {
    putRaw('validated/snapshot_date=2025-08-10/part-0001.jsonl', '{"facility_id":"FAC1","v":2}\n');
    return { ...EREQ, etag: '"v2"' };
  };

  test('re-running the same computation is idempotent; a newer one replaces it', async () => {
    const first = await runFacilityExtract(EREQ, deps());
    const again = await runFacilityExtract({ ...EREQ, queryExecutionId: first.queryExecutionId }, deps());
    const before = keysUnder(partition);
    expect(again).toMatchObject({ promoted: true, extractFiles: 3, extractPrefix: first.extractPrefix });
    expect(keysUnder(partition)).toEqual(before);
    const newer = await runFacilityExtract(newVersion(), deps());
    expect(newer).toMatchObject({ promoted: true, queryExecutionId: 'q-0002' });
    expect(keysUnder(partition).every((k) => k.startsWith(`${partition}q-0002_`))).toBe(true);
    expect(keysUnder(partition)).toHaveLength(3);
  });

  test('an older computation finishing late is not promoted and leaves the newer partition alone', async () => {
    // q-0001 starts first but finishes after q-0002.
    plan = (q) => {
      q.states = q.id === 'q-0001' ? ['RUNNING', 'RUNNING', 'SUCCEEDED'] : ['SUCCEEDED'];
      q.unloadFiles = ['part-a'];
    };
    budget = 0;
    const older = await runFacilityExtract(EREQ, deps());
    expect(older.done).toBe(false);
    budget = 600_000;
    const newer = await runFacilityExtract(newVersion(), deps());
    expect(newer.promoted).toBe(true);
    const late = await runFacilityExtract(older, deps());
    expect(late).toMatchObject({ done: true, promoted: false, extractFiles: 0 });
    expect(keysUnder(partition)).toEqual([`${partition}q-0002_part-a`]);
    expect(keysUnder('curated/facility_metrics/_staging/')).toEqual([]);
  });

  test('superseded while copying: a newer claim made mid-promotion keeps the newer files, ours are removed', async () => {
    const newer = { submittedAt: '2025-08-10T13:00:00.000Z', queryExecutionId: 'q-newer' };
    beforeCopy.push(() => {
      // Another execution claims the partition and copies its file while we are copying.
      putRaw(partitionWatermarkKey(config, '2025-08-10'), '{}', { watermark: formatWatermark(newer) });
      putRaw(`${partition}q-newer_part-0`, 'newer parquet');
    });
    const status = await runFacilityExtract(EREQ, deps());
    expect(status).toMatchObject({ done: true, promoted: false, extractFiles: 0 });
    expect(keysUnder(partition)).toEqual([`${partition}q-newer_part-0`]);
    expect(keysUnder('curated/facility_metrics/_staging/')).toEqual([]);
  });

  test('a duplicate execution of the same computation that finished first does not fail the promotion', async () => {
    // Two executions of one computation (duplicate events share the query and its staging folder): the twin
    // lists the staged files, then the first execution copies them and removes the staging folder.
    const wm = { submittedAt: '2025-08-10T12:00:01.000Z', queryExecutionId: 'q-dup' };
    const staging = stagingPrefix(config, '2025-08-10', 'f'.repeat(64));
    for (const f of ['part-1', 'part-2']) putRaw(`${staging}${f}`, `parquet ${f}`);
    beforeCopy.push(() => {
      for (const f of ['part-1', 'part-2']) {
        putRaw(`${partition}q-dup_${f}`, `parquet ${f}`);
        store.delete(`${staging}${f}`);
      }
    });
    const twin = await promoteExtract(deps(), '2025-08-10', staging, wm);
    expect(twin).toEqual({ promoted: true, extractPrefix: `${partition}q-dup_`, extractFiles: 2 });
    expect(keysUnder(partition)).toEqual([`${partition}q-dup_part-1`, `${partition}q-dup_part-2`]);
    expect(keysUnder(staging)).toEqual([]);
  });

  test('an UNLOAD refused because its target is not empty (leftovers under a reused token) is replaced into a fresh folder', async () => {
    plan = (q) => {
      if (q.id === 'q-0001') {
        q.states = ['FAILED'];
        q.error = { ErrorCategory: 2, Retryable: false };
        q.reason = 'HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists';
      } else {
        q.states = ['SUCCEEDED'];
      }
      q.unloadFiles = ['part-a'];
    };
    const status = await runFacilityExtract(EREQ, deps());
    expect(status).toMatchObject({ done: true, promoted: true, restarts: 1, queryExecutionId: 'q-0002', extractFiles: 1 });
    const [failed, replacement] = [...queries.values()];
    expect(replacement.token).not.toBe(failed.token);
    expect(keysUnder('curated/facility_metrics/_staging/')).toEqual([]);
  });

  test('a failed UNLOAD has its partial staging output removed', async () => {
    plan = (q) => {
      q.states = ['FAILED'];
      q.error = { ErrorCategory: 2, Retryable: false };
      q.reason = 'HIVE_PATH_ALREADY_EXISTS';
    };
    await expect(runFacilityExtract(EREQ, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
    const q = [...queries.values()][0];
    const staging = stagingPrefix(config, '2025-08-10', q.token);
    expect(keysUnder(staging)).toEqual([]);
    // Athena leaves orphaned files behind after a failure: polling the failed query clears them.
    putRaw(`${staging}orphan`, 'partial');
    await expect(runFacilityExtract({ ...EREQ, queryExecutionId: q.id }, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
    expect(keysUnder(staging)).toEqual([]);
  });

  test('a query id that is not an extract into this pipeline\'s staging area is rejected', async () => {
    await runStateCounts(REQ, deps());
    await expect(runFacilityExtract({ ...EREQ, queryExecutionId: 'q-0001' }, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
  });

  test('the SQL must carry the placeholder; unsafe configuration never reaches the query string', () => {
    expect(() => extractQueryString('UNLOAD (SELECT 1) TO \'s3://x/\'', config, '2025-08-10', 'a'.repeat(64))).toThrow(/placeholder/);
    const bad = { ...config, curatedPrefix: "curated/x'/" };
    expect(() => extractQueryString(EXTRACT_SQL, bad, '2025-08-10', 'a'.repeat(64))).toThrow(/CURATED_PREFIX/);
    expect(() => extractQueryString(EXTRACT_SQL, config, '2025-08-10', 'not-hex')).toThrow(RangeError);
    expect(() => extractQueryString(EXTRACT_SQL, config, "2025-08-10' --", 'a'.repeat(64))).toThrow(RangeError);
    expect(curatedPartition(config, '2025-08-10')).toBe(partition);
  });
});

// ===================================================================================== handler
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
    plan = (q) => {
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
    plan = (q) => {
      q.states = ['RUNNING'];
    };
    const out = await handler({ ...REQ }, { ...context, getRemainingTimeInMillis: () => 10_100 });
    expect(out).toMatchObject({ done: false, state: 'RUNNING', queryExecutionId: 'q-0001', polls: 1 });
  });
});

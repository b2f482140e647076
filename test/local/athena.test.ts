/**
 * The local Athena's API (local/athena/protocol), driven through the real @aws-sdk/client-athena
 * over the project's LocalS3: the query lifecycle and its states, validation, listing,
 * idempotency, execution parameters, paging, stopping and the injected faults. What the engine
 * reads and writes (tables on disk, UNLOAD, columnar copies) is in athena-tables.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AthenaClient, BatchGetQueryExecutionCommand, GetQueryExecutionCommand, GetQueryResultsCommand, ListQueryExecutionsCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { AthenaFixture, startAthenaFixture } from './engine-helpers';

jest.setTimeout(60_000);

let fx: AthenaFixture;
let client: AthenaClient;
let start: AthenaFixture['start'];
let wait: AthenaFixture['wait'];
let rows: AthenaFixture['rows'];

beforeAll(async () => {
  // With columnar copies of JSON files (off by default): these queries run on the copies, the other
  // suites' on the JSON itself, and a test in athena-tables.test.ts compares the two.
  fx = await startAthenaFixture({ jsonCache: true });
  ({ client, start, wait, rows } = fx);
});

afterAll(async () => {
  await fx?.close();
});

/** An object of bucket `data`, read through the S3 API. */
async function objectText(key: string): Promise<string> {
  const r = await fx.s3Client.send(new GetObjectCommand({ Bucket: 'data', Key: key }));
  return r.Body!.transformToString('utf8');
}

describe('query lifecycle', () => {
  test('a SELECT goes QUEUED → RUNNING → SUCCEEDED with times, statistics and the CSV in the output location', async () => {
    const before = Date.now();
    const id = await start('SELECT facility_id, location.state AS state, CAST(NULL AS varchar) AS nothing, \'say "hi"\' AS q FROM validated_facilities WHERE snapshot_date = \'2025-08-10\' ORDER BY facility_id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const first = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    expect(['QUEUED', 'RUNNING', 'SUCCEEDED']).toContain(first.QueryExecution!.Status!.State);
    const ex = await wait(id);
    expect(ex.Status!.State).toBe('SUCCEEDED');
    expect(ex.StatementType).toBe('DML');
    expect(ex.Status!.SubmissionDateTime!.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(ex.Status!.CompletionDateTime!.getTime()).toBeGreaterThanOrEqual(ex.Status!.SubmissionDateTime!.getTime());
    const a = readFileSync(join(fx.s3Root, 'data/validated/snapshot_date=2025-08-10/a.jsonl')).length;
    const b = readFileSync(join(fx.s3Root, 'data/validated/snapshot_date=2025-08-10/sub/b.jsonl')).length;
    // The files the query read: the 2025-08-11 partition is pruned by the filter, hidden files are never read.
    expect(ex.Statistics!.DataScannedInBytes).toBe(a + b);
    expect(ex.ResultConfiguration!.OutputLocation).toBe(`s3://data/athena-results/${id}.csv`);
    expect(await rows(id)).toEqual([
      ['facility_id', 'state', 'nothing', 'q'],
      ['FAC1', 'MI', null, 'say "hi"'],
      ['FAC2', 'OH', null, 'say "hi"'],
      ['FAC3', 'MI', null, 'say "hi"'],
    ]);
    // Both result objects were written through the S3 API.
    const csv = await objectText(`athena-results/${id}.csv`);
    expect(csv).toBe('"facility_id","state","nothing","q"\n"FAC1","MI",,"say ""hi"""\n"FAC2","OH",,"say ""hi"""\n"FAC3","MI",,"say ""hi"""\n');
    const metadata = JSON.parse(await objectText(`athena-results/${id}.csv.metadata`));
    expect(metadata.QueryExecutionId).toBe(id);
    expect(metadata.ResultSetMetadata.ColumnInfo.map((ci: { Name: string }) => ci.Name)).toEqual(['facility_id', 'state', 'nothing', 'q']);
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
    expect(page.ResultSet!.ResultSetMetadata!.ColumnInfo!.map((ci) => [ci.Name, ci.Type])).toEqual([
      ['facility_id', 'varchar'], ['state', 'varchar'], ['nothing', 'varchar'], ['q', 'varchar'],
    ]);
  });

  test('DataScannedInBytes counts the partitions a query reads: all of them, or none', async () => {
    const all = await wait(await start('SELECT count(*) FROM validated_facilities'));
    const c = readFileSync(join(fx.s3Root, 'data/validated/snapshot_date=2025-08-11/a.jsonl')).length;
    const a = readFileSync(join(fx.s3Root, 'data/validated/snapshot_date=2025-08-10/a.jsonl')).length;
    const b = readFileSync(join(fx.s3Root, 'data/validated/snapshot_date=2025-08-10/sub/b.jsonl')).length;
    expect(all.Statistics!.DataScannedInBytes).toBe(a + b + c);
    const none = await wait(await start('SELECT count(*) FROM validated_facilities WHERE snapshot_date = \'2024-01-01\''));
    expect(none.Statistics!.DataScannedInBytes).toBe(0);
    const literal = await wait(await start('SELECT 1'));
    expect(literal.Statistics!.DataScannedInBytes).toBe(0);
  });

  test('unknown ids, bad MaxResults and results of unfinished or failed queries are InvalidRequestException', async () => {
    await expect(client.send(new GetQueryExecutionCommand({ QueryExecutionId: '00000000-0000-0000-0000-000000000000' })))
      .rejects.toMatchObject({ name: 'InvalidRequestException' });
    const id = await start('SELECT 1');
    await wait(id);
    await expect(client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1001 })))
      .rejects.toMatchObject({ name: 'InvalidRequestException' });
    const bad = await start('SELECT no_such_column FROM validated_facilities');
    const ex = await wait(bad);
    expect(ex.Status!.State).toBe('FAILED');
    expect(ex.Status!.AthenaError).toMatchObject({ ErrorCategory: 2, Retryable: false });
    await expect(client.send(new GetQueryResultsCommand({ QueryExecutionId: bad }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
  });

  test('a workgroup that does not exist and a missing output location are rejected', async () => {
    await expect(start('SELECT 1', { WorkGroup: 'nope' })).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(start('SELECT 1', { WorkGroup: 'primary' })).rejects.toMatchObject({ name: 'InvalidRequestException' });
    const id = await start('SELECT 1 AS one', { WorkGroup: 'primary', ResultConfiguration: { OutputLocation: 's3://data/other-results/' } });
    expect((await wait(id)).ResultConfiguration!.OutputLocation).toBe(`s3://data/other-results/${id}.csv`);
  });
});

describe('listing', () => {
  test('ListQueryExecutions lists a workgroup\'s queries newest first; BatchGetQueryExecution reports unknown ids', async () => {
    const a = await start('SELECT 1');
    const b = await start('SELECT 2');
    await wait(b);
    const listed = await client.send(new ListQueryExecutionsCommand({ WorkGroup: 'wg', MaxResults: 2 }));
    expect(listed.QueryExecutionIds).toEqual([b, a]);
    expect(listed.NextToken).toBeDefined();
    const batch = await client.send(new BatchGetQueryExecutionCommand({ QueryExecutionIds: [a, 'nope'] }));
    expect(batch.QueryExecutions!.map((q) => q.QueryExecutionId)).toEqual([a]);
    expect(batch.UnprocessedQueryExecutionIds!.map((u) => u.QueryExecutionId)).toEqual(['nope']);
  });
});

describe('idempotency', () => {
  test('the same ClientRequestToken returns the same QueryExecutionId; changed parameters are an error', async () => {
    const token = 'a'.repeat(40);
    const a = await start('SELECT ? AS v', { ClientRequestToken: token, ExecutionParameters: ['\'x\''] });
    const b = await start('SELECT ? AS v', { ClientRequestToken: token, ExecutionParameters: ['\'x\''] });
    expect(b).toBe(a);
    await expect(start('SELECT ? AS v', { ClientRequestToken: token, ExecutionParameters: ['\'y\''] }))
      .rejects.toMatchObject({ name: 'InvalidRequestException' });
    const c = await start('SELECT ? AS v', { ClientRequestToken: 'b'.repeat(40), ExecutionParameters: ['\'x\''] });
    expect(c).not.toBe(a);
  });
});

describe('execution parameters', () => {
  test('`?` is replaced outside string literals, quoted identifiers and comments only', async () => {
    const id = await start('SELECT \'?\' AS literal, ? AS p1, /* ? */ ? AS p2, "?" AS x FROM (SELECT 1 AS "?") -- ?', {
      ExecutionParameters: ['\'2025-08-10\'', '42'],
    });
    expect((await wait(id)).Status!.State).toBe('SUCCEEDED');
    expect(await rows(id)).toEqual([['literal', 'p1', 'p2', 'x'], ['?', '2025-08-10', '42', '1']]);
  });

  test('a parameter count mismatch fails the query', async () => {
    const id = await start('SELECT ? AS a, ? AS b', { ExecutionParameters: ['1'] });
    const ex = await wait(id);
    expect(ex.Status!.State).toBe('FAILED');
    expect(ex.Status!.StateChangeReason).toMatch(/expected 2 but found 1/);
  });
});

describe('pagination', () => {
  test('results past 1,000 rows page with NextToken; the header is the first row of the first page', async () => {
    const id = await start('SELECT i FROM UNNEST(sequence(1, 2500)) AS t(i) ORDER BY i');
    expect((await wait(id)).Status!.State).toBe('SUCCEEDED');
    const p1 = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1000 }));
    expect(p1.ResultSet!.Rows!.length).toBe(1000);
    expect(p1.ResultSet!.Rows![0].Data![0].VarCharValue).toBe('i');
    expect(p1.NextToken).toBeDefined();
    const all = await rows(id, 1000);
    expect(all.length).toBe(2501);
    expect(all.slice(1).map((r) => Number(r[0]))).toEqual(Array.from({ length: 2500 }, (_, k) => k + 1));
    const small = await rows(id, 7);
    expect(small).toEqual(all);
    await expect(client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: 'garbage' })))
      .rejects.toMatchObject({ name: 'InvalidRequestException' });
  });
});

describe('StopQueryExecution', () => {
  test('a running query is interrupted and a queued one never runs: both end CANCELLED', async () => {
    const long = await start('SELECT count(*) FROM range(100000000000) AS t(x) WHERE x % 7 = 3');
    const queued = await start('SELECT 1 AS one');
    for (;;) {
      const s = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: long }));
      if (s.QueryExecution!.Status!.State === 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await client.send(new StopQueryExecutionCommand({ QueryExecutionId: queued }));
    await client.send(new StopQueryExecutionCommand({ QueryExecutionId: long }));
    expect((await wait(queued)).Status!.State).toBe('CANCELLED');
    expect((await wait(long)).Status!.State).toBe('CANCELLED');
    // The engine is free again.
    const next = await start('SELECT 2 AS two');
    expect((await wait(next)).Status!.State).toBe('SUCCEEDED');
  });
});

describe('faults', () => {
  afterEach(() => fx.athena.setFaults({}));

  test('throttleFirstN: StartQueryExecution answers TooManyRequestsException', async () => {
    fx.athena.setFaults({ throttleFirstN: 2 });
    await expect(start('SELECT 1')).rejects.toMatchObject({ name: 'TooManyRequestsException' });
    await expect(start('SELECT 1')).rejects.toMatchObject({ name: 'TooManyRequestsException', $metadata: { httpStatusCode: 400 } });
    const id = await start('SELECT 1');
    expect((await wait(id)).Status!.State).toBe('SUCCEEDED');
  });

  test('throttleRate is seeded and deterministic', async () => {
    const outcomes = async (): Promise<boolean[]> => {
      fx.athena.setFaults({ throttleRate: 0.5, seed: 7 });
      const out: boolean[] = [];
      for (let i = 0; i < 12; i++) out.push(await start(`SELECT ${i}`).then(() => true, () => false));
      return out;
    };
    const a = await outcomes();
    expect(a).toContain(true);
    expect(a).toContain(false);
    expect(await outcomes()).toEqual(a);
  });

  test('failQueriesMatching ends matching queries FAILED, retryable or not', async () => {
    fx.athena.setFaults({ failQueriesMatching: /validated_facilities/, failRetryable: true });
    const id = await start('SELECT count(*) FROM validated_facilities');
    const ex = await wait(id);
    expect(ex.Status!.State).toBe('FAILED');
    expect(ex.Status!.AthenaError).toMatchObject({ ErrorCategory: 1, Retryable: true });
    const other = await start('SELECT 1');
    expect((await wait(other)).Status!.State).toBe('SUCCEEDED');
    fx.athena.setFaults({ failNextN: 1 });
    const f = await wait(await start('SELECT 1'));
    expect(f.Status!.State).toBe('FAILED');
    expect(f.Status!.AthenaError).toMatchObject({ ErrorCategory: 2, Retryable: false });
    expect((await wait(await start('SELECT 1'))).Status!.State).toBe('SUCCEEDED');
  });
});

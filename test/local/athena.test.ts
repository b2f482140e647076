/**
 * The local Athena endpoint, driven through the real @aws-sdk/client-athena. Table files are written
 * straight into the LocalS3 on-disk layout (<root>/<bucket>/<key>); result uploads go to a tiny
 * S3 PUT receiver that stores them in the same layout.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  AthenaClient, BatchGetQueryExecutionCommand, GetQueryExecutionCommand, GetQueryResultsCommand, ListQueryExecutionsCommand,
  QueryExecution, StartQueryExecutionCommand, StartQueryExecutionCommandInput, StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { GlueTableInput, LocalAthena } from '../../local/athena';
import { glueColumnsFromSchema } from '../../src/schema/glue-columns';

jest.setTimeout(60_000);

interface StubS3 { url: string; puts: string[]; close(): Promise<void> }

/** Accepts path-style PutObject and stores the body at <root>/<bucket>/<key>. */
async function startStubS3(root: string): Promise<StubS3> {
  const puts: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'PUT') { res.statusCode = 405; res.end(); return; }
      const key = decodeURIComponent(new URL(req.url!, 'http://x').pathname.slice(1));
      const file = join(root, key);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, Buffer.concat(chunks));
      puts.push(key);
      res.statusCode = 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    puts,
    close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

const TEMPLATE = 's3://data/validated/snapshot_date=${snapshot_date}/';

function validatedTable(name = 'validated_facilities', template = TEMPLATE): GlueTableInput {
  return {
    Name: name,
    TableType: 'EXTERNAL_TABLE',
    Parameters: {
      'classification': 'json',
      'projection.enabled': 'true',
      'projection.snapshot_date.type': 'date',
      'projection.snapshot_date.format': 'yyyy-MM-dd',
      'projection.snapshot_date.range': '2020-01-01,NOW',
      'storage.location.template': template,
    },
    PartitionKeys: [{ Name: 'snapshot_date', Type: 'string' }],
    StorageDescriptor: {
      Columns: glueColumnsFromSchema().map((c) => ({ Name: c.name, Type: c.type })),
      Location: template.replace(/snapshot_date=\$\{snapshot_date\}\/$/, ''),
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', Parameters: {} },
    },
  };
}

function record(id: string, state: string, validUntil: string[], snapshot: string): string {
  return JSON.stringify({
    facility_id: id,
    facility_name: `Facility ${id}`,
    location: { address: '1 Main St', city: 'Town', state, zip: '48201' },
    employee_count: 10,
    services: ['ER'],
    accreditations: validUntil.map((v, i) => ({ accreditation_body: 'JC', accreditation_id: `A${i}`, valid_until: v })),
    snapshot_date: snapshot,
  });
}

let root: string;
let s3: StubS3;
let athena: LocalAthena;
let client: AthenaClient;

function writeObject(bucket: string, key: string, body: string): void {
  const file = join(root, bucket, key);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, body);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'local-athena-'));
  s3 = await startStubS3(root);
  // With columnar copies of JSON files (off by default): this file's queries run on the copies, the
  // other suites' on the JSON itself, and one test below compares the two.
  athena = await LocalAthena.start({ s3: { endpoint: s3.url, rootDir: root }, workDir: join(root, '.athena'), jsonCache: true });
  athena.registerTable('medlaunch', validatedTable());
  athena.registerTable('medlaunch', validatedTable('empty_table', 's3://data/nothing-here/snapshot_date=${snapshot_date}/'));
  athena.registerWorkGroup('wg', { outputLocation: 's3://data/athena-results/', enforce: true });
  client = new AthenaClient({ endpoint: athena.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  writeObject('data', 'validated/snapshot_date=2025-08-10/a.jsonl', [
    record('FAC1', 'MI', ['2026-01-01'], '2025-08-10'),
    record('FAC2', 'OH', [], '2025-08-10'),
  ].join('\n') + '\n');
  writeObject('data', 'validated/snapshot_date=2025-08-10/sub/b.jsonl', record('FAC3', 'MI', ['2025-08-10'], '2025-08-10') + '\n');
  writeObject('data', 'validated/snapshot_date=2025-08-10/_SUCCESS', 'not json');
  writeObject('data', 'validated/snapshot_date=2025-08-10/.hidden.jsonl', 'not json');
  writeObject('data', 'validated/snapshot_date=2025-08-10/_tmp/c.jsonl', 'not json');
  writeObject('data', 'validated/snapshot_date=2025-08-11/a.jsonl', record('FAC9', 'TX', ['2027-01-01'], '2025-08-11') + '\n');
  // Outside the projection: before the range, and not a date.
  writeObject('data', 'validated/snapshot_date=2019-12-31/a.jsonl', record('FAC7', 'TX', ['2027-01-01'], '2019-12-31') + '\n');
  writeObject('data', 'validated/snapshot_date=latest/a.jsonl', record('FAC8', 'TX', ['2027-01-01'], '2025-08-11') + '\n');
});

afterAll(async () => {
  await athena?.close();
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

async function start(query: string, extra: Partial<StartQueryExecutionCommandInput> = {}): Promise<string> {
  const out = await client.send(new StartQueryExecutionCommand({
    QueryString: query, WorkGroup: 'wg', QueryExecutionContext: { Database: 'medlaunch' }, ...extra,
  }));
  return out.QueryExecutionId!;
}

async function wait(id: string): Promise<QueryExecution> {
  for (;;) {
    const { QueryExecution: ex } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(ex!.Status!.State!)) return ex!;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rows(id: string, max?: number): Promise<(string | null)[][]> {
  const out: (string | null)[][] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: max }));
    for (const r of page.ResultSet!.Rows!) out.push(r.Data!.map((d) => d.VarCharValue ?? null));
    token = page.NextToken;
  } while (token);
  return out;
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
    const a = readFileSync(join(root, 'data/validated/snapshot_date=2025-08-10/a.jsonl')).length;
    const b = readFileSync(join(root, 'data/validated/snapshot_date=2025-08-10/sub/b.jsonl')).length;
    // The files the query read: the 2025-08-11 partition is pruned by the filter, hidden files are never read.
    expect(ex.Statistics!.DataScannedInBytes).toBe(a + b);
    expect(ex.ResultConfiguration!.OutputLocation).toBe(`s3://data/athena-results/${id}.csv`);
    expect(await rows(id)).toEqual([
      ['facility_id', 'state', 'nothing', 'q'],
      ['FAC1', 'MI', null, 'say "hi"'],
      ['FAC2', 'OH', null, 'say "hi"'],
      ['FAC3', 'MI', null, 'say "hi"'],
    ]);
    const csv = readFileSync(join(root, 'data/athena-results', `${id}.csv`), 'utf8');
    expect(csv).toBe('"facility_id","state","nothing","q"\n"FAC1","MI",,"say ""hi"""\n"FAC2","OH",,"say ""hi"""\n"FAC3","MI",,"say ""hi"""\n');
    expect(s3.puts).toContain(`data/athena-results/${id}.csv.metadata`);
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
    expect(page.ResultSet!.ResultSetMetadata!.ColumnInfo!.map((ci) => [ci.Name, ci.Type])).toEqual([
      ['facility_id', 'varchar'], ['state', 'varchar'], ['nothing', 'varchar'], ['q', 'varchar'],
    ]);
  });

  test('DataScannedInBytes counts the partitions a query reads: all of them, or none', async () => {
    const all = await wait(await start('SELECT count(*) FROM validated_facilities'));
    const c = readFileSync(join(root, 'data/validated/snapshot_date=2025-08-11/a.jsonl')).length;
    const a = readFileSync(join(root, 'data/validated/snapshot_date=2025-08-10/a.jsonl')).length;
    const b = readFileSync(join(root, 'data/validated/snapshot_date=2025-08-10/sub/b.jsonl')).length;
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
  afterEach(() => athena.setFaults({}));

  test('throttleFirstN: StartQueryExecution answers TooManyRequestsException', async () => {
    athena.setFaults({ throttleFirstN: 2 });
    await expect(start('SELECT 1')).rejects.toMatchObject({ name: 'TooManyRequestsException' });
    await expect(start('SELECT 1')).rejects.toMatchObject({ name: 'TooManyRequestsException', $metadata: { httpStatusCode: 400 } });
    const id = await start('SELECT 1');
    expect((await wait(id)).Status!.State).toBe('SUCCEEDED');
  });

  test('throttleRate is seeded and deterministic', async () => {
    const outcomes = async (): Promise<boolean[]> => {
      athena.setFaults({ throttleRate: 0.5, seed: 7 });
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
    athena.setFaults({ failQueriesMatching: /validated_facilities/, failRetryable: true });
    const id = await start('SELECT count(*) FROM validated_facilities');
    const ex = await wait(id);
    expect(ex.Status!.State).toBe('FAILED');
    expect(ex.Status!.AthenaError).toMatchObject({ ErrorCategory: 1, Retryable: true });
    const other = await start('SELECT 1');
    expect((await wait(other)).Status!.State).toBe('SUCCEEDED');
    athena.setFaults({ failNextN: 1 });
    const f = await wait(await start('SELECT 1'));
    expect(f.Status!.State).toBe('FAILED');
    expect(f.Status!.AthenaError).toMatchObject({ ErrorCategory: 2, Retryable: false });
    expect((await wait(await start('SELECT 1'))).Status!.State).toBe('SUCCEEDED');
  });
});

describe('tables on disk', () => {
  test('partition projection lists date folders in range; hidden files and folders are ignored; "$path" is the S3 URI', async () => {
    const id = await start('SELECT snapshot_date, facility_id, "$path" AS path FROM validated_facilities ORDER BY snapshot_date, facility_id');
    const ex = await wait(id);
    expect(ex.Status!.StateChangeReason).toBeUndefined();
    expect(await rows(id)).toEqual([
      ['snapshot_date', 'facility_id', 'path'],
      ['2025-08-10', 'FAC1', 's3://data/validated/snapshot_date=2025-08-10/a.jsonl'],
      ['2025-08-10', 'FAC2', 's3://data/validated/snapshot_date=2025-08-10/a.jsonl'],
      ['2025-08-10', 'FAC3', 's3://data/validated/snapshot_date=2025-08-10/sub/b.jsonl'],
      ['2025-08-11', 'FAC9', 's3://data/validated/snapshot_date=2025-08-11/a.jsonl'],
    ]);
  });

  test('nested columns keep their types; an empty location is an empty typed relation', async () => {
    const id = await start('SELECT accreditations, cardinality(services) AS n, employee_count FROM validated_facilities WHERE facility_id = \'FAC1\'');
    await wait(id);
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
    expect(page.ResultSet!.ResultSetMetadata!.ColumnInfo!.map((c) => c.Type)).toEqual(['array', 'bigint', 'integer']);
    expect(page.ResultSet!.Rows![1].Data!.map((d) => d.VarCharValue)).toEqual([
      '[{accreditation_body=JC, accreditation_id=A0, valid_until=2026-01-01}]', '1', '10',
    ]);
    const empty = await start('SELECT facility_id, employee_count, snapshot_date FROM empty_table');
    expect((await wait(empty)).Status!.State).toBe('SUCCEEDED');
    const e = await client.send(new GetQueryResultsCommand({ QueryExecutionId: empty }));
    expect(e.ResultSet!.Rows!.length).toBe(1);
    expect(e.ResultSet!.ResultSetMetadata!.ColumnInfo!.map((c) => c.Type)).toEqual(['varchar', 'integer', 'varchar']);
  });

  test('UNLOAD writes Parquet under the TO location and refuses a location that is not empty', async () => {
    const q = 'UNLOAD (SELECT facility_id, employee_count FROM validated_facilities WHERE snapshot_date = ?) TO \'s3://data/unload/one/\' WITH (format = \'PARQUET\', compression = \'SNAPPY\')';
    const id = await start(q, { ExecutionParameters: ['\'2025-08-10\''] });
    const ex = await wait(id);
    expect(ex.Status!.State).toBe('SUCCEEDED');
    const files = s3.puts.filter((k) => k.startsWith('data/unload/one/'));
    expect(files).toHaveLength(1);
    expect(readFileSync(join(root, files[0])).subarray(0, 4).toString()).toBe('PAR1');
    expect(existsSync(join(root, 'data/athena-results', `${id}-manifest.csv`))).toBe(true);
    const again = await wait(await start(q, { ExecutionParameters: ['\'2025-08-10\''] }));
    expect(again.Status!.State).toBe('FAILED');
    expect(again.Status!.StateChangeReason).toMatch(/^HIVE_PATH_ALREADY_EXISTS/);
  });

  test('statements other than SELECT and UNLOAD fail with NOT_SUPPORTED', async () => {
    const ex = await wait(await start('DROP TABLE validated_facilities'));
    expect(ex.Status!.State).toBe('FAILED');
    expect(ex.StatementType).toBe('DDL');
    expect(ex.Status!.StateChangeReason).toMatch(/^NOT_SUPPORTED/);
  });
});

describe('columnar copies of JSON files (jsonCache)', () => {
  const CACHE_TEMPLATE = 's3://data/cached/snapshot_date=${snapshot_date}/';
  const copies = (): string[] => {
    const dir = join(root, '.athena', 'json-cache');
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  };
  const stateCounts = 'SELECT location.state AS state, count(DISTINCT facility_id) AS n, min("$path") AS path FROM cached_table WHERE snapshot_date = ? GROUP BY 1 ORDER BY 1';

  beforeAll(() => {
    athena.registerTable('medlaunch', validatedTable('cached_table', CACHE_TEMPLATE));
  });

  test('a copy is made once per file version, results match a run without copies, and bytes scanned are the JSON bytes', async () => {
    writeObject('data', 'cached/snapshot_date=2025-09-01/a.jsonl', `${record('FAC1', 'MI', ['2026-01-01'], '2025-09-01')}\n${record('FAC2', 'OH', [], '2025-09-01')}\n`);
    writeObject('data', 'cached/snapshot_date=2025-09-01/b.jsonl', `${record('FAC3', 'MI', ['2026-01-01'], '2025-09-01')}\n`);
    const before = copies().length;
    const first = await start(stateCounts, { ExecutionParameters: ['\'2025-09-01\''] });
    const ex1 = await wait(first);
    expect(ex1.Status!.State).toBe('SUCCEEDED');
    const made = copies();
    expect(made.length - before).toBe(2);
    const second = await start(stateCounts, { ExecutionParameters: ['\'2025-09-01\''] });
    const ex2 = await wait(second);
    expect(copies()).toEqual(made); // reused, not re-made
    const jsonBytes = ['a', 'b'].map((f) => readFileSync(join(root, `data/cached/snapshot_date=2025-09-01/${f}.jsonl`)).length).reduce((x, y) => x + y);
    expect(ex1.Statistics!.DataScannedInBytes).toBe(jsonBytes);
    expect(ex2.Statistics!.DataScannedInBytes).toBe(jsonBytes);

    // The same query on an engine that parses the JSON every time.
    const plain = await LocalAthena.start({ s3: { endpoint: s3.url, rootDir: root }, workDir: join(root, '.athena-plain'), jsonCache: false });
    try {
      plain.registerTable('medlaunch', validatedTable('cached_table', CACHE_TEMPLATE));
      plain.registerWorkGroup('wg', { outputLocation: 's3://data/athena-results-plain/', enforce: true });
      const c2 = new AthenaClient({ endpoint: plain.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      const { QueryExecutionId } = await c2.send(new StartQueryExecutionCommand({
        QueryString: stateCounts, WorkGroup: 'wg', QueryExecutionContext: { Database: 'medlaunch' }, ExecutionParameters: ['\'2025-09-01\''],
      }));
      let state = '';
      while (!['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(state)) {
        await new Promise((r) => setTimeout(r, 10));
        state = (await c2.send(new GetQueryExecutionCommand({ QueryExecutionId }))).QueryExecution!.Status!.State!;
      }
      const page = await c2.send(new GetQueryResultsCommand({ QueryExecutionId }));
      const plainRows = page.ResultSet!.Rows!.map((r) => r.Data!.map((d) => d.VarCharValue ?? null));
      expect(await rows(second)).toEqual(plainRows);
      expect(plainRows).toEqual([
        ['state', 'n', 'path'],
        ['MI', '2', 's3://data/cached/snapshot_date=2025-09-01/a.jsonl'],
        ['OH', '1', 's3://data/cached/snapshot_date=2025-09-01/a.jsonl'],
      ]);
      expect(existsSync(join(root, '.athena-plain', 'json-cache'))).toBe(false);
    } finally {
      await plain.close();
    }
  });

  test('an overwritten file is read again, even with the same size, and its old copy is removed', async () => {
    const key = 'cached/snapshot_date=2025-09-02/a.jsonl';
    writeObject('data', key, `${record('FAC1', 'MI', ['2026-01-01'], '2025-09-02')}\n`);
    const q = 'SELECT facility_id, location.state AS state FROM cached_table WHERE snapshot_date = ?';
    const r1 = await start(q, { ExecutionParameters: ['\'2025-09-02\''] });
    await wait(r1);
    expect(await rows(r1)).toEqual([['facility_id', 'state'], ['FAC1', 'MI']]);
    const n = copies().length;
    // Same length, different content, written in place (same inode) and through a rename (new inode).
    writeObject('data', key, `${record('FAC2', 'OH', ['2026-01-01'], '2025-09-02')}\n`);
    const file = join(root, 'data', key);
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    const r2 = await start(q, { ExecutionParameters: ['\'2025-09-02\''] });
    await wait(r2);
    expect(await rows(r2)).toEqual([['facility_id', 'state'], ['FAC2', 'OH']]);
    writeFileSync(`${file}.new`, `${record('FAC3', 'TX', ['2026-01-01'], '2025-09-02')}\n`);
    renameSync(`${file}.new`, file);
    const r3 = await start(q, { ExecutionParameters: ['\'2025-09-02\''] });
    await wait(r3);
    expect(await rows(r3)).toEqual([['facility_id', 'state'], ['FAC3', 'TX']]);
    expect(copies().length).toBe(n);
  });

  test('malformed JSON gets no copy: the query fails as it does without copies, and a query that prunes its partition succeeds', async () => {
    writeObject('data', 'cached/snapshot_date=2025-09-03/a.jsonl', `${record('FAC1', 'MI', [], '2025-09-03')}\n{"facility_id": "FAC2", \n`);
    writeObject('data', 'cached/snapshot_date=2025-09-04/a.jsonl', `${record('FAC5', 'MI', [], '2025-09-04')}\n`);
    const bad = await wait(await start('SELECT count(*) FROM cached_table WHERE snapshot_date = \'2025-09-03\''));
    expect(bad.Status!.State).toBe('FAILED');
    expect(bad.Status!.StateChangeReason).toMatch(/^HIVE_BAD_DATA/);
    expect(copies().filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const good = await start('SELECT count(*) AS n FROM cached_table WHERE snapshot_date = \'2025-09-04\'');
    expect((await wait(good)).Status!.State).toBe('SUCCEEDED');
    expect(await rows(good)).toEqual([['n'], ['1']]);
  });
});

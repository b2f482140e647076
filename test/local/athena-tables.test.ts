/**
 * What the local Athena's engine (local/athena/engine) reads and writes, through the real
 * @aws-sdk/client-athena over the project's LocalS3: tables on disk (partition projection, hidden
 * files, "$path", nested types, empty locations), UNLOAD through the S3 API, statements it refuses,
 * and the columnar copies of JSON files (jsonCache) against a run without them.
 */
import { existsSync, readdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { AthenaFixture, record, startAthenaFixture, validatedTable } from './engine-helpers';
import { LocalAthena } from '../../local/athena';

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
    // The file and the manifest were written through the S3 API.
    const listed = await fx.s3Client.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'unload/one/' }));
    const files = (listed.Contents ?? []).map((o) => o.Key!);
    expect(files).toEqual([`unload/one/${id}_00000`]);
    const body = await fx.s3Client.send(new GetObjectCommand({ Bucket: 'data', Key: files[0] }));
    expect(Buffer.from(await body.Body!.transformToByteArray()).subarray(0, 4).toString()).toBe('PAR1');
    const manifest = await fx.s3Client.send(new GetObjectCommand({ Bucket: 'data', Key: `athena-results/${id}-manifest.csv` }));
    expect(await manifest.Body!.transformToString('utf8')).toBe(`s3://data/${files[0]}\n`);
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
    const dir = join(fx.root, 'athena', 'json-cache');
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  };
  const stateCounts = 'SELECT location.state AS state, count(DISTINCT facility_id) AS n, min("$path") AS path FROM cached_table WHERE snapshot_date = ? GROUP BY 1 ORDER BY 1';

  beforeAll(() => {
    fx.athena.registerTable('medlaunch', validatedTable('cached_table', CACHE_TEMPLATE));
  });

  test('a copy is made once per file version, results match a run without copies, and bytes scanned are the JSON bytes', async () => {
    fx.writeObject('data', 'cached/snapshot_date=2025-09-01/a.jsonl', `${record('FAC1', 'MI', ['2026-01-01'], '2025-09-01')}\n${record('FAC2', 'OH', [], '2025-09-01')}\n`);
    fx.writeObject('data', 'cached/snapshot_date=2025-09-01/b.jsonl', `${record('FAC3', 'MI', ['2026-01-01'], '2025-09-01')}\n`);
    const before = copies().length;
    const first = await start(stateCounts, { ExecutionParameters: ['\'2025-09-01\''] });
    const ex1 = await wait(first);
    expect(ex1.Status!.State).toBe('SUCCEEDED');
    const made = copies();
    expect(made.length - before).toBe(2);
    const second = await start(stateCounts, { ExecutionParameters: ['\'2025-09-01\''] });
    const ex2 = await wait(second);
    expect(copies()).toEqual(made); // reused, not re-made
    const jsonBytes = ['a', 'b'].map((f) => readFileSync(join(fx.s3Root, `data/cached/snapshot_date=2025-09-01/${f}.jsonl`)).length).reduce((x, y) => x + y);
    expect(ex1.Statistics!.DataScannedInBytes).toBe(jsonBytes);
    expect(ex2.Statistics!.DataScannedInBytes).toBe(jsonBytes);

    // The same query on an engine that parses the JSON every time.
    const plain = await LocalAthena.start({ s3: { endpoint: fx.s3.endpoint, rootDir: fx.s3Root }, workDir: join(fx.root, 'athena-plain'), jsonCache: false });
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
      expect(existsSync(join(fx.root, 'athena-plain', 'json-cache'))).toBe(false);
      c2.destroy();
    } finally {
      await plain.close();
    }
  });

  test('an overwritten file is read again, even with the same size, and its old copy is removed', async () => {
    const key = 'cached/snapshot_date=2025-09-02/a.jsonl';
    fx.writeObject('data', key, `${record('FAC1', 'MI', ['2026-01-01'], '2025-09-02')}\n`);
    const q = 'SELECT facility_id, location.state AS state FROM cached_table WHERE snapshot_date = ?';
    const r1 = await start(q, { ExecutionParameters: ['\'2025-09-02\''] });
    await wait(r1);
    expect(await rows(r1)).toEqual([['facility_id', 'state'], ['FAC1', 'MI']]);
    const n = copies().length;
    // Same length, different content, written in place (same inode) and through a rename (new inode).
    fx.writeObject('data', key, `${record('FAC2', 'OH', ['2026-01-01'], '2025-09-02')}\n`);
    const file = join(fx.s3Root, 'data', key);
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
    fx.writeObject('data', 'cached/snapshot_date=2025-09-03/a.jsonl', `${record('FAC1', 'MI', [], '2025-09-03')}\n{"facility_id": "FAC2", \n`);
    fx.writeObject('data', 'cached/snapshot_date=2025-09-04/a.jsonl', `${record('FAC5', 'MI', [], '2025-09-04')}\n`);
    const bad = await wait(await start('SELECT count(*) FROM cached_table WHERE snapshot_date = \'2025-09-03\''));
    expect(bad.Status!.State).toBe('FAILED');
    expect(bad.Status!.StateChangeReason).toMatch(/^HIVE_BAD_DATA/);
    expect(copies().filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const good = await start('SELECT count(*) AS n FROM cached_table WHERE snapshot_date = \'2025-09-04\'');
    expect((await wait(good)).Status!.State).toBe('SUCCEEDED');
    expect(await rows(good)).toEqual([['n'], ['1']]);
  });
});

/**
 * The local Athena together with the project's LocalS3: results and UNLOAD files are written
 * through the S3 API (so the S3 side sees them, retrying SlowDown), and a Parquet table over the
 * unloaded files reads them back.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, QueryExecution, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GlueTableInput, LocalAthena } from '../../local/athena';
import { LocalS3 } from '../../local/s3';
import { glueColumnsFromSchema } from '../../src/schema/glue-columns';

jest.setTimeout(60_000);

const BUCKET = 'pipeline-data';
const projection = (prefix: string): Record<string, string> => ({
  'projection.enabled': 'true',
  'projection.snapshot_date.type': 'date',
  'projection.snapshot_date.format': 'yyyy-MM-dd',
  'projection.snapshot_date.range': '2000-01-01,NOW+1DAYS',
  'projection.snapshot_date.interval': '1',
  'projection.snapshot_date.interval.unit': 'DAYS',
  'storage.location.template': `s3://${BUCKET}/${prefix}snapshot_date=\${snapshot_date}/`,
});

const VALIDATED: GlueTableInput = {
  Name: 'validated_facilities',
  TableType: 'EXTERNAL_TABLE',
  Parameters: { classification: 'json', EXTERNAL: 'TRUE', ...projection('validated/') },
  PartitionKeys: [{ Name: 'snapshot_date', Type: 'string' }],
  StorageDescriptor: {
    Location: `s3://${BUCKET}/validated/`,
    InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
    OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
    SerdeInfo: {
      SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
      Parameters: { 'ignore.malformed.json': 'FALSE', 'case.insensitive': 'TRUE', 'dots.in.keys': 'FALSE' },
    },
    Columns: glueColumnsFromSchema().map((c) => ({ Name: c.name, Type: c.type })),
  },
};

const CURATED: GlueTableInput = {
  Name: 'facility_metrics',
  TableType: 'EXTERNAL_TABLE',
  Parameters: { 'classification': 'parquet', 'EXTERNAL': 'TRUE', 'parquet.compression': 'SNAPPY', ...projection('curated/facility_metrics/') },
  PartitionKeys: [{ Name: 'snapshot_date', Type: 'string' }],
  StorageDescriptor: {
    Location: `s3://${BUCKET}/curated/facility_metrics/`,
    InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
    SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
    Columns: [
      { Name: 'facility_id', Type: 'string' },
      { Name: 'facility_name', Type: 'string' },
      { Name: 'employee_count', Type: 'int' },
      { Name: 'number_of_offered_services', Type: 'int' },
      { Name: 'expiry_date_of_first_accreditation', Type: 'date' },
      { Name: 'earliest_accreditation_expiry', Type: 'date' },
    ],
  },
};

let root: string;
let s3: LocalS3;
let athena: LocalAthena;
let client: AthenaClient;
let s3Client: S3Client;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'athena-s3-'));
  s3 = await LocalS3.start({ rootDir: join(root, 's3') });
  await s3.createBucket(BUCKET);
  athena = await LocalAthena.start({ s3: { endpoint: s3.endpoint, rootDir: join(root, 's3') }, workDir: join(root, 'athena') });
  athena.registerTable('medlaunch', VALIDATED);
  athena.registerTable('medlaunch', CURATED);
  athena.registerWorkGroup('medlaunch', { outputLocation: `s3://${BUCKET}/athena-results/`, enforce: true, bytesScannedCutoffPerQuery: 10_000_000 });
  client = new AthenaClient({ endpoint: athena.endpoint, region: 'us-east-1', credentials: { accessKeyId: 't', secretAccessKey: 't' } });
  s3Client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 't', secretAccessKey: 't' } });
  const file = join(root, 's3', BUCKET, 'validated/snapshot_date=2025-08-10/batch__a.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, ['FAC1', 'FAC2', 'FAC3'].map((id, i) => JSON.stringify({
    facility_id: id,
    facility_name: `F ${id}`,
    location: { address: 'a', city: 'c', state: 'MI', zip: '48201' },
    employee_count: i,
    services: ['x'],
    accreditations: [{ accreditation_body: 'JC', accreditation_id: 'A', valid_until: '2026-01-01' }],
    snapshot_date: '2025-08-10',
  })).join('\n') + '\n');
});

afterAll(async () => {
  // The SDK clients keep sockets open; destroying them lets the jest worker exit on its own.
  client?.destroy();
  s3Client?.destroy();
  await athena?.close();
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

async function run(query: string, params?: string[]): Promise<QueryExecution> {
  const { QueryExecutionId } = await client.send(new StartQueryExecutionCommand({
    QueryString: query, ExecutionParameters: params, WorkGroup: 'medlaunch', QueryExecutionContext: { Database: 'medlaunch' },
  }));
  for (;;) {
    const { QueryExecution: ex } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(ex!.Status!.State!)) return ex!;
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('the result CSV is an S3 object, written through PutObject even when S3 answers SlowDown first', async () => {
  s3.setFaults({ slowDownFirstN: 2, operations: ['PutObject'] });
  const ex = await run('SELECT facility_id FROM validated_facilities WHERE snapshot_date = ? ORDER BY facility_id', ['\'2025-08-10\'']);
  s3.setFaults({});
  expect(ex.Status!.State).toBe('SUCCEEDED');
  const obj = await s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `athena-results/${ex.QueryExecutionId}.csv` }));
  expect(await obj.Body!.transformToString()).toBe('"facility_id"\n"FAC1"\n"FAC2"\n"FAC3"\n');
});

test('UNLOAD to Parquet lands in S3 and a Parquet table over the partition reads it back', async () => {
  const staging = `s3://${BUCKET}/curated/facility_metrics/snapshot_date=2025-08-10/`;
  const ex = await run(
    `UNLOAD (SELECT facility_id, facility_name, employee_count, CAST(cardinality(services) AS integer) AS number_of_offered_services,
       from_iso8601_date(element_at(accreditations, 1).valid_until) AS expiry_date_of_first_accreditation,
       array_min(transform(accreditations, a -> from_iso8601_date(a.valid_until))) AS earliest_accreditation_expiry,
       from_iso8601_date(snapshot_date) AS snapshot_date
     FROM validated_facilities WHERE snapshot_date = ?) TO '${staging}' WITH (format = 'PARQUET', compression = 'SNAPPY')`,
    ['\'2025-08-10\''],
  );
  expect(ex.Status!.StateChangeReason).toBeUndefined();
  const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'curated/facility_metrics/snapshot_date=2025-08-10/' }));
  expect(listed.Contents?.length).toBe(1);
  const back = await run('SELECT count(*) AS n, min(expiry_date_of_first_accreditation) AS d, max(snapshot_date) AS s FROM facility_metrics WHERE snapshot_date = ?', ['\'2025-08-10\'']);
  expect(back.Status!.State).toBe('SUCCEEDED');
  const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: back.QueryExecutionId }));
  expect(page.ResultSet!.Rows!.map((r) => r.Data!.map((d) => d.VarCharValue))).toEqual([['n', 'd', 's'], ['3', '2026-01-01', '2025-08-10']]);
  expect(page.ResultSet!.ResultSetMetadata!.ColumnInfo!.map((c) => c.Type)).toEqual(['bigint', 'date', 'varchar']);
});

test('the workgroup\'s bytes-scanned cutoff cancels a query that reads more', async () => {
  athena.registerWorkGroup('tiny', { outputLocation: `s3://${BUCKET}/athena-results/`, enforce: true, bytesScannedCutoffPerQuery: 10 });
  const { QueryExecutionId } = await client.send(new StartQueryExecutionCommand({
    QueryString: 'SELECT count(*) FROM validated_facilities', WorkGroup: 'tiny', QueryExecutionContext: { Database: 'medlaunch' },
  }));
  let ex: QueryExecution | undefined;
  for (;;) {
    ex = (await client.send(new GetQueryExecutionCommand({ QueryExecutionId }))).QueryExecution;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(ex!.Status!.State!)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  // Athena cancels a query over the per-query data usage limit.
  expect(ex!.Status!.State).toBe('CANCELLED');
  expect(ex!.Status!.StateChangeReason).toMatch(/^Bytes scanned limit was exceeded/);
  // A query that prunes every partition scans nothing and runs.
  const pruned = await client.send(new StartQueryExecutionCommand({
    QueryString: 'SELECT count(*) FROM validated_facilities WHERE snapshot_date = \'2001-01-01\'', WorkGroup: 'tiny', QueryExecutionContext: { Database: 'medlaunch' },
  }));
  for (;;) {
    ex = (await client.send(new GetQueryExecutionCommand({ QueryExecutionId: pruned.QueryExecutionId }))).QueryExecution;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(ex!.Status!.State!)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(ex!.Status!.State).toBe('SUCCEEDED');
  expect(ex!.Statistics!.DataScannedInBytes).toBe(0);
});

test('DataScannedInBytes is exact for a partition of many files (DuckDB names only the first few)', async () => {
  let expected = 0;
  for (let i = 0; i < 12; i++) {
    const file = join(root, 's3', BUCKET, `validated/snapshot_date=2025-08-12/part-${String(i).padStart(2, '0')}.jsonl`);
    mkdirSync(dirname(file), { recursive: true });
    const body = JSON.stringify({
      facility_id: `FAC${100 + i}`,
      facility_name: 'x'.repeat(i + 1),
      location: { address: 'a', city: 'c', state: 'OH', zip: '43004' },
      employee_count: i,
      services: [],
      accreditations: [],
      snapshot_date: '2025-08-12',
    }) + '\n';
    writeFileSync(file, body);
    expected += Buffer.byteLength(body);
  }
  const ex = await run('SELECT count(*) AS n FROM validated_facilities WHERE snapshot_date = ?', ['\'2025-08-12\'']);
  expect(ex.Status!.State).toBe('SUCCEEDED');
  expect(ex.Statistics!.DataScannedInBytes).toBe(expected);
  const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: ex.QueryExecutionId }));
  expect(page.ResultSet!.Rows![1].Data![0].VarCharValue).toBe('12');
});

describe('an int column of a JSON table reads values as the OpenX JSON SerDe does (docs/cloud-fidelity.md)', () => {
  const line = (snapshot: string, employees: string): string =>
    '{"facility_id":"FAC9","facility_name":"F","location":{"address":"a","city":"c","state":"MI","zip":"48201"},' +
    `"employee_count":${employees},"services":[],"accreditations":[],"snapshot_date":"${snapshot}"}`;
  const partition = (snapshot: string, employees: string): void => {
    const file = join(root, 's3', BUCKET, `validated/snapshot_date=${snapshot}/f.jsonl`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, line(snapshot, employees) + '\n');
  };

  test.each([
    ['2025-09-01', '42', '42'],
    ['2025-09-02', '"17"', '17'],
    ['2025-09-03', '-0', '0'],
    ['2025-09-04', 'null', null],
  ])('%s: employee_count %s reads as %s', async (snapshot, employees, expected) => {
    partition(snapshot, employees);
    const ex = await run('SELECT employee_count FROM validated_facilities WHERE snapshot_date = ?', [`'${snapshot}'`]);
    expect(ex.Status!.StateChangeReason).toBeUndefined();
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: ex.QueryExecutionId }));
    expect(page.ResultSet!.Rows![1].Data![0].VarCharValue ?? null).toBe(expected);
  });

  test.each([
    ['2025-09-11', '4230.0'],
    ['2025-09-12', '1e3'],
    ['2025-09-13', '2147483648'],
    ['2025-09-14', 'true'],
    ['2025-09-15', '"12.5"'],
  ])('%s: employee_count %s fails a query that reads the column, as in Athena', async (snapshot, employees) => {
    partition(snapshot, employees);
    const ex = await run('SELECT max(employee_count) FROM validated_facilities WHERE snapshot_date = ?', [`'${snapshot}'`]);
    expect(ex.Status!.State).toBe('FAILED');
    expect(ex.Status!.StateChangeReason).toMatch(/employee_count|INTEGER|Conversion|out of range/i);
  });
});

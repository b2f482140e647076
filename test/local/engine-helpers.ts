/**
 * Test support for the local engine: the fixture stack synthesized with its handlers, and a local
 * Athena over the project's LocalS3 with the validated-records table and its files on disk.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, QueryExecution, StartQueryExecutionCommand, StartQueryExecutionCommandInput,
} from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { buildFixtureStack, FIXTURE_HANDLER_SOURCE } from './engine-fixture-stack';
import { GlueTableInput, LocalAthena } from '../../local/athena';
import { LocalS3 } from '../../local/s3';
import { synthesizeTemplate, SynthesizedTemplate } from '../../local/template';
import { glueColumnsFromSchema } from '../../src/schema/glue-columns';

/** Synthesizes the fixture stack with its handler code. */
export function synthesizeFixture(): SynthesizedTemplate & { codeDir: string } {
  const codeDir = mkdtempSync(join(tmpdir(), 'medlaunch-elt-fixture-code-'));
  writeFileSync(join(codeDir, 'index.js'), FIXTURE_HANDLER_SOURCE);
  return { ...synthesizeTemplate((stack) => buildFixtureStack(stack, codeDir)), codeDir };
}

// ------------------------------------------------------------------------------------------------
// The local Athena over LocalS3.

/** The validated table's partition template (bucket `data`). */
export const VALIDATED_TEMPLATE = 's3://data/validated/snapshot_date=${snapshot_date}/';

/** The validated-records table (JSON, partition projection on snapshot_date), named and located as asked. */
export function validatedTable(name = 'validated_facilities', template = VALIDATED_TEMPLATE): GlueTableInput {
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

/** One facility record as an NDJSON line. */
export function record(id: string, state: string, validUntil: string[], snapshot: string): string {
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

/** A local Athena (workgroup `wg` writing to s3://data/athena-results/) over a LocalS3 holding bucket `data`. */
export interface AthenaFixture {
  /** The temporary folder of the fixture: `s3/` (LocalS3's root) and `athena/` (Athena's workDir). */
  readonly root: string;
  /** LocalS3's root: objects at `<s3Root>/<bucket>/<key>`. */
  readonly s3Root: string;
  readonly s3: LocalS3;
  readonly athena: LocalAthena;
  readonly client: AthenaClient;
  /** An S3 client of the LocalS3, to read what Athena wrote through the S3 API. */
  readonly s3Client: S3Client;
  /** Writes an object's file straight into LocalS3's on-disk layout (as a table's data file). */
  writeObject(bucket: string, key: string, body: string): void;
  /** StartQueryExecution in workgroup `wg`, database `medlaunch`. */
  start(query: string, extra?: Partial<StartQueryExecutionCommandInput>): Promise<string>;
  /** Polls until the query has ended. */
  wait(id: string): Promise<QueryExecution>;
  /** Every result row (header first), paging with `max`. */
  rows(id: string, max?: number): Promise<(string | null)[][]>;
  close(): Promise<void>;
}

/**
 * Starts LocalS3 and a local Athena over it, with the tables `validated_facilities` (the files
 * below) and `empty_table` (no files) in database `medlaunch`. The validated files: two in
 * 2025-08-10 (one in a subfolder), one in 2025-08-11, hidden files and folders Athena ignores, and
 * two partitions outside the projection (2019-12-31, `latest`).
 */
export async function startAthenaFixture(opts: { jsonCache?: boolean } = {}): Promise<AthenaFixture> {
  const root = mkdtempSync(join(tmpdir(), 'local-athena-'));
  const s3Root = join(root, 's3');
  const s3 = await LocalS3.start({ rootDir: s3Root });
  await s3.createBucket('data');
  const athena = await LocalAthena.start({ s3: { endpoint: s3.endpoint, rootDir: s3Root }, workDir: join(root, 'athena'), jsonCache: opts.jsonCache });
  athena.registerTable('medlaunch', validatedTable());
  athena.registerTable('medlaunch', validatedTable('empty_table', 's3://data/nothing-here/snapshot_date=${snapshot_date}/'));
  athena.registerWorkGroup('wg', { outputLocation: 's3://data/athena-results/', enforce: true });
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const client = new AthenaClient({ endpoint: athena.endpoint, region: 'us-east-1', maxAttempts: 1, credentials });
  const s3Client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  const writeObject = (bucket: string, key: string, body: string): void => {
    const file = join(s3Root, bucket, key);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, body);
  };
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

  const start = async (query: string, extra: Partial<StartQueryExecutionCommandInput> = {}): Promise<string> => {
    const out = await client.send(new StartQueryExecutionCommand({
      QueryString: query, WorkGroup: 'wg', QueryExecutionContext: { Database: 'medlaunch' }, ...extra,
    }));
    return out.QueryExecutionId!;
  };
  const wait = async (id: string): Promise<QueryExecution> => {
    for (;;) {
      const { QueryExecution: ex } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(ex!.Status!.State!)) return ex!;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const rows = async (id: string, max?: number): Promise<(string | null)[][]> => {
    const out: (string | null)[][] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: max }));
      for (const r of page.ResultSet!.Rows!) out.push(r.Data!.map((d) => d.VarCharValue ?? null));
      token = page.NextToken;
    } while (token);
    return out;
  };
  const close = async (): Promise<void> => {
    client.destroy();
    s3Client.destroy();
    await athena.close();
    await s3.close();
    rmSync(root, { recursive: true, force: true });
  };
  return { root, s3Root, s3, athena, client, s3Client, writeObject, start, wait, rows, close };
}

/**
 * What a local run reports about its own cost: the AWS requests per service and operation (`requests`),
 * counted at the service boundary, and the seeded `lambda-timeout` drill, which hits the same object
 * on every run with the same seed whatever order the uploads arrive in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { closeServer, listen, RequestCounter, s3Operation, serverAt } from '../../local/http';
import { listSnapshotFiles, runLocalPipeline } from '../../local/orchestrator/index';
import { LocalS3 } from '../../local/s3';

const DATA = join(__dirname, '..', '..', 'data', 'batch');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-scale-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('RequestCounter', () => {
  test('counts the S3 operations the SDK sends, by name, retries included', async () => {
    const s3 = await LocalS3.start({ rootDir: join(work, 's3-count') });
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const counter = new RequestCounter().observe(serverAt(s3.endpoint)!, 's3', s3Operation);
    try {
      await s3.createBucket('bucket-one');
      for (const k of ['x/1', 'x/2']) await client.send(new PutObjectCommand({ Bucket: 'bucket-one', Key: k, Body: 'hello' }));
      await client.send(new GetObjectCommand({ Bucket: 'bucket-one', Key: 'x/1' })).then((r) => r.Body!.transformToString());
      await client.send(new ListObjectsV2Command({ Bucket: 'bucket-one', Prefix: 'x/' }));
      await expect(client.send(new GetObjectCommand({ Bucket: 'bucket-one', Key: 'missing' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
      expect(counter.snapshot()).toEqual({ s3: { GetObject: 2, ListObjectsV2: 1, PutObject: 2 } });
      counter.close();
      await client.send(new ListObjectsV2Command({ Bucket: 'bucket-one' }));
      expect(counter.snapshot().s3.ListObjectsV2).toBe(1);
    } finally {
      client.destroy();
      await s3.close();
    }
  });

  test('s3Operation names copies, heads, deletes and multipart calls', () => {
    const req = (method: string, url: string, headers: Record<string, string> = {}) => ({ method, url, headers }) as unknown as IncomingMessage;
    expect(s3Operation(req('PUT', '/b/k', { 'x-amz-copy-source': '/b/j' }))).toBe('CopyObject');
    expect(s3Operation(req('HEAD', '/b/a/k'))).toBe('HeadObject');
    expect(s3Operation(req('DELETE', '/b/k'))).toBe('DeleteObject');
    expect(s3Operation(req('POST', '/b?delete'))).toBe('DeleteObjects');
    expect(s3Operation(req('POST', '/b/k?uploads'))).toBe('CreateMultipartUpload');
    expect(s3Operation(req('PUT', '/b/k?partNumber=1&uploadId=u'))).toBe('UploadPart');
    expect(s3Operation(req('POST', '/b/k?uploadId=u'))).toBe('CompleteMultipartUpload');
    expect(s3Operation(req('GET', '/b?list-type=2&prefix=a'))).toBe('ListObjectsV2');
    expect(s3Operation(req('PUT', '/b'))).toBe('CreateBucket');
  });

  test('serverAt forgets a closed server', async () => {
    const server = createServer();
    const port = await listen(server, '127.0.0.1', 0);
    expect(serverAt(`http://127.0.0.1:${port}`)).toBe(server);
    await closeServer(server);
    expect(serverAt(`http://127.0.0.1:${port}`)).toBeUndefined();
  });
});

describe('a local run on the shipped data', () => {
  test('reports its AWS requests per service and operation, consistent with what it ran', async () => {
    const files = listSnapshotFiles(DATA).length;
    const r = await runLocalPipeline({ dataDir: DATA, workDir: join(work, 'requests') });
    const q = r.requests;
    expect(r.executions).toHaveLength(files);
    expect(q.stepfunctions.StartExecution).toBe(files);
    expect(q.events.TargetInvocations).toBe(files);
    // Every upload is a PutObject the CLI signed (so are the result files Athena writes for the CLI's two
    // read-back queries per snapshot: CSV and metadata); every object created is an event on the bus.
    expect(q.client.s3.PutObject).toBe(files + 3 * 2 * 2);
    expect(q.s3.PutObject).toBeGreaterThan(files);
    // (and every object deleted: the query runner's DeleteObjects of its staging objects, one per snapshot here).
    const created = (q.s3.PutObject ?? 0) + (q.s3.CopyObject ?? 0) + (q.s3.CompleteMultipartUpload ?? 0);
    expect(q.s3.DeleteObjects ?? 0).toBeGreaterThan(0);
    expect(q.events.PutEvents).toBeGreaterThan(created);
    expect(q.events.PutEvents).toBeLessThanOrEqual(created + 1000 * (q.s3.DeleteObjects ?? 0) + (q.s3.DeleteObject ?? 0));
    // The client's requests are part of the totals.
    for (const [op, n] of Object.entries(q.client.s3)) expect(q.s3[op]).toBeGreaterThanOrEqual(n);
    for (const [op, n] of Object.entries(q.client.athena)) expect(q.athena[op]).toBeGreaterThanOrEqual(n);
    expect(q.athena.StartQueryExecution).toBeGreaterThan(q.client.athena.StartQueryExecution ?? 0);
    // Every execution ran the processor at least once; each Lambda invocation is a Task state entered.
    const processor = Object.keys(q.lambda).find((n) => /Processor/.test(n))!;
    expect(q.lambda[processor]).toBeGreaterThanOrEqual(files);
    const invocations = Object.values(q.lambda).reduce((n, v) => n + v, 0);
    expect(q.stepfunctions.StateTransitions).toBeGreaterThan(invocations);
    expect(Object.keys(q.lambda_gb_seconds).sort()).toEqual(Object.keys(q.lambda).sort());
    expect(q.sns).toEqual({});
  }, 300_000);

  test('lambda-timeout hits the object the seed picks from the sorted keys, on every run with that seed', async () => {
    const runs = [];
    for (const [i, shuffle] of [false, true].entries()) {
      runs.push(await runLocalPipeline({ dataDir: DATA, workDir: join(work, `timeout-${i}`), faults: ['lambda-timeout'], seed: 5, shuffle }));
    }
    const [a, b] = runs;
    expect(a.drill.lambda_timeouts).toHaveLength(1);
    expect(b.drill.lambda_timeouts).toEqual(a.drill.lambda_timeouts);
    expect(a.drill.faults[0].target).toBe(a.drill.lambda_timeouts[0]);
    for (const r of runs) expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    // Another seed picks another object (of 9).
    const other = await runLocalPipeline({ dataDir: DATA, workDir: join(work, 'timeout-other'), faults: ['lambda-timeout'], seed: 1 });
    expect(other.drill.lambda_timeouts).toHaveLength(1);
    expect(other.drill.lambda_timeouts).not.toEqual(a.drill.lambda_timeouts);
  }, 600_000);
});

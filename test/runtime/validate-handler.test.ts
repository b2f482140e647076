import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NotFound, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../lambda-src/handlers/validator';
import { loadConfig } from '../../lambda-src/lib/config';
import { lambdaHandler } from '../../lambda-src/lib/handler-runtime';
import { handleValidatorEvent } from '../../lambda-src/validate/dispatch';
import { record } from '../support/facility-record';

const s3Mock = mockClient(S3Client);
const ENV = { ...process.env };

beforeEach(() => {
  s3Mock.reset();
  process.env = { ...ENV, DATA_BUCKET: 'data', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', POWERTOOLS_LOG_LEVEL: 'ERROR' };
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const d = input.Key.split('/')[2];
    return { Body: Readable.from([Buffer.from(`${JSON.stringify(record('FAC1', d, ['2025-09-01']))}\n`)]) as any, ETag: '"e"' };
  });
  s3Mock.on(PutObjectCommand).resolves({});
  // No output exists yet (each output write first reads the source version of the current output).
  s3Mock.on(HeadObjectCommand).rejects(new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'not found' }));
});
afterAll(() => {
  process.env = ENV;
});

const ebEvent = (key: string) => ({
  'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': { bucket: { name: 'data' }, object: { key, etag: 'e' } },
});

describe('validator handler', () => {
  test('EventBridge Object Created event → ProcessSummary', async () => {
    const r = await handler(ebEvent('data/batch/2025-08-10/part.jsonl'));
    expect(r).toMatchObject({ bucket: 'data', key: 'data/batch/2025-08-10/part.jsonl', snapshotDate: '2025-08-10', read: 1, valid: 1, matched: 1 });
  });

  test('a ProcessObject payload (run + object) claims the snapshot ticket after every output write, and returns it', async () => {
    const key = 'data/batch/2025-08-10/part.jsonl';
    const executionArn = 'arn:aws:states:us-east-1:123456789012:execution:sm:run-1';
    const r = await handler({ ...ebEvent(key), object: { bucket: 'data', key }, run: { executionArn, startedAt: '2025-08-10T00:00:00Z' } });
    const ticketKey = 'validated/_coordination/snapshot_date=2025-08-10/ticket.json';
    expect(r).toMatchObject({ key, read: 1, ticket: { bucket: 'data', object: key, snapshotDate: '2025-08-10', ticketKey, execution: executionArn } });
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    // docs/runtime.md, "Coordinating a snapshot's files": the ticket is written last, after the outputs and the summary.
    expect(puts.at(-1)).toBe(ticketKey);
    expect(puts.filter((k) => k === ticketKey)).toHaveLength(1);
    expect(puts.length).toBeGreaterThan(1);
    const body = JSON.parse(String(s3Mock.commandCalls(PutObjectCommand).at(-1)!.args[0].input.Body));
    expect(body).toMatchObject({ execution: executionArn, object: key });
  });

  test('without the run context (a direct invocation) Stage 2 writes no ticket', async () => {
    const r = await handler({ bucket: 'data', key: 'data/batch/2025-08-10/part.jsonl', object: { bucket: 'data', key: 'data/batch/2025-08-10/part.jsonl' } });
    expect(r).not.toHaveProperty('ticket');
    expect(s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).not.toContainEqual(expect.stringContaining('_coordination/'));
  });

  test('a ticket write that fails fails the invocation (the state machine retries it, then claims in ClaimSnapshot)', async () => {
    s3Mock.on(PutObjectCommand, { Key: 'validated/_coordination/snapshot_date=2025-08-10/ticket.json' })
      .rejects(Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
    const key = 'data/batch/2025-08-10/part.jsonl';
    await expect(handler({ ...ebEvent(key), object: { bucket: 'data', key }, run: { executionArn: 'arn:x', startedAt: '2025-08-10T00:00:00Z' } }))
      .rejects.toMatchObject({ name: 'TransientError' });
  });

  test('an execution\'s "Object Deleted" payload removes the outputs, then claims the ticket and returns it', async () => {
    s3Mock.on(DeleteObjectCommand).resolves({});
    const key = 'data/batch/2025-08-10/gone.jsonl';
    const deleted = { 'source': 'aws.s3', 'detail-type': 'Object Deleted', 'detail': { 'bucket': { name: 'data' }, 'object': { key }, 'deletion-type': 'Delete Marker Created' } };
    const r = await handler({ ...deleted, object: { bucket: 'data', key }, run: { executionArn: 'arn:x', startedAt: '2025-08-10T00:00:00Z' } });
    expect(r).toMatchObject({ deleted: true, ticket: { object: key, snapshotDate: '2025-08-10', execution: 'arn:x' } });
    expect(s3Mock.commandCalls(DeleteObjectCommand).length).toBeGreaterThan(0);
    expect(s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).toEqual(['validated/_coordination/snapshot_date=2025-08-10/ticket.json']);
  });

  test('an execution\'s payload naming another object, or several, is refused before any work (no ticket, no output)', async () => {
    const rec = (key: string) => ({ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'data' }, object: { key } } });
    const run = { executionArn: 'arn:x', startedAt: '2025-08-10T00:00:00Z' };
    const object = { bucket: 'data', key: 'data/batch/2025-08-10/a.jsonl' };
    await expect(handler({ ...object, Records: [rec(object.key), rec('data/batch/2025-08-10/b.jsonl')], object, run }))
      .rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringContaining('names 2 objects') });
    await expect(handler({ Records: [rec('data/batch/2025-08-10/b.jsonl')], object, run }))
      .rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringContaining('names s3://data/data/batch/2025-08-10/b.jsonl') });
    expect(s3Mock.calls()).toHaveLength(0);
  });

  test('an execution\'s file is counted in the metrics once its claim succeeded: a failed claim, retried, counts once', async () => {
    const added: string[] = [];
    const metrics = { add: (m: { name: string }) => { added.push(m.name); }, addWithDimension: () => undefined };
    const deps = { s3: new S3Client({}), config: loadConfig({ DATA_BUCKET: 'data' }), logger: { info: () => undefined, warn: () => undefined, error: () => undefined }, metrics };
    const key = 'data/batch/2025-08-10/part.jsonl';
    const payload = { ...ebEvent(key), object: { bucket: 'data', key }, run: { executionArn: 'arn:x', startedAt: '2025-08-10T00:00:00Z' } };
    s3Mock.on(PutObjectCommand, { Key: 'validated/_coordination/snapshot_date=2025-08-10/ticket.json' })
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } })).resolves({});
    await expect(handleValidatorEvent(payload, deps as any)).rejects.toMatchObject({ name: 'TransientError' });
    expect(added).toEqual([]);
    await handleValidatorEvent(payload, deps as any);
    expect(added.filter((n) => n === 'FilesProcessed')).toHaveLength(1);
  });

  test('direct payload with asOf overrides the as-of date', async () => {
    const r = await handler({ bucket: 'data', key: 'data/batch/2025-08-10/part.jsonl', asOf: '2026-01-01' });
    expect(r).toMatchObject({ asOf: '2026-01-01', matched: 0 });
  });

  test('AS_OF_DATE and EXPIRY_MONTHS come from the environment', async () => {
    // The handler reads its environment once per container (test/runtime/handler-template.test.ts): each
    // environment below is a new container, i.e. a new handler of the same template.
    const fresh = () => lambdaHandler('validator', (event, { config, logger }) => handleValidatorEvent(event, { s3: new S3Client({}), config, logger }));
    process.env.EXPIRY_MONTHS = '0'; // outside the contract's 1–120 (docs/design.md, "The runtime contract")
    await expect(fresh()({ bucket: 'data', key: 'data/batch/2025-08-10/part.jsonl' })).rejects.toThrow('EXPIRY_MONTHS must be an integer from 1 to 120');
    process.env.EXPIRY_MONTHS = '1';
    process.env.AS_OF_DATE = '2025-07-31'; // the window ends 2025-08-31: the 2025-09-01 accreditation is outside it
    expect(await fresh()({ bucket: 'data', key: 'data/batch/2025-08-10/part.jsonl' })).toMatchObject({ asOf: '2025-07-31', matched: 0 });
    process.env.EXPIRY_MONTHS = '6';
    process.env.AS_OF_DATE = '2025-09-01';
    expect(await fresh()({ bucket: 'data', key: 'data/batch/2025-08-10/part.jsonl' })).toMatchObject({ asOf: '2025-09-01', matched: 1 });
  });

  test('an S3 notification with several records returns one summary per object, in order', async () => {
    const rec = (key: string) => ({ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'data' }, object: { key } } });
    const r = await handler({ Records: [rec('data/batch/2025-08-10/a.jsonl'), rec('data/batch/2025-08-11/b.jsonl')] });
    expect(Array.isArray(r) && r.map((s) => [s.key, s.snapshotDate])).toEqual([
      ['data/batch/2025-08-10/a.jsonl', '2025-08-10'], ['data/batch/2025-08-11/b.jsonl', '2025-08-11'],
    ]);
  });

  test.each([
    ['outside the raw prefix', 'other/2025-08-10/part.jsonl'],
    ['no snapshot folder', 'data/batch/part.jsonl'],
    ['not a calendar-date folder', 'data/batch/2025-02-30/part.jsonl'],
    ['not a data file', 'data/batch/2025-08-10/readme.txt'],
  ])('rejects a key %s with InvalidEventError', async (_name, key) => {
    await expect(handler(ebEvent(key))).rejects.toMatchObject({ name: 'InvalidEventError' });
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  test('reads exactly the version the event names (EventBridge version-id, S3 notification versionId, payload versionId)', async () => {
    const eb = ebEvent('data/batch/2025-08-10/part.jsonl');
    (eb.detail.object as Record<string, unknown>)['version-id'] = 'v-eb';
    (eb.detail.object as Record<string, unknown>).sequencer = '0055AED6DCD90281E5';
    await handler(eb);
    const rec = { eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'data' }, object: { key: 'data/batch/2025-08-10/b.jsonl', versionId: 'v-n' } } };
    await handler({ Records: [rec] });
    await handler({ bucket: 'data', key: 'data/batch/2025-08-10/c.jsonl', versionId: 'v-p' });
    expect(s3Mock.commandCalls(GetObjectCommand).map((c) => [c.args[0].input.Key, c.args[0].input.VersionId])).toEqual([
      ['data/batch/2025-08-10/part.jsonl', 'v-eb'], ['data/batch/2025-08-10/b.jsonl', 'v-n'], ['data/batch/2025-08-10/c.jsonl', 'v-p'],
    ]);
  });

  test('a key under two date folders belongs to the nearest one, as everywhere else (docs/semantics.md)', async () => {
    const r = await handler(ebEvent('data/batch/2025-08-10/2025-08-11/z.jsonl'));
    expect(r).toMatchObject({ snapshotDate: '2025-08-11' });
  });

  test('rejects a malformed asOf', async () => {
    await expect(handler({ bucket: 'data', key: 'data/batch/2025-08-10/part.jsonl', asOf: '2025-02-30' })).rejects.toMatchObject({ name: 'InvalidEventError' });
  });
});

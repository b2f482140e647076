/**
 * Unit tests of the snapshot ticket (lambda-src/coordination/ticket.ts) and of removing a deleted raw
 * object's outputs (lambda-src/validate/delete.ts), with aws-sdk-client-mock for the failure paths; the
 * happy paths run end to end in test/e2e/coordination.test.ts.
 */
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { PREFIXES } from './validate-helpers';
import { checkTicket, claimSnapshot, coordinate, isCoordinationRequest, ticketKey } from '../../lambda-src/coordination/ticket';
import { loadConfig } from '../../lambda-src/lib/config';
import { deletedObjectOf, outputKeysOf, removeDeletedObjectOutputs } from '../../lambda-src/validate/delete';
import { awsError } from '../support/aws-error';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });
const config = loadConfig({ DATA_BUCKET: 'data-bucket' });
const D = '2025-08-10';
const OBJECT = `data/batch/${D}/part-1.jsonl`;
const ME = 'arn:aws:states:us-east-1:123456789012:execution:sm:me';
const TICKET = `validated/_coordination/snapshot_date=${D}/ticket.json`;

/** A GetObject body: a stream with the SDK's transformToString. */
function body(text: string) {
  return Object.assign(Readable.from(text === '' ? [] : [Buffer.from(text)]), { transformToString: async () => text });
}

beforeEach(() => s3Mock.reset());

describe('snapshot ticket', () => {
  const req = (coordination: 'claim' | 'check') => ({ coordination, bucket: 'data-bucket', object: OBJECT, execution: ME } as const);

  test('the ticket lives under the validated prefix in a _ folder (invisible to Athena and Glue)', () => {
    expect(ticketKey('validated/', D)).toBe(TICKET);
    expect(isCoordinationRequest(req('claim'))).toBe(true);
    expect(isCoordinationRequest({ bucket: 'b', key: 'k' })).toBe(false);
  });

  test('claim: one PutObject naming the execution and the object, no listing', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    const status = await claimSnapshot(req('claim'), { s3, config, now: () => new Date('2025-08-10T01:02:03Z') });
    expect(status).toEqual({ bucket: 'data-bucket', object: OBJECT, snapshotDate: D, ticketKey: TICKET, execution: ME });
    expect(s3Mock.calls()).toHaveLength(1);
    const put = s3Mock.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(put).toMatchObject({ Bucket: 'data-bucket', Key: TICKET, ContentType: 'application/json' });
    expect(JSON.parse(String(put.Body))).toEqual({ execution: ME, object: OBJECT, time: '2025-08-10T01:02:03.000Z' });
  });

  test('check: one GetObject; latest only when the ticket names this execution', async () => {
    s3Mock.on(GetObjectCommand).resolvesOnce({ Body: body(JSON.stringify({ execution: ME })) as any })
      .resolvesOnce({ Body: body(JSON.stringify({ execution: 'arn:other' })) as any });
    expect(await checkTicket(req('check'), { s3, config })).toMatchObject({ holder: ME, latest: true, snapshotDate: D });
    expect(await checkTicket(req('check'), { s3, config })).toMatchObject({ holder: 'arn:other', latest: false });
    expect(s3Mock.calls()).toHaveLength(2);
  });

  test('check: a missing or unreadable ticket refreshes (an extra refresh is safe, a missed one is not)', async () => {
    s3Mock.on(GetObjectCommand).rejectsOnce(awsError('NoSuchKey', 404)).resolvesOnce({ Body: body('not json') as any });
    expect(await checkTicket(req('check'), { s3, config })).toMatchObject({ latest: true });
    expect(await checkTicket(req('check'), { s3, config })).toMatchObject({ latest: true });
  });

  test.each([
    ['SlowDown', 503, 'TransientError'],
    ['InternalError', 500, 'TransientError'],
    ['AccessDenied', 403, 'AccessDenied'],
  ])('S3 %s on claim and check: %s', async (name, status, expected) => {
    s3Mock.on(PutObjectCommand).rejects(awsError(name, status));
    s3Mock.on(GetObjectCommand).rejects(awsError(name, status));
    await expect(claimSnapshot(req('claim'), { s3, config })).rejects.toMatchObject({ name: expected });
    // A 403 is never read as "no ticket" (which would start a refresh the role may not be allowed to finish).
    await expect(checkTicket(req('check'), { s3, config })).rejects.toMatchObject({ name: expected });
  });

  test.each([
    [{ coordination: 'nope', bucket: 'data-bucket', object: OBJECT, execution: ME }, /coordination must be/],
    [{ coordination: 'claim', bucket: 'other', object: OBJECT, execution: ME }, /not the pipeline's data bucket/],
    [{ coordination: 'claim', bucket: 'data-bucket', object: 'elsewhere/x.jsonl', execution: ME }, /not under the raw prefix/],
    [{ coordination: 'claim', bucket: 'data-bucket', object: 'data/batch/2025-02-30/x.jsonl', execution: ME }, /YYYY-MM-DD/],
    [{ coordination: 'claim', bucket: 'data-bucket', object: 'data/batch/2999-01-01/x.jsonl', execution: ME }, /not coordinated/],
    [{ coordination: 'claim', bucket: 'data-bucket', object: OBJECT, execution: '' }, /execution must be/],
    [{ coordination: 'claim', bucket: 'data-bucket', object: `data/batch/${D}/notes.csv`, execution: ME }, /not a data file/],
  ])('refuses %o with InvalidEventError and touches nothing', async (event, message) => {
    await expect(coordinate(event as any, { s3, config })).rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringMatching(message) });
    expect(s3Mock.calls()).toHaveLength(0);
  });
});

describe('deleted raw object', () => {
  const opts = { client: s3, bucket: 'data-bucket', key: OBJECT, rawPrefix: 'data/batch/', prefixes: PREFIXES, months: 6 };
  const OUTPUTS = [
    `validated/snapshot_date=${D}/part-1.jsonl`,
    `expiring/snapshot_date=${D}/part-1.jsonl`,
    `quarantine/snapshot_date=${D}/part-1.jsonl`,
    `quarantine/_failed/snapshot_date=${D}/part-1.json`,
    `validated/_summaries/snapshot_date=${D}/part-1.json`,
  ];

  test('recognises the EventBridge "Object Deleted" event (both deletion types), nothing else', () => {
    const event = (type: string, deletion: string) => ({
      'source': 'aws.s3', 'detail-type': type, 'detail': { 'bucket': { name: 'data-bucket' }, 'object': { key: OBJECT }, 'deletion-type': deletion },
    });
    expect(deletedObjectOf(event('Object Deleted', 'Delete Marker Created'))).toEqual({ bucket: 'data-bucket', key: OBJECT, deletionType: 'Delete Marker Created' });
    expect(deletedObjectOf(event('Object Deleted', 'Permanently Deleted'))?.deletionType).toBe('Permanently Deleted');
    expect(deletedObjectOf(event('Object Created', ''))).toBeUndefined();
    expect(deletedObjectOf({ bucket: 'data-bucket', key: OBJECT })).toBeUndefined();
    expect(() => deletedObjectOf({ 'source': 'aws.s3', 'detail-type': 'Object Deleted', 'detail': {} })).toThrow(/Object Deleted/);
  });

  test('the output keys are those Stage 2 writes for the key (outputStem)', () => {
    expect(outputKeysOf(OBJECT, 'data/batch/', PREFIXES)).toEqual({ snapshotDate: D, keys: OUTPUTS, validatedKey: OUTPUTS[0], summaryKey: OUTPUTS[4] });
    expect(outputKeysOf(`data/batch/${D}/x/y.jsonl.gz`, 'data/batch/', PREFIXES).keys[0]).toBe(`validated/snapshot_date=${D}/x__y.jsonl.gz.jsonl`);
  });

  test('absent raw key (404, also a delete marker): every output is deleted, the key is checked again after', async () => {
    s3Mock.on(HeadObjectCommand).rejects(awsError('NotFound', 404));
    s3Mock.on(DeleteObjectCommand).resolves({});
    const summary = await removeDeletedObjectOutputs(opts);
    expect(summary).toMatchObject({ key: OBJECT, snapshotDate: D, deleted: true, removed: OUTPUTS, read: 0, valid: 0 });
    expect(s3Mock.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key)).toEqual(OUTPUTS);
    expect(s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(2);
  });

  test('a re-uploaded key (present before the delete ran): nothing is deleted, Stage 2 runs on what the key holds', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ETag: '"e"' });
    s3Mock.on(GetObjectCommand).resolves({ Body: body('') as any, ETag: '"e"' });
    s3Mock.on(PutObjectCommand).resolves({});
    const summary = await removeDeletedObjectOutputs(opts);
    expect(s3Mock.commandCalls(DeleteObjectCommand)).toHaveLength(0);
    expect(summary).not.toHaveProperty('deleted');
    expect(summary).toMatchObject({ key: OBJECT, read: 0 });
  });

  test('a re-upload that lands while the outputs are deleted: Stage 2 runs again and restores them', async () => {
    s3Mock.on(HeadObjectCommand).rejectsOnce(awsError('NotFound', 404)).resolves({ ETag: '"e"' });
    s3Mock.on(DeleteObjectCommand).resolves({});
    s3Mock.on(GetObjectCommand).resolves({ Body: body('') as any, ETag: '"e"' });
    s3Mock.on(PutObjectCommand).resolves({});
    const summary = await removeDeletedObjectOutputs(opts);
    expect(s3Mock.commandCalls(DeleteObjectCommand)).toHaveLength(OUTPUTS.length);
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(summary).not.toHaveProperty('deleted');
  });

  test.each([
    ['SlowDown on HeadObject', 'head', 'TransientError'],
    ['AccessDenied on HeadObject (never read as absent)', 'head403', 'AccessDenied'],
    ['SlowDown on DeleteObject', 'delete', 'TransientError'],
    ['AccessDenied on DeleteObject', 'delete403', 'AccessDenied'],
  ])('%s', async (_what, where, expected) => {
    if (where === 'head') s3Mock.on(HeadObjectCommand).rejects(awsError('SlowDown', 503));
    else if (where === 'head403') s3Mock.on(HeadObjectCommand).rejects(awsError('AccessDenied', 403));
    else s3Mock.on(HeadObjectCommand).rejects(awsError('NotFound', 404));
    if (where === 'delete') s3Mock.on(DeleteObjectCommand).rejects(awsError('SlowDown', 503));
    if (where === 'delete403') s3Mock.on(DeleteObjectCommand).rejects(awsError('AccessDenied', 403));
    await expect(removeDeletedObjectOutputs(opts)).rejects.toMatchObject({ name: expected });
    if (where.startsWith('head')) expect(s3Mock.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  });
});

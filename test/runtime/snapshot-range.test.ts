/**
 * Snapshot dates outside the tables' partition projection range (2000-01-01 to today UTC + 1 day)
 * are refused by Stage 2, the query runner and the publisher with a permanent InvalidEventError
 * naming the date and the range; the raw object is never read, moved or deleted.
 */
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, NotFound, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { parseQueryEvent } from '../../lambda-src/athena/request';
import { handler } from '../../lambda-src/handlers/validator';
import { loadConfig } from '../../lambda-src/lib/config';
import { parsePublishInput } from '../../lambda-src/publish';
import { SNAPSHOT_DATE_MIN, SNAPSHOT_PROJECTION_RANGE, snapshotDateMax, snapshotOutOfRange } from '../../src/contract/snapshot-range';
import { record } from '../support/facility-record';

const dayAfter = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

describe('the range', () => {
  test('is the projection string the construct uses and today (UTC) + 1 day', () => {
    expect(SNAPSHOT_PROJECTION_RANGE).toBe('2000-01-01,NOW+1DAYS');
    expect(SNAPSHOT_DATE_MIN).toBe('2000-01-01');
    expect(snapshotDateMax(new Date('2026-11-30T23:59:59.999Z'))).toBe('2026-12-01');
    expect(snapshotDateMax(new Date('2026-12-31T00:00:00Z'))).toBe('2027-01-01');
    // 23:30 on Feb 28 in UTC−2 is already Feb 29 (a leap day) in UTC.
    expect(snapshotDateMax(new Date('2024-02-28T23:30:00-02:00'))).toBe('2024-03-01');
  });

  test.each([
    ['2000-01-01', true],
    ['1999-12-31', false],
    ['2026-11-30', true],
    ['2026-12-01', true],
    ['2026-12-02', false],
  ])('%s at 2026-11-30T12:00Z → inside: %s', (date, inside) => {
    const reason = snapshotOutOfRange(date, new Date('2026-11-30T12:00:00Z'));
    expect(reason === undefined).toBe(inside);
    if (!inside) expect(reason).toContain(date);
  });
});

const future = dayAfter(snapshotDateMax(), 1);
const past = '1999-12-31';

describe('the validator (lambda-src/validate, Stage 2) refuses the object without reading or writing anything', () => {
  const s3Mock = mockClient(S3Client);
  const ENV = { ...process.env };
  beforeEach(() => {
    s3Mock.reset();
    process.env = { ...ENV, DATA_BUCKET: 'data', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', POWERTOOLS_LOG_LEVEL: 'ERROR' };
    s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => ({
      Body: Readable.from([Buffer.from(`${JSON.stringify(record('FAC1', input.Key.split('/')[2], ['2030-01-01']))}\n`)]) as any,
    }));
    s3Mock.on(PutObjectCommand).resolves({});
    // No output exists yet (each Stage 2 output write first reads the current output's source version).
    s3Mock.on(HeadObjectCommand).rejects(new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'not found' }));
  });
  afterAll(() => {
    process.env = ENV;
    s3Mock.restore();
  });

  test.each([['a future', future], ['a pre-2000', past]])('%s snapshot folder → InvalidEventError naming the date and the range', async (_n, d) => {
    const key = `data/batch/${d}/part.jsonl`;
    const err = await handler({ bucket: 'data', key }).catch((e) => e);
    expect(err).toMatchObject({ name: 'InvalidEventError' });
    expect(err.message).toContain(d);
    expect(err.message).toContain(SNAPSHOT_PROJECTION_RANGE);
    expect(err.message).toContain(key);
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  test('the last projected day (tomorrow, UTC) is processed', async () => {
    const d = snapshotDateMax();
    await expect(handler({ bucket: 'data', key: `data/batch/${d}/part.jsonl` })).resolves.toMatchObject({ snapshotDate: d, valid: 1 });
  });
});

describe('the query runner and the publisher refuse such a snapshot', () => {
  const config = loadConfig({ DATA_BUCKET: 'data' });
  test.each([future, past])('%s', (d) => {
    const eb = { 'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': { bucket: { name: 'data' }, object: { key: `data/batch/${d}/a.jsonl` } } };
    expect(() => parseQueryEvent(eb, config)).toThrow(expect.objectContaining({ name: 'InvalidEventError', message: expect.stringContaining(d) }));
    expect(() => parseQueryEvent({ query: 'facility_extract', bucket: 'data', snapshotDate: d }, config))
      .toThrow(expect.objectContaining({ name: 'InvalidEventError', message: expect.stringContaining(SNAPSHOT_PROJECTION_RANGE) }));
    const results = { query: 'state_counts', bucket: 'data', snapshotDate: d, state: 'SUCCEEDED', done: true, queryExecutionId: 'q', submittedAt: '2026-01-01T00:00:00Z' };
    expect(() => parsePublishInput({ bucket: 'data', snapshotDate: d, results }, config))
      .toThrow(expect.objectContaining({ name: 'InvalidEventError', message: expect.stringContaining(d) }));
  });
});

/**
 * Which events start a query (lambda-src/athena/request.ts): EventBridge "Object Created" and S3
 * notifications of raw data files, and the state machine's QueryRequest; everything else is an
 * InvalidEventError.
 */
import { parseQueryEvent } from '../../lambda-src/athena/request';
import { BUCKET, RAW_KEY, REQ, config } from '../support/query-runner-harness';

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

  test('the claim comes from the ReadTicket result the state machine passes (ticket.claim), or a claim of its own', () => {
    const claim = '["\\"e\\"","v1","2025-08-10T00:00:00.000Z"]';
    expect(parseQueryEvent({ ...REQ, ticket: { latest: true, claim } }, config)).toEqual({ ...REQ, claim });
    expect(parseQueryEvent({ ...REQ, claim }, config)).toEqual({ ...REQ, claim });
    // No ticket (claim null) or a result without a claim: none, and the runner reads the ticket itself.
    expect(parseQueryEvent({ ...REQ, ticket: { latest: true, claim: null } }, config)).toEqual(REQ);
    expect(parseQueryEvent({ ...REQ, ticket: { latest: true } }, config)).toEqual(REQ);
    for (const ticket of ['x', [claim], { claim: 7 }, { claim: '' }]) {
      expect(() => parseQueryEvent({ ...REQ, ticket }, config)).toThrow(/ticket/);
    }
    expect(() => parseQueryEvent({ ...REQ, claim: 'x'.repeat(1025) }, config)).toThrow(/claim/);
  });
});

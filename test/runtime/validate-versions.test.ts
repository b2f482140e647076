/**
 * Issue #16, scenario 1: a re-upload must never be overwritten by its older version's run.
 * Against the embedded S3 (not versioned: the event's ETag is read with If-Match), with the
 * interleavings forced by holding one run's requests.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PREFIXES } from './validate-helpers';
import { compareSequencers, compareSources, processS3Object, SOURCE_METADATA } from '../../lambda-src/validate';
import { record } from '../support/facility-record';
import { useLocalS3 } from '../support/local-s3';

const BUCKET = 'versions';
const KEY = 'data/batch/2025-08-10/part.jsonl';
const OUT = {
  validated: 'validated/snapshot_date=2025-08-10/part.jsonl',
  expiring: 'expiring/snapshot_date=2025-08-10/part.jsonl',
  quarantine: 'quarantine/snapshot_date=2025-08-10/part.jsonl',
};
// v1: two facilities (one expiring) and a bad line; v2, the correction: one facility, no bad line.
const V1 = [record('FAC1', '2025-08-10', ['2025-09-01']), record('FAC2', '2025-08-10', ['2027-01-01'])].map((r) => JSON.stringify(r)).join('\n') + '\n{bad\n';
const V2 = `${JSON.stringify(record('FAC9', '2025-08-10', ['2025-10-01']))}\n`;

const { newClient } = useLocalS3(BUCKET, 'validate-versions');

/** Holds every output PutObject of this client until `release` is called. */
function holdOutputWrites(c: S3Client): { release: () => void; reached: Promise<void> } {
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const reachedP = new Promise<void>((r) => (reached = r));
  c.middlewareStack.add((next, ctx) => async (args) => {
    const key = (args.input as { Key?: string }).Key ?? '';
    if (ctx.commandName === 'PutObjectCommand' && !key.startsWith('data/')) {
      reached();
      await gate;
    }
    return next(args);
  }, { step: 'initialize', name: 'holdOutputWrites' });
  return { release, reached: reachedP };
}

async function text(c: S3Client, key: string): Promise<string> {
  const r = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return r.Body!.transformToString();
}

async function upload(c: S3Client, body: string): Promise<string> {
  const r = await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: body }));
  return r.ETag!;
}

const run = (c: S3Client, etag: string, sequencer?: string) => processS3Object({
  client: c, bucket: BUCKET, key: KEY, etag, sequencer, rawPrefix: 'data/batch/', prefixes: PREFIXES, months: 6,
});

async function expectOutputsOfV2(c: S3Client, etag2: string): Promise<void> {
  expect(await text(c, OUT.validated)).toBe(V2);
  expect(await text(c, OUT.expiring)).toBe(V2);
  expect(await text(c, OUT.quarantine)).toBe('');
  for (const key of Object.values(OUT)) {
    const head = await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.Metadata?.[SOURCE_METADATA.etag]).toBe(etag2.replace(/"/g, ''));
  }
}

beforeEach(async () => {
  // a fresh key space per test
  const c = newClient();
  for (const key of [...Object.values(OUT), KEY]) await c.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
});

describe('sequencers and source order', () => {
  test('sequencers compare as hex after left-padding to equal length', () => {
    expect(compareSequencers('0A', '9')).toBeGreaterThan(0);
    expect(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281E6')).toBeLessThan(0);
    expect(compareSequencers('ff', '00FF')).toBe(0);
    expect(() => compareSequencers('xyz', '01')).toThrow(RangeError);
  });
  test('without sequencers, LastModified orders; nothing known → 0', () => {
    expect(compareSources({ lastModified: '2025-08-10T10:00:01Z' }, { lastModified: '2025-08-10T10:00:00Z' })).toBeGreaterThan(0);
    expect(compareSources({ sequencer: '02', lastModified: '2025-08-10T09:00:00Z' }, { sequencer: '01', lastModified: '2025-08-10T10:00:00Z' })).toBeGreaterThan(0);
    expect(compareSources({ etag: 'a' }, { etag: 'b' })).toBe(0);
  });
});

describe('a re-upload is never overwritten by its older version', () => {
  test("v1's run starts after v2 replaced it: GetObject If-Match fails (412), v1's run writes nothing", async () => {
    const c = newClient();
    const etag1 = await upload(c, V1);
    const etag2 = await upload(c, V2);
    const s2 = await run(c, etag2, '0002');
    expect(s2).toMatchObject({ valid: 1 });
    expect(s2.superseded).toBeUndefined();
    const s1 = await run(c, etag1, '0001');
    expect(s1).toMatchObject({ superseded: true, read: 0, valid: 0, outputs: { validated: [], expiring: [], quarantine: [] } });
    await expectOutputsOfV2(c, etag2);
  });

  test("v1's run read v1, v2's run finishes first, then v1's run commits: every output keeps v2", async () => {
    const slow = newClient();
    const fast = newClient();
    const etag1 = await upload(fast, V1);
    const hold = holdOutputWrites(slow);
    const v1Run = run(slow, etag1, '0001');
    await hold.reached; // v1 is read and processed; its first output write is held
    const etag2 = await upload(fast, V2);
    expect(await run(fast, etag2, '0002')).toMatchObject({ valid: 1 });
    hold.release();
    const s1 = await v1Run;
    expect(s1.superseded).toBe(true);
    await expectOutputsOfV2(fast, etag2);
  });

  test("v2's outputs are already there when v1's run opens its outputs: v1 stops before writing anything", async () => {
    const slow = newClient();
    const fast = newClient();
    const etag1 = await upload(fast, V1);
    let release!: () => void;
    let reached!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const atHead = new Promise<void>((r) => (reached = r));
    const puts: string[] = [];
    slow.middlewareStack.add((next, ctx) => async (args) => {
      if (ctx.commandName === 'HeadObjectCommand') {
        reached();
        await gate;
      }
      if (ctx.commandName === 'PutObjectCommand') puts.push((args.input as { Key: string }).Key);
      return next(args);
    }, { step: 'initialize', name: 'holdHead' });
    const v1Run = run(slow, etag1, '0001');
    await atHead; // v1 is being read; its outputs are being opened
    const etag2 = await upload(fast, V2);
    await run(fast, etag2, '0002');
    release();
    expect((await v1Run).superseded).toBe(true);
    expect(puts).toEqual([]);
    await expectOutputsOfV2(fast, etag2);
  });

  test("without sequencers (a {bucket, key, etag} payload) the source's LastModified orders the versions", async () => {
    const slow = newClient();
    const fast = newClient();
    const etag1 = await upload(fast, V1);
    const hold = holdOutputWrites(slow);
    const v1Run = run(slow, etag1);
    await hold.reached;
    await new Promise((r) => setTimeout(r, 1100)); // LastModified has one-second resolution
    const etag2 = await upload(fast, V2);
    await run(fast, etag2);
    hold.release();
    expect((await v1Run).superseded).toBe(true);
    await expectOutputsOfV2(fast, etag2);
  });

  test("the older run commits while the newer one is processing: the newer run's write is refused (retryable), its retry converges on v2", async () => {
    const slow = newClient();
    const fast = newClient();
    const etag1 = await upload(fast, V1);
    const etag2Box: { etag?: string } = {};
    // v2 is uploaded now, but its run holds its writes until v1's (older) run has committed.
    const hold = holdOutputWrites(slow);
    etag2Box.etag = await upload(fast, V2);
    const v2Run = run(slow, etag2Box.etag, '0002');
    await hold.reached;
    // v1's event arrives late; the object is already v2, so v1's run is refused at the read.
    expect((await run(fast, etag1, '0001')).superseded).toBe(true);
    // An older computation committed directly (e.g. a run that read v1 before v2 existed):
    await fast.send(new PutObjectCommand({ Bucket: BUCKET, Key: OUT.quarantine, Body: '{"old":1}\n', Metadata: { [SOURCE_METADATA.sequencer]: '0001' } }));
    hold.release();
    await expect(v2Run).rejects.toMatchObject({ name: 'TransientError' });
    // The state machine retries TransientError: the retry writes all three outputs of v2.
    expect(await run(fast, etag2Box.etag, '0002')).toMatchObject({ valid: 1 });
    await expectOutputsOfV2(fast, etag2Box.etag);
  });

  test('outputs are committed quarantine, expiring, validated (validated last marks the object settled)', async () => {
    const c = newClient();
    const order: string[] = [];
    c.middlewareStack.add((next, ctx) => async (args) => {
      const key = (args.input as { Key?: string }).Key ?? '';
      if (ctx.commandName === 'PutObjectCommand' && !key.startsWith('data/')) order.push(key.split('/')[0]);
      return next(args);
    }, { step: 'initialize', name: 'order' });
    const etag = await upload(c, V1);
    await run(c, etag, '0001');
    expect(order).toEqual(['quarantine', 'expiring', 'validated']);
  });
});

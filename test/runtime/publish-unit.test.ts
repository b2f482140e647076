/**
 * Issue #16, "production CSV and JSON from different computations": against the embedded S3, the
 * publisher publishes the state-counts pair as one unit — never a CSV and a JSON of two
 * computations marked published.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { QueryStatus } from '../../lambda-src/athena/types';
import { loadConfig } from '../../lambda-src/lib/config';
import { Watermark, formatWatermark, parseWatermark } from '../../lambda-src/lib/watermark';
import { publishResults } from '../../lambda-src/publish';
import { useLocalS3 } from '../support/local-s3';
import { PUBLISH_FIXTURE, stateCountsStatus } from '../support/query-status';

const BUCKET = 'publish-unit';
const config = loadConfig({ DATA_BUCKET: BUCKET });
const { snapshotDate: D, results: RES, production: PROD, older: W1, newer: W2 } = PUBLISH_FIXTURE;
const noSleep = async (): Promise<void> => undefined;

const { newClient, emptyBucket } = useLocalS3(BUCKET, 'publish-unit');

async function put(key: string, body: string, w: Watermark): Promise<void> {
  await newClient().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: { watermark: formatWatermark(w) } }));
}
async function results(file: 'csv' | 'json', w: Watermark): Promise<void> {
  await put(`${RES}state_counts.${file}`, file === 'csv' ? `state,accredited_facilities\nMI,${w.queryExecutionId}\n` : `{"id":"${w.queryExecutionId}"}\n`, w);
}
async function prodWatermarks(): Promise<Array<string | undefined>> {
  const out: Array<string | undefined> = [];
  for (const f of ['csv', 'json']) {
    try {
      const h = await newClient().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PROD}state_counts.${f}` }));
      out.push(parseWatermark(h.Metadata?.watermark)?.queryExecutionId);
    } catch {
      out.push(undefined);
    }
  }
  return out;
}
const status = (w: Watermark): QueryStatus => stateCountsStatus(w, { bucket: BUCKET, snapshotDate: D }, { resultKeys: [`${RES}state_counts.csv`, `${RES}state_counts.json`] });
const publish = (w: Watermark, c: S3Client = newClient()) =>
  publishResults({ bucket: BUCKET, snapshotDate: D, results: status(w) }, { s3: c, config, sleep: noSleep });

beforeEach(() => emptyBucket());

test('a results pair of two computations (Stage 3 interrupted between its writes) is not published: TransientError, nothing written', async () => {
  await results('csv', W2);
  await results('json', W1);
  await expect(publish(W1)).rejects.toMatchObject({ name: 'TransientError' });
  expect(await prodWatermarks()).toEqual([undefined, undefined]);
  // Stage 3's retry completes the pair: the retry publishes it whole.
  await results('json', W2);
  expect(await publish(W1)).toMatchObject({ published: true });
  expect(await prodWatermarks()).toEqual(['q-2', 'q-2']);
  const csv = await (await newClient().send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PROD}state_counts.csv` }))).Body!.transformToString();
  expect(csv).toContain('MI,q-2');
});

test('an older publisher after a newer one died between its two writes: stale, it does not write its JSON beside the newer CSV', async () => {
  await results('csv', W1);
  await results('json', W1);
  expect(await publish(W1)).toMatchObject({ published: true });
  // The newer computation's publisher wrote the CSV and died.
  await put(`${PROD}state_counts.csv`, 'state,accredited_facilities\nMI,q-2\n', W2);
  // An older computation (another execution, results of q-1.5) publishes now.
  const W15: Watermark = { submittedAt: '2025-08-10T12:02:00.000Z', queryExecutionId: 'q-15' };
  await results('csv', W15);
  await results('json', W15);
  expect(await publish(W15)).toEqual({ published: false, reason: 'stale', keys: [] });
  expect(await prodWatermarks()).toEqual(['q-2', 'q-1']);
  // The newer execution's retry repairs the unit.
  await results('csv', W2);
  await results('json', W2);
  expect(await publish(W2)).toMatchObject({ published: true });
  expect(await prodWatermarks()).toEqual(['q-2', 'q-2']);
});

test('a newer publish that overtakes ours between our writes and our check: ours reports stale, not published', async () => {
  await results('csv', W1);
  await results('json', W1);
  const c = newClient();
  let copies = 0;
  c.middlewareStack.add((next, ctx) => async (args) => {
    const out = await next(args);
    if (ctx.commandName === 'CopyObjectCommand' && ++copies === 2) {
      // right after our JSON write, a newer computation's publisher writes its CSV
      await put(`${PROD}state_counts.csv`, 'state,accredited_facilities\nMI,q-2\n', W2);
    }
    return out;
  }, { step: 'initialize', name: 'overtake' });
  expect(await publish(W1, c)).toMatchObject({ published: false, reason: 'stale' });
});

test('a non-default as-of answer is published under as_of=<a>/ and leaves the contract path alone', async () => {
  await results('csv', W1);
  await results('json', W1);
  expect(await publish(W1)).toMatchObject({ published: true });
  const A = `${RES}as_of=2025-12-31/`;
  await put(`${A}state_counts.csv`, 'state,accredited_facilities\nMI,7\n', W2);
  await put(`${A}state_counts.json`, '{"as_of":"2025-12-31"}\n', W2);
  const st = { ...status(W2), asOf: '2025-12-31', resultKeys: [`${A}state_counts.csv`, `${A}state_counts.json`] };
  const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: st }, { s3: newClient(), config, sleep: noSleep });
  expect(out).toEqual({
    published: true,
    reason: 'published',
    keys: [`${PROD}as_of=2025-12-31/state_counts.csv`, `${PROD}as_of=2025-12-31/state_counts.json`],
    manifest: `${PROD}as_of=2025-12-31/manifest.json`,
  });
  expect(await prodWatermarks()).toEqual(['q-1', 'q-1']); // the default answer is untouched
  // results keys of the default folder are refused for a non-default as-of (and vice versa)
  await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: { ...st, resultKeys: [`${RES}state_counts.csv`] } },
    { s3: newClient(), config, sleep: noSleep })).rejects.toMatchObject({ name: 'InvalidEventError' });
});

describe('the manifest: the one pointer to a complete unit, written last (docs/runtime.md, "Publish")', () => {
  /** What a reader does: the manifest, then each file it names with IfMatch on its ETag. */
  async function readUnit(): Promise<{ watermark: string; bodies: string[] } | 'retry'> {
    const c = newClient();
    const text = await (await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PROD}manifest.json` }))).Body!.transformToString();
    const manifest = JSON.parse(text) as { watermark: string; files: Array<{ key: string; etag: string }> };
    const bodies: string[] = [];
    for (const f of manifest.files) {
      try {
        bodies.push(await (await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: f.key, IfMatch: f.etag }))).Body!.transformToString());
      } catch (e) {
        if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) return 'retry';
        throw e;
      }
    }
    return { watermark: manifest.watermark, bodies };
  }

  test('names the computation and the ETag of both files; a reader following it gets one computation', async () => {
    await results('csv', W1);
    await results('json', W1);
    await publish(W1);
    const unit = await readUnit();
    expect(unit).toEqual({ watermark: formatWatermark(W1), bodies: ['state,accredited_facilities\nMI,q-1\n', '{"id":"q-1"}\n'] });
  });

  test('a newer publish that dies between its two writes leaves the older manifest; the reader sees the mix and retries, never a mixed pair', async () => {
    await results('csv', W1);
    await results('json', W1);
    await publish(W1);
    // W2's publisher writes the CSV, then dies before the JSON (simulated: the CSV written as the publisher would).
    await put(`${PROD}state_counts.csv`, 'state,accredited_facilities\nMI,q-2\n', W2);
    expect(await readUnit()).toBe('retry');
    // Its retry (or the next refresh) completes the unit and moves the pointer last.
    await results('csv', W2);
    await results('json', W2);
    expect(await publish(W2)).toMatchObject({ published: true, manifest: `${PROD}manifest.json` });
    expect(await readUnit()).toEqual({ watermark: formatWatermark(W2), bodies: ['state,accredited_facilities\nMI,q-2\n', '{"id":"q-2"}\n'] });
  });

  test('an older computation never moves the pointer back', async () => {
    await results('csv', W2);
    await results('json', W2);
    await publish(W2);
    await results('csv', W1);
    await results('json', W1);
    expect(await publish(W1)).toMatchObject({ published: false, reason: 'stale' });
    expect(await readUnit()).toMatchObject({ watermark: formatWatermark(W2) });
  });
});

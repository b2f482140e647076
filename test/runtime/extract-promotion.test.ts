/**
 * Issue #16, scenario "two extract promotions interleave": whatever the interleaving of an older (O)
 * and a newer (N) computation's promotion, the curated partition ends with exactly N's files.
 * Against the embedded S3; each interleaving is forced by a hook on O's client that runs N's whole
 * promotion at a chosen request of O's.
 */
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { curatedPartition, promoteExtract, stagingPrefix } from '../../lambda-src/extract';
import { loadConfig } from '../../lambda-src/lib/config';
import { useLocalS3 } from '../support/local-s3';

const BUCKET = 'promotion';
const config = loadConfig({ DATA_BUCKET: BUCKET });
const D = '2025-08-10';
const partition = curatedPartition(config, D);
const O = { submittedAt: '2025-08-10T10:00:00.000Z', queryExecutionId: 'q-old' };
const N = { submittedAt: '2025-08-10T10:05:00.000Z', queryExecutionId: 'q-new' };
const stagingO = stagingPrefix(config, D, 'a'.repeat(64));
const stagingN = stagingPrefix(config, D, 'b'.repeat(64));
const FILES = ['part-1', 'part-2', 'part-3'];

const noSleep = async (): Promise<void> => undefined;
const { newClient, emptyBucket } = useLocalS3(BUCKET, 'extract-promotion');

type Hook = (command: string, input: Record<string, unknown>, n: number) => Promise<void> | void;

/** A client whose requests pass through `hook` (n counts requests of that command) before being sent. */
function hooked(hook: Hook, after?: Hook): S3Client {
  const c = newClient();
  const counts = new Map<string, number>();
  c.middlewareStack.add((next, ctx) => async (args) => {
    const command = String(ctx.commandName);
    const n = (counts.get(command) ?? 0) + 1;
    counts.set(command, n);
    await hook(command, args.input as Record<string, unknown>, n);
    const out = await next(args);
    await after?.(command, args.input as Record<string, unknown>, n);
    return out;
  }, { step: 'initialize', name: 'interleave' });
  return c;
}

async function keysUnder(c: S3Client, prefix: string): Promise<string[]> {
  const r = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

const nFiles = FILES.map((f) => `${partition}q-new_${f}`);

beforeEach(async () => {
  await emptyBucket();
  const c = newClient();
  for (const f of FILES) {
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${stagingO}${f}`, Body: `old ${f}` }));
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${stagingN}${f}`, Body: `new ${f}` }));
  }
});

const promoteN = (c: S3Client = newClient()) => promoteExtract({ s3: c, config, sleep: noSleep }, D, stagingN, N);
const promoteO = (c: S3Client) => promoteExtract({ s3: c, config, sleep: noSleep }, D, stagingO, O);

describe('promotion leaves exactly the newest computation\'s files', () => {
  test('O re-checked its claim, then N claims, copies and cleans before O lists the partition: O deletes none of N\'s files', async () => {
    let nResult: Awaited<ReturnType<typeof promoteN>> | undefined;
    const c = hooked(async (command, input) => {
      if (command === 'ListObjectsV2Command' && input.Prefix === partition && nResult === undefined) nResult = await promoteN();
    });
    const o = await promoteO(c);
    expect(nResult).toEqual({ promoted: true, extractPrefix: `${partition}q-new_`, extractFiles: 3 });
    expect(o.promoted).toBe(false);
    expect(await keysUnder(c, partition)).toEqual(nFiles);
    expect(await keysUnder(c, `${config.curatedPrefix}_staging/`)).toEqual([]);
  });

  test('N runs entirely between O\'s claim and O\'s first copy: O removes its own copies', async () => {
    let ran = false;
    const c = hooked(async (command) => {
      if (command === 'CopyObjectCommand' && !ran) {
        ran = true;
        expect(await promoteN()).toMatchObject({ promoted: true, extractFiles: 3 });
      }
    });
    expect(await promoteO(c)).toMatchObject({ promoted: false, extractFiles: 0 });
    expect(await keysUnder(c, partition)).toEqual(nFiles);
  });

  test('O copies after N finished and dies before its re-check: its retry removes the strays', async () => {
    const c = hooked(async (command, _input, n) => {
      if (command === 'CopyObjectCommand' && n === 2) expect(await promoteN()).toMatchObject({ promoted: true });
    }, (command, _input, n) => {
      if (command === 'CopyObjectCommand' && n === 2) throw new Error('Lambda timed out');
    });
    await expect(promoteO(c)).rejects.toThrow('Lambda timed out');
    // Mid-state: N's files and one of O's (duplicate rows until the retry converges).
    expect(await keysUnder(c, partition)).toEqual([`${partition}q-new_part-1`, `${partition}q-new_part-2`, `${partition}q-new_part-3`, `${partition}q-old_part-2`]);
    // The state machine retries the timed-out call: the claim is N's, O removes its copies.
    expect(await promoteO(newClient())).toMatchObject({ promoted: false });
    expect(await keysUnder(c, partition)).toEqual(nFiles);
  });

  test('N promotes while O copies; O\'s late cleanup keeps N\'s files and N\'s cleanup removes O\'s', async () => {
    let ran = false;
    const c = hooked(async (command, input) => {
      // O's re-check of the claim (HeadObject on the claim object after copying): N runs now.
      if (command === 'HeadObjectCommand' && String(input.Key).includes('_watermarks/') && !ran && (await keysUnder(newClient(), `${partition}q-old_`)).length === 3) {
        ran = true;
        expect(await promoteN()).toMatchObject({ promoted: true, extractFiles: 3 });
      }
    });
    expect(await promoteO(c)).toMatchObject({ promoted: false });
    expect(await keysUnder(c, partition)).toEqual(nFiles);
  });

  test('O entirely before N, and N entirely before O: N\'s files either way', async () => {
    expect(await promoteO(newClient())).toMatchObject({ promoted: true, extractFiles: 3 });
    expect(await promoteN()).toMatchObject({ promoted: true, extractFiles: 3 });
    expect(await keysUnder(newClient(), partition)).toEqual(nFiles);
    for (const f of FILES) await newClient().send(new PutObjectCommand({ Bucket: BUCKET, Key: `${stagingO}${f}`, Body: `old ${f}` }));
    expect(await promoteO(newClient())).toMatchObject({ promoted: false, extractFiles: 0 });
    expect(await keysUnder(newClient(), partition)).toEqual(nFiles);
  });
});

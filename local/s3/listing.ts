/**
 * ListObjectsV2 and ListObjects (V1): one page of keys and common prefixes in UTF-8 byte order
 * (the store's folder walk), with S3's parameter checks, continuation tokens (opaque: base64 of the
 * last key or common prefix returned) and markers.
 */
import type { S3Engine } from './engine';
import { forEachLimit } from '../concurrency';
import { invalidArgument } from './errors';
import { sendXml, type BucketCtx } from './request';
import type { ListEntry, ObjectMeta } from './store-types';
import { listObjectsXml } from './xml';

/** Keys of a page whose metadata is looked up at once (a file written from outside has its MD5 computed then). */
const META_CONCURRENCY = 32;

/** The parameters every listing shares (ListObjects, ListObjectsV2, ListObjectVersions), checked as S3 checks them. */
export interface ListingParams {
  readonly prefix: string;
  readonly delimiter: string;
  readonly urlEncode: boolean;
  readonly maxKeys: number;
}

export function listingParams(q: URLSearchParams): ListingParams {
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const urlEncode = q.get('encoding-type') === 'url';
  if (q.has('encoding-type') && !urlEncode) throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', q.get('encoding-type')!);
  let maxKeys = 1000;
  if (q.has('max-keys')) {
    const raw = q.get('max-keys')!;
    if (!/^\d+$/.test(raw)) throw invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', raw);
    maxKeys = Math.min(1000, Number(raw));
  }
  return { prefix, delimiter, urlEncode, maxKeys };
}

export async function listObjects(e: S3Engine, ctx: BucketCtx, version: 1 | 2): Promise<void> {
  const bucket = ctx.bucket;
  const q = ctx.query;
  const { prefix, delimiter, urlEncode, maxKeys } = listingParams(q);
  let startAfter: string;
  const token = q.get('continuation-token');
  if (version === 2 && token !== null) {
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    if (token === '' || Buffer.from(decoded, 'utf8').toString('base64') !== token) {
      throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
    }
    startAfter = decoded;
  } else {
    startAfter = (version === 2 ? q.get('start-after') : q.get('marker')) ?? '';
  }

  // the walk is cheap; the metadata of a page's keys is then read concurrently
  const entries: ListEntry[] = [];
  let truncated = false;
  for await (const entry of e.store.list(bucket, { prefix, delimiter, startAfter })) {
    if (entries.length >= maxKeys) { truncated = true; break; }
    entries.push(entry);
  }
  const lastEntry = entries[entries.length - 1];
  const last = lastEntry === undefined ? undefined : lastEntry.type === 'key' ? lastEntry.key : lastEntry.prefix;
  const keys = entries.filter((x): x is { type: 'key'; key: string } => x.type === 'key').map((x) => x.key);
  const metas: (ObjectMeta | undefined)[] = new Array(keys.length);
  await forEachLimit(keys, META_CONCURRENCY, async (key, i) => {
    metas[i] = await e.store.headObject(bucket, key);
  });
  sendXml(ctx, listObjectsXml({
    version,
    bucket,
    prefix,
    delimiter,
    maxKeys,
    urlEncode,
    fetchOwner: version === 1 || q.get('fetch-owner') === 'true',
    token: version === 2 ? token : null,
    startAfter: version === 2 && q.has('start-after') ? q.get('start-after')! : undefined,
    marker: q.get('marker') ?? '',
    truncated,
    last,
    // an object deleted since the walk is left out
    contents: metas.filter((m): m is ObjectMeta => m !== undefined),
    prefixes: entries.filter((x): x is { type: 'prefix'; prefix: string } => x.type === 'prefix').map((x) => x.prefix),
  }));
}

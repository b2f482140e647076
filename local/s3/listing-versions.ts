/**
 * ListObjectVersions (API reference, ListObjectVersions): every version and delete marker of the keys
 * under a prefix, keys in UTF-8 byte order and each key's versions newest first, with delimiter,
 * key-marker / version-id-marker paging and max-keys (versions, markers and common prefixes count).
 * Keys come from the bucket walk (current objects) merged with the keys that have a version index
 * (a current delete marker or noncurrent versions; each read once for the request, see store-versions.ts).
 */
import type { S3Engine } from './engine';
import { invalidArgument } from './errors';
import { listingParams } from './listing';
import { sendXml, type BucketCtx } from './request';
import { compareKeys } from './store';
import type { ListEntry, VersionIndex } from './store-types';
import { listVersionsXml, type VersionEntry } from './xml';

/** The sorted, de-duplicated union of two sorted entry streams. */
async function* merge(a: AsyncGenerator<ListEntry>, b: ListEntry[]): AsyncGenerator<ListEntry> {
  const name = (x: ListEntry) => (x.type === 'key' ? x.key : x.prefix);
  let i = 0;
  for await (const x of a) {
    while (i < b.length && compareKeys(name(b[i]), name(x)) < 0) yield b[i++];
    if (i < b.length && name(b[i]) === name(x) && b[i].type === x.type) i++;
    yield x;
  }
  while (i < b.length) yield b[i++];
}

/**
 * The versions of one key, newest first (current object or delete marker, then the noncurrent ones).
 * `indexes` are the indexes read for the listing: a key under the prefix that has none there has none.
 */
async function versionsOf(e: S3Engine, bucket: string, key: string, prefix: string, indexes: Map<string, VersionIndex>): Promise<VersionEntry[]> {
  const current = await e.store.headObject(bucket, key);
  const idx = indexes.get(key) ?? (key.startsWith(prefix) ? { key, older: [] } : await e.store.versions.readIndex(bucket, key));
  const out: VersionEntry[] = [];
  if (current) out.push({ key, versionId: current.versionId ?? 'null', meta: current });
  if (idx.marker) out.push({ key, versionId: idx.marker.versionId, marker: idx.marker });
  for (const v of idx.older) out.push(v.deleteMarker ? { key, versionId: v.versionId, marker: v } : { key, versionId: v.versionId, meta: v });
  return out.map((v, n) => ({ ...v, latest: n === 0 }));
}

export async function listObjectVersions(e: S3Engine, ctx: BucketCtx): Promise<void> {
  const { bucket, query: q } = ctx;
  const { prefix, delimiter, urlEncode, maxKeys } = listingParams(q);
  const keyMarker = q.get('key-marker') ?? '';
  const versionIdMarker = q.get('version-id-marker') ?? '';
  if (versionIdMarker && !keyMarker) throw invalidArgument('A version-id marker cannot be specified without a key marker.', 'version-id-marker', versionIdMarker);
  await e.store.requireBucket(bucket);

  // keys with a version index, as walk entries (a key below the delimiter becomes its common prefix)
  const indexed = new Map<string, ListEntry>();
  const indexes = await e.store.versions.indexesUnder(bucket, prefix);
  for (const key of indexes.keys()) {
    const d = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const entry: ListEntry = d === -1 ? { type: 'key', key } : { type: 'prefix', prefix: key.slice(0, d + delimiter.length) };
    const name = entry.type === 'key' ? entry.key : entry.prefix;
    if (compareKeys(name, keyMarker) > 0 || (versionIdMarker && entry.type === 'key' && name === keyMarker)) indexed.set(`${entry.type}:${name}`, entry);
  }
  const extra = [...indexed.values()].sort((a, b) => compareKeys(a.type === 'key' ? a.key : a.prefix, b.type === 'key' ? b.key : b.prefix));

  const versions: VersionEntry[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let last: { key: string; versionId?: string } | undefined;
  // the rest of key-marker's versions come first when a version-id-marker names where to resume
  const pending: ListEntry[] = versionIdMarker && !extra.some((x) => x.type === 'key' && x.key === keyMarker) ? [{ type: 'key', key: keyMarker }] : [];
  const entries = merge(e.store.list(bucket, { prefix, delimiter, startAfter: keyMarker }), [...pending, ...extra]);
  outer:
  for await (const entry of entries) {
    if (entry.type === 'prefix') {
      if (versions.length + prefixes.length >= maxKeys) { truncated = true; break; }
      prefixes.push(entry.prefix);
      last = { key: entry.prefix };
      continue;
    }
    let vs = await versionsOf(e, bucket, entry.key, prefix, indexes);
    if (versionIdMarker && entry.key === keyMarker) {
      const at = vs.findIndex((v) => v.versionId === versionIdMarker);
      vs = at === -1 ? [] : vs.slice(at + 1);
    }
    for (const v of vs) {
      if (versions.length + prefixes.length >= maxKeys) { truncated = true; break outer; }
      versions.push(v);
      last = { key: v.key, versionId: v.versionId };
    }
  }
  sendXml(ctx, listVersionsXml({
    bucket,
    prefix,
    delimiter,
    keyMarker,
    versionIdMarker,
    maxKeys,
    urlEncode,
    truncated,
    versions,
    prefixes,
    next: truncated ? last : undefined,
  }));
}

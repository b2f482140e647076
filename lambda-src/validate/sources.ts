/** Input sources for the Stage 2 processor: an S3 object (GetObject body stream) or a local file. */
import { createReadStream, promises as fsp } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { classifyAwsError } from '../lib/errors';
import { isDataKey } from '../lib/keys';
import { listObjects } from '../lib/s3-list';

export interface OpenedSource {
  readonly stream: Readable;
  readonly etag?: string;
}

/** Opens an S3 object as a byte stream. NoSuchKey/AccessDenied keep their SDK error; throttling/5xx → TransientError. */
export async function openS3Object(client: S3Client, bucket: string, key: string): Promise<OpenedSource> {
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!res.Body) throw new Error(`s3://${bucket}/${key}: GetObject returned no body`);
    return { stream: res.Body as Readable, etag: res.ETag };
  } catch (err) {
    return classifyAwsError(err, `reading s3://${bucket}/${key}`);
  }
}

export function openLocalFile(path: string): OpenedSource {
  return { stream: createReadStream(path, { highWaterMark: 1024 * 1024 }) };
}

/** Every data file (`.jsonl`, `.ndjson`, `.json`, optionally `.gz`) under a folder, recursively, in sorted path order. */
export async function listLocalDataFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && isDataKey(e.name)) out.push(p);
    }
  };
  await walk(root);
  // Sort by the relative path with '/' separators, so the order is the same as S3's key order.
  return out.sort((a, b) => {
    const ra = relative(root, a).split(sep).join('/');
    const rb = relative(root, b).split(sep).join('/');
    return ra < rb ? -1 : ra > rb ? 1 : 0;
  });
}

/** Every data key under an S3 prefix (ListObjectsV2, paginated), in key order. */
export async function listS3DataKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of listObjects(client, bucket, prefix)) if (isDataKey(o.Key)) keys.push(o.Key);
  return keys.sort();
}

/** `s3://bucket/prefix` → {bucket, prefix}; undefined for anything else. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m || !m[1]) return undefined;
  return { bucket: m[1], prefix: m[2] };
}

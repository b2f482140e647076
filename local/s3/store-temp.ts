/** Receiving a body into a temp file of the store: small bodies in one write, larger ones streamed, hashed on the way. */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createHasher, type ChecksumAlgorithm } from './checksums';
import { S3Error } from './errors';
import { writeSmallFile } from './store-files';
import type { TempFile } from './store-types';

/** Bodies up to this size are received in memory and written with one call; larger ones are streamed to disk. */
const INLINE_WRITE_BYTES = 256 * 1024;

/** Streams a body into the temp file `path`, hashing it (MD5 unless `md5: false`; plus the given checksums, and SHA-256 on request). */
export async function writeTempFile(path: string, src: Readable, algorithms: ChecksumAlgorithm[],
  opts: { sha256?: boolean; md5?: boolean; maxSize?: number } = {}): Promise<TempFile> {
  const md5 = opts.md5 ?? true ? createHasher('MD5') : undefined;
  const sha = opts.sha256 ? createHasher('SHA256') : undefined;
  const hashers = new Map(algorithms.map((a) => [a, createHasher(a)] as const));
  const maxSize = opts.maxSize ?? Number.MAX_SAFE_INTEGER;
  let size = 0;
  // a small body is kept in memory and written in one go; a larger one is streamed to the file
  let buffered: Buffer[] | undefined = [];
  let out: WriteStream | undefined;
  let failed: Error | undefined;
  try {
    for await (const chunk of src as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxSize) throw new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size');
      md5?.update(chunk);
      sha?.update(chunk);
      for (const h of hashers.values()) h.update(chunk);
      if (buffered) {
        buffered.push(chunk);
        if (size <= INLINE_WRITE_BYTES) continue;
        out = createWriteStream(path);
        out.on('error', (e) => { failed ??= e; });
        for (const c of buffered) out.write(c);
        buffered = undefined;
      } else if (!out!.write(chunk) && !failed) {
        await once(out!, 'drain');
      }
      if (failed) throw failed;
    }
    if (buffered) {
      await writeSmallFile(path, buffered.length === 1 ? buffered[0] : Buffer.concat(buffered, size));
    } else {
      out!.end();
      await once(out!, 'close');
      if (failed) throw failed;
    }
  } catch (e) {
    out?.destroy();
    await rm(path, { force: true });
    throw e;
  }
  const digests = new Map<ChecksumAlgorithm, Buffer>();
  for (const [a, h] of hashers) digests.set(a, h.digest());
  return { path, size, md5: md5?.digest(), digests, sha256: sha?.digest() };
}

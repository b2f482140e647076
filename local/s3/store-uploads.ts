/**
 * Multipart uploads of the local S3 store: `.s3-uploads/<uploadId>/` holds `upload.json` and the
 * parts (`part-NNNNN` + `part-NNNNN.json`) until CompleteMultipartUpload concatenates them into the
 * object (through the object store's atomic commit) or AbortMultipartUpload removes them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHasher } from './checksums';
import { noSuchUpload, S3Error } from './errors';
import type { S3Store } from './store';
import { KeyedMutex, readJson, writeFileAtomic } from './store-files';
import type { CompletePart, ObjectChecksum, ObjectMeta, PartInfo, TempFile, UploadInfo } from './store-types';

/** Minimum size of every part but the last, as on S3. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

/** The multipart uploads in progress (one folder each), completed into objects of `objects`. */
export class UploadStore {
  constructor(
    private readonly objects: S3Store,
    private readonly root: string,
    private readonly tmpDir: string,
    private readonly locks: KeyedMutex,
  ) {}

  private dir(uploadId: string): string {
    if (!/^[A-Za-z0-9_-]{8,128}$/.test(uploadId)) throw noSuchUpload(uploadId);
    return join(this.root, uploadId);
  }

  async create(info: Omit<UploadInfo, 'uploadId' | 'initiated'>): Promise<UploadInfo> {
    await this.objects.requireBucket(info.bucket);
    this.objects.objectPath(info.bucket, info.key);
    const uploadId = randomBytes(24).toString('base64url');
    const full: UploadInfo = { ...info, uploadId, initiated: new Date().toISOString() };
    await mkdir(this.dir(uploadId), { recursive: true });
    await writeFileAtomic(this.tmpDir, join(this.dir(uploadId), 'upload.json'), JSON.stringify(full));
    return full;
  }

  async get(bucket: string, key: string, uploadId: string): Promise<UploadInfo> {
    const info = await readJson<UploadInfo>(join(this.dir(uploadId), 'upload.json'));
    if (!info || info.bucket !== bucket || info.key !== key) throw noSuchUpload(uploadId);
    return info;
  }

  async list(bucket: string): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    for (const id of await readdir(this.root)) {
      const info = await readJson<UploadInfo>(join(this.root, id, 'upload.json'));
      if (info && info.bucket === bucket) out.push(info);
    }
    return out;
  }

  async putPart(bucket: string, key: string, uploadId: string, partNumber: number, tmp: TempFile, checksum?: string): Promise<PartInfo> {
    const dir = this.dir(uploadId);
    const name = `part-${String(partNumber).padStart(5, '0')}`;
    try {
      return await this.locks.run(`upload:${uploadId}`, async () => {
        await this.get(bucket, key, uploadId);
        const part: PartInfo = { partNumber, etag: tmp.md5!.toString('hex'), size: tmp.size, lastModified: new Date().toISOString(), checksum };
        await rename(tmp.path, join(dir, name));
        await writeFileAtomic(this.tmpDir, join(dir, `${name}.json`), JSON.stringify(part));
        return part;
      });
    } finally {
      await rm(tmp.path, { force: true });
    }
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    await this.get(bucket, key, uploadId);
    const parts: PartInfo[] = [];
    for (const f of await readdir(this.dir(uploadId))) {
      if (!/^part-\d{5}\.json$/.test(f)) continue;
      const p = await readJson<PartInfo>(join(this.dir(uploadId), f));
      if (p) parts.push(p);
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.locks.run(`upload:${uploadId}`, async () => {
      await this.get(bucket, key, uploadId);
      await rm(this.dir(uploadId), { recursive: true, force: true });
    });
  }

  /**
   * Concatenates the listed parts into the object. ETag: MD5 of the concatenated binary part MD5s,
   * then `-<number of parts>`. Checksum: composite (checksum of the part checksums, `-<n>`) unless
   * the upload asked for a FULL_OBJECT checksum.
   */
  async complete(bucket: string, key: string, uploadId: string, requested: CompletePart[],
    check?: (existing: ObjectMeta | undefined) => void): Promise<ObjectMeta> {
    return this.locks.run(`upload:${uploadId}`, async () => {
      const upload = await this.get(bucket, key, uploadId);
      if (requested.length === 0) {
        throw new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
      }
      const stored = new Map((await this.listParts(bucket, key, uploadId)).map((p) => [p.partNumber, p]));
      const parts: PartInfo[] = [];
      for (let i = 1; i < requested.length; i++) {
        if (requested[i].partNumber <= requested[i - 1].partNumber) {
          throw new S3Error('InvalidPartOrder', 400, 'The list of parts was not in ascending order. Parts must be ordered by part number.', { UploadId: uploadId });
        }
      }
      for (let i = 0; i < requested.length; i++) {
        const r = requested[i];
        const p = stored.get(r.partNumber);
        const invalidPart = () => new S3Error('InvalidPart', 400,
          'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.',
          { UploadId: uploadId, PartNumber: String(r.partNumber), ETag: r.etag });
        if (!p || p.etag !== r.etag.replace(/"/g, '')) throw invalidPart();
        const claimed = upload.checksumAlgorithm ? r.checksums[upload.checksumAlgorithm] : undefined;
        if (claimed !== undefined && p.checksum !== undefined && claimed !== p.checksum) throw invalidPart();
        if (i < requested.length - 1 && p.size < MIN_PART_SIZE) {
          throw new S3Error('EntityTooSmall', 400, 'Your proposed upload is smaller than the minimum allowed object size.',
            { ProposedSize: String(p.size), MinSizeAllowed: String(MIN_PART_SIZE), PartNumber: String(r.partNumber), ETag: r.etag });
        }
        parts.push(p);
      }
      const alg = upload.checksumAlgorithm;
      const fullObject = alg !== undefined && upload.checksumType === 'FULL_OBJECT';
      const dir = this.dir(uploadId);
      const names = parts.map((p) => join(dir, `part-${String(p.partNumber).padStart(5, '0')}`));
      // The ETag comes from the part MD5s: the concatenation itself needs no MD5.
      const tmp = await this.objects.writeTemp(concatFiles(names), fullObject && alg ? [alg] : [], { md5: false });
      const etagMd5 = createHash('md5');
      for (const p of parts) etagMd5.update(Buffer.from(p.etag, 'hex'));
      let checksum: ObjectChecksum | undefined;
      if (alg && fullObject) {
        checksum = { algorithm: alg, value: tmp.digests.get(alg)!.toString('base64'), type: 'FULL_OBJECT' };
      } else if (alg && parts.every((p) => p.checksum !== undefined)) {
        const h = createHasher(alg);
        for (const p of parts) h.update(Buffer.from(p.checksum!, 'base64'));
        checksum = { algorithm: alg, value: `${h.digest().toString('base64')}-${parts.length}`, type: 'COMPOSITE' };
      }
      const meta = await this.objects.commitObject(bucket, key, tmp.path,
        { ...upload.meta, etag: `${etagMd5.digest('hex')}-${parts.length}`, checksum, partsCount: parts.length }, check);
      await rm(dir, { recursive: true, force: true });
      return meta;
    });
  }
}

/** The files' contents one after the other, as one stream. */
function concatFiles(paths: string[]): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for (const p of paths) {
      for await (const chunk of createReadStream(p)) yield chunk as Buffer;
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

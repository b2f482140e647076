/**
 * File-system storage of the local S3 endpoint.
 *
 * Layout (everything under `rootDir`):
 *   <bucket>/<key>                       the object's bytes, byte-exact (read directly by DuckDB)
 *   <metaDir>/<bucket>/bucket.json       bucket configuration (EventBridge flag, creation date)
 *   <metaDir>/<bucket>/objects/<hh>/<sha256(key)>.json   object metadata (ETag, content-type, x-amz-meta-*, checksum)
 *   .s3-tmp/                             temp files of uploads in progress (renamed into place)
 *   .s3-uploads/<uploadId>/              multipart uploads in progress
 * `metaDir` defaults to `<rootDir>/.s3-meta`. Bucket names never start with '.', so the hidden
 * folders cannot clash with a bucket.
 *
 * Writes go to a temp file that is renamed into place; the rename and the metadata write happen
 * under a per-key lock, so concurrent writers and readers always see a matching pair. A file put
 * into a bucket folder from outside (or replaced from outside) is served too: its metadata is
 * rebuilt (MD5 ETag) the first time it is read.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHasher, type ChecksumAlgorithm } from './checksums';
import { invalidArgument, noSuchBucket, noSuchUpload, S3Error } from './errors';

export interface ObjectChecksum {
  algorithm: ChecksumAlgorithm;
  /** base64; composite checksums end in `-<parts>` */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** Server-side encryption of an object, as recorded in its metadata. */
export interface ObjectEncryption {
  algorithm: 'AES256' | 'aws:kms' | 'aws:kms:dsse';
  /** Full key ARN for SSE-KMS. */
  kmsKeyArn?: string;
  /** Encrypted under an S3 Bucket Key (KMS sees the bucket ARN as encryption context). */
  bucketKeyEnabled?: boolean;
}

export interface ObjectMeta {
  key: string;
  /** hex MD5 (or `<hex>-<parts>` for multipart uploads), without quotes */
  etag: string;
  size: number;
  /** ISO 8601 */
  lastModified: string;
  contentType: string;
  /** stored representation headers: content-encoding, content-disposition, cache-control, content-language, expires */
  headers: Record<string, string>;
  /** x-amz-meta-* without the prefix, lower-case names */
  userMetadata: Record<string, string>;
  checksum?: ObjectChecksum;
  partsCount?: number;
  /** Server-side encryption the object was written with (SSE-KMS: the key S3 needs kms:Decrypt on to read it). */
  sse?: ObjectEncryption;
  /** mtime of the data file when the metadata was written: detects replacement from outside */
  mtimeMs: number;
}

export type NewObjectMeta = Omit<ObjectMeta, 'key' | 'size' | 'lastModified' | 'mtimeMs'>;

export interface BucketConfig {
  creationDate: string;
  eventBridge: boolean;
}

export interface TempFile {
  path: string;
  size: number;
  /** MD5 of the content; absent when the caller asked for none (`md5: false`). */
  md5?: Buffer;
  digests: Map<ChecksumAlgorithm, Buffer>;
  sha256?: Buffer;
}

export interface UploadInfo {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: string;
  meta: Omit<NewObjectMeta, 'etag' | 'checksum'>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: string;
  checksum?: string;
}

export interface CompletePart {
  partNumber: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

export type ListEntry = { type: 'key'; key: string } | { type: 'prefix'; prefix: string };

/** Minimum size of every part but the last, as on S3. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

/** Byte-wise (UTF-8) comparison, the order S3 lists keys in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Runs async sections one at a time per key. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/**
 * Reads a small JSON sidecar. Synchronously on purpose: sidecars are a few hundred bytes and a
 * listing page reads up to 1,000 of them; an async readFile costs ~1 ms each (thread-pool round
 * trips for open/fstat/read/close) against ~0.05 ms for the synchronous call.
 */
async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR') || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

export class S3Store {
  readonly metaDir: string;
  private readonly tmpDir: string;
  private readonly uploadsDir: string;
  private readonly locks = new KeyedMutex();

  constructor(readonly rootDir: string, metaDir?: string) {
    this.metaDir = metaDir ?? join(rootDir, '.s3-meta');
    this.tmpDir = join(rootDir, '.s3-tmp');
    this.uploadsDir = join(rootDir, '.s3-uploads');
  }

  async init(): Promise<void> {
    await mkdir(this.rootDir, { recursive: true });
    await mkdir(this.metaDir, { recursive: true });
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
  }

  // ---------------------------------------------------------------- names and paths

  validateBucketName(bucket: string): void {
    if (!BUCKET_NAME.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
      throw new S3Error('InvalidBucketName', 400, 'The specified bucket is not valid.', { BucketName: bucket });
    }
  }

  bucketPath(bucket: string): string {
    this.validateBucketName(bucket);
    return join(this.rootDir, bucket);
  }

  /**
   * The data file of a key. Keys must map to a plain relative path: no empty, '.' or '..'
   * segments (so no leading, trailing or doubled '/'), no NUL, segments of at most 255 bytes.
   */
  objectPath(bucket: string, key: string): string {
    const bytes = Buffer.byteLength(key, 'utf8');
    if (bytes === 0) throw invalidArgument('Object key must not be empty', 'key', key);
    if (bytes > 1024) throw new S3Error('KeyTooLongError', 400, 'Your key is too long', { Key: key });
    if (key.includes('\u0000')) throw invalidArgument('Object key must not contain NUL', 'key', key);
    for (const seg of key.split('/')) {
      if (seg === '' || seg === '.' || seg === '..') {
        throw invalidArgument(
          'The local S3 endpoint stores keys as files: empty, "." and ".." path segments (and leading, trailing or doubled "/") are not supported',
          'key', key);
      }
      if (Buffer.byteLength(seg, 'utf8') > 255) {
        throw invalidArgument('The local S3 endpoint stores keys as files: a path segment exceeds 255 bytes', 'key', key);
      }
    }
    return join(this.bucketPath(bucket), ...key.split('/'));
  }

  private bucketMetaDir(bucket: string): string {
    return join(this.metaDir, bucket);
  }

  private metaPath(bucket: string, key: string): string {
    const h = createHash('sha256').update(key, 'utf8').digest('hex');
    return join(this.bucketMetaDir(bucket), 'objects', h.slice(0, 2), `${h}.json`);
  }

  private async writeFileAtomic(path: string, data: string): Promise<void> {
    const tmp = join(this.tmpDir, `${randomBytes(12).toString('hex')}.json`);
    await writeFile(tmp, data);
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(tmp, path);
        return;
      } catch (e) {
        if (!isErrno(e, 'ENOENT') || attempt >= 5) {
          await rm(tmp, { force: true });
          throw e;
        }
        await mkdir(join(path, '..'), { recursive: true });
      }
    }
  }

  // ---------------------------------------------------------------- buckets

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      return (await stat(this.bucketPath(bucket))).isDirectory();
    } catch (e) {
      if (e instanceof S3Error || isErrno(e, 'ENOENT', 'ENOTDIR')) return false;
      throw e;
    }
  }

  async requireBucket(bucket: string): Promise<void> {
    if (!(await this.bucketExists(bucket))) throw noSuchBucket(bucket);
  }

  /** Creates the bucket (idempotent). */
  async createBucket(bucket: string): Promise<void> {
    await mkdir(this.bucketPath(bucket), { recursive: true });
    await this.locks.run(`bucket:${bucket}`, async () => {
      const existing = await readJson<BucketConfig>(join(this.bucketMetaDir(bucket), 'bucket.json'));
      if (!existing) await this.writeBucketConfig(bucket, { creationDate: new Date().toISOString(), eventBridge: false });
    });
  }

  async deleteBucket(bucket: string): Promise<void> {
    await this.requireBucket(bucket);
    const entries = await readdir(this.bucketPath(bucket));
    if (entries.length > 0) throw new S3Error('BucketNotEmpty', 409, 'The bucket you tried to delete is not empty', { BucketName: bucket });
    const uploads = await this.listUploads(bucket);
    if (uploads.length > 0) throw new S3Error('BucketNotEmpty', 409, 'The bucket you tried to delete has multipart uploads in progress', { BucketName: bucket });
    await rmdir(this.bucketPath(bucket));
    await rm(this.bucketMetaDir(bucket), { recursive: true, force: true });
  }

  async listBuckets(): Promise<{ name: string; creationDate: string }[]> {
    const out: { name: string; creationDate: string }[] = [];
    for (const e of await readdir(this.rootDir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      try { this.validateBucketName(e.name); } catch { continue; }
      out.push({ name: e.name, creationDate: (await this.getBucketConfig(e.name)).creationDate });
    }
    return out.sort((a, b) => compareKeys(a.name, b.name));
  }

  async getBucketConfig(bucket: string): Promise<BucketConfig> {
    const cfg = await readJson<BucketConfig>(join(this.bucketMetaDir(bucket), 'bucket.json'));
    if (cfg) return cfg;
    const st = await stat(this.bucketPath(bucket));
    return { creationDate: st.birthtime.toISOString(), eventBridge: false };
  }

  async updateBucketConfig(bucket: string, change: Partial<BucketConfig>): Promise<BucketConfig> {
    return this.locks.run(`bucket:${bucket}`, async () => {
      const cfg = { ...(await this.getBucketConfig(bucket)), ...change };
      await this.writeBucketConfig(bucket, cfg);
      return cfg;
    });
  }

  private async writeBucketConfig(bucket: string, cfg: BucketConfig): Promise<void> {
    await mkdir(this.bucketMetaDir(bucket), { recursive: true });
    await this.writeFileAtomic(join(this.bucketMetaDir(bucket), 'bucket.json'), JSON.stringify(cfg));
  }

  // ---------------------------------------------------------------- objects

  /** The object's metadata, or undefined when there is no such object. */
  async headObject(bucket: string, key: string): Promise<ObjectMeta | undefined> {
    const fresh = await this.readMeta(bucket, key);
    if (fresh !== 'stale') return fresh;
    return this.locks.run(`${bucket}/${key}`, () => this.readOrRebuildMeta(bucket, key));
  }

  /** Opens the object for reading, consistently with its metadata. */
  async openObject(bucket: string, key: string): Promise<{ meta: ObjectMeta; handle: FileHandle } | undefined> {
    return this.locks.run(`${bucket}/${key}`, async () => {
      const meta = await this.readOrRebuildMeta(bucket, key);
      if (!meta) return undefined;
      try {
        return { meta, handle: await open(this.objectPath(bucket, key), 'r') };
      } catch (e) {
        if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
        throw e;
      }
    });
  }

  /** Metadata when it matches the data file; 'stale' when the data file exists without matching metadata. */
  private async readMeta(bucket: string, key: string): Promise<ObjectMeta | undefined | 'stale'> {
    // a synchronous stat (no thread-pool round trip) for the same reason as readJson
    const st = statSync(this.objectPath(bucket, key), { throwIfNoEntry: false });
    if (!st?.isFile()) return undefined;
    const meta = await readJson<ObjectMeta>(this.metaPath(bucket, key));
    if (meta && meta.key === key && meta.size === st.size && meta.mtimeMs === st.mtimeMs) return meta;
    return 'stale';
  }

  private async readOrRebuildMeta(bucket: string, key: string): Promise<ObjectMeta | undefined> {
    const current = await this.readMeta(bucket, key);
    if (current !== 'stale') return current;
    // written or replaced from outside the endpoint: rebuild the metadata from the bytes
    const path = this.objectPath(bucket, key);
    const md5 = createHash('md5');
    await pipeline(createReadStream(path), async function* (src: AsyncIterable<Buffer>) {
      for await (const chunk of src) md5.update(chunk);
    });
    const st = await stat(path);
    const old = await readJson<ObjectMeta>(this.metaPath(bucket, key));
    const meta: ObjectMeta = {
      key,
      etag: md5.digest('hex'),
      size: st.size,
      lastModified: st.mtime.toISOString(),
      contentType: old?.key === key ? old.contentType : 'binary/octet-stream',
      headers: {},
      userMetadata: {},
      ...(old?.key === key && old.sse ? { sse: old.sse } : {}),
      mtimeMs: st.mtimeMs,
    };
    await mkdir(join(this.metaPath(bucket, key), '..'), { recursive: true });
    await this.writeFileAtomic(this.metaPath(bucket, key), JSON.stringify(meta));
    return meta;
  }

  /** Streams a body into a temp file, hashing it (MD5 unless `md5: false`; plus the given checksums, and SHA-256 on request). */
  async writeTemp(src: Readable, algorithms: ChecksumAlgorithm[],
    opts: { sha256?: boolean; md5?: boolean; maxSize?: number } = {}): Promise<TempFile> {
    const path = join(this.tmpDir, randomBytes(16).toString('hex'));
    const md5 = opts.md5 ?? true ? createHasher('MD5') : undefined;
    const sha = opts.sha256 ? createHasher('SHA256') : undefined;
    const hashers = new Map(algorithms.map((a) => [a, createHasher(a)] as const));
    const maxSize = opts.maxSize ?? Number.MAX_SAFE_INTEGER;
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > maxSize) {
          cb(new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size'));
          return;
        }
        md5?.update(chunk);
        sha?.update(chunk);
        for (const h of hashers.values()) h.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(src, tap, createWriteStream(path));
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    }
    const digests = new Map<ChecksumAlgorithm, Buffer>();
    for (const [a, h] of hashers) digests.set(a, h.digest());
    return { path, size, md5: md5?.digest(), digests, sha256: sha?.digest() };
  }

  async discardTemp(tmp: TempFile | string): Promise<void> {
    await rm(typeof tmp === 'string' ? tmp : tmp.path, { force: true });
  }

  /**
   * Moves a temp file into place as the object and writes its metadata, atomically with respect
   * to other writers of the key. `check` sees the current object (or undefined) first and may
   * throw (preconditions). The temp file is removed on failure.
   */
  async commitObject(bucket: string, key: string, tmpPath: string, meta: NewObjectMeta,
    check?: (existing: ObjectMeta | undefined) => void): Promise<ObjectMeta> {
    const path = this.objectPath(bucket, key);
    try {
      return await this.locks.run(`${bucket}/${key}`, async () => {
        await this.requireBucket(bucket);
        if (check) check(await this.readOrRebuildMeta(bucket, key));
        await this.placeFile(key, tmpPath, path);
        const st = await stat(path);
        const full: ObjectMeta = { ...meta, key, size: st.size, lastModified: new Date(st.mtimeMs).toISOString(), mtimeMs: st.mtimeMs };
        await mkdir(join(this.metaPath(bucket, key), '..'), { recursive: true });
        await this.writeFileAtomic(this.metaPath(bucket, key), JSON.stringify(full));
        return full;
      });
    } finally {
      await rm(tmpPath, { force: true });
    }
  }

  private async placeFile(key: string, tmpPath: string, path: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(join(path, '..'), { recursive: true });
        await rename(tmpPath, path);
        return;
      } catch (e) {
        if (isErrno(e, 'ENOTDIR', 'EEXIST')) {
          throw invalidArgument(`The local S3 endpoint stores keys as files: a prefix of '${key}' is itself an object key`, 'key', key);
        }
        if (isErrno(e, 'EISDIR', 'ENOTEMPTY')) {
          throw invalidArgument(`The local S3 endpoint stores keys as files: '${key}' is a prefix of other keys in the bucket`, 'key', key);
        }
        // a concurrent delete pruned the (empty) parent folder: create it again
        if (isErrno(e, 'ENOENT') && attempt < 5) continue;
        throw e;
      }
    }
  }

  /** Deletes the object (no error when it does not exist); returns whether it existed. */
  async deleteObject(bucket: string, key: string): Promise<boolean> {
    const path = this.objectPath(bucket, key);
    return this.locks.run(`${bucket}/${key}`, async () => {
      let existed = true;
      try {
        const st = await stat(path);
        if (!st.isFile()) return false;
        await rm(path);
      } catch (e) {
        if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
        existed = false;
      }
      await rm(this.metaPath(bucket, key), { force: true });
      await this.pruneEmptyDirs(this.bucketPath(bucket), join(path, '..'));
      return existed;
    });
  }

  private async pruneEmptyDirs(stopAt: string, dir: string): Promise<void> {
    while (dir.length > stopAt.length && dir.startsWith(stopAt)) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = join(dir, '..');
    }
  }

  /**
   * Keys and common prefixes in UTF-8 byte order, strictly after `startAfter`. A folder walk that
   * sorts each folder's entries by name (sub-folders as `name/`) yields keys in byte order, so
   * pages start where the last one ended and skip whole folders below `startAfter`.
   */
  async *list(bucket: string, opts: { prefix?: string; delimiter?: string; startAfter?: string }): AsyncGenerator<ListEntry> {
    await this.requireBucket(bucket);
    const prefix = opts.prefix ?? '';
    const delimiter = opts.delimiter ?? '';
    const startAfter = opts.startAfter ?? '';
    const sa = Buffer.from(startAfter, 'utf8');
    let lastPrefix: string | undefined;
    const afterStart = (k: string) => Buffer.compare(Buffer.from(k, 'utf8'), sa) > 0;
    const skipDir = (p: string): boolean => {
      if (!(p.startsWith(prefix) || prefix.startsWith(p))) return true;
      if (lastPrefix !== undefined && p.startsWith(lastPrefix)) return true;
      // every key below p sorts before startAfter
      return !afterStart(p) && !startAfter.startsWith(p);
    };
    for await (const key of this.walk(this.bucketPath(bucket), '', skipDir)) {
      if (!key.startsWith(prefix) || !afterStart(key)) continue;
      if (delimiter) {
        const i = key.indexOf(delimiter, prefix.length);
        if (i !== -1) {
          const cp = key.slice(0, i + delimiter.length);
          if (cp === lastPrefix) continue;
          lastPrefix = cp;
          if (afterStart(cp)) yield { type: 'prefix', prefix: cp };
          continue;
        }
      }
      yield { type: 'key', key };
    }
  }

  private async *walk(dir: string, keyPrefix: string, skipDir: (p: string) => boolean): AsyncGenerator<string> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return;
      throw e;
    }
    const items: { name: string; isDir: boolean; sortKey: Buffer }[] = [];
    for (const e of entries) {
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const st = await stat(join(dir, e.name));
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch { continue; }
      }
      if (!isDir && !isFile) continue;
      items.push({ name: e.name, isDir, sortKey: Buffer.from(keyPrefix + e.name + (isDir ? '/' : ''), 'utf8') });
    }
    items.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    for (const it of items) {
      const full = keyPrefix + it.name;
      if (it.isDir) {
        if (skipDir(`${full}/`)) continue;
        yield* this.walk(join(dir, it.name), `${full}/`, skipDir);
      } else {
        yield full;
      }
    }
  }

  // ---------------------------------------------------------------- multipart uploads

  private uploadDir(uploadId: string): string {
    if (!/^[A-Za-z0-9_-]{8,128}$/.test(uploadId)) throw noSuchUpload(uploadId);
    return join(this.uploadsDir, uploadId);
  }

  async createUpload(info: Omit<UploadInfo, 'uploadId' | 'initiated'>): Promise<UploadInfo> {
    await this.requireBucket(info.bucket);
    this.objectPath(info.bucket, info.key);
    const uploadId = randomBytes(24).toString('base64url');
    const full: UploadInfo = { ...info, uploadId, initiated: new Date().toISOString() };
    await mkdir(this.uploadDir(uploadId), { recursive: true });
    await this.writeFileAtomic(join(this.uploadDir(uploadId), 'upload.json'), JSON.stringify(full));
    return full;
  }

  async getUpload(bucket: string, key: string, uploadId: string): Promise<UploadInfo> {
    const info = await readJson<UploadInfo>(join(this.uploadDir(uploadId), 'upload.json'));
    if (!info || info.bucket !== bucket || info.key !== key) throw noSuchUpload(uploadId);
    return info;
  }

  async listUploads(bucket: string): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    for (const id of await readdir(this.uploadsDir)) {
      const info = await readJson<UploadInfo>(join(this.uploadsDir, id, 'upload.json'));
      if (info && info.bucket === bucket) out.push(info);
    }
    return out;
  }

  async putPart(bucket: string, key: string, uploadId: string, partNumber: number, tmp: TempFile, checksum?: string): Promise<PartInfo> {
    const dir = this.uploadDir(uploadId);
    const name = `part-${String(partNumber).padStart(5, '0')}`;
    try {
      return await this.locks.run(`upload:${uploadId}`, async () => {
        await this.getUpload(bucket, key, uploadId);
        const part: PartInfo = { partNumber, etag: tmp.md5!.toString('hex'), size: tmp.size, lastModified: new Date().toISOString(), checksum };
        await rename(tmp.path, join(dir, name));
        await this.writeFileAtomic(join(dir, `${name}.json`), JSON.stringify(part));
        return part;
      });
    } finally {
      await rm(tmp.path, { force: true });
    }
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    await this.getUpload(bucket, key, uploadId);
    const parts: PartInfo[] = [];
    for (const f of await readdir(this.uploadDir(uploadId))) {
      if (!/^part-\d{5}\.json$/.test(f)) continue;
      const p = await readJson<PartInfo>(join(this.uploadDir(uploadId), f));
      if (p) parts.push(p);
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.locks.run(`upload:${uploadId}`, async () => {
      await this.getUpload(bucket, key, uploadId);
      await rm(this.uploadDir(uploadId), { recursive: true, force: true });
    });
  }

  /**
   * Concatenates the listed parts into the object. ETag: MD5 of the concatenated binary part MD5s,
   * then `-<number of parts>`. Checksum: composite (checksum of the part checksums, `-<n>`) unless
   * the upload asked for a FULL_OBJECT checksum.
   */
  async completeUpload(bucket: string, key: string, uploadId: string, requested: CompletePart[],
    check?: (existing: ObjectMeta | undefined) => void): Promise<ObjectMeta> {
    return this.locks.run(`upload:${uploadId}`, async () => {
      const upload = await this.getUpload(bucket, key, uploadId);
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
      const dir = this.uploadDir(uploadId);
      const names = parts.map((p) => join(dir, `part-${String(p.partNumber).padStart(5, '0')}`));
      // The ETag comes from the part MD5s: the concatenation itself needs no MD5.
      const tmp = await this.writeTemp(concatFiles(names), fullObject && alg ? [alg] : [], { md5: false });
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
      const meta = await this.commitObject(bucket, key, tmp.path,
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

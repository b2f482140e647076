/**
 * File-system storage of the local S3 endpoint.
 *
 * Layout (everything under `rootDir`):
 *   <bucket>/<key>                       the object's bytes, byte-exact (read directly by DuckDB)
 *   <metaDir>/<bucket>/bucket.json       bucket configuration (EventBridge flag, creation date)
 *   <metaDir>/<bucket>/objects.log       object metadata (ETag, content-type, x-amz-meta-*, checksum): an append-only log (store-meta-log.ts)
 *   <metaDir>/<bucket>/versions/                 versioned buckets: delete markers, noncurrent versions (store-versions.ts)
 *   .s3-tmp/                             temp files of uploads in progress (renamed into place)
 *   .s3-uploads/<uploadId>/              multipart uploads in progress
 * `metaDir` defaults to `<rootDir>/.s3-meta`. Bucket names never start with '.', so the hidden
 * folders cannot clash with a bucket.
 *
 * Writes go to a temp file that is renamed into place; the rename and the metadata record happen
 * under a per-key lock, so concurrent writers and readers always see a matching pair. A file put
 * into a bucket folder from outside (or replaced from outside) is served too: its metadata is
 * rebuilt (MD5 ETag) the first time it is read.
 *
 * Files: store-types.ts (records), store-meta-log.ts (object metadata), store-files.ts (locks, JSON files, atomic writes), store-walk.ts
 * (listing order), store-uploads.ts (multipart uploads), store-versions.ts (versioning), store-temp.ts
 * (receiving bodies).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ChecksumAlgorithm } from './checksums';
import { invalidArgument, noSuchBucket, S3Error } from './errors';
import { ifExists, isErrno, KeyedMutex, placeFile, pruneEmptyDirs, readJson, tempName, writeFileAtomic } from './store-files';
import { ObjectMetaLog } from './store-meta-log';
import { writeTempFile } from './store-temp';
import type { BucketConfig, DeleteResult, ListEntry, NewObjectMeta, ObjectMeta, TempFile, VersioningStatus } from './store-types';
import { UploadStore } from './store-uploads';
import { VersionStore } from './store-versions';
import { compareKeys, listKeys } from './store-walk';

export * from './store-types';
export { MIN_PART_SIZE } from './store-uploads';
export { compareKeys } from './store-walk';

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class S3Store {
  readonly metaDir: string;
  readonly tmpDir: string;
  /** Versions and delete markers of versioned buckets. */
  readonly versions: VersionStore;
  /** Multipart uploads in progress. */
  readonly uploads: UploadStore;
  private readonly uploadsDir: string;
  private readonly locks = new KeyedMutex();
  private readonly versioning = new Map<string, VersioningStatus | undefined>();
  /** Each bucket's object metadata, opened on first use. */
  private readonly metaLogs = new Map<string, ObjectMetaLog>();

  constructor(readonly rootDir: string, metaDir?: string) {
    this.metaDir = metaDir ?? join(rootDir, '.s3-meta');
    this.tmpDir = join(rootDir, '.s3-tmp');
    this.uploadsDir = join(rootDir, '.s3-uploads');
    this.uploads = new UploadStore(this, this.uploadsDir, this.tmpDir, this.locks);
    this.versions = new VersionStore({
      metaDir: this.metaDir,
      tmpDir: this.tmpDir,
      versioningOf: (b) => this.versioningOf(b),
      currentMeta: (b, k) => this.readOrRebuildMeta(b, k),
      objectPath: (b, k) => this.objectPath(b, k),
      removeCurrent: (b, k) => this.removeCurrent(b, k),
      placeCurrent: async (b, k, from, meta) => { await this.placeObject(b, k, from, meta); },
    });
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

  /** The bucket's object metadata (read from its log on first use). */
  private metaLog(bucket: string): ObjectMetaLog {
    let log = this.metaLogs.get(bucket);
    if (!log) {
      log = new ObjectMetaLog(join(this.bucketMetaDir(bucket), 'objects.log'), this.tmpDir).open();
      this.metaLogs.set(bucket, log);
    }
    return log;
  }


  // ---------------------------------------------------------------- buckets

  /** Whether the bucket's folder exists (checked on every request; synchronously, see readJson in store-files.ts). */
  async bucketExists(bucket: string): Promise<boolean> {
    try {
      return statSync(this.bucketPath(bucket), { throwIfNoEntry: false })?.isDirectory() ?? false;
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
    if (entries.length > 0 || await this.versions.hasVersions(bucket)) throw new S3Error('BucketNotEmpty', 409, 'The bucket you tried to delete is not empty', { BucketName: bucket });
    const uploads = await this.uploads.list(bucket);
    if (uploads.length > 0) throw new S3Error('BucketNotEmpty', 409, 'The bucket you tried to delete has multipart uploads in progress', { BucketName: bucket });
    await rmdir(this.bucketPath(bucket));
    this.metaLogs.get(bucket)?.close();
    this.metaLogs.delete(bucket);
    await rm(this.bucketMetaDir(bucket), { recursive: true, force: true });
    this.versioning.delete(bucket);
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

  /** The bucket's versioning status (undefined: never versioned); cached. */
  async versioningOf(bucket: string): Promise<VersioningStatus | undefined> {
    if (this.versioning.has(bucket)) return this.versioning.get(bucket);
    const status = (await this.getBucketConfig(bucket)).versioning;
    this.versioning.set(bucket, status);
    return status;
  }

  async updateBucketConfig(bucket: string, change: Partial<BucketConfig>): Promise<BucketConfig> {
    return this.locks.run(`bucket:${bucket}`, async () => {
      const cfg = { ...(await this.getBucketConfig(bucket)), ...change };
      await this.writeBucketConfig(bucket, cfg);
      this.versioning.set(bucket, cfg.versioning);
      return cfg;
    });
  }

  private async writeBucketConfig(bucket: string, cfg: BucketConfig): Promise<void> {
    await mkdir(this.bucketMetaDir(bucket), { recursive: true });
    await writeFileAtomic(this.tmpDir, join(this.bucketMetaDir(bucket), 'bucket.json'), JSON.stringify(cfg));
  }

  /** Closes the metadata logs' descriptors (a request after this opens them again). */
  close(): void {
    for (const log of this.metaLogs.values()) log.close();
    this.metaLogs.clear();
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
      const path = this.objectPath(bucket, key);
      return meta && ifExists(async () => ({ meta, handle: await open(path, 'r') }));
    });
  }

  /**
   * Opens the object for reading, consistently with its metadata; an object of at most `inlineBytes`
   * comes back read whole (`data`): a synchronous read of a few KB from the page cache costs less
   * than the thread-pool round trips of open, read and close.
   */
  async readObject(bucket: string, key: string, inlineBytes: number):
  Promise<{ meta: ObjectMeta; data: Buffer; handle?: undefined } | { meta: ObjectMeta; handle: FileHandle; data?: undefined } | undefined> {
    return this.locks.run(`${bucket}/${key}`, async () => {
      const meta = await this.readOrRebuildMeta(bucket, key);
      const path = this.objectPath(bucket, key);
      return meta && ifExists(async () => (meta.size <= inlineBytes ? { meta, data: readFileSync(path) } : { meta, handle: await open(path, 'r') }));
    });
  }

  /**
   * Metadata when it matches the data file; 'stale' when the data file exists without matching metadata.
   * A mismatch reads what other stores over the folder appended to the log first (see store-meta-log.ts).
   */
  private async readMeta(bucket: string, key: string): Promise<ObjectMeta | undefined | 'stale'> {
    // a synchronous stat (no thread-pool round trip) for the same reason as readJson
    const st = statSync(this.objectPath(bucket, key), { throwIfNoEntry: false });
    if (!st?.isFile()) return undefined;
    const log = this.metaLog(bucket);
    const matches = (m: ObjectMeta | undefined): m is ObjectMeta => m !== undefined && m.size === st.size && m.mtimeMs === st.mtimeMs;
    const meta = log.get(key);
    if (matches(meta)) return meta;
    if (log.refresh()) {
      const fresh = log.get(key);
      if (matches(fresh)) return fresh;
    }
    return 'stale';
  }

  private async readOrRebuildMeta(bucket: string, key: string): Promise<ObjectMeta | undefined> {
    const current = await this.readMeta(bucket, key);
    if (current !== 'stale') return current;
    // written or replaced from outside the endpoint: rebuild the metadata from the bytes
    const path = this.objectPath(bucket, key);
    const md5 = createHash('md5');
    for await (const chunk of createReadStream(path)) md5.update(chunk as Buffer);
    const st = await stat(path);
    const old = this.metaLog(bucket).get(key);
    const meta: ObjectMeta = {
      key,
      etag: md5.digest('hex'),
      size: st.size,
      lastModified: st.mtime.toISOString(),
      contentType: old?.contentType ?? 'binary/octet-stream',
      headers: {},
      userMetadata: {},
      ...(old?.sse ? { sse: old.sse } : {}),
      mtimeMs: st.mtimeMs,
    };
    this.writeMeta(bucket, meta);
    return meta;
  }

  private writeMeta(bucket: string, meta: ObjectMeta): void {
    this.metaLog(bucket).set(meta);
  }

  /** Streams a body into a temp file, hashing it (MD5 unless `md5: false`; plus the given checksums, and SHA-256 on request). */
  async writeTemp(src: Readable, algorithms: ChecksumAlgorithm[],
    opts: { sha256?: boolean; md5?: boolean; maxSize?: number } = {}): Promise<TempFile> {
    return writeTempFile(join(this.tmpDir, tempName()), src, algorithms, opts);
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
    this.objectPath(bucket, key);
    try {
      return await this.locks.run(`${bucket}/${key}`, async () => {
        await this.requireBucket(bucket);
        // the current object, read once for the precondition and for versioning
        const known = check ? { current: await this.readOrRebuildMeta(bucket, key) } : undefined;
        if (check) check(known!.current);
        const version = await this.versions.beforeWrite(bucket, key, known);
        const versionId = version.versionId !== undefined ? { versionId: version.versionId } : {};
        return this.placeObject(bucket, key, tmpPath, { ...meta, ...versionId }, version.undo);
      });
    } catch (e) {
      // the temp file is left when the placement failed (temp names are unique: removing a moved one is a no-op)
      await rm(tmpPath, { force: true });
      throw e;
    }
  }

  /**
   * Moves `from` into place as the data file of `key` and writes its metadata: `fields` with the
   * key and the file's mtime, and the file's size and mtime as `size` and `lastModified` unless
   * `fields` has them (a promoted version keeps its own). `undo` runs when the move fails.
   */
  private async placeObject(bucket: string, key: string, from: string,
    fields: NewObjectMeta & Partial<Pick<ObjectMeta, 'size' | 'lastModified' | 'versionId'>>,
    undo?: () => Promise<void>): Promise<ObjectMeta> {
    const path = this.objectPath(bucket, key);
    try {
      await placeFile(key, from, path);
    } catch (e) {
      await undo?.();
      throw e;
    }
    // the rename keeps the file's size and mtime; a stat is a few microseconds synchronously
    const st = statSync(path);
    const meta: ObjectMeta = { size: st.size, lastModified: new Date(st.mtimeMs).toISOString(), ...fields, key, mtimeMs: st.mtimeMs };
    this.writeMeta(bucket, meta);
    return meta;
  }

  /**
   * DeleteObject as S3 applies it: on a versioned bucket a delete marker (no `versionId`) or the
   * removal of one version; else the object is removed.
   */
  async deleteVersion(bucket: string, key: string, versionId?: string): Promise<DeleteResult> {
    this.objectPath(bucket, key);
    return this.locks.run(`${bucket}/${key}`, () => this.versions.delete(bucket, key, versionId));
  }

  /** Runs `fn` under the key's lock (reads of one version consistent with its writers). */
  async withKey<T>(bucket: string, key: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(`${bucket}/${key}`, fn);
  }

  private async removeCurrent(bucket: string, key: string): Promise<boolean> {
    const path = this.objectPath(bucket, key);
    let existed = true;
    try {
      if (!(await stat(path)).isFile()) return false;
      await rm(path);
    } catch (e) {
      if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
      existed = false;
    }
    this.metaLog(bucket).delete(key);
    await pruneEmptyDirs(this.bucketPath(bucket), join(path, '..'));
    return existed;
  }

  /** Keys and common prefixes in UTF-8 byte order, strictly after `startAfter` (see store-walk.ts). */
  async *list(bucket: string, opts: { prefix?: string; delimiter?: string; startAfter?: string }): AsyncGenerator<ListEntry> {
    await this.requireBucket(bucket);
    yield* listKeys(this.bucketPath(bucket), opts);
  }
}

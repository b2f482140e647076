/**
 * S3 Versioning in the local store (S3 User Guide, "Using versioning in S3 buckets", "Working with
 * delete markers", "Deleting object versions from a versioning-enabled bucket").
 *
 * The current version of a key stays where an unversioned object lives (`<bucket>/<key>`, read
 * directly by DuckDB, its metadata in the bucket's metadata log with its `versionId`). Everything else is
 * in the key's version index, `<metaDir>/<bucket>/versions/<hh>/<sha256(key)>.json`: the current
 * delete marker, if any, and the noncurrent versions newest first, whose bytes are kept in
 * `<metaDir>/<bucket>/versions/<hh>/<sha256(key)>/<versionId>`. An unversioned bucket has no index.
 *
 * Every method here runs under the key's lock (taken by the caller, S3Store).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument, S3Error } from './errors';
import { isErrno, openIfExists, pruneEmptyDirs, shardPath } from './store-files';
import type { ArchivedObject, DeleteMarker, DeleteResult, ObjectMeta, VersionIndex, VersioningStatus } from './store-types';
import { VersionIndexFiles } from './store-versions-index';

/** What the store gives the versions module (its unlocked primitives). */
export interface VersionHost {
  readonly metaDir: string;
  readonly tmpDir: string;
  versioningOf(bucket: string): Promise<VersioningStatus | undefined>;
  /** The current object's metadata (rebuilt when written from outside), unlocked. */
  currentMeta(bucket: string, key: string): Promise<ObjectMeta | undefined>;
  objectPath(bucket: string, key: string): string;
  /** Removes the current data file and its metadata, unlocked; whether it existed. */
  removeCurrent(bucket: string, key: string): Promise<boolean>;
  /** Moves a file into place as the current data file of `key` and writes its metadata. */
  placeCurrent(bucket: string, key: string, path: string, meta: ObjectMeta): Promise<void>;
}

/** A version found by id. */
export type FoundVersion =
  | { kind: 'object'; meta: ObjectMeta; path: string; current: boolean }
  | { kind: 'marker'; marker: DeleteMarker; current: boolean };

/** A new S3-like version id: 32 URL-safe characters. */
export function newVersionId(): string {
  return randomBytes(24).toString('base64url');
}

const invalidVersion = (versionId: string) => invalidArgument('Invalid version id specified', 'versionId', versionId);

export class VersionStore {
  private readonly indexes: VersionIndexFiles;

  constructor(private readonly host: VersionHost) {
    this.indexes = new VersionIndexFiles(host.tmpDir);
  }

  private base(bucket: string, key: string): string {
    return shardPath(this.host.metaDir, bucket, 'versions', key);
  }

  private archivePath(bucket: string, key: string, versionId: string): string {
    return join(this.base(bucket, key), versionId);
  }

  /** The key's version index (empty when it has none). Read-only: callers build a new index to change it. */
  async readIndex(bucket: string, key: string): Promise<VersionIndex> {
    const idx = this.indexes.read(`${this.base(bucket, key)}.json`);
    return idx && idx.key === key ? idx : { key, older: [] };
  }

  private async writeIndex(bucket: string, key: string, idx: VersionIndex): Promise<void> {
    const path = `${this.base(bucket, key)}.json`;
    if (isEmpty(idx)) {
      this.indexes.forget(path);
      await rm(path, { force: true });
      await rm(this.base(bucket, key), { recursive: true, force: true });
      // The key's shard folder too, when it is now empty: hasVersions reads `versions/` as "the bucket has versions".
      await pruneEmptyDirs(join(this.host.metaDir, bucket), join(path, '..'));
      return;
    }
    await this.indexes.write(path, idx);
  }

  /** Whether the bucket holds any noncurrent version or delete marker (a bucket with versions is not empty). */
  async hasVersions(bucket: string): Promise<boolean> {
    try {
      return (await readdir(join(this.host.metaDir, bucket, 'versions'))).length > 0;
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return false;
      throw e;
    }
  }

  /**
   * The version indexes of the keys under `prefix` that have one (a current delete marker or
   * noncurrent versions), by key. Reads every index of the bucket: ListObjectVersions only.
   */
  async indexesUnder(bucket: string, prefix: string): Promise<Map<string, VersionIndex>> {
    const dir = join(this.host.metaDir, bucket, 'versions');
    const out = new Map<string, VersionIndex>();
    let shards: string[];
    try {
      shards = await readdir(dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return out;
      throw e;
    }
    for (const shard of shards) {
      for (const name of await readdir(join(dir, shard)).catch(() => [] as string[])) {
        if (!name.endsWith('.json')) continue;
        const idx = this.indexes.read(join(dir, shard, name));
        if (idx && idx.key.startsWith(prefix) && !isEmpty(idx)) out.set(idx.key, idx);
      }
    }
    return out;
  }

  /** The current delete marker of a key (undefined when the key has a current object or nothing). */
  async currentMarker(bucket: string, key: string): Promise<DeleteMarker | undefined> {
    if (!(await this.host.versioningOf(bucket))) return undefined;
    return (await this.readIndex(bucket, key)).marker;
  }

  /**
   * Before a new current version is placed: the current object (and a current delete marker) become
   * noncurrent; with versioning Suspended the `null` version is replaced instead. Returns the new
   * version's id (undefined on an unversioned bucket) and an undo for a placement that failed.
   * `known.current` is the current object when the caller has already read it. The index is only
   * written when it changes: a new key (no index before, none after) costs no file operation here.
   */
  async beforeWrite(bucket: string, key: string, known?: { current: ObjectMeta | undefined }):
  Promise<{ versionId?: string; undo: () => Promise<void> }> {
    const status = await this.host.versioningOf(bucket);
    if (!status) return { undo: async () => undefined };
    const before = await this.readIndex(bucket, key);
    const { idx, linked } = await this.retireCurrent(bucket, key, status, before, known);
    const changed = !isEmpty(before) || !isEmpty(idx);
    if (changed) await this.writeIndex(bucket, key, idx);
    return {
      versionId: status === 'Enabled' ? newVersionId() : 'null',
      undo: async () => {
        if (linked) await rm(linked, { force: true });
        if (changed) await this.writeIndex(bucket, key, before);
      },
    };
  }

  /**
   * The index with the current version moved to the noncurrent list (its data file hard-linked
   * into the versions folder: the data file itself is replaced or removed by the caller).
   */
  private async retireCurrent(bucket: string, key: string, status: VersioningStatus, before: VersionIndex,
    known?: { current: ObjectMeta | undefined }): Promise<{ idx: VersionIndex; linked?: string }> {
    const idx: VersionIndex = { key, older: [...before.older] };
    const suspended = status === 'Suspended';
    if (before.marker && !(suspended && before.marker.versionId === 'null')) idx.older.unshift(before.marker);
    const current = known ? known.current : await this.host.currentMeta(bucket, key);
    let linked: string | undefined;
    if (current && !(suspended && (current.versionId ?? 'null') === 'null')) {
      const versionId = current.versionId ?? 'null';
      linked = this.archivePath(bucket, key, versionId);
      await keepBytes(this.host.objectPath(bucket, key), linked);
      const archived: ArchivedObject = { ...current, versionId };
      idx.older.unshift(archived);
    }
    if (suspended) {
      // the new version (or delete marker) is the `null` version: an older `null` version is gone for good
      if (idx.older.some((v) => v.versionId === 'null' && !v.deleteMarker)) await rm(this.archivePath(bucket, key, 'null'), { force: true });
      idx.older = idx.older.filter((v) => v.versionId !== 'null');
    }
    return { idx, linked };
  }

  /**
   * DeleteObject on a versioned bucket. Without `versionId`: a new delete marker becomes current
   * (Suspended: the `null` version is replaced by a `null` marker). With one: that version is
   * removed for good, and when it was current the newest remaining version becomes current.
   */
  async delete(bucket: string, key: string, versionId: string | undefined): Promise<DeleteResult> {
    const status = await this.host.versioningOf(bucket);
    if (!status) {
      if (versionId !== undefined && versionId !== 'null') throw invalidVersion(versionId);
      return { changed: await this.host.removeCurrent(bucket, key), deleteMarker: false, deletionType: 'Permanently Deleted' };
    }
    const before = await this.readIndex(bucket, key);
    if (versionId === undefined) {
      const { idx } = await this.retireCurrent(bucket, key, status, before);
      const marker: DeleteMarker = { versionId: status === 'Enabled' ? newVersionId() : 'null', lastModified: new Date().toISOString(), deleteMarker: true };
      idx.marker = marker;
      await this.writeIndex(bucket, key, idx);
      await this.host.removeCurrent(bucket, key);
      return { changed: true, versionId: marker.versionId, deleteMarker: true, deletionType: 'Delete Marker Created' };
    }
    const found = await this.find(bucket, key, versionId, before);
    if (!found) return { changed: false, versionId, deleteMarker: false, deletionType: 'Permanently Deleted' };
    const idx: VersionIndex = { key, marker: before.marker, older: before.older.filter((v) => v.versionId !== versionId) };
    if (found.current) {
      if (found.kind === 'object') await this.host.removeCurrent(bucket, key);
      else idx.marker = undefined;
      await this.promote(bucket, key, idx);
    } else if (found.kind === 'object') {
      await rm(found.path, { force: true });
    }
    await this.writeIndex(bucket, key, idx);
    return { changed: true, versionId, deleteMarker: found.kind === 'marker', deletionType: 'Permanently Deleted' };
  }

  /** The newest noncurrent version becomes current (its bytes move back to the data file). */
  private async promote(bucket: string, key: string, idx: VersionIndex): Promise<void> {
    const next = idx.older.shift();
    if (!next) return;
    if (next.deleteMarker) {
      idx.marker = next;
      return;
    }
    await this.host.placeCurrent(bucket, key, this.archivePath(bucket, key, next.versionId), next);
  }

  /** The version `versionId` of a key, current or not; undefined when there is none. */
  async find(bucket: string, key: string, versionId: string, idx?: VersionIndex): Promise<FoundVersion | undefined> {
    const status = await this.host.versioningOf(bucket);
    const current = await this.host.currentMeta(bucket, key);
    if (current && (current.versionId ?? 'null') === versionId) {
      return { kind: 'object', meta: current, path: this.host.objectPath(bucket, key), current: true };
    }
    if (!status) {
      if (versionId !== 'null') throw invalidVersion(versionId);
      return undefined;
    }
    const index = idx ?? await this.readIndex(bucket, key);
    if (index.marker?.versionId === versionId) return { kind: 'marker', marker: index.marker, current: true };
    const v = index.older.find((o) => o.versionId === versionId);
    if (!v) return undefined;
    if (v.deleteMarker) return { kind: 'marker', marker: v, current: false };
    return { kind: 'object', meta: v, path: this.archivePath(bucket, key, versionId), current: false };
  }

  /** Opens a found object version (undefined when its file is gone). */
  async open(found: { path: string }): Promise<FileHandle | undefined> {
    return openIfExists(found.path);
  }
}

/**
 * Hard-links a data file into the versions folder as `to` (copies it across file systems), replacing
 * a file left there. The link comes first: the folder and an old file are only dealt with when it fails.
 */
async function keepBytes(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await link(from, to);
      return;
    } catch (e) {
      if (isErrno(e, 'EXDEV', 'EPERM', 'ENOTSUP')) {
        await copyFile(from, to);
        return;
      }
      if (attempt >= 3 || !isErrno(e, 'EEXIST', 'ENOENT')) throw e;
      if (isErrno(e, 'EEXIST')) await rm(to, { force: true });
      else await mkdir(join(to, '..'), { recursive: true });
    }
  }
}

/** An index with neither a current delete marker nor noncurrent versions (not kept on disk). */
function isEmpty(idx: VersionIndex): boolean {
  return !idx.marker && idx.older.length === 0;
}

/** 405 MethodNotAllowed: GET or HEAD of a version that is a delete marker (API reference, GetObject). */
export function markerNotAllowed(marker: DeleteMarker, method: string): S3Error {
  return new S3Error('MethodNotAllowed', 405, 'The specified method is not allowed against this resource.',
    { Method: method, ResourceType: 'DeleteMarker' },
    { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId, 'Last-Modified': new Date(marker.lastModified).toUTCString(), 'Allow': 'DELETE' });
}

/** 404 NoSuchVersion: a version id the key does not have. */
export function noSuchVersion(key: string, versionId: string): S3Error {
  return new S3Error('NoSuchVersion', 404, 'The specified version does not exist.', { Key: key, VersionId: versionId });
}

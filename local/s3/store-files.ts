/** File-system primitives of the local S3 store: per-key locks, JSON files (bucket configuration, version indexes), atomic writes. */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, open as openCb, readFileSync, statSync, writeSync, type Stats } from 'node:fs';
import { mkdir, open, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { invalidArgument } from './errors';

export function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

/** Runs async sections one at a time per key. */
export class KeyedMutex {
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
 * Reads a small JSON file (bucket configuration, upload and part records). Synchronously on purpose:
 * they are a few hundred bytes, and an async readFile costs ~1 ms each (thread-pool round trips for
 * open/fstat/read/close) against ~0.05 ms for the synchronous call.
 */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR') || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/**
 * The path of a key in one of a bucket's metadata folders: `<metaDir>/<bucket>/<kind>/<hh>/<sha256(key)>`
 * (`hh` the hash's first two hex digits); `versions` is the base of its version index (store-versions.ts).
 */
export function shardPath(metaDir: string, bucket: string, kind: 'versions', key: string): string {
  const h = createHash('sha256').update(key, 'utf8').digest('hex');
  return join(metaDir, bucket, kind, h.slice(0, 2), h);
}

/** `fn`'s result, or undefined when the file it reads is not there (ENOENT, ENOTDIR, EISDIR). */
export async function ifExists<T>(fn: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
    throw e;
  }
}

/** Opens a file for reading; undefined when it is not there. */
export function openIfExists(path: string): Promise<FileHandle | undefined> {
  return ifExists(() => open(path, 'r'));
}

const openFd = promisify(openCb);

/**
 * Writes a small file (a body of at most a few hundred KiB, a JSON record): the open, which creates the
 * file and can wait on a busy disk, runs on the thread pool; the write into the page cache and the close
 * run inline. That is one thread-pool round trip instead of three (open, write, close), each of which
 * costs the main thread tens of microseconds and usually a context switch. `flag` as for fs.open
 * (`wx`: the file must not exist). A failed write leaves the file to the caller to remove.
 */
export async function writeSmallFile(path: string, data: string | Buffer, flag = 'w'): Promise<void> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = await openFd(path, flag, 0o666);
  try {
    for (let done = 0; done < buf.length;) done += writeSync(fd, buf, done, buf.length - done);
  } finally {
    closeSync(fd);
  }
}

/** A random prefix per process, then a counter: temp file names unique without a random draw each. */
const TEMP_PREFIX = randomBytes(8).toString('hex');
let tempSeq = 0;

/** A fresh name for a file in the store's temp folder. */
export function tempName(ext = ''): string {
  tempSeq++;
  return `${TEMP_PREFIX}-${tempSeq.toString(36)}${ext}`;
}

/**
 * Writes a small JSON file: `data` to a temp file in `tmpDir`, then renamed to `path` (creating its
 * folder when missing), so a reader sees the old or the new content, never a part. Asynchronously:
 * creating a file can wait on the disk for milliseconds when the machine is busy.
 */
export async function writeFileAtomic(tmpDir: string, path: string, data: string): Promise<Stats> {
  const tmp = join(tmpDir, tempName('.json'));
  try {
    await writeSmallFile(tmp, data);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // Taken before the rename, which keeps inode, size and mtime: what `path` is while no other writer replaces it
  // (a stat after the rename could already see another process's file).
  const written = statSync(tmp);
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(tmp, path);
      return written;
    } catch (e) {
      if (!isErrno(e, 'ENOENT') || attempt >= 5) {
        await rm(tmp, { force: true });
        throw e;
      }
      await mkdir(join(path, '..'), { recursive: true });
    }
  }
}

/** Removes empty folders from `dir` up to (not including) `stopAt`. */
export async function pruneEmptyDirs(stopAt: string, dir: string): Promise<void> {
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
 * Renames a temp file into place as the data file of `key`. The rename comes first: the folder
 * usually exists, so the mkdir is only paid for a key in a new folder.
 */
export async function placeFile(key: string, tmpPath: string, path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (attempt > 0) await mkdir(join(path, '..'), { recursive: true });
      await rename(tmpPath, path);
      return;
    } catch (e) {
      if (isErrno(e, 'ENOTDIR', 'EEXIST')) {
        throw invalidArgument(`The local S3 endpoint stores keys as files: a prefix of '${key}' is itself an object key`, 'key', key);
      }
      if (isErrno(e, 'EISDIR', 'ENOTEMPTY')) {
        throw invalidArgument(`The local S3 endpoint stores keys as files: '${key}' is a prefix of other keys in the bucket`, 'key', key);
      }
      // the folder does not exist yet, or a concurrent delete pruned it: create it
      if (isErrno(e, 'ENOENT') && attempt < 5) continue;
      throw e;
    }
  }
}

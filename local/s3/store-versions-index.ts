/**
 * The version index files of a store, and their cache. A key overwritten again and again in a
 * versioned bucket (a coordination ticket updated once per file) gathers one noncurrent version per
 * write; were its whole index read, parsed, serialized and written on every write, N writes would
 * cost O(N²). So:
 *
 * - the index file (`<hash>.json`) holds the key, the current delete marker and the newest noncurrent
 *   versions (`older`); older ones are sealed, SEAL_SIZE at a time, into chunk files that are never
 *   changed (`<hash>/older-<id>.json`, newest first, listed newest chunk first in `chunks`). A new
 *   version rewrites the index file only; a change below the sealed boundary (a version deleted by
 *   id, the `null` version replaced) writes new chunks, then the index, then removes the old chunks.
 * - an index stays parsed in memory while its file is the one read or written (same inode, size and
 *   mtime: every write renames a new file into place), so an index written by another process, or
 *   another store over the same folder, is read again. Each entry's JSON is computed once.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno, tempName, writeFileAtomic, writeSmallFile } from './store-files';
import type { VersionIndex } from './store-types';

/** Versions per sealed chunk; the index file holds fewer than twice as many. */
export const SEAL_SIZE = 100;
/** Indexes, and versions in them, kept in memory (the least recently used go first beyond either). */
const MAX_CACHED = 1000;
const MAX_CACHED_VERSIONS = 100_000;

type Entry = VersionIndex['older'][number];

/** The index file's content: a VersionIndex whose oldest versions are in the chunks it names. */
interface StoredIndex { key: string; marker?: VersionIndex['marker']; older: Entry[]; chunks?: string[] }

interface Cached {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly idx: VersionIndex;
  /** The chunk files, newest first, and how many of `idx.older` (its tail) they hold. */
  readonly chunks: string[];
  readonly sealed: number;
}

const sameFile = (a: Cached, st: Stats) => a.ino === st.ino && a.size === st.size && a.mtimeMs === st.mtimeMs;

export class VersionIndexFiles {
  private readonly byPath = new Map<string, Cached>();
  private readonly json = new WeakMap<object, string>();
  /** The versions of the cached indexes. */
  private versions = 0;

  constructor(private readonly tmpDir: string) {}

  /**
   * The index stored at `path` (`<base>.json`); undefined when there is none (or it cannot be read).
   * Shared with the cache: callers never change it (VersionStore builds a new index to change one).
   */
  read(path: string): VersionIndex | undefined {
    for (let attempt = 0; attempt < 3; attempt++) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st) {
        this.forget(path);
        return undefined;
      }
      const cached = this.byPath.get(path);
      if (cached && sameFile(cached, st)) return this.touch(path, cached).idx;
      try {
        const stored = parse(readFileSync(path, 'utf8'));
        if (!stored) return undefined;
        const chunks = stored.chunks ?? [];
        const tail = chunks.flatMap((c) => JSON.parse(readFileSync(join(chunkDir(path), c), 'utf8')) as Entry[]);
        const idx: VersionIndex = { key: stored.key, marker: stored.marker, older: [...stored.older, ...tail] };
        // the stat of the index file read: when it was replaced meanwhile, the next read reads it again
        this.touch(path, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, idx, chunks, sealed: tail.length });
        return idx;
      } catch (e) {
        // replaced while being read (a chunk it named is gone): read the new one
        if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
      }
    }
    return undefined;
  }

  /** Writes a non-empty index to `path`, sealing what it can and keeping the chunks it still shares. */
  async write(path: string, idx: VersionIndex): Promise<void> {
    const cached = this.byPath.get(path);
    let chunks: string[] = [];
    let sealed = 0;
    const obsolete: string[] = [];
    if (cached && cached.sealed > 0) {
      if (sharesTail(idx.older, cached.idx.older, cached.sealed)) {
        ({ chunks, sealed } = cached);
      } else {
        obsolete.push(...cached.chunks);
      }
    }
    // seal the oldest unsealed versions while the index file would hold too many
    while (idx.older.length - sealed >= 2 * SEAL_SIZE) {
      const from = idx.older.length - sealed - SEAL_SIZE;
      const name = `older-${tempName('.json')}`;
      await writeChunk(join(chunkDir(path), name), this.list(idx.older.slice(from, from + SEAL_SIZE)));
      chunks = [name, ...chunks];
      sealed += SEAL_SIZE;
    }
    const head = idx.older.slice(0, idx.older.length - sealed);
    const marker = idx.marker ? `,"marker":${this.entry(idx.marker)}` : '';
    const named = chunks.length > 0 ? `,"chunks":${JSON.stringify(chunks)}` : '';
    // Cached under the stat of the file we wrote (taken before its rename): if another process replaces it, the
    // next read sees another inode and reads that file.
    const st = await writeFileAtomic(this.tmpDir, path, `{"key":${JSON.stringify(idx.key)}${marker},"older":${this.list(head)}${named}}`);
    this.touch(path, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, idx, chunks, sealed });
    for (const c of obsolete) await rm(join(chunkDir(path), c), { force: true });
  }

  /** Forgets an index removed from disk (its chunks go with its folder). */
  forget(path: string): void {
    const c = this.byPath.get(path);
    if (c) this.drop(path, c);
  }

  private entry(v: object): string {
    let s = this.json.get(v);
    if (s === undefined) {
      s = JSON.stringify(v);
      this.json.set(v, s);
    }
    return s;
  }

  private list(entries: Entry[]): string {
    return `[${entries.map((v) => this.entry(v)).join(',')}]`;
  }

  private touch(path: string, c: Cached): Cached {
    this.forget(path);
    this.byPath.set(path, c);
    this.versions += c.idx.older.length;
    while (this.byPath.size > 1 && (this.byPath.size > MAX_CACHED || this.versions > MAX_CACHED_VERSIONS)) {
      const [oldest, entry] = this.byPath.entries().next().value!;
      this.drop(oldest, entry);
    }
    return c;
  }

  private drop(path: string, c: Cached): void {
    this.byPath.delete(path);
    this.versions -= c.idx.older.length;
  }
}

/** The folder of a key's chunks: its versions folder (`<base>`, beside `<base>.json`). */
function chunkDir(indexPath: string): string {
  return indexPath.slice(0, -'.json'.length);
}

/** Whether the last `n` versions of `next` are those of `prev` (the sealed ones, unchanged). */
function sharesTail(next: Entry[], prev: Entry[], n: number): boolean {
  if (next.length < n) return false;
  for (let i = 1; i <= n; i++) if (next[next.length - i] !== prev[prev.length - i]) return false;
  return true;
}

/** Writes a chunk file (a new name each time: never replaced, so needs no temp file). */
async function writeChunk(path: string, data: string): Promise<void> {
  try {
    await writeSmallFile(path, data, 'wx');
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
    await mkdir(join(path, '..'), { recursive: true });
    await writeSmallFile(path, data, 'wx');
  }
}

function parse(text: string): StoredIndex | undefined {
  try {
    const idx = JSON.parse(text) as StoredIndex;
    return idx && typeof idx.key === 'string' && Array.isArray(idx.older) ? idx : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The version indexes of a store, kept parsed in memory. A key overwritten again and again in a
 * versioned bucket (a coordination ticket updated once per file) gathers one noncurrent version per
 * write, and every write reads and rewrites its whole index: parsing and serializing it each time
 * made the writes of N versions cost O(N²). A cached index is used only while its file is the one
 * it was read from or written to (same inode, size and mtime: every write renames a new file into
 * place), so an index written by another process, or another store over the same folder, is read
 * again. Each version entry is serialized once and its JSON reused in every later write.
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { isErrno } from './store-files';
import type { VersionIndex } from './store-types';

/** Indexes kept (the least recently read or written go first beyond it). */
const MAX_CACHED = 1000;

interface Cached { readonly ino: number; readonly size: number; readonly mtimeMs: number; readonly idx: VersionIndex }

const sameFile = (a: Cached, st: Stats) => a.ino === st.ino && a.size === st.size && a.mtimeMs === st.mtimeMs;

export class IndexCache {
  private readonly byPath = new Map<string, Cached>();
  /** The JSON of each version entry (entries are never changed: a changed index is a new one). */
  private readonly json = new WeakMap<object, string>();

  /**
   * The index stored at `path`; undefined when there is none (or it cannot be parsed). Shared with
   * the cache: callers never change it (VersionStore builds a new index, with new arrays, to change one).
   */
  read(path: string): VersionIndex | undefined {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) {
      this.byPath.delete(path);
      return undefined;
    }
    const cached = this.byPath.get(path);
    if (cached && sameFile(cached, st)) return this.touch(path, cached).idx;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    }
    try {
      // the stat of the file read (it may have been replaced since the stat above)
      const opened = fstatSync(fd);
      const idx = parse(readFileSync(fd, 'utf8'));
      if (idx) this.keep(path, opened, idx);
      return idx;
    } finally {
      closeSync(fd);
    }
  }

  /** Records the index just written to `path`. */
  written(path: string, idx: VersionIndex): void {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st) this.keep(path, st, idx);
    else this.byPath.delete(path);
  }

  forget(path: string): void {
    this.byPath.delete(path);
  }

  /** The index as JSON (as JSON.stringify writes it, each entry's JSON computed once). */
  serialize(idx: VersionIndex): string {
    const entry = (v: object) => {
      let s = this.json.get(v);
      if (s === undefined) {
        s = JSON.stringify(v);
        this.json.set(v, s);
      }
      return s;
    };
    const marker = idx.marker ? `,"marker":${entry(idx.marker)}` : '';
    return `{"key":${JSON.stringify(idx.key)}${marker},"older":[${idx.older.map(entry).join(',')}]}`;
  }

  private keep(path: string, st: Stats, idx: VersionIndex): void {
    this.touch(path, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, idx });
  }

  private touch(path: string, c: Cached): Cached {
    this.byPath.delete(path);
    this.byPath.set(path, c);
    if (this.byPath.size > MAX_CACHED) this.byPath.delete(this.byPath.keys().next().value!);
    return c;
  }
}

function parse(text: string): VersionIndex | undefined {
  try {
    const idx = JSON.parse(text) as VersionIndex;
    return idx && typeof idx.key === 'string' && Array.isArray(idx.older) ? idx : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Listing of the local S3 store: the keys of a bucket folder in S3's order (UTF-8 bytes). A folder
 * walk that sorts each folder's entries by name (sub-folders as `name/`) yields keys in byte order,
 * so a page starts where the last one ended and skips whole folders below its start.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from './store-files';
import type { ListEntry } from './store-types';

/** Byte-wise (UTF-8) comparison, the order S3 lists keys in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Keys and common prefixes of the bucket folder `bucketDir` in UTF-8 byte order, strictly after `startAfter`. */
export async function* listKeys(bucketDir: string, opts: { prefix?: string; delimiter?: string; startAfter?: string }): AsyncGenerator<ListEntry> {
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
  for await (const key of walk(bucketDir, '', skipDir)) {
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

async function* walk(dir: string, keyPrefix: string, skipDir: (p: string) => boolean): AsyncGenerator<string> {
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
      yield* walk(join(dir, it.name), `${full}/`, skipDir);
    } else {
      yield full;
    }
  }
}

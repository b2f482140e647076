/** The run's input: the data files of the `<YYYY-MM-DD>/` snapshot folders of --data. */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { SkippedFile } from './result';
import { isDataKey } from '../../lambda-src/lib/keys';

/** One data file of a snapshot folder. */
export interface SnapshotFile { readonly snapshot: string; readonly path: string; readonly rel: string }

/** Lists `<dataDir>/<YYYY-MM-DD>/**` data files (sorted by key). */
export function listSnapshotFiles(dataDir: string): SnapshotFile[] {
  return walkSnapshotFolders(dataDir).data;
}

/**
 * One walk of `<dataDir>/<YYYY-MM-DD>/**` (sorted): the data files (isDataKey, as the runtime) and the files
 * that are not data files (the event rule would not match them either).
 */
export function walkSnapshotFolders(dataDir: string): { data: SnapshotFile[]; skipped: SkippedFile[] } {
  const data: SnapshotFile[] = [];
  const skipped: SkippedFile[] = [];
  for (const snapshot of readdirSync(dataDir).sort()) {
    const dir = join(dataDir, snapshot);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(snapshot) || !statSync(dir).isDirectory()) continue;
    const walk = (d: string) => {
      for (const name of readdirSync(d).sort()) {
        const p = join(d, name);
        const rel = relative(dataDir, p).split(sep).join('/');
        if (statSync(p).isDirectory()) walk(p);
        else if (isDataKey(name)) data.push({ snapshot, path: p, rel });
        else skipped.push({ path: rel, reason: name.startsWith('.medlaunch-elt-') ? 'medlaunch-elt bookkeeping' : 'not a data file (.jsonl, .ndjson, .json, optionally .gz)' });
      }
    };
    walk(dir);
  }
  return { data, skipped };
}

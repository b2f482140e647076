/**
 * What a query scanned: DuckDB's JSON profile names the files each scan read, so
 * DataScannedInBytes is the size of the partitions a query actually read, and the workgroup's
 * bytes-scanned cutoff cancels a query over it, as Athena does.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Execution } from '../execution';
import type { QueryEngine } from './executor';
import { quoteString } from './sql-text';

/** The files a query's views may read, grouped by UNION ALL branch (one scan each). */
export interface ScanCandidates {
  groupOf: Map<string, number>;
  groups: Array<{ files: number; bytes: number }>;
}

/** Turns on DuckDB's JSON profiling for the next statement (it names every file each scan read). */
export async function startProfile(engine: QueryEngine, ex: Execution): Promise<string> {
  const dir = join(engine.ctx.opts.workDir, 'profiles');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${ex.id}.json`);
  await engine.exec(ex, 'PRAGMA enable_profiling = \'json\'');
  await engine.exec(ex, `SET profiling_output = ${quoteString(file)}`);
  return file;
}

/**
 * Turns profiling off and sets DataScannedInBytes to the bytes of the files the scans actually
 * read: each scan is one UNION ALL branch (a partition), which DuckDB drops when the query's
 * filters exclude it; the profile names (the first few of) the files of each scan that ran.
 * Without a readable profile, every file the views could read counts. A query over the
 * workgroup's cutoff is cancelled, as Athena does.
 */
export async function endProfile(engine: QueryEngine, ex: Execution, profile: string, candidates: ScanCandidates): Promise<void> {
  await engine.conn.run('PRAGMA disable_profiling');
  let bytes = 0;
  try {
    const scanned = new Set<number>();
    const walk = (node: { extra_info?: Record<string, unknown>; children?: unknown[] }): void => {
      const names = node.extra_info?.['Filename(s)'];
      if (typeof names === 'string') {
        const first = names.split(', ')[0].trim();
        const group = candidates.groupOf.get(first);
        if (group === undefined) throw new Error(`profile names an unknown file ${first}`);
        const total = Number(node.extra_info?.['Total Files Read'] ?? NaN);
        if (total !== candidates.groups[group].files) throw new Error('a scan read part of a partition');
        scanned.add(group);
      }
      for (const c of node.children ?? []) walk(c as typeof node);
    };
    walk(JSON.parse(readFileSync(profile, 'utf8')));
    for (const g of scanned) bytes += candidates.groups[g].bytes;
  } catch {
    bytes = candidates.groups.reduce((a, g) => a + g.bytes, 0);
  } finally {
    rmSync(profile, { force: true });
  }
  ex.dataScanned = bytes;
  const cutoff = engine.ctx.workGroups.get(ex.workGroup)?.bytesScannedCutoffPerQuery;
  if (cutoff !== undefined && bytes > cutoff) {
    ex.cancelRequested = true;
    ex.cancelReason = `Bytes scanned limit was exceeded: the query scanned ${bytes} bytes, the workgroup allows ${cutoff} per query`;
  }
}

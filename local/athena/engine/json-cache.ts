/**
 * Columnar copies of JSON data files (`jsonCache`, docs/local-athena.md): the first query that
 * reads a JSON file copies it into Parquet under `<workDir>/json-cache/` with the table's own
 * reader; later queries read the copy while the file version (inode, size, mtime) is unchanged.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { GlueTableInput } from './catalog';
import type { DataFile } from './partitions';
import { jsonToParquetSql } from './relation';

export class JsonCopies {
  /** JSON data file path → its columnar copy for the file version it was made from; no path: the copy failed. */
  private readonly copies = new Map<string, { version: string; path: string | undefined }>();

  constructor(private readonly workDir: string) {}

  /**
   * The columnar copy of each JSON file, made now (with `exec`) for files without a current one.
   * The copy is written under a temporary name and renamed, so a failed or cancelled copy leaves
   * nothing. A file that cannot be copied (malformed JSON) gets no copy: its partition is read as
   * JSON, so the query fails exactly when, and as, reading the JSON fails — and a query that
   * prunes that partition is unaffected, as in Athena. A failure while `cancelled()` is rethrown.
   */
  async of(table: GlueTableInput, dataFiles: DataFile[], exec: (sql: string) => Promise<void>,
    cancelled: () => boolean): Promise<Map<string, string>> {
    const dir = join(this.workDir, 'json-cache');
    const out = new Map<string, string>();
    for (const f of dataFiles) {
      const have = this.copies.get(f.path);
      if (have?.version === f.version) {
        if (have.path === undefined) continue; // this version could not be copied: read as JSON
        if (existsSync(have.path)) {
          out.set(f.path, have.path);
          continue;
        }
      }
      mkdirSync(dir, { recursive: true });
      const target = join(dir, `${createHash('sha1').update(`${table.Name}\0${f.path}\0${f.version}`).digest('hex')}.parquet`);
      const tmp = `${target}.tmp`;
      let made = false;
      try {
        await exec(jsonToParquetSql(table, f.path, tmp));
        renameSync(tmp, target);
        made = true;
      } catch (e) {
        if (cancelled()) throw e;
      } finally {
        rmSync(tmp, { force: true });
      }
      if (have?.path !== undefined && have.path !== target) rmSync(have.path, { force: true });
      this.copies.set(f.path, { version: f.version, path: made ? target : undefined });
      if (made) out.set(f.path, target);
    }
    return out;
  }
}

/**
 * An UNLOAD: DuckDB `COPY` into a temporary folder, then every file uploaded under the TO location
 * (`<prefix>[<col>=<value>/]<queryId>_<nnnnn>[.gz]`) and the manifest written to the output location.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Execution } from '../execution';
import { viaAthena } from './access';
import { parseS3Uri } from './catalog';
import { QueryError, transpileOrFail, writeDenied } from './errors';
import type { QueryEngine } from './executor';
import { listDataFiles } from './partitions';
import { putResult } from './s3-writer';
import { endProfile, startProfile } from './scan-stats';
import { parseUnload, quoteIdent, quoteString } from './sql-text';

export async function runUnload(engine: QueryEngine, ex: Execution, sql: string): Promise<void> {
  const { ctx } = engine;
  let stmt;
  try { stmt = parseUnload(sql); } catch (e) { throw new QueryError(`SYNTAX_ERROR: ${(e as Error).message}`, 2, 1000); }
  const props = stmt.properties;
  const format = String(props.format ?? 'TEXTFILE').toUpperCase();
  const compression = String(props.compression ?? (format === 'PARQUET' ? 'GZIP' : 'GZIP')).toUpperCase();
  let target;
  try { target = parseS3Uri(stmt.location); } catch (e) { throw new QueryError(`INVALID_INPUT: ${(e as Error).message}`, 2, 1000); }
  const prefix = target.key === '' || target.key.endsWith('/') ? target.key : `${target.key}/`;
  const dirOnDisk = join(ctx.opts.s3.rootDir, target.bucket, prefix);
  // Athena lists the target to check that it is empty.
  const listDenied = viaAthena(ctx, ex, 's3:ListBucket', `arn:aws:s3:::${target.bucket}`, { 's3:prefix': prefix, 's3:delimiter': '/' });
  if (listDenied) throw writeDenied(target.bucket, prefix, listDenied.message);
  if (existsSync(dirOnDisk) && hasAnyFile(dirOnDisk)) {
    throw new QueryError(`HIVE_PATH_ALREADY_EXISTS: Target directory for table '${ex.database}.tmp_unload' already exists: ${stmt.location}. You may need to manually clean the data at location '${stmt.location}' before retrying. Athena will not delete data in your account.`, 2, 1000);
  }
  const candidates = await engine.prepareTables(ex, stmt.query);
  const inner = transpileOrFail(stmt.query);
  const tmp = join(ctx.opts.workDir, 'unload', ex.id);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const partitionedBy = Array.isArray(props.partitioned_by) ? props.partitioned_by : [];
  const copyOpts: string[] = [];
  let ext = '';
  if (format === 'PARQUET') {
    const codec: Record<string, string> = { SNAPPY: 'snappy', GZIP: 'gzip', ZSTD: 'zstd', NONE: 'uncompressed', UNCOMPRESSED: 'uncompressed', LZ4: 'lz4' };
    if (!codec[compression]) throw new QueryError(`INVALID_TABLE_PROPERTY: unsupported Parquet compression ${compression}`, 2, 1000);
    copyOpts.push('FORMAT PARQUET', `COMPRESSION ${codec[compression]}`);
  } else if (format === 'JSON' || format === 'TEXTFILE') {
    const gz = compression === 'GZIP';
    if (!gz && compression !== 'NONE') throw new QueryError(`INVALID_TABLE_PROPERTY: unsupported ${format} compression ${compression}`, 2, 1000);
    if (format === 'JSON') copyOpts.push('FORMAT JSON');
    else copyOpts.push('FORMAT CSV', 'HEADER false', `DELIMITER ${quoteString(String(props.field_delimiter ?? '\u0001'))}`, 'QUOTE \'\'');
    copyOpts.push(`COMPRESSION ${gz ? 'gzip' : 'none'}`);
    ext = gz ? '.gz' : '';
  } else {
    throw new QueryError(`NOT_SUPPORTED: UNLOAD format ${format} is not supported by the local Athena (PARQUET, JSON, TEXTFILE)`, 2, 1000);
  }
  if (partitionedBy.length > 0) copyOpts.push(`PARTITION_BY (${partitionedBy.map(quoteIdent).join(', ')})`, 'WRITE_PARTITION_COLUMNS false');
  const profile = await startProfile(engine, ex);
  try {
    await engine.exec(ex, `COPY (${inner}) TO ${quoteString(partitionedBy.length > 0 ? tmp : join(tmp, 'part'))} (${copyOpts.join(', ')})`);
  } finally {
    await endProfile(engine, ex, profile, candidates);
  }
  if (ex.cancelRequested) { rmSync(tmp, { recursive: true, force: true }); return; }
  const written: string[] = [];
  try {
    let n = 0;
    for (const f of [...listDataFiles(tmp), ...listEmptyFiles(tmp)]) {
      const rel = relative(tmp, f.path).split('/').slice(0, -1).join('/');
      const key = `${prefix}${rel ? `${rel}/` : ''}${ex.id}_${String(n++).padStart(5, '0')}${ext}`;
      await putResult(ctx, ex, target.bucket, key, { file: f.path }, 'application/octet-stream');
      written.push(`s3://${target.bucket}/${key}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const out = parseS3Uri(ex.outputLocation);
  await putResult(ctx, ex, out.bucket, `${out.key}${ex.id}-manifest.csv`, { data: Buffer.from(written.map((w) => `${w}\n`).join('')) }, 'text/csv');
}

function hasAnyFile(dir: string): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile()) return true;
    if (e.isDirectory() && hasAnyFile(join(dir, e.name))) return true;
  }
  return false;
}

/** Zero-byte files DuckDB may write (listDataFiles skips empty files). */
function listEmptyFiles(dir: string): Array<{ path: string; size: number }> {
  const out: Array<{ path: string; size: number }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listEmptyFiles(p));
    else if (e.isFile() && statSync(p).size === 0) out.push({ path: p, size: 0 });
  }
  return out;
}

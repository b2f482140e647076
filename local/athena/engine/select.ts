/**
 * A SELECT: its rows streamed into Athena's result CSV (`<OutputLocation><id>.csv` and its
 * `.csv.metadata`, uploaded through the S3 API) and into the rows file GetQueryResults pages.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBType } from '@duckdb/node-api';
import type { Execution } from '../execution';
import { parseS3Uri } from './catalog';
import { QueryError, transpileOrFail } from './errors';
import type { QueryEngine } from './executor';
import { columnInfo, csvLine, formatValue } from './results';
import { putResult } from './s3-writer';
import { endProfile, startProfile } from './scan-stats';

export async function runSelect(engine: QueryEngine, ex: Execution, sql: string): Promise<void> {
  const candidates = await engine.prepareTables(ex, sql);
  const duck = transpileOrFail(sql);
  const dir = join(engine.ctx.opts.workDir, 'results');
  mkdirSync(dir, { recursive: true });
  const csvPath = join(dir, `${ex.id}.csv`);
  const rowsPath = join(dir, `${ex.id}.rows.jsonl`);
  const profile = await startProfile(engine, ex);
  let result;
  try {
    if (ex.cancelRequested) throw new QueryError('cancelled', 2);
    result = await engine.conn.stream(duck);
  } catch (e) {
    await engine.conn.run('PRAGMA disable_profiling');
    throw e;
  }
  const names = result.columnNames();
  const types: DuckDBType[] = result.columnTypes();
  ex.columns = names.map((n, i) => columnInfo(n, types[i]));
  const csv = createWriteStream(csvPath);
  const rows = createWriteStream(rowsPath);
  const write = async (stream: NodeJS.WritableStream, text: string): Promise<void> => {
    if (!stream.write(text)) await once(stream, 'drain');
  };
  try {
    await write(csv, csvLine(names));
    await write(rows, JSON.stringify(names) + '\n');
    for await (const chunk of result.yieldRowsJson()) {
      if (ex.cancelRequested) throw new QueryError('cancelled', 2);
      let csvText = '';
      let rowText = '';
      for (const row of chunk) {
        const values = row.map((v, i) => formatValue(v, types[i]));
        csvText += csvLine(values);
        rowText += JSON.stringify(values) + '\n';
      }
      await write(csv, csvText);
      await write(rows, rowText);
    }
  } finally {
    await Promise.all([new Promise((r) => csv.end(r)), new Promise((r) => rows.end(r))]);
    await endProfile(engine, ex, profile, candidates);
  }
  if (ex.cancelRequested) return;
  ex.rowsFile = rowsPath;
  const { bucket, key } = parseS3Uri(ex.outputLocation);
  await putResult(engine.ctx, ex, bucket, `${key}${ex.id}.csv`, { file: csvPath }, 'text/csv');
  const metadata = JSON.stringify({ QueryExecutionId: ex.id, ResultSetMetadata: { ColumnInfo: ex.columns } });
  await putResult(engine.ctx, ex, bucket, `${key}${ex.id}.csv.metadata`, { data: Buffer.from(metadata) }, 'application/octet-stream');
  rmSync(csvPath, { force: true });
}

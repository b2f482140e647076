/**
 * How a registered table's files are read: the DuckDB relation of a table (NDJSON through read_json
 * with pinned column types, Parquet through read_parquet, CSV through read_csv), one UNION ALL branch
 * per partition, and the columnar copy of a JSON file.
 */
import { GlueTableInput, hiveToDuckDbType } from './catalog';
import { DataFile, TableGroup, tableLayout } from './partitions';
import { SqlTextError, quoteIdent, quoteString } from './sql-text';

/** How a table's files are read. */
export function tableFormat(table: GlueTableInput): 'json' | 'parquet' | 'csv' {
  const sd = table.StorageDescriptor ?? {};
  const serde = (sd.SerdeInfo?.SerializationLibrary ?? '').toLowerCase();
  const input = (sd.InputFormat ?? '').toLowerCase();
  const cls = (table.Parameters?.classification ?? '').toLowerCase();
  if (serde.includes('parquet') || input.includes('parquet') || cls === 'parquet') return 'parquet';
  if (serde.includes('json') || cls === 'json') return 'json';
  if (serde.includes('lazysimpleserde') || serde.includes('opencsvserde') || cls === 'csv') return 'csv';
  throw new SqlTextError(`table ${table.Name}: unsupported SerDe '${sd.SerdeInfo?.SerializationLibrary ?? ''}'`);
}

/** The partition value as a typed SQL literal. */
function partitionLiteral(value: string, hiveType: string): string {
  const t = hiveToDuckDbType(hiveType);
  return `CAST(${quoteString(value)} AS ${t})`;
}

export interface TableRelation {
  /** `SELECT …` giving the table's rows (data columns, partition columns, optionally "$path"). */
  readonly sql: string;
  /** Every file of the table the relation covers. */
  readonly files: DataFile[];
  /** The files of each UNION ALL branch (one scan each: a partition, or the whole table). */
  readonly groups: DataFile[][];
  /** The files each branch's scan opens: the group's files, or their columnar copies (jsonCache). */
  readonly scans: string[][];
}

/** The name of the column that carries each row's source file (becomes "$path"). */
export const FILE_COLUMN = '__athena_file__';

function columnsOf(table: GlueTableInput): Array<{ name: string; type: string }> {
  return (table.StorageDescriptor?.Columns ?? []).map((c) => ({ name: c.Name, type: hiveToDuckDbType(c.Type) }));
}

/** `['a', 'b']`: a file list for DuckDB's readers. */
function pathListSql(paths: string[]): string {
  return `[${paths.map((p) => quoteString(p)).join(', ')}]`;
}

/** `{'name': 'TYPE', …}`: the pinned column types for read_json / read_csv. */
function columnTypesSql(table: GlueTableInput): string {
  return `{${columnsOf(table).map((c) => `${quoteString(c.name)}: ${quoteString(c.type)}`).join(', ')}}`;
}

/**
 * The DuckDB reader of a JSON table's files: read_json with the Glue columns as pinned types, the
 * source file in FILE_COLUMN, and `ignore.malformed.json` honoured.
 */
export function jsonReaderSql(table: GlueTableInput, paths: string[]): string {
  const serdeParams = table.StorageDescriptor?.SerdeInfo?.Parameters ?? {};
  const ignore = (serdeParams['ignore.malformed.json'] ?? '').toLowerCase() === 'true';
  const columns = columnsOf(table);
  if (ignore || !columns.some((c) => INTEGER_TYPES.has(c.type))) {
    return `read_json(${pathListSql(paths)}, columns = ${columnTypesSql(table)}, format = 'newline_delimited', filename = ${quoteString(FILE_COLUMN)}${ignore ? ', ignore_errors = true' : ''})`;
  }
  // Top-level integer columns are read as raw JSON and converted the way the OpenX JSON SerDe reads them
  // (Integer.parseInt of the literal): an integer literal, or a string holding one, is read; a literal with a
  // fraction or an exponent (4230.0, 1e3), a boolean, an array or an object fails the whole query with
  // HIVE_BAD_DATA, as in Athena. DuckDB alone would read 4230.0 and 1e3 as 4230 and 1000
  // (docs/cloud-fidelity.md). A value out of the column's range fails the cast, as in Athena.
  const types = `{${columns.map((c) => `${quoteString(c.name)}: ${quoteString(INTEGER_TYPES.has(c.type) ? 'JSON' : c.type)}`).join(', ')}}`;
  const select = columns.map((c) => {
    const col = quoteIdent(c.name);
    if (!INTEGER_TYPES.has(c.type)) return col;
    const text = `json_extract_string(${col}, '$')`;
    const bad = `error('HIVE_BAD_DATA: Error parsing field value ' || CAST(${col} AS VARCHAR) || ' for field ' || ${quoteString(c.name)} || ': not an integer literal')`;
    return `CASE WHEN ${col} IS NULL OR json_type(${col}) = 'NULL' THEN NULL ` +
      `WHEN json_type(${col}) IN ('UBIGINT', 'BIGINT') THEN CAST(${col} AS ${c.type}) ` +
      `WHEN json_type(${col}) = 'VARCHAR' AND regexp_full_match(${text}, '[+-]?[0-9]+') THEN CAST(${text} AS ${c.type}) ` +
      `ELSE CAST(${bad} AS ${c.type}) END AS ${col}`;
  });
  return `(SELECT ${[...select, quoteIdent(FILE_COLUMN)].join(', ')} FROM read_json(${pathListSql(paths)}, columns = ${types}, format = 'newline_delimited', filename = ${quoteString(FILE_COLUMN)}))`;
}

/** DuckDB types of the Hive integer types, whose JSON values jsonReaderSql checks as the OpenX SerDe does. */
const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT']);

/**
 * `COPY` of one JSON file into a Parquet file with the same columns (types pinned by the Glue
 * schema) plus FILE_COLUMN: the columnar copy a JSON table reads instead of re-parsing the file.
 */
export function jsonToParquetSql(table: GlueTableInput, source: string, target: string): string {
  const cols = columnsOf(table).map((c) => quoteIdent(c.name));
  return `COPY (SELECT ${[...cols, quoteIdent(FILE_COLUMN)].join(', ')} FROM ${jsonReaderSql(table, [source])}) TO ${quoteString(target)} (FORMAT parquet)`;
}

export interface TableRelationOptions {
  /** The files to read (default: listed now with tableLayout). */
  readonly layout?: TableGroup[];
  /**
   * JSON tables: the columnar copy of a data file (by path; see jsonToParquetSql). A branch whose
   * files all have one reads the copies; else it parses the JSON files.
   */
  readonly jsonCache?: ReadonlyMap<string, string>;
  readonly now?: Date;
}

/**
 * The SQL relation of a table over its files on disk: a UNION ALL of one branch per partition (so
 * DuckDB prunes partitions by a filter on the partition column), with `"$path"` as `s3://bucket/key`
 * when asked for. An empty location gives an empty, typed relation.
 */
export function tableRelation(table: GlueTableInput, rootDir: string, withPath: boolean, opts: TableRelationOptions = {}): TableRelation {
  const columns = columnsOf(table);
  const partKeys = table.PartitionKeys ?? [];
  const format = tableFormat(table);
  const serdeParams = table.StorageDescriptor?.SerdeInfo?.Parameters ?? {};
  const colList = columns.map((c) => quoteIdent(c.name)).join(', ');
  const fileCol = FILE_COLUMN;
  const root = rootDir.replace(/\/+$/, '');
  const pathExpr = `'s3://' || substr(${fileCol}, ${root.length + 2})`;
  /** Parquet files: the data files themselves (file = read_parquet's filename) or JSON copies (file stored in FILE_COLUMN). */
  const parquet = (paths: string[], copies: boolean): string => {
    const cast = columns.map((c) => `CAST(${quoteIdent(c.name)} AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ');
    const file = copies ? quoteIdent(fileCol) : 'filename';
    return `(SELECT ${cast}, ${file} AS ${fileCol} FROM read_parquet(${pathListSql(paths)}${copies ? '' : ', filename = true'}, union_by_name = true))`;
  };
  const reader = (files: DataFile[]): { sql: string; scan: string[] } => {
    const paths = files.map((f) => f.path);
    if (format === 'parquet') return { sql: parquet(paths, false), scan: paths };
    if (format === 'csv') {
      const delim = serdeParams['field.delim'] ?? serdeParams.separatorChar ?? ',';
      return {
        sql: `read_csv(${pathListSql(paths)}, columns = ${columnTypesSql(table)}, delim = ${quoteString(delim)}, header = ${table.Parameters?.['skip.header.line.count'] === '1'}, filename = ${quoteString(fileCol)})`,
        scan: paths,
      };
    }
    const copies = opts.jsonCache ? paths.map((p) => opts.jsonCache!.get(p)) : [];
    if (copies.length > 0 && copies.every((c) => c !== undefined)) return { sql: parquet(copies as string[], true), scan: copies as string[] };
    return { sql: jsonReaderSql(table, paths), scan: paths };
  };
  const select = (from: string, partValues: string[]): string => {
    const parts = partKeys.map((k, i) => `${partitionLiteral(partValues[i], k.Type)} AS ${quoteIdent(k.Name)}`);
    const cols = [colList, ...parts, ...(withPath ? [`${pathExpr} AS "$path"`] : [])].filter((x) => x !== '').join(', ');
    return `SELECT ${cols} FROM ${from}`;
  };
  const layout = opts.layout ?? tableLayout(table, rootDir, opts.now);
  const branches: string[] = [];
  const scans: string[][] = [];
  for (const g of layout) {
    const r = reader(g.files);
    branches.push(select(r.sql, g.values));
    scans.push(r.scan);
  }
  const groups = layout.map((g) => g.files);
  const allFiles = groups.flat();
  if (branches.length === 0) {
    const cols = [
      ...columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`),
      ...partKeys.map((k) => `CAST(NULL AS ${hiveToDuckDbType(k.Type)}) AS ${quoteIdent(k.Name)}`),
      ...(withPath ? ['CAST(NULL AS VARCHAR) AS "$path"'] : []),
    ];
    return { sql: `SELECT ${cols.join(', ')} WHERE false`, files: [], groups: [], scans: [] };
  }
  return { sql: branches.join('\nUNION ALL\n'), files: allFiles, groups, scans };
}

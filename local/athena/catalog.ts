/**
 * The local Glue catalog of the local Athena: tables registered from the resolved CloudFormation
 * `AWS::Glue::Table` TableInput, read straight from the local S3 files on disk (NDJSON through
 * DuckDB's read_json with pinned column types, Parquet through read_parquet), partition projection
 * through the table's location template.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SqlTextError, quoteIdent, quoteString } from './sql-text';

/** The CloudFormation `AWS::Glue::Table` TableInput (resolved). */
export interface GlueTableInput {
  Name: string;
  TableType?: string;
  Parameters?: Record<string, string>;
  PartitionKeys?: Array<{ Name: string; Type: string; Comment?: string }>;
  StorageDescriptor?: {
    Columns?: Array<{ Name: string; Type: string; Comment?: string }>;
    Location?: string;
    InputFormat?: string;
    OutputFormat?: string;
    Compressed?: boolean;
    SerdeInfo?: { SerializationLibrary?: string; Parameters?: Record<string, string> };
  };
}

export interface RegisteredTable {
  readonly database: string;
  readonly input: GlueTableInput;
}

/** Splits a comma-separated type list at depth 0 (inside struct<…>, array<…>, map<…>, decimal(…)). */
function splitTopLevel(s: string, sep = ','): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '<' || c === '(') depth++;
    if (c === '>' || c === ')') depth--;
    if (c === sep && depth === 0) { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  if (cur.trim() !== '') out.push(cur);
  return out.map((x) => x.trim());
}

/** The DuckDB type of a Hive/Glue column type string. */
export function hiveToDuckDbType(hive: string): string {
  const t = hive.trim();
  const lower = t.toLowerCase();
  const inner = (prefix: string): string => t.slice(prefix.length, -1);
  if (lower.startsWith('array<') && lower.endsWith('>')) return `${hiveToDuckDbType(inner('array<'))}[]`;
  if (lower.startsWith('map<') && lower.endsWith('>')) {
    const [k, v] = splitTopLevel(inner('map<'));
    return `MAP(${hiveToDuckDbType(k)}, ${hiveToDuckDbType(v)})`;
  }
  if (lower.startsWith('struct<') && lower.endsWith('>')) {
    const fields = splitTopLevel(inner('struct<')).map((f) => {
      const colon = f.indexOf(':');
      if (colon <= 0) throw new SqlTextError(`malformed struct field '${f}' in type ${hive}`);
      return `${quoteIdent(f.slice(0, colon).trim())} ${hiveToDuckDbType(f.slice(colon + 1))}`;
    });
    return `STRUCT(${fields.join(', ')})`;
  }
  const dec = /^decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(lower);
  if (dec) return `DECIMAL(${dec[1]}, ${dec[2]})`;
  if (/^(varchar|char)\s*\(\s*\d+\s*\)$/.test(lower)) return 'VARCHAR';
  const simple: Record<string, string> = {
    string: 'VARCHAR',
    varchar: 'VARCHAR',
    char: 'VARCHAR',
    int: 'INTEGER',
    integer: 'INTEGER',
    bigint: 'BIGINT',
    smallint: 'SMALLINT',
    tinyint: 'TINYINT',
    double: 'DOUBLE',
    float: 'FLOAT',
    boolean: 'BOOLEAN',
    date: 'DATE',
    timestamp: 'TIMESTAMP',
    binary: 'BLOB',
    decimal: 'DECIMAL(10, 0)',
  };
  const hit = simple[lower];
  if (!hit) throw new SqlTextError(`unsupported Hive type '${hive}'`);
  return hit;
}

/** An `s3://bucket/key` URI as its parts. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new SqlTextError(`'${uri}' is not an s3:// URI`);
  return { bucket: m[1], key: m[2] };
}

/** Hidden objects (Athena/Hive ignore names starting with `_` or `.`, and `$folder$` markers). */
function hidden(name: string): boolean {
  return name.startsWith('_') || name.startsWith('.') || name.endsWith('$folder$');
}

export interface DataFile {
  readonly path: string;
  readonly size: number;
  /** Identifies this version of the file: inode, size and mtime (an overwrite changes it). */
  readonly version: string;
}

/** Every visible data file below a folder, recursively, in key order. */
export function listDataFiles(dir: string): DataFile[] {
  const out: DataFile[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (hidden(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) {out.push(...listDataFiles(p));} else if (e.isFile()) {
      const st = statSync(p);
      if (st.size > 0) out.push({ path: p, size: st.size, version: `${st.ino}-${st.size}-${st.mtimeMs}` });
    }
  }
  return out;
}

/** A partition: its key values (in PartitionKeys order) and its folder on disk. */
export interface Partition {
  readonly values: string[];
  readonly dir: string;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Converts a Java date pattern (projection.<col>.format) to a regex and a checker. */
function javaDatePattern(format: string): RegExp {
  const parts: Record<string, string> = { yyyy: '(\\d{4})', MM: '(\\d{2})', dd: '(\\d{2})', HH: '(\\d{2})', mm: '(\\d{2})', ss: '(\\d{2})' };
  let re = '';
  for (let i = 0; i < format.length;) {
    const tok = Object.keys(parts).find((k) => format.startsWith(k, i));
    if (tok) { re += parts[tok]; i += tok.length; } else { re += escapeRe(format[i]); i++; }
  }
  return new RegExp(`^${re}$`);
}

function toIsoDay(value: string, format: string): string | undefined {
  const m = javaDatePattern(format).exec(value);
  if (!m) return undefined;
  const order = ['yyyy', 'MM', 'dd'].map((k) => format.indexOf(k));
  const fields = ['yyyy', 'MM', 'dd', 'HH', 'mm', 'ss'].filter((k) => format.includes(k)).sort((a, b) => format.indexOf(a) - format.indexOf(b));
  const get = (k: string): string | undefined => m[fields.indexOf(k) + 1];
  if (order.some((o) => o < 0)) return undefined;
  const iso = `${get('yyyy')}-${get('MM')}-${get('dd')}`;
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso) return undefined;
  return iso;
}

function rangeBound(text: string, format: string, now: Date): string | undefined {
  const t = text.trim();
  const rel = /^NOW(?:\s*([+-])\s*(\d+)\s*(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?))?$/i.exec(t);
  if (rel) {
    const d = new Date(now.getTime());
    if (rel[1]) {
      const n = Number(rel[2]) * (rel[1] === '-' ? -1 : 1);
      const unit = rel[3].toUpperCase().replace(/S$/, '');
      if (unit === 'YEAR') d.setUTCFullYear(d.getUTCFullYear() + n);
      else if (unit === 'MONTH') d.setUTCMonth(d.getUTCMonth() + n);
      else if (unit === 'WEEK') d.setUTCDate(d.getUTCDate() + 7 * n);
      else if (unit === 'DAY') d.setUTCDate(d.getUTCDate() + n);
      else if (unit === 'HOUR') d.setUTCHours(d.getUTCHours() + n);
      else if (unit === 'MINUTE') d.setUTCMinutes(d.getUTCMinutes() + n);
      else d.setUTCSeconds(d.getUTCSeconds() + n);
    }
    return d.toISOString().slice(0, 10);
  }
  return toIsoDay(t, format);
}

/** Whether a partition value is inside the table's projection for that column. */
export function projectionAccepts(params: Record<string, string>, column: string, value: string, now = new Date()): boolean {
  const p = (k: string): string | undefined => params[`projection.${column}.${k}`];
  const type = (p('type') ?? '').toLowerCase();
  if (type === 'date') {
    const format = p('format') ?? 'yyyy-MM-dd';
    const iso = toIsoDay(value, format);
    if (!iso) return false;
    const range = p('range');
    if (!range) return true;
    const [lo, hi] = range.split(',');
    const l = rangeBound(lo ?? '', format, now);
    const h = rangeBound(hi ?? '', format, now);
    return (!l || iso >= l) && (!h || iso <= h);
  }
  if (type === 'integer') {
    if (!/^-?\d+$/.test(value)) return false;
    const [lo, hi] = (p('range') ?? '').split(',').map(Number);
    const v = Number(value);
    return (Number.isNaN(lo) || v >= lo) && (Number.isNaN(hi) || v <= hi);
  }
  if (type === 'enum') return (p('values') ?? '').split(',').map((s) => s.trim()).includes(value);
  return true; // injected: any value
}

/** Lists a table's partitions on disk (projection template, or Hive `key=value/` folders). */
export function listPartitions(table: GlueTableInput, rootDir: string, now = new Date()): Partition[] {
  const keys = (table.PartitionKeys ?? []).map((k) => k.Name);
  if (keys.length === 0) return [];
  const params = table.Parameters ?? {};
  const location = table.StorageDescriptor?.Location ?? '';
  const projection = (params['projection.enabled'] ?? '').toLowerCase() === 'true';
  let template = projection ? params['storage.location.template'] : undefined;
  if (!template) {
    const base = location.endsWith('/') ? location : `${location}/`;
    template = base + keys.map((k) => `${k}=\${${k}}`).join('/') + '/';
  }
  const { bucket, key } = parseS3Uri(template);
  const segments = key.split('/').filter((s) => s !== '');
  const results: Partition[] = [];
  const walk = (dir: string, depth: number, values: Record<string, string>): void => {
    if (depth === segments.length) {
      if (keys.every((k) => values[k] !== undefined)) results.push({ values: keys.map((k) => values[k]), dir });
      return;
    }
    const seg = segments[depth];
    if (!seg.includes('${')) { walk(join(dir, seg), depth + 1, values); return; }
    const names: string[] = [];
    const re = new RegExp('^' + seg.split(/(\$\{[^}]+\})/).map((part) => {
      const m = /^\$\{([^}]+)\}$/.exec(part);
      if (m) { names.push(m[1]); return '(.+?)'; }
      return escapeRe(part);
    }).join('') + '$');
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (hidden(e.name)) continue;
      const m = re.exec(e.name);
      if (!m) continue;
      const next = { ...values };
      let ok = true;
      names.forEach((n, idx) => {
        let v = m[idx + 1];
        try { v = decodeURIComponent(v); } catch { /* keep raw */ }
        if (next[n] !== undefined && next[n] !== v) ok = false;
        next[n] = v;
        if (projection && !projectionAccepts(params, n, v, now)) ok = false;
      });
      if (ok) walk(join(dir, e.name), depth + 1, next);
    }
  };
  walk(join(rootDir, bucket), 0, {});
  return results;
}

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

/** One UNION ALL branch of a table: a partition (or the whole unpartitioned table) and its files. */
export interface TableGroup {
  readonly values: string[];
  readonly files: DataFile[];
}

/** A table's files on disk right now, by partition (empty partitions left out). */
export function tableLayout(table: GlueTableInput, rootDir: string, now = new Date()): TableGroup[] {
  if ((table.PartitionKeys ?? []).length === 0) {
    const { bucket, key } = parseS3Uri(table.StorageDescriptor?.Location ?? '');
    const files = listDataFiles(join(rootDir, bucket, key));
    return files.length > 0 ? [{ values: [], files }] : [];
  }
  return listPartitions(table, rootDir, now)
    .map((part) => ({ values: part.values, files: listDataFiles(part.dir) }))
    .filter((g) => g.files.length > 0);
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

/**
 * The local Glue catalog of the local Athena: the tables registered from the resolved CloudFormation
 * `AWS::Glue::Table` TableInput, and their Hive column types in DuckDB's terms. Where a table's files
 * are lies in ./partitions, how they are read in ./relation.
 */
import { SqlTextError, quoteIdent } from './sql-text';

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

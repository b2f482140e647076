/**
 * Result formatting of the local Athena: Athena column type names, value text as Athena renders it
 * (GetQueryResults VarCharValue and the CSV in the output location), CSV lines, and paged reading
 * of the stored rows.
 */
import { open } from 'node:fs/promises';
import { DuckDBType, DuckDBTypeId, Json } from '@duckdb/node-api';

/** Athena ColumnInfo of one result column. */
export interface AthenaColumnInfo {
  CatalogName: string;
  SchemaName: string;
  TableName: string;
  Name: string;
  Label: string;
  Type: string;
  Precision: number;
  Scale: number;
  Nullable: 'UNKNOWN';
  CaseSensitive: boolean;
}

/** The Athena (Trino) type name of a DuckDB type. */
export function athenaTypeName(t: DuckDBType): string {
  switch (t.typeId) {
    case DuckDBTypeId.VARCHAR: return 'varchar';
    case DuckDBTypeId.INTEGER: case DuckDBTypeId.UINTEGER: case DuckDBTypeId.USMALLINT: return 'integer';
    case DuckDBTypeId.BIGINT: case DuckDBTypeId.UBIGINT: case DuckDBTypeId.HUGEINT: case DuckDBTypeId.UHUGEINT: return 'bigint';
    case DuckDBTypeId.SMALLINT: case DuckDBTypeId.UTINYINT: return 'smallint';
    case DuckDBTypeId.TINYINT: return 'tinyint';
    case DuckDBTypeId.DOUBLE: return 'double';
    case DuckDBTypeId.FLOAT: return 'float';
    case DuckDBTypeId.BOOLEAN: return 'boolean';
    case DuckDBTypeId.DATE: return 'date';
    case DuckDBTypeId.TIMESTAMP: case DuckDBTypeId.TIMESTAMP_MS: case DuckDBTypeId.TIMESTAMP_S: case DuckDBTypeId.TIMESTAMP_NS: return 'timestamp';
    case DuckDBTypeId.TIMESTAMP_TZ: return 'timestamp with time zone';
    case DuckDBTypeId.TIME: return 'time';
    case DuckDBTypeId.DECIMAL: return 'decimal';
    case DuckDBTypeId.LIST: case DuckDBTypeId.ARRAY: return 'array';
    case DuckDBTypeId.STRUCT: return 'row';
    case DuckDBTypeId.MAP: return 'map';
    case DuckDBTypeId.BLOB: return 'varbinary';
    case DuckDBTypeId.INTERVAL: return 'interval day to second';
    case DuckDBTypeId.UUID: return 'uuid';
    default: return 'varchar';
  }
}

/** ColumnInfo for a result column, shaped like Athena's. */
export function columnInfo(name: string, t: DuckDBType): AthenaColumnInfo {
  const type = athenaTypeName(t);
  const dec = t.typeId === DuckDBTypeId.DECIMAL ? (t as unknown as { width: number; scale: number }) : undefined;
  const precision: Record<string, number> = {
    varchar: 2147483647, integer: 10, bigint: 19, smallint: 5, tinyint: 3, double: 17, float: 17, date: 0, timestamp: 3, boolean: 0,
  };
  return {
    CatalogName: 'hive',
    SchemaName: '',
    TableName: '',
    Name: name,
    Label: name,
    Type: type,
    Precision: dec ? dec.width : precision[type] ?? 0,
    Scale: dec ? dec.scale : 0,
    Nullable: 'UNKNOWN',
    CaseSensitive: type === 'varchar',
  };
}

/** Java's Double.toString, as Trino renders a double. */
export function javaDouble(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(v);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(v);
    return s.includes('.') || s.includes('e') ? s : `${s}.0`;
  }
  const [mant, exp] = v.toExponential().split('e');
  return `${mant.includes('.') ? mant : `${mant}.0`}E${Number(exp)}`;
}

/** Athena's text of one value (null stays null). */
export function formatValue(v: Json, t: DuckDBType): string | null {
  if (v === null || v === undefined) return null;
  const id = t.typeId;
  if (id === DuckDBTypeId.LIST || id === DuckDBTypeId.ARRAY) {
    const child = (t as unknown as { valueType: DuckDBType }).valueType;
    return `[${(v as Json[]).map((x) => formatValue(x, child) ?? 'null').join(', ')}]`;
  }
  if (id === DuckDBTypeId.STRUCT) {
    const st = t as unknown as { entryNames: string[]; entryTypes: DuckDBType[] };
    const obj = v as Record<string, Json>;
    return `{${st.entryNames.map((n, i) => `${n}=${formatValue(obj[n], st.entryTypes[i]) ?? 'null'}`).join(', ')}}`;
  }
  if (id === DuckDBTypeId.MAP) {
    const mt = t as unknown as { keyType: DuckDBType; valueType: DuckDBType };
    const entries = v as Array<{ key: Json; value: Json }>;
    return `{${entries.map((e) => `${formatValue(e.key, mt.keyType)}=${formatValue(e.value, mt.valueType) ?? 'null'}`).join(', ')}}`;
  }
  if (id === DuckDBTypeId.DOUBLE || id === DuckDBTypeId.FLOAT) return typeof v === 'number' ? javaDouble(v) : String(v);
  if (id === DuckDBTypeId.TIMESTAMP || id === DuckDBTypeId.TIMESTAMP_MS || id === DuckDBTypeId.TIMESTAMP_S || id === DuckDBTypeId.TIMESTAMP_NS) {
    const s = String(v);
    const m = /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(s);
    return m ? `${m[1]} ${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}` : s;
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** One line of Athena's CSV: every value double-quoted, NULL as an empty unquoted field. */
export function csvLine(values: readonly (string | null)[]): string {
  return values.map((v) => (v === null ? '' : `"${v.replace(/"/g, '""')}"`)).join(',') + '\n';
}

/** Reads up to `max` newline-terminated lines from `offset`; returns them and the next offset (undefined at EOF). */
export async function readLines(path: string, offset: number, max: number): Promise<{ lines: string[]; next?: number }> {
  const fh = await open(path, 'r');
  try {
    const lines: string[] = [];
    let pos = offset;
    let carry = Buffer.alloc(0);
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos + carry.length);
      const data = Buffer.concat([carry, buf.subarray(0, bytesRead)]);
      let start = 0;
      for (;;) {
        const nl = data.indexOf(10, start);
        if (nl < 0) break;
        lines.push(data.subarray(start, nl).toString('utf8'));
        start = nl + 1;
        if (lines.length === max) {
          const next = pos + start;
          const { bytesRead: more } = await fh.read(Buffer.alloc(1), 0, 1, next);
          return { lines, next: more > 0 ? next : undefined };
        }
      }
      pos += start;
      carry = data.subarray(start);
      if (bytesRead === 0) return { lines };
    }
  } finally {
    await fh.close();
  }
}

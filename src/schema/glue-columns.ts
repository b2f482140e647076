import { FACILITY_RECORD_SCHEMA, HIVE_INT_MAX } from './facility-record';

/** A Glue column: name and Hive type string. */
export interface GlueColumnDefinition {
  readonly name: string;
  readonly type: string;
}

type JsonSchemaNode = {
  readonly type?: string;
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly properties?: Readonly<Record<string, JsonSchemaNode>>;
  readonly items?: JsonSchemaNode;
};

const HIVE_INT_MIN = -2147483648;

/**
 * The Hive type of one JSON Schema node: struct/array/string/int/bigint/double/boolean. An integer
 * is `int` only when its schema bounds (`minimum`, `maximum`) keep every valid value inside the int
 * range; otherwise `bigint`, so a valid record is always readable by the table.
 */
export function hiveType(node: JsonSchemaNode): string {
  switch (node.type) {
    case 'string':
      return 'string';
    case 'integer':
      return node.minimum !== undefined && node.minimum >= HIVE_INT_MIN && node.maximum !== undefined && node.maximum <= HIVE_INT_MAX
        ? 'int'
        : 'bigint';
    case 'number':
      return 'double';
    case 'boolean':
      return 'boolean';
    case 'array':
      if (!node.items) throw new Error('array schema without items');
      return `array<${hiveType(node.items)}>`;
    case 'object': {
      const props = Object.entries(node.properties ?? {});
      if (props.length === 0) throw new Error('object schema without properties');
      return `struct<${props.map(([k, v]) => `${k}:${hiveType(v)}`).join(',')}>`;
    }
    default:
      throw new Error(`unsupported JSON Schema type: ${String(node.type)}`);
  }
}

/**
 * Glue columns of the validated NDJSON table, derived from the record schema.
 * `exclude` removes fields that are partition keys (snapshot_date) from the data columns.
 */
export function glueColumnsFromSchema(
  schema: JsonSchemaNode = FACILITY_RECORD_SCHEMA as JsonSchemaNode,
  exclude: readonly string[] = ['snapshot_date'],
): GlueColumnDefinition[] {
  return Object.entries(schema.properties ?? {})
    .filter(([name]) => !exclude.includes(name))
    .map(([name, node]) => ({ name, type: hiveType(node) }));
}

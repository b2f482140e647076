/**
 * How the engine fails a query: a {@link QueryError} ends the execution FAILED with Athena's
 * AthenaError (category 1 system, 2 user), its message prefixed with the Trino error name Athena
 * would show.
 */
import { transpile } from './compat';
import { SqlTextError } from './sql-text';

/** An error surfaced as a FAILED query (category 1 system, 2 user). */
export class QueryError extends Error {
  constructor(message: string, readonly category: 1 | 2 = 2, readonly errorType = 1000, readonly retryable = false) {
    super(message);
    this.name = 'QueryError';
  }
}

/**
 * Athena's failure when it may not write a result (Trino's wording, with the IAM explanation
 * appended locally).
 */
export function writeDenied(bucket: string, key: string, why: string): QueryError {
  return new QueryError(`Access denied when writing output to url: s3://${bucket}/${key} . Please ensure you are allowed to access the S3 bucket. `
    + `If you are encrypting query results with KMS key, please ensure you are allowed to access your KMS key — ${why}`, 2, 1000);
}

/** The DuckDB text of a Trino query; a query the layer cannot translate is a SYNTAX_ERROR. */
export function transpileOrFail(sql: string): string {
  try {
    return transpile(sql);
  } catch (e) {
    throw new QueryError(`SYNTAX_ERROR: ${(e as Error).message}`, 2, 1000);
  }
}

/** Maps a DuckDB error to an Athena-like user error (Trino error names as message prefixes). */
export function toQueryError(e: unknown): QueryError {
  const msg = (e as Error)?.message ?? String(e);
  const first = msg.split('\n')[0];
  if (e instanceof SqlTextError) return new QueryError(`SYNTAX_ERROR: ${first}`, 2, 1000);
  if (/^Parser Error/.test(first)) return new QueryError(`SYNTAX_ERROR: ${first}`, 2, 1000);
  if (/^Catalog Error: Table/.test(first)) return new QueryError(`TABLE_NOT_FOUND: ${first}`, 2, 1000);
  if (/^Catalog Error: Scalar Function|^Binder Error: No function matches/.test(first)) return new QueryError(`FUNCTION_NOT_FOUND: ${first}`, 2, 1000);
  if (/^Binder Error: Referenced column|^Binder Error: Values list/.test(first)) return new QueryError(`COLUMN_NOT_FOUND: ${first}`, 2, 1000);
  if (/Malformed JSON/.test(first)) return new QueryError(`HIVE_BAD_DATA: ${first}`, 2, 1001);
  if (/^(Conversion|Invalid Input|Out of Range) Error/.test(first)) return new QueryError(`INVALID_CAST_ARGUMENT: ${first}`, 2, 1001);
  if (/^IO Error/.test(first)) return new QueryError(`HIVE_CURSOR_ERROR: ${first}`, 1, 200, true);
  return new QueryError(`GENERIC_USER_ERROR: ${first}`, 2, 1000);
}

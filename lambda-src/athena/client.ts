import { createHash } from 'node:crypto';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  QueryExecution,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import type { PipelineConfig } from '../lib/config';
import { InvalidEventError, QueryCancelledError, QueryFailedError, TransientError, isTransientAwsError } from '../lib/errors';
import { assertSnapshotDate } from '../lib/keys';
import { listObjects } from '../lib/s3-list';

/** Structured logger (Powertools Logger satisfies it); every call is optional in tests. */
export interface LoggerLike {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  debug(message: string, ...extra: Record<string, unknown>[]): void;
}

export const NO_LOGGER: LoggerLike = { info: () => undefined, warn: () => undefined, debug: () => undefined };

/** A date as an Athena ExecutionParameters value: a quoted SQL literal after strict validation. */
export function sqlDateLiteral(value: unknown, what = 'snapshot date'): string {
  return `'${assertSnapshotDate(value, what)}'`;
}

/** What a query token is computed from (requestToken). */
export interface TokenParts {
  readonly query: string;
  readonly bucket: string;
  readonly key?: string;
  readonly etag?: string;
  readonly snapshotDate: string;
  readonly asOf?: string;
  readonly inputDigest?: string;
  readonly computation?: string;
  readonly refresh?: string;
}

/**
 * The idempotency token of a computation: sha256 hex (64 chars, within StartQueryExecution's
 * 32–128) of *the whole computation* — the query name, bucket, snapshot and as-of date, the
 * `computation` digest (the SQL text, its parameters, database, workgroup and output location:
 * `computationDigest`) and what names the query's input. Two requests that would compute the same result
 * over the same objects get the same token, so Athena returns the query that already exists instead of
 * starting another: the retries of one refresh, and executions (a duplicated event) that refresh after the
 * same claim of the snapshot's ticket, share one query. Any change to the input data or to the SQL (a
 * deploy that edits a `.sql` file) is a new computation: a token is never reused with another
 * QueryString, which Athena would reject.
 *
 * The input is named by `refresh`, the claim of the snapshot's ticket the refresh read
 * (coordination/ticket.ts `claimOf`): every change to the snapshot's validated data is followed by a new
 * claim (the validating execution claims after its writes), and a new refresh is a new computation even
 * when data and SQL equal an earlier one's (SQL A, then B, then A again: A's old query would carry an old
 * submission time, and its results would lose every compare-and-swap against B's), while the retries of
 * one refresh keep its token. Without a ticket (a query started outside the state machine), the
 * `inputDigest` of the snapshot's validated objects names the input instead, and without that the
 * triggering object's key and ETag.
 */
export function requestToken(parts: TokenParts): string {
  const data = parts.inputDigest !== undefined ? ['digest', parts.inputDigest]
    : parts.refresh !== undefined ? [] : ['object', parts.key ?? null, parts.etag ?? null];
  const computation = parts.computation !== undefined ? ['sql', parts.computation] : [];
  const refresh = parts.refresh !== undefined ? ['refresh', parts.refresh] : [];
  const canonical = JSON.stringify([parts.query, parts.bucket, parts.snapshotDate, parts.asOf ?? null, ...data, ...computation, ...refresh]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** sha256 hex of what Athena is asked to run, apart from the data: SQL text, parameters, database, workgroup, output location. */
export function computationDigest(config: Pick<PipelineConfig, 'glueDatabase' | 'athenaWorkgroup' | 'athenaOutputLocation'>,
  queryString: string, parameters: readonly string[]): string {
  const canonical = JSON.stringify([
    queryString, [...parameters], config.glueDatabase ?? null, config.athenaWorkgroup ?? null, config.athenaOutputLocation ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * sha256 hex of the (key, ETag, LastModified) list of every object under `prefix` (ListObjectsV2,
 * hashed page by page in S3's key order): it changes exactly when the data a query reads changes —
 * including when an object is rewritten with the same bytes (same ETag, later LastModified: a
 * rollback A→B→A of a file, or a metadata-only change). LastModified only grows, so a data state
 * never repeats an earlier digest and its computation is never an old query with an old
 * submission time (which every compare-and-swap would refuse as stale).
 */
export async function inputDigest(s3: S3Client, bucket: string, prefix: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const o of listObjects(s3, bucket, prefix)) {
    const modified = o.LastModified instanceof Date ? o.LastModified.toISOString() : String(o.LastModified ?? '');
    hash.update(`${o.Key}\u0000${o.ETag ?? ''}\u0000${modified}\n`);
  }
  return hash.digest('hex');
}

/** The token of the query that replaces a failed one: deterministic, so duplicates converge. */
export function replacementToken(baseToken: string, failedQueryExecutionId: string): string {
  return createHash('sha256').update(`${baseToken}:retry-of:${failedQueryExecutionId}`).digest('hex');
}

export interface StartQueryInput {
  readonly queryString: string;
  readonly parameters: readonly string[];
  readonly token: string;
}

function describe(err: unknown): string {
  const e = err as Error;
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
}

/** StartQueryExecution; throttling/5xx → TransientError, anything else is permanent. */
export async function startQuery(athena: AthenaClient, config: PipelineConfig, input: StartQueryInput): Promise<string> {
  try {
    const out = await athena.send(new StartQueryExecutionCommand({
      QueryString: input.queryString,
      ExecutionParameters: input.parameters.length > 0 ? [...input.parameters] : undefined,
      QueryExecutionContext: { Database: config.glueDatabase },
      WorkGroup: config.athenaWorkgroup,
      ResultConfiguration: config.athenaOutputLocation ? { OutputLocation: config.athenaOutputLocation } : undefined,
      ClientRequestToken: input.token,
    }));
    if (!out.QueryExecutionId) throw new TransientError('StartQueryExecution returned no QueryExecutionId');
    return out.QueryExecutionId;
  } catch (err) {
    if (err instanceof TransientError) throw err;
    if (isTransientAwsError(err)) throw new TransientError(`StartQueryExecution: ${describe(err)}`, { cause: err });
    throw new QueryFailedError(`StartQueryExecution rejected the query: ${describe(err)}`);
  }
}

/** GetQueryExecution; throttling/5xx → TransientError, an unknown id → InvalidEventError. */
export async function getExecution(athena: AthenaClient, queryExecutionId: string): Promise<QueryExecution> {
  try {
    const out = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: queryExecutionId }));
    if (!out.QueryExecution?.Status?.State) throw new TransientError(`GetQueryExecution ${queryExecutionId} returned no state`);
    return out.QueryExecution;
  } catch (err) {
    if (err instanceof TransientError) throw err;
    if (isTransientAwsError(err)) throw new TransientError(`GetQueryExecution ${queryExecutionId}: ${describe(err)}`, { cause: err });
    // Athena answers an unknown or malformed id with InvalidRequestException (400).
    if ((err as Error)?.name === 'InvalidRequestException') {
      throw new InvalidEventError(`GetQueryExecution ${queryExecutionId}: ${describe(err)}`);
    }
    throw err;
  }
}

/** The ISO submission time of an execution: the computation's watermark. */
export function submittedAt(execution: QueryExecution): string {
  const t = execution.Status?.SubmissionDateTime;
  const d = t instanceof Date ? t : t !== undefined ? new Date(t as unknown as string) : undefined;
  if (!d || Number.isNaN(d.getTime())) {
    throw new TransientError(`query ${execution.QueryExecutionId} has no SubmissionDateTime yet`);
  }
  return d.toISOString();
}

/** True when a FAILED execution's error is worth a new attempt (Retryable, or a system error). */
export function isRetryableFailure(execution: QueryExecution): boolean {
  const e = execution.Status?.AthenaError;
  return e?.Retryable === true || e?.ErrorCategory === 1;
}

/** The error a FAILED or CANCELLED execution is reported with. */
export function terminalError(execution: QueryExecution): Error {
  const id = execution.QueryExecutionId;
  const status = execution.Status;
  const reason = status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? 'no reason given';
  if (status?.State === 'CANCELLED') return new QueryCancelledError(`query ${id} was cancelled: ${reason}`);
  const ae = status?.AthenaError;
  const detail = ae ? ` (category ${ae.ErrorCategory ?? '?'}, type ${ae.ErrorType ?? '?'}, retryable ${ae.Retryable ?? false})` : '';
  if (isRetryableFailure(execution)) return new TransientError(`query ${id} failed with a retryable error: ${reason}${detail}`);
  return new QueryFailedError(`query ${id} failed: ${reason}${detail}`);
}

export interface WaitOptions {
  /** Milliseconds this invocation may still spend waiting (Lambda remaining time minus the safety margin). */
  readonly remainingMs: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly logger?: LoggerLike;
  /** First delay between polls (ms); doubles up to maxDelayMs. */
  readonly initialDelayMs?: number;
  /** Longest delay between polls (default 2 s: GetQueryExecution is free, and a result noticed late delays the whole execution). */
  readonly maxDelayMs?: number;
  /** Consecutive throttled/5xx polls tolerated before a TransientError. */
  readonly maxPollErrors?: number;
  /** Called once with the first execution status read (any state). */
  readonly onFirstPoll?: (execution: QueryExecution) => Promise<void>;
  /** Asked at each poll that finds the query QUEUED; true stops waiting (`superseded`). */
  readonly whileQueued?: (execution: QueryExecution) => Promise<boolean>;
}

export interface WaitResult {
  /** The last execution seen (undefined only when every poll of this call was throttled). */
  readonly execution?: QueryExecution;
  /** True when the query reached SUCCEEDED, FAILED or CANCELLED. */
  readonly done: boolean;
  /** Waiting stopped because `whileQueued` answered true. */
  readonly superseded?: boolean;
}

export const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/**
 * The waits of an exponential backoff with equal jitter: each wait is between half and all of the
 * current delay, which starts at `initialMs` and doubles up to `maxMs`.
 */
export function* equalJitterBackoff(initialMs: number, maxMs: number, random: () => number): Generator<number, never> {
  for (let delay = initialMs; ; delay = Math.min(maxMs, delay * 2)) yield Math.round(delay / 2 + random() * (delay / 2));
}

/**
 * Polls GetQueryExecution with exponential backoff and jitter while the time budget allows.
 * Returns done:false (with the last execution) when the next wait would overrun the budget,
 * so the caller hands the id back to the state machine, which waits and calls again.
 */
export async function waitForQuery(athena: AthenaClient, queryExecutionId: string, opts: WaitOptions): Promise<WaitResult> {
  const sleep = opts.sleep ?? sleepMs;
  const waits = equalJitterBackoff(opts.initialDelayMs ?? 250, opts.maxDelayMs ?? 2000, opts.random ?? Math.random);
  const maxPollErrors = opts.maxPollErrors ?? 3;
  let execution: QueryExecution | undefined;
  let pollErrors = 0;
  let firstPoll = true;
  for (;;) {
    try {
      execution = await getExecution(athena, queryExecutionId);
      pollErrors = 0;
      if (firstPoll && opts.onFirstPoll) await opts.onFirstPoll(execution);
      firstPoll = false;
      if (TERMINAL.has(execution.Status!.State!)) return { execution, done: true };
      if (execution.Status!.State === 'QUEUED' && opts.whileQueued && await opts.whileQueued(execution)) return { execution, done: false, superseded: true };
    } catch (err) {
      if (!(err instanceof TransientError)) throw err;
      pollErrors++;
      opts.logger?.warn('poll throttled or failed transiently', { queryExecutionId, pollErrors, error: err.message });
      if (pollErrors > maxPollErrors) throw err;
    }
    const wait = waits.next().value;
    if (opts.remainingMs() - wait <= 0) return { execution, done: false };
    await sleep(wait);
  }
}

/**
 * Streams the rows of a SELECT's result (GetQueryResults pages of up to 1000 rows; the header row
 * of the first page is skipped). Each row is the list of column values (null for SQL NULL),
 * together with the column names from the result metadata.
 */
export async function* queryRows(athena: AthenaClient, queryExecutionId: string): AsyncGenerator<{ columns: string[]; values: (string | null)[] }> {
  let nextToken: string | undefined;
  let first = true;
  let columns: string[] = [];
  do {
    let page;
    try {
      page = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: queryExecutionId, NextToken: nextToken, MaxResults: 1000 }));
    } catch (err) {
      if (isTransientAwsError(err)) throw new TransientError(`GetQueryResults ${queryExecutionId}: ${describe(err)}`, { cause: err });
      throw err;
    }
    if (first) columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => c.Name ?? '');
    const rows = page.ResultSet?.Rows ?? [];
    for (let i = first ? 1 : 0; i < rows.length; i++) {
      yield { columns, values: (rows[i].Data ?? []).map((d) => d.VarCharValue ?? null) };
    }
    first = false;
    nextToken = page.NextToken;
  } while (nextToken);
}

import { StopQueryExecutionCommand, type AthenaClient, type QueryExecution } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import { currentClaim } from '../coordination/ticket';
import type { PipelineConfig } from '../lib/config';
import { TransientError } from '../lib/errors';
import { Watermark, compareWatermarks, putIfNewer, readCurrent } from '../lib/watermark';
import type { SqlName } from '../sql';
import {
  LoggerLike,
  NO_LOGGER,
  inputDigest,
  isRetryableFailure,
  replacementToken,
  requestToken,
  computationDigest,
  getExecution,
  sleepMs,
  startQuery,
  submittedAt,
  terminalError,
  waitForQuery,
} from './client';
import type { QueryRequest, QueryStatus, SucceededStatus } from './types';

/** What the query stages need; handlers build it once per container, tests pass mocks. */
export interface RunnerDeps {
  readonly athena: AthenaClient;
  readonly s3: S3Client;
  readonly config: PipelineConfig;
  /** Milliseconds this invocation may still spend waiting for Athena. */
  readonly remainingMs: () => number;
  readonly logger?: LoggerLike;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Reads a SQL file (defaults to lambda-src/sql loadSql). */
  readonly loadSql?: (name: SqlName) => string;
}

/** How many times a query that failed with a retryable Athena error is replaced by a new one. */
export const MAX_RESTARTS = 2;

export interface QuerySpec {
  readonly request: QueryRequest;
  /** The query string for a given idempotency token (Stage 1 names its staging folder after it). */
  readonly queryString: (token: string) => string;
  readonly parameters: readonly string[];
  /** The S3 prefix the query reads (its digest goes into the idempotency token). */
  readonly inputPrefix?: string;
  /** Called once the query SUCCEEDED: stores its results, returns the extra status fields. */
  readonly onSucceeded: (execution: QueryExecution, status: SucceededStatus) => Promise<Partial<QueryStatus>>;
  /**
   * A FAILED query the stage knows a replacement fixes, beyond Athena's own Retryable/system errors
   * (Stage 1: an UNLOAD whose target was not empty; the replacement unloads into a new folder).
   */
  readonly retryableFailure?: (execution: QueryExecution) => boolean;
  /** Called when the query ended FAILED or CANCELLED, before the error is thrown or the query replaced. */
  readonly onFailed?: (execution: QueryExecution) => Promise<void>;
}

/**
 * Where the newest computation of (query, snapshot, as-of) announces itself:
 * `<ATHENA_RESULTS_PREFIX>_latest/<query>/snapshot_date=<d>/as_of=<a|none>.json`, written with
 * compare-and-swap on its watermark (docs/runtime.md, "Coalescing queued computations").
 */
export function latestComputationKey(config: PipelineConfig, req: QueryRequest): string {
  return `${config.athenaResultsPrefix}_latest/${req.query}/snapshot_date=${req.snapshotDate}/as_of=${req.asOf ?? 'none'}.json`;
}

function watermarkOf(execution: QueryExecution): Watermark {
  return { submittedAt: submittedAt(execution), queryExecutionId: execution.QueryExecutionId! };
}

/**
 * Announces a computation we started (compare-and-swap: an older one never replaces a newer one). The
 * first computation of a snapshot creates the pointer, so the write goes first (expectAbsent). Returns the
 * newer computation's id when one is announced already (the write was stale).
 */
async function announce(deps: RunnerDeps, key: string, execution: QueryExecution): Promise<string | undefined> {
  const wm = watermarkOf(execution);
  const out = await putIfNewer(deps.s3, {
    bucket: deps.config.bucket,
    key,
    contentType: 'application/json',
    watermark: wm,
    sleep: deps.sleep,
    expectAbsent: true,
    body: `${JSON.stringify({ query_execution_id: wm.queryExecutionId, submitted_at: wm.submittedAt })}\n`,
  });
  return out.outcome === 'stale' ? out.stored?.queryExecutionId : undefined;
}

/** The id of an announced computation newer than `execution`, if any. */
async function newerComputation(deps: RunnerDeps, key: string, execution: QueryExecution): Promise<string | undefined> {
  const current = await readCurrent(deps.s3, deps.config.bucket, key);
  const ours = watermarkOf(execution);
  if (!current.watermark || current.watermark.queryExecutionId === ours.queryExecutionId) return undefined;
  return compareWatermarks(current.watermark, ours) > 0 ? current.watermark.queryExecutionId : undefined;
}

/** What a finished query's GetQueryExecution says about its cost: bytes scanned, engine time, completion time. */
export function statisticsOf(execution: QueryExecution): Pick<QueryStatus, 'bytesScanned' | 'engineTimeMs' | 'completedAt'> {
  const stats = execution.Statistics;
  const completed = execution.Status?.CompletionDateTime;
  return {
    ...(typeof stats?.DataScannedInBytes === 'number' ? { bytesScanned: stats.DataScannedInBytes } : {}),
    ...(typeof stats?.EngineExecutionTimeInMillis === 'number' ? { engineTimeMs: stats.EngineExecutionTimeInMillis } : {}),
    ...(completed instanceof Date && Number.isFinite(completed.getTime()) ? { completedAt: completed.toISOString() } : {}),
  };
}

/**
 * Starts the query (or resumes the one named by `queryExecutionId`), waits while the time budget
 * allows and returns its QueryStatus: done:false with the id when the state machine should wait
 * and call again; done:true once SUCCEEDED and `onSucceeded` has stored the results. A query that
 * failed with a retryable error is replaced (deterministic token, so duplicates converge) up to
 * MAX_RESTARTS times, then reported as TransientError; other failures throw QueryFailedError /
 * QueryCancelledError.
 */
export async function runQuery(spec: QuerySpec, deps: RunnerDeps): Promise<QueryStatus> {
  const logger = deps.logger ?? NO_LOGGER;
  const req = spec.request;
  // The base token is computed only when a query is started.
  let baseToken: string | undefined;
  const base = async (): Promise<string> => {
    if (baseToken === undefined) {
      // The SQL text with a fixed placeholder token (the extract's staging folder is named after the
      // token itself), so the token names the SQL that runs, not only the data.
      const computation = computationDigest(deps.config, spec.queryString('0'.repeat(64)), spec.parameters);
      // The refresh that asks: the ticket version ReadTicket read (the request's claim), else the ticket's
      // current version. Every change to the snapshot's validated data is followed by a new claim, so the
      // claim names the data too; only without any ticket does the token list the input (docs/runtime.md).
      const refresh = req.claim ?? await currentClaim(deps.s3, deps.config.bucket, deps.config.validatedPrefix, req.snapshotDate);
      const digest = refresh === undefined && spec.inputPrefix !== undefined
        ? await inputDigest(deps.s3, deps.config.bucket, spec.inputPrefix) : undefined;
      baseToken = requestToken({ ...req, inputDigest: digest, computation, refresh });
    }
    return baseToken;
  };
  const polls = (req.polls ?? 0) + 1;
  let restarts = req.restarts ?? 0;
  let token: string;
  let queryExecutionId = req.queryExecutionId;
  const latestKey = latestComputationKey(deps.config, req);
  // A query this call started is announced at its first poll (which gives its submission time).
  let started: string | undefined;
  if (!queryExecutionId) {
    token = await base();
    queryExecutionId = await startQuery(deps.athena, deps.config, { queryString: spec.queryString(token), parameters: spec.parameters, token });
    logger.info('query started', { query: req.query, queryExecutionId, snapshotDate: req.snapshotDate, token });
    started = queryExecutionId;
  }
  for (;;) {
    let newer: string | undefined;
    // The poll that announced our query already knows whether a newer one is announced (the announce was stale).
    let announcedAt: { execution: QueryExecution; newer?: string } | undefined;
    const waited = await waitForQuery(deps.athena, queryExecutionId, {
      remainingMs: deps.remainingMs,
      sleep: deps.sleep ?? sleepMs,
      random: deps.random,
      logger,
      onFirstPoll: async (first) => {
        if (started !== undefined && first.QueryExecutionId === started) {
          announcedAt = { execution: first, newer: await announce(deps, latestKey, first) };
        }
        started = undefined;
      },
      whileQueued: async (queued) => {
        newer = announcedAt?.execution === queued ? announcedAt.newer : await newerComputation(deps, latestKey, queued);
        return newer !== undefined;
      },
    });
    const execution = waited.execution;
    if (waited.superseded && newer !== undefined) {
      // A computation started later covers everything ours would read: stop ours while it is still
      // queued (best effort; if it already started, its result is simply superseded) and wait for that one.
      // Only a query that is still QUEUED right now: one that started running meanwhile is left to
      // finish (stopping it would waste the work done and cancel it under other waiters).
      const now = await getExecution(deps.athena, queryExecutionId);
      if (now.Status?.State === 'QUEUED') {
        await deps.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: queryExecutionId })).catch(() => undefined);
      }
      logger.info('queued query superseded by a newer computation of the same data; waiting for that one', {
        query: req.query, snapshotDate: req.snapshotDate, superseded: queryExecutionId, queryExecutionId: newer,
      });
      queryExecutionId = newer;
      continue;
    }
    if (!waited.done || !execution) {
      if (!execution) throw new TransientError(`query ${queryExecutionId}: no status could be read before the time budget ran out`);
      const state = execution.Status!.State === 'QUEUED' ? 'QUEUED' : 'RUNNING';
      logger.info('query still running; the state machine will poll again', { queryExecutionId, state, polls });
      return { ...req, queryExecutionId, state, submittedAt: submittedAt(execution), done: false, polls, restarts };
    }
    const state = execution.Status!.State!;
    if (state === 'SUCCEEDED') {
      const status: SucceededStatus = {
        ...req, queryExecutionId, state: 'SUCCEEDED', submittedAt: submittedAt(execution), done: true, polls, restarts, ...statisticsOf(execution),
      };
      const extra = await spec.onSucceeded(execution, status);
      logger.info('query succeeded', { queryExecutionId, ...extra });
      return { ...status, ...extra };
    }
    // FAILED or CANCELLED
    const error = terminalError(execution);
    logger.warn('query ended without success', { queryExecutionId, state, error: error.message });
    if (spec.onFailed) await spec.onFailed(execution);
    if (state === 'CANCELLED') {
      // Cancelled because a newer computation superseded it (above, by another execution): follow it.
      newer = await newerComputation(deps, latestKey, execution);
      if (newer !== undefined) {
        logger.info('cancelled query was superseded by a newer computation; waiting for that one', { superseded: queryExecutionId, queryExecutionId: newer });
        queryExecutionId = newer;
        continue;
      }
    }
    const retryable = isRetryableFailure(execution) || (spec.retryableFailure?.(execution) ?? false);
    if (state === 'FAILED' && retryable && restarts < MAX_RESTARTS && deps.remainingMs() > 0) {
      restarts++;
      token = replacementToken(await base(), queryExecutionId);
      queryExecutionId = await startQuery(deps.athena, deps.config, { queryString: spec.queryString(token), parameters: spec.parameters, token });
      started = queryExecutionId;
      logger.info('replaced a query that failed with a retryable error', { queryExecutionId, restarts });
      continue;
    }
    throw error;
  }
}

import type { QueryExecution } from '@aws-sdk/client-athena';
import { queryRows, sqlDateLiteral } from '../athena/client';
import { RunnerDeps, runQuery } from '../athena/query-runner';
import type { QueryRequest, QueryStatus, SucceededStatus } from '../athena/types';
import type { PipelineConfig } from '../lib/config';
import { QueryFailedError } from '../lib/errors';
import { partitionKey } from '../lib/keys';
import { Watermark, putIfNewer, wasCreated } from '../lib/watermark';
import { loadSql } from '../sql';

export const STATE_COUNTS_CSV = 'state_counts.csv';
export const STATE_COUNTS_JSON = 'state_counts.json';

/** The content type of each results file (the count writes them so; the publish copies them so). */
export const STATE_COUNTS_CONTENT_TYPES: Readonly<Record<string, string>> = {
  [STATE_COUNTS_CSV]: 'text/csv; charset=utf-8',
  [STATE_COUNTS_JSON]: 'application/json',
};

export interface StateCount {
  readonly state: string;
  readonly accredited_facilities: number;
}

/** The JSON results document (state_counts.json). */
export interface StateCountsDocument {
  readonly snapshot_date: string;
  readonly as_of: string;
  readonly watermark: { readonly submitted_at: string; readonly query_execution_id: string };
  readonly state_counts: StateCount[];
}

const STATE_RE = /^[A-Z]{2}$/;
const COUNT_RE = /^(0|[1-9][0-9]*)$/;

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** `state,accredited_facilities` with one line per state (rows already sorted). */
export function stateCountsCsv(rows: readonly StateCount[]): string {
  return ['state,accredited_facilities', ...rows.map((r) => `${csvField(r.state)},${r.accredited_facilities}`)].join('\n') + '\n';
}

/** Reads the query result into validated rows sorted by state (at most one row per state/territory). */
export async function readStateCounts(deps: RunnerDeps, queryExecutionId: string): Promise<StateCount[]> {
  const byState = new Map<string, number>();
  for await (const row of queryRows(deps.athena, queryExecutionId)) {
    const si = row.columns.indexOf('state');
    const ci = row.columns.indexOf('accredited_facilities');
    const state = row.values[si >= 0 ? si : 0];
    const count = row.values[ci >= 0 ? ci : 1];
    if (state === null || state === undefined || !STATE_RE.test(state) || count === null || count === undefined || !COUNT_RE.test(count)) {
      throw new QueryFailedError(`query ${queryExecutionId} returned an unexpected row: ${JSON.stringify(row.values)}`);
    }
    if (byState.has(state)) throw new QueryFailedError(`query ${queryExecutionId} returned state ${state} twice`);
    byState.set(state, Number(count));
  }
  return [...byState.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([state, accredited_facilities]) => ({ state, accredited_facilities }));
}

/**
 * The folder of one (snapshot, as-of) answer under a results or production prefix:
 * `<prefix>snapshot_date=<d>/` for the pipeline's default as-of date (AS_OF_DATE, else the snapshot
 * date) — the contract path — and `<prefix>snapshot_date=<d>/as_of=<a>/` for any other as-of date
 * (a replay or backfill asking another day's answer), so answers for two as-of dates never replace
 * each other under one watermark order.
 */
export function stateCountsFolder(prefix: string, snapshotDate: string, asOf: string, config: Pick<PipelineConfig, 'asOfDate'>): string {
  const base = partitionKey(prefix, snapshotDate, '');
  return asOf === (config.asOfDate ?? snapshotDate) ? base : `${base}as_of=${asOf}/`;
}

/** The as-of date of a request: explicit asOf, else AS_OF_DATE, else the snapshot date (docs/contract.md §2). */
export function asOfDate(req: QueryRequest, deps: Pick<RunnerDeps, 'config'>): string {
  return req.asOf ?? deps.config.asOfDate ?? req.snapshotDate;
}

/**
 * Stage 3: accredited facilities per state for one snapshot (state_counts.sql with the snapshot
 * and as-of dates). On SUCCEEDED writes `<RESULTS_PREFIX>snapshot_date=<d>/state_counts.csv` and
 * `state_counts.json` with compare-and-swap on the watermark (an older computation never replaces
 * a newer one) and returns the keys and the row count.
 */
export async function runStateCounts(request: QueryRequest, deps: RunnerDeps): Promise<QueryStatus> {
  const { config } = deps;
  const snapshotDate = request.snapshotDate;
  const asOf = asOfDate(request, deps);
  const parameters = [sqlDateLiteral(snapshotDate), sqlDateLiteral(asOf, 'as-of date')];
  const sql = (deps.loadSql ?? loadSql)('state_counts');
  const req: QueryRequest = { ...request, asOf };
  return runQuery({
    request: req,
    queryString: () => sql,
    parameters,
    inputPrefix: partitionKey(config.validatedPrefix, snapshotDate, ''),
    onSucceeded: async (_execution: QueryExecution, status: SucceededStatus) => {
      const rows = await readStateCounts(deps, status.queryExecutionId);
      const watermark: Watermark = { submittedAt: status.submittedAt, queryExecutionId: status.queryExecutionId };
      const doc: StateCountsDocument = {
        snapshot_date: snapshotDate,
        as_of: asOf,
        watermark: { submitted_at: watermark.submittedAt, query_execution_id: watermark.queryExecutionId },
        state_counts: rows,
      };
      const folder = stateCountsFolder(config.resultsPrefix, snapshotDate, asOf, config);
      const csvKey = folder + STATE_COUNTS_CSV;
      const jsonKey = folder + STATE_COUNTS_JSON;
      // The first computation of a snapshot creates its results: the CSV's write goes first (expectAbsent), and
      // the JSON's guess follows what the CSV found.
      const csv = await putIfNewer(deps.s3, {
        bucket: config.bucket,
        key: csvKey,
        body: stateCountsCsv(rows),
        contentType: STATE_COUNTS_CONTENT_TYPES[STATE_COUNTS_CSV],
        watermark,
        sleep: deps.sleep,
        expectAbsent: true,
      });
      // A newer computation already wrote the CSV: writing our JSON could only pair it with the
      // wrong CSV (the publisher refuses a pair of two computations; docs/runtime.md, Stage 4).
      const json = csv.outcome === 'stale' ? csv : await putIfNewer(deps.s3, {
        bucket: config.bucket,
        key: jsonKey,
        body: JSON.stringify(doc, null, 2) + '\n',
        contentType: STATE_COUNTS_CONTENT_TYPES[STATE_COUNTS_JSON],
        watermark,
        sleep: deps.sleep,
        expectAbsent: wasCreated(csv),
      });
      deps.logger?.info('state counts stored', { snapshotDate, asOf, rows: rows.length, csv: csv.outcome, json: json.outcome });
      // Both files hold this computation: the publisher can read them by ETag without reading them first.
      const ours = [csv, json].every((r) => r.outcome !== 'stale' && r.etag !== undefined);
      return {
        resultKeys: [csvKey, jsonKey],
        rows: rows.length,
        ...(ours ? { resultETags: [csv.etag!, json.etag!], resultsCreated: wasCreated(csv) && wasCreated(json) } : {}),
      };
    },
  }, deps);
}

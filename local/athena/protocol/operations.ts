/**
 * The Athena API operations other than StartQueryExecution (./start-query): describing, paging
 * results, stopping and listing executions, and the workgroup; and the IAM check of every call
 * (the athena: action on the workgroup).
 */
import type { Principal } from '../../iam';
import { readLines } from '../engine/results';
import type { Execution } from '../execution';
import type { AthenaContext } from '../options';
import { ApiError, invalidInput } from './errors';
import type { QueryQueue } from './queue';

/** An Athena API action on a workgroup: AccessDeniedException (HTTP 400) unless allowed. */
export function authorizeApi(ctx: AthenaContext, principal: Principal | undefined, action: string, workGroup: string): void {
  const iam = ctx.opts.iam;
  if (!iam || !principal) return;
  const denied = iam.policies.denial({ principal, action, resource: `arn:aws:athena:${ctx.region}:${principal.account}:workgroup/${workGroup}` });
  if (denied) throw new ApiError('AccessDeniedException', denied.message);
}

/** The execution a request names: InvalidRequestException when there is none. */
export function lookup(queue: QueryQueue, id: unknown): Execution {
  if (typeof id !== 'string' || id === '') throw invalidInput('QueryExecutionId is required');
  const ex = queue.executions.get(id);
  if (!ex) throw invalidInput(`QueryExecution ${id} was not found`);
  return ex;
}

/** GetQueryExecution's `QueryExecution`. */
export function describe(ex: Execution): Record<string, unknown> {
  const status: Record<string, unknown> = { State: ex.state, SubmissionDateTime: ex.submitted / 1000 };
  if (ex.completed !== undefined) status.CompletionDateTime = ex.completed / 1000;
  if (ex.stateChangeReason) status.StateChangeReason = ex.stateChangeReason;
  if (ex.athenaError) status.AthenaError = ex.athenaError;
  const now = ex.completed ?? Date.now();
  const queued = (ex.started ?? now) - ex.submitted;
  const out: Record<string, unknown> = {
    QueryExecutionId: ex.id,
    Query: ex.query,
    StatementType: ex.statementType,
    SubstatementType: ex.substatementType,
    ResultConfiguration: { OutputLocation: `${ex.outputLocation}${ex.id}${ex.substatementType === 'UNLOAD' ? '-manifest.csv' : ex.statementType === 'DML' ? '.csv' : '.txt'}` },
    QueryExecutionContext: { Database: ex.database, Catalog: ex.catalog },
    Status: status,
    Statistics: {
      EngineExecutionTimeInMillis: ex.engineMs,
      DataScannedInBytes: ex.dataScanned,
      TotalExecutionTimeInMillis: now - ex.submitted,
      QueryQueueTimeInMillis: queued,
      ServicePreProcessingTimeInMillis: 0,
      QueryPlanningTimeInMillis: 0,
      ServiceProcessingTimeInMillis: 0,
    },
    WorkGroup: ex.workGroup,
    EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' },
  };
  if (ex.parameters) out.ExecutionParameters = ex.parameters;
  return out;
}

/** GetQueryResults: the stored rows, header row first, `MaxResults` per page. */
export async function getQueryResults(ctx: AthenaContext, queue: QueryQueue, input: Record<string, unknown>,
  principal?: Principal): Promise<unknown> {
  const ex = lookup(queue, input.QueryExecutionId);
  authorizeApi(ctx, principal, 'athena:GetQueryResults', ex.workGroup);
  const max = input.MaxResults === undefined ? 1000 : Number(input.MaxResults);
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw invalidInput('MaxResults must be between 1 and 1000');
  if (ex.state !== 'SUCCEEDED') {
    const msg = ex.state === 'FAILED' || ex.state === 'CANCELLED'
      ? `Query did not finish successfully. Final query state: ${ex.state}` : `Query has not yet finished. Current query state: ${ex.state}`;
    throw invalidInput(msg);
  }
  const columns = ex.columns ?? [];
  if (!ex.rowsFile) return { UpdateCount: 0, ResultSet: { Rows: [], ResultSetMetadata: { ColumnInfo: columns } } };
  let offset = 0;
  if (input.NextToken !== undefined) {
    const m = /^([0-9a-f-]{36})\.(\d+)$/.exec(Buffer.from(String(input.NextToken), 'base64url').toString('utf8'));
    if (!m || m[1] !== ex.id) throw invalidInput('NextToken is not valid for this query');
    offset = Number(m[2]);
  }
  const { lines, next } = await readLines(ex.rowsFile, offset, max);
  const rows = lines.map((l) => ({ Data: (JSON.parse(l) as (string | null)[]).map((v) => (v === null ? {} : { VarCharValue: v })) }));
  const out: Record<string, unknown> = { UpdateCount: 0, ResultSet: { Rows: rows, ResultSetMetadata: { ColumnInfo: columns } } };
  if (next !== undefined) out.NextToken = Buffer.from(`${ex.id}.${next}`).toString('base64url');
  return out;
}

/** BatchGetQueryExecution: the executions found, and the ids that were not. */
export function batchGet(ctx: AthenaContext, queue: QueryQueue, input: Record<string, unknown>, principal?: Principal): unknown {
  const ids = input.QueryExecutionIds;
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > 50) throw new ApiError('InvalidRequestException', 'QueryExecutionIds must list 1 to 50 ids');
  const found: unknown[] = [];
  const missing: unknown[] = [];
  for (const id of ids) {
    const ex = queue.executions.get(String(id));
    if (ex) authorizeApi(ctx, principal, 'athena:BatchGetQueryExecution', ex.workGroup);
    if (ex) found.push(describe(ex));
    else missing.push({ QueryExecutionId: String(id), ErrorCode: 'INVALID_INPUT', ErrorMessage: `QueryExecution ${id} was not found` });
  }
  return { QueryExecutions: found, UnprocessedQueryExecutionIds: missing };
}

/** ListQueryExecutions: the workgroup's execution ids, newest first. */
export function list(queue: QueryQueue, input: Record<string, unknown>): unknown {
  const wg = typeof input.WorkGroup === 'string' ? input.WorkGroup : 'primary';
  const max = input.MaxResults === undefined ? 50 : Number(input.MaxResults);
  const all = [...queue.executions.values()].filter((e) => e.workGroup === wg).reverse().map((e) => e.id);
  const start = input.NextToken ? Number(Buffer.from(String(input.NextToken), 'base64url').toString('utf8')) || 0 : 0;
  const page = all.slice(start, start + max);
  const out: Record<string, unknown> = { QueryExecutionIds: page };
  if (start + max < all.length) out.NextToken = Buffer.from(String(start + max)).toString('base64url');
  return out;
}

/** GetWorkGroup. */
export function getWorkGroup(ctx: AthenaContext, input: Record<string, unknown>): unknown {
  const name = String(input.WorkGroup ?? '');
  const wg = ctx.workGroups.get(name);
  if (!wg) throw new ApiError('InvalidRequestException', `WorkGroup ${name} is not found.`);
  return {
    WorkGroup: {
      Name: name,
      State: 'ENABLED',
      Configuration: {
        ResultConfiguration: wg.outputLocation ? { OutputLocation: wg.outputLocation } : {},
        EnforceWorkGroupConfiguration: wg.enforce ?? false,
        BytesScannedCutoffPerQuery: wg.bytesScannedCutoffPerQuery,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3', EffectiveEngineVersion: 'Athena engine version 3' },
      },
    },
  };
}

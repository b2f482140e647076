/**
 * StartQueryExecution: the request validated as Athena validates it, the workgroup and output
 * location resolved, the idempotency token honoured, the throttling fault applied, and a new
 * execution queued.
 */
import { randomUUID } from 'node:crypto';
import type { Principal } from '../../iam';
import { mulberry32 } from '../../prng';
import { parseS3Uri } from '../engine/catalog';
import { statementKind } from '../engine/sql-text';
import type { Execution } from '../execution';
import type { AthenaContext } from '../options';
import { ApiError, invalidInput } from './errors';
import type { QueryQueue } from './queue';

const MAX_QUERY = 262144;

/** The StartQueryExecution operation, with the state of its throttling fault. */
export class QueryStarter {
  /** The workgroup a request names (`primary` when none). */
  static workGroupOf(input: Record<string, unknown>): string {
    return typeof input.WorkGroup === 'string' && input.WorkGroup !== '' ? input.WorkGroup : 'primary';
  }

  private random: () => number = mulberry32(1);
  private startCalls = 0;

  constructor(private readonly ctx: AthenaContext, private readonly queue: QueryQueue) {}

  /** setFaults: the throttling counters restart. */
  resetFaults(): void {
    this.random = mulberry32(this.ctx.faults.seed ?? 1);
    this.startCalls = 0;
  }

  start(input: Record<string, unknown>, principal?: Principal): { QueryExecutionId: string } {
    const query = input.QueryString;
    if (typeof query !== 'string' || query.length < 1 || query.length > MAX_QUERY) {
      throw invalidInput(`QueryString must be a string of 1 to ${MAX_QUERY} characters`);
    }
    const token = input.ClientRequestToken;
    if (token !== undefined && (typeof token !== 'string' || token.length < 32 || token.length > 128)) {
      throw invalidInput('ClientRequestToken must be 32 to 128 characters');
    }
    const params = input.ExecutionParameters;
    if (params !== undefined && (!Array.isArray(params) || params.some((p) => typeof p !== 'string' || p.length < 1 || p.length > 1024))) {
      throw invalidInput('ExecutionParameters must be a list of non-empty strings');
    }
    const workGroupName = QueryStarter.workGroupOf(input);
    const wg = this.ctx.workGroups.get(workGroupName);
    if (!wg) throw invalidInput(`WorkGroup ${workGroupName} is not found.`);
    const ctx = (input.QueryExecutionContext ?? {}) as { Database?: string; Catalog?: string };
    const database = (ctx.Database ?? 'default').toLowerCase();
    const rc = (input.ResultConfiguration ?? {}) as { OutputLocation?: string };
    const output = wg.enforce ? (wg.outputLocation ?? rc.OutputLocation) : (rc.OutputLocation ?? wg.outputLocation);
    if (!output) {
      throw invalidInput('No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.');
    }
    try { parseS3Uri(output); } catch {
      throw invalidInput(`OutputLocation ${output} is not an s3:// URI`);
    }
    const fingerprint = JSON.stringify([query, params ?? null, workGroupName, database, output]);
    if (typeof token === 'string') {
      const existing = this.queue.tokens.get(token);
      if (existing) {
        const ex = this.queue.executions.get(existing)!;
        if (ex.fingerprint !== fingerprint) throw invalidInput('Idempotent parameters do not match');
        return { QueryExecutionId: existing };
      }
    }
    // Throttling applies to new submissions only.
    this.startCalls++;
    const f = this.ctx.faults;
    if ((f.throttleFirstN !== undefined && this.startCalls <= f.throttleFirstN) || (f.throttleRate !== undefined && this.random() < f.throttleRate)) {
      throw new ApiError('TooManyRequestsException', 'Rate exceeded', { Reason: 'CONCURRENT_QUERY_LIMIT_EXCEEDED' });
    }
    const kind = statementKind(query);
    const ex: Execution = {
      id: randomUUID(),
      query,
      parameters: params as string[] | undefined,
      workGroup: workGroupName,
      database,
      catalog: ctx.Catalog ?? 'AwsDataCatalog',
      outputLocation: output.endsWith('/') ? output : `${output}/`,
      statementType: kind.kind === 'OTHER' && !['INSERT', 'DELETE', 'UPDATE', 'MERGE'].includes(kind.keyword) ? (['SHOW', 'DESCRIBE', 'EXPLAIN'].includes(kind.keyword) ? 'UTILITY' : 'DDL') : 'DML',
      substatementType: kind.kind === 'OTHER' ? kind.keyword : kind.kind,
      state: 'QUEUED',
      submitted: Date.now(),
      dataScanned: 0,
      engineMs: 0,
      cancelRequested: false,
      fingerprint,
      principal,
    };
    if (f.failNextN !== undefined && f.failNextN > 0) { f.failNextN--; ex.injectedFailure = true; }
    if (f.failQueriesMatching && f.failQueriesMatching.test(query)) ex.injectedFailure = true;
    this.queue.submit(ex, typeof token === 'string' ? token : undefined);
    return { QueryExecutionId: ex.id };
  }
}

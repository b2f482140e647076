/**
 * A scripted Athena for unit tests of the query runner, installed on an aws-sdk-client-mock stub of
 * `AthenaClient`. Each query started gets a script (see {@link FakeAthena.plan}): the states that
 * successive GetQueryExecution calls report, its error, its result rows, the files its UNLOAD writes.
 * Like Athena, StartQueryExecution is idempotent on `ClientRequestToken` and refuses a token reused
 * with another query string; GetQueryResults pages (two rows per page, header first); an UNLOAD's
 * files appear in the {@link FakeS3} bucket under its `TO` location when it succeeds.
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  QueryExecutionState,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { awsError } from './aws-error';
import type { FakeS3 } from './fake-s3';

export interface FakeQuery {
  readonly id: string;
  readonly token: string;
  readonly sql: string;
  readonly params?: string[];
  readonly submitted: Date;
  /** States returned by successive GetQueryExecution calls (the last one repeats). */
  states: string[];
  polls: number;
  error?: { ErrorCategory?: number; ErrorType?: number; Retryable?: boolean; ErrorMessage?: string };
  reason?: string;
  /** Result rows (header excluded) for a SELECT. */
  rows?: string[][];
  /** Staged files an UNLOAD writes when it succeeds. */
  unloadFiles?: string[];
}

/** Rows of the default state-counts answer. */
const DEFAULT_STATE_ROWS = [['MI', '2'], ['CA', '10'], ['TX', '0']];
/** Query submission times start here and advance one second per query. */
const CLOCK_START = Date.parse('2025-08-10T12:00:00.000Z');

export class FakeAthena {
  /** Every query started, by id (`q-0001`, `q-0002`, ... in start order). */
  readonly queries = new Map<string, FakeQuery>();
  /** Hooks run (once each) before the next GetQueryExecution is answered: they may throw. */
  readonly beforeGet: Array<() => void> = [];
  /** The rows the default plan gives a query: `[state, accredited_facilities]`. */
  stateRows: string[][] = DEFAULT_STATE_ROWS;
  /** Decides the script of each new query (called at StartQueryExecution). Default: RUNNING, then SUCCEEDED with {@link stateRows}. */
  plan: (q: FakeQuery) => void;
  private readonly byToken = new Map<string, string>();
  private nextId = 1;
  private clock = CLOCK_START;

  constructor(private readonly mock: AwsClientStub<AthenaClient>, private readonly bucket: FakeS3, private readonly bucketName: string) {
    this.plan = (q) => this.defaultPlan(q);
  }

  /** Forgets every query, restores the default plan and rows, installs the handlers (after `mock.reset()`). */
  reset(): void {
    this.queries.clear();
    this.byToken.clear();
    this.beforeGet.length = 0;
    this.nextId = 1;
    this.clock = CLOCK_START;
    this.stateRows = DEFAULT_STATE_ROWS;
    this.plan = (q) => this.defaultPlan(q);
    this.install();
  }

  private defaultPlan(q: FakeQuery): void {
    q.states = ['RUNNING', 'SUCCEEDED'];
    q.rows = this.stateRows;
  }

  private install(): void {
    this.mock.on(StartQueryExecutionCommand).callsFake(async (i) => {
      const token: string = i.ClientRequestToken!;
      const existing = this.byToken.get(token);
      if (existing) {
        if (this.queries.get(existing)!.sql !== i.QueryString) throw awsError('InvalidRequestException', 400);
        return { QueryExecutionId: existing };
      }
      const q: FakeQuery = {
        id: `q-${String(this.nextId++).padStart(4, '0')}`,
        token,
        sql: i.QueryString!,
        params: i.ExecutionParameters,
        submitted: new Date((this.clock += 1000)),
        states: ['SUCCEEDED'],
        polls: 0,
      };
      this.plan(q);
      this.queries.set(q.id, q);
      this.byToken.set(token, q.id);
      return { QueryExecutionId: q.id };
    });
    this.mock.on(GetQueryExecutionCommand).callsFake(async (i) => {
      this.beforeGet.shift()?.();
      const q = this.queries.get(i.QueryExecutionId!);
      if (!q) throw awsError('InvalidRequestException', 400);
      const state = q.states[Math.min(q.polls, q.states.length - 1)];
      q.polls++;
      const m = /TO '(s3:\/\/[^']+)'/.exec(q.sql);
      if (state === 'SUCCEEDED' && q.unloadFiles && m) {
        const prefix = m[1].slice(`s3://${this.bucketName}/`.length);
        for (const f of q.unloadFiles) if (!this.bucket.objects.has(prefix + f)) this.bucket.put(prefix + f, `parquet of ${q.id}/${f}`);
      }
      return {
        QueryExecution: {
          QueryExecutionId: q.id,
          Query: q.sql,
          Status: {
            State: state as QueryExecutionState,
            SubmissionDateTime: q.submitted,
            StateChangeReason: state === 'FAILED' || state === 'CANCELLED' ? q.reason : undefined,
            AthenaError: state === 'FAILED' ? q.error : undefined,
          },
        },
      };
    });
    this.mock.on(GetQueryResultsCommand).callsFake(async (i) => {
      const q = this.queries.get(i.QueryExecutionId!)!;
      const all = [['state', 'accredited_facilities'], ...(q.rows ?? [])];
      const size = 2; // pages of 2 rows to exercise NextToken
      const start = i.NextToken ? Number(i.NextToken) : 0;
      const page = all.slice(start, start + size);
      const more = start + size < all.length;
      return {
        ResultSet: {
          ResultSetMetadata: start === 0 ? { ColumnInfo: [{ Name: 'state', Type: 'varchar' }, { Name: 'accredited_facilities', Type: 'bigint' }] } : undefined,
          Rows: page.map((r) => ({ Data: r.map((v) => ({ VarCharValue: v })) })),
        },
        NextToken: more ? String(start + size) : undefined,
      };
    });
  }
}

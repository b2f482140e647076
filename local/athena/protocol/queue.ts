/**
 * The query queue and the execution states: QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED.
 * One execution runs at a time on the engine; stopping a queued one cancels it at once, a running
 * one through DuckDB's interrupt.
 */
import { QueryError, toQueryError } from '../engine/errors';
import type { QueryEngine } from '../engine/executor';
import type { AthenaErrorInfo, Execution, QueryState } from '../execution';

export class QueryQueue {
  /** Every execution by id, in submission order. */
  readonly executions = new Map<string, Execution>();
  /** ClientRequestToken → execution id. */
  readonly tokens = new Map<string, string>();
  private readonly pending: string[] = [];
  private running?: Execution;
  private pumping = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly engine: QueryEngine) {}

  /** Queues a new execution (state QUEUED) and starts the queue. */
  submit(ex: Execution, token?: string): void {
    this.executions.set(ex.id, ex);
    if (token !== undefined) this.tokens.set(token, ex.id);
    this.pending.push(ex.id);
    this.pump();
  }

  /** StopQueryExecution: a queued execution ends CANCELLED now, a running one once DuckDB is interrupted. */
  stop(ex: Execution): void {
    if (ex.state === 'QUEUED') {
      const i = this.pending.indexOf(ex.id);
      if (i >= 0) this.pending.splice(i, 1);
      this.finish(ex, 'CANCELLED', 'Query was cancelled by the user');
    } else if (ex.state === 'RUNNING') {
      ex.cancelRequested = true;
      // An interrupt that lands between two statements of the execution is lost: repeat it until the
      // execution ends (the engine also checks the flag before each statement).
      const interrupt = (): void => {
        if (this.running !== ex || ex.state !== 'RUNNING') return;
        this.engine.interrupt();
        setTimeout(interrupt, 25).unref();
      };
      interrupt();
    }
  }

  /** Cancels the queued executions and the running one; resolves once the queue is idle. */
  async close(beforeIdle: () => Promise<void>): Promise<void> {
    this.closed = true;
    for (const id of this.pending.splice(0)) this.finish(this.executions.get(id)!, 'CANCELLED', 'The local Athena was shut down');
    if (this.running) { this.running.cancelRequested = true; this.engine.interrupt(); }
    await beforeIdle();
    await this.idle;
  }

  private finish(ex: Execution, state: QueryState, reason?: string, error?: AthenaErrorInfo): void {
    ex.state = state;
    ex.completed = Date.now();
    if (ex.started !== undefined) ex.engineMs = ex.completed - ex.started;
    if (reason) ex.stateChangeReason = reason;
    if (error) ex.athenaError = error;
  }

  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    this.idle = (async () => {
      try {
        for (;;) {
          const id = this.pending.shift();
          if (!id) break;
          const ex = this.executions.get(id)!;
          if (ex.state !== 'QUEUED') continue;
          // Let GetQueryExecution observe QUEUED at least once per event-loop turn.
          await new Promise((r) => setImmediate(r));
          if (ex.state !== 'QUEUED') continue;
          await this.execute(ex);
        }
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async execute(ex: Execution): Promise<void> {
    ex.state = 'RUNNING';
    ex.started = Date.now();
    this.running = ex;
    try {
      await this.engine.run(ex);
      if (ex.cancelRequested) this.finish(ex, 'CANCELLED', ex.cancelReason ?? 'Query was cancelled by the user');
      else this.finish(ex, 'SUCCEEDED');
    } catch (e) {
      if (ex.cancelRequested) {
        this.finish(ex, 'CANCELLED', ex.cancelReason ?? 'Query was cancelled by the user');
      } else {
        const err = e instanceof QueryError ? e : toQueryError(e);
        this.finish(ex, 'FAILED', err.message, { ErrorCategory: err.category, ErrorType: err.errorType, Retryable: err.retryable, ErrorMessage: err.message });
      }
    } finally {
      this.running = undefined;
      await this.engine.settle();
    }
  }
}

/** Progress of a run: what the running executions wait for right now, and the retries and timeouts seen. */
import type { InvokeResult } from '../lambda';

/** What each in-flight unit of work (an object's Stage 2 call, a snapshot's query) is doing or waiting for. */
export class WaitTracker {
  private readonly state = new Map<string, string>();
  /** Retries seen: error type → count (failed Lambda invocations the state machine may retry). */
  readonly errors: Record<string, number> = {};
  /** Lambda invocations that timed out, with the object key or snapshot they were for. */
  readonly timeouts: string[] = [];

  set(unit: string, what: string | undefined): void {
    if (what === undefined) this.state.delete(unit);
    else this.state.set(unit, what);
  }

  /** Description → number of units, sorted by description. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const w of this.state.values()) out[w] = (out[w] ?? 0) + 1;
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** Follows every Lambda invocation the state machine makes, to say what executions wait for. */
export function trackWaits(inner: { invoke(nameOrArn: string, payload: unknown): Promise<InvokeResult> }, waits: WaitTracker, processorArn: string) {
  return {
    async invoke(nameOrArn: string, payload: unknown): Promise<InvokeResult> {
      const p = (payload ?? {}) as { key?: string; snapshotDate?: string; query?: string; detail?: { object?: { key?: string } } };
      const processor = nameOrArn === processorArn || processorArn.endsWith(`:${nameOrArn}`);
      const key = p.key ?? p.detail?.object?.key ?? p.snapshotDate ?? 'event';
      const unit = `${key}|${processor ? 'stage2' : p.query ?? 'state_counts'}`;
      waits.set(unit, processor ? 'Stage 2 validating' : `${p.query ?? 'state_counts'} query in progress`);
      const r = await inner.invoke(nameOrArn, payload);
      if (r.functionError) {
        const type = r.errorType ?? 'Error';
        waits.errors[type] = (waits.errors[type] ?? 0) + 1;
        if (type === 'Sandbox.Timedout') waits.timeouts.push(key);
        waits.set(unit, `retrying after ${type}`);
        return r;
      }
      const status = r.payload as { state?: string; done?: boolean; query?: string } | undefined;
      if (processor || !status || status.done || status.state === 'SUCCEEDED') waits.set(unit, undefined);
      else waits.set(unit, `${status.query ?? 'query'} query ${status.state ?? 'RUNNING'} (polling)`);
      return r;
    },
  };
}

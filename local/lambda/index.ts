/**
 * A local Lambda runtime: executes the REAL bundled assets of the synthesized functions in worker
 * threads (one warm worker = one Lambda execution environment), with the function's environment,
 * a Lambda-like context, the configured timeout and memory, a concurrency limit, and fault injection.
 * An execution environment is started in ./environment; the public types are in ./types.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container, Registered, ResultMessage, startEnvironment, timeoutError } from './environment';
import { LambdaMetrics } from './metrics';
import { InvokeResult, LambdaApiError, LambdaFaults, LocalFunctionConfig, LocalLambdaRuntimeOptions } from './types';

export { LambdaApiError } from './types';
export type { InvokeResult, LambdaFaults, LocalFunctionConfig, LocalLambdaRuntimeOptions } from './types';
export { LambdaMetrics } from './metrics';
export type { MetricSeries, MetricsSnapshot, RejectedEmf } from './metrics';

const MAX_PAYLOAD = 6 * 1024 * 1024;

/** Lambda's limit for the init phase of an on-demand environment. */
const INIT_TIMEOUT_MS = 10_000;

/**
 * Runs functions from their assets in warm worker threads. Create one per local run; call
 * {@link LocalLambdaRuntime.close} at the end.
 */
export class LocalLambdaRuntime {
  private readonly functions = new Map<string, Registered>();
  private readonly aliases = new Map<string, Registered>();
  private readonly region: string;
  private readonly accountId: string;
  private readonly maxConcurrency: number;
  private readonly home = mkdtempSync(join(tmpdir(), 'medlaunch-elt-lambda-home-'));
  private running = 0;
  private readonly waiters: Array<() => void> = [];
  private faults: {
    timeout?: { fn: Registered; n: number; when?: (payload: unknown) => boolean };
    throttle?: { fn?: Registered; n: number };
    error?: { fn: Registered; n: number; errorType: string; errorMessage?: string };
  } = {};
  private closed = false;
  /** Counters for summaries and tests. */
  readonly stats = {
    invocations: 0,
    coldStarts: 0,
    errors: 0,
    timeouts: 0,
    throttles: 0,
    /** Invocations (Invoke requests accepted, throttled ones excluded) by function name. */
    byFunction: {} as Record<string, number>,
    /** Billed duration by function name, GB-s (duration × MemorySize), as Lambda bills it. */
    gbSeconds: {} as Record<string, number>,
    /** Execution environments ended to keep the warm pool within `maxConcurrency`. */
    evictions: 0,
  };
  /** Live execution environments over all functions. */
  private live = 0;
  /**
   * The metrics the functions emitted in the embedded metric format, extracted from every log line (stdout and
   * stderr) as CloudWatch Logs extracts them; an invocation's lines are read before its result is returned.
   */
  readonly metrics = new LambdaMetrics();
  private readonly logSink: NonNullable<LocalLambdaRuntimeOptions['log']>;

  constructor(private readonly options: LocalLambdaRuntimeOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? 10);
    const log = options.log ?? ((fnName: string, line: string) => { process.stderr.write(`[${fnName}] ${line}\n`); });
    this.logSink = (fnName, line, stream) => {
      this.metrics.ingest(fnName, line);
      log(fnName, line, stream);
    };
  }

  /** Registers a function; returns its ARN. */
  register(config: LocalFunctionConfig): string {
    const arn = config.arn ?? `arn:aws:lambda:${this.region}:${this.accountId}:function:${config.name}`;
    const fn: Registered = {
      ...config,
      arn,
      handler: config.handler ?? 'index.handler',
      timeoutSeconds: config.timeoutSeconds ?? 3,
      memoryMb: config.memoryMb ?? 128,
      idle: [],
      all: new Set(),
      running: 0,
    };
    this.functions.set(config.name, fn);
    for (const alias of [config.name, arn, config.logicalId]) if (alias) this.aliases.set(alias, fn);
    return arn;
  }

  /**
   * Registers the Node.js functions of a resolved template (those with an asset folder); returns
   * the names of the functions skipped (inline code, other runtimes).
   */
  registerAll(functions: ReadonlyArray<Omit<LocalFunctionConfig, 'assetDir'> & { runtime?: string; assetDir?: string }>): string[] {
    const skipped: string[] = [];
    for (const f of functions) {
      if (!f.assetDir || (f.runtime && !f.runtime.startsWith('nodejs'))) {
        skipped.push(f.name);
        continue;
      }
      this.register({ ...f, assetDir: f.assetDir });
    }
    return skipped;
  }

  /** Names of the registered functions. */
  functionNames(): string[] { return [...this.functions.keys()]; }

  /** Sets the injected faults (replacing earlier ones). */
  setFaults(faults: LambdaFaults): void {
    const throttle = typeof faults.throttleNext === 'number' ? { n: faults.throttleNext } : faults.throttleNext;
    this.faults = {
      timeout: faults.timeoutNext ? { fn: this.lookup(faults.timeoutNext.fn), n: faults.timeoutNext.n, when: faults.timeoutNext.when } : undefined,
      throttle: throttle ? { fn: throttle.fn ? this.lookup(throttle.fn) : undefined, n: throttle.n } : undefined,
      error: faults.errorNext ? { ...faults.errorNext, fn: this.lookup(faults.errorNext.fn) } : undefined,
    };
  }

  private lookup(nameOrArn: string): Registered {
    const direct = this.aliases.get(nameOrArn);
    if (direct) return direct;
    // Qualified ARNs (…:function:name:$LATEST) and name:qualifier.
    const m = /^(?:arn:[^:]+:lambda:[^:]*:[^:]*:function:)?([^:]+)(?::[^:]+)?$/.exec(nameOrArn);
    const fn = m ? this.functions.get(m[1]) : undefined;
    if (!fn) {
      throw new LambdaApiError('ResourceNotFoundException', `Function not found: ${nameOrArn}`, 404);
    }
    return fn;
  }

  /**
   * Invokes a function synchronously. Function errors come back in the result
   * (`functionError: 'Unhandled'`, `errorType`, `errorMessage`); API errors
   * (unknown function, throttling, oversized request) are thrown as {@link LambdaApiError}.
   */
  async invoke(nameOrArn: string, payload: unknown): Promise<InvokeResult> {
    if (this.closed) throw new LambdaApiError('ServiceException', 'the local Lambda runtime is closed', 500);
    const fn = this.lookup(nameOrArn);
    const text = payload === undefined ? '{}' : JSON.stringify(payload);
    const limit = this.options.maxPayloadBytes ?? MAX_PAYLOAD;
    if (Buffer.byteLength(text) > limit) {
      throw new LambdaApiError('RequestTooLargeException', `Request must be smaller than ${limit} bytes for the InvokeFunction operation`, 413);
    }
    const requestId = randomUUID();
    const t = this.faults.throttle;
    if (t && t.n > 0 && (!t.fn || t.fn === fn)) {
      t.n--;
      this.stats.throttles++;
      throw new LambdaApiError('TooManyRequestsException', 'Rate Exceeded.', 429);
    }
    await this.acquire(fn);
    const started = Date.now();
    this.stats.invocations++;
    this.stats.byFunction[fn.name] = (this.stats.byFunction[fn.name] ?? 0) + 1;
    let billedMs: number | undefined;
    try {
      const to = this.faults.timeout;
      if (to && to.n > 0 && to.fn === fn && (!to.when || to.when(payload))) {
        to.n--;
        this.stats.timeouts++;
        this.stats.errors++;
        billedMs = fn.timeoutSeconds * 1000;
        return { requestId, ...timeoutError(requestId, fn.timeoutSeconds), durationMs: fn.timeoutSeconds * 1000, coldStart: false };
      }
      const er = this.faults.error;
      if (er && er.n > 0 && er.fn === fn) {
        er.n--;
        this.stats.errors++;
        return {
          requestId,
          functionError: 'Unhandled',
          errorType: er.errorType,
          errorMessage: er.errorMessage ?? `injected ${er.errorType}`,
          trace: [],
          durationMs: Date.now() - started,
          coldStart: false,
        };
      }
      return await this.run(fn, requestId, text, started, limit);
    } finally {
      const ms = Math.ceil(billedMs ?? Date.now() - started);
      this.stats.gbSeconds[fn.name] = (this.stats.gbSeconds[fn.name] ?? 0) + (ms / 1000) * (fn.memoryMb / 1024);
      this.release(fn);
    }
  }

  private async acquire(fn: Registered): Promise<void> {
    const fnLimit = fn.reservedConcurrency ?? this.options.defaultFunctionConcurrency ?? Infinity;
    while (this.running >= this.maxConcurrency || fn.running >= fnLimit) {
      if (this.options.onConcurrencyLimit === 'throttle') {
        this.stats.throttles++;
        throw new LambdaApiError('TooManyRequestsException', 'Rate Exceeded.', 429);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.running++;
    fn.running++;
  }

  private release(fn: Registered): void {
    this.running--;
    fn.running--;
    // Wake every waiter: each re-checks its own limits (global and per function).
    const waiting = this.waiters.splice(0);
    for (const w of waiting) w();
  }

  private containerFor(fn: Registered): { container: Container; cold: boolean } {
    while (fn.idle.length > 0) {
      const c = fn.idle.pop()!;
      if (!c.dead) return { container: c, cold: false };
    }
    // Keep at most maxConcurrency environments: end the least recently used idle one (of any function).
    // One is always idle then, since at most maxConcurrency - 1 other invocations are running.
    if (this.live >= this.maxConcurrency) this.evictIdle();
    const container = startEnvironment(fn, { options: { ...this.options, log: this.logSink }, home: this.home, region: this.region }, (c) => {
      if (fn.all.delete(c)) this.live--;
    });
    this.live++;
    fn.all.add(container);
    this.stats.coldStarts++;
    return { container, cold: true };
  }

  private async run(fn: Registered, requestId: string, text: string, started: number, limit: number): Promise<InvokeResult> {
    const { container, cold } = this.containerFor(fn);
    container.busy = true;
    container.invocations++;
    container.worker.ref();
    const timeoutMs = fn.timeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await new Promise<ResultMessage | { crashed: Error | number } | 'timeout'>((resolve) => {
      container.settle = resolve;
      // A cold environment first runs its init phase (bounded like Lambda's); the function
      // timeout counts from the start of the invoke phase, which the worker reports.
      timer = setTimeout(() => resolve('timeout'), timeoutMs + (cold ? INIT_TIMEOUT_MS : 0));
      container.onStarted = () => {
        clearTimeout(timer);
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      };
      container.worker.postMessage({
        type: 'invoke',
        id: requestId,
        payload: text,
        context: {
          awsRequestId: requestId,
          functionName: fn.name,
          invokedFunctionArn: fn.arn,
          memoryLimitInMB: fn.memoryMb,
          logGroupName: `/aws/lambda/${fn.name}`,
          logStreamName: container.streamName,
          timeoutMs,
        },
      });
    });
    clearTimeout(timer);
    container.settle = undefined;
    container.onStarted = undefined;
    container.busy = false;
    const durationMs = Date.now() - started;
    const base = { requestId, durationMs, coldStart: cold };
    if (outcome === 'timeout') {
      this.stats.timeouts++;
      this.stats.errors++;
      this.discard(fn, container);
      return { ...base, ...timeoutError(requestId, fn.timeoutSeconds) };
    }
    if ('crashed' in outcome) {
      this.stats.errors++;
      this.discard(fn, container);
      const err = outcome.crashed;
      if (typeof err === 'number') {
        return {
          ...base,
          functionError: 'Unhandled',
          errorType: 'Runtime.ExitError',
          errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: exit status ${err}`,
          trace: [],
        };
      }
      const oom = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      return {
        ...base,
        functionError: 'Unhandled',
        errorType: oom ? 'Runtime.OutOfMemory' : (err.name || 'Error'),
        errorMessage: oom ? `RequestId: ${requestId} Error: Runtime exited with error: signal: killed` : err.message,
        trace: oom ? [] : (err.stack ?? '').split('\n'),
      };
    }
    this.park(fn, container);
    if (outcome.error) {
      this.stats.errors++;
      return { ...base, functionError: 'Unhandled', ...outcome.error };
    }
    const body = outcome.payload ?? 'null';
    if (Buffer.byteLength(body) > limit) {
      this.stats.errors++;
      return {
        ...base,
        functionError: 'Unhandled',
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `Response payload size exceeded maximum allowed payload size (${limit} bytes).`,
        trace: [],
      };
    }
    return { ...base, payload: JSON.parse(body) };
  }

  private park(fn: Registered, container: Container): void {
    if (container.dead) return;
    if (this.closed) {
      void container.worker.terminate();
      return;
    }
    container.worker.unref();
    container.idleSince = performance.now();
    fn.idle.push(container);
  }

  private discard(fn: Registered, container: Container): void {
    container.dead = true;
    if (fn.all.delete(container)) this.live--;
    void container.worker.terminate();
  }

  /** Ends the least recently used idle environment, if any. */
  private evictIdle(): void {
    let oldest: Container | undefined;
    for (const f of this.functions.values()) {
      for (const c of f.idle) if (!c.dead && (!oldest || c.idleSince < oldest.idleSince)) oldest = c;
    }
    if (!oldest) return;
    const list = oldest.fn.idle;
    list.splice(list.indexOf(oldest), 1);
    this.stats.evictions++;
    this.discard(oldest.fn, oldest);
  }

  /** Live execution environments (warm or busy) over all functions. */
  environments(): number { return this.live; }

  /** Terminates every worker. Invocations still running fail with Runtime.ExitError. */
  async close(): Promise<void> {
    this.closed = true;
    const all: Promise<number>[] = [];
    for (const fn of this.functions.values()) {
      fn.idle.splice(0);
      for (const c of fn.all) all.push(c.worker.terminate());
      fn.all.clear();
      this.live = 0;
    }
    await Promise.allSettled(all);
    rmSync(this.home, { recursive: true, force: true });
  }
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaApiError, LocalLambdaRuntime } from '../../local/lambda';

const code = mkdtempSync(join(tmpdir(), 'medlaunch-elt-lambda-test-'));
writeFileSync(join(code, 'index.js'), `
'use strict';
let calls = 0;
exports.echo = async (event, ctx) => {
  calls++;
  return { event, calls, who: process.env.WHO, region: process.env.AWS_REGION, endpoint: process.env.AWS_ENDPOINT_URL_S3,
    fnName: ctx.functionName, envName: process.env.AWS_LAMBDA_FUNCTION_NAME, memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    handler: process.env._HANDLER, taskRoot: process.env.LAMBDA_TASK_ROOT, requestId: ctx.awsRequestId, arn: ctx.invokedFunctionArn,
    remaining: ctx.getRemainingTimeInMillis(), waits: ctx.callbackWaitsForEmptyEventLoop, leaked: process.env.LEAK };
};
exports.fail = async () => { const e = new Error('bucket is slow'); e.name = 'TransientError'; throw e; };
exports.hang = () => new Promise(() => setInterval(() => undefined, 1000));
exports.slowEnv = async (event) => {
  process.env.LEAK = process.env.WHO;
  await new Promise((r) => setTimeout(r, 200));
  return { who: process.env.WHO, leak: process.env.LEAK };
};
exports.remaining = async (event, ctx) => {
  const first = ctx.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 300));
  return { first, second: ctx.getRemainingTimeInMillis() };
};
exports.callback = (event, ctx, cb) => { console.log('log line from callback'); setTimeout(() => cb(null, { ok: event.n * 2 }), 10); };
exports.sleep = async (event) => { await new Promise((r) => setTimeout(r, event.ms)); return Date.now(); };
exports.crash = async () => { process.exit(3); };
exports.throwString = async () => { throw 'plain text'; };
exports.creds = async () => ({ id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, token: process.env.AWS_SESSION_TOKEN });
`);

writeFileSync(join(code, 'slowinit.js'), `
'use strict';
const until = Date.now() + 1500;
while (Date.now() < until) { /* a slow init phase */ }
exports.handler = async (event, ctx) => ({ remaining: ctx.getRemainingTimeInMillis() });
`);

function runtime(opts: ConstructorParameters<typeof LocalLambdaRuntime>[0] = {}) {
  const logs: string[] = [];
  const rt = new LocalLambdaRuntime({ baseEnv: { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' }, log: (fn, line) => logs.push(`${fn}: ${line}`), ...opts });
  for (const h of ['echo', 'fail', 'hang', 'slowEnv', 'remaining', 'callback', 'sleep', 'crash', 'throwString']) {
    rt.register({ name: `fn-${h}`, logicalId: h, assetDir: code, handler: `index.${h}`, timeoutSeconds: 2, memoryMb: 192, env: { WHO: h } });
  }
  return { rt, logs };
}

describe('LocalLambdaRuntime', () => {
  const { rt, logs } = runtime();
  afterAll(() => rt.close());

  test('runs the handler with its environment and a Lambda context', async () => {
    const r = await rt.invoke('fn-echo', { hello: 'world' });
    expect(r.functionError).toBeUndefined();
    const p = r.payload as Record<string, unknown>;
    expect(p).toMatchObject({
      event: { hello: 'world' },
      who: 'echo',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      fnName: 'fn-echo',
      envName: 'fn-echo',
      memory: '192',
      handler: 'index.echo',
      taskRoot: code,
      requestId: r.requestId,
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:fn-echo',
      waits: true,
    });
    expect(p.remaining).toBeGreaterThan(1000);
    expect(p.remaining).toBeLessThanOrEqual(2000);
  });

  test('reuses a warm worker: module state survives, no cold start', async () => {
    const a = await rt.invoke('echo', {});
    const b = await rt.invoke('arn:aws:lambda:us-east-1:000000000000:function:fn-echo:$LATEST', {});
    expect(b.coldStart).toBe(false);
    expect((b.payload as { calls: number }).calls).toBe((a.payload as { calls: number }).calls + 1);
  });

  test('a thrown error is reported with errorType = the error name', async () => {
    const r = await rt.invoke('fn-fail', {});
    expect(r.functionError).toBe('Unhandled');
    expect(r.errorType).toBe('TransientError');
    expect(r.errorMessage).toBe('bucket is slow');
    expect(r.trace?.[0]).toContain('TransientError: bucket is slow');
    const s = await rt.invoke('fn-throwString', {});
    expect(s).toMatchObject({ functionError: 'Unhandled', errorType: 'string', errorMessage: 'plain text' });
  });

  test('the timeout terminates the worker and reports Sandbox.Timedout', async () => {
    const started = Date.now();
    const r = await rt.invoke('fn-hang', {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(r.errorType).toBe('Sandbox.Timedout');
    expect(r.errorMessage).toMatch(/Task timed out after 2\.00 seconds$/);
    // The next invocation gets a fresh environment.
    const again = await rt.invoke('fn-hang', {});
    expect(again.coldStart).toBe(true);
  });

  test('environments are isolated between functions running concurrently', async () => {
    rt.register({ name: 'fn-slowEnv2', assetDir: code, handler: 'index.slowEnv', env: { WHO: 'second' } });
    const [a, b] = await Promise.all([rt.invoke('fn-slowEnv', {}), rt.invoke('fn-slowEnv2', {})]);
    expect(a.payload).toEqual({ who: 'slowEnv', leak: 'slowEnv' });
    expect(b.payload).toEqual({ who: 'second', leak: 'second' });
    expect(process.env.LEAK).toBeUndefined();
    const echo = await rt.invoke('fn-echo', {});
    expect((echo.payload as { leaked?: string }).leaked).toBeUndefined();
  });

  test('getRemainingTimeInMillis counts down from the timeout', async () => {
    const r = await rt.invoke('fn-remaining', {});
    const { first, second } = r.payload as { first: number; second: number };
    expect(first).toBeLessThanOrEqual(2000);
    expect(first - second).toBeGreaterThanOrEqual(250);
    expect(first - second).toBeLessThan(1000);
  });

  test('the init phase does not count against the function timeout', async () => {
    rt.register({ name: 'fn-slowinit', assetDir: code, handler: 'slowinit.handler', timeoutSeconds: 1 });
    const r = await rt.invoke('fn-slowinit', {});
    expect(r.coldStart).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(1400);
    expect(r.functionError).toBeUndefined();
    expect((r.payload as { remaining: number }).remaining).toBeGreaterThan(900);
  });

  test('callback-style handlers and captured logs', async () => {
    const r = await rt.invoke('fn-callback', { n: 21 });
    expect(r.payload).toEqual({ ok: 42 });
    await new Promise((res) => setTimeout(res, 50));
    expect(logs).toContain('fn-callback: log line from callback');
  });

  test('a worker that exits reports Runtime.ExitError', async () => {
    const r = await rt.invoke('fn-crash', {});
    expect(r.errorType).toBe('Runtime.ExitError');
    expect(r.errorMessage).toContain('exit status 3');
  });

  test('unknown functions and oversized payloads are API errors', async () => {
    await expect(rt.invoke('nope', {})).rejects.toMatchObject({ name: 'ResourceNotFoundException', statusCode: 404 });
    await expect(rt.invoke('fn-echo', { big: 'x'.repeat(6 * 1024 * 1024) })).rejects.toBeInstanceOf(LambdaApiError);
  });

  test('fault injection: throttling, timeouts and errors for the next n invocations', async () => {
    rt.setFaults({ throttleNext: { fn: 'echo', n: 2 }, timeoutNext: { fn: 'fn-callback', n: 1 }, errorNext: { fn: 'fail', n: 1, errorType: 'QueryFailedError' } });
    await expect(rt.invoke('fn-echo', {})).rejects.toMatchObject({ name: 'TooManyRequestsException', statusCode: 429 });
    await expect(rt.invoke('fn-echo', {})).rejects.toMatchObject({ name: 'TooManyRequestsException' });
    expect((await rt.invoke('fn-echo', {})).functionError).toBeUndefined();
    expect((await rt.invoke('fn-callback', { n: 1 })).errorType).toBe('Sandbox.Timedout');
    expect((await rt.invoke('fn-callback', { n: 1 })).payload).toEqual({ ok: 2 });
    expect((await rt.invoke('fn-fail', {})).errorType).toBe('QueryFailedError');
    expect((await rt.invoke('fn-fail', {})).errorType).toBe('TransientError');
    rt.setFaults({});
  });

  test('a timeout fault with `when` hits only the payload it accepts, whatever order the calls come in', async () => {
    rt.setFaults({ timeoutNext: { fn: 'fn-callback', n: 1, when: (p) => (p as { n?: number }).n === 3 } });
    const results = await Promise.all([1, 2, 3, 4].map((n) => rt.invoke('fn-callback', { n })));
    expect(results.map((r) => r.errorType ?? (r.payload as { ok: number }).ok)).toEqual([2, 4, 'Sandbox.Timedout', 8]);
    // n was used up: the same payload now runs.
    expect((await rt.invoke('fn-callback', { n: 3 })).payload).toEqual({ ok: 6 });
    rt.setFaults({});
  });
});

describe('execution role credentials', () => {
  test('a function gets its role\'s credentials in the environment, over any variable of the same name', async () => {
    const rt = new LocalLambdaRuntime({ baseEnv: { AWS_ACCESS_KEY_ID: 'base', AWS_SECRET_ACCESS_KEY: 'base' }, log: () => undefined });
    try {
      rt.register({
        name: 'fn-role',
        assetDir: code,
        handler: 'index.creds',
        env: { AWS_ACCESS_KEY_ID: 'from-template' },
        credentials: { accessKeyId: 'ASIAROLE', secretAccessKey: 'secret', sessionToken: 'token' },
      });
      rt.register({ name: 'fn-norole', assetDir: code, handler: 'index.creds' });
      expect((await rt.invoke('fn-role', {})).payload).toEqual({ id: 'ASIAROLE', secret: 'secret', token: 'token' });
      expect((await rt.invoke('fn-norole', {})).payload).toEqual({ id: 'base', secret: 'base' });
    } finally {
      await rt.close();
    }
  });
});

describe('concurrency limit', () => {
  test('queues invocations beyond maxConcurrency', async () => {
    const { rt } = runtime({ maxConcurrency: 1 });
    try {
      const started = Date.now();
      const ends = await Promise.all([rt.invoke('fn-sleep', { ms: 300 }), rt.invoke('fn-sleep', { ms: 300 })]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(580);
      expect(ends.every((e) => e.functionError === undefined)).toBe(true);
    } finally {
      await rt.close();
    }
  });

  test('throttles instead when configured', async () => {
    const { rt } = runtime({ maxConcurrency: 1, onConcurrencyLimit: 'throttle' });
    try {
      const first = rt.invoke('fn-sleep', { ms: 300 });
      await expect(rt.invoke('fn-sleep', { ms: 1 })).rejects.toMatchObject({ name: 'TooManyRequestsException' });
      expect((await first).functionError).toBeUndefined();
      expect(rt.stats.throttles).toBe(1);
    } finally {
      await rt.close();
    }
  });

  test('a function without reserved concurrency queues beyond defaultFunctionConcurrency, others still run', async () => {
    const { rt } = runtime({ maxConcurrency: 4, defaultFunctionConcurrency: 1 });
    try {
      const started = Date.now();
      const sleeps = Promise.all([rt.invoke('fn-sleep', { ms: 300 }), rt.invoke('fn-sleep', { ms: 300 })]);
      // Another function is not held back by fn-sleep's queue.
      expect((await rt.invoke('fn-echo', {})).functionError).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(580);
      await sleeps;
      expect(Date.now() - started).toBeGreaterThanOrEqual(580);
      expect(rt.stats.byFunction).toEqual({ 'fn-sleep': 2, 'fn-echo': 1 });
    } finally {
      await rt.close();
    }
  });

  test('keeps at most maxConcurrency environments: a cold start ends the least recently used idle one', async () => {
    const { rt } = runtime({ maxConcurrency: 2 });
    try {
      for (const fn of ['fn-echo', 'fn-callback', 'fn-sleep', 'fn-echo']) {
        const r = await rt.invoke(fn, { n: 1, ms: 1 });
        expect(r.functionError).toBeUndefined();
        expect(rt.environments()).toBeLessThanOrEqual(2);
      }
      // echo was evicted when sleep started (it was the least recently used), so its second call was cold.
      expect(rt.stats.coldStarts).toBe(4);
      expect(rt.stats.evictions).toBe(2);
      const again = await rt.invoke('fn-echo', {});
      expect(again.coldStart).toBe(false);
    } finally {
      await rt.close();
    }
  });

  test('bills GB-seconds per function: duration × MemorySize', async () => {
    const { rt } = runtime();
    try {
      await rt.invoke('fn-sleep', { ms: 400 });
      // 192 MB for ≥ 400 ms (plus the cold start's handler time).
      expect(rt.stats.gbSeconds['fn-sleep']).toBeGreaterThanOrEqual(0.4 * 192 / 1024);
      expect(rt.stats.gbSeconds['fn-sleep']).toBeLessThan(5 * 192 / 1024);
    } finally {
      await rt.close();
    }
  });

  test('handler not found is an init error', async () => {
    const rt = new LocalLambdaRuntime({ log: () => undefined });
    rt.register({ name: 'missing', assetDir: code, handler: 'index.nothing' });
    rt.register({ name: 'nofile', assetDir: code, handler: 'other.handler' });
    try {
      expect((await rt.invoke('missing', {})).errorType).toBe('Runtime.HandlerNotFound');
      expect((await rt.invoke('nofile', {})).errorType).toBe('Runtime.ImportModuleError');
    } finally {
      await rt.close();
    }
  });
});

describe('metrics in the embedded metric format (what CloudWatch Logs would extract from the log lines)', () => {
  const emfCode = mkdtempSync(join(tmpdir(), 'medlaunch-elt-emf-test-'));
  writeFileSync(join(emfCode, 'index.js'), `
'use strict';
// Powertools Metrics' shape: one JSON line per flush, the Timestamp, the directive, the values at the top level.
const line = (values, dims = { service: 'validator', Pipeline: 'P' }) => JSON.stringify({
  _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'MedlaunchElt', Dimensions: [Object.keys(dims)],
    Metrics: Object.keys(values).map((Name) => ({ Name, Unit: 'Count' })) }] },
  ...dims, ...values });
exports.emit = async (event) => {
  for (let i = 0; i < event.lines; i++) console.log(line({ RecordsRead: event.read, RecordsQuarantined: 1 }));
  if (event.bad) process.stdout.write('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"MedlaunchElt"}]}}\\n');
  if (event.fail) throw new Error('failed after emitting');
  return { emitted: event.lines };
};
`);

  test('every line of an invocation is read before its result returns, on stdout and stderr, from results and errors', async () => {
    const rt = new LocalLambdaRuntime({ log: () => undefined });
    rt.register({ name: 'emitter', assetDir: emfCode, handler: 'index.emit', timeoutSeconds: 10, memoryMb: 256 });
    try {
      // Thousands of lines: without the flush before the result, most arrive after the invocation ended.
      await rt.invoke('emitter', { lines: 3000, read: 2 });
      let s = rt.metrics.snapshot();
      expect(s.documents).toBe(3000);
      expect(s.series.find((x) => x.name === 'RecordsRead')).toMatchObject({
        namespace: 'MedlaunchElt', unit: 'Count', dimensions: { Pipeline: 'P', service: 'validator' }, sampleCount: 3000, sum: 6000, min: 2, max: 2, functions: ['emitter'],
      });
      const failed = await rt.invoke('emitter', { lines: 500, read: 3, fail: true, bad: true });
      expect(failed.functionError).toBe('Unhandled');
      s = rt.metrics.snapshot();
      expect(s.documents).toBe(3500);
      expect(s.series.find((x) => x.name === 'RecordsRead')).toMatchObject({ sampleCount: 3500, sum: 7500, max: 3 });
      expect(s.series.find((x) => x.name === 'RecordsQuarantined')).toMatchObject({ sampleCount: 3500, sum: 3500 });
      expect(s.rejected).toEqual({ parsing: 0, validation: 1, first: [{ function: 'emitter', error: 'validation', reason: expect.stringMatching(/Dimensions/) }] });
    } finally {
      await rt.close();
    }
  });

  test('the log sink still receives every line', async () => {
    const lines: string[] = [];
    const rt = new LocalLambdaRuntime({ log: (fn, line) => lines.push(`${fn}: ${line}`) });
    rt.register({ name: 'emitter', assetDir: emfCode, handler: 'index.emit', timeoutSeconds: 10 });
    try {
      await rt.invoke('emitter', { lines: 2, read: 1 });
      expect(lines.filter((l) => l.startsWith('emitter: {"_aws"'))).toHaveLength(2);
    } finally {
      await rt.close();
    }
  });
});

/**
 * One Lambda execution environment: a worker thread running the function's bundled asset with the
 * environment Lambda gives it (defaults, the caller's base environment, the function's variables,
 * then the reserved variables and the execution role's credentials), its log lines piped out.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LocalFunctionConfig, LocalLambdaRuntimeOptions } from './types';
import { WORKER_SOURCE } from './worker-source';

export interface StartedMessage {
  type: 'started';
  id: string;
}

export interface ResultMessage {
  type: 'result';
  id: string;
  payload?: string;
  error?: { errorType: string; errorMessage: string; trace?: string[] };
}

export interface Container {
  readonly fn: Registered;
  readonly worker: Worker;
  readonly streamName: string;
  busy: boolean;
  dead: boolean;
  invocations: number;
  /** When it last went idle (LRU eviction). */
  idleSince: number;
  settle?: (r: ResultMessage | { crashed: Error | number }) => void;
  onStarted?: () => void;
}

export interface Registered extends LocalFunctionConfig {
  readonly arn: string;
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly idle: Container[];
  readonly all: Set<Container>;
  running: number;
}

/** The environment Lambda gives a function for its execution role's temporary credentials. */
function credentialEnv(c: LocalFunctionConfig['credentials']): Record<string, string> {
  if (!c) return {};
  const env: Record<string, string> = { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey };
  if (c.sessionToken !== undefined) env.AWS_SESSION_TOKEN = c.sessionToken;
  return env;
}

function findNodePath(): string | undefined {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'node_modules');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** What an environment is started with, besides its function. */
export interface EnvironmentSettings {
  readonly options: LocalLambdaRuntimeOptions;
  /** The private HOME of every environment (no ~/.aws is read). */
  readonly home: string;
  readonly region: string;
}

/**
 * Starts a new execution environment of `fn` (a cold start). `onEnded` runs when its worker exits;
 * the container is marked dead and a pending invocation settles as crashed.
 */
export function startEnvironment(fn: Registered, s: EnvironmentSettings, onEnded: (c: Container) => void): Container {
  const streamName = `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomUUID().replace(/-/g, '')}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    HOME: s.home,
    AWS_REGION: s.region,
    AWS_DEFAULT_REGION: s.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
    ...(s.options.baseEnv ?? {}),
    ...(fn.env ?? {}),
    ...credentialEnv(fn.credentials),
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: streamName,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    LAMBDA_TASK_ROOT: fn.assetDir,
    LAMBDA_RUNTIME_DIR: fn.assetDir,
    _HANDLER: fn.handler,
  };
  const nodePath = s.options.nodePath ?? findNodePath();
  if (nodePath && !env.NODE_PATH) env.NODE_PATH = nodePath;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    env,
    stdout: true,
    stderr: true,
    workerData: { taskRoot: fn.assetDir, handler: fn.handler },
    resourceLimits: s.options.enforceMemory === false ? undefined
      : { maxOldGenerationSizeMb: Math.max(64, fn.memoryMb) },
  });
  const container: Container = { fn, worker, streamName, busy: false, dead: false, invocations: 0, idleSince: 0 };
  const sink = s.options.log ?? ((fnName: string, line: string) => { process.stderr.write(`[${fnName}] ${line}\n`); });
  pipeLogs(sink, fn.name, worker.stdout, 'stdout');
  pipeLogs(sink, fn.name, worker.stderr, 'stderr');
  worker.on('message', (msg: ResultMessage | StartedMessage) => {
    if (msg?.type === 'result') container.settle?.(msg);
    else if (msg?.type === 'started') container.onStarted?.();
  });
  worker.on('error', (err) => {
    container.dead = true;
    container.settle?.({ crashed: err });
  });
  worker.on('exit', (code) => {
    container.dead = true;
    onEnded(container);
    container.settle?.({ crashed: code });
  });
  return container;
}

/** Passes each line a function writes to `sink`. */
function pipeLogs(sink: NonNullable<LocalLambdaRuntimeOptions['log']>, name: string, stream: NodeJS.ReadableStream, kind: 'stdout' | 'stderr'): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      sink(name, buf.slice(0, nl), kind);
      buf = buf.slice(nl + 1);
    }
  });
  stream.on('end', () => { if (buf) sink(name, buf, kind); buf = ''; });
}

/** The result of an invocation that ran past the function's timeout. */
export function timeoutError(requestId: string, seconds: number) {
  return {
    functionError: 'Unhandled' as const,
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${requestId} Error: Task timed out after ${seconds.toFixed(2)} seconds`,
    trace: [] as string[],
  };
}

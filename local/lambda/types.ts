/** What the local Lambda runtime runs and returns: function configuration, results, API errors, faults and options. */

/** A function the runtime can invoke. */
export interface LocalFunctionConfig {
  readonly name: string;
  readonly arn?: string;
  /** Logical id in the template (also accepted by `invoke` and fault injection). */
  readonly logicalId?: string;
  /** Folder holding the code (`LAMBDA_TASK_ROOT`). */
  readonly assetDir: string;
  /** `file.export` (default `index.handler`). */
  readonly handler?: string;
  /** Environment.Variables of the function. */
  readonly env?: Record<string, string>;
  /** Timeout in seconds (default 3, like Lambda). */
  readonly timeoutSeconds?: number;
  /** Memory in MB (default 128); bounds the worker's V8 heap. */
  readonly memoryMb?: number;
  /** Reserved concurrency (max concurrent invocations of this function). */
  readonly reservedConcurrency?: number;
  /**
   * The execution role's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
   * which the local endpoints map back to the role (see local/iam/credentials.ts). As in Lambda they
   * override any variable of the same name.
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** The execution role's ARN (informational, as Lambda's `Role`). */
  readonly roleArn?: string;
}

/** Result of one synchronous (RequestResponse) invocation, like Lambda's Invoke API. */
export interface InvokeResult {
  readonly requestId: string;
  /** The JSON response (parsed); absent on a function error. */
  readonly payload?: unknown;
  /** 'Unhandled' when the function failed (Lambda's X-Amz-Function-Error). */
  readonly functionError?: 'Unhandled';
  readonly errorType?: string;
  readonly errorMessage?: string;
  readonly trace?: string[];
  readonly durationMs: number;
  /** True when this invocation started a new execution environment. */
  readonly coldStart: boolean;
}

/** A Lambda API error (the invocation was not run): name as the Lambda API names it. */
export class LambdaApiError extends Error {
  constructor(name: string, message: string, readonly statusCode: number) {
    super(message);
    this.name = name;
  }
}

/** Injected faults; each counter is decremented when it fires. */
export interface LambdaFaults {
  /**
   * The next `n` invocations of `fn` (name, ARN or logical id) report `Sandbox.Timedout` without running;
   * with `when`, only invocations whose payload it accepts count (a fault that hits the same object
   * whatever order the invocations arrive in).
   */
  readonly timeoutNext?: { fn: string; n: number; when?: (payload: unknown) => boolean };
  /** The next `n` invocations (of `fn`, or of any function) are throttled (`TooManyRequestsException`). */
  readonly throttleNext?: number | { fn?: string; n: number };
  /** The next `n` invocations of `fn` fail with this error type without running. */
  readonly errorNext?: { fn: string; n: number; errorType: string; errorMessage?: string };
}

/** Options of {@link LocalLambdaRuntime}. */
export interface LocalLambdaRuntimeOptions {
  /** Extra environment for every function (AWS_ENDPOINT_URL_S3, …); function variables win over it. */
  readonly baseEnv?: Record<string, string>;
  /** Region (default `us-east-1`). */
  readonly region?: string;
  readonly accountId?: string;
  /**
   * Max concurrent invocations over all functions (account concurrency, default 10). It also bounds the
   * warm environments kept: a cold start beyond it first ends the least recently used idle environment.
   */
  readonly maxConcurrency?: number;
  /**
   * Max concurrent invocations of a function without `ReservedConcurrentExecutions` (default: no
   * limit but `maxConcurrency`). Invocations beyond it queue (or throttle), as beyond a reserved concurrency.
   */
  readonly defaultFunctionConcurrency?: number;
  /** When the limit is reached: 'queue' (default, wait for a slot) or 'throttle' (TooManyRequestsException). */
  readonly onConcurrencyLimit?: 'queue' | 'throttle';
  /** NODE_PATH for externalized modules (default: the nearest node_modules above this file). */
  readonly nodePath?: string;
  /** Bound the worker heap by the function's MemorySize (default true). */
  readonly enforceMemory?: boolean;
  /** Receives every log line written by a function (default: written to stderr with the function name). */
  readonly log?: (functionName: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** Max payload size in bytes, request and response (default 6 MB like synchronous Lambda). */
  readonly maxPayloadBytes?: number;
}

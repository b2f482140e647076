/**
 * Service integrations of Task states, dispatched by their `Resource`, returning what AWS Step
 * Functions returns and failing with the error names AWS uses.
 */
import { randomUUID } from 'node:crypto';
import * as athena from '@aws-sdk/client-athena';
import * as s3 from '@aws-sdk/client-s3';
import * as sns from '@aws-sdk/client-sns';
import type { InvokeResult } from '../lambda';

/** What the Step Functions engine needs from a Lambda runtime. */
export interface LambdaInvoker {
  invoke(nameOrArn: string, payload: unknown): Promise<InvokeResult>;
}

/** Endpoints of the embedded AWS services used by SDK integrations. */
export interface ServiceEndpoints {
  readonly s3?: string;
  readonly sns?: string;
  readonly athena?: string;
}

/**
 * A Task failure as Step Functions reports it: `name` is the Error (what Retry/Catch match),
 * `message` the Cause. `States.Runtime`-like errors are neither retryable nor catchable.
 */
export class TaskFailure extends Error {
  constructor(name: string, cause: string, private readonly recoverable = true) {
    super(cause);
    this.name = name;
  }
  /** Read by aws-local-stepfunctions' Retry matching. */
  get isRetryable(): boolean { return this.recoverable; }
  /** Read by aws-local-stepfunctions' Catch matching. */
  get isCatchable(): boolean { return this.recoverable; }
}

function httpMetadata(requestId: string, status: number, headers: Record<string, string> = {}) {
  const all = { 'Content-Type': 'application/json', 'Date': new Date().toUTCString(), 'x-amzn-RequestId': requestId, ...headers };
  return {
    SdkHttpMetadata: {
      AllHttpHeaders: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, [v]])),
      HttpHeaders: all,
      HttpStatusCode: status,
    },
    SdkResponseMetadata: { RequestId: requestId },
  };
}

/** Error name of a failed Lambda invocation (function error). */
function lambdaFunctionFailure(r: InvokeResult): TaskFailure {
  const errorType = r.errorType ?? 'Lambda.Unknown';
  const cause = JSON.stringify({ errorType, errorMessage: r.errorMessage ?? '', trace: r.trace ?? [] });
  return new TaskFailure(errorType, cause);
}

function lambdaApiFailure(err: unknown): TaskFailure {
  const e = err as { name?: string; message?: string; statusCode?: number };
  const name = e.name && e.name !== 'Error' ? e.name : 'AWSLambdaException';
  return new TaskFailure(`Lambda.${name}`,
    `${e.message ?? String(err)} (Service: AWSLambda; Status Code: ${e.statusCode ?? 500}; Error Code: ${name}; Request ID: ${randomUUID()}; Proxy: null)`);
}

/** `arn:aws:states:::lambda:invoke` — the optimized integration's result shape. */
export async function lambdaInvoke(lambda: LambdaInvoker, params: any): Promise<unknown> {
  if (!params || typeof params !== 'object' || typeof params.FunctionName !== 'string') {
    throw new TaskFailure('States.Runtime', 'lambda:invoke requires Parameters.FunctionName', false);
  }
  const payload = params.Payload === undefined ? {} : params.Payload;
  if (params.InvocationType === 'Event') {
    // Asynchronous invocation: accepted, runs in the background, errors are not reported.
    lambda.invoke(params.FunctionName, payload).catch(() => undefined);
    const requestId = randomUUID();
    return { Payload: '', StatusCode: 202, ...httpMetadata(requestId, 202) };
  }
  if (params.InvocationType === 'DryRun') {
    return { Payload: '', StatusCode: 204, ...httpMetadata(randomUUID(), 204) };
  }
  let r: InvokeResult;
  try {
    r = await lambda.invoke(params.FunctionName, payload);
  } catch (err) {
    throw lambdaApiFailure(err);
  }
  if (r.functionError) throw lambdaFunctionFailure(r);
  const body = JSON.stringify(r.payload ?? null);
  return {
    ExecutedVersion: '$LATEST',
    Payload: r.payload ?? null,
    ...httpMetadata(r.requestId, 200, {
      'Connection': 'keep-alive',
      'Content-Length': String(Buffer.byteLength(body)),
      'X-Amz-Executed-Version': '$LATEST',
      'x-amzn-Remapped-Content-Length': '0',
      'X-Amzn-Trace-Id': `root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};sampled=0`,
    }),
    StatusCode: 200,
  };
}

/** A plain Lambda ARN as Resource: the function's raw response. */
export async function lambdaArnInvoke(lambda: LambdaInvoker, arn: string, input: unknown): Promise<unknown> {
  let r: InvokeResult;
  try {
    r = await lambda.invoke(arn, input);
  } catch (err) {
    throw lambdaApiFailure(err);
  }
  if (r.functionError) throw lambdaFunctionFailure(r);
  return r.payload ?? null;
}

const SERVICE_ERROR_PREFIX: Record<string, string> = { s3: 'S3', sns: 'Sns', athena: 'Athena' };

/** SDK clients for the embedded services, created lazily. */
export class ServiceClients {
  private s3Client?: s3.S3Client;
  private snsClient?: sns.SNSClient;
  private athenaClient?: athena.AthenaClient;

  /**
   * `credentials`: what the SDK calls are signed with — with IAM enforcement, the state machine
   * role's local credentials, so the embedded services authorize the role.
   */
  constructor(private readonly endpoints: ServiceEndpoints, private readonly region: string,
    private readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = { accessKeyId: 'test', secretAccessKey: 'test' }) {}

  /** Never reaches real AWS: an integration without a local endpoint fails (States.Runtime). */
  private common(service: 's3' | 'sns' | 'athena', endpoint?: string) {
    const url = endpoint ?? process.env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] ?? process.env.AWS_ENDPOINT_URL;
    if (!url) throw new TaskFailure('States.Runtime', `no local endpoint configured for ${service}`, false);
    return {
      region: this.region,
      credentials: this.credentials,
      endpoint: url,
    };
  }

  /** The S3 client (path-style). */
  get s3(): s3.S3Client {
    this.s3Client ??= new s3.S3Client({
      ...this.common('s3', this.endpoints.s3),
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return this.s3Client;
  }

  /** The SNS client. */
  get sns(): sns.SNSClient {
    this.snsClient ??= new sns.SNSClient(this.common('sns', this.endpoints.sns));
    return this.snsClient;
  }

  /** The Athena client. */
  get athena(): athena.AthenaClient {
    this.athenaClient ??= new athena.AthenaClient(this.common('athena', this.endpoints.athena));
    return this.athenaClient;
  }

  /** Releases sockets. */
  destroy(): void {
    this.s3Client?.destroy();
    this.snsClient?.destroy();
    this.athenaClient?.destroy();
  }
}

function sdkFailure(service: string, err: unknown, errorPrefix?: string): TaskFailure {
  if (err instanceof TaskFailure) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
  const prefix = errorPrefix ?? SERVICE_ERROR_PREFIX[service] ?? service;
  let name = e.name && e.name !== 'Error' ? e.name : `${prefix}Exception`;
  if (!name.endsWith('Exception')) name = `${name}Exception`;
  const status = e.$metadata?.httpStatusCode ?? 500;
  return new TaskFailure(`${prefix}.${name}`,
    `${e.message ?? String(err)} (Service: ${prefix}, Status Code: ${status}, Request ID: ${e.$metadata?.requestId ?? randomUUID()})`);
}

/**
 * `arn:aws:states:::sns:publish` — Message objects are sent as JSON text like AWS does. Its errors
 * are named `SNS.<Exception>` (e.g. `SNS.AuthorizationErrorException` when the role may not
 * publish), where the aws-sdk integration says `Sns.`.
 */
export async function snsPublish(clients: ServiceClients, params: any): Promise<unknown> {
  if (!params || typeof params !== 'object') throw new TaskFailure('States.Runtime', 'sns:publish requires Parameters', false);
  const input: Record<string, unknown> = { ...params };
  if (input.Message !== undefined && typeof input.Message !== 'string') input.Message = JSON.stringify(input.Message);
  try {
    const out = await clients.sns.send(new sns.PublishCommand(input as unknown as sns.PublishCommandInput));
    const requestId = out.$metadata.requestId ?? randomUUID();
    return {
      MessageId: out.MessageId,
      ...(out.SequenceNumber ? { SequenceNumber: out.SequenceNumber } : {}),
      ...httpMetadata(requestId, out.$metadata.httpStatusCode ?? 200, { 'Content-Type': 'text/xml' }),
    };
  } catch (err) {
    throw sdkFailure('sns', err, 'SNS');
  }
}

const SDK_MODULES: Record<string, { module: Record<string, unknown>; client: (c: ServiceClients) => { send(cmd: unknown): Promise<unknown> } }> = {
  s3: { module: s3 as unknown as Record<string, unknown>, client: (c) => c.s3 as unknown as { send(cmd: unknown): Promise<unknown> } },
  sns: { module: sns as unknown as Record<string, unknown>, client: (c) => c.sns as unknown as { send(cmd: unknown): Promise<unknown> } },
  athena: { module: athena as unknown as Record<string, unknown>, client: (c) => c.athena as unknown as { send(cmd: unknown): Promise<unknown> } },
};

async function toJsonValue(value: unknown): Promise<unknown> {
  if (value === null || value === undefined) return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (typeof value === 'object' && typeof (value as { transformToString?: unknown }).transformToString === 'function') {
    return (value as { transformToString(): Promise<string> }).transformToString();
  }
  if (Array.isArray(value)) return Promise.all(value.map(toJsonValue));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === '$metadata' || v === undefined) continue;
      out[k] = await toJsonValue(v);
    }
    return out;
  }
  return value;
}

/**
 * `arn:aws:states:::aws-sdk:<service>:<action>` — the SDK v3 call; errors are named
 * `<Service>.<ErrorName>Exception` (e.g. `S3.NoSuchKeyException`) as Step Functions names them.
 */
export async function awsSdkCall(clients: ServiceClients, service: string, action: string, params: any): Promise<unknown> {
  const svc = SDK_MODULES[service];
  if (!svc) throw new TaskFailure('States.Runtime', `aws-sdk integration for service '${service}' is not emulated locally`, false);
  const commandName = `${action.charAt(0).toUpperCase()}${action.slice(1)}Command`;
  const Command = svc.module[commandName] as (new (input: unknown) => unknown) | undefined;
  if (typeof Command !== 'function') {
    throw new TaskFailure('States.Runtime', `unknown action ${service}:${action}`, false);
  }
  let out: unknown;
  try {
    out = await svc.client(clients).send(new Command(params ?? {}));
  } catch (err) {
    throw sdkFailure(service, err);
  }
  return toJsonValue(out);
}

/**
 * Embedded local Athena endpoint: the AWS JSON 1.1 Athena API on node:http, executing queries with
 * DuckDB through a Trino compatibility layer (./compat). Tables are the Glue tables of the
 * synthesized template, read straight from the local S3 files on disk; results are written back
 * through the local S3 API. See docs/local-athena.md for the supported API and SQL subset.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, relative, sep } from 'node:path';
import { DuckDBConnection, DuckDBInstance, DuckDBType } from '@duckdb/node-api';
import { BodyTooLargeError, closeServer, endpointUrl, listen, newRequestId, readBody, send } from '../http';
import { DataFile, GlueTableInput, RegisteredTable, jsonToParquetSql, listDataFiles, parseS3Uri, tableFormat, tableLayout, tableRelation } from './catalog';
import { COMPAT_MACROS, SESSION_SETTINGS, transpile } from './compat';
import { AthenaColumnInfo, columnInfo, csvLine, formatValue, readLines } from './results';
import {
  SqlTextError, assertSingleStatement, identName, parseUnload, quoteIdent, quoteString, statementKind,
  stripTrailingSemicolon, substituteParameters, tokenize,
} from './sql-text';
import { mulberry32 } from '../prng';
import { AccessDeniedError, type IamPolicies, type Principal } from '../iam';
import { accessKeyIdOf, type LocalCredentials } from '../iam/credentials';

export type { GlueTableInput } from './catalog';
export { transpile, COMPAT_MACROS, SESSION_SETTINGS } from './compat';
export { substituteParameters, tokenize } from './sql-text';

export interface AthenaFaultOptions {
  /** The first N StartQueryExecution calls fail with TooManyRequestsException. */
  throttleFirstN?: number;
  /** Probability (0..1) that a StartQueryExecution call is throttled (seeded PRNG). */
  throttleRate?: number;
  /** Queries whose text matches end FAILED. */
  failQueriesMatching?: RegExp;
  /** The next N queries end FAILED. */
  failNextN?: number;
  /** Injected failures are retryable system errors (default: non-retryable user errors). */
  failRetryable?: boolean;
  /** Seed of the PRNG behind throttleRate (default 1). */
  seed?: number;
}

export interface LocalAthenaOptions {
  s3: { endpoint: string; rootDir: string /* LocalS3 storage root: objects at <rootDir>/<bucket>/<key> */ };
  workDir: string;
  host?: string;
  port?: number;
  region?: string;
  faults?: AthenaFaultOptions;
  /**
   * Keep a columnar (Parquet) copy of every JSON data file a query reads, made on first read with
   * the table's own reader, and let later queries read the copy while the file is unchanged
   * (inode, size and mtime). Results are identical; only files scanned many times repay the copy
   * (docs/local-athena.md). DataScannedInBytes still counts the JSON bytes, as Athena bills them.
   * @default false
   */
  jsonCache?: boolean;
  /**
   * Authorize as Athena does (docs/cloud-fidelity.md): the caller is the principal its SigV4 access
   * key names; every API call needs its athena: action on the workgroup; a query then acts with the
   * caller's identity (aws:CalledVia athena.amazonaws.com): glue:GetDatabase/GetTable (and
   * GetPartitions without partition projection) on the catalog, database and table, s3:ListBucket
   * and s3:GetObject (+ kms:Decrypt) on what it reads, s3:GetBucketLocation and s3:PutObject (+ the
   * workgroup's ACL and KMS key) where it writes. A denial fails the query as Athena does. Without
   * it, nothing is authorized.
   */
  iam?: AthenaIam;
}

/** IAM enforcement of the local Athena. */
export interface AthenaIam {
  readonly policies: IamPolicies;
  readonly credentials: LocalCredentials;
  /**
   * The SSE-KMS key (ARN) an object is encrypted with, for the kms:Decrypt a read needs
   * (e.g. the bucket's default encryption key); undefined: not KMS-encrypted.
   */
  readonly objectKmsKey?: (bucket: string, key: string) => string | undefined;
}

/** Workgroup settings the local Athena honours (`WorkGroupConfiguration` of the template). */
export interface WorkGroupSettings {
  outputLocation?: string;
  enforce?: boolean;
  bytesScannedCutoffPerQuery?: number;
  /** `AclConfiguration.S3AclOption`: results are written with this canned ACL (x-amz-acl). */
  s3AclOption?: string;
  /** `EncryptionConfiguration`: results are written SSE_S3 or SSE_KMS (with this key). */
  encryption?: { option: string; kmsKey?: string };
}

type WorkGroup = WorkGroupSettings;

type State = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

interface AthenaErrorInfo {
  ErrorCategory: number;
  ErrorType: number;
  Retryable: boolean;
  ErrorMessage: string;
}

interface Execution {
  id: string;
  query: string;
  parameters?: string[];
  workGroup: string;
  database: string;
  catalog: string;
  outputLocation: string;
  statementType: 'DML' | 'DDL' | 'UTILITY';
  substatementType: string;
  state: State;
  stateChangeReason?: string;
  athenaError?: AthenaErrorInfo;
  submitted: number;
  started?: number;
  completed?: number;
  dataScanned: number;
  engineMs: number;
  cancelRequested: boolean;
  cancelReason?: string;
  injectedFailure?: boolean;
  fingerprint: string;
  rowsFile?: string;
  columns?: AthenaColumnInfo[];
  /** Who started the query (IAM enforcement): Athena acts with this identity. */
  principal?: Principal;
}

/** The files a query's views may read, grouped by UNION ALL branch (one scan each). */
interface ScanCandidates {
  groupOf: Map<string, number>;
  groups: Array<{ files: number; bytes: number }>;
}

/** An error surfaced as a FAILED query (category 1 system, 2 user). */
class QueryError extends Error {
  constructor(message: string, readonly category: 1 | 2 = 2, readonly errorType = 1000, readonly retryable = false) {
    super(message);
    this.name = 'QueryError';
  }
}

/** An API error answered as `{"__type", "message"}` with HTTP 400. */
class ApiError extends Error {
  constructor(readonly type: string, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
    this.name = type;
  }
}

const MAX_BODY = 1024 * 1024;
const MAX_QUERY = 262144;

/* eslint-enable no-bitwise */

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** Credentials a request is signed with (SigV4). */
export interface SigningCredentials { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }

/** Options of {@link s3Put}: who writes, and the headers Athena sends for the workgroup's settings. */
export interface S3PutOptions {
  /** Sign the request as this principal's credentials (AWS Signature V4, unsigned payload). */
  readonly credentials?: SigningCredentials;
  readonly region?: string;
  /** x-amz-acl, x-amz-server-side-encryption, ... */
  readonly headers?: Record<string, string>;
}

const sha256Hex = (data: string): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** Signs a request with AWS Signature Version 4 (UNSIGNED-PAYLOAD), adding Authorization and x-amz-* headers. */
export function signV4(method: string, url: URL, headers: Record<string, string>, creds: SigningCredentials, region: string, service: string,
  now = new Date()): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const all: Record<string, string> = { ...headers, 'host': url.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  if (creds.sessionToken) all['x-amz-security-token'] = creds.sessionToken;
  const names = Object.keys(all).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
  const query = [...url.searchParams.entries()].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const canonical = [method, url.pathname, query, names.map((h) => `${h}:${lower[h]}\n`).join(''), names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return { ...all, authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

/**
 * PUT an object (a file or a buffer) through the local S3 API, signed as `opts.credentials` when
 * given; retries 5xx/SlowDown a few times. An HTTP 403 is an {@link S3AccessDenied}.
 */
export async function s3Put(
  endpoint: string, bucket: string, key: string, body: { file: string } | { data: Buffer }, contentType: string, opts: S3PutOptions = {},
): Promise<void> {
  const url = new URL(`${endpoint.replace(/\/+$/, '')}/${encodeURIComponent(bucket)}/${encodeKey(key)}`);
  for (let attempt = 1; ; attempt++) {
    const size = 'file' in body ? statSync(body.file).size : body.data.length;
    let headers: Record<string, string> = { 'content-length': String(size), 'content-type': contentType, ...opts.headers };
    if (opts.credentials) headers = signV4('PUT', url, headers, opts.credentials, opts.region ?? 'us-east-1', 's3');
    const status = await new Promise<{ code: number; text: string }>((resolve, reject) => {
      const req = httpRequest(url, { method: 'PUT', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if ('file' in body) createReadStream(body.file).on('error', reject).pipe(req);
      else req.end(body.data);
    }).catch((e: Error) => ({ code: 0, text: e.message }));
    if (status.code >= 200 && status.code < 300) return;
    if (status.code === 403) throw new S3AccessDenied(bucket, key, status.text);
    const retryable = status.code === 0 || status.code >= 500;
    if (!retryable || attempt >= 5) {
      throw new QueryError(`Error writing s3://${bucket}/${key}: HTTP ${status.code} ${status.text.slice(0, 300)}`, 1, 401, retryable);
    }
    await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
  }
}

/** The local S3 refused a write (HTTP 403). */
export class S3AccessDenied extends Error {
  constructor(readonly bucket: string, readonly key: string, readonly body: string) {
    super(`Access Denied writing s3://${bucket}/${key}`);
    this.name = 'S3AccessDenied';
  }
}

/** The local Athena server. */
export class LocalAthena {
  /** Starts the server and its DuckDB engine. */
  static async start(opts: LocalAthenaOptions): Promise<LocalAthena> {
    mkdirSync(opts.workDir, { recursive: true });
    const db = await DuckDBInstance.create(':memory:', { threads: '4' });
    const conn = await db.connect();
    for (const s of [...SESSION_SETTINGS, ...COMPAT_MACROS]) await conn.run(s);
    const a = new LocalAthena(opts, db, conn);
    const port = await listen(a.server, opts.host ?? '127.0.0.1', opts.port ?? 0);
    (a as { endpoint: string }).endpoint = endpointUrl(opts.host ?? '127.0.0.1', port);
    return a;
  }

  readonly endpoint: string = '';
  private readonly server: Server;
  private readonly tables = new Map<string, RegisteredTable>();
  private readonly workGroups = new Map<string, WorkGroup>([['primary', {}]]);
  private readonly executions = new Map<string, Execution>();
  private readonly tokens = new Map<string, string>();
  private readonly queue: string[] = [];
  private readonly schemas = new Set<string>();
  /** JSON data file path → its columnar copy (jsonCache) for the file version it was made from; no path: the copy failed. */
  private readonly jsonCopies = new Map<string, { version: string; path: string | undefined }>();
  private faults: AthenaFaultOptions = {};
  private random: () => number = mulberry32(1);
  private startCalls = 0;
  private running?: Execution;
  private pumping = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();

  private constructor(private readonly opts: LocalAthenaOptions, private readonly db: DuckDBInstance, private readonly conn: DuckDBConnection) {
    this.server = createServer((req, res) => { void this.handle(req, res); });
    this.setFaults(opts.faults ?? {});
  }

  /** Registers (or replaces) a Glue table: the resolved CloudFormation TableInput. */
  registerTable(databaseName: string, tableInput: GlueTableInput): void {
    if (!tableInput?.Name) throw new Error('TableInput.Name is required');
    this.tables.set(`${databaseName.toLowerCase()}.${tableInput.Name.toLowerCase()}`, { database: databaseName.toLowerCase(), input: tableInput });
  }

  /** Registers (or replaces) a workgroup. `primary` exists from the start. */
  registerWorkGroup(name: string, cfg: WorkGroupSettings): void {
    this.workGroups.set(name, { ...cfg });
  }

  /**
   * Registers a workgroup from its CloudFormation `WorkGroupConfiguration` (resolved): output
   * location, enforcement, bytes-scanned cutoff, result ACL and result encryption.
   */
  registerWorkGroupConfiguration(name: string, c: Record<string, any>): void {
    const rc = c.ResultConfiguration ?? {};
    this.registerWorkGroup(name, {
      outputLocation: rc.OutputLocation,
      enforce: c.EnforceWorkGroupConfiguration,
      bytesScannedCutoffPerQuery: c.BytesScannedCutoffPerQuery,
      s3AclOption: rc.AclConfiguration?.S3AclOption,
      encryption: rc.EncryptionConfiguration?.EncryptionOption
        ? { option: rc.EncryptionConfiguration.EncryptionOption, kmsKey: rc.EncryptionConfiguration.KmsKey } : undefined,
    });
  }

  /** Replaces the fault options (counters restart). */
  setFaults(f: AthenaFaultOptions): void {
    this.faults = { ...f };
    this.random = mulberry32(f.seed ?? 1);
    this.startCalls = 0;
  }

  /** Stops the server, cancels running work and closes DuckDB. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.queue.splice(0)) this.finish(this.executions.get(id)!, 'CANCELLED', 'The local Athena was shut down');
    if (this.running) { this.running.cancelRequested = true; this.conn.interrupt(); }
    await closeServer(this.server);
    await this.idle;
    this.conn.closeSync();
    this.db.closeSync();
  }

  // ---------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const reply = (status: number, body: unknown): void => send(res, status, JSON.stringify(body), {
      'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-RequestId': requestId,
    });
    try {
      if (req.method !== 'POST') throw new ApiError('InvalidRequestException', 'Only POST is supported');
      const target = String(req.headers['x-amz-target'] ?? '');
      const m = /^AmazonAthena\.(\w+)$/.exec(target);
      if (!m) throw new ApiError('UnknownOperationException', `Unknown operation ${target}`);
      let input: Record<string, unknown>;
      try {
        const raw = (await readBody(req, MAX_BODY)).toString('utf8');
        input = raw.trim() === '' ? {} : JSON.parse(raw);
      } catch (e) {
        if (e instanceof BodyTooLargeError) throw new ApiError('InvalidRequestException', e.message);
        throw new ApiError('SerializationException', 'The request body is not valid JSON');
      }
      if (!input || typeof input !== 'object' || Array.isArray(input)) throw new ApiError('SerializationException', 'The request body must be a JSON object');
      reply(200, await this.dispatch(m[1], input, this.authenticate(req)));
    } catch (e) {
      if (e instanceof ApiError) {
        reply(400, { __type: e.type, message: e.message, ...e.extra });
      } else {
        reply(500, { __type: 'InternalServerException', message: (e as Error).message });
      }
    }
  }

  private async dispatch(op: string, input: Record<string, unknown>, principal?: Principal): Promise<unknown> {
    const allow = (action: string, workGroup: string) => this.authorizeApi(principal, action, workGroup);
    switch (op) {
      case 'StartQueryExecution': return this.startQueryExecution(input, principal);
      case 'GetQueryExecution': {
        const ex = this.lookup(input.QueryExecutionId);
        allow('athena:GetQueryExecution', ex.workGroup);
        return { QueryExecution: this.describe(ex) };
      }
      case 'GetQueryResults': return this.getQueryResults(input, principal);
      case 'StopQueryExecution': {
        const ex = this.lookup(input.QueryExecutionId);
        allow('athena:StopQueryExecution', ex.workGroup);
        this.stop(ex);
        return {};
      }
      case 'BatchGetQueryExecution': return this.batchGet(input, principal);
      case 'ListQueryExecutions': {
        allow('athena:ListQueryExecutions', typeof input.WorkGroup === 'string' ? input.WorkGroup : 'primary');
        return this.list(input);
      }
      case 'GetWorkGroup': {
        allow('athena:GetWorkGroup', String(input.WorkGroup ?? ''));
        return this.getWorkGroup(input);
      }
      default: throw new ApiError('UnknownOperationException', `Operation ${op} is not supported by the local Athena`);
    }
  }

  // ---------------------------------------------------------------- IAM

  /** The caller (IAM enforcement only): the principal the SigV4 access key names. */
  private authenticate(req: IncomingMessage): Principal | undefined {
    const iam = this.opts.iam;
    if (!iam) return undefined;
    const key = accessKeyIdOf(req.headers, new URL(req.url ?? '/', 'http://localhost').searchParams);
    if (key === undefined) throw new ApiError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    const principal = iam.credentials.principalOf(key);
    if (!principal) throw new ApiError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    return principal;
  }

  private workGroupArn(name: string, account: string): string {
    return `arn:aws:athena:${this.region}:${account}:workgroup/${name}`;
  }

  private get region(): string { return this.opts.region ?? 'us-east-1'; }

  /** An Athena API action on a workgroup: AccessDeniedException (HTTP 400) unless allowed. */
  private authorizeApi(principal: Principal | undefined, action: string, workGroup: string): void {
    const iam = this.opts.iam;
    if (!iam || !principal) return;
    try {
      iam.policies.assertAllowed({ principal, action, resource: this.workGroupArn(workGroup, principal.account) });
    } catch (e) {
      if (e instanceof AccessDeniedError) throw new ApiError('AccessDeniedException', e.message);
      throw e;
    }
  }

  /** Authorizes an action Athena performs with the caller's identity (aws:CalledVia athena.amazonaws.com). */
  private viaAthena(ex: Execution, action: string, resource: string, context: Record<string, string | string[]> = {}): AccessDeniedError | undefined {
    const iam = this.opts.iam;
    if (!iam || !ex.principal) return undefined;
    try {
      iam.policies.assertAllowed({
        principal: ex.principal,
        action,
        resource,
        context: { 'aws:CalledVia': ['athena.amazonaws.com'], 'aws:CalledViaFirst': 'athena.amazonaws.com', 'aws:CalledViaLast': 'athena.amazonaws.com', ...context },
      });
      return undefined;
    } catch (e) {
      if (e instanceof AccessDeniedError) return e;
      throw e;
    }
  }

  /** KMS on behalf of the caller through S3 (kms:ViaService s3.<region>.amazonaws.com). */
  private kmsViaS3(ex: Execution, action: string, keyArn: string, objectArn: string): AccessDeniedError | undefined {
    return this.viaAthena(ex, action, keyArn, {
      'kms:ViaService': `s3.${this.region}.amazonaws.com`,
      'kms:CallerAccount': ex.principal!.account,
      'kms:EncryptionContext:aws:s3:arn': objectArn,
    });
  }

  /**
   * The Glue Data Catalog calls of a query, as the caller: glue:GetDatabase and glue:GetTable on
   * the catalog, the database and the table (Glue authorizes a catalog object together with its
   * ancestors), and glue:GetPartitions for a partitioned table without partition projection.
   */
  private authorizeCatalog(ex: Execution, table: RegisteredTable): void {
    if (!this.opts.iam || !ex.principal) return;
    const base = `arn:aws:glue:${this.region}:${ex.principal.account}`;
    const name = table.input.Name.toLowerCase();
    const catalog = `${base}:catalog`;
    const database = `${base}:database/${table.database}`;
    const tableArn = `${base}:table/${table.database}/${name}`;
    const projection = (table.input.Parameters?.['projection.enabled'] ?? '').toLowerCase() === 'true';
    const checks: Array<[string, string[]]> = [
      ['glue:GetDatabase', [catalog, database]],
      ['glue:GetTable', [catalog, database, tableArn]],
    ];
    if ((table.input.PartitionKeys ?? []).length > 0 && !projection) checks.push(['glue:GetPartitions', [catalog, database, tableArn]]);
    for (const [action, resources] of checks) {
      for (const resource of resources) {
        const denied = this.viaAthena(ex, action, resource);
        if (denied) {
          throw new QueryError(`${denied.message} (Service: AmazonDataCatalog; Status Code: 400; Error Code: AccessDeniedException; `
            + `Request ID: ${randomUUID()}; Proxy: null)`, 2, 1000);
        }
      }
    }
  }

  /**
   * The S3 reads of a query, as the caller: s3:ListBucket on each location listed (s3:prefix the
   * table or partition folder), s3:GetObject on each file its tables may read, kms:Decrypt for a
   * KMS-encrypted file. The local engine reads the files from disk, so this is checked first, for
   * every file of every partition the views may read (a WHERE clause does not narrow it).
   */
  private authorizeReads(ex: Execution, table: RegisteredTable, files: DataFile[]): void {
    const iam = this.opts.iam;
    if (!iam || !ex.principal) return;
    const root = this.opts.s3.rootDir;
    const prefixes = new Map<string, string>();
    if ((table.input.PartitionKeys ?? []).length === 0) {
      try {
        const loc = parseS3Uri(table.input.StorageDescriptor?.Location ?? '');
        prefixes.set(`${loc.bucket}\0${loc.key}`, loc.bucket);
      } catch {
        // an invalid location fails later, when the view is made
      }
    }
    const objects: Array<{ bucket: string; key: string }> = [];
    for (const f of files) {
      const rel = relative(root, f.path).split(sep);
      const bucket = rel[0];
      const key = rel.slice(1).join('/');
      objects.push({ bucket, key });
      prefixes.set(`${bucket}\0${key.slice(0, key.lastIndexOf('/') + 1)}`, bucket);
    }
    const permissionDenied = (path: string, e: AccessDeniedError) => new QueryError(
      `PERMISSION_DENIED: Permission denied on S3 path: ${path}: Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; `
      + `Request ID: ${randomUUID()}; Proxy: null) — ${e.message}`, 2, 1000);
    for (const [id, bucket] of prefixes) {
      const prefix = id.slice(bucket.length + 1);
      const denied = this.viaAthena(ex, 's3:ListBucket', `arn:aws:s3:::${bucket}`, { 's3:prefix': prefix, 's3:delimiter': '/' });
      if (denied) throw permissionDenied(`s3://${bucket}/${prefix}`, denied);
    }
    for (const { bucket, key } of objects) {
      const objectArn = `arn:aws:s3:::${bucket}/${key}`;
      const denied = this.viaAthena(ex, 's3:GetObject', objectArn);
      if (denied) throw permissionDenied(`s3://${bucket}/${key}`, denied);
      const keyArn = iam.objectKmsKey?.(bucket, key);
      const kms = keyArn ? this.kmsViaS3(ex, 'kms:Decrypt', keyArn, objectArn) : undefined;
      if (kms) throw permissionDenied(`s3://${bucket}/${key}`, kms);
    }
  }

  /** The headers Athena writes results with, from the workgroup's ACL and encryption settings. */
  private writeHeaders(ex: Execution): Record<string, string> {
    const wg = this.workGroups.get(ex.workGroup) ?? {};
    const h: Record<string, string> = {};
    if (wg.s3AclOption === 'BUCKET_OWNER_FULL_CONTROL') h['x-amz-acl'] = 'bucket-owner-full-control';
    if (wg.encryption?.option === 'SSE_KMS') {
      h['x-amz-server-side-encryption'] = 'aws:kms';
      if (wg.encryption.kmsKey) h['x-amz-server-side-encryption-aws-kms-key-id'] = wg.encryption.kmsKey;
    } else if (wg.encryption?.option === 'SSE_S3') {
      h['x-amz-server-side-encryption'] = 'AES256';
    }
    return h;
  }

  /**
   * A write Athena makes with the caller's identity: s3:PutObject (with the request's ACL and
   * encryption headers as condition keys), s3:PutObjectAcl when a canned ACL is sent, and
   * kms:GenerateDataKey on the SSE-KMS key. Athena's error when it is denied.
   */
  private authorizeWrite(ex: Execution, bucket: string, key: string): void {
    if (!this.opts.iam || !ex.principal) return;
    const h = this.writeHeaders(ex);
    const objectArn = `arn:aws:s3:::${bucket}/${key}`;
    const context: Record<string, string> = {};
    if (h['x-amz-acl']) context['s3:x-amz-acl'] = h['x-amz-acl'];
    if (h['x-amz-server-side-encryption']) context['s3:x-amz-server-side-encryption'] = h['x-amz-server-side-encryption'];
    if (h['x-amz-server-side-encryption-aws-kms-key-id']) context['s3:x-amz-server-side-encryption-aws-kms-key-id'] = h['x-amz-server-side-encryption-aws-kms-key-id'];
    let denied = this.viaAthena(ex, 's3:PutObject', objectArn, context);
    if (!denied && h['x-amz-acl']) denied = this.viaAthena(ex, 's3:PutObjectAcl', objectArn, context);
    const keyId = h['x-amz-server-side-encryption-aws-kms-key-id'];
    if (!denied && keyId) denied = this.kmsViaS3(ex, 'kms:GenerateDataKey', this.kmsKeyArn(keyId, ex.principal.account), objectArn);
    if (denied) throw writeDenied(bucket, key, denied.message);
  }

  private kmsKeyArn(keyId: string, account: string): string {
    if (keyId.startsWith('arn:')) return keyId;
    return keyId.startsWith('alias/') ? `arn:aws:kms:${this.region}:${account}:${keyId}` : `arn:aws:kms:${this.region}:${account}:key/${keyId}`;
  }

  /** Writes one object as Athena does for `ex`: authorized as the caller, signed with its credentials. */
  private async put(ex: Execution, bucket: string, key: string, body: { file: string } | { data: Buffer }, contentType: string): Promise<void> {
    this.authorizeWrite(ex, bucket, key);
    const iam = this.opts.iam;
    try {
      await s3Put(this.opts.s3.endpoint, bucket, key, body, contentType, {
        credentials: iam && ex.principal ? iam.credentials.for(ex.principal) : undefined,
        region: this.region,
        headers: this.writeHeaders(ex),
      });
    } catch (e) {
      if (e instanceof S3AccessDenied) throw writeDenied(bucket, key, e.body.replace(/\s+/g, ' ').slice(0, 500));
      throw e;
    }
  }

  private lookup(id: unknown): Execution {
    if (typeof id !== 'string' || id === '') throw new ApiError('InvalidRequestException', 'QueryExecutionId is required', { AthenaErrorCode: 'INVALID_INPUT' });
    const ex = this.executions.get(id);
    if (!ex) throw new ApiError('InvalidRequestException', `QueryExecution ${id} was not found`, { AthenaErrorCode: 'INVALID_INPUT' });
    return ex;
  }

  // ---------------------------------------------------------------- operations

  private startQueryExecution(input: Record<string, unknown>, principal?: Principal): { QueryExecutionId: string } {
    this.authorizeApi(principal, 'athena:StartQueryExecution', typeof input.WorkGroup === 'string' && input.WorkGroup !== '' ? input.WorkGroup : 'primary');
    const query = input.QueryString;
    if (typeof query !== 'string' || query.length < 1 || query.length > MAX_QUERY) {
      throw new ApiError('InvalidRequestException', `QueryString must be a string of 1 to ${MAX_QUERY} characters`, { AthenaErrorCode: 'INVALID_INPUT' });
    }
    const token = input.ClientRequestToken;
    if (token !== undefined && (typeof token !== 'string' || token.length < 32 || token.length > 128)) {
      throw new ApiError('InvalidRequestException', 'ClientRequestToken must be 32 to 128 characters', { AthenaErrorCode: 'INVALID_INPUT' });
    }
    const params = input.ExecutionParameters;
    if (params !== undefined && (!Array.isArray(params) || params.some((p) => typeof p !== 'string' || p.length < 1 || p.length > 1024))) {
      throw new ApiError('InvalidRequestException', 'ExecutionParameters must be a list of non-empty strings', { AthenaErrorCode: 'INVALID_INPUT' });
    }
    const workGroupName = typeof input.WorkGroup === 'string' && input.WorkGroup !== '' ? input.WorkGroup : 'primary';
    const wg = this.workGroups.get(workGroupName);
    if (!wg) throw new ApiError('InvalidRequestException', `WorkGroup ${workGroupName} is not found.`, { AthenaErrorCode: 'INVALID_INPUT' });
    const ctx = (input.QueryExecutionContext ?? {}) as { Database?: string; Catalog?: string };
    const database = (ctx.Database ?? 'default').toLowerCase();
    const rc = (input.ResultConfiguration ?? {}) as { OutputLocation?: string };
    const output = wg.enforce ? (wg.outputLocation ?? rc.OutputLocation) : (rc.OutputLocation ?? wg.outputLocation);
    if (!output) {
      throw new ApiError('InvalidRequestException', 'No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.', { AthenaErrorCode: 'INVALID_INPUT' });
    }
    try { parseS3Uri(output); } catch {
      throw new ApiError('InvalidRequestException', `OutputLocation ${output} is not an s3:// URI`, { AthenaErrorCode: 'INVALID_INPUT' });
    }
    const fingerprint = JSON.stringify([query, params ?? null, workGroupName, database, output]);
    if (typeof token === 'string') {
      const existing = this.tokens.get(token);
      if (existing) {
        const ex = this.executions.get(existing)!;
        if (ex.fingerprint !== fingerprint) {
          throw new ApiError('InvalidRequestException', 'Idempotent parameters do not match', { AthenaErrorCode: 'INVALID_INPUT' });
        }
        return { QueryExecutionId: existing };
      }
    }
    // Throttling applies to new submissions only.
    this.startCalls++;
    const f = this.faults;
    if ((f.throttleFirstN !== undefined && this.startCalls <= f.throttleFirstN) || (f.throttleRate !== undefined && this.random() < f.throttleRate)) {
      throw new ApiError('TooManyRequestsException', 'Rate exceeded', { Reason: 'CONCURRENT_QUERY_LIMIT_EXCEEDED' });
    }
    const kind = statementKind(query);
    const id = randomUUID();
    const ex: Execution = {
      id,
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
    this.executions.set(id, ex);
    if (typeof token === 'string') this.tokens.set(token, id);
    this.queue.push(id);
    this.pump();
    return { QueryExecutionId: id };
  }

  private describe(ex: Execution): Record<string, unknown> {
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

  private async getQueryResults(input: Record<string, unknown>, principal?: Principal): Promise<unknown> {
    const ex = this.lookup(input.QueryExecutionId);
    this.authorizeApi(principal, 'athena:GetQueryResults', ex.workGroup);
    const max = input.MaxResults === undefined ? 1000 : Number(input.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new ApiError('InvalidRequestException', 'MaxResults must be between 1 and 1000', { AthenaErrorCode: 'INVALID_INPUT' });
    }
    if (ex.state !== 'SUCCEEDED') {
      const msg = ex.state === 'FAILED' || ex.state === 'CANCELLED'
        ? `Query did not finish successfully. Final query state: ${ex.state}` : `Query has not yet finished. Current query state: ${ex.state}`;
      throw new ApiError('InvalidRequestException', msg, { AthenaErrorCode: 'INVALID_INPUT' });
    }
    const columns = ex.columns ?? [];
    if (!ex.rowsFile) return { UpdateCount: 0, ResultSet: { Rows: [], ResultSetMetadata: { ColumnInfo: columns } } };
    let offset = 0;
    if (input.NextToken !== undefined) {
      const m = /^([0-9a-f-]{36})\.(\d+)$/.exec(Buffer.from(String(input.NextToken), 'base64url').toString('utf8'));
      if (!m || m[1] !== ex.id) throw new ApiError('InvalidRequestException', 'NextToken is not valid for this query', { AthenaErrorCode: 'INVALID_INPUT' });
      offset = Number(m[2]);
    }
    const { lines, next } = await readLines(ex.rowsFile, offset, max);
    const rows = lines.map((l) => ({ Data: (JSON.parse(l) as (string | null)[]).map((v) => (v === null ? {} : { VarCharValue: v })) }));
    const out: Record<string, unknown> = { UpdateCount: 0, ResultSet: { Rows: rows, ResultSetMetadata: { ColumnInfo: columns } } };
    if (next !== undefined) out.NextToken = Buffer.from(`${ex.id}.${next}`).toString('base64url');
    return out;
  }

  private stop(ex: Execution): void {
    if (ex.state === 'QUEUED') {
      const i = this.queue.indexOf(ex.id);
      if (i >= 0) this.queue.splice(i, 1);
      this.finish(ex, 'CANCELLED', 'Query was cancelled by the user');
    } else if (ex.state === 'RUNNING') {
      ex.cancelRequested = true;
      // An interrupt that lands between two statements of the execution is lost: repeat it until the
      // execution ends (run() also checks the flag before each statement).
      const interrupt = (): void => {
        if (this.running !== ex || ex.state !== 'RUNNING') return;
        this.conn.interrupt();
        setTimeout(interrupt, 25).unref();
      };
      interrupt();
    }
  }

  private batchGet(input: Record<string, unknown>, principal?: Principal): unknown {
    const ids = input.QueryExecutionIds;
    if (!Array.isArray(ids) || ids.length < 1 || ids.length > 50) throw new ApiError('InvalidRequestException', 'QueryExecutionIds must list 1 to 50 ids');
    const found: unknown[] = [];
    const missing: unknown[] = [];
    for (const id of ids) {
      const ex = this.executions.get(String(id));
      if (ex) this.authorizeApi(principal, 'athena:BatchGetQueryExecution', ex.workGroup);
      if (ex) found.push(this.describe(ex));
      else missing.push({ QueryExecutionId: String(id), ErrorCode: 'INVALID_INPUT', ErrorMessage: `QueryExecution ${id} was not found` });
    }
    return { QueryExecutions: found, UnprocessedQueryExecutionIds: missing };
  }

  private list(input: Record<string, unknown>): unknown {
    const wg = typeof input.WorkGroup === 'string' ? input.WorkGroup : 'primary';
    const max = input.MaxResults === undefined ? 50 : Number(input.MaxResults);
    const all = [...this.executions.values()].filter((e) => e.workGroup === wg).reverse().map((e) => e.id);
    const start = input.NextToken ? Number(Buffer.from(String(input.NextToken), 'base64url').toString('utf8')) || 0 : 0;
    const page = all.slice(start, start + max);
    const out: Record<string, unknown> = { QueryExecutionIds: page };
    if (start + max < all.length) out.NextToken = Buffer.from(String(start + max)).toString('base64url');
    return out;
  }

  private getWorkGroup(input: Record<string, unknown>): unknown {
    const name = String(input.WorkGroup ?? '');
    const wg = this.workGroups.get(name);
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

  // ---------------------------------------------------------------- execution

  private finish(ex: Execution, state: State, reason?: string, error?: AthenaErrorInfo): void {
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
          const id = this.queue.shift();
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
      await this.run(ex);
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
      // A cancelled execution may have stopped with profiling still on.
      await this.conn.run('PRAGMA disable_profiling').catch(() => undefined);
    }
  }

  private async run(ex: Execution): Promise<void> {
    let sql: string;
    try {
      assertSingleStatement(ex.query);
      sql = stripTrailingSemicolon(substituteParameters(ex.query, ex.parameters ?? []));
    } catch (e) {
      throw new QueryError(`${(e as Error).message}`, 2, 1000);
    }
    if (ex.injectedFailure) {
      const retryable = this.faults.failRetryable ?? false;
      throw retryable
        ? new QueryError('GENERIC_INTERNAL_ERROR: injected fault (local Athena)', 1, 200, true)
        : new QueryError('GENERIC_USER_ERROR: injected fault (local Athena)', 2, 1000, false);
    }
    this.authorizeOutput(ex);
    const kind = statementKind(sql);
    if (kind.kind === 'SELECT') return this.runSelect(ex, sql);
    if (kind.kind === 'UNLOAD') return this.runUnload(ex, sql);
    throw new QueryError(`NOT_SUPPORTED: the local Athena runs SELECT and UNLOAD statements only (got ${kind.keyword || 'an empty statement'})`, 2, 1000);
  }

  /**
   * The result location, checked before the query runs as Athena does: s3:GetBucketLocation on
   * its bucket and the write of the result file (s3:PutObject with the workgroup's ACL and key).
   */
  private authorizeOutput(ex: Execution): void {
    if (!this.opts.iam || !ex.principal) return;
    const { bucket, key } = parseS3Uri(ex.outputLocation);
    const denied = this.viaAthena(ex, 's3:GetBucketLocation', `arn:aws:s3:::${bucket}`);
    if (denied) throw writeDenied(bucket, key, denied.message);
    this.authorizeWrite(ex, bucket, `${key}${ex.id}${ex.substatementType === 'UNLOAD' ? '-manifest.csv' : '.csv'}`);
  }

  /**
   * (Re)creates the views of the tables a query names (over the files on disk right now) and
   * switches to its database; returns every file those views may read, with its size.
   */
  private async prepareTables(ex: Execution, sql: string): Promise<ScanCandidates> {
    const names = new Set<string>();
    let withPath = false;
    for (const t of tokenize(sql)) {
      const n = identName(t);
      if (n === undefined) continue;
      if (t.kind === 'qident' && n === '$path') withPath = true;
      names.add(n);
    }
    await this.ensureSchema(ex.database);
    const files: ScanCandidates = { groupOf: new Map(), groups: [] };
    for (const table of this.tables.values()) {
      const name = table.input.Name.toLowerCase();
      if (!names.has(name)) continue;
      this.authorizeCatalog(ex, table);
      const layout = tableLayout(table.input, this.opts.s3.rootDir);
      this.authorizeReads(ex, table, layout.flatMap((g) => g.files));
      const jsonCache = (this.opts.jsonCache ?? false) && tableFormat(table.input) === 'json'
        ? await this.jsonCopiesOf(ex, table.input, layout.flatMap((g) => g.files))
        : undefined;
      const rel = tableRelation(table.input, this.opts.s3.rootDir, withPath, { layout, jsonCache });
      rel.groups.forEach((g, i) => {
        const index = files.groups.length;
        files.groups.push({ files: rel.scans[i].length, bytes: g.reduce((a, f) => a + f.size, 0) });
        for (const path of rel.scans[i]) files.groupOf.set(path, index);
      });
      await this.ensureSchema(table.database);
      await this.exec(ex, `CREATE OR REPLACE VIEW ${quoteIdent(table.database)}.${quoteIdent(name)} AS ${rel.sql}`);
    }
    await this.exec(ex, `USE ${quoteIdent(ex.database)}`);
    return files;
  }

  /**
   * The columnar copy of each JSON file (jsonCache), made now for files without a current one. The
   * copy is written under a temporary name and renamed, so a failed or cancelled copy leaves
   * nothing. A file that cannot be copied (malformed JSON) gets no copy: its partition is read as
   * JSON, so the query fails exactly when, and as, reading the JSON fails — and a query that
   * prunes that partition is unaffected, as in Athena.
   */
  private async jsonCopiesOf(ex: Execution, table: GlueTableInput, dataFiles: DataFile[]): Promise<Map<string, string>> {
    const dir = join(this.opts.workDir, 'json-cache');
    const out = new Map<string, string>();
    for (const f of dataFiles) {
      const have = this.jsonCopies.get(f.path);
      if (have?.version === f.version) {
        if (have.path === undefined) continue; // this version could not be copied: read as JSON
        if (existsSync(have.path)) {
          out.set(f.path, have.path);
          continue;
        }
      }
      mkdirSync(dir, { recursive: true });
      const target = join(dir, `${createHash('sha1').update(`${table.Name}\0${f.path}\0${f.version}`).digest('hex')}.parquet`);
      const tmp = `${target}.tmp`;
      let made = false;
      try {
        await this.exec(ex, jsonToParquetSql(table, f.path, tmp));
        renameSync(tmp, target);
        made = true;
      } catch (e) {
        if (ex.cancelRequested) throw e;
      } finally {
        rmSync(tmp, { force: true });
      }
      if (have?.path !== undefined && have.path !== target) rmSync(have.path, { force: true });
      this.jsonCopies.set(f.path, { version: f.version, path: made ? target : undefined });
      if (made) out.set(f.path, target);
    }
    return out;
  }

  /** Turns on DuckDB's JSON profiling for the next statement (it names every file each scan read). */
  private async startProfile(ex: Execution): Promise<string> {
    const dir = join(this.opts.workDir, 'profiles');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${ex.id}.json`);
    await this.exec(ex, 'PRAGMA enable_profiling = \'json\'');
    await this.exec(ex, `SET profiling_output = ${quoteString(file)}`);
    return file;
  }

  /**
   * Turns profiling off and sets DataScannedInBytes to the bytes of the files the scans actually
   * read: each scan is one UNION ALL branch (a partition), which DuckDB drops when the query's
   * filters exclude it; the profile names (the first few of) the files of each scan that ran.
   * Without a readable profile, every file the views could read counts. A query over the
   * workgroup's cutoff is cancelled, as Athena does.
   */
  private async endProfile(ex: Execution, profile: string, candidates: ScanCandidates): Promise<void> {
    await this.conn.run('PRAGMA disable_profiling');
    let bytes = 0;
    try {
      const scanned = new Set<number>();
      const walk = (node: { extra_info?: Record<string, unknown>; children?: unknown[] }): void => {
        const names = node.extra_info?.['Filename(s)'];
        if (typeof names === 'string') {
          const first = names.split(', ')[0].trim();
          const group = candidates.groupOf.get(first);
          if (group === undefined) throw new Error(`profile names an unknown file ${first}`);
          const total = Number(node.extra_info?.['Total Files Read'] ?? NaN);
          if (total !== candidates.groups[group].files) throw new Error('a scan read part of a partition');
          scanned.add(group);
        }
        for (const c of node.children ?? []) walk(c as typeof node);
      };
      walk(JSON.parse(readFileSync(profile, 'utf8')));
      for (const g of scanned) bytes += candidates.groups[g].bytes;
    } catch {
      bytes = candidates.groups.reduce((a, g) => a + g.bytes, 0);
    } finally {
      rmSync(profile, { force: true });
    }
    ex.dataScanned = bytes;
    const cutoff = this.workGroups.get(ex.workGroup)?.bytesScannedCutoffPerQuery;
    if (cutoff !== undefined && bytes > cutoff) {
      ex.cancelRequested = true;
      ex.cancelReason = `Bytes scanned limit was exceeded: the query scanned ${bytes} bytes, the workgroup allows ${cutoff} per query`;
    }
  }

  /** Runs one statement of an execution, unless the execution was cancelled already. */
  private async exec(ex: Execution, sql: string): Promise<void> {
    if (ex.cancelRequested) throw new QueryError('cancelled', 2);
    await this.conn.run(sql);
  }

  private async ensureSchema(name: string): Promise<void> {
    if (this.schemas.has(name)) return;
    await this.conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(name)}`);
    this.schemas.add(name);
  }

  private async runSelect(ex: Execution, sql: string): Promise<void> {
    const candidates = await this.prepareTables(ex, sql);
    const duck = transpileOrFail(sql);
    const dir = join(this.opts.workDir, 'results');
    mkdirSync(dir, { recursive: true });
    const csvPath = join(dir, `${ex.id}.csv`);
    const rowsPath = join(dir, `${ex.id}.rows.jsonl`);
    const profile = await this.startProfile(ex);
    let result;
    try {
      if (ex.cancelRequested) throw new QueryError('cancelled', 2);
      result = await this.conn.stream(duck);
    } catch (e) {
      await this.conn.run('PRAGMA disable_profiling');
      throw e;
    }
    const names = result.columnNames();
    const types: DuckDBType[] = result.columnTypes();
    ex.columns = names.map((n, i) => columnInfo(n, types[i]));
    const csv = createWriteStream(csvPath);
    const rows = createWriteStream(rowsPath);
    const write = async (stream: NodeJS.WritableStream, text: string): Promise<void> => {
      if (!stream.write(text)) await once(stream, 'drain');
    };
    try {
      await write(csv, csvLine(names));
      await write(rows, JSON.stringify(names) + '\n');
      for await (const chunk of result.yieldRowsJson()) {
        if (ex.cancelRequested) throw new QueryError('cancelled', 2);
        let csvText = '';
        let rowText = '';
        for (const row of chunk) {
          const values = row.map((v, i) => formatValue(v, types[i]));
          csvText += csvLine(values);
          rowText += JSON.stringify(values) + '\n';
        }
        await write(csv, csvText);
        await write(rows, rowText);
      }
    } finally {
      await Promise.all([new Promise((r) => csv.end(r)), new Promise((r) => rows.end(r))]);
      await this.endProfile(ex, profile, candidates);
    }
    if (ex.cancelRequested) return;
    ex.rowsFile = rowsPath;
    const { bucket, key } = parseS3Uri(ex.outputLocation);
    await this.put(ex, bucket, `${key}${ex.id}.csv`, { file: csvPath }, 'text/csv');
    const metadata = JSON.stringify({ QueryExecutionId: ex.id, ResultSetMetadata: { ColumnInfo: ex.columns } });
    await this.put(ex, bucket, `${key}${ex.id}.csv.metadata`, { data: Buffer.from(metadata) }, 'application/octet-stream');
    rmSync(csvPath, { force: true });
  }

  private async runUnload(ex: Execution, sql: string): Promise<void> {
    let stmt;
    try { stmt = parseUnload(sql); } catch (e) { throw new QueryError(`SYNTAX_ERROR: ${(e as Error).message}`, 2, 1000); }
    const props = stmt.properties;
    const format = String(props.format ?? 'TEXTFILE').toUpperCase();
    const compression = String(props.compression ?? (format === 'PARQUET' ? 'GZIP' : 'GZIP')).toUpperCase();
    let target;
    try { target = parseS3Uri(stmt.location); } catch (e) { throw new QueryError(`INVALID_INPUT: ${(e as Error).message}`, 2, 1000); }
    const prefix = target.key === '' || target.key.endsWith('/') ? target.key : `${target.key}/`;
    const dirOnDisk = join(this.opts.s3.rootDir, target.bucket, prefix);
    // Athena lists the target to check that it is empty.
    const listDenied = this.viaAthena(ex, 's3:ListBucket', `arn:aws:s3:::${target.bucket}`, { 's3:prefix': prefix, 's3:delimiter': '/' });
    if (listDenied) throw writeDenied(target.bucket, prefix, listDenied.message);
    if (existsSync(dirOnDisk) && hasAnyFile(dirOnDisk)) {
      throw new QueryError(`HIVE_PATH_ALREADY_EXISTS: Target directory for table '${ex.database}.tmp_unload' already exists: ${stmt.location}. You may need to manually clean the data at location '${stmt.location}' before retrying. Athena will not delete data in your account.`, 2, 1000);
    }
    const candidates = await this.prepareTables(ex, stmt.query);
    const inner = transpileOrFail(stmt.query);
    const tmp = join(this.opts.workDir, 'unload', ex.id);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const partitionedBy = Array.isArray(props.partitioned_by) ? props.partitioned_by : [];
    const copyOpts: string[] = [];
    let ext = '';
    if (format === 'PARQUET') {
      const codec: Record<string, string> = { SNAPPY: 'snappy', GZIP: 'gzip', ZSTD: 'zstd', NONE: 'uncompressed', UNCOMPRESSED: 'uncompressed', LZ4: 'lz4' };
      if (!codec[compression]) throw new QueryError(`INVALID_TABLE_PROPERTY: unsupported Parquet compression ${compression}`, 2, 1000);
      copyOpts.push('FORMAT PARQUET', `COMPRESSION ${codec[compression]}`);
    } else if (format === 'JSON' || format === 'TEXTFILE') {
      const gz = compression === 'GZIP';
      if (!gz && compression !== 'NONE') throw new QueryError(`INVALID_TABLE_PROPERTY: unsupported ${format} compression ${compression}`, 2, 1000);
      if (format === 'JSON') copyOpts.push('FORMAT JSON');
      else copyOpts.push('FORMAT CSV', 'HEADER false', `DELIMITER ${quoteString(String(props.field_delimiter ?? '\u0001'))}`, 'QUOTE \'\'');
      copyOpts.push(`COMPRESSION ${gz ? 'gzip' : 'none'}`);
      ext = gz ? '.gz' : '';
    } else {
      throw new QueryError(`NOT_SUPPORTED: UNLOAD format ${format} is not supported by the local Athena (PARQUET, JSON, TEXTFILE)`, 2, 1000);
    }
    if (partitionedBy.length > 0) copyOpts.push(`PARTITION_BY (${partitionedBy.map(quoteIdent).join(', ')})`, 'WRITE_PARTITION_COLUMNS false');
    const profile = await this.startProfile(ex);
    try {
      await this.exec(ex, `COPY (${inner}) TO ${quoteString(partitionedBy.length > 0 ? tmp : join(tmp, 'part'))} (${copyOpts.join(', ')})`);
    } finally {
      await this.endProfile(ex, profile, candidates);
    }
    if (ex.cancelRequested) { rmSync(tmp, { recursive: true, force: true }); return; }
    const written: string[] = [];
    try {
      let n = 0;
      for (const f of [...listDataFiles(tmp), ...listEmptyFiles(tmp)]) {
        const rel = relative(tmp, f.path).split('/').slice(0, -1).join('/');
        const key = `${prefix}${rel ? `${rel}/` : ''}${ex.id}_${String(n++).padStart(5, '0')}${ext}`;
        await this.put(ex, target.bucket, key, { file: f.path }, 'application/octet-stream');
        written.push(`s3://${target.bucket}/${key}`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const out = parseS3Uri(ex.outputLocation);
    await this.put(ex, out.bucket, `${out.key}${ex.id}-manifest.csv`, { data: Buffer.from(written.map((w) => `${w}\n`).join('')) }, 'text/csv');
  }
}

/**
 * Athena's failure when it may not write a result (Trino's wording, with the IAM explanation
 * appended locally).
 */
function writeDenied(bucket: string, key: string, why: string): QueryError {
  return new QueryError(`Access denied when writing output to url: s3://${bucket}/${key} . Please ensure you are allowed to access the S3 bucket. `
    + `If you are encrypting query results with KMS key, please ensure you are allowed to access your KMS key — ${why}`, 2, 1000);
}

function hasAnyFile(dir: string): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile()) return true;
    if (e.isDirectory() && hasAnyFile(join(dir, e.name))) return true;
  }
  return false;
}

/** Zero-byte files DuckDB may write (listDataFiles skips empty files). */
function listEmptyFiles(dir: string): Array<{ path: string; size: number }> {
  const out: Array<{ path: string; size: number }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listEmptyFiles(p));
    else if (e.isFile() && statSync(p).size === 0) out.push({ path: p, size: 0 });
  }
  return out;
}

function transpileOrFail(sql: string): string {
  try {
    return transpile(sql);
  } catch (e) {
    throw new QueryError(`SYNTAX_ERROR: ${(e as Error).message}`, 2, 1000);
  }
}

/** Maps a DuckDB error to an Athena-like user error (Trino error names as message prefixes). */
function toQueryError(e: unknown): QueryError {
  const msg = (e as Error)?.message ?? String(e);
  const first = msg.split('\n')[0];
  if (e instanceof SqlTextError) return new QueryError(`SYNTAX_ERROR: ${first}`, 2, 1000);
  if (/^Parser Error/.test(first)) return new QueryError(`SYNTAX_ERROR: ${first}`, 2, 1000);
  if (/^Catalog Error: Table/.test(first)) return new QueryError(`TABLE_NOT_FOUND: ${first}`, 2, 1000);
  if (/^Catalog Error: Scalar Function|^Binder Error: No function matches/.test(first)) return new QueryError(`FUNCTION_NOT_FOUND: ${first}`, 2, 1000);
  if (/^Binder Error: Referenced column|^Binder Error: Values list/.test(first)) return new QueryError(`COLUMN_NOT_FOUND: ${first}`, 2, 1000);
  if (/Malformed JSON/.test(first)) return new QueryError(`HIVE_BAD_DATA: ${first}`, 2, 1001);
  if (/^(Conversion|Invalid Input|Out of Range) Error/.test(first)) return new QueryError(`INVALID_CAST_ARGUMENT: ${first}`, 2, 1001);
  if (/^IO Error/.test(first)) return new QueryError(`HIVE_CURSOR_ERROR: ${first}`, 1, 200, true);
  return new QueryError(`GENERIC_USER_ERROR: ${first}`, 2, 1000);
}

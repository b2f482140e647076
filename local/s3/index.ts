/**
 * Embedded local S3 endpoint: a small REST/XML server on node:http that the AWS SDK v3 talks to
 * through `AWS_ENDPOINT_URL_S3` (path-style addressing; any signature is accepted). Objects are
 * stored byte-exact at `<rootDir>/<bucket>/<key>`; see store.ts for the layout and docs/local-s3.md
 * for what is supported.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { BodyTooLargeError, closeServer, drain, endpointUrl, listen, newRequestId, readBody, send, xmlEscape } from '../http';
import {
  accessDenied, ACL_HEADERS, bucketArn, objectArn, kmsKeyArnOf, S3Authorizer,
  type BucketSecurity, type Permission, type S3Caller, type S3IamOptions,
} from './authz';
import {
  checksumElementName, checksumHeaderName, CHECKSUM_ALGORITHMS, createHasher, isChecksumAlgorithm, type ChecksumAlgorithm,
} from './checksums';
import { AwsChunkedDecoder, ChunkedEncodingError } from './chunked';
import { invalidArgument, invalidRequest, noSuchKey, notImplemented, preconditionFailed, S3Error } from './errors';
import {
  S3Store, type CompletePart, type ListEntry, type NewObjectMeta, type ObjectChecksum, type ObjectEncryption, type ObjectMeta, type TempFile,
} from './store';
import { mulberry32 } from '../prng';
import { accessKeyIdOf } from '../iam/credentials';

export { S3Error } from './errors';
export { bucketSecurityOf, S3Authorizer } from './authz';
export type { BucketSecurity, ObjectEncryption, S3Caller, S3IamOptions } from './authz';
export { compareKeys } from './store';
export type { ObjectMeta } from './store';

export interface S3FaultOptions {
  /** Probability (0..1) that a matching request fails with 503 SlowDown (seeded PRNG). */
  slowDownRate?: number;
  /** The first N matching requests fail with 503 SlowDown. */
  slowDownFirstN?: number;
  /** Seed of the PRNG behind `slowDownRate` (default 1). */
  seed?: number;
  /** Operation names the faults apply to (`PutObject`, `GetObject`, `ListObjectsV2`, …); default all. */
  operations?: string[];
}

export interface LocalS3Options {
  rootDir: string;
  /** default 127.0.0.1 */
  host?: string;
  /** 0 (default) = ephemeral */
  port?: number;
  faults?: S3FaultOptions;
  /** metadata sidecar folder, default `<rootDir>/.s3-meta` (must be outside every bucket folder) */
  metaDir?: string;
  /**
   * Authorize every request against these policies, as S3 does (docs/local-s3.md, "IAM
   * enforcement"). Absent: any request is accepted, whoever signed it.
   */
  iam?: S3IamOptions;
}

export interface ObjectCreatedNotice {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  sequencer: string;
  reason: 'PutObject' | 'CompleteMultipartUpload' | 'CopyObject';
  time: string;
  versionId?: string;
}

/**
 * An object removed from an EventBridge-enabled bucket (S3 sends EventBridge "Object Deleted"). The local
 * buckets are unversioned, so every delete is `Permanently Deleted` (a versioned bucket's DeleteObject
 * without a version id sends `Delete Marker Created`). Sent only when the key held an object.
 */
export interface ObjectDeletedNotice {
  bucket: string;
  key: string;
  sequencer: string;
  reason: 'DeleteObject';
  deletionType: 'Permanently Deleted';
  time: string;
}

/** A request refused by IAM enforcement (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, InvalidToken). */
export interface AccessDeniedNotice {
  readonly operation: string;
  readonly code: string;
  readonly message: string;
  /** The caller's ARN ('anonymous' for an unsigned request, the access key id for an unknown one). */
  readonly principal: string;
  readonly bucket?: string;
  readonly key?: string;
}

const DENIAL_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'AccessControlListNotSupported']);

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const MAX_OBJECT_SIZE = 5 * 1024 ** 3;
const MAX_XML_BODY = 2 * 1024 * 1024;
const OWNER = { id: '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a', name: 'local' };
const STORED_HEADERS = ['content-encoding', 'content-disposition', 'cache-control', 'content-language', 'expires'];
const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

const xmlParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  htmlEntities: true,
  removeNSPrefix: true,
  isArray: (name) => ['Object', 'Part', 'TopicConfiguration', 'QueueConfiguration', 'CloudFunctionConfiguration'].includes(name),
});

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  op: string;
  bucket?: string;
  key?: string;
  query: URLSearchParams;
  /** The authenticated caller (only when IAM is enforced). */
  caller?: S3Caller;
}

/* eslint-enable no-bitwise */

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function quote(etag: string): string {
  return `"${etag}"`;
}

/** Whether an If-Match / If-None-Match header value names this ETag (or is `*`). */
function etagListMatches(value: string, etag: string): boolean {
  return value.split(',').map((v) => v.trim().replace(/^W\//, '').replace(/"/g, '')).some((v) => v === '*' || v === etag);
}

function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}

function parseHttpDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** Whole seconds, as HTTP dates carry them. */
function seconds(iso: string): number {
  return Math.floor(new Date(iso).getTime() / 1000) * 1000;
}

/** The operation a request names (S3 REST API routing). */
function operationOf(method: string, bucket: string | undefined, key: string | undefined, q: URLSearchParams, req: IncomingMessage): string {
  if (!bucket) return method === 'GET' ? 'ListBuckets' : 'Unsupported';
  if (key === undefined) {
    switch (method) {
      case 'PUT': return q.has('notification') ? 'PutBucketNotificationConfiguration' : q.size === 0 ? 'CreateBucket' : 'Unsupported';
      case 'HEAD': return 'HeadBucket';
      case 'DELETE': return q.size === 0 ? 'DeleteBucket' : 'Unsupported';
      case 'POST': return q.has('delete') ? 'DeleteObjects' : 'Unsupported';
      case 'GET':
        if (q.has('notification')) return 'GetBucketNotificationConfiguration';
        if (q.has('location')) return 'GetBucketLocation';
        if (q.has('uploads')) return 'ListMultipartUploads';
        if (q.get('list-type') === '2') return 'ListObjectsV2';
        for (const sub of ['acl', 'policy', 'versioning', 'tagging', 'lifecycle', 'cors', 'encryption', 'versions', 'website', 'logging', 'replication', 'ownershipControls', 'publicAccessBlock']) {
          if (q.has(sub)) return 'Unsupported';
        }
        return 'ListObjects';
      default: return 'Unsupported';
    }
  }
  for (const sub of ['acl', 'tagging', 'retention', 'legal-hold', 'attributes', 'torrent', 'restore', 'select']) {
    if (q.has(sub)) return 'Unsupported';
  }
  switch (method) {
    case 'PUT':
      if (q.has('uploadId')) return header(req, 'x-amz-copy-source') ? 'UploadPartCopy' : 'UploadPart';
      return header(req, 'x-amz-copy-source') ? 'CopyObject' : 'PutObject';
    case 'GET': return q.has('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD': return 'HeadObject';
    case 'POST':
      if (q.has('uploads')) return 'CreateMultipartUpload';
      if (q.has('uploadId')) return 'CompleteMultipartUpload';
      return 'Unsupported';
    case 'DELETE': return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default: return 'Unsupported';
  }
}

function parseXmlBody(body: Buffer): Record<string, unknown> {
  const xml = body.toString('utf8');
  if (xml.trim() === '' || XMLValidator.validate(xml) !== true) {
    throw new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
  }
  return xmlParser.parse(xml) as Record<string, unknown>;
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? v as Record<string, unknown> : {};
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)['#text'] === 'string') {
    return (v as Record<string, string>)['#text'];
  }
  return undefined;
}

export class LocalS3 {
  /** Starts the endpoint; resolves once it is listening. */
  static async start(opts: LocalS3Options): Promise<LocalS3> {
    const store = new S3Store(opts.rootDir, opts.metaDir);
    await store.init();
    const s3 = new LocalS3(store, opts.faults ?? {}, opts.iam ? new S3Authorizer(opts.iam) : undefined);
    const host = opts.host ?? '127.0.0.1';
    const port = await listen(s3.server, host, opts.port ?? 0);
    s3.url = endpointUrl(host, port);
    return s3;
  }

  /** `http://127.0.0.1:<port>` */
  get endpoint(): string {
    return this.url;
  }

  private url = '';
  private readonly server: Server;
  private readonly emitter = new EventEmitter();
  private readonly eventBridge = new Map<string, boolean>();
  private faults: S3FaultOptions = {};
  private faultMatches = 0;
  private injected = 0;
  private rng: () => number = mulberry32(1);
  private sequence = BigInt(Date.now()) * 1_000_000n;

  private readonly bucketSecurity = new Map<string, BucketSecurity>();

  private constructor(private readonly store: S3Store, faults: S3FaultOptions, private readonly authz?: S3Authorizer) {
    this.setFaults(faults);
    // no overall request deadline: a large upload from a slow client is not cut off
    this.server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => { void this.handle(req, res); });
  }

  /** Creates a bucket (idempotent). */
  async createBucket(name: string): Promise<void> {
    await this.store.createBucket(name);
  }

  /**
   * Object Ownership and default encryption of a bucket (from its template properties, see
   * `bucketSecurityOf`): new objects record the default encryption, an SSE-KMS object needs the
   * KMS permissions, and a BucketOwnerEnforced bucket refuses ACLs.
   */
  setBucketSecurity(bucket: string, security: BucketSecurity): void {
    this.bucketSecurity.set(bucket, security);
  }

  /** The Object Ownership and default encryption given to a bucket with setBucketSecurity. */
  securityOf(bucket: string): BucketSecurity | undefined {
    return this.bucketSecurity.get(bucket);
  }

  /** Whether requests are authorized against IAM policies. */
  get enforcesIam(): boolean {
    return this.authz !== undefined;
  }

  /** Turns the bucket's EventBridge notifications (the 'objectCreated' events) on or off. */
  setEventBridgeEnabled(bucket: string, enabled: boolean): void {
    this.eventBridge.set(bucket, enabled);
    void this.store.updateBucketConfig(bucket, { eventBridge: enabled }).catch(() => undefined);
  }

  /** Listens for objects created in EventBridge-enabled buckets. */
  on(event: 'objectCreated', listener: (n: ObjectCreatedNotice) => void): this;

  /** Listens for objects deleted (DeleteObject, DeleteObjects) in EventBridge-enabled buckets. */
  on(event: 'objectDeleted', listener: (n: ObjectDeletedNotice) => void): this;

  /** Listens for requests refused by IAM enforcement. */
  on(event: 'accessDenied', listener: (n: AccessDeniedNotice) => void): this;
  on(event: 'objectCreated' | 'objectDeleted' | 'accessDenied',
    listener: ((n: ObjectCreatedNotice) => void) | ((n: ObjectDeletedNotice) => void) | ((n: AccessDeniedNotice) => void)): this {
    this.emitter.on(event, listener);
    return this;
  }

  off(event: 'objectCreated', listener: (n: ObjectCreatedNotice) => void): this;
  off(event: 'objectDeleted', listener: (n: ObjectDeletedNotice) => void): this;
  off(event: 'accessDenied', listener: (n: AccessDeniedNotice) => void): this;
  off(event: 'objectCreated' | 'objectDeleted' | 'accessDenied',
    listener: ((n: ObjectCreatedNotice) => void) | ((n: ObjectDeletedNotice) => void) | ((n: AccessDeniedNotice) => void)): this {
    this.emitter.off(event, listener);
    return this;
  }

  private noteDenied(ctx: Ctx | undefined, code: string, message: string, key = ctx?.key): void {
    if (!this.authz || this.emitter.listenerCount('accessDenied') === 0) return;
    let principal = ctx?.caller?.principal.arn;
    if (!principal && ctx) principal = accessKeyIdOf(ctx.req.headers, ctx.query) ?? 'anonymous';
    const notice: AccessDeniedNotice = { operation: ctx?.op ?? 'unknown', code, message, principal: principal ?? 'anonymous', bucket: ctx?.bucket, key };
    this.emitter.emit('accessDenied', notice);
  }

  /** Absolute path of the byte-exact object file. */
  objectPath(bucket: string, key: string): string {
    return this.store.objectPath(bucket, key);
  }

  bucketPath(bucket: string): string {
    return this.store.bucketPath(bucket);
  }

  /** Replaces the fault configuration (and resets its counters and PRNG). */
  setFaults(f: S3FaultOptions): void {
    this.faults = { ...f };
    this.faultMatches = 0;
    this.rng = mulberry32(f.seed ?? 1);
  }

  /** How many SlowDown errors have been injected since start. */
  get slowDownsInjected(): number {
    return this.injected;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  // ---------------------------------------------------------------- request handling

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', Buffer.from(requestId).toString('base64'));
    res.setHeader('Server', 'AmazonS3');
    let ctx: Ctx | undefined;
    try {
      const url = req.url ?? '/';
      const qi = url.indexOf('?');
      const rawPath = qi === -1 ? url : url.slice(0, qi);
      const query = new URLSearchParams(qi === -1 ? '' : url.slice(qi + 1));
      if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI', 400, 'Could not parse the specified URI.');
      let bucket: string | undefined;
      let key: string | undefined;
      // virtual-hosted style for `<bucket>.localhost` endpoints; path style otherwise
      const vhost = /^([a-z0-9][a-z0-9.-]*)\.localhost(?::\d+)?$/i.exec(header(req, 'host') ?? '');
      try {
        if (vhost) {
          bucket = vhost[1];
          key = rawPath.length > 1 ? decodeURIComponent(rawPath.slice(1)) : undefined;
        } else {
          const slash = rawPath.indexOf('/', 1);
          bucket = decodeURIComponent(slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash)) || undefined;
          key = slash === -1 || slash === rawPath.length - 1 ? undefined : decodeURIComponent(rawPath.slice(slash + 1));
        }
      } catch {
        throw new S3Error('InvalidURI', 400, 'Could not parse the specified URI.');
      }
      const op = operationOf(req.method ?? 'GET', bucket, key, query, req);
      ctx = { req, res, requestId, op, bucket, key, query };
      if (this.injectSlowDown(op)) {
        await drain(req);
        throw new S3Error('SlowDown', 503, 'Please reduce your request rate.');
      }
      if (this.authz) {
        ctx.caller = this.authz.authenticate(req, query);
        await this.authorize(ctx, this.requestPermissions(ctx));
      }
      await this.dispatch(ctx);
    } catch (e) {
      this.sendError(req, res, requestId, e, ctx);
    }
  }

  private injectSlowDown(op: string): boolean {
    const f = this.faults;
    if (f.operations && !f.operations.includes(op)) return false;
    if (!f.slowDownFirstN && !f.slowDownRate) return false;
    this.faultMatches++;
    const hit = (f.slowDownFirstN !== undefined && this.faultMatches <= f.slowDownFirstN)
      || (f.slowDownRate !== undefined && f.slowDownRate > 0 && this.rng() < f.slowDownRate);
    if (hit) this.injected++;
    return hit;
  }

  private sendError(req: IncomingMessage, res: ServerResponse, requestId: string, e: unknown, ctx?: Ctx): void {
    let err: S3Error;
    if (e instanceof S3Error) {
      err = e;
    } else if (e instanceof ChunkedEncodingError) {
      err = new S3Error('IncompleteBody', 400, e.message);
    } else if (e instanceof BodyTooLargeError) {
      err = new S3Error('MaxMessageLengthExceeded', 400, 'Your request was too big.');
    } else {
      if (res.headersSent || req.destroyed) {
        // the client went away mid-response (or mid-upload): nothing to report to it
        res.destroy();
        return;
      }
      err = new S3Error('InternalError', 500, 'We encountered an internal error. Please try again.');
      // eslint-disable-next-line no-console
      console.error(`local S3: ${ctx?.op ?? 'request'} ${req.method} ${req.url} failed:`, e);
    }
    if (DENIAL_CODES.has(err.code)) this.noteDenied(ctx, err.code, err.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (!req.complete) {
      res.setHeader('Connection', 'close');
      req.resume();
    }
    const resource = ctx?.bucket ? `/${ctx.bucket}${ctx.key !== undefined ? `/${ctx.key}` : ''}` : '/';
    const extra = Object.entries(err.extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
    const body = `${XML_DECL}<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>${extra}`
      + `<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId><HostId>${Buffer.from(requestId).toString('base64')}</HostId></Error>`;
    send(res, err.status, req.method === 'HEAD' ? '' : body, { 'Content-Type': 'application/xml', ...err.headers });
  }

  private async dispatch(ctx: Ctx): Promise<void> {
    switch (ctx.op) {
      case 'ListBuckets': return this.listBuckets(ctx);
      case 'CreateBucket': return this.createBucketOp(ctx);
      case 'HeadBucket': return this.headBucket(ctx);
      case 'DeleteBucket': return this.deleteBucket(ctx);
      case 'GetBucketLocation': return this.getBucketLocation(ctx);
      case 'PutBucketNotificationConfiguration': return this.putNotification(ctx);
      case 'GetBucketNotificationConfiguration': return this.getNotification(ctx);
      case 'ListObjectsV2': return this.listObjects(ctx, 2);
      case 'ListObjects': return this.listObjects(ctx, 1);
      case 'DeleteObjects': return this.deleteObjects(ctx);
      case 'PutObject': return this.putObject(ctx);
      case 'GetObject': return this.getObject(ctx, false);
      case 'HeadObject': return this.getObject(ctx, true);
      case 'CopyObject': return this.copyObject(ctx);
      case 'DeleteObject': return this.deleteObject(ctx);
      case 'CreateMultipartUpload': return this.createMultipartUpload(ctx);
      case 'UploadPart': return this.uploadPart(ctx);
      case 'CompleteMultipartUpload': return this.completeMultipartUpload(ctx);
      case 'AbortMultipartUpload': return this.abortMultipartUpload(ctx);
      case 'ListParts': return this.listParts(ctx);
      default: {
        await drain(ctx.req);
        throw notImplemented(`${ctx.req.method} ${ctx.req.url}`);
      }
    }
  }

  // ---------------------------------------------------------------- IAM

  /**
   * The permissions a request needs before anything else is looked at (the IAM action of the
   * operation on its bucket or object ARN, with the request's condition keys). What depends on the
   * stored state — a missing key (404 or 403), the KMS key of an object, a copy source — is
   * authorized by the operation itself.
   */
  private requestPermissions(ctx: Ctx): Permission[] {
    const { bucket, key, query: q, req } = ctx;
    const b = bucket === undefined ? '*' : bucketArn(bucket);
    const o = bucket !== undefined && key !== undefined ? objectArn(bucket, key) : '*';
    const versioned = q.has('versionId') && q.get('versionId') !== 'null';
    switch (ctx.op) {
      case 'ListBuckets': return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
      case 'CreateBucket': return [{ action: 's3:CreateBucket', resource: b }];
      case 'HeadBucket': return [{ action: 's3:ListBucket', resource: b }];
      case 'DeleteBucket': return [{ action: 's3:DeleteBucket', resource: b }];
      case 'GetBucketLocation': return [{ action: 's3:GetBucketLocation', resource: b }];
      case 'PutBucketNotificationConfiguration': return [{ action: 's3:PutBucketNotification', resource: b }];
      case 'GetBucketNotificationConfiguration': return [{ action: 's3:GetBucketNotification', resource: b }];
      case 'ListObjects':
      case 'ListObjectsV2': {
        const context: Record<string, string | number> = {};
        if (q.has('prefix')) context['s3:prefix'] = q.get('prefix')!;
        if (q.has('delimiter')) context['s3:delimiter'] = q.get('delimiter')!;
        if (q.has('max-keys') && /^\d+$/.test(q.get('max-keys')!)) context['s3:max-keys'] = Number(q.get('max-keys'));
        return [{ action: 's3:ListBucket', resource: b, context }];
      }
      case 'ListMultipartUploads': return [{ action: 's3:ListBucketMultipartUploads', resource: b }];
      case 'GetObject':
      case 'HeadObject':
        return [{ action: versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: o }];
      case 'PutObject':
      case 'CreateMultipartUpload':
        return this.writePermissions(req, bucket!, key!);
      case 'CopyObject': return this.writePermissions(req, bucket!, key!, true);
      case 'UploadPart':
      case 'CompleteMultipartUpload':
        return [{ action: 's3:PutObject', resource: o }];
      case 'AbortMultipartUpload': return [{ action: 's3:AbortMultipartUpload', resource: o }];
      case 'ListParts': return [{ action: 's3:ListMultipartUploadParts', resource: o }];
      case 'DeleteObject': return [{ action: versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: o }];
      default: return []; // DeleteObjects authorizes each key; anything else is NotImplemented
    }
  }

  /** s3:PutObject with its condition keys, plus s3:PutObjectAcl for ACL headers and s3:PutObjectTagging for tags. */
  private writePermissions(req: IncomingMessage, bucket: string, key: string, copy = false): Permission[] {
    const context: Record<string, string> = {};
    for (const h of [...ACL_HEADERS, 'x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id',
      'x-amz-storage-class', 'x-amz-metadata-directive', 'x-amz-copy-source']) {
      const v = header(req, h);
      if (v !== undefined && (copy || (h !== 'x-amz-metadata-directive' && h !== 'x-amz-copy-source'))) context[`s3:${h}`] = v;
    }
    const resource = objectArn(bucket, key);
    const out: Permission[] = [{ action: 's3:PutObject', resource, context }];
    if (ACL_HEADERS.some((h) => header(req, h) !== undefined)) out.push({ action: 's3:PutObjectAcl', resource, context });
    const tagged = header(req, 'x-amz-tagging') !== undefined
      && (!copy || (header(req, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase() === 'REPLACE');
    if (tagged) out.push({ action: 's3:PutObjectTagging', resource, context });
    return out;
  }

  /**
   * Throws AccessDenied unless the caller has every permission (no-op without IAM enforcement). As
   * on S3, a request to a bucket that does not exist is NoSuchBucket whoever makes it.
   */
  private async authorize(ctx: Ctx, permissions: ReadonlyArray<Permission | undefined>): Promise<void> {
    if (!this.authz || !ctx.caller) return;
    try {
      this.authz.require(ctx.caller, permissions.filter((p): p is Permission => p !== undefined));
    } catch (e) {
      if (ctx.bucket !== undefined && ctx.op !== 'CreateBucket' && ctx.op !== 'ListBuckets') {
        await drain(ctx.req);
        await this.store.requireBucket(ctx.bucket);
      }
      throw e;
    }
  }

  /**
   * A key that does not exist: 404 NoSuchKey for a caller allowed s3:ListBucket on the bucket, else
   * 403 AccessDenied, so that a caller who may not list the bucket cannot learn which keys exist.
   */
  private missingKey(ctx: Ctx, bucket: string, key: string): S3Error {
    if (!this.authz || !ctx.caller) return noSuchKey(key);
    try {
      this.authz.require(ctx.caller, [{ action: 's3:ListBucket', resource: bucketArn(bucket) }]);
    } catch (e) {
      return e instanceof S3Error ? e : accessDenied();
    }
    return noSuchKey(key);
  }

  /**
   * The encryption of a new object: the request's x-amz-server-side-encryption headers, else the
   * bucket's default encryption (undefined when neither is set).
   */
  private writeEncryption(req: IncomingMessage, bucket: string): ObjectEncryption | undefined {
    const algorithm = header(req, 'x-amz-server-side-encryption');
    const keyId = header(req, 'x-amz-server-side-encryption-aws-kms-key-id');
    const bucketKey = header(req, 'x-amz-server-side-encryption-bucket-key-enabled');
    const env = { account: this.authz?.account ?? '000000000000', region: this.authz?.region ?? 'us-east-1' };
    const byDefault = this.bucketSecurity.get(bucket)?.defaultEncryption;
    if (algorithm === undefined) {
      if (keyId !== undefined) {
        throw invalidArgument('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms',
          'x-amz-server-side-encryption', 'null');
      }
      return byDefault;
    }
    if (algorithm !== 'AES256' && algorithm !== 'aws:kms' && algorithm !== 'aws:kms:dsse') {
      throw invalidArgument('The encryption method specified is not supported', 'x-amz-server-side-encryption', algorithm);
    }
    if (algorithm === 'AES256') {
      if (keyId !== undefined) {
        throw invalidArgument('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms',
          'x-amz-server-side-encryption', algorithm);
      }
      return { algorithm };
    }
    const kmsKeyArn = keyId !== undefined ? kmsKeyArnOf(keyId, env)
      : byDefault?.algorithm === algorithm && byDefault.kmsKeyArn ? byDefault.kmsKeyArn
        : `arn:aws:kms:${env.region}:${env.account}:alias/aws/s3`;
    const bucketKeyEnabled = bucketKey !== undefined ? bucketKey.toLowerCase() === 'true' : byDefault?.bucketKeyEnabled ?? false;
    return { algorithm, kmsKeyArn, bucketKeyEnabled };
  }

  /** A BucketOwnerEnforced bucket only accepts no ACL or bucket-owner-full-control (400 AccessControlListNotSupported). */
  private checkAclSupported(req: IncomingMessage, bucket: string): void {
    if (this.bucketSecurity.get(bucket)?.objectOwnership !== 'BucketOwnerEnforced') return;
    const acl = header(req, 'x-amz-acl');
    const grants = ACL_HEADERS.filter((h) => h !== 'x-amz-acl' && header(req, h) !== undefined);
    if ((acl !== undefined && acl !== 'bucket-owner-full-control') || grants.length > 0) {
      throw new S3Error('AccessControlListNotSupported', 400, 'The bucket does not allow ACLs');
    }
  }

  /** Response headers naming an object's server-side encryption. */
  private sseHeaders(sse: ObjectEncryption | undefined): Record<string, string> {
    if (!sse) return {};
    const out: Record<string, string> = { 'x-amz-server-side-encryption': sse.algorithm };
    if (sse.kmsKeyArn) out['x-amz-server-side-encryption-aws-kms-key-id'] = sse.kmsKeyArn;
    if (sse.bucketKeyEnabled) out['x-amz-server-side-encryption-bucket-key-enabled'] = 'true';
    return out;
  }

  /** The encryption of a stored object (an object written from outside the endpoint has the bucket default). */
  private storedEncryption(bucket: string, meta: ObjectMeta): ObjectEncryption | undefined {
    return meta.sse ?? this.bucketSecurity.get(bucket)?.defaultEncryption;
  }

  private sendXml(ctx: Ctx, body: string, headers: Record<string, string | number> = {}, status = 200): void {
    send(ctx.res, status, `${XML_DECL}${body}`, { 'Content-Type': 'application/xml', ...headers });
  }

  private sendEmpty(ctx: Ctx, status: number, headers: Record<string, string | number> = {}): void {
    send(ctx.res, status, '', headers);
  }

  // ---------------------------------------------------------------- buckets

  private async listBuckets(ctx: Ctx): Promise<void> {
    const buckets = await this.store.listBuckets();
    this.sendXml(ctx, `<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner><ID>${OWNER.id}</ID><DisplayName>${OWNER.name}</DisplayName></Owner><Buckets>`
      + buckets.map((b) => `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${b.creationDate}</CreationDate></Bucket>`).join('')
      + '</Buckets></ListAllMyBucketsResult>');
  }

  private async createBucketOp(ctx: Ctx): Promise<void> {
    const bucket = ctx.bucket!;
    this.store.validateBucketName(bucket);
    const body = await readBody(ctx.req, MAX_XML_BODY);
    if (body.length > 0) parseXmlBody(body);
    await this.store.createBucket(bucket);
    this.sendEmpty(ctx, 200, { Location: `/${bucket}` });
  }

  private async headBucket(ctx: Ctx): Promise<void> {
    await this.store.requireBucket(ctx.bucket!);
    this.sendEmpty(ctx, 200, { 'x-amz-bucket-region': 'us-east-1' });
  }

  private async deleteBucket(ctx: Ctx): Promise<void> {
    await this.store.deleteBucket(ctx.bucket!);
    this.eventBridge.delete(ctx.bucket!);
    this.sendEmpty(ctx, 204);
  }

  private async getBucketLocation(ctx: Ctx): Promise<void> {
    await this.store.requireBucket(ctx.bucket!);
    this.sendXml(ctx, `<LocationConstraint xmlns="${XMLNS}"/>`);
  }

  private async isEventBridgeEnabled(bucket: string): Promise<boolean> {
    const cached = this.eventBridge.get(bucket);
    if (cached !== undefined) return cached;
    const enabled = (await this.store.getBucketConfig(bucket)).eventBridge;
    this.eventBridge.set(bucket, enabled);
    return enabled;
  }

  private async putNotification(ctx: Ctx): Promise<void> {
    const bucket = ctx.bucket!;
    const body = await readBody(ctx.req, MAX_XML_BODY);
    await this.store.requireBucket(bucket);
    const cfg = asRecord(parseXmlBody(body).NotificationConfiguration);
    for (const other of ['TopicConfiguration', 'QueueConfiguration', 'CloudFunctionConfiguration']) {
      if (Array.isArray(cfg[other]) && (cfg[other] as unknown[]).length > 0) {
        throw notImplemented(`${other} (the local S3 endpoint delivers notifications through EventBridge only)`);
      }
    }
    const enabled = 'EventBridgeConfiguration' in cfg;
    this.eventBridge.set(bucket, enabled);
    await this.store.updateBucketConfig(bucket, { eventBridge: enabled });
    this.sendEmpty(ctx, 200);
  }

  private async getNotification(ctx: Ctx): Promise<void> {
    await this.store.requireBucket(ctx.bucket!);
    const enabled = await this.isEventBridgeEnabled(ctx.bucket!);
    this.sendXml(ctx, `<NotificationConfiguration xmlns="${XMLNS}">${enabled ? '<EventBridgeConfiguration></EventBridgeConfiguration>' : ''}</NotificationConfiguration>`);
  }

  // ---------------------------------------------------------------- listing

  private async listObjects(ctx: Ctx, version: 1 | 2): Promise<void> {
    const bucket = ctx.bucket!;
    const q = ctx.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const urlEncode = q.get('encoding-type') === 'url';
    if (q.has('encoding-type') && !urlEncode) throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', q.get('encoding-type')!);
    let maxKeys = 1000;
    if (q.has('max-keys')) {
      const raw = q.get('max-keys')!;
      if (!/^\d+$/.test(raw)) throw invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', raw);
      maxKeys = Math.min(1000, Number(raw));
    }
    let startAfter: string;
    const token = q.get('continuation-token');
    if (version === 2 && token !== null) {
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      if (token === '' || Buffer.from(decoded, 'utf8').toString('base64') !== token) {
        throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
      }
      startAfter = decoded;
    } else {
      startAfter = (version === 2 ? q.get('start-after') : q.get('marker')) ?? '';
    }
    const fetchOwner = version === 1 || q.get('fetch-owner') === 'true';
    const enc = (s: string) => xmlEscape(urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);

    // the walk is cheap; the metadata of a page's keys is then read concurrently
    const entries: ListEntry[] = [];
    let truncated = false;
    const iterator: AsyncGenerator<ListEntry> = this.store.list(bucket, { prefix, delimiter, startAfter });
    for await (const entry of iterator) {
      if (entries.length >= maxKeys) { truncated = true; break; }
      entries.push(entry);
    }
    const lastEntry = entries[entries.length - 1];
    const last = lastEntry === undefined ? undefined : lastEntry.type === 'key' ? lastEntry.key : lastEntry.prefix;
    const keyEntries = entries.filter((e): e is { type: 'key'; key: string } => e.type === 'key');
    const metas: (ObjectMeta | undefined)[] = new Array(keyEntries.length);
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(32, keyEntries.length) }, async () => {
      while (next < keyEntries.length) {
        const i = next++;
        metas[i] = await this.store.headObject(bucket, keyEntries[i].key);
      }
    }));
    // an object deleted since the walk is left out
    const contents = metas.filter((m): m is ObjectMeta => m !== undefined);
    const prefixes = entries.filter((e): e is { type: 'prefix'; prefix: string } => e.type === 'prefix').map((e) => e.prefix);
    const count = contents.length + prefixes.length;
    const owner = fetchOwner ? `<Owner><ID>${OWNER.id}</ID><DisplayName>${OWNER.name}</DisplayName></Owner>` : '';
    let xml = `<ListBucketResult xmlns="${XMLNS}"><Name>${xmlEscape(bucket)}</Name><Prefix>${enc(prefix)}</Prefix>`;
    if (version === 2) {
      if (token !== null) xml += `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>`;
      if (q.has('start-after')) xml += `<StartAfter>${enc(q.get('start-after')!)}</StartAfter>`;
      xml += `<KeyCount>${count}</KeyCount>`;
    } else {
      xml += `<Marker>${enc(q.get('marker') ?? '')}</Marker>`;
    }
    xml += `<MaxKeys>${maxKeys}</MaxKeys>`;
    if (delimiter) xml += `<Delimiter>${enc(delimiter)}</Delimiter>`;
    xml += `<IsTruncated>${truncated}</IsTruncated>`;
    if (truncated && last !== undefined) {
      xml += version === 2
        ? `<NextContinuationToken>${Buffer.from(last, 'utf8').toString('base64')}</NextContinuationToken>`
        : `<NextMarker>${enc(last)}</NextMarker>`;
    }
    if (urlEncode) xml += '<EncodingType>url</EncodingType>';
    for (const m of contents) {
      xml += `<Contents><Key>${enc(m.key)}</Key><LastModified>${m.lastModified}</LastModified><ETag>${xmlEscape(quote(m.etag))}</ETag>`;
      if (m.checksum) xml += `<ChecksumAlgorithm>${m.checksum.algorithm}</ChecksumAlgorithm><ChecksumType>${m.checksum.type}</ChecksumType>`;
      xml += `<Size>${m.size}</Size>${owner}<StorageClass>STANDARD</StorageClass></Contents>`;
    }
    for (const p of prefixes) xml += `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`;
    xml += '</ListBucketResult>';
    this.sendXml(ctx, xml);
  }

  // ---------------------------------------------------------------- writing objects

  /** Metadata a write request carries (content-type, representation headers, x-amz-meta-*). */
  private requestMeta(req: IncomingMessage): Omit<NewObjectMeta, 'etag' | 'checksum'> {
    const headers: Record<string, string> = {};
    for (const h of STORED_HEADERS) {
      let v = header(req, h);
      if (h === 'content-encoding' && v) {
        v = v.split(',').map((s) => s.trim()).filter((s) => s && s.toLowerCase() !== 'aws-chunked').join(',');
      }
      if (v) headers[h] = v;
    }
    const userMetadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith('x-amz-meta-') && value !== undefined) userMetadata[name.slice(11)] = Array.isArray(value) ? value.join(',') : value;
    }
    const size = Object.entries(userMetadata).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (size > 2048) throw new S3Error('MetadataTooLarge', 400, 'Your metadata headers exceed the maximum allowed metadata size');
    return { contentType: header(req, 'content-type') || 'binary/octet-stream', headers, userMetadata };
  }

  /** Precondition of a conditional write (If-None-Match: * / If-Match: <etag>), checked at commit. */
  private writeCondition(req: IncomingMessage): ((existing: ObjectMeta | undefined) => void) | undefined {
    const inm = header(req, 'if-none-match');
    const im = header(req, 'if-match');
    if (inm === undefined && im === undefined) return undefined;
    if (inm !== undefined && inm.trim() !== '*') throw notImplemented('If-None-Match with a value other than *');
    return (existing) => {
      if (inm !== undefined && existing) throw preconditionFailed('If-None-Match');
      if (im !== undefined && (!existing || !etagListMatches(im, existing.etag))) throw preconditionFailed('If-Match');
    };
  }

  /**
   * Streams the request body (plain or aws-chunked) into a temp file, verifying Content-MD5,
   * x-amz-content-sha256, the decoded length and any x-amz-checksum-* header or trailer.
   */
  private async receiveBody(req: IncomingMessage, extraAlgorithm?: ChecksumAlgorithm):
  Promise<{ tmp: TempFile; algorithm?: ChecksumAlgorithm; checksum?: string }> {
    const contentSha = header(req, 'x-amz-content-sha256') ?? '';
    const encodings = (header(req, 'content-encoding') ?? '').split(',').map((s) => s.trim().toLowerCase());
    const chunked = encodings.includes('aws-chunked') || contentSha.startsWith('STREAMING-');
    const declared = Number(chunked ? header(req, 'x-amz-decoded-content-length') ?? NaN : header(req, 'content-length') ?? NaN);
    if (declared > MAX_OBJECT_SIZE) throw new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size');

    // which checksum: a header value, a trailer announced in x-amz-trailer, or just an algorithm
    let algorithm: ChecksumAlgorithm | undefined;
    let expected: string | undefined;
    let trailerName: string | undefined;
    for (const a of CHECKSUM_ALGORITHMS) {
      const v = header(req, checksumHeaderName(a));
      if (v !== undefined) { algorithm = a; expected = v; }
    }
    const trailer = header(req, 'x-amz-trailer')?.trim().toLowerCase();
    if (!algorithm && trailer) {
      const a = CHECKSUM_ALGORITHMS.find((x) => checksumHeaderName(x) === trailer);
      if (!a) throw invalidRequest(`Unsupported trailer ${trailer}`);
      algorithm = a;
      trailerName = trailer;
    }
    if (!algorithm) {
      const named = (header(req, 'x-amz-sdk-checksum-algorithm') ?? header(req, 'x-amz-checksum-algorithm'))?.toUpperCase();
      if (named) {
        if (!isChecksumAlgorithm(named)) throw invalidRequest(`Checksum algorithm ${named} is not supported`);
        algorithm = named;
      }
    }
    if (!algorithm && extraAlgorithm) algorithm = extraAlgorithm;
    const algorithms = [...new Set([algorithm, extraAlgorithm].filter((a): a is ChecksumAlgorithm => a !== undefined))];

    const decoder = chunked ? new AwsChunkedDecoder() : undefined;
    const source: Readable = decoder ? req.pipe(decoder) : req;
    if (decoder) req.on('error', (e) => decoder.destroy(e));
    const verifySha = /^[0-9a-f]{64}$/.test(contentSha);
    const tmp = await this.store.writeTemp(source, algorithms, { sha256: verifySha, maxSize: MAX_OBJECT_SIZE });
    try {
      if (!Number.isNaN(declared) && declared !== tmp.size) {
        throw new S3Error('IncompleteBody', 400, 'You did not provide the number of bytes specified by the Content-Length HTTP header');
      }
      const md5 = header(req, 'content-md5');
      if (md5 !== undefined && md5 !== tmp.md5!.toString('base64')) {
        throw new S3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.');
      }
      if (verifySha && tmp.sha256 && tmp.sha256.toString('hex') !== contentSha) {
        throw new S3Error('XAmzContentSHA256Mismatch', 400, 'The provided \'x-amz-content-sha256\' header does not match what was computed.');
      }
      if (trailerName) expected = decoder?.trailers[trailerName];
      const actual = algorithm ? tmp.digests.get(algorithm)!.toString('base64') : undefined;
      if (expected !== undefined && expected !== actual) {
        throw new S3Error('BadDigest', 400, `The ${algorithm} you specified did not match the calculated checksum.`);
      }
      return { tmp, algorithm, checksum: actual };
    } catch (e) {
      await this.store.discardTemp(tmp);
      throw e;
    }
  }

  private checksumHeaders(c: ObjectChecksum | undefined): Record<string, string> {
    return c ? { [checksumHeaderName(c.algorithm)]: c.value, 'x-amz-checksum-type': c.type } : {};
  }

  private checksumXml(c: ObjectChecksum | undefined): string {
    return c ? `<${checksumElementName(c.algorithm)}>${c.value}</${checksumElementName(c.algorithm)}><ChecksumType>${c.type}</ChecksumType>` : '';
  }

  private async notifyCreated(bucket: string, meta: ObjectMeta, reason: ObjectCreatedNotice['reason']): Promise<void> {
    if (!(await this.isEventBridgeEnabled(bucket))) return;
    this.sequence++;
    const notice: ObjectCreatedNotice = {
      bucket,
      key: meta.key,
      size: meta.size,
      etag: meta.etag,
      reason,
      time: meta.lastModified,
      sequencer: this.sequence.toString(16).toUpperCase().padStart(16, '0'),
    };
    for (const listener of this.emitter.listeners('objectCreated')) {
      try {
        (listener as (n: ObjectCreatedNotice) => void)(notice);
      } catch (e) {
        // eslint-disable-next-line no-console
        console.error('local S3: objectCreated listener failed:', e);
      }
    }
  }

  private async notifyDeleted(bucket: string, key: string): Promise<void> {
    if (!(await this.isEventBridgeEnabled(bucket))) return;
    this.sequence++;
    const notice: ObjectDeletedNotice = {
      bucket,
      key,
      reason: 'DeleteObject',
      deletionType: 'Permanently Deleted',
      time: new Date().toISOString(),
      sequencer: this.sequence.toString(16).toUpperCase().padStart(16, '0'),
    };
    for (const listener of this.emitter.listeners('objectDeleted')) {
      try {
        (listener as (n: ObjectDeletedNotice) => void)(notice);
      } catch (e) {
        // eslint-disable-next-line no-console
        console.error('local S3: objectDeleted listener failed:', e);
      }
    }
  }

  private async putObject(ctx: Ctx): Promise<void> {
    const { bucket, key, req } = ctx as Required<Ctx>;
    this.store.objectPath(bucket, key);
    const condition = this.writeCondition(req);
    const meta = this.requestMeta(req);
    await this.store.requireBucket(bucket);
    const sse = this.writeEncryption(req, bucket);
    this.checkAclSupported(req, bucket);
    await this.authorize(ctx, [this.authz?.kmsPermission('kms:GenerateDataKey', sse, bucket, key)]);
    const { tmp, algorithm, checksum } = await this.receiveBody(req);
    const stored = await this.store.commitObject(bucket, key, tmp.path, {
      ...meta,
      etag: tmp.md5!.toString('hex'),
      checksum: algorithm && checksum ? { algorithm, value: checksum, type: 'FULL_OBJECT' } : undefined,
      ...(sse ? { sse } : {}),
    }, condition);
    await this.notifyCreated(bucket, stored, 'PutObject');
    this.sendEmpty(ctx, 200, { ETag: quote(stored.etag), ...this.checksumHeaders(stored.checksum), ...this.sseHeaders(stored.sse) });
  }

  private async copyObject(ctx: Ctx): Promise<void> {
    const { bucket, key, req } = ctx as Required<Ctx>;
    this.store.objectPath(bucket, key);
    await drain(req);
    let source = header(req, 'x-amz-copy-source')!;
    const vi = source.indexOf('?versionId=');
    const sourceVersion = vi === -1 ? undefined : source.slice(vi + '?versionId='.length);
    if (vi !== -1) source = source.slice(0, vi);
    let srcBucket: string;
    let srcKey: string;
    try {
      const decoded = decodeURIComponent(source.replace(/^\//, ''));
      const slash = decoded.indexOf('/');
      if (slash <= 0 || slash === decoded.length - 1) throw new Error('bad');
      srcBucket = decoded.slice(0, slash);
      srcKey = decoded.slice(slash + 1);
    } catch {
      throw invalidArgument('Invalid copy source object key', 'x-amz-copy-source', source);
    }
    const directive = (header(req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') throw invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
    const condition = this.writeCondition(req);
    const requested = header(req, 'x-amz-checksum-algorithm')?.toUpperCase();
    if (requested !== undefined && !isChecksumAlgorithm(requested)) throw invalidRequest(`Checksum algorithm ${requested} is not supported`);
    await this.store.requireBucket(bucket);
    await this.store.requireBucket(srcBucket);
    if (srcBucket === bucket && srcKey === key && directive === 'COPY' && !requested) {
      throw invalidRequest('This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
    }
    // the source is read as by GetObject (its own permission, 404/403 rule and KMS key)
    const versioned = sourceVersion !== undefined && sourceVersion !== 'null';
    await this.authorize(ctx, [{ action: versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: objectArn(srcBucket, srcKey) }]);
    const sse = this.writeEncryption(req, bucket);
    this.checkAclSupported(req, bucket);
    let opened;
    try {
      opened = await this.store.openObject(srcBucket, srcKey);
    } catch (e) {
      if (e instanceof S3Error && e.code === 'InvalidArgument') throw this.missingKey(ctx, srcBucket, srcKey);
      throw e;
    }
    if (!opened) throw this.missingKey(ctx, srcBucket, srcKey);
    const { meta: src, handle } = opened;
    try {
      await this.authorize(ctx, [
        this.authz?.kmsPermission('kms:Decrypt', this.storedEncryption(srcBucket, src), srcBucket, srcKey),
        this.authz?.kmsPermission('kms:GenerateDataKey', sse, bucket, key),
      ]);
    } catch (e) {
      await handle.close();
      throw e;
    }
    let tmp: TempFile;
    const algorithm = (requested as ChecksumAlgorithm | undefined) ?? src.checksum?.algorithm;
    // A copy is a new single-part object: its ETag is the MD5 of the content and its checksum a
    // FULL_OBJECT one. A single-part source already has both (its ETag is that MD5), so the bytes are
    // only copied; a multipart source (ETag `…-n`, composite checksum) is hashed while copying.
    const sourceMd5 = src.etag.includes('-') ? undefined : src.etag;
    const sourceChecksum = src.checksum?.algorithm === algorithm && src.checksum?.type === 'FULL_OBJECT' ? src.checksum.value : undefined;
    try {
      this.checkCopySourceConditions(req, src);
      tmp = await this.store.writeTemp(handle.createReadStream({ autoClose: false }),
        algorithm && sourceChecksum === undefined ? [algorithm] : [], { md5: sourceMd5 === undefined });
    } finally {
      await handle.close();
    }
    const base = directive === 'COPY'
      ? { contentType: src.contentType, headers: src.headers, userMetadata: src.userMetadata }
      : this.requestMeta(req);
    const stored = await this.store.commitObject(bucket, key, tmp.path, {
      ...base,
      etag: sourceMd5 ?? tmp.md5!.toString('hex'),
      checksum: algorithm
        ? { algorithm, value: sourceChecksum ?? tmp.digests.get(algorithm)!.toString('base64'), type: 'FULL_OBJECT' }
        : undefined,
      ...(sse ? { sse } : {}),
    }, condition);
    await this.notifyCreated(bucket, stored, 'CopyObject');
    this.sendXml(ctx, `<CopyObjectResult xmlns="${XMLNS}"><ETag>${xmlEscape(quote(stored.etag))}</ETag><LastModified>${stored.lastModified}</LastModified>`
      + `${this.checksumXml(stored.checksum)}</CopyObjectResult>`, { 'x-amz-copy-source-version-id': 'null', ...this.sseHeaders(stored.sse) });
  }

  private checkCopySourceConditions(req: IncomingMessage, src: ObjectMeta): void {
    const im = header(req, 'x-amz-copy-source-if-match');
    const inm = header(req, 'x-amz-copy-source-if-none-match');
    const ims = parseHttpDate(header(req, 'x-amz-copy-source-if-modified-since'));
    const ius = parseHttpDate(header(req, 'x-amz-copy-source-if-unmodified-since'));
    const modified = seconds(src.lastModified);
    if (im !== undefined) {
      if (!etagListMatches(im, src.etag)) throw preconditionFailed('x-amz-copy-source-If-Match');
    } else if (ius !== undefined && modified > ius) {
      throw preconditionFailed('x-amz-copy-source-If-Unmodified-Since');
    }
    if (inm !== undefined) {
      if (etagListMatches(inm, src.etag)) throw preconditionFailed('x-amz-copy-source-If-None-Match');
    } else if (ims !== undefined && modified <= ims) {
      throw preconditionFailed('x-amz-copy-source-If-Modified-Since');
    }
  }

  private async deleteObject(ctx: Ctx): Promise<void> {
    const { bucket, key } = ctx as Required<Ctx>;
    await this.store.requireBucket(bucket);
    let existed = false;
    try {
      existed = await this.store.deleteObject(bucket, key);
    } catch (e) {
      // a key the store cannot hold cannot exist either: deleting it succeeds, as on S3
      if (!(e instanceof S3Error && (e.code === 'InvalidArgument' || e.code === 'KeyTooLongError'))) throw e;
    }
    this.sendEmpty(ctx, 204);
    if (existed) await this.notifyDeleted(bucket, key);
  }

  private async deleteObjects(ctx: Ctx): Promise<void> {
    const bucket = ctx.bucket!;
    const body = await readBody(ctx.req, MAX_XML_BODY);
    await this.store.requireBucket(bucket);
    for (const a of CHECKSUM_ALGORITHMS) {
      const v = header(ctx.req, checksumHeaderName(a));
      if (v !== undefined) {
        const h = createHasher(a);
        h.update(body);
        if (h.digest().toString('base64') !== v) throw new S3Error('BadDigest', 400, `The ${a} you specified did not match the calculated checksum.`);
      }
    }
    const md5 = header(ctx.req, 'content-md5');
    if (md5 !== undefined) {
      const h = createHasher('MD5');
      h.update(body);
      if (h.digest().toString('base64') !== md5) throw new S3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.');
    }
    const del = asRecord(parseXmlBody(body).Delete);
    const objects = (Array.isArray(del.Object) ? del.Object : []) as unknown[];
    if (objects.length === 0 || objects.length > 1000) {
      throw new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
    }
    const quiet = text(del.Quiet)?.trim() === 'true';
    let xml = `<DeleteResult xmlns="${XMLNS}">`;
    for (const o of objects) {
      const key = text(asRecord(o).Key);
      if (key === undefined) {
        throw new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
      }
      const denied = this.authz && ctx.caller ? this.authz.denial(ctx.caller, { action: 's3:DeleteObject', resource: objectArn(bucket, key) }) : null;
      if (denied !== null) {
        // S3 reports a key the caller may not delete in the result, as an error of that key
        xml += `<Error><Key>${xmlEscape(key)}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`;
        this.noteDenied(ctx, 'AccessDenied', denied, key);
        continue;
      }
      try {
        if (await this.store.deleteObject(bucket, key)) await this.notifyDeleted(bucket, key);
        if (!quiet) xml += `<Deleted><Key>${xmlEscape(key)}</Key></Deleted>`;
      } catch (e) {
        if (e instanceof S3Error && (e.code === 'InvalidArgument' || e.code === 'KeyTooLongError')) {
          if (!quiet) xml += `<Deleted><Key>${xmlEscape(key)}</Key></Deleted>`;
        } else {
          const code = e instanceof S3Error ? e.code : 'InternalError';
          const msg = e instanceof S3Error ? e.message : 'We encountered an internal error. Please try again.';
          xml += `<Error><Key>${xmlEscape(key)}</Key><Code>${code}</Code><Message>${xmlEscape(msg)}</Message></Error>`;
        }
      }
    }
    this.sendXml(ctx, `${xml}</DeleteResult>`);
  }

  // ---------------------------------------------------------------- reading objects

  private async getObject(ctx: Ctx, headOnly: boolean): Promise<void> {
    const { bucket, key, req, res, query } = ctx as Required<Ctx>;
    await this.store.requireBucket(bucket);
    let opened: { meta: ObjectMeta; handle?: import('node:fs/promises').FileHandle } | undefined;
    try {
      if (headOnly) {
        const meta = await this.store.headObject(bucket, key);
        opened = meta ? { meta } : undefined;
      } else {
        opened = await this.store.openObject(bucket, key);
      }
    } catch (e) {
      if (e instanceof S3Error && (e.code === 'InvalidArgument' || e.code === 'KeyTooLongError')) throw this.missingKey(ctx, bucket, key);
      throw e;
    }
    if (!opened) throw this.missingKey(ctx, bucket, key);
    const { meta, handle } = opened;
    try {
      const sse = this.storedEncryption(bucket, meta);
      // reading the bytes of an SSE-KMS object needs the key (HeadObject does not decrypt)
      if (!headOnly) await this.authorize(ctx, [this.authz?.kmsPermission('kms:Decrypt', sse, bucket, key)]);
      const headers: Record<string, string | number> = {
        'Content-Type': meta.contentType,
        'ETag': quote(meta.etag),
        'Last-Modified': httpDate(meta.lastModified),
        'Accept-Ranges': 'bytes',
        ...this.sseHeaders(sse),
      };
      for (const [k, v] of Object.entries(meta.headers)) headers[k] = v;
      for (const [k, v] of Object.entries(meta.userMetadata)) headers[`x-amz-meta-${k}`] = v;
      if (meta.partsCount) headers['x-amz-mp-parts-count'] = meta.partsCount;
      for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
        const v = query.get(param);
        if (v !== null) headers[name] = v;
      }

      // conditional reads (RFC 7232 as S3 applies it)
      const im = header(req, 'if-match');
      const inm = header(req, 'if-none-match');
      const ims = parseHttpDate(header(req, 'if-modified-since'));
      const ius = parseHttpDate(header(req, 'if-unmodified-since'));
      const modified = seconds(meta.lastModified);
      if (im !== undefined) {
        if (!etagListMatches(im, meta.etag)) throw preconditionFailed('If-Match');
      } else if (ius !== undefined && modified > ius) {
        throw preconditionFailed('If-Unmodified-Since');
      }
      if ((inm !== undefined && etagListMatches(inm, meta.etag)) || (inm === undefined && ims !== undefined && modified <= ims)) {
        this.sendEmpty(ctx, 304, { 'ETag': headers.ETag, 'Last-Modified': headers['Last-Modified'] });
        return;
      }

      let start = 0;
      let end = meta.size - 1;
      let status = 200;
      const range = header(req, 'range');
      const partNumber = query.get('partNumber');
      if (partNumber !== null) {
        if (partNumber !== '1' || meta.partsCount) throw notImplemented('GetObject by partNumber of a multipart object');
      }
      if (range !== undefined) {
        const r = parseRange(range, meta.size);
        if (r === 'unsatisfiable') {
          throw new S3Error('InvalidRange', 416, 'The requested range is not satisfiable',
            { RangeRequested: range, ActualObjectSize: String(meta.size) }, { 'Content-Range': `bytes */${meta.size}` });
        }
        if (r) {
          ({ start, end } = r);
          status = 206;
          headers['Content-Range'] = `bytes ${start}-${end}/${meta.size}`;
        }
      }
      if (status === 200 && meta.checksum && (header(req, 'x-amz-checksum-mode') ?? '').toUpperCase() === 'ENABLED') {
        Object.assign(headers, this.checksumHeaders(meta.checksum));
      }
      const length = meta.size === 0 ? 0 : end - start + 1;
      headers['Content-Length'] = length;
      res.writeHead(status, headers);
      if (headOnly || length === 0) {
        res.end();
        return;
      }
      await pipeline(handle!.createReadStream({ start, end, autoClose: false }), res);
    } finally {
      await handle?.close();
    }
  }

  // ---------------------------------------------------------------- multipart uploads

  private async createMultipartUpload(ctx: Ctx): Promise<void> {
    const { bucket, key, req } = ctx as Required<Ctx>;
    await drain(req);
    this.store.objectPath(bucket, key);
    const meta = this.requestMeta(req);
    const algName = header(req, 'x-amz-checksum-algorithm')?.toUpperCase();
    if (algName !== undefined && !isChecksumAlgorithm(algName)) throw invalidRequest(`Checksum algorithm ${algName} is not supported`);
    const typeName = header(req, 'x-amz-checksum-type')?.toUpperCase();
    if (typeName !== undefined && typeName !== 'FULL_OBJECT' && typeName !== 'COMPOSITE') {
      throw invalidRequest(`Checksum type ${typeName} is not supported`);
    }
    const checksumType = algName ? (typeName as 'FULL_OBJECT' | 'COMPOSITE' | undefined)
      ?? (algName === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE') : undefined;
    if (checksumType === 'FULL_OBJECT' && (algName === 'SHA1' || algName === 'SHA256')) {
      throw invalidRequest(`The FULL_OBJECT checksum type cannot be used with the ${algName} checksum algorithm.`);
    }
    await this.store.requireBucket(bucket);
    const sse = this.writeEncryption(req, bucket);
    this.checkAclSupported(req, bucket);
    await this.authorize(ctx, [this.authz?.kmsPermission('kms:GenerateDataKey', sse, bucket, key)]);
    const upload = await this.store.createUpload({
      bucket, key, meta: sse ? { ...meta, sse } : meta, checksumAlgorithm: algName as ChecksumAlgorithm | undefined, checksumType,
    });
    const headers: Record<string, string> = { ...this.sseHeaders(sse) };
    if (upload.checksumAlgorithm) {
      headers['x-amz-checksum-algorithm'] = upload.checksumAlgorithm;
      headers['x-amz-checksum-type'] = upload.checksumType!;
    }
    this.sendXml(ctx, `<InitiateMultipartUploadResult xmlns="${XMLNS}"><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key>`
      + `<UploadId>${upload.uploadId}</UploadId></InitiateMultipartUploadResult>`, headers);
  }

  private async uploadPart(ctx: Ctx): Promise<void> {
    const { bucket, key, req, query } = ctx as Required<Ctx>;
    const uploadId = query.get('uploadId')!;
    const pn = query.get('partNumber') ?? '';
    if (!/^\d+$/.test(pn) || Number(pn) < 1 || Number(pn) > 10000) {
      throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', pn);
    }
    await this.store.requireBucket(bucket);
    const upload = await this.store.getUpload(bucket, key, uploadId);
    // a part of an SSE-KMS upload needs kms:Decrypt (S3 decrypts the upload's data key)
    await this.authorize(ctx, [this.authz?.kmsPermission('kms:Decrypt', upload.meta.sse, bucket, key)]);
    const { tmp, algorithm, checksum } = await this.receiveBody(req, upload.checksumAlgorithm);
    const partChecksum = upload.checksumAlgorithm ? tmp.digests.get(upload.checksumAlgorithm)!.toString('base64') : undefined;
    const part = await this.store.putPart(bucket, key, uploadId, Number(pn), tmp, partChecksum);
    const headers: Record<string, string> = { ETag: quote(part.etag) };
    if (algorithm && checksum) headers[checksumHeaderName(algorithm)] = checksum;
    this.sendEmpty(ctx, 200, headers);
  }

  private async completeMultipartUpload(ctx: Ctx): Promise<void> {
    const { bucket, key, req, query } = ctx as Required<Ctx>;
    const uploadId = query.get('uploadId')!;
    const body = await readBody(req, MAX_XML_BODY);
    await this.store.requireBucket(bucket);
    const condition = this.writeCondition(req);
    const doc = asRecord(parseXmlBody(body).CompleteMultipartUpload);
    const parts: CompletePart[] = ((Array.isArray(doc.Part) ? doc.Part : []) as unknown[]).map((p) => {
      const r = asRecord(p);
      const n = text(r.PartNumber)?.trim() ?? '';
      const etag = text(r.ETag)?.trim();
      if (!/^\d+$/.test(n) || etag === undefined) {
        throw new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
      }
      const checksums: CompletePart['checksums'] = {};
      for (const a of CHECKSUM_ALGORITHMS) {
        const v = text(r[checksumElementName(a)]);
        if (v !== undefined) checksums[a] = v.trim();
      }
      return { partNumber: Number(n), etag, checksums };
    });
    const stored = await this.store.completeUpload(bucket, key, uploadId, parts, condition);
    await this.notifyCreated(bucket, stored, 'CompleteMultipartUpload');
    const host = header(req, 'host') ?? this.endpoint.replace(/^http:\/\//, '');
    const location = `http://${host}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
    this.sendXml(ctx, `<CompleteMultipartUploadResult xmlns="${XMLNS}"><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(bucket)}</Bucket>`
      + `<Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(quote(stored.etag))}</ETag>${this.checksumXml(stored.checksum)}</CompleteMultipartUploadResult>`,
    this.sseHeaders(stored.sse));
  }

  private async abortMultipartUpload(ctx: Ctx): Promise<void> {
    const { bucket, key, query } = ctx as Required<Ctx>;
    await this.store.requireBucket(bucket);
    await this.store.abortUpload(bucket, key, query.get('uploadId')!);
    this.sendEmpty(ctx, 204);
  }

  private async listParts(ctx: Ctx): Promise<void> {
    const { bucket, key, query } = ctx as Required<Ctx>;
    const uploadId = query.get('uploadId')!;
    await this.store.requireBucket(bucket);
    const upload = await this.store.getUpload(bucket, key, uploadId);
    const marker = Number(query.get('part-number-marker') ?? '0') || 0;
    const maxParts = Math.min(1000, Number(query.get('max-parts') ?? '1000') || 1000);
    const all = (await this.store.listParts(bucket, key, uploadId)).filter((p) => p.partNumber > marker);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    let xml = `<ListPartsResult xmlns="${XMLNS}"><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId>`
      + `<PartNumberMarker>${marker}</PartNumberMarker>`;
    if (page.length > 0) xml += `<NextPartNumberMarker>${page[page.length - 1].partNumber}</NextPartNumberMarker>`;
    xml += `<MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>`;
    if (upload.checksumAlgorithm) xml += `<ChecksumAlgorithm>${upload.checksumAlgorithm}</ChecksumAlgorithm><ChecksumType>${upload.checksumType}</ChecksumType>`;
    for (const p of page) {
      xml += `<Part><PartNumber>${p.partNumber}</PartNumber><LastModified>${p.lastModified}</LastModified><ETag>${xmlEscape(quote(p.etag))}</ETag><Size>${p.size}</Size>`;
      if (p.checksum && upload.checksumAlgorithm) xml += `<${checksumElementName(upload.checksumAlgorithm)}>${p.checksum}</${checksumElementName(upload.checksumAlgorithm)}>`;
      xml += '</Part>';
    }
    this.sendXml(ctx, `${xml}</ListPartsResult>`);
  }
}

/**
 * `bytes=a-b`, `bytes=a-`, `bytes=-n`. Undefined means "ignore the header" (not a single byte
 * range, as on S3); 'unsatisfiable' gives 416.
 */
export function parseRange(value: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}


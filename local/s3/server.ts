/**
 * Embedded local S3 endpoint: a small REST/XML server on node:http that the AWS SDK v3 talks to
 * through `AWS_ENDPOINT_URL_S3`. This is its protocol layer: each request is routed to an
 * operation (routing.ts), may fail with an injected fault (faults.ts), is authenticated and
 * authorized when IAM is enforced (authz.ts, permissions.ts), runs (operations.ts, over the engine
 * and store), and any error becomes S3's XML error response. See docs/local-s3.md.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { S3Authorizer, type BucketSecurity, type S3IamOptions } from './authz';
import { ChunkedEncodingError } from './chunked';
import { S3Engine } from './engine';
import { notImplemented, S3Error } from './errors';
import { FaultInjector, type S3FaultOptions } from './faults';
import { Notifier, type AccessDeniedNotice, type ObjectCreatedNotice, type ObjectDeletedNotice, type S3NoticeName, type S3Notices } from './notices';
import { OPERATIONS } from './operations';
import { requestPermissions } from './permissions';
import type { Ctx } from './request';
import { routeOf } from './routing';
import { S3Store } from './store';
import { errorXml } from './xml';
import { BodyTooLargeError, closeServer, drain, endpointUrl, listen, newRequestId, send } from '../http';

/** The largest request body read to its end before an error response is sent (bigger ones: the connection closes). */
const DRAIN_BEFORE_ERROR_BYTES = 8 * 1024 * 1024;

export interface LocalS3Options {
  rootDir: string;
  /** default 127.0.0.1 */
  host?: string;
  /** 0 (default) = ephemeral */
  port?: number;
  faults?: S3FaultOptions;
  /** metadata folder, default `<rootDir>/.s3-meta` (must be outside every bucket folder) */
  metaDir?: string;
  /**
   * Authorize every request against these policies, as S3 does (docs/local-s3.md, "IAM
   * enforcement"). Absent: any request is accepted, whoever signed it.
   */
  iam?: S3IamOptions;
}

type AnyNoticeListener = ((n: ObjectCreatedNotice) => void) | ((n: ObjectDeletedNotice) => void) | ((n: AccessDeniedNotice) => void);

/** Error codes of refused requests, told to the 'accessDenied' listeners. */
const DENIAL_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'AccessControlListNotSupported']);

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
  private readonly faults: FaultInjector;
  private readonly notices: Notifier;
  private readonly engine: S3Engine;

  private constructor(private readonly store: S3Store, faults: S3FaultOptions, private readonly authz?: S3Authorizer) {
    this.faults = new FaultInjector(faults);
    this.notices = new Notifier(store);
    this.engine = new S3Engine(store, this.notices, authz, () => this.url);
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
    this.engine.setBucketSecurity(bucket, security);
  }

  /** The Object Ownership and default encryption given to a bucket with setBucketSecurity. */
  securityOf(bucket: string): BucketSecurity | undefined {
    return this.engine.securityOf(bucket);
  }

  /** Whether requests are authorized against IAM policies. */
  get enforcesIam(): boolean {
    return this.authz !== undefined;
  }

  /**
   * Sets the bucket's versioning status (a template's `VersioningConfiguration.Status`), as
   * PutBucketVersioning does; undefined leaves an unversioned bucket unversioned.
   */
  async setVersioning(bucket: string, status: 'Enabled' | 'Suspended' | undefined): Promise<void> {
    if (status !== undefined) await this.store.updateBucketConfig(bucket, { versioning: status });
  }

  /** Turns the bucket's EventBridge notifications (the 'objectCreated' events) on or off. */
  setEventBridgeEnabled(bucket: string, enabled: boolean): void {
    void this.notices.setEventBridge(bucket, enabled).catch(() => undefined);
  }

  /** Listens for objects created in EventBridge-enabled buckets. */
  on(event: 'objectCreated', listener: (n: ObjectCreatedNotice) => void): this;

  /** Listens for objects deleted (DeleteObject, DeleteObjects) in EventBridge-enabled buckets. */
  on(event: 'objectDeleted', listener: (n: ObjectDeletedNotice) => void): this;

  /** Listens for requests refused by IAM enforcement. */
  on(event: 'accessDenied', listener: (n: AccessDeniedNotice) => void): this;
  on(event: S3NoticeName, listener: AnyNoticeListener): this {
    this.notices.on(event, listener as (n: S3Notices[typeof event]) => void);
    return this;
  }

  off(event: 'objectCreated', listener: (n: ObjectCreatedNotice) => void): this;
  off(event: 'objectDeleted', listener: (n: ObjectDeletedNotice) => void): this;
  off(event: 'accessDenied', listener: (n: AccessDeniedNotice) => void): this;
  off(event: S3NoticeName, listener: AnyNoticeListener): this {
    this.notices.off(event, listener as (n: S3Notices[typeof event]) => void);
    return this;
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
    this.faults.configure(f);
  }

  /** How many SlowDown errors have been injected since start. */
  get slowDownsInjected(): number {
    return this.faults.slowDownsInjected;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
    this.store.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', Buffer.from(requestId).toString('base64'));
    res.setHeader('Server', 'AmazonS3');
    let ctx: Ctx | undefined;
    try {
      const { bucket, key, query, op } = routeOf(req);
      ctx = { req, res, requestId, op, bucket, key, query };
      if (this.faults.slowDown(op)) {
        await drain(req);
        throw new S3Error('SlowDown', 503, 'Please reduce your request rate.');
      }
      if (this.authz) {
        ctx.caller = this.authz.authenticate(req, query);
        await this.engine.authorize(ctx, requestPermissions(ctx));
      }
      const operation = Object.hasOwn(OPERATIONS, op) ? OPERATIONS[op] : undefined;
      if (!operation) {
        await drain(req);
        throw notImplemented(`${req.method} ${req.url}`);
      }
      await operation(this.engine, ctx);
    } catch (e) {
      this.sendError(req, res, requestId, e, ctx);
    }
  }

  /** S3's XML error response (or a closed connection when the response has begun or the client has gone). */
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
    if (DENIAL_CODES.has(err.code)) this.engine.noteDenied(ctx, err.code, err.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const resource = ctx?.bucket ? `/${ctx.bucket}${ctx.key !== undefined ? `/${ctx.key}` : ''}` : '/';
    const reply = () => send(res, err.status, req.method === 'HEAD' ? '' : errorXml(err, resource, requestId), { 'Content-Type': 'application/xml', ...err.headers });
    if (!req.complete) {
      // An error found before the body was read (NoSuchBucket, AccessDenied, …): a body of bounded size is read to
      // its end first, so the client finishes sending and reads the error, as from S3, instead of a write error
      // (EPIPE) on a closed connection. A larger or unbounded body is not waited for: the connection is closed.
      // The size: Content-Length, or for an aws-chunked upload sent with Transfer-Encoding: chunked, the decoded length.
      const declared = Number(req.headers['content-length'] ?? req.headers['x-amz-decoded-content-length']);
      if (Number.isFinite(declared) && declared <= DRAIN_BEFORE_ERROR_BYTES) {
        drain(req).then(reply, () => res.destroy());
        return;
      }
      res.setHeader('Connection', 'close');
      req.resume();
    }
    reply();
  }
}

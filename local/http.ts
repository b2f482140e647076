/**
 * Small HTTP helpers shared by the embedded local AWS endpoints (S3, SNS, Athena), and the request
 * counter that meters their calls.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Thrown when a request body is larger than the caller's limit. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Reads a whole (small) request body, refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLargeError(limit));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks)); });
    req.on('error', (e) => { if (!failed) { failed = true; reject(e); } });
  });
}

/** Discards whatever is left of a request body (so the connection can be reused). */
export function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.complete) return Promise.resolve();
  return new Promise((resolve) => {
    req.on('end', () => resolve());
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.resume();
  });
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&apos;' };

/**
 * Escapes text for an XML element or attribute. Characters XML 1.0 cannot carry literally (control
 * characters other than tab/newline; CR, which parsers normalise) are written as numeric references.
 */
export function xmlEscape(value: string): string {
  return value.replace(/[&<>"']|[\u0000-\u0008\u000b\u000c\u000d\u000e-\u001f\ufffe\uffff]/g,
    (c) => XML_ESCAPES[c] ?? `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

/** Random bytes for request ids, drawn 8 at a time (one randomBytes call per 512 ids instead of one per request). */
let idPool = Buffer.alloc(0);
let idOffset = 0;

/** An AWS-style request id (16 upper-case hex characters). */
export function newRequestId(): string {
  if (idOffset + 8 > idPool.length) {
    idPool = randomBytes(4096);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + 8).toUpperCase();
  idOffset += 8;
  return id;
}

/** Sends a complete response with the given body. */
export function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string | number> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', buf.length);
  res.end(buf);
}

/** The servers started by {@link listen}, by their endpoint URL (removed by {@link closeServer}). */
const listening = new Map<string, Server>();

/** Starts listening and resolves with the bound port. */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const bound = (server.address() as AddressInfo).port;
      listening.set(endpointUrl(host, bound), server);
      resolve(bound);
    });
  });
}

/** The server an embedded endpoint (`http://host:port`, as {@link endpointUrl} writes it) listens with. */
export function serverAt(endpoint: string): Server | undefined {
  return listening.get(endpoint.replace(/\/+$/, ''));
}

/** An AWS service's requests by operation. */
export type RequestCounts = Record<string, number>;

/**
 * Counts the requests an embedded endpoint receives, by operation, as AWS bills and meters them:
 * every HTTP request is one API call (a retried call counts each attempt, as in AWS).
 * `classify` names the operation from the method, path, query and headers.
 */
export class RequestCounter {
  private readonly counts: Record<string, RequestCounts> = {};
  private readonly detach: Array<() => void> = [];

  /** Counts the requests `server` receives as `service`'s. */
  observe(server: Server, service: string, classify: (req: IncomingMessage) => string | undefined): this {
    const own = (this.counts[service] ??= {});
    const onRequest = (req: IncomingMessage) => {
      const op = classify(req);
      if (op !== undefined) own[op] = (own[op] ?? 0) + 1;
    };
    server.prependListener('request', onRequest);
    this.detach.push(() => server.off('request', onRequest));
    return this;
  }

  /** Adds `n` calls of `operation` to `service` (calls made in-process, with no HTTP request). */
  add(service: string, operation: string, n = 1): void {
    if (n === 0) return;
    const own = (this.counts[service] ??= {});
    own[operation] = (own[operation] ?? 0) + n;
  }

  /** The counts so far: service → operation → count, both sorted by name. */
  snapshot(): Record<string, RequestCounts> {
    const sorted = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
    return Object.fromEntries(Object.entries(this.counts).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sorted(v)]));
  }

  /** Stops counting. */
  close(): void {
    for (const d of this.detach.splice(0)) d();
  }
}

/** The access key id a SigV4-signed request was signed with (Authorization header or presigned query). */
export { requestAccessKeyId as accessKeyOf } from './iam/credentials';

/**
 * The S3 API operation of a request, as S3 names it in its request metrics and bills it
 * (`ListObjectsV2`, `GetObject`, `PutObject`, …): the local S3's own router (local/s3/routing.ts).
 */
export { s3Operation } from './s3/routing';

/**
 * The operation of a JSON-protocol request (`X-Amz-Target: <Service>.<Operation>`, as Athena and
 * SNS's JSON protocol send it); `query` otherwise (the operation is then in the form body, which is
 * left unread for the service).
 */
export function targetOperation(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  const t = Array.isArray(target) ? target[0] : target;
  if (t) return t.slice(t.lastIndexOf('.') + 1);
  const action = new URL(req.url ?? '/', 'http://local').searchParams.get('Action');
  return action ?? 'query';
}

/** Stops accepting connections, closes idle and open ones, and resolves once the server is closed. */
export function closeServer(server: Server): Promise<void> {
  for (const [k, v] of listening) if (v === server) listening.delete(k);
  return new Promise((resolve, reject) => {
    if (!server.listening) { resolve(); return; }
    server.close((e) => (e ? reject(e) : resolve()));
    server.closeIdleConnections();
    setImmediate(() => server.closeAllConnections());
  });
}

/** `http://host:port`, with IPv6 literals bracketed. */
export function endpointUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * One S3 request as the operations see it (its route and caller) and the HTTP details they share:
 * header access, conditional-request helpers (ETags, HTTP dates, byte ranges), the metadata and
 * response headers of an object, and sending a response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { S3Caller } from './authz';
import { checksumHeaderName } from './checksums';
import { S3Error } from './errors';
import type { NewObjectMeta, ObjectChecksum, ObjectEncryption } from './store-types';
import { XML_DECL } from './xml';
import { send } from '../http';

/** A request being served. */
export interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly op: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly query: URLSearchParams;
  /** The authenticated caller (only when IAM is enforced). */
  caller?: S3Caller;
}

/** A request to a bucket, or to an object of a bucket. */
export type BucketCtx = Ctx & { readonly bucket: string };
export type ObjectCtx = Ctx & { readonly bucket: string; readonly key: string };

/** Largest object S3 accepts in one PUT. */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 3;
/** Representation headers stored with an object and returned with it. */
const STORED_HEADERS = ['content-encoding', 'content-disposition', 'cache-control', 'content-language', 'expires'];

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Whether an If-Match / If-None-Match header value names this ETag (or is `*`). */
export function etagListMatches(value: string, etag: string): boolean {
  return value.split(',').map((v) => v.trim().replace(/^W\//, '').replace(/"/g, '')).some((v) => v === '*' || v === etag);
}

export function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}

export function parseHttpDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** Whole seconds, as HTTP dates carry them. */
export function seconds(iso: string): number {
  return Math.floor(new Date(iso).getTime() / 1000) * 1000;
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

/** Metadata a write request carries (content-type, representation headers, x-amz-meta-*). */
export function requestMeta(req: IncomingMessage): Omit<NewObjectMeta, 'etag' | 'checksum'> {
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

/** Response headers naming an object's server-side encryption. */
export function sseHeaders(sse: ObjectEncryption | undefined): Record<string, string> {
  if (!sse) return {};
  const out: Record<string, string> = { 'x-amz-server-side-encryption': sse.algorithm };
  if (sse.kmsKeyArn) out['x-amz-server-side-encryption-aws-kms-key-id'] = sse.kmsKeyArn;
  if (sse.bucketKeyEnabled) out['x-amz-server-side-encryption-bucket-key-enabled'] = 'true';
  return out;
}

/** Response headers of a stored checksum. */
export function checksumHeaders(c: ObjectChecksum | undefined): Record<string, string> {
  return c ? { [checksumHeaderName(c.algorithm)]: c.value, 'x-amz-checksum-type': c.type } : {};
}

/** Sends a 200 (or `status`) response with an XML document. */
export function sendXml(ctx: Ctx, body: string, headers: Record<string, string | number> = {}, status = 200): void {
  send(ctx.res, status, `${XML_DECL}${body}`, { 'Content-Type': 'application/xml', ...headers });
}

export function sendEmpty(ctx: Ctx, status: number, headers: Record<string, string | number> = {}): void {
  send(ctx.res, status, '', headers);
}

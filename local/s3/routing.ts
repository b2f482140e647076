/**
 * S3 REST API routing: which bucket, key and operation a request names. The one router of the local
 * S3: the endpoint dispatches on it, fault injection and IAM denials name operations with it, and
 * the request counter of local/http counts with it (as S3 names operations in its request metrics).
 * Path style (`/<bucket>/<key>`) and virtual-hosted style (`<bucket>.localhost`) are both routed.
 */
import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors';

/** What a request addresses. */
export interface Route {
  readonly bucket?: string;
  readonly key?: string;
  readonly query: URLSearchParams;
  /** `GetObject`, `ListObjectsV2`, …; `Unsupported` for what the S3 API has no operation for here. */
  readonly op: string;
}

/** Bucket subresources (`?acl`, `?policy`, …) and the name of their Get/Put/Delete operations. */
const BUCKET_SUBRESOURCES: Record<string, string> = {
  acl: 'BucketAcl',
  policy: 'BucketPolicy',
  versioning: 'BucketVersioning',
  tagging: 'BucketTagging',
  lifecycle: 'BucketLifecycleConfiguration',
  cors: 'BucketCors',
  encryption: 'BucketEncryption',
  website: 'BucketWebsite',
  logging: 'BucketLogging',
  replication: 'BucketReplication',
  ownershipControls: 'BucketOwnershipControls',
  publicAccessBlock: 'PublicAccessBlock',
};

/** Object subresources the local S3 does not implement, and their operations by method. */
const OBJECT_SUBRESOURCES: Record<string, Partial<Record<string, string>>> = {
  'acl': { GET: 'GetObjectAcl', PUT: 'PutObjectAcl' },
  'tagging': { GET: 'GetObjectTagging', PUT: 'PutObjectTagging', DELETE: 'DeleteObjectTagging' },
  'retention': { GET: 'GetObjectRetention', PUT: 'PutObjectRetention' },
  'legal-hold': { GET: 'GetObjectLegalHold', PUT: 'PutObjectLegalHold' },
  'attributes': { GET: 'GetObjectAttributes' },
  'torrent': { GET: 'GetObjectTorrent' },
  'restore': { POST: 'RestoreObject' },
  'select': { POST: 'SelectObjectContent' },
};

const VERBS: Record<string, string> = { GET: 'Get', PUT: 'Put', DELETE: 'Delete' };

/** The operation of a request to a bucket (`key` undefined) or an object. */
export function operationOf(method: string, bucket: string | undefined, key: string | undefined, q: URLSearchParams, copySource: boolean): string {
  if (!bucket) return method === 'GET' ? 'ListBuckets' : 'Unsupported';
  if (key === undefined) return bucketOperation(method, q);
  for (const sub of Object.keys(OBJECT_SUBRESOURCES)) {
    if (q.has(sub)) return OBJECT_SUBRESOURCES[sub][method] ?? 'Unsupported';
  }
  switch (method) {
    case 'PUT':
      if (q.has('uploadId')) return copySource ? 'UploadPartCopy' : 'UploadPart';
      return copySource ? 'CopyObject' : 'PutObject';
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

function bucketOperation(method: string, q: URLSearchParams): string {
  const verb = VERBS[method];
  if (method === 'GET') {
    if (q.has('notification')) return 'GetBucketNotificationConfiguration';
    if (q.has('location')) return 'GetBucketLocation';
    if (q.has('uploads')) return 'ListMultipartUploads';
    if (q.has('versions')) return 'ListObjectVersions';
    if (q.get('list-type') === '2') return 'ListObjectsV2';
  }
  if (method === 'PUT' && q.has('notification')) return 'PutBucketNotificationConfiguration';
  if (verb !== undefined) {
    for (const sub of Object.keys(BUCKET_SUBRESOURCES)) {
      if (q.has(sub)) return `${verb}${BUCKET_SUBRESOURCES[sub]}`;
    }
  }
  switch (method) {
    case 'GET': return 'ListObjects';
    case 'PUT': return q.size === 0 ? 'CreateBucket' : 'Unsupported';
    case 'HEAD': return 'HeadBucket';
    case 'DELETE': return q.size === 0 ? 'DeleteBucket' : 'Unsupported';
    case 'POST': return q.has('delete') ? 'DeleteObjects' : 'Unsupported';
    default: return 'Unsupported';
  }
}

const invalidUri = () => new S3Error('InvalidURI', 400, 'Could not parse the specified URI.');

/** Routes of requests already routed (the request counter routes a request before the endpoint does). */
const routed = new WeakMap<IncomingMessage, Route>();

/** The bucket, key, query and operation of a request; throws 400 InvalidURI for a path that cannot be decoded. */
export function routeOf(req: IncomingMessage): Route {
  const known = routed.get(req);
  if (known) return known;
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const rawPath = qi === -1 ? url : url.slice(0, qi);
  const query = new URLSearchParams(qi === -1 ? '' : url.slice(qi + 1));
  if (!rawPath.startsWith('/')) throw invalidUri();
  let bucket: string | undefined;
  let key: string | undefined;
  // virtual-hosted style for `<bucket>.localhost` endpoints; path style otherwise
  const host = req.headers?.host;
  const vhost = host === undefined ? null : /^([a-z0-9][a-z0-9.-]*)\.localhost(?::\d+)?$/i.exec(host);
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
    throw invalidUri();
  }
  const copySource = req.headers?.['x-amz-copy-source'] !== undefined;
  const route: Route = { bucket, key, query, op: operationOf((req.method ?? 'GET').toUpperCase(), bucket, key, query, copySource) };
  routed.set(req, route);
  return route;
}

/**
 * The S3 API operation of a request, as S3 names it in its request metrics and bills it:
 * `ListObjectsV2`, `GetObject`, `PutObject`, `CopyObject`, `HeadObject`, …; `Unsupported` for a
 * request that names none (or whose path cannot be decoded).
 */
export function s3Operation(req: IncomingMessage): string {
  try {
    return routeOf(req).op;
  } catch {
    return 'Unsupported';
  }
}

/**
 * The embedded local S3 (docs/local-s3.md). Protocol layer: server.ts (HTTP server, errors),
 * routing.ts (request → operation), xml.ts, request.ts, faults.ts, sigv4.ts, chunked.ts,
 * authz.ts + permissions.ts (IAM). Engine: engine.ts and the operations (buckets.ts, objects.ts,
 * copy.ts, listing.ts, multipart.ts, body.ts, conditions.ts) over the store (store*.ts).
 */
export { LocalS3, type LocalS3Options } from './server';
export type { S3FaultOptions } from './faults';
export type { AccessDeniedNotice, ObjectCreatedNotice, ObjectDeletedNotice } from './notices';
export { parseRange } from './request';
export { s3Operation } from './routing';
export { S3Error } from './errors';
export { bucketSecurityOf, S3Authorizer } from './authz';
export type { BucketSecurity, ObjectEncryption, S3Caller, S3IamOptions } from './authz';
export { compareKeys } from './store';
export type { ObjectMeta } from './store';

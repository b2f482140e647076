/** The operations the local S3 implements, by the name the router gives them (routing.ts). */
import {
  createBucket, deleteBucket, getBucketLocation, getBucketNotification, getBucketVersioning, headBucket, listBuckets, putBucketNotification,
  putBucketVersioning,
} from './buckets';
import { copyObject } from './copy';
import type { S3Engine } from './engine';
import { listObjects } from './listing';
import { listObjectVersions } from './listing-versions';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, listParts, uploadPart } from './multipart';
import { deleteObject, deleteObjects, getObject, putObject } from './objects';
import type { BucketCtx, Ctx, ObjectCtx } from './request';

type Handler = (e: S3Engine, ctx: Ctx) => Promise<void>;
/** A bucket operation (the router only names it for a request with a bucket). */
const onBucket = (fn: (e: S3Engine, ctx: BucketCtx) => Promise<void>): Handler => (e, ctx) => fn(e, ctx as BucketCtx);
/** An object operation (the router only names it for a request with a bucket and a key). */
const onObject = (fn: (e: S3Engine, ctx: ObjectCtx) => Promise<void>): Handler => (e, ctx) => fn(e, ctx as ObjectCtx);

export const OPERATIONS: Readonly<Record<string, Handler>> = {
  ListBuckets: listBuckets,
  CreateBucket: onBucket(createBucket),
  HeadBucket: onBucket(headBucket),
  DeleteBucket: onBucket(deleteBucket),
  GetBucketLocation: onBucket(getBucketLocation),
  PutBucketNotificationConfiguration: onBucket(putBucketNotification),
  GetBucketNotificationConfiguration: onBucket(getBucketNotification),
  PutBucketVersioning: onBucket(putBucketVersioning),
  GetBucketVersioning: onBucket(getBucketVersioning),
  ListObjectsV2: onBucket((e, ctx) => listObjects(e, ctx, 2)),
  ListObjects: onBucket((e, ctx) => listObjects(e, ctx, 1)),
  ListObjectVersions: onBucket(listObjectVersions),
  DeleteObjects: onBucket(deleteObjects),
  PutObject: onObject(putObject),
  GetObject: onObject((e, ctx) => getObject(e, ctx, false)),
  HeadObject: onObject((e, ctx) => getObject(e, ctx, true)),
  CopyObject: onObject(copyObject),
  DeleteObject: onObject(deleteObject),
  CreateMultipartUpload: onObject(createMultipartUpload),
  UploadPart: onObject(uploadPart),
  CompleteMultipartUpload: onObject(completeMultipartUpload),
  AbortMultipartUpload: onObject(abortMultipartUpload),
  ListParts: onObject(listParts),
};

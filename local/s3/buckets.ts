/**
 * Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation and the
 * bucket's notification configuration (EventBridge only).
 */
import type { S3Engine } from './engine';
import { notImplemented } from './errors';
import { sendEmpty, sendXml, type BucketCtx, type Ctx } from './request';
import { asRecord, listBucketsXml, locationXml, MAX_XML_BODY, notificationXml, parseXmlBody } from './xml';
import { readBody } from '../http';

export async function listBuckets(e: S3Engine, ctx: Ctx): Promise<void> {
  sendXml(ctx, listBucketsXml(await e.store.listBuckets()));
}

export async function createBucket(e: S3Engine, ctx: BucketCtx): Promise<void> {
  const bucket = ctx.bucket;
  e.store.validateBucketName(bucket);
  const body = await readBody(ctx.req, MAX_XML_BODY);
  if (body.length > 0) parseXmlBody(body);
  await e.store.createBucket(bucket);
  sendEmpty(ctx, 200, { Location: `/${bucket}` });
}

export async function headBucket(e: S3Engine, ctx: BucketCtx): Promise<void> {
  await e.store.requireBucket(ctx.bucket);
  sendEmpty(ctx, 200, { 'x-amz-bucket-region': 'us-east-1' });
}

export async function deleteBucket(e: S3Engine, ctx: BucketCtx): Promise<void> {
  await e.store.deleteBucket(ctx.bucket);
  e.notices.forget(ctx.bucket);
  sendEmpty(ctx, 204);
}

export async function getBucketLocation(e: S3Engine, ctx: BucketCtx): Promise<void> {
  await e.store.requireBucket(ctx.bucket);
  sendXml(ctx, locationXml());
}

/** Only `EventBridgeConfiguration` (turns the EventBridge notices on); Topic/Queue/Lambda configurations are 501. */
export async function putBucketNotification(e: S3Engine, ctx: BucketCtx): Promise<void> {
  const bucket = ctx.bucket;
  const body = await readBody(ctx.req, MAX_XML_BODY);
  await e.store.requireBucket(bucket);
  const cfg = asRecord(parseXmlBody(body).NotificationConfiguration);
  for (const other of ['TopicConfiguration', 'QueueConfiguration', 'CloudFunctionConfiguration']) {
    if (Array.isArray(cfg[other]) && (cfg[other] as unknown[]).length > 0) {
      throw notImplemented(`${other} (the local S3 endpoint delivers notifications through EventBridge only)`);
    }
  }
  await e.notices.setEventBridge(bucket, 'EventBridgeConfiguration' in cfg);
  sendEmpty(ctx, 200);
}

export async function getBucketNotification(e: S3Engine, ctx: BucketCtx): Promise<void> {
  await e.store.requireBucket(ctx.bucket);
  sendXml(ctx, notificationXml(await e.notices.eventBridgeEnabled(ctx.bucket)));
}

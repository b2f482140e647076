/**
 * Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, the
 * bucket's notification configuration (EventBridge only) and its versioning status.
 */
import type { S3Engine } from './engine';
import { notImplemented } from './errors';
import { sendEmpty, sendXml, type BucketCtx, type Ctx } from './request';
import { asRecord, listBucketsXml, locationXml, malformedXml, MAX_XML_BODY, notificationXml, parseXmlBody, text, versioningXml } from './xml';
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

/**
 * PutBucketVersioning: Status Enabled or Suspended (a bucket never returns to unversioned); MFA Delete
 * is not emulated (501).
 */
export async function putBucketVersioning(e: S3Engine, ctx: BucketCtx): Promise<void> {
  const body = await readBody(ctx.req, MAX_XML_BODY);
  await e.store.requireBucket(ctx.bucket);
  const cfg = asRecord(parseXmlBody(body).VersioningConfiguration);
  const status = text(cfg.Status)?.trim();
  if (text(cfg.MfaDelete)?.trim() === 'Enabled') throw notImplemented('MFA Delete');
  if (status !== undefined && status !== 'Enabled' && status !== 'Suspended') throw malformedXml();
  if (status !== undefined) await e.store.updateBucketConfig(ctx.bucket, { versioning: status });
  sendEmpty(ctx, 200);
}

export async function getBucketVersioning(e: S3Engine, ctx: BucketCtx): Promise<void> {
  await e.store.requireBucket(ctx.bucket);
  sendXml(ctx, versioningXml(await e.store.versioningOf(ctx.bucket)));
}

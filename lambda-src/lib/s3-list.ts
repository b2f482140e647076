import { ListObjectsV2Command, S3Client, _Object } from '@aws-sdk/client-s3';
import { classifyAwsError } from './errors';

/**
 * Every object below `prefix`, in S3's key order, page by page (ListObjectsV2 with continuation tokens).
 * Throttling and 5xx become TransientError; every other error is rethrown unchanged.
 */
export async function* listObjects(s3: S3Client, bucket: string, prefix: string): AsyncGenerator<_Object & { Key: string }> {
  let token: string | undefined;
  do {
    let page;
    try {
      page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    } catch (err) {
      classifyAwsError(err, `ListObjectsV2 s3://${bucket}/${prefix}`);
    }
    for (const o of page.Contents ?? []) if (o.Key) yield o as _Object & { Key: string };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

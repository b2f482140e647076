/**
 * The embedded S3 (local/s3) for runtime tests that need real S3 semantics (conditional writes,
 * strong consistency, ETags, LastModified): one server and bucket per test file, started in
 * `beforeAll` and closed in `afterAll`, with SDK clients configured as the runtime's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { LocalS3 } from '../../local/s3';

export interface LocalS3Fixture {
  /** The running server (after `beforeAll`). */
  readonly server: () => LocalS3;
  /** A new client of the server; every client is destroyed in `afterAll`. */
  readonly newClient: () => S3Client;
  /** Deletes every object of the bucket (a fresh key space, e.g. in `beforeEach`). */
  readonly emptyBucket: () => Promise<void>;
}

/** Registers the hooks that start the embedded S3 with `bucket` for the calling test file. */
export function useLocalS3(bucket: string, name: string): LocalS3Fixture {
  let root: string;
  let s3: LocalS3 | undefined;
  const clients: S3Client[] = [];
  const newClient = (): S3Client => {
    const c = new S3Client({
      endpoint: s3!.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), `${name}-`));
    s3 = await LocalS3.start({ rootDir: root });
    await s3.createBucket(bucket);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await s3?.close();
    rmSync(root, { recursive: true, force: true });
  });
  return {
    server: () => s3!,
    newClient,
    emptyBucket: async () => {
      const c = newClient();
      const all = ((await c.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (all.length > 0) await c.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: all } }));
    },
  };
}

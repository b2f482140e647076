/**
 * Output sinks: S3 (multipart via @aws-sdk/lib-storage `Upload`, fed by a stream) or local files
 * (written to a temporary name, renamed on success). Writers buffer small lines into ~64 KiB
 * writes and honour backpressure, so memory stays bounded whatever the object size.
 */
import { createWriteStream, mkdirSync, promises as fsp, WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SourceVersion, SupersededError, compareSources, readOutputSource, sourceMetadata } from './source-version';
import { classifyAwsError, TransientError } from '../lib/errors';
import { isConditionalConflict, isNotFound } from '../lib/watermark';

const FLUSH_BYTES = 64 * 1024;
const NEWLINE = Buffer.from('\n');

/** One output object being written. */
export interface OutputWriter {
  readonly key: string;
  /** Appends bytes; resolves at once unless the destination needs draining (backpressure). */
  write(data: Buffer | string): Promise<void> | undefined;
  /** Appends the bytes and a newline (one copy into the write buffer); same contract as write(). */
  writeLine(data: Buffer): Promise<void> | undefined;
  /** Finishes the object (it becomes visible only now). */
  end(): Promise<void>;
  /** Discards the object (best effort); nothing partial becomes visible. */
  abort(): Promise<void>;
}

export interface Sink {
  /** Where outputs go, for messages (`s3://bucket` or a folder). */
  readonly location: string;
  open(key: string, contentType?: string): OutputWriter;
}

/**
 * Copies writes into one preallocated FLUSH_BYTES buffer and hands it to a Writable when full,
 * awaiting 'drain' (or a failure) when the Writable reports backpressure. One copy per byte; a
 * write larger than the buffer goes straight through.
 */
abstract class StreamWriter implements OutputWriter {
  private buf = Buffer.allocUnsafe(FLUSH_BYTES);
  private used = 0;
  protected failure: Error | undefined;
  private failed: Promise<never>;
  private rejectFailed!: (e: Error) => void;

  constructor(readonly key: string, protected readonly stream: Writable) {
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => undefined);
    stream.on('error', (e) => this.fail(e));
  }

  protected fail(e: Error): void {
    if (!this.failure) {
      this.failure = e;
      this.rejectFailed(e);
    }
  }

  write(data: Buffer | string): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    if (this.used + b.length <= FLUSH_BYTES) {
      this.buf.set(b, this.used);
      this.used += b.length;
      return this.used === FLUSH_BYTES ? this.flush() : undefined;
    }
    const first = this.flush();
    if (b.length >= FLUSH_BYTES) return this.after(first, () => this.send(Buffer.from(b)));
    this.buf.set(b, 0);
    this.used = b.length;
    return first;
  }

  writeLine(data: Buffer): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    if (this.used + data.length + 1 > FLUSH_BYTES) {
      const first = this.write(data);
      return this.after(first, () => this.write(NEWLINE));
    }
    this.buf.set(data, this.used);
    this.used += data.length;
    this.buf[this.used++] = 0x0a;
    return this.used === FLUSH_BYTES ? this.flush() : undefined;
  }

  private after(first: Promise<void> | undefined, next: () => Promise<void> | undefined): Promise<void> | undefined {
    return first ? first.then(next) : next();
  }

  private flush(): Promise<void> | undefined {
    if (this.used === 0) return undefined;
    const chunk = this.buf.subarray(0, this.used);
    // The Writable keeps the chunk until it is written: start a new buffer rather than reuse it.
    this.buf = Buffer.allocUnsafe(FLUSH_BYTES);
    this.used = 0;
    return this.send(chunk);
  }

  private send(chunk: Buffer): Promise<void> | undefined {
    if (this.stream.write(chunk)) return undefined;
    return Promise.race([new Promise<void>((resolve) => this.stream.once('drain', resolve)), this.failed]);
  }

  async end(): Promise<void> {
    if (this.failure) throw this.failure;
    await this.flush();
    await Promise.race([new Promise<void>((resolve) => this.stream.end(resolve)), this.failed]);
    await this.complete();
  }

  protected abstract complete(): Promise<void>;
  abstract abort(): Promise<void>;
}

class S3Writer extends StreamWriter {
  private upload: Upload | undefined;
  private readonly done: Promise<unknown>;
  private aborted = false;

  constructor(
    private readonly client: S3Client, private readonly bucket: string, key: string, contentType: string,
    private readonly source?: SourceVersion,
  ) {
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    super(key, body);
    // 8 MiB parts, 2 in flight: bounded memory per writer; small objects become one PutObject.
    const start = (condition: { IfMatch?: string; IfNoneMatch?: string }): Promise<unknown> => {
      if (this.aborted) throw new Error('aborted');
      this.upload = new Upload({
        client,
        params: {
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ...(source ? { Metadata: sourceMetadata(source), ...condition } : {}),
        },
        partSize: 8 * 1024 * 1024,
        queueSize: 2,
        leavePartsOnError: false,
      });
      return this.upload.done();
    };
    if (!source) {
      this.done = start({});
    } else {
      // Compare-and-swap on the source version: read the output's current source, refuse when it
      // is newer, else write only if the output is still the one read (If-Match / If-None-Match,
      // applied to the PutObject or the CompleteMultipartUpload).
      this.done = readOutputSource(client, bucket, key).then((cur) => {
        if (cur.exists && cur.source && compareSources(cur.source, source) > 0) {
          throw new SupersededError(`s3://${bucket}/${key} already holds the outputs of a newer version of the source`);
        }
        return start(cur.exists && cur.etag ? { IfMatch: cur.etag } : { IfNoneMatch: '*' });
      });
    }
    this.done.catch((e: Error) => this.fail(e));
  }

  protected async complete(): Promise<void> {
    try {
      await this.done;
    } catch (err) {
      if ((err as Error).name === 'SupersededError') throw err;
      if (this.source && (isConditionalConflict(err) || isNotFound(err))) {
        // Another run wrote this output since we read it: newer source → we are superseded; an
        // older (or the same) one → our bytes are gone with the stream, the retry writes them again.
        const cur = await readOutputSource(this.client, this.bucket, this.key);
        if (cur.exists && cur.source && compareSources(cur.source, this.source) > 0) {
          throw new SupersededError(`s3://${this.bucket}/${this.key} was written meanwhile from a newer version of the source`);
        }
        throw new TransientError(`writing s3 object ${this.key}: another run of an older or the same version of the source wrote it meanwhile; retry`, { cause: err });
      }
      classifyAwsError(err, `writing s3 object ${this.key}`);
    }
  }

  async abort(): Promise<void> {
    this.aborted = true;
    this.fail(new Error('aborted'));
    await this.upload?.abort().catch(() => undefined);
    this.stream.destroy();
  }
}

export interface S3SinkOptions {
  /**
   * The source version the outputs are computed from: each output then carries it in metadata and
   * is written only when it does not already hold the output of a newer version (SupersededError).
   */
  readonly source?: SourceVersion;
}

export class S3Sink implements Sink {
  readonly location: string;
  constructor(private readonly client: S3Client, private readonly bucket: string, private readonly options: S3SinkOptions = {}) {
    this.location = `s3://${bucket}`;
  }
  open(key: string, contentType = 'application/x-ndjson'): OutputWriter {
    return new S3Writer(this.client, this.bucket, key, contentType, this.options.source);
  }
}

let tmpCounter = 0;

function openFileStream(tmp: string): WriteStream {
  return createWriteStream(tmp, { flags: 'w', highWaterMark: 1024 * 1024 });
}

class FileWriter extends StreamWriter {
  constructor(key: string, private readonly path: string, private readonly tmp: string) {
    super(key, openFileStream(tmp));
  }

  protected async complete(): Promise<void> {
    await fsp.rename(this.tmp, this.path);
  }

  async abort(): Promise<void> {
    this.fail(new Error('aborted'));
    this.stream.destroy();
    await fsp.rm(this.tmp, { force: true }).catch(() => undefined);
  }
}

/** Local folder sink: key `a/b/c.jsonl` → `<root>/a/b/c.jsonl`. */
export class FileSink implements Sink {
  constructor(readonly location: string) {}

  /** Creates the parent folder synchronously so that open() stays synchronous like the S3 sink. */
  open(key: string): OutputWriter {
    const path = join(this.location, ...key.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
    return new FileWriter(key, path, tmp);
  }
}

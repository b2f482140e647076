/**
 * Decoder for S3's `aws-chunked` content encoding (SigV4 streaming uploads):
 *
 *   <hex-size>[;chunk-signature=<sig>]\r\n<bytes>\r\n ... 0[;chunk-signature=<sig>]\r\n
 *   [<trailer-name>:<value>\r\n ...]\r\n
 *
 * Only the payload bytes are passed on; trailing headers (e.g. `x-amz-checksum-crc32`) are collected
 * in `trailers`. Chunk and trailer signatures are accepted without verification.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Malformed aws-chunked framing. */
export class ChunkedEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChunkedEncodingError';
  }
}

const MAX_LINE = 8 * 1024;
const MAX_CHUNK = 2 ** 40;

type State = 'size' | 'data' | 'data-crlf' | 'trailer' | 'done';

export class AwsChunkedDecoder extends Transform {
  /** Trailing headers, lower-case names. Complete once the stream has ended. */
  readonly trailers: Record<string, string> = {};
  /** Payload bytes emitted. */
  decodedLength = 0;
  private state: State = 'size';
  private line: Buffer[] = [];
  private lineLength = 0;
  private remaining = 0;
  private crlfSeen = 0;

  _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  _flush(callback: TransformCallback): void {
    if (this.state === 'trailer' && this.lineLength > 0) {
      // tolerate a missing CRLF after the last trailer line
      try { this.onTrailerLine(this.takeLine()); } catch (e) { callback(e as Error); return; }
      this.state = 'done';
    }
    if (this.state !== 'done' && this.state !== 'trailer') {
      callback(new ChunkedEncodingError('aws-chunked body ended before its final chunk'));
      return;
    }
    callback();
  }

  private consume(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'size':
        case 'trailer': {
          const nl = buf.indexOf(0x0a, i);
          const end = nl === -1 ? buf.length : nl + 1;
          this.appendLine(buf.subarray(i, end));
          i = end;
          if (nl === -1) break;
          const line = this.takeLine();
          if (this.state === 'size') this.onSizeLine(line);
          else if (line.length === 0) this.state = 'done';
          else this.onTrailerLine(line);
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, buf.length - i);
          this.push(buf.subarray(i, i + n));
          this.decodedLength += n;
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) { this.state = 'data-crlf'; this.crlfSeen = 0; }
          break;
        }
        case 'data-crlf': {
          const expected = this.crlfSeen === 0 ? 0x0d : 0x0a;
          if (buf[i] !== expected) throw new ChunkedEncodingError('aws-chunked chunk not followed by CRLF');
          i++;
          if (++this.crlfSeen === 2) this.state = 'size';
          break;
        }
        case 'done':
          // bytes after the terminating empty line: ignore only whitespace
          if (buf.subarray(i).toString('latin1').trim().length > 0) {
            throw new ChunkedEncodingError('data after the end of the aws-chunked body');
          }
          i = buf.length;
          break;
      }
    }
  }

  private appendLine(part: Buffer): void {
    this.lineLength += part.length;
    if (this.lineLength > MAX_LINE) throw new ChunkedEncodingError('aws-chunked header line too long');
    this.line.push(part);
  }

  /** The buffered line without its CRLF. */
  private takeLine(): string {
    let s = Buffer.concat(this.line).toString('latin1');
    this.line = [];
    this.lineLength = 0;
    if (s.endsWith('\n')) s = s.slice(0, -1);
    if (s.endsWith('\r')) s = s.slice(0, -1);
    return s;
  }

  private onSizeLine(line: string): void {
    const sizeText = line.split(';', 1)[0].trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new ChunkedEncodingError(`bad aws-chunked size line '${line.slice(0, 80)}'`);
    const size = parseInt(sizeText, 16);
    if (!Number.isSafeInteger(size) || size > MAX_CHUNK) throw new ChunkedEncodingError('aws-chunked chunk too large');
    if (size === 0) { this.state = 'trailer'; return; }
    this.remaining = size;
    this.state = 'data';
  }

  private onTrailerLine(line: string): void {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ChunkedEncodingError(`bad aws-chunked trailer '${line.slice(0, 80)}'`);
    this.trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
}

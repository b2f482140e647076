/**
 * Splits a byte stream into lines on 0x0A (a trailing 0x0D is stripped), never holding more than one
 * line (capped) in memory. A line longer than the cap is reported as `tooLong` with only its first
 * `RAW_PREVIEW_BYTES` bytes kept; the rest is skipped without being buffered.
 */

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
/** Bytes of an over-long line kept for the quarantine record. */
export const RAW_PREVIEW_BYTES = 1024;

export interface Line {
  /** 1-based line number in the (decompressed) object. */
  readonly lineNo: number;
  /** The line's bytes without the newline and without a trailing CR (a preview when tooLong). */
  readonly bytes: Buffer;
  /** The line exceeded the cap; `bytes` holds only its first RAW_PREVIEW_BYTES bytes. */
  readonly tooLong: boolean;
  /** The full length of the line in bytes (including what was skipped when tooLong). */
  readonly length: number;
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export class LineSplitter {
  private parts: Buffer[] = [];
  private partsLen = 0;
  private skipping = false;
  private skippedLen = 0;
  private lineNo = 0;

  constructor(private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError('maxLineBytes must be a positive integer');
  }

  /** Feeds one chunk; yields the lines it completes (synchronously, no copies for lines inside a chunk). */
  *push(chunk: Buffer): Generator<Line> {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl === -1) {
        this.accumulate(chunk.subarray(pos));
        return;
      }
      const piece = chunk.subarray(pos, nl);
      pos = nl + 1;
      if (this.partsLen === 0 && !this.skipping) {
        yield this.emit(piece, piece.length);
      } else {
        this.accumulate(piece);
        yield this.flushPending();
      }
    }
  }

  /** Ends the stream: yields the last line when the data does not end with a newline. */
  *end(): Generator<Line> {
    if (this.partsLen > 0 || this.skipping) yield this.flushPending();
  }

  private accumulate(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.skipping) {
      this.skippedLen += piece.length;
      return;
    }
    if (this.partsLen + piece.length > this.maxLineBytes) {
      // Keep a preview only, then count and drop the rest of this line.
      const have = Buffer.concat(this.parts, this.partsLen);
      const preview = Buffer.concat([have, piece]).subarray(0, RAW_PREVIEW_BYTES);
      this.skippedLen = this.partsLen + piece.length;
      this.parts = [Buffer.from(preview)];
      this.partsLen = preview.length;
      this.skipping = true;
      return;
    }
    // Copy: the chunk's memory may be reused by the stream.
    this.parts.push(Buffer.from(piece));
    this.partsLen += piece.length;
  }

  private flushPending(): Line {
    const bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.partsLen);
    const tooLong = this.skipping;
    const length = tooLong ? this.skippedLen : this.partsLen;
    this.parts = [];
    this.partsLen = 0;
    this.skipping = false;
    this.skippedLen = 0;
    if (tooLong) {
      this.lineNo++;
      return { lineNo: this.lineNo, bytes, tooLong: true, length };
    }
    return this.emit(bytes, length);
  }

  private emit(bytes: Buffer, length: number): Line {
    this.lineNo++;
    let b = bytes;
    if (b.length > 0 && b[b.length - 1] === 0x0d) b = b.subarray(0, b.length - 1);
    if (this.lineNo === 1 && b.length >= 3 && b.subarray(0, 3).equals(UTF8_BOM)) b = b.subarray(3);
    if (b.length > this.maxLineBytes) return { lineNo: this.lineNo, bytes: b.subarray(0, RAW_PREVIEW_BYTES), tooLong: true, length };
    return { lineNo: this.lineNo, bytes: b, tooLong: false, length };
  }
}

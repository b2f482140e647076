/**
 * The object metadata of one bucket: an append-only log, `<metaDir>/<bucket>/objects.log`, and its
 * records in memory. Writing an object's metadata appends one record to a file that is already
 * open, instead of creating (and renaming) a file per object: on a busy disk a file creation costs
 * hundreds of microseconds of kernel time, an append a few.
 *
 * - **Records.** Each record is a newline followed by one JSON object: the object's metadata
 *   (an ObjectMeta, which names its `key`), or `{"key":…,"deleted":true}` when the object was
 *   removed. The last record of a key wins. JSON text never holds a raw newline, and a proper prefix
 *   of a JSON object is never valid JSON, so a record torn by a crash is recognised and skipped, and
 *   the next record (which starts with its own newline) is read normally.
 * - **In memory.** The records of the log are kept as their JSON text (parsed on each read, so no
 *   caller can change a cached record). Reading is a lookup; the file is read again only when the
 *   caller asks ({@link ObjectMetaLog.refresh}: S3Store does when an object's data file does not
 *   match the metadata it knows, which is how a write by another store over the same folder shows).
 *   A log replaced on disk (another inode) is read again from its start.
 * - **Compaction.** When a store opens a bucket's log holding more than twice as many records as
 *   live objects (and over {@link COMPACT_MIN_RECORDS}), it writes the live records to a new file
 *   and renames it into place. A store that appends to the old file at that moment loses those
 *   records, and their objects' metadata is rebuilt from the bytes on the next read, as for a file
 *   written from outside. The local run owns its work folder, so nothing else writes it then.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempName } from './store-files';
import type { ObjectMeta } from './store-types';

/** A log is compacted when it is opened with more records than this and more than twice as many as live objects. */
export const COMPACT_MIN_RECORDS = 10_000;
/** Bytes read from the log at a time. */
const READ_CHUNK = 4 * 1024 * 1024;
const NEWLINE = 0x0a;

export class ObjectMetaLog {
  /** key → the JSON text of its current metadata record */
  private readonly records = new Map<string, string>();
  /** The log file read (its inode; -1: none yet) and how far: a record boundary. */
  private ino = -1;
  private offset = 0;
  /** Records read or appended since the log was last read from its start (live and replaced ones). */
  private count = 0;
  /** The descriptor appends go through, and the inode it is open on. */
  private fd: number | undefined;
  private fdIno = -1;

  constructor(readonly path: string, private readonly tmpDir: string) {}

  /** Reads the log (when there is one) and compacts it when it is mostly replaced records. */
  open(): this {
    this.refresh();
    if (this.count > COMPACT_MIN_RECORDS && this.count > 2 * this.records.size) this.compact();
    return this;
  }

  /** The metadata recorded for `key`, a fresh object on each call; undefined when none is. */
  get(key: string): ObjectMeta | undefined {
    const text = this.records.get(key);
    return text === undefined ? undefined : JSON.parse(text) as ObjectMeta;
  }

  /** Records the metadata of `meta.key`. */
  set(meta: ObjectMeta): void {
    const text = JSON.stringify(meta);
    this.records.set(meta.key, text);
    this.append(text);
  }

  /** Records that `key` has no object any more (nothing is written when no record of it is known). */
  delete(key: string): void {
    if (!this.records.delete(key)) return;
    this.append(JSON.stringify({ key, deleted: true }));
  }

  /**
   * Reads the records appended since the last read, by this store or another one; the whole log when
   * the file was replaced or removed. Returns whether anything was read or forgotten.
   */
  refresh(): boolean {
    const st = statSync(this.path, { throwIfNoEntry: false });
    if (!st || st.ino !== this.ino || st.size < this.offset) {
      const had = this.ino !== -1 || this.records.size > 0;
      this.records.clear();
      this.count = 0;
      this.ino = st?.ino ?? -1;
      this.offset = 0;
      if (!st) return had;
    }
    if (st.size === this.offset) return false;
    this.readFrom(st.size);
    return true;
  }

  /** Closes the append descriptor (the records stay readable). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.fdIno = -1;
  }

  /** Reads [offset, end) record by record; a last record that does not parse yet is left for the next read. */
  private readFrom(end: number): void {
    const fd = openSync(this.path, 'r');
    try {
      let carry = Buffer.alloc(0);
      let pos = this.offset;
      while (pos < end) {
        const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - pos));
        const n = readSync(fd, chunk, 0, chunk.length, pos);
        if (n === 0) break;
        pos += n;
        const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
        const last = buf.lastIndexOf(NEWLINE);
        if (last === -1) {
          carry = buf;
          continue;
        }
        // every complete record of this chunk: between two newlines
        let start = buf.indexOf(NEWLINE);
        while (start < last) {
          const next = buf.indexOf(NEWLINE, start + 1);
          this.apply(buf.toString('utf8', start + 1, next));
          start = next;
        }
        this.offset = pos - (buf.length - last);
        carry = buf.subarray(last);
      }
      // the bytes after the last newline: a whole record, or one being written (or torn) that is read again later
      if (carry.length > 1 && carry[0] === NEWLINE && this.apply(carry.toString('utf8', 1))) this.offset = pos;
    } finally {
      closeSync(fd);
    }
  }

  /** Applies one record; false when it is not one (torn, or not written yet). */
  private apply(text: string): boolean {
    let rec: { key?: unknown; deleted?: unknown };
    try {
      rec = JSON.parse(text) as typeof rec;
    } catch {
      return false;
    }
    if (typeof rec?.key !== 'string') return false;
    this.count++;
    if (rec.deleted === true) this.records.delete(rec.key);
    else this.records.set(rec.key, text);
    return true;
  }

  /** Appends one record: one write on a descriptor opened for appending (reopened when the file was replaced or removed). */
  private append(text: string): void {
    const st = statSync(this.path, { throwIfNoEntry: false });
    if (this.fd === undefined || st?.ino !== this.fdIno) {
      this.close();
      mkdirSync(join(this.path, '..'), { recursive: true });
      this.fd = openSync(this.path, 'a');
      this.fdIno = fstatSync(this.fd).ino;
    }
    const data = Buffer.from(`\n${text}`, 'utf8');
    for (let done = 0; done < data.length;) done += writeSync(this.fd, data, done, data.length - done);
    this.count++;
    // Nobody else appended since the last read: the log is read up to here. Otherwise the next refresh reads the
    // records in the file's order, this one included.
    const after = fstatSync(this.fd);
    if (this.ino === -1 && this.offset === 0 && after.size === data.length) this.ino = after.ino;
    if (after.ino === this.ino && after.size === this.offset + data.length) this.offset = after.size;
  }

  /** Writes the live records to a new file and renames it over the log. */
  private compact(): void {
    const tmp = join(this.tmpDir, tempName('.log'));
    try {
      let text = '';
      for (const r of this.records.values()) text += `\n${r}`;
      writeFileSync(tmp, text);
      renameSync(tmp, this.path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    this.close();
    const st = statSync(this.path);
    this.ino = st.ino;
    this.offset = st.size;
    this.count = this.records.size;
  }
}

/**
 * The object metadata log of the local S3 store (local/s3/store-meta-log.ts; docs/local-s3.md,
 * "Storage layout"): records survive a reopen, a torn record is skipped, another store's appends are
 * read on refresh, a replaced or removed log is read again, and a mostly-replaced log is compacted.
 */
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPACT_MIN_RECORDS, ObjectMetaLog } from '../../local/s3/store-meta-log';
import type { ObjectMeta } from '../../local/s3/store-types';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'medlaunch-elt-meta-log-'));
  path = join(dir, 'bucket', 'objects.log');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const meta = (key: string, etag = 'e', extra: Partial<ObjectMeta> = {}): ObjectMeta => ({
  key, etag, size: 1, lastModified: '2025-09-01T00:00:00.000Z', contentType: 'application/json', headers: {}, userMetadata: {}, mtimeMs: 1, ...extra,
});
const open = () => new ObjectMetaLog(path, dir).open();
const records = () => readFileSync(path, 'utf8').split('\n').filter(Boolean).length;

test('records written by one log are read by a log opened later; the last record of a key wins and deletes are kept', () => {
  const a = open();
  a.set(meta('k1', 'old'));
  a.set(meta('k2', 'two', { userMetadata: { owner: 'x' } }));
  a.set(meta('k1', 'new'));
  a.set(meta('k3'));
  a.delete('k3');
  a.close();
  const b = open();
  expect([b.get('k1')?.etag, b.get('k2')?.userMetadata, b.get('k3')]).toEqual(['new', { owner: 'x' }, undefined]);
});

test('a delete of a key with no record writes nothing', () => {
  const a = open();
  a.set(meta('k1'));
  a.delete('never-written');
  expect(records()).toBe(1);
});

test('get returns a fresh object each time (a caller cannot change the record)', () => {
  const a = open();
  a.set(meta('k1'));
  a.get('k1')!.etag = 'changed';
  expect(a.get('k1')!.etag).toBe('e');
});

test('a record torn by a crash is skipped and the records after it are read', () => {
  const a = open();
  a.set(meta('k1'));
  a.close();
  // a crash in the middle of an append: half a record, then another writer appends after it
  appendFileSync(path, '\n{"key":"k2","etag":"to');
  const b = open();
  b.set(meta('k3'));
  b.close();
  const c = open();
  expect([c.get('k1')?.etag, c.get('k2'), c.get('k3')?.etag]).toEqual(['e', undefined, 'e']);
});

test('a last record still being written is read once it is complete', () => {
  const a = open();
  a.set(meta('k1'));
  const b = open();
  const whole = `\n${JSON.stringify(meta('k2', 'late'))}`;
  appendFileSync(path, whole.slice(0, 20));
  b.refresh();
  expect(b.get('k2')).toBeUndefined();
  appendFileSync(path, whole.slice(20));
  expect(b.refresh()).toBe(true);
  expect(b.get('k2')?.etag).toBe('late');
});

test('what another log over the same file appends is read on refresh, in the order of the file', () => {
  const a = open();
  const b = open();
  a.set(meta('k', 'a1'));
  b.set(meta('k', 'b1'));
  a.set(meta('other'));
  expect(a.get('k')?.etag).toBe('a1');
  expect(a.refresh()).toBe(true);
  expect(a.get('k')?.etag).toBe('b1');
  expect(a.refresh()).toBe(false);
  expect(b.refresh()).toBe(true);
  expect([b.get('k')?.etag, b.get('other')?.etag]).toEqual(['b1', 'e']);
});

test('a log removed from outside is forgotten on refresh, and the next write starts a new one', () => {
  const a = open();
  a.set(meta('k1'));
  rmSync(join(dir, 'bucket'), { recursive: true });
  expect(a.refresh()).toBe(true);
  expect(a.get('k1')).toBeUndefined();
  a.set(meta('k2'));
  expect(open().get('k2')?.etag).toBe('e');
});

test('a log replaced on disk is read again from its start; appends go to the new file', () => {
  const a = open();
  a.set(meta('k1'));
  const other = join(dir, 'other.log');
  writeFileSync(other, `\n${JSON.stringify(meta('k2', 'replaced'))}`);
  renameSync(other, path);
  expect(a.refresh()).toBe(true);
  expect([a.get('k1'), a.get('k2')?.etag]).toEqual([undefined, 'replaced']);
  a.set(meta('k3'));
  const b = open();
  expect([b.get('k2')?.etag, b.get('k3')?.etag]).toEqual(['replaced', 'e']);
});

test('a log holding mostly replaced records is compacted when opened; a small or mostly live one is not', () => {
  const a = open();
  for (let i = 0; i < COMPACT_MIN_RECORDS + 10; i++) a.set(meta(`k${i % 5}`, String(i)));
  a.close();
  const before = statSync(path).ino;
  const b = open();
  expect(records()).toBe(5);
  expect(statSync(path).ino).not.toBe(before);
  expect(b.get('k4')?.etag).toBe(String(COMPACT_MIN_RECORDS + 9));
  // the compacted log is appended to and read like any other
  b.set(meta('k9', 'after'));
  expect(b.refresh()).toBe(false);
  expect([open().get('k9')?.etag, records()]).toEqual(['after', 6]);

  rmSync(path);
  const c = open();
  for (let i = 0; i < 100; i++) c.set(meta(`k${i % 5}`));
  c.close();
  open();
  expect(records()).toBe(100);
});

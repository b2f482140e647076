/**
 * The report's expiring read (cli/report/load.ts, docs/report.md): the objects are requested a few ahead
 * (EXPIRING_PREFETCH) but read in key order, so which record of a facility listed twice is kept does not depend
 * on which response arrives first; a failed read fails the load and the bodies requested ahead are closed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { EXPIRING_PREFETCH, loadExpiring } from '../../cli/report/load';
import type { RunReport } from '../../src/contract/observability';

const report = { snapshotDate: '2025-09-01', window: { from: '2025-09-01', to: '2026-03-01' } } as unknown as RunReport;
const line = (id: string, name: string, validUntil: string) =>
  JSON.stringify({ facility_id: id, facility_name: name, location: { state: 'MI' }, accreditations: [{ accreditation_body: 'JC', valid_until: validUntil }] });

/** A fake S3 client: ListObjectsV2 lists `objects`; GetObject answers after `delay(key)` ms, tracking requests in flight. */
function fakeS3(objects: Record<string, string>, delay: (key: string) => number, fail?: string) {
  const stats = { inFlight: 0, maxInFlight: 0, destroyed: 0, requested: [] as string[] };
  const client = {
    async send(cmd: { constructor: { name: string }; input: { Key?: string } }) {
      if (cmd.constructor.name === 'ListObjectsV2Command') {
        return { Contents: Object.keys(objects).map((Key) => ({ Key })), IsTruncated: false };
      }
      const key = cmd.input.Key!;
      stats.requested.push(key);
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((r) => setTimeout(r, delay(key)));
      stats.inFlight--;
      if (key === fail) throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
      const body = Readable.from([objects[key]]);
      body.on('close', () => { if (!body.readableEnded) stats.destroyed++; });
      return { Body: body };
    },
  };
  return { client: client as unknown as S3Client, stats };
}

const keyOf = (i: number) => `expiring/snapshot_date=2025-09-01/part-${String(i).padStart(3, '0')}.jsonl`;

test('requests a few objects ahead, reads them in key order: the first file listing a facility wins, whatever answers first', async () => {
  const objects: Record<string, string> = {};
  const n = 3 * EXPIRING_PREFETCH;
  for (let i = 0; i < n; i++) objects[keyOf(i)] = `${line(`FAC${i}`, `own ${i}`, '2025-10-01')}\n${line('FACDUP', `dup from ${i}`, '2025-09-15')}\n`;
  // later keys answer first
  const { client, stats } = fakeS3(objects, (key) => n - Number(key.slice(-9, -6)));
  const out = await loadExpiring({ s3: client, bucket: 'b' }, report, 100);
  expect(out.total).toBe(n + 1);
  expect(out.rows.find((r) => r.facilityId === 'FACDUP')?.facilityName).toBe('dup from 0');
  expect(stats.maxInFlight).toBeGreaterThan(1);
  expect(stats.maxInFlight).toBeLessThanOrEqual(EXPIRING_PREFETCH);
  expect(stats.requested).toEqual(Object.keys(objects).sort());
});

test('a failed read fails the load, and the bodies requested ahead are closed', async () => {
  const objects: Record<string, string> = {};
  for (let i = 0; i < 2 * EXPIRING_PREFETCH; i++) objects[keyOf(i)] = `${line(`FAC${i}`, 'x', '2025-10-01')}\n`;
  const { client, stats } = fakeS3(objects, () => 1, keyOf(2));
  await expect(loadExpiring({ s3: client, bucket: 'b' }, report)).rejects.toThrow('Access Denied');
  // let the requests still in flight settle: each body that arrives unread is destroyed
  await new Promise((r) => setTimeout(r, 50));
  expect(stats.requested.length).toBeLessThanOrEqual(3 + EXPIRING_PREFETCH);
  expect(stats.destroyed).toBe(stats.requested.length - 3);
});

test('with the bucket folder of a local run, the listed objects are read from their files: no GetObject, the same result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medlaunch-elt-expiring-'));
  try {
    const objects: Record<string, string> = {};
    for (let i = 0; i < 3; i++) objects[keyOf(i)] = `${line(`FAC${i}`, `own ${i}`, `2025-10-0${i + 1}`)}\n${line('FACDUP', `dup from ${i}`, '2025-09-15')}\n`;
    for (const [k, body] of Object.entries(objects)) {
      mkdirSync(join(dir, 'expiring', 'snapshot_date=2025-09-01'), { recursive: true });
      writeFileSync(join(dir, ...k.split('/')), body);
    }
    const viaS3 = fakeS3(objects, () => 1);
    const viaFiles = fakeS3(objects, () => 1);
    const a = await loadExpiring({ s3: viaS3.client, bucket: 'b' }, report);
    const b = await loadExpiring({ s3: viaFiles.client, bucket: 'b', bucketDir: dir }, report);
    expect(b).toEqual(a);
    expect([viaS3.stats.requested.length, viaFiles.stats.requested]).toEqual([3, []]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { facilityIdOf, uploadFiles } from '../../local/orchestrator/index';
import { LocalS3 } from '../../local/s3';

describe('facilityIdOf (reading the expiring outputs back)', () => {
  test('reads the id off a line that starts with it, exactly as JSON.parse would', () => {
    const line = '{"facility_id":"FAC00012","facility_name":"A","labs":[]}';
    expect(facilityIdOf(line)).toBe('FAC00012');
    expect(facilityIdOf(line)).toBe(JSON.parse(line).facility_id);
  });

  test.each([
    ['id not first', '{"facility_name":"A","facility_id":"FAC1"}', 'FAC1'],
    ['whitespace', '{ "facility_id" : "FAC2" }', 'FAC2'],
    ['escaped character in the id', '{"facility_id":"FAC\\u0033"}', 'FAC3'],
    ['duplicate key: the last wins', '{"facility_id":"FAC4","x":1,"facility_id":"FAC5"}', 'FAC5'],
    ['escaped duplicate key', '{"facility_id":"FAC6","facility\\u005fid":"FAC7"}', 'FAC7'],
    ['the key text inside a string', '{"facility_id":"FAC8","note":"a \\"facility_id\\" b"}', 'FAC8'],
  ])('falls back to JSON.parse when the shortcut could be wrong: %s', (_name, line, id) => {
    expect(facilityIdOf(line)).toBe(id);
    expect(facilityIdOf(line)).toBe(JSON.parse(line).facility_id);
  });
});

describe('uploadFiles (the local run\'s uploads)', () => {
  let root: string;
  let s3: LocalS3;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'runner-upload-'));
    s3 = await LocalS3.start({ rootDir: join(root, 's3') });
    await s3.createBucket('upload-bucket');
  });
  afterAll(async () => {
    await s3.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('streamed PutObjects that meet 503 SlowDown are re-sent from the file and stored byte-exact', async () => {
    const files = Array.from({ length: 6 }, (_, i) => {
      const path = join(root, `f${i}.jsonl`);
      writeFileSync(path, randomBytes(200_000 + i));
      return { path, bucket: 'upload-bucket', key: `data/batch/2025-09-01/f${i}.jsonl`, contentType: 'application/x-ndjson' };
    });
    s3.setFaults({ slowDownFirstN: 5, operations: ['PutObject'] });
    await uploadFiles(files, { endpoint: s3.endpoint, seed: 1 });
    expect(s3.slowDownsInjected).toBe(5);
    const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
    for (const f of files) expect(md5(readFileSync(s3.objectPath('upload-bucket', f.key)))).toBe(md5(readFileSync(f.path)));
  });

  test('a permanent error names the file and the key', async () => {
    s3.setFaults({});
    const path = join(root, 'x.jsonl');
    writeFileSync(path, '{}\n');
    await expect(uploadFiles([{ path, bucket: 'no-such-bucket', key: 'k.jsonl', contentType: 'application/x-ndjson' }], { endpoint: s3.endpoint, seed: 1 }))
      .rejects.toThrow(/uploading .*x\.jsonl to s3:\/\/no-such-bucket\/k\.jsonl failed: NoSuchBucket/);
  });
});

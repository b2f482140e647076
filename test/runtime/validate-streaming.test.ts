import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { PREFIXES, runChunks } from './validate-helpers';
import { FileSink, LineSplitter, processStream } from '../../lambda-src/validate';
import { record } from '../support/facility-record';

const l1 = JSON.stringify(record('FAC1', '2025-08-10', ['2025-09-01']));
const l2 = JSON.stringify(record('FAC2', '2025-08-10', ['2030-01-01']));
const l3 = JSON.stringify(record('FAC3', '2025-08-10', []));
const VALIDATED = 'validated/snapshot_date=2025-08-10/part.jsonl';

describe('line splitting', () => {
  test('CRLF line ends are stripped', async () => {
    const { sink, result } = await runChunks([`${l1}\r\n${l2}\r\n`]);
    expect(result).toMatchObject({ read: 2, valid: 2, quarantined: 0 });
    expect(sink.lines(VALIDATED)).toEqual([l1, l2]);
  });

  test('no trailing newline: the last line is processed', async () => {
    const { sink, result } = await runChunks([`${l1}\n${l2}`]);
    expect(result.valid).toBe(2);
    expect(sink.lines(VALIDATED)).toEqual([l1, l2]);
  });

  test('blank and whitespace-only lines are counted; line numbers still count them', async () => {
    const { sink, result } = await runChunks([`\n${l1}\n\r\n  \n{bad\n`]);
    expect(result).toMatchObject({ blank: 3, read: 2, valid: 1, quarantined: 1 });
    expect(JSON.parse(sink.lines('quarantine/snapshot_date=2025-08-10/part.jsonl')[0]).line).toBe(5);
  });

  test('a line split across chunks, byte by byte, including a multi-byte character', async () => {
    const withUnicode = JSON.stringify(record('FAC4', '2025-08-10', [], { facility_name: 'Clínica São José ✓' }));
    const bytes = Buffer.from(`${l1}\r\n${withUnicode}\n${l3}`);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const { sink, result } = await runChunks(chunks);
    expect(result).toMatchObject({ read: 3, valid: 3 });
    expect(sink.lines(VALIDATED)).toEqual([l1, withUnicode, l3]);
  });

  test('a UTF-8 BOM at the start is ignored', async () => {
    const { result } = await runChunks([Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${l1}\n`)])]);
    expect(result).toMatchObject({ valid: 1, quarantined: 0 });
  });

  test('invalid UTF-8 is quarantined with the raw bytes in base64', async () => {
    const bad = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const { sink, result } = await runChunks([Buffer.concat([bad, Buffer.from(`\n${l1}\n`)])]);
    expect(result).toMatchObject({ valid: 1, quarantined: 1 });
    const q = JSON.parse(sink.lines('quarantine/snapshot_date=2025-08-10/part.jsonl')[0]);
    expect(q).toMatchObject({ reason: 'invalid_utf8', line: 1, raw_base64: bad.toString('base64') });
  });

  test('a line over the cap is quarantined as line_too_long without buffering it', async () => {
    const long = `{"x":"${'a'.repeat(5000)}"}`;
    const chunks = [`${l1}\n`, long.slice(0, 1000), long.slice(1000, 3000), `${long.slice(3000)}\n${l2}\n`];
    const { sink, result } = await runChunks(chunks, { maxLineBytes: 2048 });
    expect(result).toMatchObject({ read: 3, valid: 2, quarantined: 1 });
    const q = JSON.parse(sink.lines('quarantine/snapshot_date=2025-08-10/part.jsonl')[0]);
    expect(q).toMatchObject({ reason: 'line_too_long', line: 2, raw_truncated: true, raw_bytes: long.length });
    expect(q.raw.length).toBe(1024);
    expect(sink.lines(VALIDATED)).toEqual([l1, l2]);
  });

  test('LineSplitter never keeps more than the cap', () => {
    const s = new LineSplitter(100);
    const out = [...s.push(Buffer.alloc(1_000_000, 0x61)), ...s.push(Buffer.from('\nok\n')), ...s.end()];
    expect(out.map((l) => [l.lineNo, l.tooLong, l.length])).toEqual([[1, true, 1_000_000], [2, false, 2]]);
  });
});

describe('gzip', () => {
  test('a .gz key is decompressed', async () => {
    const gz = gzipSync(Buffer.from(`${l1}\n${l2}\n${l3}\n`));
    const { sink, result } = await runChunks([gz.subarray(0, 10), gz.subarray(10)], { sourceKey: 'data/batch/2025-08-10/part.jsonl.gz' });
    expect(result).toMatchObject({ read: 3, valid: 3, matched: 1 });
    expect(sink.lines(VALIDATED)).toEqual([l1, l2, l3]);
  });

  test('a corrupt gzip stream fails the run with CorruptInputError and writes nothing', async () => {
    const gz = gzipSync(Buffer.from(`${l1}\n${l2}\n`.repeat(1000)));
    const truncated = gz.subarray(0, Math.floor(gz.length / 2));
    await expect(runChunks([truncated], { sourceKey: 'k.jsonl.gz' })).rejects.toMatchObject({ name: 'CorruptInputError' });
    const garbage = Buffer.from(gz);
    garbage.fill(0x55, 20, 60);
    let sinkObjects = -1;
    try {
      const { sink } = await runChunks([garbage], { sourceKey: 'k.jsonl.gz' });
      sinkObjects = sink.objects.size;
    } catch (e) {
      expect((e as Error).name).toBe('CorruptInputError');
    }
    expect(sinkObjects).toBe(-1);
  });
});

describe('local file sink', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'validate-sink-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('writes through temp files and renames them; large outputs respect backpressure', async () => {
    const lines = Array.from({ length: 20000 }, (_, i) => JSON.stringify(record(`FAC${i}`, '2025-08-10', ['2025-09-01'])));
    const result = await processStream(Readable.from([Buffer.from(lines.join('\n'))]), {
      sourceKey: 'in.jsonl', folderSnapshotDate: '2025-08-10', stem: 'part', sink: new FileSink(dir), prefixes: PREFIXES,
    });
    expect(result).toMatchObject({ read: 20000, valid: 20000, matched: 20000 });
    expect(readFileSync(join(dir, VALIDATED), 'utf8')).toBe(`${lines.join('\n')}\n`);
    expect(readdirSync(join(dir, 'validated/snapshot_date=2025-08-10'))).toEqual(['part.jsonl']);
  });

  test('writer buffering: lines that fill, straddle and exceed the 64 KiB write buffer come out byte-exact and in order', async () => {
    const sink = new FileSink(dir);
    const w = sink.open('mixed.jsonl');
    const expected: Buffer[] = [];
    const sizes = [65535, 0, 1, 65534, 10, 70000, 3, 65536, 200000, 7, 65535];
    for (const [i, n] of sizes.entries()) {
      const line = Buffer.alloc(n, 97 + (i % 26));
      const pending = i % 3 === 0 ? w.write(Buffer.concat([line, Buffer.from('\n')])) : w.writeLine(line);
      if (pending) await pending;
      expected.push(line, Buffer.from('\n'));
      if (i === 4) {
        const s = `{"quarantine":${i}}\n`;
        const p2 = w.write(s);
        if (p2) await p2;
        expected.push(Buffer.from(s));
      }
    }
    await w.end();
    expect(readFileSync(join(dir, 'mixed.jsonl')).equals(Buffer.concat(expected))).toBe(true);
  });

  test('a failed run leaves no partial or temporary files', async () => {
    const gz = gzipSync(Buffer.from(`${l1}\n`.repeat(5000)));
    await expect(processStream(Readable.from([gz.subarray(0, gz.length - 40)]), {
      sourceKey: 'in.jsonl.gz', folderSnapshotDate: '2025-08-10', stem: 'part', sink: new FileSink(dir), prefixes: PREFIXES,
    })).rejects.toMatchObject({ name: 'CorruptInputError' });
    const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(files).toEqual([]);
  });
});

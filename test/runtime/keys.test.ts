/**
 * Output stems are injective in the raw key (below the snapshot folder) and readable: no two raw
 * objects of a snapshot share, and overwrite, each other's Stage 2 outputs.
 */
import { STEM_HASH_HEX, outputStem, parseRawKey, rawKeySnapshot, snapshotOfRawKey } from '../../lambda-src/lib/keys';
import { mulberry32 } from '../../local/prng';

describe('outputStem', () => {
  test.each([
    ['facilities_0001.jsonl', 'facilities_0001'],
    ['a.ndjson', 'a.ndjson'],
    ['a.json', 'a.json'],
    ['a.jsonl.gz', 'a.jsonl.gz'],
    ['A.JSON.gz', 'A.JSON.gz'],
    ['A.JSONL', 'A.JSONL'],
    ['a.ndjson.jsonl', 'a.ndjson.jsonl'], // not 'a.ndjson': that is the stem of a.ndjson
    ['a.jsonl.jsonl', 'a.jsonl.jsonl'],
    ['sub/part-1.jsonl', 'sub__part-1'],
    ['x/y/z.ndjson', 'x__y__z.ndjson'],
  ])('%s → %s (plain, readable)', (rel, stem) => {
    expect(outputStem(rel)).toBe(stem);
  });

  test('the issue\'s collisions are gone', () => {
    const stems = ['a.jsonl', 'a.ndjson', 'A.JSON.gz', 'a.jsonl.gz'].map(outputStem);
    expect(new Set(stems).size).toBe(4);
    expect(outputStem('x/y.jsonl')).toBe('x__y');
    expect(outputStem('x__y.jsonl')).toMatch(new RegExp(`^x__y~[0-9a-f]{${STEM_HASH_HEX}}$`));
  });

  test.each([
    ['x__y.jsonl', 'x__y'], ['x_/y.jsonl', 'x___y'], ['x/_y.jsonl', 'x___y'], ['_hidden.jsonl', 'hidden'],
    ['.dot.jsonl', 'dot'], ['a~b.jsonl', 'a~b'], ['a//b.jsonl', 'a____b'], ['.jsonl', 'jsonl'], ['_.jsonl', 'part'],
  ])('%s is not plain: readable part %s plus a hash of the whole key, never a hidden name', (rel, readable) => {
    const stem = outputStem(rel);
    expect(stem.startsWith(`${readable}~`)).toBe(true);
    expect(stem).toMatch(/^[^._]/);
    expect(stem).toBe(outputStem(rel)); // deterministic
  });

  test('plain stems read back to their key', () => {
    const back = (stem: string) => {
      const parts = stem.split('__');
      const name = parts.pop()!;
      return [...parts, /\.(jsonl|ndjson|json)(\.gz)?$/i.test(name) ? name : `${name}.jsonl`].join('/');
    };
    for (const rel of ['facilities_0001.jsonl', 'a.ndjson', 'sub/part-1.jsonl', 'x/y/z.json.gz', 'a.jsonl.jsonl']) {
      expect(outputStem(rel)).not.toContain('~');
      expect(back(outputStem(rel))).toBe(rel);
    }
  });

  test('no two of 50,000 random tricky keys share a stem', () => {
    const rnd = mulberry32(20261130);
    const alphabet = ['a', 'b', 'A', '_', '__', '/', '.', '~', '-', '0', '.jsonl', '.ndjson', '.json', '.gz', '.JSONL'];
    const exts = ['.jsonl', '.ndjson', '.json', '.jsonl.gz', '.JSON.gz', '.ndjson.gz'];
    const seen = new Map<string, string>();
    for (let i = 0; i < 50_000; i++) {
      let rel = '';
      const n = 1 + Math.floor(rnd() * 6);
      for (let j = 0; j < n; j++) rel += alphabet[Math.floor(rnd() * alphabet.length)];
      rel += exts[Math.floor(rnd() * exts.length)];
      const stem = outputStem(rel);
      const other = seen.get(stem);
      if (other !== undefined && other !== rel) throw new Error(`${rel} and ${other} share the stem ${stem}`);
      seen.set(stem, rel);
    }
    expect(seen.size).toBeGreaterThan(10_000);
  });
});

test('parseRawKey applies it below the snapshot folder', () => {
  expect(parseRawKey('data/batch/2025-08-10/sub/a.jsonl', 'data/batch/')).toEqual({ snapshotDate: '2025-08-10', stem: 'sub__a', gzip: false });
  expect(parseRawKey('data/batch/2025-08-10/a.jsonl.gz', 'data/batch/')).toEqual({ snapshotDate: '2025-08-10', stem: 'a.jsonl.gz', gzip: true });
  expect(parseRawKey('/tmp/in/2025-08-10/a.ndjson')).toMatchObject({ snapshotDate: '2025-08-10', stem: 'a.ndjson' });
  expect(parseRawKey('/tmp/in/plain.jsonl')).toMatchObject({ snapshotDate: undefined, stem: 'plain' });
});

describe('one snapshot rule for raw keys: the nearest date folder', () => {
  const RAW = 'data/batch/';
  test.each([
    ['data/batch/2025-08-10/a.jsonl', '2025-08-10'],
    ['data/batch/2025-08-10/2025-08-11/z.jsonl', '2025-08-11'],
    ['data/batch/2025-08-10/sub/z.jsonl', '2025-08-10'],
    ['data/batch/2025-08-10/snapshot_date=2025-08-12/z.jsonl', '2025-08-12'],
    ['data/batch/2025-02-30/z.jsonl', undefined],
    ['data/batch/z.jsonl', undefined],
    ['other/2025-08-10/z.jsonl', undefined],
    ['data/batch/2025-08-10/', undefined],
    ['data/batch/latest/2025-08-10/z.jsonl', undefined], // the layout: the first folder is a date
  ])('%s → %s, the same for Stage 2 (parseRawKey) and the query runner (snapshotOfRawKey)', (key, snapshot) => {
    expect(rawKeySnapshot(key, RAW)).toBe(snapshot);
    if (snapshot !== undefined) {
      expect(parseRawKey(key, RAW).snapshotDate).toBe(snapshot);
      expect(snapshotOfRawKey(key, RAW)).toBe(snapshot);
    } else {
      expect(() => snapshotOfRawKey(key, RAW)).toThrow(expect.objectContaining({ name: 'InvalidEventError' }));
    }
  });
});

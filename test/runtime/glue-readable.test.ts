/**
 * Stage 2 quarantines every record the validated table's JSON SerDe cannot read (docs/semantics.md,
 * "What the Glue table must be able to read"): an int column above 2^31 − 1, an integer written with a
 * fraction or an exponent, and keys that repeat or differ only in case, at any depth.
 */
import { runChunks } from './validate-helpers';
import { validateRecord } from '../../lambda-src/schema';
import { glueReadabilityReasons, needsScan } from '../../lambda-src/schema/glue-readable';
import { glueColumnsFromSchema } from '../../src/schema/glue-columns';
import { record } from '../support/facility-record';

const D = '2025-08-10';
const good = JSON.stringify(record('FAC00001', D, ['2026-01-01']));

/** The base record's text with one edit done on the text (so literal forms survive). */
function withText(replace: [string, string][]): string {
  let s = good;
  for (const [from, to] of replace) {
    if (!s.includes(from)) throw new Error(`test setup: ${from} not in ${s}`);
    s = s.replace(from, to);
  }
  return s;
}

function check(text: string) {
  return validateRecord(JSON.parse(text), { folderSnapshotDate: D, raw: text });
}

describe('employee_count is an int column: 0 ≤ n ≤ 2147483647, written as an integer', () => {
  test('the Glue column is int because the schema bounds it', () => {
    expect(glueColumnsFromSchema().find((c) => c.name === 'employee_count')).toEqual({ name: 'employee_count', type: 'int' });
  });

  test.each([
    ['2147483647', true],
    ['0', true],
    ['-0', true], // Integer.parseInt("-0") and BigDecimal read 0: not negative
    ['2147483648', 'value_too_large'],
    ['99999999999999999999', 'value_too_large'],
    ['4230.0', 'not_an_integer'],
    ['1e3', 'not_an_integer'],
    ['1E3', 'not_an_integer'],
    ['1000e-0', 'not_an_integer'],
    ['12.5', 'not_an_integer'],
    ['-1', 'negative_value'],
  ])('employee_count %s → %s', (literal, expected) => {
    const r = check(withText([['"employee_count":10', `"employee_count":${literal}`]]));
    if (expected === true) {
      expect(r.ok).toBe(true);
    } else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reasons).toContainEqual(expect.objectContaining({ code: expected, field: 'employee_count' }));
    }
  });

  test('an exponent that is also too large reports both rules', () => {
    const r = check(withText([['"employee_count":10', '"employee_count":3e9']]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reasons.map((x) => x.code).sort()).toEqual(['not_an_integer', 'value_too_large']);
  });

  test('whitespace around the literal does not matter', () => {
    expect(check(withText([['"employee_count":10', '"employee_count" :  10 ']])).ok).toBe(true);
    expect(check(withText([['"employee_count":10', '"employee_count" :  10.0 ']])).ok).toBe(false);
  });

  test('the same key name in a nested extra object does not hide the top-level literal', () => {
    const text = withText([['"facility_id"', '"extra":{"employee_count":1},"facility_id"'], ['"employee_count":10', '"employee_count":4230.0']]);
    expect(text.indexOf('"employee_count":1}')).toBeLessThan(text.indexOf('"employee_count":4230.0'));
    const r = check(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reasons).toEqual([expect.objectContaining({ code: 'not_an_integer', field: 'employee_count' })]);
    // …and a fraction in the nested object is not the int column's business.
    expect(check(withText([['"facility_id"', '"extra":{"employee_count":1.5},"facility_id"']])).ok).toBe(true);
  });

  test('fractions elsewhere (unknown fields, strings) are fine', () => {
    const text = withText([['"employee_count":10', '"employee_count":10,"rating":4.5,"note":"3.5e2 beds"']]);
    expect(check(text).ok).toBe(true);
  });
});

describe('keys: no repeats, no two keys that differ only in case, at any depth', () => {
  test.each([
    ['a repeated top-level field', [['"employee_count":10', '"employee_count":10,"employee_count":11']], 'employee_count'],
    ['a field repeated in another case', [['"employee_count":10', '"employee_count":10,"Employee_Count":10']], 'Employee_Count'],
    ['inside a struct', [['"state":"MI"', '"state":"MI","STATE":"MI"']], 'location.STATE'],
    ['inside an array of structs', [['"valid_until":"2026-01-01"', '"valid_until":"2026-01-01","Valid_Until":"2026-01-01"']], 'accreditations[0].Valid_Until'],
    ['in an unknown extra field', [['"employee_count":10', '"employee_count":10,"extra":{"a":1,"A":2}']], 'extra.A'],
    ['an escaped spelling of the same key', [['"employee_count":10', '"employee_count":10,"employee\\u005fcount":10']], 'employee_count'],
  ] as Array<[string, [string, string][], string]>)('%s → duplicate_key', (_name, edits, field) => {
    const r = check(withText(edits));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reasons).toContainEqual(expect.objectContaining({ code: 'duplicate_key', field }));
  });

  test('distinct keys, colons inside strings and escaped quotes are fine', () => {
    const text = withText([['"employee_count":10', '"employee_count":10,"opens":"08:30","quote":"say \\"a\\":1","x":{"a":1,"b":{"a":2}}']]);
    expect(check(text).ok).toBe(true);
    expect(glueReadabilityReasons(text, JSON.parse(text))).toEqual([]);
  });

  test('the cheap checks skip the scan for an ordinary record and ask for it otherwise', () => {
    expect(needsScan(good, JSON.parse(good))).toBe(false);
    const dup = withText([['"employee_count":10', '"employee_count":10,"employee_count":10']]);
    expect(needsScan(dup, JSON.parse(dup))).toBe(true);
    const upper = withText([['"employee_count":10', '"employee_count":10,"Extra":1']]);
    expect(needsScan(upper, JSON.parse(upper))).toBe(true);
  });
});

test('the validator (lambda-src/validate, Stage 2) quarantines such lines with their reason and keeps the others', async () => {
  const lines = [
    good,
    withText([['"FAC00001"', '"FAC00002"'], ['"employee_count":10', '"employee_count":4230.0']]),
    withText([['"FAC00001"', '"FAC00003"'], ['"employee_count":10', '"employee_count":2147483648']]),
    withText([['"FAC00001"', '"FAC00004"'], ['"state":"MI"', '"state":"MI","State":"OH"']]),
  ];
  const { sink, result } = await runChunks([lines.join('\n') + '\n']);
  expect(result).toMatchObject({ read: 4, valid: 1, quarantined: 3 });
  expect(sink.lines(`validated/snapshot_date=${D}/part.jsonl`)).toEqual([good]);
  const q = sink.lines(`quarantine/snapshot_date=${D}/part.jsonl`).map((l) => JSON.parse(l));
  expect(q.map((x) => [x.line, x.reason, x.reasons[0].field])).toEqual([
    [2, 'not_an_integer', 'employee_count'],
    [3, 'value_too_large', 'employee_count'],
    [4, 'duplicate_key', 'location.State'],
  ]);
  expect(q[0].raw).toBe(lines[1]);
});

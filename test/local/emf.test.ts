/** The embedded metric format as CloudWatch Logs reads it (local/lambda/emf.ts) and the run's aggregation (local/lambda/metrics.ts). */
import { parseEmfLine } from '../../local/lambda/emf';
import { LambdaMetrics } from '../../local/lambda/metrics';

/** A flush as Powertools Metrics writes it: default dimension `service`, the pipeline's, values at the top level. */
function flush(metrics: Record<string, number | number[]>, extra: Record<string, unknown> = {}, dims: string[] = ['service', 'Pipeline']): string {
  return JSON.stringify({
    _aws: {
      Timestamp: 1764495600000,
      CloudWatchMetrics: [{
        Namespace: 'MedlaunchElt',
        Dimensions: [dims],
        Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: Name === 'QueryBytesScanned' ? 'Bytes' : 'Count' })),
      }],
    },
    service: 'validator',
    Pipeline: 'Demo-Pipeline',
    ...extra,
    ...metrics,
  });
}

describe('parseEmfLine', () => {
  test('a Powertools flush: one sample list per metric and dimension set, the unit, the timestamp', () => {
    const r = parseEmfLine(flush({ RecordsRead: 6, RecordsValid: 3 }));
    expect(r).toEqual({
      kind: 'metrics',
      samples: [
        { namespace: 'MedlaunchElt', name: 'RecordsRead', unit: 'Count', dimensions: { service: 'validator', Pipeline: 'Demo-Pipeline' }, values: [6], timestamp: 1764495600000 },
        { namespace: 'MedlaunchElt', name: 'RecordsValid', unit: 'Count', dimensions: { service: 'validator', Pipeline: 'Demo-Pipeline' }, values: [3], timestamp: 1764495600000 },
      ],
    });
  });

  test('every dimension set is its own metric; arrays are several samples; a missing Unit is None; an empty set is allowed', () => {
    const line = JSON.stringify({
      _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['Pipeline'], ['Pipeline', 'Reason'], []], Metrics: [{ Name: 'Q' }] }] },
      Pipeline: 'P',
      Reason: 'invalid_json',
      Q: [1, 2, 3],
    });
    const r = parseEmfLine(line);
    if (r.kind !== 'metrics') throw new Error(JSON.stringify(r));
    expect(r.samples.map((s) => s.dimensions)).toEqual([{ Pipeline: 'P' }, { Pipeline: 'P', Reason: 'invalid_json' }, {}]);
    expect(r.samples.every((s) => s.unit === 'None' && s.values.length === 3)).toBe(true);
  });

  test.each([
    ['plain text', 'START RequestId: 1 Version: $LATEST'],
    ['a Powertools Logger line', '{"level":"INFO","message":"validated","service":"validator","timestamp":"2025-08-10T00:00:00.000Z"}'],
    ['JSON that is not an object', '[{"_aws":1}]'],
    ['"_aws" only inside a string', '{"message":"the \\"_aws\\" member"}'],
  ])('an ordinary log line is not EMF: %s', (_name, line) => {
    expect(parseEmfLine(line)).toEqual({ kind: 'log' });
  });

  test.each([
    ['text before the object (the document must be the whole event)', `2025-08-10T00:00:00.000Z\tabc\tINFO\t${flush({ A: 1 })}`, 'log'],
    ['truncated JSON', flush({ A: 1 }).slice(0, 60), 'parsing'],
    ['no Timestamp', JSON.stringify({ _aws: { CloudWatchMetrics: [] } }), 'validation'],
    ['a Timestamp that is not an integer', JSON.stringify({ _aws: { Timestamp: '2025-08-10', CloudWatchMetrics: [] } }), 'validation'],
    ['no CloudWatchMetrics', JSON.stringify({ _aws: { Timestamp: 1 } }), 'validation'],
    ['_aws not an object', JSON.stringify({ _aws: 'x' }), 'validation'],
    ['no Namespace', flush({ A: 1 }).replace('"Namespace":"MedlaunchElt",', ''), 'validation'],
    ['no dimension set', flush({ A: 1 }, {}, []).replace('"Dimensions":[[]]', '"Dimensions":[]'), 'validation'],
    ['a dimension without its member', flush({ A: 1 }, {}, ['service', 'Reason']), 'validation'],
    ['a dimension value that is not a string', flush({ A: 1 }, { Pipeline: 7 }), 'validation'],
    ['a dimension value over 1024 characters', flush({ A: 1 }, { Pipeline: 'p'.repeat(1025) }), 'validation'],
    ['31 dimensions', flush({ A: 1 }, Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`d${i}`, 'v'])), Array.from({ length: 31 }, (_, i) => `d${i}`)), 'validation'],
    ['a metric without its member', flush({ A: 1 }).replace(',"A":1', ''), 'validation'],
    ['a metric value that is a string', flush({ A: 1 }).replace('"A":1', '"A":"1"'), 'validation'],
    ['an array with a null', flush({ A: 1 }).replace('"A":1', '"A":[1,null]'), 'validation'],
    ['101 values', flush({ A: Array.from({ length: 101 }, () => 1) }), 'validation'],
    ['an unknown unit', flush({ A: 1 }).replace('"Unit":"Count"', '"Unit":"Records"'), 'validation'],
    ['a StorageResolution that is not an integer', flush({ A: 1 }).replace('"Unit":"Count"', '"Unit":"Count","StorageResolution":"high"'), 'validation'],
    ['101 metric definitions', flush(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`M${i}`, 1]))), 'validation'],
    ['over 1 MB', flush({ A: 1 }, { pad: 'x'.repeat(1024 * 1024) }), 'parsing'],
  ])('%s', (_name, line, kind) => {
    const r = parseEmfLine(line);
    if (kind === 'log') expect(r).toEqual({ kind: 'log' });
    else expect(r).toEqual({ kind: 'invalid', error: kind, reason: expect.any(String) });
  });

  test('one bad directive rejects the whole document (no partial metrics)', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: 1,
        CloudWatchMetrics: [
          { Namespace: 'N', Dimensions: [[]], Metrics: [{ Name: 'A' }] },
          { Namespace: 'N', Dimensions: [[]], Metrics: [{ Name: 'B' }] },
        ],
      },
      A: 1,
    });
    expect(parseEmfLine(line)).toEqual({ kind: 'invalid', error: 'validation', reason: expect.stringMatching(/CloudWatchMetrics\[1\].*metric B has no member/) });
  });
});

describe('LambdaMetrics', () => {
  test('aggregates per namespace, name, unit and dimension set: sample count, sum, min, max, functions', () => {
    const m = new LambdaMetrics();
    m.ingest('validator', flush({ RecordsRead: 6 }));
    m.ingest('validator', flush({ RecordsRead: [2, 10] }));
    m.ingest('validator', 'an ordinary line');
    m.ingest('other', flush({ RecordsRead: 1 }, { Pipeline: 'Other' }));
    m.ingest('query', flush({ QueryBytesScanned: 2048 }, { service: 'query-runner' }));
    const s = m.snapshot();
    expect(s.documents).toBe(4);
    expect(s.rejected).toEqual({ parsing: 0, validation: 0, first: [] });
    const demo = s.series.find((x) => x.name === 'RecordsRead' && x.dimensions.Pipeline === 'Demo-Pipeline');
    expect(demo).toEqual({
      namespace: 'MedlaunchElt',
      name: 'RecordsRead',
      unit: 'Count',
      dimensions: { Pipeline: 'Demo-Pipeline', service: 'validator' },
      sampleCount: 3,
      sum: 18,
      min: 2,
      max: 10,
      functions: ['validator'],
    });
    expect(s.series.filter((x) => x.name === 'RecordsRead').map((x) => x.sum).sort()).toEqual([1, 18]);
    expect(s.series.find((x) => x.name === 'QueryBytesScanned')).toMatchObject({ unit: 'Bytes', sum: 2048, sampleCount: 1 });
  });

  test('the same dimensions in another order are the same series; another unit is another series', () => {
    const m = new LambdaMetrics();
    m.ingest('f', flush({ A: 1 }, {}, ['service', 'Pipeline']));
    m.ingest('f', flush({ A: 2 }, {}, ['Pipeline', 'service']));
    m.ingest('f', flush({ A: 4 }).replace('"Unit":"Count"', '"Unit":"Seconds"'));
    const s = m.snapshot();
    expect(s.series.map((x) => [x.unit, x.sum])).toEqual([['Count', 3], ['Seconds', 4]]);
  });

  test('rejected documents are counted by kind and the first five kept with the function; they never throw', () => {
    const m = new LambdaMetrics();
    for (let i = 0; i < 4; i++) m.ingest('validator', '{"_aws": {');
    for (let i = 0; i < 3; i++) m.ingest('publisher', JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [[]], Metrics: [{ Name: 'X' }] }] } }));
    m.ingest('validator', flush({ RecordsRead: 5 }));
    const s = m.snapshot();
    expect(s.documents).toBe(1);
    expect(s.rejected.parsing).toBe(4);
    expect(s.rejected.validation).toBe(3);
    expect(s.rejected.first).toHaveLength(5);
    expect(s.rejected.first[4]).toEqual({ function: 'publisher', error: 'validation', reason: expect.stringMatching(/metric X has no member/) });
    expect(s.series).toHaveLength(1);
  });
});

import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { synthesizeFixture } from './engine-helpers';
import { LocalEventBridge, matchesPattern, objectCreatedEvent, targetInput } from '../../local/events';
import type { EventBridgeEvent, EventRule } from '../../local/events';
import { LocalLambdaRuntime } from '../../local/lambda';
import { LocalStepFunctions } from '../../local/stepfunctions';
import { resolveTemplate } from '../../local/template';
import type { CfnTemplate } from '../../local/template';
import { AccreditationPipeline } from '../../src';

const base = objectCreatedEvent({
  bucket: 'data-bucket',
  key: 'data/batch/2025-08-10/part-1.jsonl',
  size: 1234,
  etag: '"d41d8cd98f00b204e9800998ecf8427e"',
  sequencer: '0062E99A88DC407460',
  time: '2025-08-10T12:34:56.789Z',
  requestId: 'N4N7GDK58NMKJ12R',
}, { id: '17793124-05d4-b198-2fde-7ededc63b103' });

describe('objectCreatedEvent', () => {
  test('has the exact AWS shape', () => {
    expect(base).toEqual({
      'version': '0',
      'id': '17793124-05d4-b198-2fde-7ededc63b103',
      'detail-type': 'Object Created',
      'source': 'aws.s3',
      'account': '000000000000',
      'time': '2025-08-10T12:34:56Z',
      'region': 'us-east-1',
      'resources': ['arn:aws:s3:::data-bucket'],
      'detail': {
        'version': '0',
        'bucket': { name: 'data-bucket' },
        'object': { key: 'data/batch/2025-08-10/part-1.jsonl', size: 1234, etag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '0062E99A88DC407460' },
        'request-id': 'N4N7GDK58NMKJ12R',
        'requester': '000000000000',
        'source-ip-address': '127.0.0.1',
        'reason': 'PutObject',
      },
    });
  });
});

describe('matchesPattern', () => {
  const e = {
    ...base,
    detail: { ...base.detail, tags: ['a', 'b'], count: 5, empty: null, ip: '10.0.1.7', flag: false },
  };
  test.each<[string, Record<string, unknown>, boolean]>([
    ['exact values', { 'source': ['aws.s3'], 'detail-type': ['Object Created'] }, true],
    ['exact value mismatch', { source: ['aws.ec2'] }, false],
    ['array of values is OR', { source: ['aws.ec2', 'aws.s3'] }, true],
    ['nested objects', { detail: { bucket: { name: ['data-bucket'] } } }, true],
    ['nested mismatch', { detail: { bucket: { name: ['other'] } } }, false],
    ['prefix', { detail: { object: { key: [{ prefix: 'data/batch/' }] } } }, true],
    ['prefix mismatch', { detail: { object: { key: [{ prefix: 'validated/' }] } } }, false],
    ['prefix ignoring case', { detail: { object: { key: [{ prefix: { 'equals-ignore-case': 'DATA/Batch/' } }] } } }, true],
    ['suffix', { detail: { object: { key: [{ suffix: '.jsonl' }] } } }, true],
    ['suffix mismatch', { detail: { object: { key: [{ suffix: '.gz' }] } } }, false],
    ['equals-ignore-case', { 'detail-type': [{ 'equals-ignore-case': 'object created' }] }, true],
    ['wildcard', { detail: { object: { key: [{ wildcard: 'data/batch/*/part-*.jsonl' }] } } }, true],
    ['wildcard mismatch', { detail: { object: { key: [{ wildcard: 'data/*/x-*' }] } } }, false],
    ['anything-but value', { detail: { reason: [{ 'anything-but': 'CopyObject' }] } }, true],
    ['anything-but list hit', { detail: { reason: [{ 'anything-but': ['CopyObject', 'PutObject'] }] } }, false],
    ['anything-but prefix', { detail: { object: { key: [{ 'anything-but': { prefix: 'data/' } }] } } }, false],
    ['anything-but suffix', { detail: { object: { key: [{ 'anything-but': { suffix: '.gz' } }] } } }, true],
    ['anything-but on a missing field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
    ['exists true', { detail: { object: { etag: [{ exists: true }] } } }, true],
    ['exists true on missing', { detail: { object: { 'version-id': [{ exists: true }] } } }, false],
    ['exists false on missing', { detail: { object: { 'version-id': [{ exists: false }] } } }, true],
    ['exists false on present', { detail: { object: { key: [{ exists: false }] } } }, false],
    ['exists false under a missing object', { detail: { nothing: { here: [{ exists: false }] } } }, true],
    ['numeric range', { detail: { object: { size: [{ numeric: ['>', 1000, '<=', 1234] }] } } }, true],
    ['numeric out of range', { detail: { object: { size: [{ numeric: ['<', 1000] }] } } }, false],
    ['numeric equals', { detail: { count: [{ numeric: ['=', 5] }] } }, true],
    ['numeric against a string', { detail: { reason: [{ numeric: ['>', 0] }] } }, false],
    ['exact number', { detail: { count: [5] } }, true],
    ['null value', { detail: { empty: [null] } }, true],
    ['boolean value', { detail: { flag: [false] } }, true],
    ['event array: any element', { detail: { tags: ['b'] } }, true],
    ['event array: no element', { detail: { tags: ['c'] } }, false],
    ['cidr', { detail: { ip: [{ cidr: '10.0.0.0/16' }] } }, true],
    ['cidr mismatch', { detail: { ip: [{ cidr: '10.1.0.0/16' }] } }, false],
    ['$or', { detail: { $or: [{ reason: ['CopyObject'] }, { object: { size: [1234] } }] } }, true],
    ['$or none', { detail: { $or: [{ reason: ['CopyObject'] }, { object: { size: [1] } }] } }, false],
    ['all fields must match', { 'source': ['aws.s3'], 'detail-type': ['Object Deleted'] }, false],
  ])('%s', (_name, pattern, expected) => {
    expect(matchesPattern(pattern, e)).toBe(expected);
  });

  test('wildcard: * spans "/", is case-sensitive, escapes * and \\ only, and may not repeat (as Event Ruler)', () => {
    const key = (k: string) => ({ ...base, detail: { ...base.detail, object: { ...(base.detail.object as object), key: k } } });
    const w = (wildcard: string, k: string) => matchesPattern({ detail: { object: { key: [{ wildcard }] } } }, key(k));
    expect(w('data/batch/*.jsonl', 'data/batch/2025-08-10/deep/part-1.jsonl')).toBe(true);
    expect(w('data/batch/*.jsonl', 'data/batch/2025-08-10/part-1.JSONL')).toBe(false);
    expect(w('data/batch/*.jsonl', 'data/batch/2025-08-10/part-1.jsonl.gz')).toBe(false);
    expect(w('a\\*b*', 'a*bcd')).toBe(true);
    expect(w('a\\*b*', 'axbcd')).toBe(false);
    expect(w('a\\\\b*', 'a\\bc')).toBe(true);
    expect(() => w('data/**.jsonl', 'data/x.jsonl')).toThrow(/consecutive wildcard/);
    expect(() => w('data\\/x*', 'data/x')).toThrow(/backslash/);
    expect(() => w('data/x\\', 'data/x')).toThrow(/backslash/);
  });

  test('invalid patterns are rejected', () => {
    expect(() => matchesPattern({ source: 'aws.s3' }, e)).toThrow(/array or an object/);
    expect(() => matchesPattern({ source: [{ nope: 1 }] }, e)).toThrow(/unknown matcher/);
    expect(() => matchesPattern({ detail: { count: [{ numeric: ['>>', 1] }] } }, e)).toThrow(/numeric operator/);
  });
});

describe('the pipeline rule starts executions for data files under the raw prefix only', () => {
  const stack = new Stack(new App(), 'Stack', { env: { account: '000000000000', region: 'us-east-1' } });
  new AccreditationPipeline(stack, 'Pipeline');
  const t = resolveTemplate(Template.fromStack(stack).toJSON() as CfnTemplate);
  const [rule] = t.eventRules();
  const bucket = t.buckets().find((b) => b.logicalId.startsWith('PipelineDataBucket'))!.name;
  const created = (key: string) => objectCreatedEvent({ bucket, key, size: 10, etag: '"e"', sequencer: '01', time: base.time, requestId: 'r' });

  test.each([
    'data/batch/2025-08-10/part-1.jsonl', 'data/batch/2025-08-10/part-1.ndjson', 'data/batch/2025-08-10/part-1.json',
    'data/batch/2025-08-10/part-1.jsonl.gz', 'data/batch/2025-08-10/part-1.ndjson.gz', 'data/batch/2025-08-10/part-1.json.gz',
    'data/batch/2025-08-10/nested/dir/x.jsonl',
  ])('matches %s', (key) => {
    expect(matchesPattern(rule.eventPattern!, created(key))).toBe(true);
  });

  test.each([
    'data/batch/2025-08-10/', 'data/batch/2025-08-10/_SUCCESS', 'data/batch/2025-08-10/manifest.txt',
    'data/batch/2025-08-10/part-1.jsonl.tmp', 'data/batch/2025-08-10/part-1.gz', 'data/batch/2025-08-10/part-1.csv',
    'validated/snapshot_date=2025-08-10/part-1.jsonl', 'other/data/batch/x.jsonl',
    // the rule matches lowercase extensions only (EventBridge wildcards are case-sensitive)
    'data/batch/2025-08-10/PART-1.JSONL', 'data/batch/2025-08-10/part-1.Json.GZ',
  ])('ignores %s', (key) => {
    expect(matchesPattern(rule.eventPattern!, created(key))).toBe(false);
  });

  test('an object in another bucket does not match', () => {
    const other = objectCreatedEvent({ bucket: 'elsewhere', key: 'data/batch/2025-08-10/x.jsonl', size: 1, etag: '"e"', sequencer: '01', time: base.time, requestId: 'r' });
    expect(matchesPattern(rule.eventPattern!, other)).toBe(false);
  });
});

describe('targetInput', () => {
  const rule = { name: 'r1', arn: 'arn:aws:events:us-east-1:000000000000:rule/r1' };
  test('Input, InputPath and InputTransformer', () => {
    expect(targetInput({ id: 't', arn: 'x', input: '{"fixed":true}' }, base, rule)).toEqual({ fixed: true });
    expect(targetInput({ id: 't', arn: 'x', inputPath: '$.detail.object' }, base, rule)).toEqual(base.detail.object);
    expect(targetInput({ id: 't', arn: 'x' }, base, rule)).toBe(base);
    expect(targetInput({
      id: 't',
      arn: 'x',
      inputTransformer: {
        InputPathsMap: { bucket: '$.detail.bucket.name', key: '$.detail.object.key', size: '$.detail.object.size', res: '$.resources' },
        InputTemplate: '{"bucket": <bucket>, "text": "<key> is <size> bytes", "size": <size>, "res": <res>, "rule": "<aws.events.rule-name>"}',
      },
    }, base, rule)).toEqual({
      bucket: 'data-bucket', text: 'data/batch/2025-08-10/part-1.jsonl is 1234 bytes', size: 1234, res: ['arn:aws:s3:::data-bucket'], rule: 'r1',
    });
  });
});

describe('LocalEventBridge delivery', () => {
  const rule: EventRule = {
    name: 'raw-objects',
    eventPattern: { 'source': ['aws.s3'], 'detail-type': ['Object Created'], 'detail': { object: { key: [{ prefix: 'data/batch/' }] } } },
    targets: [{ id: 'sm', arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m' }],
  };
  const notices = Array.from({ length: 20 }, (_, i) => ({ bucket: 'b', key: `data/batch/2025-08-10/f${String(i).padStart(2, '0')}.jsonl`, size: i }));

  function bus(delivery: ConstructorParameters<typeof LocalEventBridge>[0]['delivery']) {
    const started: Array<{ key: string; input: EventBridgeEvent }> = [];
    let n = 0;
    const eb = new LocalEventBridge({
      rules: [rule],
      delivery,
      targets: {
        startExecution: (arn, input) => {
          const ev = input as EventBridgeEvent;
          started.push({ key: (ev.detail as any).object.key, input: ev });
          return { executionArn: `${arn}:e${++n}`, result: new Promise((r) => setTimeout(() => r({ status: 'SUCCEEDED' }), 5)) };
        },
      },
    });
    return { eb, started };
  }

  test('only matching events are delivered, once each by default, in order', async () => {
    const { eb, started } = bus({});
    eb.objectsCreated([...notices, { bucket: 'b', key: 'validated/x.jsonl', size: 1 }]);
    await eb.waitForIdle();
    expect(started.map((s) => s.key)).toEqual(notices.map((x) => x.key));
    expect(eb.executions().every((x) => x.status === 'SUCCEEDED')).toBe(true);
    expect(eb.deliveries().every((d) => d.status === 'DELIVERED' && d.attempts === 1)).toBe(true);
  });

  test('duplicates and reordering are seeded and reproducible', async () => {
    const run = async (seed: number) => {
      const { eb, started } = bus({ duplicateRate: 0.5, duplicateCount: 2, reorder: true, delayMs: [0, 5], seed });
      eb.objectsCreated(notices);
      await eb.waitForIdle();
      return { keys: started.map((s) => s.key), eb };
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(7);
    const sortedA = [...a.eb.deliveries()].map((d) => `${d.key}#${d.copy}`).sort();
    expect([...b.eb.deliveries()].map((d) => `${d.key}#${d.copy}`).sort()).toEqual(sortedA);
    // Every key is delivered at least once, some more than once (at-least-once delivery).
    expect(new Set(a.keys)).toEqual(new Set(notices.map((x) => x.key)));
    expect(a.keys.length).toBeGreaterThan(notices.length);
    expect((a.keys.length - notices.length) % 2).toBe(0);
    // The scheduling order of a reordered batch differs from the put order and between seeds.
    const scheduled = (x: typeof a) => x.eb.deliveries().filter((d) => d.copy === 0).map((d) => d.key);
    expect(scheduled(a)).not.toEqual(notices.map((x) => x.key));
    expect(scheduled(a)).toEqual(scheduled(b));
    expect(scheduled(c)).not.toEqual(scheduled(a));
    expect(a.eb.executions()).toHaveLength(a.keys.length);
  });

  test('a failing target is retried up to MaximumRetryAttempts', async () => {
    let calls = 0;
    const eb = new LocalEventBridge({
      rules: [{ ...rule, targets: [{ ...rule.targets[0], retryPolicy: { MaximumRetryAttempts: 2 } }] }],
      delivery: { retryDelayMs: 1 },
      targets: {
        startExecution: () => {
          calls++;
          const e = new Error('Rate exceeded');
          e.name = 'ThrottlingException';
          throw e;
        },
      },
    });
    eb.objectsCreated([notices[0]]);
    await eb.waitForIdle();
    expect(calls).toBe(3);
    expect(eb.deliveries()[0]).toMatchObject({ status: 'FAILED', attempts: 3, error: 'ThrottlingException: Rate exceeded' });
  });

  test('disabled rules and other buses do not match', async () => {
    const { eb, started } = bus({});
    eb.addRule({ ...rule, name: 'off', state: 'DISABLED' });
    eb.addRule({ ...rule, name: 'other-bus', eventBusName: 'custom' });
    expect(eb.putEvents([base]).matched).toBe(1);
    await eb.waitForIdle();
    expect(started).toHaveLength(1);
  });
});

describe('end to end on the synthesized fixture', () => {
  test('S3 notices → rule from the template → state machine executions, duplicates included', async () => {
    const s = synthesizeFixture();
    const t = resolveTemplate(s.template, { assemblyDir: s.assemblyDir });
    const lambda = new LocalLambdaRuntime({ log: () => undefined });
    lambda.registerAll(t.lambdaFunctions());
    const sfn = new LocalStepFunctions({ lambda, waitScale: 0.001, retryScale: 0.001 });
    sfn.register(t.stateMachine());
    const eb = new LocalEventBridge({
      rules: t.eventRules(),
      targets: { startExecution: (arn, input) => sfn.startExecution(arn, input) },
      delivery: { duplicateRate: 1, duplicateCount: 1, seed: 3 },
    });
    const bucket = t.buckets()[0].name;
    try {
      eb.objectsCreated([
        { bucket, key: 'data/batch/2025-08-10/a.jsonl', size: 10 },
        { bucket, key: 'data/batch/2025-08-10/b.jsonl', size: 10 },
        { bucket, key: 'curated/ignored.parquet', size: 10 },
        { bucket: 'another-bucket', key: 'data/batch/2025-08-10/c.jsonl', size: 10 },
      ]);
      await eb.waitForIdle();
      const execs = eb.executions();
      expect(execs).toHaveLength(4);
      expect(execs.map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      expect(new Set(execs.map((e) => e.key))).toEqual(new Set(['data/batch/2025-08-10/a.jsonl', 'data/batch/2025-08-10/b.jsonl']));
      expect(sfn.listExecutions().every((d) => d.status === 'SUCCEEDED')).toBe(true);
    } finally {
      await sfn.close();
      await lambda.close();
    }
  });
});

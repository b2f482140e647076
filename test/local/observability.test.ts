/**
 * A run's observability (local/orchestrator/observability.ts): the data quality computed from the metrics local
 * Lambdas emit through their logs, the summary's block, and the execution histories written for the run report.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataQualityLines } from '../../cli/commands/local-summary';
import { LocalLambdaRuntime } from '../../local/lambda';
import { dataQuality, writeExecutionHistories } from '../../local/orchestrator/index';
import { LocalStepFunctions } from '../../local/stepfunctions';
import { METRICS_NAMESPACE } from '../../src/contract/observability';

const code = mkdtempSync(join(tmpdir(), 'medlaunch-elt-observability-'));
// Emits the contract's metrics as Powertools Metrics writes them (one JSON line per flush; `service` is Powertools'
// default dimension); a reason's count is its own flush with the Reason dimension.
writeFileSync(join(code, 'index.js'), `
'use strict';
const flush = (dims, metrics, units = {}) => console.log(JSON.stringify({
  _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: process.env.NS, Dimensions: dims.map((d) => Object.keys(d)),
    Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: units[Name] || 'Count' })) }] },
  ...Object.assign({}, ...dims), ...metrics }));
const base = { service: 'validator', Pipeline: 'Demo' };
exports.validate = async (e) => {
  flush([base], { RecordsRead: e.read, RecordsValid: e.valid, RecordsQuarantined: e.read - e.valid, DuplicateRecords: e.dup,
    BlankLines: 1, ExpiringFacilities: e.expiring, FilesProcessed: 1 });
  for (const [Reason, n] of Object.entries(e.reasons)) flush([{ ...base, Reason }], { QuarantinedByReason: n });
  return 'ok';
};
exports.query = async (e) => {
  // Two dimension sets in one document: CloudWatch stores the values once per set; only one may be summed.
  flush([{ Pipeline: 'Demo', Query: e.query }, { service: 'query-runner', Pipeline: 'Demo', Query: e.query }],
    { QueryBytesScanned: e.bytes, QueryEngineTime: 120, QueriesSucceeded: 1 }, { QueryBytesScanned: 'Bytes', QueryEngineTime: 'Milliseconds' });
  return 'ok';
};
exports.broken = async () => { console.log('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"MedlaunchElt","Dimensions":[[]],"Metrics":[{"Name":"RecordsRead"}]}]}}'); };
`);

describe('data quality from the metrics the local Lambdas emit', () => {
  let rt: LocalLambdaRuntime;
  beforeEach(() => {
    rt = new LocalLambdaRuntime({ log: () => undefined });
    for (const h of ['validate', 'query', 'broken']) rt.register({ name: h, assetDir: code, handler: `index.${h}`, env: { NS: METRICS_NAMESPACE }, timeoutSeconds: 10 });
  });
  afterEach(() => rt.close());

  test('sums over the run per metric, reasons by count, one dimension set per metric; the summary block says it', async () => {
    await rt.invoke('validate', { read: 6, valid: 3, dup: 1, expiring: 1, reasons: { invalid_json: 1, invalid_date: 1, snapshot_mismatch: 1 } });
    await rt.invoke('validate', { read: 10, valid: 6, dup: 0, expiring: 4, reasons: { invalid_json: 3, missing_field: 1 } });
    await rt.invoke('query', { query: 'facility_extract', bytes: 3000 });
    await rt.invoke('query', { query: 'state_counts', bytes: 2000 });
    const q = dataQuality(rt.metrics.snapshot());
    expect(q).toEqual({
      namespace: 'MedlaunchElt',
      filesProcessed: 2,
      recordsRead: 16,
      recordsValid: 9,
      recordsQuarantined: 7,
      quarantineRate: 7 / 16,
      quarantinedByReason: { invalid_json: 4, invalid_date: 1, missing_field: 1, snapshot_mismatch: 1 },
      duplicates: 1,
      blankLines: 2,
      expiring: 5,
      queries: { succeeded: 2, failed: 0, bytesScanned: 5000, engineTimeMs: 240 },
      snapshotsPublished: 0,
    });
    expect(Object.keys(q!.quarantinedByReason)).toEqual(['invalid_json', 'invalid_date', 'missing_field', 'snapshot_mismatch']);
    const lines = dataQualityLines({ ...rt.metrics.snapshot(), dataQuality: q });
    expect(lines).toEqual([
      'data quality (the Lambdas\' metrics, namespace MedlaunchElt):',
      '  records read 16: valid 9, quarantined 7 (43.8%; invalid_json 4, invalid_date 1, missing_field 1, … (+1 more))',
      '  duplicates 1 · blank lines 2 · expiring 5 · files processed 2',
      '  Athena: 2 queries succeeded, 0 failed · 4.9 KiB scanned · engine time 240 ms · 0 snapshots published',
    ]);
  });

  test('nothing emitted: no figures, the summary says so; a rejected document is reported, never thrown', async () => {
    expect(dataQuality(rt.metrics.snapshot())).toBeUndefined();
    expect(dataQualityLines({ ...rt.metrics.snapshot() })).toEqual([
      'data quality: the Lambdas emitted no metrics (embedded metric format) in the pipeline\'s namespace',
    ]);
    expect((await rt.invoke('broken', {})).functionError).toBeUndefined();
    const m = rt.metrics.snapshot();
    expect(dataQuality(m)).toBeUndefined();
    expect(dataQualityLines(m)[1]).toMatch(/^metrics: 1 EMF document rejected as CloudWatch would \(0 parsing, 1 validation\); first: broken: .*RecordsRead has no member/);
  });

  test('metrics of another namespace are not the pipeline\'s', async () => {
    const other = new LocalLambdaRuntime({ log: () => undefined });
    other.register({ name: 'validate', assetDir: code, handler: 'index.validate', env: { NS: 'SomethingElse' } });
    try {
      await other.invoke('validate', { read: 1, valid: 1, dup: 0, expiring: 0, reasons: {} });
      expect(dataQuality(other.metrics.snapshot())).toBeUndefined();
      expect(dataQualityLines(other.metrics.snapshot())[0]).toMatch(/no metrics .* \(1 EMF document in others\)$/);
    } finally {
      await other.close();
    }
  });
});

test('writeExecutionHistories: one <execution name>.json per execution, GetExecutionHistory\'s shape', async () => {
  const work = mkdtempSync(join(tmpdir(), 'medlaunch-elt-histories-'));
  const sfn = new LocalStepFunctions({ lambda: { invoke: async () => { throw new Error('no Lambda here'); } } });
  try {
    const arn = sfn.register({
      name: 'm',
      definition: { StartAt: 'A', States: { A: { Type: 'Pass', Next: 'B' }, B: { Type: 'Fail', Error: 'Nope', Cause: 'on purpose' } } },
    });
    await sfn.startExecution(arn, { n: 1 }, 'first').result;
    await sfn.startExecution(arn, { n: 2 }, 'second').result;
    const dir = await writeExecutionHistories(sfn, work);
    expect(dir).toBe(join(work, 'executions'));
    expect(readdirSync(dir).sort()).toEqual(['first.json', 'second.json']);
    const h = JSON.parse(readFileSync(join(dir, 'second.json'), 'utf8'));
    expect(h).toMatchObject({ name: 'second', status: 'FAILED', error: 'Nope', cause: 'on purpose', executionArn: expect.stringMatching(/:execution:m:second$/) });
    expect(h.events.map((e: { type: string }) => e.type)).toEqual(['ExecutionStarted', 'PassStateEntered', 'PassStateExited', 'FailStateEntered', 'ExecutionFailed']);
    expect(h.events[1]).toMatchObject({ id: 2, previousEventId: 1, stateEnteredEventDetails: { name: 'A' } });
    expect(new Date(h.events[4].timestamp).toISOString()).toBe(h.events[4].timestamp);
    expect(existsSync(join(dir, 'first.json'))).toBe(true);
  } finally {
    await sfn.close();
    rmSync(work, { recursive: true, force: true });
  }
});

/**
 * A work folder as `medlaunch-elt local` leaves it after a run of the shipped data (data/batch), for the report
 * tests: the pipeline's bucket in the embedded S3 with a run report per snapshot (`reports/…/report.json`) and
 * the expiring output (`expiring/…`), the synthesized template (`cdk.out`, the committed integ snapshot) and the
 * execution histories (`executions/<name>.json`, GetExecutionHistory's shape, as the local run writes them).
 *
 * The numbers are not typed in: each snapshot's files are validated by the real `expiring` command (the bundled
 * CLI), and the totals are checked against test/fixtures/shipped-expected.json (docs/data.md, "Expected results on
 * the shipped data") before anything is written.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readDeployment } from '../../../cli/report/local';
import { buildExecutionTrace } from '../../../cli/report/traces';
import type { ExecutionTrace } from '../../../cli/report/types';
import { addMonths } from '../../../lambda-src/lib/dates';
import { EXECUTIONS_FOLDER } from '../../../local/orchestrator/observability';
import { LocalS3 } from '../../../local/s3';
import type { FileSummary, ReportExecution, RunReport } from '../../../src/contract/observability';

export const REPO = join(__dirname, '..', '..', '..');
const DATA = join(REPO, 'data', 'batch');
const INTEG = join(REPO, 'integ', 'integ.pipeline.ts.snapshot');

export interface ExpectedSnapshot {
  readonly records: number;
  readonly valid: number;
  readonly quarantined: number;
  readonly blank: number;
  readonly duplicates: number;
  readonly expiring: string[];
  readonly state_counts: Record<string, number>;
}

export function shippedExpected(): Record<string, ExpectedSnapshot> {
  return JSON.parse(readFileSync(join(REPO, 'test', 'fixtures', 'shipped-expected.json'), 'utf8')) as Record<string, ExpectedSnapshot>;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []);
const nonBlank = (file: string) => lines(file).filter((l) => l.trim() !== '');

/** Runs the bundled CLI's `expiring` on one snapshot folder; returns its output folder. */
function validateSnapshot(dir: string, out: string): { read: number; valid: number; quarantined: number; duplicates: number; blank: number } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin', 'medlaunch-elt.js'), 'expiring', '--input', dir, '--output', out, '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`expiring ${dir}: exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const T0 = (d: string) => Date.parse(`${d}T12:00:00.000Z`);
const at = (ms: number) => new Date(ms).toISOString();

/** Every state's type in a definition (Parallel branches and Map iterators included). */
function stateTypes(def: { States?: Record<string, any> }, out = new Map<string, string>()): Map<string, string> {
  for (const [name, st] of Object.entries(def.States ?? {})) {
    out.set(name, st.Type);
    for (const b of st.Branches ?? []) stateTypes(b, out);
    for (const inner of [st.Iterator, st.ItemProcessor]) if (inner) stateTypes(inner, out);
  }
  return out;
}

/**
 * The history of one execution that takes `path`, in GetExecutionHistory's shape as a local run writes it
 * (`<workdir>/executions/<name>.json`): each Task state an attempt of its Lambda function, a state in `retriedOnce`
 * a failed attempt (timed out) and its retry.
 */
function history(o: { arn: string; types: Map<string, string>; path: string[]; retriedOnce?: string[]; started: number; stopped: number }) {
  const events: Array<Record<string, unknown>> = [];
  const push = (type: string, extra: Record<string, unknown> = {}) => {
    const id = events.length + 1;
    events.push({ id, previousEventId: id - 1, timestamp: at(o.started + id * 10), type, ...extra });
  };
  push('ExecutionStarted', { executionStartedEventDetails: {} });
  for (const state of o.path) {
    const t = o.types.get(state);
    if (!t) throw new Error(`fixture: no state ${state} in the template's state machine`);
    push(`${t}StateEntered`, { stateEnteredEventDetails: { name: state } });
    if (t === 'Task') {
      if (o.retriedOnce?.includes(state)) push('LambdaFunctionScheduled'), push('LambdaFunctionStarted'), push('LambdaFunctionTimedOut');
      push('LambdaFunctionScheduled'), push('LambdaFunctionStarted'), push('LambdaFunctionSucceeded');
    }
    if (t !== 'Succeed' && t !== 'Fail') push(`${t}StateExited`, { stateExitedEventDetails: { name: state } });
  }
  push('ExecutionSucceeded', { executionSucceededEventDetails: {} });
  const name = o.arn.split(':').pop()!;
  return { executionArn: o.arn, name, status: 'SUCCEEDED', startDate: at(o.started), stopDate: at(o.stopped), events };
}
const VALIDATE = ['CheckInput', 'DescribeObject', 'DefaultAsOf', 'RecordRun', 'ProcessObject', 'WaitQuietPeriod', 'ReadTicket', 'IsLatestTicket'];
const SUPERSEDED = [...VALIDATE, 'AfterSuperseded', 'Superseded'];
const PUBLISHED = [...VALIDATE, 'RefreshSnapshot',
  'StartExtract', 'IsExtractDone', 'WaitForExtract', 'PollExtract', 'IsExtractDone', 'ExtractReady',
  'StartStateCounts', 'IsStateCountsDone', 'StateCountsReady', 'PublishResults', 'AfterRefresh', 'Done'];

export interface ReportFixture {
  readonly workDir: string;
  readonly bucket: string;
  readonly reports: RunReport[];
  readonly traces: ExecutionTrace[];
  /** The expiring records uploaded per snapshot (each an original line). */
  readonly expiringLines: Record<string, string[]>;
  readonly cleanup: () => void;
}

/**
 * Writes the fixture work folder under a new temporary folder. `only` limits the snapshots; `mutate` may change
 * each report before it is uploaded (unhappy paths).
 */
export async function buildReportFixture(o: { only?: string[]; mutate?: (r: RunReport) => unknown } = {}): Promise<ReportFixture> {
  const root = mkdtempSync(join(tmpdir(), 'report-fixture-'));
  const workDir = join(root, 'work');
  mkdirSync(join(workDir, 'cdk.out'), { recursive: true });
  for (const f of readdirSync(INTEG)) if (f === 'manifest.json' || f.endsWith('.template.json')) copyFileSync(join(INTEG, f), join(workDir, 'cdk.out', f));
  writeFileSync(join(workDir, '.medlaunch-elt-workdir'), 'Created by `medlaunch-elt local`; the next run clears this folder.\n');
  const dep = readDeployment(workDir, []);
  if (!dep.bucket || !dep.stateMachine) throw new Error('fixture: the integ template names no bucket or state machine');
  const bucket = dep.bucket;
  const machine = dep.stateMachine.name;
  const expected = shippedExpected();
  const reports: RunReport[] = [];
  const traces: ExecutionTrace[] = [];
  const histories: Array<ReturnType<typeof history>> = [];
  const types = stateTypes(dep.stateMachine.definition as { States?: Record<string, any> });
  const expiringLines: Record<string, string[]> = {};
  const uploads: Array<{ key: string; body: string }> = [];

  for (const d of Object.keys(expected).filter((x) => !o.only || o.only.includes(x)).sort()) {
    const out = join(root, 'validated', d);
    const totals = validateSnapshot(join(DATA, d), out);
    const exp = expected[d];
    if (totals.read !== exp.records || totals.valid !== exp.valid || totals.quarantined !== exp.quarantined || totals.duplicates !== exp.duplicates) {
      throw new Error(`fixture ${d}: the validator's totals ${JSON.stringify(totals)} differ from shipped-expected.json`);
    }
    const files: FileSummary[] = [];
    const executions: ReportExecution[] = [];
    const reasons: Record<string, number> = {};
    const stems = readdirSync(join(DATA, d)).filter((f) => f.endsWith('.jsonl')).sort();
    expiringLines[d] = [];
    stems.forEach((file, i) => {
      const src = join(DATA, d, file);
      const key = `data/batch/${d}/${file}`;
      const quarantined = nonBlank(join(out, '_quarantine', `snapshot_date=${d}`, file)).map((l) => JSON.parse(l) as { reason: string });
      const firstValid = nonBlank(join(out, '_validated', `snapshot_date=${d}`, file)).length;
      const expiring = nonBlank(join(out, `snapshot_date=${d}`, file));
      const read = nonBlank(src).length;
      const fileReasons: Record<string, number> = {};
      for (const q of quarantined) {
        fileReasons[q.reason] = (fileReasons[q.reason] ?? 0) + 1;
        reasons[q.reason] = (reasons[q.reason] ?? 0) + 1;
      }
      const started = T0(d) + i * 2_000;
      const arn = `arn:aws:states:us-east-1:000000000000:execution:${machine}:${d}-${basename(file, '.jsonl')}`;
      files.push({
        schemaVersion: 1,
        key,
        snapshotDate: d,
        asOf: d,
        read,
        valid: read - quarantined.length,
        quarantined: quarantined.length,
        duplicates: read - quarantined.length - firstValid,
        blankLines: lines(src).slice(0, -1).filter((l) => l.trim() === '').length,
        expiring: expiring.length,
        reasons: fileReasons,
        executionArn: arn,
        objectCreatedAt: at(started - 500),
        validatedAt: at(started + 1_200),
      });
      const last = i === stems.length - 1;
      executions.push({ executionArn: arn, key, startedAt: at(started), role: 'validated', finishedAt: at(started + (last ? 38_500 : 31_400)) });
      if (last) executions.push({ executionArn: arn, key, startedAt: at(started), role: 'published', finishedAt: at(started + 38_500) });
      // 2025-08-13's second file: Stage 2 failed once (a Lambda timeout) and was retried.
      const retried = d === '2025-08-13' && i === 1 ? ['ProcessObject'] : [];
      const stopped = started + (last ? 38_500 : 31_400);
      const h = history({ arn, types, path: last ? PUBLISHED : SUPERSEDED, retriedOnce: retried, started, stopped });
      histories.push(h);
      const execution = { executionArn: arn, name: h.name, status: h.status, startedAt: h.startDate, stoppedAt: h.stopDate };
      traces.push(buildExecutionTrace(execution, h.events));
      expiringLines[d].push(...expiring);
      if (expiring.length > 0) uploads.push({ key: `expiring/snapshot_date=${d}/${file}`, body: `${expiring.join('\n')}\n` });
    });
    const sum = (k: 'read' | 'valid' | 'quarantined' | 'blankLines' | 'expiring') => files.reduce((a, f) => a + f[k], 0);
    const published = T0(d) + (stems.length - 1) * 2_000 + 38_000;
    const extractBytes = stems.reduce((a, f) => a + statSync(join(DATA, d, f)).size, 0);
    const report: RunReport = {
      schemaVersion: 1,
      pipeline: 'MedlaunchEltPipelineInteg-Pipeline',
      snapshotDate: d,
      asOf: d,
      expiryMonths: 6,
      window: { from: d, to: addMonths(d, 6) },
      generatedAt: at(published),
      files,
      totals: {
        files: files.length,
        read: sum('read'),
        valid: sum('valid'),
        quarantined: sum('quarantined'),
        duplicates: totals.duplicates,
        blankLines: sum('blankLines'),
        expiring: exp.expiring.length,
        quarantineRate: sum('read') === 0 ? 0 : sum('quarantined') / sum('read'),
      },
      reasons,
      stateCounts: Object.entries(exp.state_counts).map(([state, accreditedFacilities]) => ({ state, accreditedFacilities })),
      queries: [
        { query: 'facility_extract', queryExecutionId: `${d}-extract`, submittedAt: at(published - 5_000), completedAt: at(published - 3_600), bytesScanned: extractBytes, engineTimeMs: 1_180, state: 'SUCCEEDED' },
        { query: 'state_counts', queryExecutionId: `${d}-counts`, submittedAt: at(published - 5_000), completedAt: at(published - 4_100), bytesScanned: 1_843, engineTimeMs: 640, state: 'SUCCEEDED' },
      ],
      executions,
      publish: { publishedAt: at(published), lagSeconds: 39.1, productionKeys: [`production/state_counts/snapshot_date=${d}/state_counts.json`] },
    };
    reports.push(report);
    const body = o.mutate ? o.mutate(report) ?? report : report;
    uploads.push({ key: `reports/snapshot_date=${d}/report.json`, body: typeof body === 'string' ? body : JSON.stringify(body, null, 2) });
  }

  const server = await LocalS3.start({ rootDir: join(workDir, 's3') });
  const s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    await server.createBucket(bucket);
    for (const u of uploads) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: u.key, Body: u.body }));
  } finally {
    s3.destroy();
    await server.close();
  }
  mkdirSync(join(workDir, EXECUTIONS_FOLDER));
  for (const h of histories) writeFileSync(join(workDir, EXECUTIONS_FOLDER, `${h.name}.json`), `${JSON.stringify(h, null, 2)}\n`);
  return { workDir, bucket, reports, traces, expiringLines, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * The text summary of `medlaunch-elt local`: the per-snapshot table and details, the executions, the AWS requests,
 * the run's data quality from the metrics the Lambdas emitted, the drill and where the outputs are (docs/cli.md).
 */
import { join } from 'node:path';
import type * as Runner from '../../local/orchestrator/index';
import { plural, shortPath } from '../args';

/**
 * One line of the AWS requests a run made (the `requests` of --json), e.g.
 * `AWS requests: S3 1,234 (ListObjectsV2 400, PutObject 300, …) · Lambda 300 · Athena 12 · SNS 0 · Step Functions 1,200 transitions`.
 */
export function requestsLine(q: Runner.RequestReport): string {
  const total = (o: Record<string, number>) => Object.values(o).reduce((n, v) => n + v, 0);
  const top = (o: Record<string, number>) => Object.entries(o).sort(([, a], [, b]) => b - a).slice(0, 4)
    .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
  const part = (name: string, o: Record<string, number>) => `${name} ${total(o).toLocaleString('en-US')}${total(o) > 0 ? ` (${top(o)})` : ''}`;
  return `AWS requests: ${part('S3', q.s3)} · ${part('Athena', q.athena)} · Lambda ${total(q.lambda).toLocaleString('en-US')} invocations`
    + ` · SNS ${total(q.sns)} · Step Functions ${q.stepfunctions.StartExecution.toLocaleString('en-US')} executions,`
    + ` ${q.stepfunctions.StateTransitions.toLocaleString('en-US')} transitions · EventBridge ${q.events.PutEvents.toLocaleString('en-US')} events`;
}

const count = (n: number) => n.toLocaleString('en-US');

function bytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  for (let v = n; v >= 1024 && i < units.length - 1; v /= 1024) i++;
  return i === 0 ? `${count(n)} bytes` : `${(n / 1024 ** i).toFixed(1)} ${units[i]}`;
}

/** How many quarantine reasons the summary names (largest first). */
const TOP_REASONS = 3;

/**
 * The run's data quality, computed from the metrics the Lambdas emitted (not from the outputs read back: the table
 * above is), and the EMF documents CloudWatch would have rejected, if any.
 */
export function dataQualityLines(m: Runner.RunMetrics | undefined): string[] {
  if (!m) return [];
  const out: string[] = [];
  const q = m.dataQuality;
  if (!q) {
    out.push(`data quality: the Lambdas emitted no metrics (embedded metric format) in the pipeline's namespace${m.documents > 0 ? ` (${plural(m.documents, 'EMF document')} in others)` : ''}`);
  } else {
    const reasons = Object.entries(q.quarantinedByReason);
    const top = reasons.slice(0, TOP_REASONS).map(([k, n]) => `${k} ${count(n)}`).join(', ')
      + (reasons.length > TOP_REASONS ? `, … (+${reasons.length - TOP_REASONS} more)` : '');
    out.push(`data quality (the Lambdas' metrics, namespace ${q.namespace}):`);
    out.push(`  records read ${count(q.recordsRead)}: valid ${count(q.recordsValid)}, quarantined ${count(q.recordsQuarantined)}`
      + ` (${(q.quarantineRate * 100).toFixed(1)}%${top ? `; ${top}` : ''})`);
    out.push(`  duplicates ${count(q.duplicates)} · blank lines ${count(q.blankLines)} · expiring ${count(q.expiring)} · files processed ${count(q.filesProcessed)}`);
    out.push(`  Athena: ${plural(q.queries.succeeded, 'query', 'queries')} succeeded, ${count(q.queries.failed)} failed · ${bytes(q.queries.bytesScanned)} scanned`
      + ` · engine time ${count(q.queries.engineTimeMs)} ms · ${plural(q.snapshotsPublished, 'snapshot')} published`);
  }
  const rejected = m.rejected.parsing + m.rejected.validation;
  if (rejected > 0) {
    const first = m.rejected.first[0];
    out.push(`metrics: ${plural(rejected, 'EMF document')} rejected as CloudWatch would (${m.rejected.parsing} parsing, ${m.rejected.validation} validation)`
      + `${first ? `; first: ${first.function}: ${first.reason}` : ''}`);
  }
  return out;
}

/** Short headers for the extract's sample rows (the Parquet column names are in README's Outputs table). */
const SAMPLE_HEADERS: Record<string, string> = {
  employee_count: 'employees',
  number_of_offered_services: 'services',
  expiry_date_of_first_accreditation: 'first_expiry',
  earliest_accreditation_expiry: 'earliest_expiry',
};

const here = shortPath;
const MAX_IDS = 5;

export function renderSummary(r: Runner.LocalRunResult): string {
  const rows = Object.entries(r.snapshots).map(([d, s]) => {
    const x = r.details[d];
    return [
      d,
      String(x?.files ?? ''),
      String(x?.lines ?? ''),
      String(s.records),
      String(s.valid),
      String(x?.duplicates ?? ''),
      String(s.quarantined),
      String(x?.blank ?? ''),
      String(s.extract_rows),
      String(s.expiring.length),
      Object.entries(s.state_counts).map(([st, n]) => `${st}:${n}`).join(' ') || '-',
    ];
  });
  const head = ['snapshot', 'files', 'lines', 'records', 'valid', 'duplicates', 'quarantined', 'blank', 'extract', 'expiring', 'accredited facilities by state'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  const ok = r.executions.filter((e) => e.status === 'SUCCEEDED').length;
  const out = ['', line(head), ...rows.map(line), ''];
  out.push('lines = records + blank lines; records = valid + quarantined; the extract and the counts hold each facility once (valid − duplicates)');
  for (const [d, s] of Object.entries(r.snapshots)) {
    const x = r.details[d];
    if (!x) continue;
    out.push('', `${d}:`);
    const reasons = Object.entries(x.quarantine_reasons).map(([k, n]) => `${k} ${n}`).join(', ');
    out.push(s.quarantined > 0 ? `  quarantined ${s.quarantined} (${reasons}) → ${here(x.quarantine_path)}/` : '  quarantined 0');
    const ids = s.expiring.slice(0, MAX_IDS).join(', ') + (s.expiring.length > MAX_IDS ? `, … (+${s.expiring.length - MAX_IDS} more)` : '');
    out.push(`  expiring ${plural(s.expiring.length, 'facility', 'facilities')} in ${x.window.from} → ${x.window.to}${ids ? `: ${ids}` : ''}`
      + `${s.expiring.length > 0 ? ` → ${here(x.expiring_path)}/` : ''}`);
    if (x.extract_files.length > 0) {
      out.push(`  extract ${plural(s.extract_rows, 'row')} (Parquet) → ${here(join(x.extract_files[0], '..'))}/ (${plural(x.extract_files.length, '.parquet file')})`);
      const cols = Object.keys(x.extract_sample[0] ?? {}).filter((c) => c !== 'snapshot_date');
      if (cols.length > 0) {
        const cell = (v: string | null) => (v === null ? 'NULL' : v.length > 28 ? `${v.slice(0, 27)}…` : v);
        const cells = [cols.map((c) => SAMPLE_HEADERS[c] ?? c), ...x.extract_sample.map((row) => cols.map((c) => cell(row[c])))];
        const w = cols.map((_, i) => Math.max(...cells.map((c) => String(c[i]).length)));
        for (const c of cells) out.push(`    ${c.map((v, i) => String(v).padEnd(w[i])).join('  ').trimEnd()}`);
      }
    } else {
      out.push(`  extract ${plural(s.extract_rows, 'row')}`);
    }
  }
  out.push('');
  if (r.skipped.some((f) => f.reason !== 'medlaunch-elt bookkeeping')) {
    const data = r.skipped.filter((f) => f.reason !== 'medlaunch-elt bookkeeping');
    out.push(`not uploaded: ${data.map((f) => f.path).join(', ')} (not data files: the pipeline's event rule matches only .jsonl, .ndjson, .json, optionally .gz)`);
  }
  out.push(`executions: ${ok} succeeded, ${r.executions.length - ok} failed; alerts: ${r.alerts.length}`);
  if (r.requests) out.push(requestsLine(r.requests));
  out.push(...dataQualityLines(r.metrics));
  const drill = r.drill;
  if (drill.faults.length > 0 || drill.duplicate_events > 0 || drill.shuffle) {
    out.push(`drill (seed ${drill.seed}):`);
    if (drill.duplicate_events > 0) out.push(`  injected: every S3 event delivered ${drill.duplicate_events} extra ${drill.duplicate_events === 1 ? 'time' : 'times'}`);
    if (drill.shuffle) out.push('  injected: events delivered in a shuffled (seeded) order');
    for (const f of drill.faults) out.push(`  injected ${f.fault}: ${f.injected}`);
    if (drill.s3_slowdowns > 0) out.push(`  S3 answered ${plural(drill.s3_slowdowns, 'request')} with 503 SlowDown; the SDK and the uploader retried them`);
    if (drill.lambda_timeouts.length > 0) out.push(`  Lambda timed out on: ${drill.lambda_timeouts.join(', ')}`);
    const retries = Object.entries(drill.retries).map(([k, n]) => `${k} ×${n}`).join(', ');
    out.push(`  state machine retries: ${retries || 'none'}`);
    out.push(drill.recovered
      ? `  recovered: all ${plural(drill.executions, 'execution')} succeeded, ${plural(drill.alerts, 'alert')}`
      : `  not recovered: ${drill.failed} of ${plural(drill.executions, 'execution')} failed, ${plural(drill.alerts, 'alert')} published (as designed for a permanent failure)`);
  }
  const bucketDir = here(r.bucketDir);
  out.push(`outputs: ${bucketDir}/ (validated/, expiring/, quarantine/, curated/, results/, production/); extract as .parquet: ${here(join(r.workDir, 'extract'))}/`);
  out.push(`execution histories (GetExecutionHistory's shape): ${here(r.executionHistories)}/`);
  if (r.report) out.push(`report: ${here(r.report)}`);
  if (r.alertsLog) out.push(`alerts log: ${here(r.alertsLog)}`);
  out.push('');
  return out.join('\n');
}

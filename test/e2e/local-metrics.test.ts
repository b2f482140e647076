/**
 * The observability of a local run end to end (issue #12): the real pipeline's Lambdas emit CloudWatch metrics in the
 * embedded metric format, the local Lambda runtime extracts them from their logs as CloudWatch Logs would, and
 * `local --json` / the text summary report the data quality computed from them — figures that must agree with what
 * the run reads back from its outputs (the contract summary and details). And the run's HTML report
 * (`<workdir>/report.html`, docs/report.md): self-contained, showing every snapshot the run published with its
 * counts, its state machine colored by the executions' histories.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLocalReport } from '../../cli/report';
import { runLocalPipeline } from '../../local/orchestrator/index';
import { METRICS, METRICS_NAMESPACE, PIPELINE_DIMENSION, QUERY_DIMENSION, REASON_DIMENSION } from '../../src/contract/observability';

const BIN = join(__dirname, '..', '..', 'bin', 'medlaunch-elt.js');
const cli = (args: string[], cwd: string) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 280_000 });
const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);

const ROOT = join(__dirname, '..', '..');
const expected: Record<string, { state_counts: Record<string, number>; records: number }> = JSON.parse(
  readFileSync(join(ROOT, 'test', 'fixtures', 'shipped-expected.json'), 'utf8'));
/** The page's text, tags stripped and spaces collapsed. */
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

let work: string;
let json: any;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-metrics-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('local --json: the metrics the Lambdas emitted agree with the outputs read back', () => {
  const r = cli(['local', '--json', '--workdir', join(work, 'json')], work);
  expect(r.status).toBe(0);
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
  json = s;
  const snaps = Object.values<any>(s.snapshots);
  const details = Object.values<any>(s.details);
  expect(s.metrics.rejected).toEqual({ parsing: 0, validation: 0, first: [] });
  // Every series is the contract's: its namespace, a known name with its unit, the Pipeline dimension.
  const units = new Map<string, string>(Object.values(METRICS).map((m) => [m.name, m.unit]));
  expect(s.metrics.series.length).toBeGreaterThan(0);
  for (const x of s.metrics.series) {
    expect(x.namespace).toBe(METRICS_NAMESPACE);
    expect(units.get(x.name)).toBe(x.unit);
    expect(x.dimensions[PIPELINE_DIMENSION]).toEqual(expect.any(String));
  }
  const named = (name: string) => s.metrics.series.filter((x: any) => x.name === name);
  expect(named(METRICS.quarantinedByReason.name).every((x: any) => REASON_DIMENSION in x.dimensions)).toBe(true);
  expect(named(METRICS.queryBytesScanned.name).every((x: any) => QUERY_DIMENSION in x.dimensions)).toBe(true);

  const q = s.metrics.dataQuality;
  expect(q).toBeDefined();
  expect(q.filesProcessed).toBe(9);
  expect(q.recordsRead).toBe(sum(snaps.map((x) => x.records)));
  expect(q.recordsValid).toBe(sum(snaps.map((x) => x.valid)));
  expect(q.recordsQuarantined).toBe(sum(snaps.map((x) => x.quarantined)));
  expect(q.quarantineRate).toBeCloseTo(q.recordsQuarantined / q.recordsRead, 10);
  expect(q.duplicates).toBe(sum(details.map((x) => x.duplicates)));
  expect(q.blankLines).toBe(sum(details.map((x) => x.blank)));
  const reasons: Record<string, number> = {};
  for (const x of details) for (const [k, n] of Object.entries<number>(x.quarantine_reasons)) reasons[k] = (reasons[k] ?? 0) + n;
  expect(q.quarantinedByReason).toEqual(reasons);
  // A facility in two files of a snapshot is counted per file by the metric, once by the read-back.
  expect(q.expiring).toBeGreaterThanOrEqual(sum(snaps.map((x) => x.expiring.length)));
  // Each snapshot was refreshed (facility extract + state counts) and published at least once; nothing failed.
  expect(q.queries.succeeded).toBeGreaterThanOrEqual(2 * snaps.length);
  expect(q.queries.failed).toBe(0);
  expect(q.queries.bytesScanned).toBeGreaterThan(0);
  expect(q.snapshotsPublished).toBeGreaterThanOrEqual(snaps.length);
}, 300_000);

test('local (text): the data-quality block shows the figures of the table', () => {
  const r = cli(['local', '--workdir', join(work, 'text')], work);
  expect(r.status).toBe(0);
  const rows = [...r.stdout.matchAll(/^\d{4}-\d{2}-\d{2} +\d+ +\d+ +(\d+) +(\d+) +\d+ +(\d+) /gm)];
  expect(rows).toHaveLength(3); // the shipped data's snapshots
  const [records, valid, quarantined] = [1, 2, 3].map((i) => sum(rows.map((m) => Number(m[i]))));
  expect(r.stdout).toMatch(/^data quality \(the Lambdas' metrics, namespace MedlaunchElt\):$/m);
  const pct = ((quarantined / records) * 100).toFixed(1);
  expect(r.stdout).toContain(`  records read ${records}: valid ${valid}, quarantined ${quarantined} (${pct}%; `);
  expect(r.stdout).toMatch(/^ {2}duplicates \d+ · blank lines \d+ · expiring \d+ · files processed 9$/m);
  expect(r.stdout).toMatch(/^ {2}Athena: \d+ queries succeeded, 0 failed · [\d.,]+ (bytes|KiB|MiB) scanned · engine time [\d,]+ ms · \d+ snapshots published$/m);
  expect(r.stdout).not.toMatch(/EMF documents? rejected/);
  // The run's HTML report (below) is named in the summary.
  expect(r.stdout).toMatch(/^report: \S*text\/report\.html$/m);
}, 300_000);

describe('the run\'s HTML report', () => {
  it('is written at the end of every run and named in --json', () => {
    expect(json).toBeDefined();
    expect(realpathSync(json.report)).toBe(realpathSync(join(work, 'json', 'report.html')));
  });

  it('is self-contained and shows the three shipped snapshots with the counts the run published', () => {
    const html = readFileSync(json.report, 'utf8');
    // Opens from disk with the network off: no URL, no script, no external resource.
    expect(html.match(/https?:\/\/[^\s"'<>)]*/gi) ?? []).toEqual([]);
    expect(html).not.toMatch(/<script\b|<link\b|<iframe\b|<img\b|@import|url\(/i);
    const dates = Object.keys(expected).sort().reverse();
    expect(Object.keys(json.snapshots).sort().reverse()).toEqual(dates);
    expect([...html.matchAll(/>Snapshot (\d{4}-\d{2}-\d{2})<\/h2>/g)].map((m) => m[1])).toEqual(dates);
    dates.forEach((d, i) => {
      const own = json.snapshots[d];
      expect(own.state_counts).toEqual(expected[d].state_counts);
      // The state counts chart's accessible name lists what the run published for the snapshot.
      const title = new RegExp(`<title id="s${i}-states">([^<]*)</title>`).exec(html)![1];
      for (const [state, n] of Object.entries<number>(own.state_counts)) expect(title).toContain(`${state} ${n}`);
      const section = html.slice(html.indexOf(`>Snapshot ${d}</h2>`), i + 1 < dates.length ? html.indexOf(`>Snapshot ${dates[i + 1]}</h2>`) : undefined);
      const total = Object.values<number>(own.state_counts).reduce((a, b) => a + b, 0);
      expect(text(section)).toContain(`${total} accredited facilities in ${Object.keys(own.state_counts).length} states`);
      expect(text(section)).toContain(`${own.records} records read`);
      expect(text(section)).toContain(`Expiring facilities (${own.expiring.length})`);
    });
  });

  it('colors the state machine by the execution histories the run wrote (per-state counts)', () => {
    const html = readFileSync(json.report, 'utf8');
    const entered = new Map<string, number>();
    const files = readdirSync(json.executionHistories);
    expect(files).toHaveLength(9);
    for (const f of files) {
      const h = JSON.parse(readFileSync(join(json.executionHistories, f), 'utf8'));
      for (const e of h.events) {
        const name = e.stateEnteredEventDetails?.name;
        if (name !== undefined) entered.set(name, (entered.get(name) ?? 0) + 1);
      }
    }
    expect(entered.get('ProcessObject')).toBe(9);
    const diagram = /<title id="sm-diagram">([^<]*)<\/title>/.exec(html)![1];
    for (const [name, n] of entered) expect(diagram).toContain(`${name} entered ${n}, retried 0, failed 0`);
  });

  it('never replaces a report.html the program did not write: the run fails in one line, the file is kept', async () => {
    const wd = join(work, 'foreign');
    const run = runLocalPipeline({
      dataDir: join(ROOT, 'data', 'batch'),
      workDir: wd,
      // Once every execution has ended, something else writes a report.html into the work folder.
      followUp: async () => writeFileSync(join(wd, 'report.html'), 'mine'),
      writeReport: ({ workDir, client, bucket }) => writeLocalReport(workDir, { s3: { client, bucket } }),
    });
    await expect(run).rejects.toThrow(/^\S+report\.html: the file exists and was not written by medlaunch-elt report; it is never replaced/);
    expect(readFileSync(join(wd, 'report.html'), 'utf8')).toBe('mine');
  }, 300_000);
});

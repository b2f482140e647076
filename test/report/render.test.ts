import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildReportFixture, shippedExpected, type ReportFixture } from './support/fixture';
import { ASSEMBLY_RECORD, loadReportData, readDeployment, renderReport, writeLocalReport, writeRunReport, type ReportData } from '../../cli/report';
import { loadExpiring, type StepFunctionsReader } from '../../cli/report/load';
import { LocalS3 } from '../../local/s3';

/** What a page must never hold: it opens from disk with the network off. */
export function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (const re of [/https?:\/\/[^\s"'<>)]*/gi, /<script\b/gi, /<link\b/gi, /<iframe\b/gi, /<img\b/gi, /@import/gi, /url\(/gi,
    /\b(?:src|href|xlink:href|srcset|action|poster|data)\s*=\s*"(?!#)[^"]*"/gi, /\/\/[a-z0-9.-]+\.[a-z]{2,}\//gi]) {
    for (const m of html.matchAll(re)) found.push(m[0]);
  }
  return found;
}

const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
/** The part of the page about one snapshot. */
function section(html: string, d: string): string {
  const start = html.indexOf(`>Snapshot ${d}</h2>`);
  const end = html.indexOf('</section>', start);
  if (start < 0 || end < 0) throw new Error(`no section for ${d}`);
  return html.slice(start, end);
}

describe('report page of a local work folder (the shipped data)', () => {
  let f: ReportFixture;
  let data: ReportData;
  let html: string;
  const expected = shippedExpected();
  const dates = Object.keys(expected).sort().reverse();

  beforeAll(async () => {
    f = await buildReportFixture();
    data = await loadReportData({ kind: 'local', workDir: f.workDir }, { now: new Date('2025-08-14T00:00:00Z') });
    html = await renderReport(data);
  });
  afterAll(() => f?.cleanup());

  it('reads every published snapshot, newest first, with the template\'s bucket and the run\'s traces', () => {
    expect(data.notes).toEqual([]);
    expect(data.source).toContain(`bucket ${f.bucket}`);
    expect(data.snapshots.map((s) => s.report.snapshotDate)).toEqual(dates);
    expect(data.traces).toEqual(f.traces);
    expect(data.stateMachine?.definition.StartAt).toBe('CheckInput');
    const order = dates.map((d) => html.indexOf(`>Snapshot ${d}</h2>`));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('holds no URL, script, link or external resource of any kind', () => {
    expect(externalReferences(html)).toEqual([]);
    expect(html).toContain('<meta name="generator" content="medlaunch-elt report">');
  });

  it('draws every chart and the diagram as inline SVG with an accessible name', () => {
    const svgs = [...html.matchAll(/<svg\b[^>]*aria-labelledby="([^"]+)"><title id="\1">/g)].map((m) => m[1]);
    // per snapshot: states, months, timeline, and reasons only where a record was quarantined; then the diagram
    const perSnapshot = dates.flatMap((d, i) => [`s${i}-states`, ...(expected[d].quarantined > 0 ? [`s${i}-reasons`] : []), `s${i}-months`, `s${i}-timeline`]);
    expect(svgs).toEqual([...perSnapshot, 'sm-diagram']);
    expect((html.match(/<svg\b/g) ?? []).length).toBe(svgs.length);
    for (const d of dates) if (expected[d].quarantined === 0) expect(section(html, d)).toContain('No record was quarantined.');
  });

  it('shows the published state counts of each snapshot (chart labels and accessible names)', () => {
    dates.forEach((d, i) => {
      const counts = expected[d].state_counts;
      const title = new RegExp(`<title id="s${i}-states">([^<]*)</title>`).exec(html)![1];
      for (const [state, n] of Object.entries(counts)) expect(title).toContain(`${state} ${n}`);
      // Vega's text marks: one value label per state
      const svg = section(html, d).slice(section(html, d).indexOf(`id="s${i}-states"`));
      const labels = [...svg.slice(0, svg.indexOf('</svg>')).matchAll(/<text[^>]*>(\d+)<\/text>/g)].map((m) => Number(m[1]));
      expect(labels).toEqual(expect.arrayContaining(Object.values(counts)));
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      expect(text(section(html, d))).toContain(`${total} accredited facilities in ${Object.keys(counts).length} states`);
    });
  });

  it('lists the expiring facilities of each snapshot, counted once, by month', () => {
    for (const [i, d] of dates.entries()) {
      const s = data.snapshots[i];
      expect(s.expiring.total).toBe(expected[d].expiring.length);
      expect(s.expiring.rows.map((r) => r.facilityId).sort()).toEqual(expected[d].expiring);
      expect(s.expiring.byMonth.reduce((a, m) => a + m.facilities, 0)).toBe(expected[d].expiring.length);
      for (const r of s.expiring.rows) {
        expect(r.validUntil >= s.report.window.from && r.validUntil <= s.report.window.to).toBe(true);
        expect(section(html, d)).toContain(`<code>${r.facilityId}</code>`);
      }
      expect(text(section(html, d))).toContain(`Expiring facilities (${expected[d].expiring.length})`);
    }
  });

  it('shows the files, the quarantine reasons and the queries of each snapshot', () => {
    for (const [i, d] of dates.entries()) {
      const r = data.snapshots[i].report;
      expect(r.files.reduce((a, x) => a + x.read, 0)).toBe(expected[d].records);
      for (const file of r.files) expect(section(html, d)).toContain(`>${file.key.split('/').pop()}</code></td><td class="n">${file.read}</td>`);
      for (const [reason, n] of Object.entries(r.reasons)) expect(html).toMatch(new RegExp(`<title id="s${i}-reasons">[^<]*${reason} ${n}`));
      expect(text(section(html, d))).toMatch(/facility_extract SUCCEEDED \d+(\.\d)? KB 1,180 ms/);
    }
  });

  it('colors the diagram by the traces: the retried ProcessObject, the untouched alert path', () => {
    const diagram = html.slice(html.indexOf('id="sm-diagram"'));
    expect(diagram).toContain('entered 9 · retried 1');
    expect(diagram).toContain('fill="#fde9b6"');
    expect(text(html)).toContain('ProcessObject 9 9 1 0');
  });

  it('shows only the newest N snapshots with --snapshots, and says how many there are', async () => {
    const two = await loadReportData({ kind: 'local', workDir: f.workDir }, { snapshots: 2 });
    expect(two.snapshots.map((s) => s.report.snapshotDate)).toEqual(dates.slice(0, 2));
    expect(text(await renderReport(two))).toContain(`the newest 2 of ${dates.length} published snapshots`);
  });

  it('caps the expiring table and counts the rest', async () => {
    const server = await LocalS3.start({ rootDir: join(f.workDir, 's3') });
    const s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      const d = '2025-08-11';
      const report = data.snapshots.find((s) => s.report.snapshotDate === d)!.report;
      // an object that is not part of the expiring output is not read
      await s3.send(new PutObjectCommand({ Bucket: f.bucket, Key: `expiring/snapshot_date=${d}/_SUCCESS`, Body: 'not a record' }));
      const capped = await loadExpiring({ s3, bucket: f.bucket }, report, 5);
      expect(capped).toMatchObject({ unreadable: 0, objects: 3 });
      expect(capped.rows).toHaveLength(5);
      expect(capped.total).toBe(expected[d].expiring.length);
      // the first five by expiry date
      const all = (await loadExpiring({ s3, bucket: f.bucket }, report)).rows;
      expect(capped.rows).toEqual(all.slice(0, 5));
      const page = await renderReport({ ...data, snapshots: [{ report, expiring: capped }] });
      expect(text(page)).toContain(`… and ${expected[d].expiring.length - 5} more in the expiring output.`);
    } finally {
      s3.destroy();
      await server.close();
    }
  });
});

describe('writeLocalReport (the hook `medlaunch-elt local` calls at the end of a run)', () => {
  let f: ReportFixture;
  beforeAll(async () => {
    f = await buildReportFixture({ only: ['2025-08-13'] });
  });
  afterAll(() => f?.cleanup());

  it('reads through the run\'s own S3 when given, and writes <workdir>/report.html', async () => {
    const server = await LocalS3.start({ rootDir: join(f.workDir, 's3') });
    const s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      const file = await writeLocalReport(f.workDir, { s3: { client: s3, bucket: f.bucket } });
      expect(file).toBe(join(f.workDir, 'report.html'));
      expect(readFileSync(file, 'utf8')).toContain('>Snapshot 2025-08-13</h2>');
    } finally {
      s3.destroy();
      await server.close();
    }
    // and on its own (an embedded S3 over <workdir>/s3/), replacing its own page
    expect(await writeLocalReport(f.workDir)).toBe(join(f.workDir, 'report.html'));
  });

  it('writeRunReport (the hook itself) draws what the run deployed and reads no template', async () => {
    const deployed = readDeployment(f.workDir, []);
    // No template in the work folder: everything comes from the run's context.
    renameSync(join(f.workDir, 'cdk.out'), join(f.workDir, 'cdk.out.away'));
    const server = await LocalS3.start({ rootDir: join(f.workDir, 's3') });
    const s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      const file = await writeRunReport({
        workDir: f.workDir,
        client: s3,
        bucket: f.bucket,
        expiringPrefix: deployed.expiringPrefix!,
        reportsPrefix: deployed.reportsPrefix!,
        stateMachine: deployed.stateMachine!,
        assembly: { dir: '/apps/team/cdk.out', stack: 'TeamPipeline' },
      });
      const page = readFileSync(file, 'utf8');
      expect(page).toMatch(/<svg[^>]*aria-labelledby="sm-diagram">/);
      expect(page).toContain(`${deployed.stateMachine!.name}: `);
      expect(page).toContain('>Snapshot 2025-08-13</h2>');
      expect(page).not.toMatch(/not drawn|no synthesized template/);
      // The app of a run with --assembly is recorded for a later `report --workdir`.
      expect(JSON.parse(readFileSync(join(f.workDir, ASSEMBLY_RECORD), 'utf8'))).toEqual({ dir: '/apps/team/cdk.out', stack: 'TeamPipeline' });
    } finally {
      s3.destroy();
      await server.close();
      renameSync(join(f.workDir, 'cdk.out.away'), join(f.workDir, 'cdk.out'));
      rmSync(join(f.workDir, ASSEMBLY_RECORD), { force: true });
    }
  });

  it('never replaces a report.html the program did not write', async () => {
    writeFileSync(join(f.workDir, 'report.html'), 'mine');
    await expect(writeLocalReport(f.workDir)).rejects.toThrow(/report.html: the file exists and was not written by medlaunch-elt report/);
    expect(readFileSync(join(f.workDir, 'report.html'), 'utf8')).toBe('mine');
  });
});

describe('report page: unhappy paths', () => {
  it('skips a report that is not JSON or not a run report, with a note, and renders the rest', async () => {
    const f = await buildReportFixture({
      mutate: (r) => (r.snapshotDate === '2025-08-11' ? '{"schemaVersion": 1, "snapshotDate": ' : r.snapshotDate === '2025-08-10' ? { schemaVersion: 2 } : r),
    });
    try {
      rmSync(join(f.workDir, 'executions'), { recursive: true });
      const data = await loadReportData({ kind: 'local', workDir: f.workDir });
      expect(data.snapshots.map((s) => s.report.snapshotDate)).toEqual(['2025-08-13']);
      expect(data.notes).toEqual([
        expect.stringMatching(/reports\/snapshot_date=2025-08-11\/report.json: not JSON; snapshot 2025-08-11 skipped$/),
        expect.stringMatching(/reports\/snapshot_date=2025-08-10\/report.json: not a run report \(schema version 2\); snapshot 2025-08-10 skipped$/),
        expect.stringMatching(/executions: not found .*drawn without execution traces$/),
      ]);
      const html = await renderReport(data);
      expect(text(html)).toContain('no execution traces, so no state is colored');
      expect(externalReferences(html)).toEqual([]);
    } finally {
      f.cleanup();
    }
  });

  it('refuses a folder that holds no local run, in one line', async () => {
    await expect(loadReportData({ kind: 'local', workDir: '/nonexistent/work' })).rejects.toThrow('/nonexistent/work: no such folder (run `npx medlaunch-elt local` first)');
  });

  it('renders a page that says so when nothing was published yet', async () => {
    const html = await renderReport({ source: 'x', generatedAt: '2025-01-01T00:00:00.000Z', snapshots: [], snapshotsFound: 0, traces: [], notes: [] });
    expect(text(html)).toContain('No published snapshot');
    expect(externalReferences(html)).toEqual([]);
  });

  it('escapes what the data says (a key or reason cannot inject markup)', async () => {
    const f = await buildReportFixture({ only: ['2025-08-13'], mutate: (r) => ({ ...r, reasons: { '<script>alert(1)</script>': 1 } }) });
    try {
      const html = await renderReport(await loadReportData({ kind: 'local', workDir: f.workDir }));
      expect(html).not.toContain('<script>');
      expect(html).toContain('&lt;script&gt;');
    } finally {
      f.cleanup();
    }
  });
});

describe('report from a bucket in AWS (the same S3 code; Step Functions reads)', () => {
  let f: ReportFixture;
  let server: LocalS3;
  let s3: S3Client;
  beforeAll(async () => {
    f = await buildReportFixture({ only: ['2025-08-13'] });
    server = await LocalS3.start({ rootDir: join(f.workDir, 's3') });
    s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  });
  afterAll(async () => {
    s3.destroy();
    await server.close();
    f.cleanup();
  });

  it('reads the definition of the machine that ran the executions and their histories (paginated)', async () => {
    const definition = { StartAt: 'ProcessObject', States: { ProcessObject: { Type: 'Task', End: true } } };
    const described: string[] = [];
    const pages: Array<[string, string | undefined]> = [];
    const sfn: StepFunctionsReader = {
      async describeStateMachine(arn) {
        described.push(arn);
        return { name: 'Machine', definition: JSON.stringify(definition) };
      },
      async historyPage(arn, token) {
        pages.push([arn, token]);
        return token === undefined
          ? { events: [{ id: 1, type: 'ExecutionStarted', timestamp: new Date(0) }, { id: 2, previousEventId: 1, type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'ProcessObject' } }], nextToken: 'p2' }
          : { events: [{ id: 3, previousEventId: 2, type: 'TaskStateExited' }, { id: 4, previousEventId: 3, type: 'ExecutionSucceeded', timestamp: new Date(5_000) }] };
      },
    };
    const data = await loadReportData({ kind: 'aws', bucket: f.bucket, s3, stepFunctions: sfn });
    const arns = [...new Set(f.reports[0].executions.map((e) => e.executionArn))];
    expect(described).toEqual([arns[0].replace(/:execution:([^:]+):[^:]+$/, ':stateMachine:$1')]);
    expect(pages).toEqual(arns.flatMap((a) => [[a, undefined], [a, 'p2']]));
    expect(data.traces.map((t) => [t.status, t.states])).toEqual(arns.map(() => ['SUCCEEDED', [{ name: 'ProcessObject', entered: 1, retried: 0, failed: 0 }]]));
    expect(data.snapshots.map((s) => s.expiring.total)).toEqual([1]);
    expect(data.source).toBe(`s3://${f.bucket}/reports/`);
  });

  it('notes a denied Step Functions read and still renders the S3 part', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: states:GetExecutionHistory'), { name: 'AccessDeniedException' });
    const sfn: StepFunctionsReader = {
      describeStateMachine: async () => { throw denied; },
      historyPage: async () => { throw denied; },
    };
    const data = await loadReportData({ kind: 'aws', bucket: f.bucket, s3, stepFunctions: sfn, stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:M' });
    expect(data.notes).toEqual([
      'DescribeStateMachine arn:aws:states:us-east-1:123456789012:stateMachine:M: AccessDeniedException: User is not authorized to perform: states:GetExecutionHistory',
      expect.stringMatching(/^GetExecutionHistory arn:.*: AccessDeniedException/),
    ]);
    expect(data.snapshots).toHaveLength(1);
    expect(externalReferences(await renderReport(data))).toEqual([]);
  });

  it('fails in one line on a bucket that does not exist', async () => {
    await expect(loadReportData({ kind: 'aws', bucket: 'no-such-bucket', s3, stepFunctions: {} as StepFunctionsReader })).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('reads a report under another reports prefix', async () => {
    const r = f.reports[0];
    await s3.send(new PutObjectCommand({ Bucket: f.bucket, Key: `ops/runs/snapshot_date=${r.snapshotDate}/report.json`, Body: JSON.stringify(r) }));
    const sfn: StepFunctionsReader = { describeStateMachine: async () => ({ name: 'M', definition: '{}' }), historyPage: async () => ({ events: [] }) };
    const data = await loadReportData({ kind: 'aws', bucket: f.bucket, s3, stepFunctions: sfn, reportsPrefix: 'ops/runs/' });
    expect(data.snapshots.map((s) => s.report.snapshotDate)).toEqual([r.snapshotDate]);
  });
});

/** `medlaunch-elt report`: one self-contained HTML page from the run reports (docs/report.md). */
import { resolve } from 'node:path';
import { parseCommandArgs, plural, shortPath } from '../args';
import { UsageError } from '../errors';
import type * as Report from '../report/index';

export const HELP = `usage: medlaunch-elt report [--workdir DIR] [--out FILE] [--snapshots N]
       medlaunch-elt report --bucket NAME [--region R] [--state-machine ARN] [--out FILE] [--snapshots N]

Renders one self-contained HTML page (inline SVG charts, no script, opens from disk with no network) from
the pipeline's run reports: accredited facilities per state, quarantine reasons, expiring facilities,
files, queries, an execution timeline per snapshot, and the state machine with what the executions did.

  --workdir DIR          a local run's work folder (default: ./.local-aws); read through an embedded S3
  --bucket NAME          read the pipeline's data bucket in AWS instead (your credentials, through the SDK)
  --region R             the bucket's and the state machine's region (default: the SDK's configuration)
  --reports-prefix P     the construct's reportsPrefix (default: reports/)
  --expiring-prefix P    the construct's expiringPrefix (default: expiring/)
  --state-machine ARN    the state machine to draw (default: the one that ran the reports' executions)
  --out FILE             the page to write (default: DIR/report.html, or ./report.html with --bucket).
                         An existing file is replaced only when an earlier report wrote it
  --snapshots N          the newest N published snapshots (default: 10)
  -h, --help             show this help`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('report', argv, {
    'workdir': { type: 'string' },
    'bucket': { type: 'string' },
    'region': { type: 'string' },
    'reports-prefix': { type: 'string' },
    'expiring-prefix': { type: 'string' },
    'state-machine': { type: 'string' },
    'out': { type: 'string' },
    'snapshots': { type: 'string' },
    'help': { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const aws = values.bucket !== undefined;
  if (aws && values.workdir !== undefined) throw new UsageError('report: --workdir and --bucket exclude each other (a local run or a bucket in AWS)');
  for (const flag of ['region', 'reports-prefix', 'expiring-prefix', 'state-machine'] as const) {
    if (!aws && values[flag] !== undefined) throw new UsageError(`report: --${flag} needs --bucket (a local work folder knows its own)`);
  }
  if (aws && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(values.bucket!)) throw new UsageError(`report: --bucket ${values.bucket}: not a bucket name`);
  for (const flag of ['reports-prefix', 'expiring-prefix'] as const) {
    const p = values[flag];
    if (p !== undefined && (p.startsWith('/') || !p.endsWith('/'))) throw new UsageError(`report: --${flag} ${p}: a prefix ends with / and does not start with one`);
  }
  const sm = values['state-machine'];
  if (sm !== undefined && !/^arn:[^:]+:states:[^:]+:\d{12}:stateMachine:[^:]+$/.test(sm)) {
    throw new UsageError(`report: --state-machine ${sm}: expected arn:aws:states:<region>:<account>:stateMachine:<name>`);
  }
  const raw = values.snapshots;
  const snapshots = raw === undefined ? undefined : /^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 1000 ? Number(raw) : NaN;
  if (Number.isNaN(snapshots)) throw new UsageError(`report: --snapshots must be an integer from 1 to 1000 (got '${raw}')`);

  const workDir = resolve(values.workdir ?? '.local-aws');
  const out = resolve(values.out ?? (aws ? 'report.html' : resolve(workDir, 'report.html')));
  // Loaded on demand: it pulls in the SDK, Vega and Graphviz.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const report = require('../report/index') as typeof Report;
  const refused = report.checkOutFile(out);
  if (refused) throw new UsageError(`report: --out ${shortPath(out)}: ${refused}`);

  let data: Report.ReportData;
  try {
    data = await report.loadReportData(aws
      ? {
        kind: 'aws',
        bucket: values.bucket!,
        region: values.region,
        reportsPrefix: values['reports-prefix'],
        expiringPrefix: values['expiring-prefix'],
        stateMachineArn: sm,
      }
      : { kind: 'local', workDir }, { snapshots });
  } catch (e) {
    const err = e as Error & { $metadata?: unknown };
    // An AWS error (no such bucket, access denied, no credentials) or a folder with no local run: one line, exit 1.
    throw new Error(`report: ${err.$metadata !== undefined || err.name.endsWith('ProviderError') ? `${err.name}: ` : ''}${err.message.split('\n')[0]}`);
  }
  report.writePage(out, await report.renderReport(data));
  for (const note of data.notes) process.stderr.write(`medlaunch-elt: note: ${note}\n`);
  process.stdout.write(`report: ${plural(data.snapshots.length, 'snapshot')}${data.snapshotsFound > data.snapshots.length ? ` of ${data.snapshotsFound}` : ''}, `
    + `${plural(data.traces.length, 'execution trace')} → ${shortPath(out)}\n`);
  return 0;
}

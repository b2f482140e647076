import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isCalendarDate } from '../../lambda-src/lib/dates';
import type * as Runner from '../../local/runner';
import { UsageError } from '../errors';

export const HELP = `usage: medlaunch-elt local [--data DIR] [--json] [options]

Runs all four stages on an embedded local AWS (S3, Athena on DuckDB, Step Functions, SNS,
EventBridge): synthesizes the AccreditationPipeline stack, deploys it locally, uploads DIR's
snapshots (DIR/<YYYY-MM-DD>/*.jsonl[.gz]) under the raw prefix and lets the S3 events start the
state machine, exactly as in AWS.

options:
  --data DIR           snapshot folders to upload (default: the shipped data/batch)
  --json               print the run summary as one JSON object on the last line of stdout
  --workdir DIR        where the local AWS keeps its state and every output (default: ./.local-aws;
                       wiped at the start of each run)
  --as-of YYYY-MM-DD   evaluate expiry and accreditation as of this date (default: each record's snapshot date)
  --months M           expiry window in calendar months (default: 6)
  --duplicate-events N deliver every S3 event N extra times (at-least-once delivery drill)
  --shuffle            deliver the events in a random (seeded) order
  --fault NAME         inject a fault, repeatable: s3-slowdown, athena-throttle, athena-fail, lambda-timeout
  --seed S             seed for --shuffle, --duplicate-events and --fault (default: 1)
  --assembly DIR       run the pipeline stack of a synthesized app (its cdk.out folder) instead of the
                       built-in one: your props, prefixes and names, as they will deploy
  --stack NAME         with --assembly: the stack to run (default: the only stack holding an
                       AccreditationPipeline)
  --no-enforce-iam     diagnostic switch: do not authorize calls against the template's IAM and resource
                       policies (enforced by default, as in AWS; see docs/cloud-fidelity.md)
  -h, --help           show this help`;

const FAULTS = ['s3-slowdown', 'athena-throttle', 'athena-fail', 'lambda-timeout'] as const;
export type FaultName = (typeof FAULTS)[number];

function defaultDataDir(): string {
  // lib-cli/index.js (bundled) and cli/commands/local.ts (source) both sit two levels below the package root
  // or one: try both.
  for (const candidate of [join(__dirname, '..', 'data', 'batch'), join(__dirname, '..', '..', 'data', 'batch')]) {
    if (existsSync(candidate)) return candidate;
  }
  return resolve('data/batch');
}

function positiveInt(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${name} must be an integer ≥ ${min} (got '${value}')`);
  }
  return n;
}

/** Checks that DIR holds snapshot folders with data files; returns the snapshot dates. */
export function scanDataDir(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--data ${dir}: not a directory`);
  const snapshots = readdirSync(dir)
    .filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && statSync(join(dir, d)).isDirectory())
    .sort();
  if (snapshots.length === 0) throw new UsageError(`--data ${dir}: no <YYYY-MM-DD>/ snapshot folders inside`);
  return snapshots;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'data': { type: 'string' },
      'json': { type: 'boolean', default: false },
      'workdir': { type: 'string' },
      'as-of': { type: 'string' },
      'months': { type: 'string' },
      'duplicate-events': { type: 'string' },
      'shuffle': { type: 'boolean', default: false },
      'fault': { type: 'string', multiple: true },
      'seed': { type: 'string' },
      'assembly': { type: 'string' },
      'stack': { type: 'string' },
      'no-enforce-iam': { type: 'boolean', default: false },
      'help': { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const dataDir = resolve(values.data ?? defaultDataDir());
  scanDataDir(dataDir);
  const asOf = values['as-of'];
  if (asOf !== undefined) {
    if (!isCalendarDate(asOf)) throw new UsageError(`--as-of must be a YYYY-MM-DD calendar date (got '${asOf}')`);
  }
  const months = positiveInt('--months', values.months, 1);
  if (months !== undefined && months > 120) throw new UsageError(`--months must be at most 120 (got ${months})`);
  const faults = (values.fault ?? []) as string[];
  for (const f of faults) {
    if (!(FAULTS as readonly string[]).includes(f)) throw new UsageError(`--fault ${f}: unknown (expected one of: ${FAULTS.join(', ')})`);
  }
  const assembly = values.assembly === undefined ? undefined : resolve(values.assembly);
  if (values.stack !== undefined && assembly === undefined) throw new UsageError('--stack needs --assembly');
  if (assembly !== undefined) {
    if (months !== undefined) throw new UsageError('--months cannot change a synthesized app: set expiryMonths in the app and synthesize it again');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadAssemblyStack, AssemblyError } = require('../../local/template/assembly') as typeof import('../../local/template/assembly');
    try {
      loadAssemblyStack(assembly, values.stack);
    } catch (e) {
      if (e instanceof AssemblyError) throw new UsageError(e.message);
      throw e;
    }
  }
  const workDir = resolve(values.workdir ?? '.local-aws');
  if (workDir === resolve('.') || workDir === resolve('/') || dataDir.startsWith(`${workDir}/`)) {
    throw new UsageError(`--workdir ${workDir}: must be a dedicated folder (it is wiped at the start of each run)`);
  }

  // Loaded on demand: it pulls in aws-cdk-lib, DuckDB and the local services.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runLocalPipeline } = require('../../local/runner') as typeof Runner;
  const tty = !values.json && process.stderr.isTTY === true;
  const result = await runLocalPipeline({
    dataDir,
    workDir,
    asOf,
    months,
    duplicateEvents: positiveInt('--duplicate-events', values['duplicate-events']) ?? 0,
    shuffle: values.shuffle,
    faults: faults as FaultName[],
    seed: positiveInt('--seed', values.seed) ?? 1,
    ...(assembly !== undefined ? { assembly: { dir: assembly, stack: values.stack } } : {}),
    enforceIam: !values['no-enforce-iam'],
    onProgress: values.json ? undefined : progressPrinter(tty),
  });

  if (values.json) {
    process.stdout.write(`${JSON.stringify(summaryJson(result))}\n`);
  } else {
    process.stdout.write(renderSummary(result, workDir));
  }
  const failed = result.executions.filter((e) => e.status !== 'SUCCEEDED');
  if (failed.length > 0) {
    const first = failed[0];
    process.stderr.write(
      `medlaunch-elt: ${failed.length} of ${result.executions.length} execution(s) failed; first: ${first.key ?? first.snapshot}: ${first.error ?? first.status}\n`,
    );
    return 1;
  }
  // An event EventBridge could not deliver (e.g. the rule's role may not start the state machine) started nothing.
  const undelivered = result.failedDeliveries ?? [];
  if (undelivered.length > 0) {
    process.stderr.write(`medlaunch-elt: ${undelivered.length} event(s) could not be delivered; first: ${undelivered[0].key ?? undelivered[0].eventId}: `
      + `${undelivered[0].errorCode ?? 'FAILED'}: ${undelivered[0].error ?? ''}\n`);
    return 1;
  }
  return 0;
}

/** The SPEC §4 JSON summary. */
export function summaryJson(r: Runner.LocalRunResult): Record<string, unknown> {
  return {
    snapshots: r.snapshots,
    alerts: r.alerts,
    executions: r.executions.map((e) => ({ snapshot: e.snapshot, status: e.status, key: e.key, name: e.name })),
  };
}

function progressPrinter(tty: boolean): (e: Runner.ProgressEvent) => void {
  let lastBar = '';
  return (e) => {
    if (e.kind === 'executions' && tty) {
      const width = 30;
      const done = Math.round((e.finished / Math.max(1, e.total)) * width);
      const bar = `\r  [${'#'.repeat(done)}${'.'.repeat(width - done)}] ${e.finished}/${e.total} executions finished`;
      if (bar !== lastBar) process.stderr.write(bar + (e.finished === e.total ? '\n' : ''));
      lastBar = bar;
      return;
    }
    // On a terminal progress goes to stderr; in pipes and CI it is part of the readable stdout, so that stderr
    // carries nothing but the one-line reason of a failure.
    if (e.kind === 'step') (tty ? process.stderr : process.stdout).write(`  ✓ ${e.message}\n`);
  };
}

function renderSummary(r: Runner.LocalRunResult, workDir: string): string {
  const rows = Object.entries(r.snapshots).map(([d, s]) => [
    d,
    String(s.records),
    String(s.valid),
    String(s.quarantined),
    String(s.extract_rows),
    String(s.expiring.length),
    Object.entries(s.state_counts)
      .map(([st, n]) => `${st}:${n}`)
      .join(' ') || '-',
  ]);
  const head = ['snapshot', 'records', 'valid', 'quarantined', 'extract', 'expiring', 'accredited facilities by state'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  const ok = r.executions.filter((e) => e.status === 'SUCCEEDED').length;
  const out = [
    '',
    line(head),
    ...rows.map(line),
    '',
    `executions: ${ok} succeeded, ${r.executions.length - ok} failed; alerts: ${r.alerts.length}`,
    ...Object.entries(r.snapshots)
      .filter(([, s]) => s.expiring.length > 0)
      .map(([d, s]) => `expiring within the window (${d}): ${s.expiring.join(', ')}`),
    `outputs: ${relative(process.cwd(), r.bucketDir) || r.bucketDir}/ (validated/, expiring/, quarantine/, curated/, results/, production/)`,
    `alerts log: ${relative(process.cwd(), join(workDir, 'alerts.jsonl'))}`,
    '',
  ];
  return out.join('\n');
}

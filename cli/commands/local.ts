import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isCalendarDate } from '../../lambda-src/lib/dates';
import type * as Runner from '../../local/orchestrator/index';
import { MONTHS_MAX, MONTHS_MIN, negativeValues, parseMonths, shortPath } from '../args';
import { UsageError } from '../errors';
import { renderSummary } from './local-summary';

export const HELP = `usage: medlaunch-elt local [--data DIR] [--json] [options]

Runs all four stages on an embedded local AWS (S3, Athena on DuckDB, Step Functions, SNS,
EventBridge): synthesizes the AccreditationPipeline stack, deploys it locally, uploads DIR's
snapshots (DIR/<YYYY-MM-DD>/*.jsonl[.gz]) under the raw prefix and lets the S3 events start the
state machine, exactly as in AWS.

options:
  --data DIR           snapshot folders to upload (default: the shipped data/batch)
  --json               print the run summary as one JSON object on the last line of stdout
  --workdir DIR        where the local AWS keeps its state and every output (default: ./.local-aws).
                       A run clears only a folder an earlier run created (it holds .medlaunch-elt-workdir);
                       a non-empty folder without it, the current folder, the repository root, the home
                       folder, / and any folder holding --data are refused
  --as-of YYYY-MM-DD   evaluate expiry and accreditation as of this date (default: each record's snapshot date)
  --months M           expiry window in calendar months, ${MONTHS_MIN} to ${MONTHS_MAX} (default: 6)
  --duplicate-events N deliver every S3 event N extra times (at-least-once delivery drill)
  --shuffle            deliver the events in a random (seeded) order
  --fault NAME         inject a fault, repeatable: s3-slowdown, athena-throttle, athena-fail, lambda-timeout
  --seed S             seed for --shuffle, --duplicate-events and --fault (default: 1): the same seed
                       injects the same faults into the same snapshots on every run
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

const DATA_FILE = /\.(jsonl|ndjson|json)(\.gz)?$/i;

function hasDataFiles(dir: string): boolean {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory() ? hasDataFiles(p) : DATA_FILE.test(name)) return true;
  }
  return false;
}

/**
 * Checks that DIR holds snapshot folders with data files; returns the snapshot dates that have data.
 * A folder named like a date that is not a calendar date is refused; empty snapshot folders are
 * reported through `warn` and skipped.
 */
export function scanDataDir(dir: string, warn: (message: string) => void = () => undefined): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--data ${dir}: not a directory`);
  const dated = readdirSync(dir).filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && statSync(join(dir, d)).isDirectory()).sort();
  const bad = dated.find((d) => !isCalendarDate(d));
  if (bad !== undefined) throw new UsageError(`--data ${dir}: snapshot folder ${bad} is not a calendar date (rename or remove it)`);
  if (dated.length === 0) {
    const hint = isCalendarDate(basename(dir)) && hasDataFiles(dir)
      ? `; ${basename(dir)} is itself a snapshot folder: pass its parent, --data ${relative(process.cwd(), resolve(dir, '..')) || '.'}`
      : hasDataFiles(dir) ? '; put the data files in a <YYYY-MM-DD>/ folder named after their snapshot date' : '';
    throw new UsageError(`--data ${dir}: no <YYYY-MM-DD>/ snapshot folders inside${hint}`);
  }
  const withData = dated.filter((d) => hasDataFiles(join(dir, d)));
  for (const d of dated) {
    if (!withData.includes(d)) warn(`--data ${join(dir, d)}: snapshot folder holds no data files (.jsonl, .ndjson, .json, optionally .gz); skipped`);
  }
  if (withData.length === 0) throw new UsageError(`--data ${dir}: the snapshot folders hold no data files (.jsonl, .ndjson, .json, optionally .gz)`);
  return withData;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: negativeValues(argv),
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
  const warnings: string[] = [];
  scanDataDir(dataDir, (m) => warnings.push(m));
  const asOf = values['as-of'];
  if (asOf !== undefined) {
    if (!isCalendarDate(asOf)) throw new UsageError(`--as-of must be a YYYY-MM-DD calendar date (got '${asOf}')`);
  }
  const months = parseMonths('local', values.months);
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
  const duplicateEvents = positiveInt('--duplicate-events', values['duplicate-events']) ?? 0;
  const seed = positiveInt('--seed', values.seed) ?? 1;

  // Loaded on demand: it pulls in aws-cdk-lib, DuckDB and the local services.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runLocalPipeline, checkWorkDir } = require('../../local/orchestrator/index') as typeof Runner;
  const refused = checkWorkDir(workDir, dataDir);
  if (refused) throw new UsageError(`--workdir ${values.workdir ?? '.local-aws'}: ${refused}`);
  for (const w of warnings) process.stderr.write(`medlaunch-elt: warning: ${w}\n`);
  const tty = !values.json && process.stderr.isTTY === true;
  const result = await runLocalPipeline({
    dataDir,
    workDir,
    asOf,
    months,
    duplicateEvents,
    shuffle: values.shuffle,
    faults: faults as FaultName[],
    seed,
    ...(assembly !== undefined ? { assembly: { dir: assembly, stack: values.stack } } : {}),
    enforceIam: !values['no-enforce-iam'],
    // The HTML report (docs/report.md), read through the run's own S3 before it stops, from what the run deployed.
    writeReport: async (ctx) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { writeRunReport } = require('../report/index') as typeof import('../report/index');
      return writeRunReport(ctx);
    },
    onProgress: values.json ? undefined : progressPrinter({ tty }),
  });

  if (values.json) {
    process.stdout.write(`${JSON.stringify(summaryJson(result))}\n`);
  } else {
    process.stdout.write(renderSummary(result));
  }
  const failed = result.executions.filter((e) => e.status !== 'SUCCEEDED');
  if (failed.length > 0) {
    const first = failed[0];
    process.stderr.write(
      `medlaunch-elt: ${failed.length} of ${result.executions.length} execution(s) failed; first: ${first.key ?? first.snapshot}: ${first.error ?? first.status}`
      + `${result.alertsLog ? ` (alerts: ${shortPath(result.alertsLog)})` : ''}\n`,
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

/**
 * The docs/contract.md §4 JSON summary (`snapshots`, `alerts`, `executions`: the contract) plus `details` (per
 * snapshot: files, lines, duplicates, blank lines, quarantine reasons, the expiry window, output
 * paths, the extract's local .parquet files and sample rows), `skipped` (files of --data not uploaded)
 * `drill` (what was injected and how the pipeline recovered), `requests` (the AWS requests made, per
 * service and operation: see {@link Runner.RequestReport}), `metrics` (what the Lambdas emitted in the embedded
 * metric format and the data quality computed from it: {@link Runner.RunMetrics}), `executionHistories` (the
 * folder of the executions' histories in GetExecutionHistory's shape) and `report` (the run's HTML report).
 */
export function summaryJson(r: Runner.LocalRunResult): Record<string, unknown> {
  return {
    snapshots: r.snapshots,
    alerts: r.alerts,
    executions: r.executions.map((e) => ({ snapshot: e.snapshot, status: e.status, key: e.key, name: e.name })),
    details: r.details,
    skipped: r.skipped,
    drill: r.drill,
    requests: r.requests,
    metrics: r.metrics,
    executionHistories: r.executionHistories,
    report: r.report,
  };
}

/** Options of {@link progressPrinter} (tests pass a clock and a writer). */
export interface ProgressPrinterOptions {
  readonly tty: boolean;
  /** Pipes get an execution status line at least this often while executions run (default 30 s). */
  readonly intervalMs?: number;
  readonly now?: () => number;
  readonly out?: (s: string) => void;
  readonly err?: (s: string) => void;
  /** Terminal width (default: stderr's columns, else 100). */
  readonly columns?: number;
}

function waitingText(waiting: Record<string, number> | undefined): string {
  const parts = Object.entries(waiting ?? {}).map(([what, n]) => `${n} ${what}`);
  return parts.length ? `; waiting: ${parts.join(', ')}` : '';
}

/**
 * Progress of a run. On a terminal: a bar on stderr with what the running executions wait for
 * (Stage 2, query polls, retries), redrawn in place. In a pipe: the steps on stdout and an
 * execution status line at least every 30 s, so a CI log never looks stuck.
 */
export function progressPrinter(o: ProgressPrinterOptions): (e: Runner.ProgressEvent) => void {
  const now = o.now ?? Date.now;
  const interval = o.intervalMs ?? 30_000;
  const out = o.out ?? ((t: string) => process.stdout.write(t));
  const err = o.err ?? ((t: string) => process.stderr.write(t));
  let lastBar = '';
  let lastLine = now();
  return (e) => {
    if (e.kind === 'executions') {
      const status = `${e.finished}/${e.total} executions finished`;
      if (o.tty) {
        const width = 30;
        const done = Math.round((e.finished / Math.max(1, e.total)) * width);
        const cols = o.columns ?? process.stderr.columns ?? 100;
        const text = `  [${'#'.repeat(done)}${'.'.repeat(width - done)}] ${status}${e.finished === e.total ? '' : waitingText(e.waiting)}`;
        const bar = `\r\x1b[2K${text.length > cols - 1 ? `${text.slice(0, cols - 2)}…` : text}`;
        if (bar !== lastBar) err(bar + (e.finished === e.total && e.total > 0 ? '\n' : ''));
        lastBar = bar;
      } else if (now() - lastLine >= interval && e.finished < e.total) {
        out(`  … ${status}${waitingText(e.waiting)}\n`);
        lastLine = now();
      }
      return;
    }
    // On a terminal progress goes to stderr; in pipes and CI it is part of the readable stdout, so that stderr
    // carries nothing but the one-line reason of a failure.
    if (e.kind === 'step') {
      (o.tty ? err : out)(`  ✓ ${e.message}\n`);
      lastLine = now();
    }
  };
}

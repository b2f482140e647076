/**
 * `medlaunch-elt report` (docs/report.md): load the run reports of a local work folder or of a bucket in AWS,
 * render one self-contained HTML page, write it without ever replacing a file the program did not write.
 */
import { closeSync, existsSync, openSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { loadAwsDefinition, loadAwsTraces, loadSnapshots, sdkStepFunctions, stateMachineArnOf, type StepFunctionsReader } from './load';
import { openLocalBuckets, readDeployment, readLocalTraces, recordAssembly, type LocalDeployment } from './local';
import { GENERATOR, renderReport } from './render';
import type { AslDefinition, ReportData } from './types';
import type { ReportContext } from '../../local/orchestrator/options';
import { S3_FOLDER } from '../../local/orchestrator/workdir';
import { DEFAULT_REPORTS_PREFIX } from '../../src/contract/observability';

export type { ExecutionTrace, ReportData, StateTrace } from './types';
export { buildExecutionTrace } from './traces';
export { ASSEMBLY_RECORD, readDeployment, readLocalTraces, type LocalDeployment } from './local';
export { renderReport, GENERATOR } from './render';

/** Snapshots shown by default (newest first). */
export const DEFAULT_SNAPSHOTS = 10;

/** Where to read from: a local work folder, or a bucket in AWS. */
export type ReportSource =
  | {
    readonly kind: 'local';
    readonly workDir: string;
    /**
     * The running local S3 of the run and its pipeline bucket (a client whose credentials its IAM enforcement
     * accepts); default: an embedded S3 started over `<workDir>/s3/` for the time of the read.
     */
    readonly s3?: { readonly client: S3Client; readonly bucket: string };
    /**
     * What the run deployed, as it resolved it (the hook of `medlaunch-elt local`); default: resolved again by
     * local/template from the work folder's cloud assembly ({@link readDeployment}).
     */
    readonly deployment?: LocalDeployment;
  }
  | {
    readonly kind: 'aws';
    readonly bucket: string;
    readonly region?: string;
    readonly reportsPrefix?: string;
    readonly expiringPrefix?: string;
    readonly stateMachineArn?: string;
    /** Tests pass their own clients; default: the SDK's with the user's credentials. */
    readonly s3?: S3Client;
    readonly stepFunctions?: StepFunctionsReader;
  };

/** Loads everything the page shows. Throws a one-line error when the source holds nothing to report on. */
export async function loadReportData(source: ReportSource, o: { snapshots?: number; now?: Date } = {}): Promise<ReportData> {
  const limit = o.snapshots ?? DEFAULT_SNAPSHOTS;
  const notes: string[] = [];
  const generatedAt = (o.now ?? new Date()).toISOString();
  if (source.kind === 'local') {
    const dep = source.deployment ?? readDeployment(source.workDir, notes);
    const own = source.s3;
    const access = own ? { s3: own.client, buckets: [own.bucket], close: async () => undefined } : await openLocalBuckets(source.workDir);
    try {
      let bucket = dep.bucket !== undefined && access.buckets.includes(dep.bucket) ? dep.bucket : undefined;
      if (bucket === undefined) {
        if (access.buckets.length !== 1) {
          // Why the template named none, when it could not be read (e.g. the app a run with --assembly recorded is gone).
          const named = dep.bucket ?? (notes.length > 0 ? `none (${notes.join('; ')})` : 'none');
          throw new Error(`${source.workDir}: cannot tell the pipeline's bucket (the template names ${named}; the local S3 holds ${access.buckets.join(', ') || 'no bucket'})`);
        }
        bucket = access.buckets[0];
      }
      const loc = {
        s3: access.s3,
        bucket,
        reportsPrefix: dep.reportsPrefix,
        expiringPrefix: dep.expiringPrefix,
        bucketDir: join(source.workDir, S3_FOLDER, bucket),
      };
      const { snapshots, found } = await loadSnapshots(loc, limit, notes);
      return {
        source: `local work folder ${source.workDir} (bucket ${bucket})`,
        generatedAt,
        snapshots,
        snapshotsFound: found,
        stateMachine: dep.stateMachine,
        traces: readLocalTraces(source.workDir, notes),
        notes,
      };
    } finally {
      await access.close();
    }
  }
  // Like `expiring`: us-east-1 when nothing configures a region; S3 follows a bucket's region redirect.
  const region = source.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION ? undefined : 'us-east-1');
  const s3 = source.s3 ?? new S3Client({ ...(region ? { region } : {}), followRegionRedirects: true });
  try {
    const { snapshots, found } = await loadSnapshots({ ...source, s3 }, limit, notes);
    const arn = source.stateMachineArn
      ?? snapshots.flatMap((s) => s.report.executions).map((e) => stateMachineArnOf(e.executionArn)).find((a) => a !== undefined);
    // Step Functions in the state machine's own region (from its ARN) unless --region says otherwise.
    const sfn = source.stepFunctions ?? sdkStepFunctions(source.region ?? arn?.split(':')[3] ?? region);
    if (arn === undefined) notes.push('no --state-machine ARN and no execution in the reports: the state machine is not drawn');
    const stateMachine = arn !== undefined ? await loadAwsDefinition(sfn, arn, notes) : undefined;
    const traces = await loadAwsTraces(sfn, snapshots, notes);
    return { source: `s3://${source.bucket}/${source.reportsPrefix ?? DEFAULT_REPORTS_PREFIX}`, generatedAt, snapshots, snapshotsFound: found, stateMachine, traces, notes };
  } finally {
    if (!source.s3) s3.destroy();
  }
}

/** Whether `file` is a page this program wrote (its head carries the generator mark). */
export function isOwnReport(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1024);
    const len = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, len).toString('utf8').includes(`<meta name="generator" content="${GENERATOR}">`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Why `file` may not be written, or undefined: a folder, a missing parent folder, or an existing file this program
 * did not write (it is never replaced).
 */
export function checkOutFile(file: string): string | undefined {
  if (!existsSync(dirname(file))) return `the folder ${dirname(file)} does not exist`;
  if (!existsSync(file)) return undefined;
  if (!statSync(file).isFile()) return 'it is not a file';
  if (!isOwnReport(file)) return 'the file exists and was not written by medlaunch-elt report; it is never replaced — pass a new file name';
  return undefined;
}

/** Writes the page next to its destination, then renames it over (no half-written report). */
export function writePage(file: string, html: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, html);
  renameSync(tmp, file);
}

/**
 * The hook of `medlaunch-elt local`: renders the report of a finished local run into `<workDir>/report.html` and
 * returns its path. Reads the bucket through `o.s3` (the run's own S3 endpoint and a client it accepts) when given,
 * else through an embedded S3 it starts over `<workDir>/s3/` (call it after the run's S3 has closed: two servers
 * over one folder are not supported); the bucket's prefixes and the state machine from `o.deployment` (what the run
 * resolved) when given, else from the work folder's cloud assembly; the traces from the execution histories in
 * `<workDir>/executions/` (write them first: local/orchestrator/observability.ts `writeExecutionHistories`).
 * `o.assembly` (a run with --assembly: the app it executed) is recorded in `<workDir>/assembly.json` first, so that
 * `medlaunch-elt report --workdir` draws the same state machine later.
 */
export async function writeLocalReport(
  workDir: string,
  o: {
    snapshots?: number;
    s3?: { readonly client: S3Client; readonly bucket: string };
    deployment?: LocalDeployment;
    assembly?: { readonly dir: string; readonly stack: string };
  } = {},
): Promise<string> {
  const out = join(workDir, 'report.html');
  const refused = checkOutFile(out);
  if (refused) throw new Error(`${out}: ${refused}`);
  if (o.assembly) recordAssembly(workDir, o.assembly);
  writePage(out, await renderReport(await loadReportData({ kind: 'local', workDir, s3: o.s3, deployment: o.deployment }, { snapshots: o.snapshots })));
  return out;
}

/**
 * The `writeReport` hook of a local run: {@link writeLocalReport} through the run's S3, from what the run resolved
 * and deployed (its bucket, prefixes and state machine; the app of a run with --assembly), reading no template.
 */
export function writeRunReport(ctx: ReportContext, o: { snapshots?: number } = {}): Promise<string> {
  return writeLocalReport(ctx.workDir, {
    snapshots: o.snapshots,
    s3: { client: ctx.client, bucket: ctx.bucket },
    deployment: {
      bucket: ctx.bucket,
      expiringPrefix: ctx.expiringPrefix,
      reportsPrefix: ctx.reportsPrefix,
      stateMachine: { name: ctx.stateMachine.name, definition: ctx.stateMachine.definition as AslDefinition },
    },
    assembly: ctx.assembly,
  });
}

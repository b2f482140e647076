/**
 * The local side of the report: a work folder of `medlaunch-elt local`. Its S3 objects are read through the
 * embedded S3 (started on an ephemeral port over `<workdir>/s3/`, read with the same SDK code as a bucket in AWS);
 * the state machine and the bucket's name and prefixes are what the run deployed: handed over by the run itself
 * (local/orchestrator `writeReport`), or resolved again by local/template from the run's cloud assembly
 * (`<workdir>/cdk.out`, or the app a run with --assembly recorded in `<workdir>/assembly.json`); the execution traces
 * from the execution histories in `<workdir>/executions/` (GetExecutionHistory's shape).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { buildExecutionTrace, type AwsHistoryEvent } from './traces';
import type { AslDefinition, ExecutionTrace } from './types';
import { loadConfig, type PipelineConfig } from '../../lambda-src/lib/config';
import { EXECUTIONS_FOLDER } from '../../local/orchestrator/observability';
import { REGION } from '../../local/orchestrator/options';
import { S3_FOLDER } from '../../local/orchestrator/workdir';
import { LocalS3 } from '../../local/s3';
import { loadAssemblyStack, resolveTemplate, type ResolvedTemplate } from '../../local/template';
import { ENV } from '../../src/contract';

/** What the run deployed, as far as the report needs it. */
export interface LocalDeployment {
  readonly bucket?: string;
  readonly reportsPrefix?: string;
  readonly expiringPrefix?: string;
  readonly stateMachine?: { readonly name: string; readonly definition: AslDefinition };
}

/**
 * The file in a work folder that names the synthesized app a run with --assembly executed (`{"dir", "stack"}`,
 * the folder absolute): its template stays in the app's folder, not in `<workdir>/cdk.out`.
 */
export const ASSEMBLY_RECORD = 'assembly.json';

/** Records in `<workDir>/assembly.json` the app a run with --assembly executed, for a later `report --workdir`. */
export function recordAssembly(workDir: string, assembly: { readonly dir: string; readonly stack: string }): void {
  writeFileSync(join(workDir, ASSEMBLY_RECORD), `${JSON.stringify({ dir: assembly.dir, stack: assembly.stack }, null, 2)}\n`);
}

/** The cloud assembly a work folder's run executed: the recorded app, else `<workdir>/cdk.out`; undefined (a note) when unreadable. */
function assemblyOf(workDir: string, notes: string[]): { dir: string; stack?: string } | undefined {
  const record = join(workDir, ASSEMBLY_RECORD);
  if (existsSync(record)) {
    try {
      const r = JSON.parse(readFileSync(record, 'utf8')) as { dir?: unknown; stack?: unknown };
      if (typeof r.dir === 'string' && typeof r.stack === 'string') return { dir: r.dir, stack: r.stack };
      notes.push(`${record}: not a record of the app (dir and stack expected); the state machine is not drawn`);
    } catch (e) {
      notes.push(`${record}: not JSON (${(e as Error).message.split('\n')[0]}); the state machine is not drawn`);
    }
    return undefined;
  }
  const dir = join(workDir, 'cdk.out');
  if (!existsSync(join(dir, 'manifest.json'))) {
    notes.push(`${dir}: no synthesized template; the state machine is not drawn`);
    return undefined;
  }
  return { dir };
}

/**
 * The bucket, prefixes and state machine of the work folder's pipeline stack, resolved by local/template exactly as
 * the local run resolves them (the stack's region, account and name). What cannot be read goes to `notes`.
 */
export function readDeployment(workDir: string, notes: string[]): LocalDeployment {
  const source = assemblyOf(workDir, notes);
  if (!source) return {};
  let tpl: ResolvedTemplate;
  try {
    const s = loadAssemblyStack(source.dir, source.stack);
    tpl = resolveTemplate(s.template, { assemblyDir: s.assemblyDir, region: s.region ?? REGION, accountId: s.account, stackName: s.stackName });
  } catch (e) {
    notes.push(`${source.dir}: ${(e as Error).message.split('\n')[0]}; the state machine is not drawn`);
    return {};
  }
  return deploymentOf(tpl, source.dir, notes);
}

/**
 * What the report needs of a resolved template, read as the local run reads it: the pipeline functions'
 * environment (those with DATA_BUCKET) through the runtime's own configuration reader, and the one state machine.
 */
export function deploymentOf(tpl: ResolvedTemplate, where: string, notes: string[]): LocalDeployment {
  let config: PipelineConfig | undefined;
  try {
    const fns = tpl.lambdaFunctions().filter((f) => f.env[ENV.dataBucket] !== undefined);
    if (fns.length === 0) notes.push(`${where}: no pipeline Lambda function (no ${ENV.dataBucket} variable)`);
    else config = loadConfig(fns[0].env);
  } catch (e) {
    notes.push(`${where}: cannot read the functions' environment (${(e as Error).message.split('\n')[0]})`);
  }
  let stateMachine: LocalDeployment['stateMachine'];
  try {
    const m = tpl.stateMachine();
    stateMachine = { name: m.name, definition: m.definition as AslDefinition };
  } catch (e) {
    notes.push(`${where}: the state machine is not drawn (${(e as Error).message.split('\n')[0]})`);
  }
  return { bucket: config?.bucket, expiringPrefix: config?.expiringPrefix, reportsPrefix: config?.reportsPrefix, stateMachine };
}

/**
 * The traces of `<workdir>/executions/*.json`, the histories a local run writes (GetExecutionHistory's events with
 * DescribeExecution's identity and status, local/orchestrator/observability.ts), each read by
 * {@link buildExecutionTrace} exactly as an AWS history is. Oldest execution first. A missing folder or an unreadable
 * file is a note, not an error.
 */
export function readLocalTraces(workDir: string, notes: string[]): ExecutionTrace[] {
  const dir = join(workDir, EXECUTIONS_FOLDER);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    notes.push(`${dir}: not found (written by \`medlaunch-elt local\`); the state machine is drawn without execution traces`);
    return [];
  }
  const traces: ExecutionTrace[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const file = join(dir, name);
    let h: LocalHistoryFile;
    try {
      h = JSON.parse(readFileSync(file, 'utf8')) as LocalHistoryFile;
    } catch (e) {
      notes.push(`${file}: not JSON (${(e as Error).message.split('\n')[0]}); skipped`);
      continue;
    }
    if (typeof h !== 'object' || h === null || typeof h.executionArn !== 'string' || !Array.isArray(h.events)) {
      notes.push(`${file}: not an execution history (executionArn and events expected); skipped`);
      continue;
    }
    traces.push(buildExecutionTrace({
      executionArn: h.executionArn,
      ...(typeof h.name === 'string' ? { name: h.name } : {}),
      ...(typeof h.status === 'string' ? { status: h.status } : {}),
      ...(typeof h.startDate === 'string' ? { startedAt: h.startDate } : {}),
      ...(typeof h.stopDate === 'string' ? { stoppedAt: h.stopDate } : {}),
    }, h.events));
  }
  return traces.sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? '') || a.name.localeCompare(b.name));
}

/** The members of a history file the trace reads (local/stepfunctions ExecutionHistory fits it). */
interface LocalHistoryFile {
  readonly executionArn: string;
  readonly name?: string;
  readonly status?: string;
  readonly startDate?: string;
  readonly stopDate?: string;
  readonly events: AwsHistoryEvent[];
}

/** The embedded S3 over a work folder, and an SDK client for it. Close it when done. */
export interface LocalBucketAccess {
  readonly s3: S3Client;
  readonly buckets: string[];
  close(): Promise<void>;
}

/**
 * Starts the embedded S3 over `<workdir>/s3/` on an ephemeral port (no IAM enforcement: the user reads their own
 * files). Throws a one-line error when the folder holds no local run.
 */
export async function openLocalBuckets(workDir: string): Promise<LocalBucketAccess> {
  const root = join(workDir, S3_FOLDER);
  if (!existsSync(workDir) || !statSync(workDir).isDirectory()) throw new Error(`${workDir}: no such folder (run \`npx medlaunch-elt local\` first)`);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`${workDir}: not the work folder of a local run (no s3/ inside)`);
  const server = await LocalS3.start({ rootDir: root });
  const s3 = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'medlaunch-elt-report', secretAccessKey: 'medlaunch-elt-report' },
  });
  try {
    const buckets = ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name).filter((b): b is string => !!b);
    return {
      s3,
      buckets,
      async close() {
        s3.destroy();
        await server.close();
      },
    };
  } catch (e) {
    s3.destroy();
    await server.close();
    throw e;
  }
}

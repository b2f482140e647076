/**
 * The local side of the report: a work folder of `medlaunch-elt local`. Its S3 objects are read through the
 * embedded S3 (started on an ephemeral port over `<workdir>/s3/`, read with the same SDK code as a bucket in AWS);
 * the state machine and the bucket's name and prefixes come from the synthesized template (`<workdir>/cdk.out`);
 * the execution traces from the execution histories in `<workdir>/executions/` (GetExecutionHistory's shape).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { buildExecutionTrace, type AwsHistoryEvent } from './traces';
import type { AslDefinition, ExecutionTrace } from './types';
import { EXECUTIONS_FOLDER } from '../../local/orchestrator/observability';
import { LocalS3 } from '../../local/s3';
import { loadAssemblyStack } from '../../local/template/assembly';
import { IntrinsicResolver } from '../../local/template/intrinsics';
import { ENV, PREFIX_ENV } from '../../src/contract';
import { OBSERVABILITY_ENV } from '../../src/contract/observability';

/** What the synthesized template says about the deployment. */
export interface LocalDeployment {
  readonly bucket?: string;
  readonly reportsPrefix?: string;
  readonly expiringPrefix?: string;
  readonly stateMachine?: { readonly name: string; readonly definition: AslDefinition };
}

function substitute(text: string, subs: Record<string, unknown>): string {
  return text.replace(/\$\{([^}]+)\}/g, (whole, key: string) => (key in subs ? String(subs[key]) : whole));
}

/**
 * The bucket, prefixes and state machine of the pipeline stack synthesized in `<workdir>/cdk.out`, resolved as
 * the local run resolves them (its region, account and stack name). What cannot be read goes to `notes`.
 */
export function readDeployment(workDir: string, notes: string[]): LocalDeployment {
  const assembly = join(workDir, 'cdk.out');
  if (!existsSync(join(assembly, 'manifest.json'))) {
    notes.push(`${assembly}: no synthesized template (a run with --assembly keeps it in the app's folder); the state machine is not drawn`);
    return {};
  }
  let stack: ReturnType<typeof loadAssemblyStack>;
  try {
    stack = loadAssemblyStack(assembly);
  } catch (e) {
    notes.push(`${assembly}: ${(e as Error).message}`);
    return {};
  }
  const r = new IntrinsicResolver(stack.template, { region: stack.region ?? 'us-east-1', accountId: stack.account, stackName: stack.stackName });
  const resources = Object.entries(stack.template.Resources ?? {});
  const env: Record<string, string> = {};
  for (const [, res] of resources.filter(([, x]) => x.Type === 'AWS::Lambda::Function')) {
    const vars = (res.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
    if (vars[ENV.dataBucket] === undefined) continue;
    for (const name of [ENV.dataBucket, PREFIX_ENV.expiringPrefix, OBSERVABILITY_ENV.reportsPrefix]) {
      if (vars[name] === undefined || env[name] !== undefined) continue;
      try {
        env[name] = String(r.resolve(vars[name]));
      } catch {
        // an unresolvable value: the default applies
      }
    }
  }
  let stateMachine: LocalDeployment['stateMachine'];
  const machines = resources.filter(([, x]) => x.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length === 1) {
    const [id, res] = machines[0];
    try {
      const p = res.Properties ?? {};
      const text = p.DefinitionString !== undefined ? String(r.resolve(p.DefinitionString)) : JSON.stringify(r.resolve(p.Definition));
      const subs = (r.resolve(p.DefinitionSubstitutions ?? {}) ?? {}) as Record<string, unknown>;
      stateMachine = { name: r.physicalName(id), definition: JSON.parse(substitute(text, subs)) as AslDefinition };
    } catch (e) {
      notes.push(`state machine ${id}: cannot read its definition (${(e as Error).message.split('\n')[0]})`);
    }
  } else {
    notes.push(`${assembly}: ${machines.length} state machines in the stack; none drawn`);
  }
  return {
    bucket: env[ENV.dataBucket],
    expiringPrefix: env[PREFIX_ENV.expiringPrefix],
    reportsPrefix: env[OBSERVABILITY_ENV.reportsPrefix],
    stateMachine,
  };
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
  const root = join(workDir, 's3');
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

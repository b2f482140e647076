/**
 * `npx medlaunch-elt local`: synthesizes the AccreditationPipeline stack, "deploys" it into the embedded
 * local AWS (S3, SNS, Athena on DuckDB, Lambda workers, Step Functions, EventBridge), uploads the snapshot
 * folders under the raw prefix and lets the S3 events drive the state machine — then reads every result back.
 *
 * What runs is what was synthesized: the state machine definition, the Lambda assets with the environment
 * the template gives them, the event rule's pattern and targets, the Glue tables and the workgroup.
 */
import { createReadStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { LocalAthena } from './athena';
import { DeliveryRecord, LocalEventBridge, S3ObjectNotice } from './events';
import { LocalCredentials, type LocalCredentialSet } from './iam/credentials';
import { IamPolicies } from './iam/index';
import { InvokeResult, LocalLambdaRuntime } from './lambda';
import { bucketSecurityOf, LocalS3, type AccessDeniedNotice } from './s3';
import { LocalSns } from './sns';
import { LocalStepFunctions } from './stepfunctions';
import { pipelineStack, resolveTemplate, ResolvedTemplate } from './template';
import { isTransientAwsError } from '../lambda-src/lib/errors';
import { parseRawKey } from '../lambda-src/lib/keys';
import { mulberry32 } from '../lambda-src/lib/prng';
import { listObjects } from '../lambda-src/lib/s3-list';

export type FaultName = 's3-slowdown' | 'athena-throttle' | 'athena-fail' | 'lambda-timeout';

export interface LocalRunOptions {
  /** Folder of `<YYYY-MM-DD>/` snapshot folders. */
  readonly dataDir: string;
  /** Where the local AWS keeps its state and outputs (wiped first). */
  readonly workDir: string;
  /** As-of date override (default: each record's snapshot date). */
  readonly asOf?: string;
  /** Expiry window in months (synthesized into the stack as `expiryMonths`). */
  readonly months?: number;
  /** Extra copies of every S3 event. */
  readonly duplicateEvents?: number;
  /** Deliver the upload events in a shuffled order. */
  readonly shuffle?: boolean;
  readonly faults?: ReadonlyArray<FaultName>;
  readonly seed?: number;
  readonly onProgress?: (e: ProgressEvent) => void;
  /** Scale of Wait state durations (default 0.01: a 10 s poll wait takes 100 ms locally). */
  readonly waitScale?: number;
  /** Scale of Retry intervals (default 0.05). */
  readonly retryScale?: number;
  /**
   * Authorize every call against the template's IAM policies, bucket policies and key policies, as
   * AWS does (default true). See docs/local-s3.md.
   */
  readonly enforceIam?: boolean;
  /** Changes the policies read from the template before the run (tests: remove one grant with `IamPolicies.without`). */
  readonly adjustPolicies?: (fromTemplate: IamPolicies) => IamPolicies;
  /**
   * Run the pipeline stack of a synthesized app (a cdk.out folder) instead of the built-in one;
   * `stack` picks it when several stacks hold an AccreditationPipeline (local/template/assembly.ts).
   */
  readonly assembly?: { readonly dir: string; readonly stack?: string };
}

export type ProgressEvent =
  | { kind: 'step'; message: string }
  | { kind: 'executions'; finished: number; total: number };

export interface SnapshotSummary {
  records: number;
  valid: number;
  quarantined: number;
  extract_rows: number;
  expiring: string[];
  state_counts: Record<string, number>;
}

export interface ExecutionSummary {
  readonly snapshot: string;
  readonly status: string;
  readonly key?: string;
  readonly name?: string;
  readonly error?: string;
}

export interface LocalRunResult {
  readonly snapshots: Record<string, SnapshotSummary>;
  readonly alerts: unknown[];
  readonly executions: ExecutionSummary[];
  readonly bucket: string;
  readonly bucketDir: string;
  readonly workDir: string;
  /** Wall time of the run, ms. */
  readonly durationMs: number;
  /** Requests the local S3 refused with AccessDenied (empty when IAM is not enforced). */
  readonly accessDenied: AccessDeniedNotice[];
  /** Events EventBridge could not deliver (e.g. the rule's role may not start the state machine). */
  readonly failedDeliveries: DeliveryRecord[];
}

const REGION = 'us-east-1';
/** Credentials of a run without IAM enforcement (any signature is accepted then). */
const CREDENTIALS: LocalCredentialSet = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Lists `<dataDir>/<YYYY-MM-DD>/**` data files (sorted by key). */
export function listSnapshotFiles(dataDir: string): Array<{ snapshot: string; path: string; rel: string }> {
  const out: Array<{ snapshot: string; path: string; rel: string }> = [];
  for (const snapshot of readdirSync(dataDir).sort()) {
    const dir = join(dataDir, snapshot);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(snapshot) || !statSync(dir).isDirectory()) continue;
    const walk = (d: string) => {
      for (const name of readdirSync(d).sort()) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(jsonl|ndjson|json)(\.gz)?$/i.test(name)) out.push({ snapshot, path: p, rel: relative(dataDir, p).split('\\').join('/') });
      }
    };
    walk(dir);
  }
  return out;
}

interface Deployment {
  readonly tpl: ResolvedTemplate;
  readonly bucket: string;
  readonly rawPrefix: string;
  readonly productionPrefix: string;
  readonly expiringPrefix: string;
  readonly database: string;
  readonly workGroup: string;
  readonly curatedTable: string;
  readonly processorArn: string;
}

/** Runs the whole pipeline locally; see the module doc. */
export async function runLocalPipeline(opts: LocalRunOptions): Promise<LocalRunResult> {
  const started = Date.now();
  const step = (message: string) => opts.onProgress?.({ kind: 'step', message });
  const files = listSnapshotFiles(opts.dataDir);
  const snapshots = [...new Set(files.map((f) => f.snapshot))];

  rmSync(opts.workDir, { recursive: true, force: true });
  mkdirSync(opts.workDir, { recursive: true });

  // 1. Synthesize the stack exactly as a user would deploy it.
  const props: Record<string, unknown> = {};
  if (opts.months !== undefined) props.expiryMonths = opts.months;
  // With --assembly: the user's synthesized app, loaded as it will deploy.
  const synth = pipelineStack({ assembly: opts.assembly, props, outdir: join(opts.workDir, 'cdk.out') });
  const tpl = resolveTemplate(synth.template, {
    assemblyDir: synth.assemblyDir, region: REGION, accountId: synth.account, stackName: synth.stackName,
  });
  const dep = inspect(tpl);
  step(`${opts.assembly ? `loaded ${synth.stackName} from ${opts.assembly.dir}` : `synthesized ${synth.stackName}`}: `
    + `${tpl.lambdaFunctions().length} functions, state machine ${tpl.stateMachine().name}, ${tpl.glueTables().length} Glue tables`);

  // 2. Start the local services.
  const iam = localIam(tpl, opts);
  const cliCredentials = iam ? iam.credentials.for(iam.credentials.root) : CREDENTIALS;
  const s3 = await LocalS3.start({
    rootDir: join(opts.workDir, 's3'),
    iam: iam ? { policies: iam.policies, credentials: iam.credentials, region: REGION } : undefined,
  });
  const denials: AccessDeniedNotice[] = [];
  s3.on('accessDenied', (d) => denials.push(d));
  const services = servicesIam(tpl, iam, s3);
  const sns = await LocalSns.start({ logFile: join(opts.workDir, 'alerts.jsonl'), iam, topics: services?.topics });
  const athena = await LocalAthena.start({
    s3: { endpoint: s3.endpoint, rootDir: join(opts.workDir, 's3') }, workDir: join(opts.workDir, 'athena'), region: REGION, iam: services?.athena,
  });
  const endpoints = { s3: s3.endpoint, sns: sns.endpoint, athena: athena.endpoint };
  const summaries = new Map<string, ProcessSummaryLike>();
  const lambda = new LocalLambdaRuntime({
    region: REGION,
    accountId: tpl.accountId,
    baseEnv: {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_ATHENA: athena.endpoint,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      ...(opts.asOf ? { AS_OF_DATE: opts.asOf } : {}),
    },
    log: () => undefined,
  });
  const sfn = new LocalStepFunctions({
    lambda: captureSummaries(lambda, dep.processorArn, summaries),
    endpoints,
    region: REGION,
    accountId: tpl.accountId,
    waitScale: opts.waitScale ?? 0.01,
    retryScale: opts.retryScale ?? 0.05,
    iam,
  });
  try {
    // 3. Deploy: buckets (+ EventBridge notifications), catalog, workgroup, functions, state machine, rules.
    for (const b of tpl.buckets()) {
      await s3.createBucket(b.name);
      s3.setBucketSecurity(b.name, bucketSecurityOf(b.properties, { account: tpl.accountId, region: REGION }));
    }
    await createExternalResources(tpl, s3, step);
    for (const id of tpl.logicalIdsOfType('Custom::S3BucketNotifications')) {
      const p = tpl.properties(id);
      if (p.NotificationConfiguration?.EventBridgeConfiguration !== undefined) s3.setEventBridgeEnabled(String(p.BucketName), true);
    }
    for (const t of tpl.glueTables()) athena.registerTable(t.databaseName, t.tableInput as any);
    for (const wg of tpl.athenaWorkGroups()) {
      const c = wg.configuration;
      athena.registerWorkGroupConfiguration(wg.name, c);
    }
    const pipelineFunctions = tpl.lambdaFunctions().filter((f) => f.assetDir && f.env.DATA_BUCKET !== undefined);
    for (const f of pipelineFunctions) {
      lambda.register({
        name: f.name,
        arn: f.arn,
        logicalId: f.logicalId,
        assetDir: f.assetDir!,
        handler: f.handler,
        env: f.env,
        timeoutSeconds: f.timeoutSeconds,
        memoryMb: f.memoryMb,
        reservedConcurrency: f.reservedConcurrency,
        roleArn: f.roleArn,
        credentials: iam && f.roleArn ? iam.credentials.for({ kind: 'role', arn: f.roleArn, account: tpl.accountId, sessionName: f.name }) : undefined,
      });
    }
    const machine = tpl.stateMachine();
    sfn.register({ name: machine.name, arn: machine.arn, definition: machine.definition, type: machine.type, roleArn: machine.roleArn });
    const events = new LocalEventBridge({
      rules: tpl.eventRules(),
      targets: { startExecution: (arn, input) => sfn.startExecution(arn, input) },
      accountId: tpl.accountId,
      region: REGION,
      iam,
      delivery: {
        duplicateRate: (opts.duplicateEvents ?? 0) > 0 ? 1 : 0,
        duplicateCount: Math.max(1, opts.duplicateEvents ?? 0),
        reorder: opts.shuffle ?? false,
        seed: opts.seed ?? 1,
      },
    });
    step(`deployed locally: buckets ${tpl.buckets().map((b) => b.name).join(', ')}; ${pipelineFunctions.length} Lambda functions; rule ${tpl.eventRules().map((r) => r.name).join(', ')}`);
    applyFaults(opts, { s3, athena, lambda, processorArn: dep.processorArn });

    // 4. Upload: S3 sends "Object Created" to EventBridge, whose rule starts the state machine.
    const buffered: S3ObjectNotice[] = [];
    s3.on('objectCreated', (n) => {
      if (opts.shuffle) buffered.push(n);
      else events.objectsCreated([n]);
    });
    const client = new S3Client({ region: REGION, endpoint: s3.endpoint, credentials: cliCredentials });
    await uploadFiles(files.map((f) => ({
      path: f.path,
      bucket: dep.bucket,
      key: `${dep.rawPrefix}${f.rel}`,
      contentType: f.path.endsWith('.gz') ? 'application/gzip' : 'application/x-ndjson',
    })), { endpoint: s3.endpoint, seed: opts.seed ?? 1, credentials: cliCredentials });
    if (opts.shuffle) events.objectsCreated(buffered.splice(0));
    step(`uploaded ${files.length} objects from ${opts.dataDir} to s3://${dep.bucket}/${dep.rawPrefix}`);

    // 5. Wait for every delivered execution, reporting progress.
    const timer = setInterval(() => {
      const ex = events.executions();
      opts.onProgress?.({ kind: 'executions', total: ex.length, finished: ex.filter((e) => e.status !== 'RUNNING' && e.status !== 'PENDING').length });
    }, 200);
    try {
      await events.waitForIdle();
      await sfn.waitForAll();
    } finally {
      clearInterval(timer);
    }
    const ex = events.executions();
    opts.onProgress?.({ kind: 'executions', total: ex.length, finished: ex.length });

    // 6. Read everything back.
    const executions: ExecutionSummary[] = ex.map((e) => {
      const d = sfn.describeExecution(e.executionArn);
      return {
        snapshot: (e.key && parseRawKey(e.key, dep.rawPrefix).snapshotDate) ?? 'unknown',
        status: d.status,
        key: e.key,
        name: d.name,
        error: d.outcome?.error ? `${d.outcome.error}${d.outcome.cause ? `: ${oneLine(d.outcome.cause)}` : ''}` : undefined,
      };
    });
    const athenaClient = new AthenaClient({ region: REGION, endpoint: athena.endpoint, credentials: cliCredentials });
    const out: Record<string, SnapshotSummary> = {};
    for (const d of snapshots) {
      const own = [...summaries.values()].filter((s) => s.snapshotDate === d);
      out[d] = {
        records: own.reduce((n, s) => n + s.read, 0),
        valid: own.reduce((n, s) => n + s.valid, 0),
        quarantined: own.reduce((n, s) => n + s.quarantined, 0),
        extract_rows: await countExtractRows(athenaClient, dep, d),
        expiring: await expiringIds(client, dep, d),
        state_counts: await productionStateCounts(client, dep, d),
      };
    }
    const alerts = sns.messages.map((m) => {
      try {
        return JSON.parse(m.message);
      } catch {
        return { subject: m.subject, message: m.message };
      }
    });
    if (denials.length > 0) {
      step(`IAM: local S3 denied ${denials.length} request(s); first: ${denials[0].operation} by ${denials[0].principal}: ${denials[0].message}`);
    }
    return {
      snapshots: out,
      alerts,
      executions,
      accessDenied: denials,
      failedDeliveries: events.failedDeliveries(),
      bucket: dep.bucket,
      bucketDir: s3.bucketPath(dep.bucket),
      workDir: opts.workDir,
      durationMs: Date.now() - started,
    };
  } finally {
    await sfn.close().catch(() => undefined);
    await lambda.close().catch(() => undefined);
    await athena.close().catch(() => undefined);
    await sns.close().catch(() => undefined);
    await s3.close().catch(() => undefined);
  }
}

/** One local file to upload. */
export interface UploadItem { readonly path: string; readonly bucket: string; readonly key: string; readonly contentType: string }

/** Concurrent uploads, as `aws s3 cp --recursive` makes them. */
const UPLOAD_CONCURRENCY = 4;
/** PutObject's size limit; larger files go up as multipart uploads. */
const MAX_PUT_BYTES = 5 * 1024 ** 3;
const UPLOAD_ATTEMPTS = 8;

/**
 * A silent SDK logger, like the default one, except that the default one still prints "An error was
 * encountered in a non-retryable streaming request." on the console for every failed streamed
 * request. uploadFiles retries those itself, and every failure that is not retried is thrown with
 * its context, so nothing is lost by staying silent.
 */
const SILENT_LOGGER = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Uploads the data files with the SDK, several at a time. A file up to 5 GiB is one streamed
 * PutObject (no part buffering, no client-side payload hashing: the SDK sends it `aws-chunked` with a
 * trailing CRC32). A stream cannot be replayed by the SDK's own retry, so a transient error (503
 * SlowDown, 5xx, reset) re-opens the file and sends it again, with jittered backoff. Larger files use
 * a multipart upload (lib-storage buffers each part, so its parts are retried by the SDK).
 */
export async function uploadFiles(items: UploadItem[], opts: { endpoint: string; seed: number; credentials?: LocalCredentialSet }): Promise<void> {
  const credentials = opts.credentials ?? CREDENTIALS;
  const streaming = new S3Client({
    region: REGION, endpoint: opts.endpoint, credentials, maxAttempts: 1, logger: SILENT_LOGGER,
  });
  const multipart = new S3Client({ region: REGION, endpoint: opts.endpoint, credentials });
  const rng = mulberry32(opts.seed);
  const queue = [...items];
  const one = async (item: UploadItem): Promise<void> => {
    const size = statSync(item.path).size;
    if (size > MAX_PUT_BYTES) {
      await new Upload({
        client: multipart,
        params: { Bucket: item.bucket, Key: item.key, Body: createReadStream(item.path), ContentType: item.contentType },
      }).done();
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await streaming.send(new PutObjectCommand({
          Bucket: item.bucket,
          Key: item.key,
          Body: createReadStream(item.path),
          ContentLength: size,
          ContentType: item.contentType,
        }));
        return;
      } catch (e) {
        if (attempt >= UPLOAD_ATTEMPTS || !isTransientAwsError(e)) {
          throw new Error(`uploading ${item.path} to s3://${item.bucket}/${item.key} failed: ${(e as Error).name}: ${(e as Error).message}`);
        }
        await sleep(Math.round(rng() * Math.min(1000, 20 * 2 ** attempt)));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, queue.length) }, async () => {
      for (let item = queue.shift(); item; item = queue.shift()) await one(item);
    }));
  } finally {
    streaming.destroy();
    multipart.destroy();
  }
}

/**
 * The IAM side of a run: the template's policies and the credentials every local principal gets
 * (each function its execution role's, the CLI the account root's); undefined with `enforceIam: false`.
 */
function localIam(tpl: ResolvedTemplate, opts: LocalRunOptions): { policies: IamPolicies; credentials: LocalCredentials } | undefined {
  if (opts.enforceIam === false) return undefined;
  const fromTemplate = IamPolicies.fromTemplate(tpl, { account: tpl.accountId, region: REGION });
  return {
    policies: opts.adjustPolicies ? opts.adjustPolicies(fromTemplate) : fromTemplate,
    credentials: new LocalCredentials(tpl.accountId),
  };
}

/**
 * What LocalAthena and LocalSns need besides the policies (docs/cloud-fidelity.md): the template's
 * topics with their keys, and the SSE-KMS key of what Athena reads (the bucket's default key).
 */
function servicesIam(tpl: ResolvedTemplate, iam: { policies: IamPolicies; credentials: LocalCredentials } | undefined, s3: LocalS3) {
  if (!iam) return undefined;
  return {
    athena: { ...iam, objectKmsKey: (bucket: string) => s3.securityOf(bucket)?.defaultEncryption?.kmsKeyArn },
    topics: tpl.snsTopics().map((t) => ({ arn: t.arn, kmsMasterKeyId: t.properties.KmsMasterKeyId as string | undefined })),
  };
}

/**
 * Buckets and topics the pipeline uses that the stack does not define (an imported `bucket` or
 * `alertTopic` prop): created locally, empty and without the policies they have in the account.
 */
async function createExternalResources(tpl: ResolvedTemplate, s3: LocalS3, step: (m: string) => void): Promise<void> {
  const external = tpl.externalResources();
  for (const b of external.buckets) {
    // An imported data bucket must have EventBridge notifications on (the construct cannot set them).
    await s3.createBucket(b);
    s3.setEventBridgeEnabled(b, true);
    step(`bucket ${b} is not defined by the stack (imported): created locally, empty, without its bucket policy or default encryption`);
  }
  for (const t of external.topics) step(`topic ${t} is not defined by the stack (imported): used locally without its topic policy or key`);
}

function oneLine(s: string): string {
  try {
    const j = JSON.parse(s);
    if (j && typeof j === 'object' && typeof j.errorMessage === 'string') return j.errorMessage;
  } catch {
    // not JSON
  }
  return s.replace(/\s+/g, ' ').slice(0, 300);
}

/** What the runner needs to know about the deployed stack, read from the synthesized template. */
function inspect(tpl: ResolvedTemplate): Deployment {
  const fns = tpl.lambdaFunctions().filter((f) => f.env.DATA_BUCKET !== undefined);
  if (fns.length === 0) throw new Error('the synthesized stack has no pipeline Lambda (no DATA_BUCKET variable)');
  const env = fns[0].env;
  const processor = fns.find((f) => /stage2|processor/i.test(f.logicalId)) ?? fns[0];
  return {
    tpl,
    bucket: env.DATA_BUCKET,
    rawPrefix: env.RAW_PREFIX ?? 'data/batch/',
    productionPrefix: env.PRODUCTION_PREFIX ?? 'production/state_counts/',
    expiringPrefix: env.EXPIRING_PREFIX ?? 'expiring/',
    database: env.GLUE_DATABASE,
    workGroup: env.ATHENA_WORKGROUP,
    curatedTable: env.CURATED_TABLE ?? 'facility_metrics',
    processorArn: processor.arn,
  };
}

interface ProcessSummaryLike { key: string; snapshotDate: string; read: number; valid: number; quarantined: number }

/** Records the latest Stage 2 summary per object key, as the processor itself returned it (duplicates overwrite). */
function captureSummaries(lambda: LocalLambdaRuntime, processorArn: string, processorSummaries: Map<string, ProcessSummaryLike>) {
  return {
    async invoke(nameOrArn: string, payload: unknown): Promise<InvokeResult> {
      const r = await lambda.invoke(nameOrArn, payload);
      if (!r.functionError && (nameOrArn === processorArn || processorArn.endsWith(`:${nameOrArn}`))) {
        for (const s of [r.payload].flat() as ProcessSummaryLike[]) {
          if (s && typeof s.key === 'string' && typeof s.snapshotDate === 'string') processorSummaries.set(s.key, s);
        }
      }
      return r;
    },
  };
}

function applyFaults(opts: LocalRunOptions, t: { s3: LocalS3; athena: LocalAthena; lambda: LocalLambdaRuntime; processorArn: string }): void {
  const seed = opts.seed ?? 1;
  for (const f of opts.faults ?? []) {
    switch (f) {
      case 's3-slowdown':
        t.s3.setFaults({ slowDownRate: 0.05, seed });
        break;
      case 'athena-throttle':
        t.athena.setFaults({ throttleFirstN: 3, seed });
        break;
      case 'athena-fail':
        t.athena.setFaults({ failNextN: 1, failRetryable: false, seed });
        break;
      case 'lambda-timeout':
        t.lambda.setFaults({ timeoutNext: { fn: t.processorArn, n: 1 } });
        break;
    }
  }
}

async function countExtractRows(athena: AthenaClient, dep: Deployment, snapshot: string): Promise<number> {
  const start = await athena.send(new StartQueryExecutionCommand({
    QueryString: `SELECT count(*) AS n FROM ${dep.curatedTable} WHERE snapshot_date = ?`,
    ExecutionParameters: [`'${snapshot}'`],
    QueryExecutionContext: { Database: dep.database },
    WorkGroup: dep.workGroup,
  }));
  const id = start.QueryExecutionId!;
  for (;;) {
    const q = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = q.QueryExecution?.Status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new Error(`reading back the Stage 1 extract failed: ${q.QueryExecution?.Status?.StateChangeReason}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const res = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
  return Number(res.ResultSet?.Rows?.[1]?.Data?.[0]?.VarCharValue ?? 0);
}

async function readText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await r.Body!.transformToString('utf8');
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey') return undefined;
    throw e;
  }
}

async function expiringIds(s3: S3Client, dep: Deployment, snapshot: string): Promise<string[]> {
  const ids = new Set<string>();
  for await (const { Key: key } of listObjects(s3, dep.bucket, `${dep.expiringPrefix}snapshot_date=${snapshot}/`)) {
    // Stream the object line by line: an expiring output can be hundreds of MB.
    const body = (await s3.send(new GetObjectCommand({ Bucket: dep.bucket, Key: key }))).Body as Readable;
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
      if (line.trim()) ids.add(facilityIdOf(line));
    }
  }
  return [...ids].sort();
}

const ID_PREFIX = '{"facility_id":"';

/**
 * The `facility_id` of an output line. Stage 2 writes records unchanged, and the generator (like most
 * writers) puts `facility_id` first, so the id is read off the line without parsing it when that is
 * exact: the line starts with `{"facility_id":"`, has no backslash (so no escaped key or quote
 * anywhere) and no second `"facility_id"` (JSON.parse would take the last). Otherwise it is parsed.
 */
export function facilityIdOf(line: string): string {
  if (line.startsWith(ID_PREFIX) && !line.includes('\\')) {
    const end = line.indexOf('"', ID_PREFIX.length);
    if (end > 0 && line.indexOf('"facility_id"', end) === -1) return line.slice(ID_PREFIX.length, end);
  }
  return String(JSON.parse(line).facility_id);
}

async function productionStateCounts(s3: S3Client, dep: Deployment, snapshot: string): Promise<Record<string, number>> {
  const text = await readText(s3, dep.bucket, `${dep.productionPrefix}snapshot_date=${snapshot}/state_counts.json`);
  if (text === undefined) return {};
  const doc = JSON.parse(text);
  const rows: Array<{ state: string; accredited_facilities: number }> = Array.isArray(doc.state_counts) ? doc.state_counts : [];
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.accredited_facilities)]));
}


/**
 * `npx medlaunch-elt local`: synthesizes the AccreditationPipeline stack, "deploys" it into the embedded
 * local AWS (S3, SNS, Athena on DuckDB, Lambda workers, Step Functions, EventBridge), uploads the snapshot
 * folders under the raw prefix and lets the S3 events drive the state machine — then reads every result back.
 *
 * What runs is what was synthesized: the state machine definition, the Lambda assets with the environment
 * the template gives them, the event rule's pattern and targets, the Glue tables and the workgroup.
 */
import { createReadStream, existsSync, linkSync, copyFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { loadConfig } from '../../lambda-src/lib/config';
import { addMonths } from '../../lambda-src/lib/dates';
import { isTransientAwsError } from '../../lambda-src/lib/errors';
import { isDataKey, parseRawKey } from '../../lambda-src/lib/keys';
import { listObjects } from '../../lambda-src/lib/s3-list';
import { LocalAthena } from '../athena';
import { DeliveryRecord, LocalEventBridge, S3ObjectNotice } from '../events';
import { accessKeyOf, RequestCounter, s3Operation, serverAt, targetOperation } from '../http';
import { LocalCredentials, type LocalCredentialSet } from '../iam/credentials';
import { IamPolicies } from '../iam/index';
import { InvokeResult, LocalLambdaRuntime } from '../lambda';
import { mulberry32 } from '../prng';
import { bucketSecurityOf, LocalS3, type AccessDeniedNotice } from '../s3';
import { LocalSns } from '../sns';
import { LocalStepFunctions } from '../stepfunctions';
import { pipelineStack, resolveTemplate, ResolvedTemplate } from '../template';

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
  /**
   * The local Lambda concurrency: `account` invocations at once over all functions (also the most warm
   * execution environments kept), `function` for each function without a reserved concurrency.
   * Invocations beyond it queue. Default {@link LOCAL_LAMBDA_CONCURRENCY}.
   */
  readonly lambdaConcurrency?: { readonly account?: number; readonly function?: number };
  /**
   * Runs once every execution of the upload has ended (tests: a late file, a deleted file): objects it puts
   * or deletes under the raw prefix start executions through the rule, which end before results are read.
   */
  readonly followUp?: (ctx: { readonly client: S3Client; readonly bucket: string; readonly rawPrefix: string }) => Promise<void>;
}

export type ProgressEvent =
  | { kind: 'step'; message: string }
  /** `waiting`: what the running executions wait for right now (description → how many). */
  | { kind: 'executions'; finished: number; total: number; waiting?: Record<string, number> };

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
  /** What the contract summary leaves out, per snapshot (same keys as `snapshots`). */
  readonly details: Record<string, SnapshotDetails>;
  /** Files of --data that were not uploaded, and why. */
  readonly skipped: SkippedFile[];
  /** Data files uploaded. */
  readonly uploaded: number;
  /** The SNS alerts log, when any alert was published (the file exists only then). */
  readonly alertsLog?: string;
  /** What the drill options injected and how the pipeline recovered. */
  readonly drill: DrillReport;
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
  /** The AWS requests the run made, per service and operation ({@link RequestReport}). */
  readonly requests: RequestReport;
}

/**
 * The AWS requests a run made, per service and operation, counted at the service boundary: every HTTP
 * request the embedded S3, Athena and SNS endpoints received (SDK retries included, as AWS meters them),
 * every Lambda Invoke, Step Functions' StartExecution calls and state transitions, and the events put on
 * the EventBridge bus. The uploads and the read-back of the results (the CLI's own calls) are included
 * in `s3`/`athena`, and broken out in `client`.
 */
export interface RequestReport {
  /** S3 operation → requests (ListObjectsV2, GetObject, PutObject, HeadObject, CopyObject, DeleteObject, …). */
  readonly s3: Record<string, number>;
  /** Athena operation → requests (StartQueryExecution, GetQueryExecution, GetQueryResults, …). */
  readonly athena: Record<string, number>;
  /** SNS operation → requests (Publish). */
  readonly sns: Record<string, number>;
  /** Lambda: function name → invocations (Invoke calls the function accepted). */
  readonly lambda: Record<string, number>;
  /** Lambda: function name → billed GB-seconds (duration × MemorySize). */
  readonly lambda_gb_seconds: Record<string, number>;
  /** Step Functions: StartExecution calls and state transitions (states entered, retries included). */
  readonly stepfunctions: { StartExecution: number; StateTransitions: number };
  /** EventBridge: events put on the bus (S3 Object Created events) and target invocations (deliveries). */
  readonly events: { PutEvents: number; TargetInvocations: number };
  /**
   * Of the S3/Athena requests above, those signed with the CLI's credentials: the uploads, reading the
   * results back, and the S3 calls Athena makes for the CLI's queries (it acts with the caller's identity).
   */
  readonly client: { s3: Record<string, number>; athena: Record<string, number> };
}

const REGION = 'us-east-1';
/**
 * The local account's Lambda concurrency (invocations at once over all functions; also the most
 * execution environments kept warm). AWS bounds a burst the same way, by the account's concurrency
 * (1,000 by default) and each function's reserved concurrency; locally the bound is the machine's:
 * each environment is a worker thread holding its bundle and SDK (~30–50 MB), and beyond a few per
 * core more environments only add memory and cold starts. Invocations beyond it queue, as
 * Step Functions' Lambda tasks wait for a slot.
 */
export const LOCAL_LAMBDA_CONCURRENCY = { account: 6, function: 4 } as const;
/** Credentials of a run without IAM enforcement (any signature is accepted then). */
const CREDENTIALS: LocalCredentialSet = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Lists `<dataDir>/<YYYY-MM-DD>/**` data files (sorted by key). */
export function listSnapshotFiles(dataDir: string): Array<{ snapshot: string; path: string; rel: string }> {
  return walkSnapshotFolders(dataDir).data;
}

/**
 * One walk of `<dataDir>/<YYYY-MM-DD>/**` (sorted): the data files (isDataKey, as the runtime) and the files
 * that are not data files (the event rule would not match them either).
 */
function walkSnapshotFolders(dataDir: string): { data: Array<{ snapshot: string; path: string; rel: string }>; skipped: SkippedFile[] } {
  const data: Array<{ snapshot: string; path: string; rel: string }> = [];
  const skipped: SkippedFile[] = [];
  for (const snapshot of readdirSync(dataDir).sort()) {
    const dir = join(dataDir, snapshot);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(snapshot) || !statSync(dir).isDirectory()) continue;
    const walk = (d: string) => {
      for (const name of readdirSync(d).sort()) {
        const p = join(d, name);
        const rel = relative(dataDir, p).split(sep).join('/');
        if (statSync(p).isDirectory()) walk(p);
        else if (isDataKey(name)) data.push({ snapshot, path: p, rel });
        else skipped.push({ path: rel, reason: name.startsWith('.medlaunch-elt-') ? 'medlaunch-elt bookkeeping' : 'not a data file (.jsonl, .ndjson, .json, optionally .gz)' });
      }
    };
    walk(dir);
  }
  return { data, skipped };
}

interface Deployment {
  readonly tpl: ResolvedTemplate;
  readonly bucket: string;
  readonly rawPrefix: string;
  readonly productionPrefix: string;
  readonly expiringPrefix: string;
  readonly quarantinePrefix: string;
  readonly curatedPrefix: string;
  /** The expiry window the functions were synthesized with (EXPIRY_MONTHS). */
  readonly expiryMonths: number;
  readonly database: string;
  readonly workGroup: string;
  readonly curatedTable: string;
  readonly processorArn: string;
}

/** Runs the whole pipeline locally; see the module doc. */
export async function runLocalPipeline(opts: LocalRunOptions): Promise<LocalRunResult> {
  const started = Date.now();
  const step = (message: string) => opts.onProgress?.({ kind: 'step', message });
  const { data: files, skipped } = walkSnapshotFolders(opts.dataDir);
  const snapshots = [...new Set(files.map((f) => f.snapshot))];

  prepareWorkDir(opts.workDir, opts.dataDir);

  // 1. Synthesize the stack exactly as a user would deploy it.
  const props: Record<string, unknown> = {};
  if (opts.months !== undefined) props.expiryMonths = opts.months;
  // With --assembly: the user's synthesized app, loaded as it will deploy.
  const synth = pipelineStack({ assembly: opts.assembly, props, outdir: join(opts.workDir, 'cdk.out') });
  // A stack bound to an environment (an app's `env`) runs in its region and account.
  const region = synth.region ?? REGION;
  const tpl = resolveTemplate(synth.template, {
    assemblyDir: synth.assemblyDir, region, accountId: synth.account, stackName: synth.stackName,
  });
  const dep = inspect(tpl);
  step(opts.assembly ? `loaded from ${opts.assembly.dir}: ${synthesizedMessage(synth.stackName, tpl).replace(/^synthesized /, '')}` : synthesizedMessage(synth.stackName, tpl));

  // 2. Start the local services.
  const iam = localIam(tpl, opts);
  const cliCredentials = iam ? iam.credentials.for(iam.credentials.root) : CREDENTIALS;
  const s3 = await LocalS3.start({
    rootDir: join(opts.workDir, 's3'),
    iam: iam ? { policies: iam.policies, credentials: iam.credentials, region } : undefined,
  });
  const denials: AccessDeniedNotice[] = [];
  s3.on('accessDenied', (d) => denials.push(d));
  const services = servicesIam(tpl, iam, s3);
  const sns = await LocalSns.start({ logFile: join(opts.workDir, 'alerts.jsonl'), iam, topics: services?.topics });
  const athena = await LocalAthena.start({
    s3: { endpoint: s3.endpoint, rootDir: join(opts.workDir, 's3') }, workDir: join(opts.workDir, 'athena'), region, iam: services?.athena,
  });
  const endpoints = { s3: s3.endpoint, sns: sns.endpoint, athena: athena.endpoint };
  const counter = countRequests(endpoints, cliCredentials.accessKeyId);
  const summaries = new Map<string, ProcessSummaryLike>();
  const waits = new WaitTracker();
  const lambda = new LocalLambdaRuntime({
    region,
    accountId: tpl.accountId,
    baseEnv: {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_ATHENA: athena.endpoint,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      ...(opts.asOf ? { AS_OF_DATE: opts.asOf } : {}),
    },
    log: () => undefined,
    maxConcurrency: opts.lambdaConcurrency?.account ?? LOCAL_LAMBDA_CONCURRENCY.account,
    defaultFunctionConcurrency: opts.lambdaConcurrency?.function ?? LOCAL_LAMBDA_CONCURRENCY.function,
  });
  const sfn = new LocalStepFunctions({
    lambda: trackWaits(captureSummaries(lambda, dep.processorArn, summaries), waits, dep.processorArn),
    endpoints,
    region,
    accountId: tpl.accountId,
    waitScale: opts.waitScale ?? 0.01,
    retryScale: opts.retryScale ?? 0.05,
    iam,
  });
  const clients: Array<{ destroy(): void }> = [];
  try {
    // 3. Deploy: buckets (+ EventBridge notifications), catalog, workgroup, functions, state machine, rules.
    for (const b of tpl.buckets()) {
      await s3.createBucket(b.name);
      s3.setBucketSecurity(b.name, bucketSecurityOf(b.properties, { account: tpl.accountId, region }));
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
      region,
      iam,
      delivery: {
        duplicateRate: (opts.duplicateEvents ?? 0) > 0 ? 1 : 0,
        duplicateCount: Math.max(1, opts.duplicateEvents ?? 0),
        reorder: opts.shuffle ?? false,
        seed: opts.seed ?? 1,
      },
    });
    step(`deployed locally: ${plural(tpl.buckets().length, 'bucket')} ${tpl.buckets().map((b) => b.name).join(', ')}; ${plural(pipelineFunctions.length, 'pipeline Lambda function')}; ${plural(tpl.eventRules().length, 'rule')} ${tpl.eventRules().map((r) => r.name).join(', ')}`);
    const injected = applyFaults(opts, {
      s3, athena, lambda, processorArn: dep.processorArn, snapshots, rawKeys: files.map((f) => `${dep.rawPrefix}${f.rel}`),
    });

    // 4. Upload: S3 sends "Object Created" to EventBridge, whose rule starts the state machine.
    const buffered: S3ObjectNotice[] = [];
    let busEvents = 0;
    s3.on('objectCreated', (n) => {
      busEvents++;
      if (opts.shuffle) buffered.push(n);
      else events.objectsCreated([n]);
    });
    s3.on('objectDeleted', (n) => {
      busEvents++;
      events.objectsDeleted([n]);
    });
    const client = new S3Client({ region, endpoint: s3.endpoint, credentials: cliCredentials });
    clients.push(client);
    await uploadFiles(files.map((f) => ({
      path: f.path,
      bucket: dep.bucket,
      key: `${dep.rawPrefix}${f.rel}`,
      contentType: f.path.endsWith('.gz') ? 'application/gzip' : 'application/x-ndjson',
    })), { endpoint: s3.endpoint, seed: opts.seed ?? 1, credentials: cliCredentials, region });
    if (opts.shuffle) events.objectsCreated(buffered.splice(0));
    step(uploadedMessage(files.length, skipped, opts.dataDir, `s3://${dep.bucket}/${dep.rawPrefix}`));

    // 5. Wait for every delivered execution, reporting progress.
    const timer = setInterval(() => {
      const ex = events.executions();
      opts.onProgress?.({
        kind: 'executions', total: ex.length, finished: ex.filter((e) => e.status !== 'RUNNING' && e.status !== 'PENDING').length, waiting: waits.summary(),
      });
    }, 200);
    try {
      await events.waitForIdle();
      await sfn.waitForAll();
      if (opts.followUp) {
        await opts.followUp({ client, bucket: dep.bucket, rawPrefix: dep.rawPrefix });
        await events.waitForIdle();
        await sfn.waitForAll();
      }
    } finally {
      clearInterval(timer);
    }
    const ex = events.executions();
    opts.onProgress?.({ kind: 'executions', total: ex.length, finished: ex.length });

    // 6. Read everything back.
    const executions: ExecutionSummary[] = sortExecutions(ex.map((e) => {
      const d = sfn.describeExecution(e.executionArn);
      return {
        snapshot: (e.key && parseRawKey(e.key, dep.rawPrefix).snapshotDate) ?? 'unknown',
        status: d.status,
        key: e.key,
        name: d.name,
        error: d.outcome?.error ? `${d.outcome.error}${d.outcome.cause ? `: ${oneLine(d.outcome.cause)}` : ''}` : undefined,
      };
    }));
    const athenaClient = new AthenaClient({ region, endpoint: athena.endpoint, credentials: cliCredentials });
    clients.push(athenaClient);
    const out: Record<string, SnapshotSummary> = {};
    const details: Record<string, SnapshotDetails> = {};
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
      details[d] = await snapshotDetails({
        s3Client: client,
        athenaClient,
        dep,
        snapshot: d,
        own,
        workDir: opts.workDir,
        bucketDir: s3.bucketPath(dep.bucket),
        asOf: opts.asOf,
        months: opts.months ?? dep.expiryMonths,
        files: files.filter((f) => f.snapshot === d).length,
        expiring: out[d].expiring.length,
      });
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
    const alertsLog = join(opts.workDir, 'alerts.jsonl');
    const ended = ex.map((e) => sfn.describeExecution(e.executionArn));
    return {
      snapshots: out,
      details,
      skipped,
      uploaded: files.length,
      alertsLog: alerts.length > 0 && existsSync(alertsLog) ? alertsLog : undefined,
      drill: drillReport(opts, injected, ended, alerts, waits, s3.slowDownsInjected),
      alerts,
      executions,
      accessDenied: denials,
      failedDeliveries: events.failedDeliveries(),
      bucket: dep.bucket,
      bucketDir: s3.bucketPath(dep.bucket),
      workDir: opts.workDir,
      durationMs: Date.now() - started,
      requests: requestReport(counter, lambda, sfn.listExecutions().map((d) => d.outcome), busEvents, events.deliveries()),
    };
  } finally {
    counter.close();
    // The CLI's own SDK clients: their keep-alive sockets would outlive the run.
    for (const c of clients) c.destroy();
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
export async function uploadFiles(
  items: UploadItem[], opts: { endpoint: string; seed: number; credentials?: LocalCredentialSet; region?: string },
): Promise<void> {
  const credentials = opts.credentials ?? CREDENTIALS;
  const region = opts.region ?? REGION;
  const streaming = new S3Client({
    region, endpoint: opts.endpoint, credentials, maxAttempts: 1, logger: SILENT_LOGGER,
  });
  const multipart = new S3Client({ region, endpoint: opts.endpoint, credentials });
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
  const fromTemplate = IamPolicies.fromTemplate(tpl, { account: tpl.accountId, region: tpl.region });
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
  // The functions' environment read the way the runtime reads it (the contract's names and defaults).
  const config = loadConfig(fns[0].env);
  const processor = fns.find((f) => /stage2|processor/i.test(f.logicalId)) ?? fns[0];
  return {
    tpl,
    bucket: config.bucket,
    rawPrefix: config.rawPrefix,
    productionPrefix: config.productionPrefix,
    expiringPrefix: config.expiringPrefix,
    quarantinePrefix: config.quarantinePrefix,
    curatedPrefix: config.curatedPrefix,
    expiryMonths: config.expiryMonths,
    database: config.glueDatabase,
    workGroup: config.athenaWorkgroup,
    curatedTable: config.curatedTable,
    processorArn: processor.arn,
  };
}

interface ProcessSummaryLike {
  key: string; snapshotDate: string; read: number; valid: number; quarantined: number; duplicates?: number; blank?: number;
}

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

/** One injected fault, as the drill report shows it. */
export interface InjectedFault {
  readonly fault: FaultName;
  /** What was injected, in words. */
  readonly injected: string;
  /**
   * What the fault targets, when it targets one thing: a snapshot (`athena-fail`) or an object key
   * (`lambda-timeout`), chosen from the seed and the sorted snapshot names or data keys.
   */
  readonly target?: string;
}

/**
 * Sets up the drill faults. Every choice depends only on the seed and stable names, never on the order
 * in which concurrent requests arrive: `athena-fail` fails every facility-extract query of one snapshot,
 * picked by the seed from the sorted snapshot names (the UNLOAD's staging location names the snapshot).
 */
interface FaultTargets {
  s3: LocalS3;
  athena: LocalAthena;
  lambda: LocalLambdaRuntime;
  processorArn: string;
  snapshots: string[];
  /** The S3 keys of the uploaded data files. */
  rawKeys: string[];
}

function applyFaults(opts: LocalRunOptions, t: FaultTargets): InjectedFault[] {
  const seed = opts.seed ?? 1;
  const faults = [...new Set(opts.faults ?? [])];
  const injected: InjectedFault[] = [];
  const athena: Parameters<LocalAthena['setFaults']>[0] = { seed };
  for (const f of faults) {
    switch (f) {
      case 's3-slowdown':
        t.s3.setFaults({ slowDownRate: 0.05, seed });
        injected.push({ fault: f, injected: '503 SlowDown on 5% of S3 requests (seeded)' });
        break;
      case 'athena-throttle':
        athena.throttleFirstN = 3;
        injected.push({ fault: f, injected: 'TooManyRequestsException on the first 3 StartQueryExecution calls' });
        break;
      case 'athena-fail': {
        const sorted = [...t.snapshots].sort();
        const target = sorted[Math.floor(mulberry32(seed)() * sorted.length)];
        if (target === undefined) break;
        athena.failQueriesMatching = new RegExp(`/_staging/snapshot_date=${target}/`);
        athena.failRetryable = false;
        injected.push({ fault: f, injected: `every facility_extract query of snapshot ${target} ends FAILED (non-retryable)`, target });
        break;
      }
      case 'lambda-timeout': {
        const sorted = [...t.rawKeys].sort();
        const target = sorted[Math.floor(mulberry32(seed)() * sorted.length)];
        if (target === undefined) break;
        t.lambda.setFaults({ timeoutNext: { fn: t.processorArn, n: 1, when: (payload) => payloadKey(payload) === target } });
        injected.push({ fault: f, injected: `the first Stage 2 processor invocation for ${target} reports Sandbox.Timedout`, target });
        break;
      }
    }
  }
  if (athena.throttleFirstN !== undefined || athena.failQueriesMatching !== undefined) t.athena.setFaults(athena);
  return injected;
}

/** The object key a Stage 2 payload is for (its S3 event's, or a direct `{key}`). */
function payloadKey(payload: unknown): string | undefined {
  const p = (payload ?? {}) as { key?: unknown; detail?: { object?: { key?: unknown } } };
  const key = p.key ?? p.detail?.object?.key;
  return typeof key === 'string' ? key : undefined;
}

/** Counts the requests each embedded endpoint receives, and separately those signed with the CLI's key. */
function countRequests(endpoints: { s3: string; athena: string; sns: string }, cliAccessKey: string): RequestCounter {
  const counter = new RequestCounter();
  const server = (endpoint: string) => {
    const srv = serverAt(endpoint);
    if (!srv) throw new Error(`no embedded server listens at ${endpoint}`);
    return srv;
  };
  const byCli = (classify: (req: IncomingMessage) => string) =>
    (req: IncomingMessage) => (accessKeyOf(req) === cliAccessKey ? classify(req) : undefined);
  counter.observe(server(endpoints.s3), 's3', s3Operation);
  counter.observe(server(endpoints.athena), 'athena', targetOperation);
  counter.observe(server(endpoints.sns), 'sns', snsOperation);
  counter.observe(server(endpoints.s3), 'client.s3', byCli(s3Operation));
  counter.observe(server(endpoints.athena), 'client.athena', byCli(targetOperation));
  return counter;
}

/**
 * SNS's operation: the JSON protocol names it in X-Amz-Target; the Query protocol (what the SDK sends)
 * in the form body, which the service reads. The pipeline's only SNS call is Publish (its alerts).
 */
function snsOperation(req: IncomingMessage): string {
  const op = targetOperation(req);
  return op === 'query' ? 'Publish' : op;
}

function requestReport(counter: RequestCounter, lambda: LocalLambdaRuntime, outcomes: Array<{ history: Array<{ type: string }> } | undefined>,
  busEvents: number, deliveries: DeliveryRecord[]): RequestReport {
  const c = counter.snapshot();
  let transitions = 0;
  for (const o of outcomes) {
    for (const h of o?.history ?? []) if (h.type === 'StateEntered' || h.type === 'StateRetried') transitions++;
  }
  const sorted = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    s3: c.s3 ?? {},
    athena: c.athena ?? {},
    sns: c.sns ?? {},
    lambda: sorted(lambda.stats.byFunction),
    lambda_gb_seconds: sorted(Object.fromEntries(Object.entries(lambda.stats.gbSeconds).map(([k, v]) => [k, Math.round(v * 1000) / 1000]))),
    stepfunctions: { StartExecution: outcomes.length, StateTransitions: transitions },
    events: { PutEvents: busEvents, TargetInvocations: deliveries.reduce((n, d) => n + d.attempts, 0) },
    client: { s3: c['client.s3'] ?? {}, athena: c['client.athena'] ?? {} },
  };
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
  const keys: string[] = [];
  for await (const { Key: key } of listObjects(s3, dep.bucket, `${dep.expiringPrefix}snapshot_date=${snapshot}/`)) keys.push(key);
  await forEachLimit(keys, READ_BACK_CONCURRENCY, async (key) => {
    // Stream the object line by line: an expiring output can be hundreds of MB.
    const body = (await s3.send(new GetObjectCommand({ Bucket: dep.bucket, Key: key }))).Body as Readable;
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
      if (line.trim()) ids.add(facilityIdOf(line));
    }
  });
  return [...ids].sort();
}

/** GetObjects in flight while the results are read back (one per object made the read-back of 1,000 files serial). */
const READ_BACK_CONCURRENCY = 8;

/** Runs `fn` on every item, at most `limit` at a time; rejects with the first error. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
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


// ------------------------------------------------------------------------------------------------
// The work folder: only a folder an earlier run created is ever cleared.

/** The marker file a run writes into the work folder it creates; only a folder holding it is cleared. */
export const WORKDIR_MARKER = '.medlaunch-elt-workdir';

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

const within = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(sep) ? parent : `${parent}${sep}`);

function isPackageRoot(d: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name === 'medlaunch-elt';
  } catch {
    return false;
  }
}

/** The folders a run never clears: `/`, the home folder, the current folder, the repository root and the package root. */
function protectedFolders(): string[] {
  const out = [resolve('/'), homedir()];
  for (let d = process.cwd(); ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) {
      out.push(d);
      break;
    }
    if (dirname(d) === d) break;
  }
  for (let d = __dirname; dirname(d) !== d; d = dirname(d)) {
    if (isPackageRoot(d)) {
      out.push(d);
      break;
    }
  }
  out.push(process.cwd());
  return [...new Set(out.map(real))];
}

/**
 * Why the work folder may not be used, or undefined when it may: it must not be (or contain) the
 * current folder, the repository root, the home folder or `/`; it must not hold, lie inside or be
 * the --data folder; and when it exists and is not empty it must carry {@link WORKDIR_MARKER}.
 */
export function checkWorkDir(workDir: string, dataDir: string): string | undefined {
  const w = real(workDir);
  const data = real(dataDir);
  for (const p of protectedFolders()) {
    if (within(p, w)) return `it is or contains ${p === real(process.cwd()) ? 'the current folder' : p === real(homedir()) ? 'the home folder' : p === resolve('/') ? '/' : `the repository root ${p}`}`;
  }
  if (within(data, w) || within(w, data)) return `it holds, lies inside or is the --data folder ${dataDir}`;
  if (!existsSync(w)) return undefined;
  if (!statSync(w).isDirectory()) return 'it is a file, not a folder';
  if (readdirSync(w).length > 0 && !existsSync(join(w, WORKDIR_MARKER)) && !isUnmarkedRunFolder(w)) {
    return `it is not empty and was not created by medlaunch-elt local (no ${WORKDIR_MARKER} inside); it is never cleared — pass a new or empty folder`;
  }
  return undefined;
}

/** The entries a run writes at the top of its work folder. */
const RUN_ENTRIES = new Set(['s3', 'athena', 'cdk.out', 'alerts.jsonl', 'extract']);

/**
 * A work folder written by a version that did not mark it yet: nothing but a run's own entries, with the
 * cloud assembly a run synthesizes (`cdk.out/manifest.json`).
 */
function isUnmarkedRunFolder(dir: string): boolean {
  return readdirSync(dir).every((name) => RUN_ENTRIES.has(name)) && existsSync(join(dir, 'cdk.out', 'manifest.json'));
}

/** Clears a work folder an earlier run created (or creates it) and marks it as the run's own. */
export function prepareWorkDir(workDir: string, dataDir: string): void {
  const reason = checkWorkDir(workDir, dataDir);
  if (reason) throw new Error(`--workdir ${workDir}: ${reason}`);
  if (existsSync(workDir)) {
    for (const name of readdirSync(workDir)) if (name !== WORKDIR_MARKER) rmSync(join(workDir, name), { recursive: true, force: true });
  }
  mkdirSync(workDir, { recursive: true });
  writeFileSync(join(workDir, WORKDIR_MARKER), 'Created by `medlaunch-elt local`; the next run clears this folder.\n');
}

// ------------------------------------------------------------------------------------------------
// What the summary shows beyond the contract fields.

/** A file of --data that was not uploaded. */
export interface SkippedFile {
  /** Path relative to --data. */
  readonly path: string;
  readonly reason: string;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function synthesizedMessage(stackName: string, tpl: ResolvedTemplate): string {
  const all = tpl.lambdaFunctions();
  const pipeline = all.filter((f) => f.assetDir && f.env.DATA_BUCKET !== undefined).length;
  const helpers = all.length - pipeline;
  return `synthesized ${stackName}: ${plural(all.length, 'Lambda function')} (${pipeline} of the pipeline`
    + `${helpers ? `, ${helpers} CDK deployment ${helpers === 1 ? 'helper' : 'helpers'} not needed locally` : ''}), `
    + `state machine ${tpl.stateMachine().name}, ${plural(tpl.glueTables().length, 'Glue table')}`;
}

function uploadedMessage(n: number, skipped: SkippedFile[], dataDir: string, to: string): string {
  const data = skipped.filter((f) => f.reason !== 'medlaunch-elt bookkeeping');
  return `uploaded ${plural(n, 'object')} from ${dataDir} to ${to}`
    + (data.length ? `; skipped ${plural(data.length, 'file')} that ${data.length === 1 ? 'is' : 'are'} not data (.jsonl, .ndjson, .json, optionally .gz): `
      + `${data.slice(0, 5).map((f) => f.path).join(', ')}${data.length > 5 ? ', …' : ''}` : '');
}

/** Executions sorted by snapshot, then key, then name: the same order whatever order they arrived in. */
function sortExecutions(ex: ExecutionSummary[]): ExecutionSummary[] {
  const k = (e: ExecutionSummary) => `${e.snapshot}\u0000${e.key ?? ''}\u0000${e.name ?? ''}`;
  return [...ex].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

/** Per-snapshot details the text summary (and `--json`'s `details`) shows. */
export interface SnapshotDetails {
  /** Data files of the snapshot. */
  files: number;
  /** Lines read: records + blank lines. */
  lines: number;
  /** Valid records whose facility_id the snapshot already had (counted once). */
  duplicates: number;
  blank: number;
  /** Quarantined lines by reason code. */
  quarantine_reasons: Record<string, number>;
  /** Local folder of the quarantine output. */
  quarantine_path: string;
  /** The expiry window: as-of date (the snapshot date unless --as-of) to as-of + months, both inclusive. */
  window: { from: string; to: string; months: number };
  /** Local folder of the expiring output. */
  expiring_path: string;
  /** Local `.parquet` copies of the Stage 1 extract's files (S3 keys have no extension, as Athena writes them). */
  extract_files: string[];
  /** The first rows of the extract by facility_id (up to 3; Athena's text values). */
  extract_sample: Array<Record<string, string | null>>;
}

async function snapshotDetails(a: {
  s3Client: S3Client;
  athenaClient: AthenaClient;
  dep: Deployment;
  snapshot: string;
  own: ProcessSummaryLike[];
  workDir: string;
  bucketDir: string;
  asOf?: string;
  months: number;
  files: number;
  expiring: number;
}): Promise<SnapshotDetails> {
  const { dep, snapshot: d } = a;
  const { quarantinePrefix, curatedPrefix } = dep;
  const reasons: Record<string, number> = {};
  const quarantined: string[] = [];
  for await (const { Key: key } of listObjects(a.s3Client, dep.bucket, `${quarantinePrefix}snapshot_date=${d}/`)) quarantined.push(key);
  await forEachLimit(quarantined, READ_BACK_CONCURRENCY, async (key) => {
    const body = (await a.s3Client.send(new GetObjectCommand({ Bucket: dep.bucket, Key: key }))).Body as Readable;
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
      if (!line.trim()) continue;
      const reason = String((JSON.parse(line) as { reason?: unknown }).reason ?? 'unknown');
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
  });
  // The extract's objects, linked (or copied) under <workDir>/extract/ with a .parquet name.
  const extractFiles: string[] = [];
  const partition = `${curatedPrefix}snapshot_date=${d}/`;
  for await (const { Key: key } of listObjects(a.s3Client, dep.bucket, partition)) {
    const rel = key.slice(partition.length);
    if (rel.includes('/') || rel.startsWith('_')) continue;
    const src = join(a.bucketDir, ...key.split('/'));
    const dst = join(a.workDir, 'extract', `snapshot_date=${d}`, `${basename(rel).replace(/\.parquet$/i, '')}.parquet`);
    mkdirSync(dirname(dst), { recursive: true });
    try {
      linkSync(src, dst);
    } catch {
      copyFileSync(src, dst);
    }
    extractFiles.push(dst);
  }
  const rows = await athenaRows(a.athenaClient, dep,
    `SELECT * FROM ${dep.curatedTable} WHERE snapshot_date = ? ORDER BY facility_id LIMIT 3`, [`'${d}'`]);
  const from = a.asOf ?? d;
  return {
    files: a.files,
    lines: a.own.reduce((n, s) => n + s.read + (s.blank ?? 0), 0),
    duplicates: a.own.reduce((n, s) => n + (s.duplicates ?? 0), 0),
    blank: a.own.reduce((n, s) => n + (s.blank ?? 0), 0),
    quarantine_reasons: Object.fromEntries(Object.entries(reasons).sort(([x], [y]) => (x < y ? -1 : 1))),
    quarantine_path: join(a.bucketDir, ...`${quarantinePrefix}snapshot_date=${d}`.split('/')),
    window: { from, to: addMonths(from, a.months), months: a.months },
    expiring_path: join(a.bucketDir, ...`${dep.expiringPrefix}snapshot_date=${d}`.split('/')),
    extract_files: extractFiles.sort(),
    extract_sample: rows,
  };
}

/** Runs one query through the local Athena (as a user would) and returns its rows as objects. */
async function athenaRows(athena: AthenaClient, dep: Deployment, sql: string, params: string[]): Promise<Array<Record<string, string | null>>> {
  const start = await athena.send(new StartQueryExecutionCommand({
    QueryString: sql, ExecutionParameters: params, QueryExecutionContext: { Database: dep.database }, WorkGroup: dep.workGroup,
  }));
  const id = start.QueryExecutionId!;
  for (;;) {
    const q = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = q.QueryExecution?.Status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') throw new Error(`reading back the Stage 1 extract failed: ${q.QueryExecution?.Status?.StateChangeReason}`);
    await sleep(20);
  }
  const res = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
  const [head, ...data] = res.ResultSet?.Rows ?? [];
  const names = (head?.Data ?? []).map((c) => c.VarCharValue ?? '');
  return data.map((r) => Object.fromEntries(names.map((n, i) => [n, r.Data?.[i]?.VarCharValue ?? null])));
}

// ------------------------------------------------------------------------------------------------
// Progress: what the running executions wait for.

/** What each in-flight unit of work (an object's Stage 2 call, a snapshot's query) is doing or waiting for. */
export class WaitTracker {
  private readonly state = new Map<string, string>();
  /** Retries seen: error type → count (failed Lambda invocations the state machine may retry). */
  readonly errors: Record<string, number> = {};
  /** Lambda invocations that timed out, with the object key or snapshot they were for. */
  readonly timeouts: string[] = [];

  set(unit: string, what: string | undefined): void {
    if (what === undefined) this.state.delete(unit);
    else this.state.set(unit, what);
  }

  /** Description → number of units, sorted by description. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const w of this.state.values()) out[w] = (out[w] ?? 0) + 1;
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** Follows every Lambda invocation the state machine makes, to say what executions wait for. */
function trackWaits(inner: { invoke(nameOrArn: string, payload: unknown): Promise<InvokeResult> }, waits: WaitTracker, processorArn: string) {
  return {
    async invoke(nameOrArn: string, payload: unknown): Promise<InvokeResult> {
      const p = (payload ?? {}) as { key?: string; snapshotDate?: string; query?: string; detail?: { object?: { key?: string } } };
      const processor = nameOrArn === processorArn || processorArn.endsWith(`:${nameOrArn}`);
      const key = p.key ?? p.detail?.object?.key ?? p.snapshotDate ?? 'event';
      const unit = `${key}|${processor ? 'stage2' : p.query ?? 'state_counts'}`;
      waits.set(unit, processor ? 'Stage 2 validating' : `${p.query ?? 'state_counts'} query in progress`);
      const r = await inner.invoke(nameOrArn, payload);
      if (r.functionError) {
        const type = r.errorType ?? 'Error';
        waits.errors[type] = (waits.errors[type] ?? 0) + 1;
        if (type === 'Sandbox.Timedout') waits.timeouts.push(key);
        waits.set(unit, `retrying after ${type}`);
        return r;
      }
      const status = r.payload as { state?: string; done?: boolean; query?: string } | undefined;
      if (processor || !status || status.done || status.state === 'SUCCEEDED') waits.set(unit, undefined);
      else waits.set(unit, `${status.query ?? 'query'} query ${status.state ?? 'RUNNING'} (polling)`);
      return r;
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Drill report.

export interface DrillReport {
  readonly seed: number;
  readonly duplicate_events: number;
  readonly shuffle: boolean;
  /** The faults injected (see {@link InjectedFault}). */
  readonly faults: InjectedFault[];
  /** S3 503 SlowDown responses actually sent. */
  readonly s3_slowdowns: number;
  /** Lambda invocations that timed out, by object key. */
  readonly lambda_timeouts: string[];
  /** State machine retries by error (StateRetried events in the executions' histories). */
  readonly retries: Record<string, number>;
  /** Executions started (deliveries of duplicate events that start an execution included). */
  readonly executions: number;
  readonly failed: number;
  readonly alerts: number;
  /** True when every execution succeeded despite the faults. */
  readonly recovered: boolean;
}

type EndedExecution = { status: string; outcome?: { history?: Array<{ type: string; error?: string }> } };

function drillReport(opts: LocalRunOptions, injected: InjectedFault[], ex: EndedExecution[],
  alerts: unknown[], waits: WaitTracker, slowdowns: number): DrillReport {
  const retries: Record<string, number> = {};
  for (const e of ex) {
    let lastError: string | undefined;
    for (const h of e.outcome?.history ?? []) {
      if (h.error !== undefined) lastError = h.error;
      if (h.type === 'StateRetried') {
        const err = h.error ?? lastError ?? 'unknown';
        retries[err] = (retries[err] ?? 0) + 1;
      }
    }
  }
  const failed = ex.filter((e) => e.status !== 'SUCCEEDED').length;
  return {
    seed: opts.seed ?? 1,
    duplicate_events: opts.duplicateEvents ?? 0,
    shuffle: opts.shuffle ?? false,
    faults: injected,
    s3_slowdowns: slowdowns,
    lambda_timeouts: [...waits.timeouts].sort(),
    retries: Object.fromEntries(Object.entries(retries).sort(([a], [b]) => (a < b ? -1 : 1))),
    executions: ex.length,
    failed,
    alerts: alerts.length,
    recovered: failed === 0,
  };
}

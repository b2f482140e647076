/**
 * Deploy phase: the stack synthesized as a user would deploy it (or loaded from --assembly), the
 * embedded local services started, and the template's resources created in them — buckets with
 * their policies and EventBridge notifications, the Glue tables, the workgroup, the pipeline's
 * Lambda functions, the state machine and the event rule — then the drill faults set.
 */
import { join } from 'node:path';
import { loadConfig } from '../../lambda-src/lib/config';
import { LocalAthena } from '../athena';
import { LocalEventBridge } from '../events';
import type { RequestCounter } from '../http';
import { LocalCredentials, type LocalCredentialSet } from '../iam/credentials';
import { IamPolicies } from '../iam/index';
import { InvokeResult, LocalLambdaRuntime } from '../lambda';
import { bucketSecurityOf, LocalS3, type AccessDeniedNotice } from '../s3';
import { LocalSns } from '../sns';
import { LocalStepFunctions } from '../stepfunctions';
import { pipelineStack, resolveTemplate, ResolvedTemplate } from '../template';
import { applyFaults } from './faults';
import { plural, synthesizedMessage } from './messages';
import { CREDENTIALS, LOCAL_LAMBDA_CONCURRENCY, LocalRunOptions, REGION } from './options';
import { trackWaits, WaitTracker } from './progress';
import { countRequests } from './report';
import type { InjectedFault } from './result';
import type { SnapshotFile } from './snapshots';
import { S3_FOLDER } from './workdir';

/** The deployed pipeline running in the local services: what the upload, drive and collect phases use. */
export interface LocalStack {
  readonly opts: LocalRunOptions;
  /** Reports one progress step. */
  readonly step: (message: string) => void;
  readonly region: string;
  readonly tpl: ResolvedTemplate;
  readonly dep: Deployment;
  readonly s3: LocalS3;
  readonly sns: LocalSns;
  readonly athena: LocalAthena;
  readonly lambda: LocalLambdaRuntime;
  readonly sfn: LocalStepFunctions;
  readonly events: LocalEventBridge;
  /** The CLI's credentials (the account root's with IAM enforced). */
  readonly cliCredentials: LocalCredentialSet;
  readonly counter: RequestCounter;
  /** The latest validator summary per object key. */
  readonly summaries: Map<string, ProcessSummaryLike>;
  readonly waits: WaitTracker;
  /** Requests the local S3 refused. */
  readonly denials: AccessDeniedNotice[];
  /** The drill faults set. */
  readonly injected: InjectedFault[];
  /** The CLI's own SDK clients, destroyed by close(). */
  readonly clients: Array<{ destroy(): void }>;
  /** Stops every service (never rejects). */
  close(): Promise<void>;
}

/** Synthesizes, starts the services and deploys the template into them; see the module doc. */
export async function deploy(opts: LocalRunOptions, files: SnapshotFile[], snapshots: string[]): Promise<LocalStack> {
  const step = (message: string) => opts.onProgress?.({ kind: 'step', message });
  // The stack exactly as a user would deploy it; with --assembly, the user's synthesized app.
  const props: Record<string, unknown> = {};
  if (opts.months !== undefined) props.expiryMonths = opts.months;
  const synth = pipelineStack({ assembly: opts.assembly, props, outdir: join(opts.workDir, 'cdk.out') });
  // A stack bound to an environment (an app's `env`) runs in its region and account.
  const region = synth.region ?? REGION;
  const tpl = resolveTemplate(synth.template, {
    assemblyDir: synth.assemblyDir, region, accountId: synth.account, stackName: synth.stackName,
  });
  const dep = inspect(tpl);
  step(opts.assembly ? `loaded from ${opts.assembly.dir}: ${synthesizedMessage(synth.stackName, tpl).replace(/^synthesized /, '')}` : synthesizedMessage(synth.stackName, tpl));

  // The local services.
  const iam = localIam(tpl, opts);
  const cliCredentials = iam ? iam.credentials.for(iam.credentials.root) : CREDENTIALS;
  const s3 = await LocalS3.start({
    rootDir: join(opts.workDir, S3_FOLDER),
    iam: iam ? { policies: iam.policies, credentials: iam.credentials, region } : undefined,
  });
  const denials: AccessDeniedNotice[] = [];
  s3.on('accessDenied', (d) => denials.push(d));
  const services = servicesIam(tpl, iam, s3);
  const sns = await LocalSns.start({ logFile: join(opts.workDir, 'alerts.jsonl'), iam, topics: services?.topics });
  const athena = await LocalAthena.start({
    s3: { endpoint: s3.endpoint, rootDir: join(opts.workDir, S3_FOLDER) }, workDir: join(opts.workDir, 'athena'), region, iam: services?.athena,
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
  const close = async (): Promise<void> => {
    counter.close();
    // The CLI's own SDK clients: their keep-alive sockets would outlive the run.
    for (const c of clients) c.destroy();
    await sfn.close().catch(() => undefined);
    await lambda.close().catch(() => undefined);
    await athena.close().catch(() => undefined);
    await sns.close().catch(() => undefined);
    await s3.close().catch(() => undefined);
  };
  try {
    // The resources: buckets (+ EventBridge notifications), catalog, workgroup, functions, state machine, rules.
    for (const b of tpl.buckets()) {
      await s3.createBucket(b.name);
      // a versioned bucket (VersioningConfiguration Status Enabled) keeps versions and delete markers, as in AWS
      const versioning = (b.properties.VersioningConfiguration as { Status?: string } | undefined)?.Status;
      await s3.setVersioning(b.name, versioning === 'Enabled' || versioning === 'Suspended' ? versioning : undefined);
      s3.setBucketSecurity(b.name, bucketSecurityOf(b.properties, { account: tpl.accountId, region }));
    }
    await createExternalResources(tpl, s3, step);
    for (const id of tpl.logicalIdsOfType('Custom::S3BucketNotifications')) {
      const p = tpl.properties(id);
      if (p.NotificationConfiguration?.EventBridgeConfiguration !== undefined) s3.setEventBridgeEnabled(String(p.BucketName), true);
    }
    for (const t of tpl.glueTables()) athena.registerTable(t.databaseName, t.tableInput as any);
    for (const wg of tpl.athenaWorkGroups()) athena.registerWorkGroupConfiguration(wg.name, wg.configuration);
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
    return {
      opts,
      step,
      region,
      tpl,
      dep,
      s3,
      sns,
      athena,
      lambda,
      sfn,
      events,
      cliCredentials,
      counter,
      summaries,
      waits,
      denials,
      injected,
      clients,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** What the runner needs to know about the deployed stack, read from the synthesized template. */
export interface Deployment {
  readonly tpl: ResolvedTemplate;
  readonly bucket: string;
  readonly rawPrefix: string;
  readonly productionPrefix: string;
  readonly expiringPrefix: string;
  readonly quarantinePrefix: string;
  readonly curatedPrefix: string;
  /** Where the publisher writes the run reports (REPORTS_PREFIX). */
  readonly reportsPrefix: string;
  /** The expiry window the functions were synthesized with (EXPIRY_MONTHS). */
  readonly expiryMonths: number;
  readonly database: string;
  readonly workGroup: string;
  readonly curatedTable: string;
  readonly processorArn: string;
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
    reportsPrefix: config.reportsPrefix,
    expiryMonths: config.expiryMonths,
    database: config.glueDatabase,
    workGroup: config.athenaWorkgroup,
    curatedTable: config.curatedTable,
    processorArn: processor.arn,
  };
}

export interface ProcessSummaryLike {
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

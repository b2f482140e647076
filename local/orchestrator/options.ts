/**
 * What a local run is asked to do (`LocalRunOptions`, the CLI's flags) and the defaults the run
 * applies: the region, the Lambda concurrency, the credentials of a run without IAM.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { LocalCredentialSet } from '../iam/credentials';
import type { IamPolicies } from '../iam/index';

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
  /**
   * Writes the run's report once every result is read back and the execution histories are written, while the
   * run's S3 is still up; returns the report's path, the result's `report`. A rejection fails the run. The CLI
   * passes cli/report's `writeLocalReport`: local/ renders nothing itself and never imports cli/ (default: no report).
   */
  readonly writeReport?: (ctx: ReportContext) => Promise<string>;
}

/**
 * What a run hands its report (`writeReport`): its S3 and what it deployed, exactly as it resolved the template
 * (local/template), so the report reads no template again.
 */
export interface ReportContext {
  readonly workDir: string;
  /** A client of the run's S3 with the CLI's credentials (its IAM enforcement accepts them). */
  readonly client: S3Client;
  /** The pipeline's data bucket (DATA_BUCKET). */
  readonly bucket: string;
  /** The functions' EXPIRING_PREFIX and REPORTS_PREFIX, defaults applied. */
  readonly expiringPrefix: string;
  readonly reportsPrefix: string;
  /** The state machine the run executed: its name and its definition as deployed (substitutions resolved). */
  readonly stateMachine: { readonly name: string; readonly definition: Record<string, any> };
  /**
   * The synthesized app the run executed (`assembly`): its folder (absolute) and the stack run; undefined for
   * the built-in stack, synthesized into `<workDir>/cdk.out`.
   */
  readonly assembly?: { readonly dir: string; readonly stack: string };
}

export type ProgressEvent =
  | { kind: 'step'; message: string }
  /** `waiting`: what the running executions wait for right now (description → how many). */
  | { kind: 'executions'; finished: number; total: number; waiting?: Record<string, number> };

export const REGION = 'us-east-1';

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
export const CREDENTIALS: LocalCredentialSet = { accessKeyId: 'local', secretAccessKey: 'local' };

/** What the local Step Functions runs and reports: state machines, options, executions, history, API errors. */
import type { IamPolicies } from '../iam';
import type { LambdaInvoker, ServiceEndpoints } from './integrations';
import type { LocalCredentials } from '../iam/credentials';

/** A state machine to run. */
export interface StateMachineConfig {
  readonly name: string;
  readonly arn?: string;
  readonly definition: Record<string, any>;
  readonly roleArn?: string;
  readonly type?: 'STANDARD' | 'EXPRESS';
}

/** Options of {@link LocalStepFunctions}. */
export interface LocalStepFunctionsOptions {
  /** The Lambda runtime Tasks invoke (usually a LocalLambdaRuntime). */
  readonly lambda: LambdaInvoker;
  /** Endpoints of the embedded S3/SNS/Athena for sns:publish and aws-sdk integrations. */
  readonly endpoints?: ServiceEndpoints;
  readonly region?: string;
  readonly accountId?: string;
  /** Milliseconds to wait in named Wait states instead of their Seconds/Timestamp. */
  readonly waitTimeOverrides?: Record<string, number>;
  /** Multiplies every Wait state's static `Seconds` (e.g. 0.01 in tests); dynamic waits are not scaled. */
  readonly waitScale?: number;
  /** Milliseconds before each retry, per state (one number, or one per retrier), instead of the backoff. */
  readonly retryIntervalOverrides?: Record<string, number | number[]>;
  /**
   * Multiplies each retrier's IntervalSeconds (applied as a fixed interval per retrier: no growth
   * and no jitter when scaled). Use in tests to keep retries fast.
   */
  readonly retryScale?: number;
  /** Keep state inputs/outputs in the history (default false: names, types, errors only). */
  readonly historyData?: boolean;
  /**
   * Act as the state machine's role (`RoleArn`), as Step Functions does: a Lambda task needs
   * lambda:InvokeFunction on the function for the role (identity policy or the function's resource
   * policy), and SDK/SNS integrations are signed with the role's local credentials so the embedded
   * services authorize the role. A machine without a RoleArn cannot be registered. Without it, no
   * call is authorized.
   */
  readonly iam?: { readonly policies: IamPolicies; readonly credentials: LocalCredentials };
}

/** One entry of an execution's history. */
export interface HistoryEvent {
  readonly timestamp: number;
  /** ExecutionStarted, StateEntered, StateExited, StateFailed, StateRetried, StateCaught, ParallelBranch…, Execution… */
  readonly type: string;
  readonly state?: string;
  readonly stateType?: string;
  readonly error?: string;
  readonly cause?: string;
  /** Retry attempt number (StateRetried). */
  readonly attempt?: number;
  /** The Map iteration the event belongs to. */
  readonly index?: number;
  readonly input?: unknown;
  readonly output?: unknown;
}

/** Final outcome of an execution. */
export interface ExecutionOutcome {
  readonly executionArn: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly startDate: Date;
  readonly stopDate: Date;
  readonly history: HistoryEvent[];
}

/** A started execution. */
export interface StartedExecution {
  readonly executionArn: string;
  readonly startDate: Date;
  /** Settles (never rejects) when the execution ends. */
  readonly result: Promise<ExecutionOutcome>;
}

/** Status of an execution as DescribeExecution reports it. */
export interface ExecutionDescription {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: 'RUNNING' | ExecutionOutcome['status'];
  readonly input: unknown;
  readonly startDate: Date;
  readonly outcome?: ExecutionOutcome;
}

/** A Step Functions API error (the execution was not started). */
export class StepFunctionsApiError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

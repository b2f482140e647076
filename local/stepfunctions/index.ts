/**
 * Local Step Functions: runs the synthesized state machine definition with aws-local-stepfunctions
 * 3.0.0, dispatching every Task by its Resource to the local Lambda runtime, the local SNS or the
 * SDK against the embedded services, with AWS's result shapes and error names. The task
 * integrations are in ./integrations, the public types in ./types.
 */
import { randomUUID } from 'node:crypto';
import type * as Asl from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import { executionHistory, type ExecutionHistory, type TaskCall } from './history';
import { awsSdkCall, lambdaArnInvoke, lambdaInvoke, ServiceClients, snsPublish, TaskFailure } from './integrations';
import type { Principal } from '../iam';
import {
  ExecutionDescription, ExecutionOutcome, HistoryEvent, LocalStepFunctionsOptions, StartedExecution, StateMachineConfig, StepFunctionsApiError,
} from './types';

// The package's typings are ESM-only; its `require` export is CommonJS (build/main.node.cjs).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } = require('aws-local-stepfunctions') as typeof Asl;

export { TaskFailure } from './integrations';
export type { ApiHistoryEvent, ExecutionHistory } from './history';
export type { LambdaInvoker, ServiceEndpoints } from './integrations';
export { StepFunctionsApiError } from './types';
export type {
  ExecutionDescription, ExecutionOutcome, HistoryEvent, LocalStepFunctionsOptions, StartedExecution, StateMachineConfig,
} from './types';

/** AWS caps a Task without TimeoutSeconds at 99999999 s; timers cap at 2^31-1 ms, so use that. */
const NO_TASK_TIMEOUT_SECONDS = Math.floor(2147483647 / 1000);

interface Machine {
  readonly config: StateMachineConfig;
  readonly definition: Record<string, any>;
  readonly arn: string;
  readonly machine: Asl.StateMachine;
  readonly handlers: Record<string, (input: any) => Promise<any>>;
  /** Task state name → Resource. */
  readonly resources: ReadonlyMap<string, string>;
  readonly waitOverrides: Record<string, number>;
  readonly retryOverrides: Record<string, number | number[]>;
  /** The role the machine acts as (IAM enforcement). */
  readonly role?: Principal;
  /** SDK clients signed as the role (or the default clients without enforcement). */
  readonly clients: ServiceClients;
}

interface Execution {
  readonly description: { -readonly [K in keyof ExecutionDescription]: ExecutionDescription[K] };
  readonly inputText: string;
  readonly abort: () => void;
  readonly result: Promise<ExecutionOutcome>;
  /** The Task calls dispatched for it (for its API-shaped history). */
  readonly calls: TaskCall[];
}

type StateVisitor = (name: string, state: Record<string, any>) => void;

function visitStates(def: Record<string, any>, visit: StateVisitor): void {
  for (const [name, state] of Object.entries(def.States ?? {})) {
    visit(name, state as Record<string, any>);
    const s = state as Record<string, any>;
    for (const branch of s.Branches ?? []) visitStates(branch, visit);
    if (s.Iterator) visitStates(s.Iterator, visit);
    if (s.ItemProcessor) visitStates(s.ItemProcessor, visit);
  }
}

/**
 * Runs state machines in-process. One instance per local run; executions run concurrently.
 */
export class LocalStepFunctions {
  private readonly machines = new Map<string, Machine>();
  private readonly executions = new Map<string, Execution>();
  private readonly region: string;
  private readonly accountId: string;
  private readonly clients: ServiceClients;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.clients = new ServiceClients(options.endpoints ?? {}, this.region);
  }

  /** Registers a state machine (validating its definition); returns its ARN. */
  register(config: StateMachineConfig): string {
    const arn = config.arn ?? `arn:aws:states:${this.region}:${this.accountId}:stateMachine:${config.name}`;
    const iam = this.options.iam;
    let role: Principal | undefined;
    let clients = this.clients;
    if (iam) {
      const m = /^arn:[^:]+:iam::(\d{12}):role\/.+$/.exec(config.roleArn ?? '');
      if (!m) {
        throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${config.roleArn ?? '(no RoleArn)'}' (state machine ${config.name} needs a RoleArn)`);
      }
      role = { kind: 'role', arn: config.roleArn!, account: m[1] };
      clients = new ServiceClients(this.options.endpoints ?? {}, this.region, iam.credentials.for(role));
    }
    const definition = JSON.parse(JSON.stringify(config.definition)) as Record<string, any>;
    if (definition.QueryLanguage === 'JSONata') {
      throw new StepFunctionsApiError('InvalidDefinition', 'JSONata state machines are not supported by the local engine');
    }
    const handlers: Record<string, (input: any) => Promise<any>> = {};
    const resources = new Map<string, string>();
    const waitOverrides: Record<string, number> = { ...(this.options.waitTimeOverrides ?? {}) };
    const retryOverrides: Record<string, number | number[]> = {};
    visitStates(definition, (name, state) => {
      if (state.QueryLanguage === 'JSONata') {
        throw new StepFunctionsApiError('InvalidDefinition', `state ${name} uses JSONata, which the local engine does not support`);
      }
      if (state.Type === 'Task') {
        const resource = String(state.Resource);
        const seen = resources.get(name);
        if (seen !== undefined && seen !== resource) {
          throw new StepFunctionsApiError('InvalidDefinition', `two Task states named '${name}' with different resources`);
        }
        resources.set(name, resource);
        // aws-local-stepfunctions gives Tasks a 60 s default timeout; AWS has none.
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = NO_TASK_TIMEOUT_SECONDS;
        }
        handlers[name] = (input: any) => this.dispatch(resource, input, arn);
      }
      if (state.Type === 'Wait' && this.options.waitScale !== undefined && typeof state.Seconds === 'number' && !(name in waitOverrides)) {
        waitOverrides[name] = Math.round(state.Seconds * 1000 * this.options.waitScale);
      }
      if (Array.isArray(state.Retry) && state.Retry.length > 0) {
        const explicit = this.options.retryIntervalOverrides?.[name];
        if (explicit !== undefined) {
          retryOverrides[name] = explicit;
        } else if (this.options.retryScale !== undefined) {
          retryOverrides[name] = state.Retry.map((r: { IntervalSeconds?: number }) =>
            Math.round((r.IntervalSeconds ?? 1) * 1000 * this.options.retryScale!));
        }
      }
    });
    let machine: Asl.StateMachine;
    try {
      machine = new StateMachine(definition as any, { validationOptions: { checkArn: false, checkPaths: true } });
    } catch (err) {
      throw new StepFunctionsApiError('InvalidDefinition', (err as Error).message);
    }
    this.machines.set(arn, { config, definition, arn, machine, handlers, resources, waitOverrides, retryOverrides, role, clients });
    return arn;
  }

  /**
   * The definition as the engine runs it (Tasks without TimeoutSeconds get the largest timer
   * instead of aws-local-stepfunctions' 60 s default).
   */
  effectiveDefinition(stateMachineArn: string): Record<string, any> {
    const m = this.machines.get(stateMachineArn);
    if (!m) throw new StepFunctionsApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    return JSON.parse(JSON.stringify(m.definition));
  }

  /** ARNs of the registered state machines. */
  stateMachineArns(): string[] { return [...this.machines.keys()]; }

  private async dispatch(resource: string, input: any, machineArn: string): Promise<any> {
    const m = this.machines.get(machineArn);
    const clients = m?.clients ?? this.clients;
    if (resource === 'arn:aws:states:::lambda:invoke' || /^arn:[^:]+:states:::lambda:invoke$/.test(resource)) {
      if (input && typeof input === 'object' && typeof input.FunctionName === 'string') this.authorizeInvoke(m, input.FunctionName);
      return lambdaInvoke(this.options.lambda, input);
    }
    if (/^arn:[^:]+:lambda:[^:]+:[^:]+:function:/.test(resource)) {
      this.authorizeInvoke(m, resource);
      return lambdaArnInvoke(this.options.lambda, resource, input);
    }
    if (/^arn:[^:]+:states:::sns:publish$/.test(resource)) {
      return snsPublish(clients, input);
    }
    const sdk = /^arn:[^:]+:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/.exec(resource);
    if (sdk) return awsSdkCall(clients, sdk[1], sdk[2], input);
    throw new TaskFailure('States.Runtime', `Task resource '${resource}' is not emulated locally (no .sync/.waitForTaskToken)`, false);
  }

  /**
   * lambda:InvokeFunction for the machine's role on the function (the ARN as the task names it:
   * a qualified ARN is authorized as such). A denial fails the task as Step Functions reports it —
   * `Lambda.AWSLambdaException` with Lambda's AccessDeniedException text as the cause — so the
   * state's Retry and Catch apply to it as in AWS.
   */
  private authorizeInvoke(m: Machine | undefined, functionName: string): void {
    const iam = this.options.iam;
    if (!iam || !m?.role) return;
    const resource = functionArnOf(functionName, this.region, m.role.account);
    const denied = iam.policies.denial({ principal: m.role, action: 'lambda:InvokeFunction', resource });
    if (denied) {
      throw new TaskFailure('Lambda.AWSLambdaException',
        `${denied.message} (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: ${randomUUID()}; Proxy: null)`);
    }
  }

  /**
   * Starts an execution (StartExecution). Like Standard workflows, a name already used with the
   * same input returns the existing execution; with another input it fails (ExecutionAlreadyExists).
   */
  startExecution(stateMachineArn: string, input: unknown = {}, name?: string): StartedExecution {
    const m = this.machines.get(stateMachineArn);
    if (!m) throw new StepFunctionsApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const execName = name ?? randomUUID();
    if (!/^[^\s<>{}[\]?*"#%\\^|~`$&,;:/]{1,80}$/.test(execName)) {
      throw new StepFunctionsApiError('InvalidName', `Invalid Name: '${execName}'`);
    }
    const smName = m.arn.slice(m.arn.lastIndexOf(':') + 1);
    const executionArn = `arn:aws:states:${this.region}:${this.accountId}:execution:${smName}:${execName}`;
    const inputText = JSON.stringify(input ?? {});
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.inputText === inputText) {
        return { executionArn, startDate: existing.description.startDate, result: existing.result };
      }
      throw new StepFunctionsApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const startDate = new Date();
    const calls: TaskCall[] = [];
    const run = m.machine.run(JSON.parse(inputText), {
      overrides: {
        taskResourceLocalHandlers: this.recordCalls(m, calls),
        waitTimeOverrides: m.waitOverrides,
        retryIntervalOverrides: m.retryOverrides,
      },
      context: {
        Execution: { Id: executionArn, Name: execName, RoleArn: m.config.roleArn ?? '', StartTime: startDate.toISOString() },
        StateMachine: { Id: m.arn, Name: smName },
      },
    });
    const history: HistoryEvent[] = [];
    const pump = this.collectHistory(run.eventLogs, history);
    const description: Execution['description'] = {
      executionArn, stateMachineArn: m.arn, name: execName, status: 'RUNNING', input: JSON.parse(inputText), startDate,
    };
    const result = this.settle(run.result, pump, executionArn, startDate, history).then((outcome) => {
      description.status = outcome.status;
      description.outcome = outcome;
      return outcome;
    });
    this.executions.set(executionArn, { description, inputText, abort: run.abort, result, calls });
    return { executionArn, startDate, result };
  }

  /** The machine's Task handlers, each recording its calls (start, end, error) in `calls`. */
  private recordCalls(m: Machine, calls: TaskCall[]): Record<string, (input: any) => Promise<any>> {
    const withData = this.options.historyData === true;
    return Object.fromEntries(Object.entries(m.handlers).map(([state, handler]) => [state, async (input: any) => {
      const call: TaskCall = { state, resource: m.resources.get(state) ?? '', ...(withData ? { parameters: input } : {}), scheduledAt: Date.now() };
      calls.push(call);
      try {
        const output = await handler(input);
        call.endedAt = Date.now();
        if (withData) call.output = output;
        return output;
      } catch (e) {
        call.endedAt = Date.now();
        call.error = (e as Error)?.name ?? 'Error';
        call.cause = (e as Error)?.message ?? String(e);
        throw e;
      }
    }]));
  }

  /**
   * The execution's history as the API gives it (DescribeExecution's identity and status, GetExecutionHistory's
   * events; ./history): every state entered and exited, each Task's scheduling and outcome (retries are further
   * TaskScheduled events within one TaskStateEntered), the execution's end.
   */
  getExecutionHistory(executionArn: string): ExecutionHistory {
    const e = this.executions.get(executionArn);
    if (!e) throw new StepFunctionsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    const m = this.machines.get(e.description.stateMachineArn)!;
    return executionHistory({
      description: { ...e.description },
      calls: e.calls,
      definition: m.config.definition,
      region: this.region,
      roleArn: m.config.roleArn,
      withData: this.options.historyData === true,
    });
  }

  private async collectHistory(events: AsyncGenerator<any>, history: HistoryEvent[]): Promise<void> {
    const withData = this.options.historyData === true;
    for await (const e of events) {
      const state = e.state ?? e.parentState;
      history.push({
        timestamp: e.timestamp,
        type: e.type,
        ...(state ? { state: state.name, stateType: state.type } : {}),
        ...(e.Error !== undefined ? { error: String(e.Error) } : {}),
        ...(e.Cause !== undefined ? { cause: typeof e.Cause === 'string' ? e.Cause : causeText(e.Cause) } : {}),
        ...(e.retry ? { attempt: e.retry.attempt } : {}),
        ...(typeof e.index === 'number' ? { index: e.index } : {}),
        ...(withData && state?.input !== undefined ? { input: state.input } : {}),
        ...(withData && state?.output !== undefined ? { output: state.output } : {}),
      });
    }
  }

  private async settle(result: Promise<unknown>, pump: Promise<void>, executionArn: string, startDate: Date,
    history: HistoryEvent[]): Promise<ExecutionOutcome> {
    let outcome: Omit<ExecutionOutcome, 'stopDate' | 'history'>;
    try {
      const output = await result;
      outcome = { executionArn, status: 'SUCCEEDED', output, startDate };
    } catch (err) {
      if (err instanceof ExecutionTimeoutError) {
        outcome = { executionArn, status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution timed out', startDate };
      } else if (err instanceof ExecutionAbortedError) {
        outcome = { executionArn, status: 'ABORTED', startDate };
      } else if (err instanceof ExecutionError) {
        const c = (err as { cause?: unknown }).cause as { name?: string; message?: string } | undefined;
        outcome = { executionArn, status: 'FAILED', error: c?.name ?? 'States.Runtime', cause: c?.message ?? err.message, startDate };
      } else {
        outcome = { executionArn, status: 'FAILED', error: (err as Error)?.name ?? 'States.Runtime', cause: (err as Error)?.message ?? String(err), startDate };
      }
    }
    // The event log closes on every terminal event; don't hang if it does not.
    await Promise.race([pump.catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    return { ...outcome, stopDate: new Date(), history };
  }

  /** Stops a running execution (StopExecution): it ends ABORTED. */
  stopExecution(executionArn: string): void {
    const e = this.executions.get(executionArn);
    if (!e) throw new StepFunctionsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    if (e.description.status === 'RUNNING') e.abort();
  }

  /** DescribeExecution. */
  describeExecution(executionArn: string): ExecutionDescription {
    const e = this.executions.get(executionArn);
    if (!e) throw new StepFunctionsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return { ...e.description };
  }

  /** Every execution started so far, in start order. */
  listExecutions(stateMachineArn?: string): ExecutionDescription[] {
    return [...this.executions.values()]
      .map((e) => ({ ...e.description }))
      .filter((d) => !stateMachineArn || d.stateMachineArn === stateMachineArn);
  }

  /** Resolves when every execution started so far has ended. */
  async waitForAll(): Promise<ExecutionOutcome[]> {
    let count = -1;
    let outcomes: ExecutionOutcome[] = [];
    while (count !== this.executions.size) {
      count = this.executions.size;
      outcomes = await Promise.all([...this.executions.values()].map((e) => e.result));
    }
    return outcomes;
  }

  /** Aborts running executions and releases SDK clients. */
  async close(): Promise<void> {
    for (const e of this.executions.values()) if (e.description.status === 'RUNNING') e.abort();
    await Promise.allSettled([...this.executions.values()].map((e) => e.result));
    this.clients.destroy();
    for (const m of this.machines.values()) if (m.clients !== this.clients) m.clients.destroy();
  }
}

/** A Lambda FunctionName (name, partial ARN `123456789012:function:name`, or ARN, optionally qualified) as an ARN. */
export function functionArnOf(functionName: string, region: string, account: string): string {
  if (functionName.startsWith('arn:')) return functionName;
  const partial = /^(\d{12}):function:(.+)$/.exec(functionName);
  if (partial) return `arn:aws:lambda:${region}:${partial[1]}:function:${partial[2]}`;
  return `arn:aws:lambda:${region}:${account}:function:${functionName}`;
}

function causeText(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  try {
    return JSON.stringify(cause);
  } catch {
    return String(cause);
  }
}

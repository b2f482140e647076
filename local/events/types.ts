/** The bus's rules and targets, its delivery options and what it records about each delivery. */
import type { IamPolicies } from '../iam';
import type { RuleTargetInfo } from '../template';

/** A rule (the shape of `ResolvedTemplate.eventRules()`). */
export interface EventRule {
  readonly name: string;
  readonly arn?: string;
  readonly state?: string;
  readonly eventBusName?: string;
  readonly eventPattern?: Record<string, unknown>;
  readonly targets: ReadonlyArray<EventTarget>;
}

/** A rule target: as the template declares it (`roleArn` is required for state machine targets). */
export type EventTarget = RuleTargetInfo;

/** Where matched events go: state machines (StartExecution), functions (async Invoke), topics. */
export interface TargetServices {
  readonly startExecution?: (stateMachineArn: string, input: unknown) => { executionArn: string; result: Promise<{ status: string }> };
  readonly invokeFunction?: (functionArn: string, input: unknown) => Promise<unknown>;
  readonly publish?: (topicArn: string, message: string) => Promise<unknown>;
}

/** Delivery behaviour (all random choices come from `seed`). */
export interface DeliveryOptions {
  /** Probability (0..1) that a delivery is duplicated (default 0). */
  readonly duplicateRate?: number;
  /** Extra copies of a duplicated delivery (default 1). */
  readonly duplicateCount?: number;
  /** Shuffle every batch passed to putEvents (default false). */
  readonly reorder?: boolean;
  /** Delay before each delivery, ms: a number or [min, max] (default 0). */
  readonly delayMs?: number | readonly [number, number];
  /** PRNG seed (default 1). */
  readonly seed?: number;
  /** Base delay between target retries, ms (default 100; doubles per attempt). */
  readonly retryDelayMs?: number;
}

/** One delivery attempt sequence of one event copy to one target. */
export interface DeliveryRecord {
  readonly eventId: string;
  readonly rule: string;
  readonly targetId: string;
  readonly targetArn: string;
  /** 0 for the original delivery, 1.. for duplicates. */
  readonly copy: number;
  status: 'PENDING' | 'DELIVERED' | 'FAILED';
  attempts: number;
  error?: string;
  executionArn?: string;
  /** Final status of the started execution, once it ended. */
  executionStatus?: string;
  /** Object key for S3 events (for summaries). */
  readonly key?: string;
  /** Why the delivery failed, as EventBridge records it in the dead-letter message (e.g. NO_PERMISSIONS). */
  errorCode?: string;
  /** The target's dead-letter queue the failed event was sent to. */
  deadLetterQueue?: string;
  /** Why the failed event could not be sent to the dead-letter queue (its queue policy refused EventBridge). */
  deadLetterError?: string;
}

/** A message EventBridge sends to a target's dead-letter queue: the event, with the failure in its attributes. */
export interface DeadLetterMessage {
  readonly queueArn: string;
  readonly body: string;
  readonly attributes: {
    readonly RULE_ARN: string;
    readonly TARGET_ARN: string;
    readonly ERROR_CODE: string;
    readonly ERROR_MESSAGE: string;
    readonly RETRY_ATTEMPTS: string;
  };
}

/** Options of {@link LocalEventBridge}. */
export interface LocalEventBridgeOptions {
  readonly rules?: ReadonlyArray<EventRule>;
  readonly targets: TargetServices;
  readonly accountId?: string;
  readonly region?: string;
  readonly delivery?: DeliveryOptions;
  /**
   * Authorize each delivery as EventBridge does: a state machine target is started with the
   * target's role (`RoleArn`), which must allow states:StartExecution on it. A denial is not
   * retried: the delivery fails (NO_PERMISSIONS) and the event goes to the target's dead-letter
   * queue if it has one. Without it, deliveries are not authorized.
   */
  readonly iam?: { readonly policies: IamPolicies };
  /** Receives what would be sent to a target's dead-letter queue. */
  readonly onDeadLetter?: (m: DeadLetterMessage) => void;
}

/**
 * Local EventBridge (default bus): builds S3 "Object Created" events, matches them against the
 * synthesized rules' event patterns and delivers them to the targets at least once — with optional,
 * seeded duplication, reordering and delay to exercise the pipeline's idempotency. The events are
 * built in ./s3-events, patterns matched in ./pattern, target input shaped in ./input.
 */
import { mulberry32 as prng } from '../prng';
import { targetInput } from './input';
import { InvalidEventPatternError, matchesPattern } from './pattern';
import { objectCreatedEvent, objectDeletedEvent, type EventBridgeEvent, type S3DeletedObjectNotice, type S3ObjectNotice } from './s3-events';
import type { DeadLetterMessage, DeliveryRecord, EventRule, EventTarget, LocalEventBridgeOptions } from './types';

export { matchesPattern, InvalidEventPatternError } from './pattern';
export * from './s3-events';
export * from './types';
export { targetInput } from './input';

/** A delivery failure that EventBridge does not retry. */
class PermanentDeliveryError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = code === 'NO_PERMISSIONS' ? 'AccessDeniedException' : 'DeliveryError';
  }
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The default event bus. `putEvents`/`objectsCreated` return once events are matched; deliveries
 * and the executions they start run in the background — await {@link LocalEventBridge.waitForIdle}.
 */
export class LocalEventBridge {
  private readonly rules: EventRule[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly records: DeliveryRecord[] = [];
  private readonly deadLetters: DeadLetterMessage[] = [];
  private readonly random: () => number;
  private readonly accountId: string;
  private readonly region: string;

  constructor(private readonly options: LocalEventBridgeOptions) {
    this.accountId = options.accountId ?? '000000000000';
    this.region = options.region ?? 'us-east-1';
    this.random = prng(options.delivery?.seed ?? 1);
    for (const r of options.rules ?? []) this.addRule(r);
  }

  /** Adds a rule (its pattern is validated now). */
  addRule(rule: EventRule): void {
    if (rule.eventPattern) matchesPattern(rule.eventPattern, {});
    this.rules.push(rule);
  }

  /** Builds and puts the "Object Created" events of a batch of S3 notices. */
  objectsCreated(notices: ReadonlyArray<S3ObjectNotice>): EventBridgeEvent[] {
    const events = notices.map((n) => objectCreatedEvent(n, { accountId: this.accountId, region: this.region }));
    this.putEvents(events);
    return events;
  }

  /** Builds and puts the "Object Deleted" events of a batch of S3 notices. */
  objectsDeleted(notices: ReadonlyArray<S3DeletedObjectNotice>): EventBridgeEvent[] {
    const events = notices.map((n) => objectDeletedEvent(n, { accountId: this.accountId, region: this.region }));
    this.putEvents(events);
    return events;
  }

  /** Matches a batch of events against the enabled rules of the default bus and schedules deliveries. */
  putEvents(events: ReadonlyArray<EventBridgeEvent>): { matched: number } {
    const batch = [...events];
    if (this.options.delivery?.reorder) {
      for (let i = batch.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [batch[i], batch[j]] = [batch[j], batch[i]];
      }
    }
    let matched = 0;
    for (const event of batch) {
      for (const rule of this.rules) {
        if ((rule.state ?? 'ENABLED') !== 'ENABLED') continue;
        if ((rule.eventBusName ?? 'default') !== 'default') continue;
        if (!rule.eventPattern || !matchesPattern(rule.eventPattern, event)) continue;
        matched++;
        for (const target of rule.targets) {
          const copies = 1 + (this.random() < (this.options.delivery?.duplicateRate ?? 0) ? (this.options.delivery?.duplicateCount ?? 1) : 0);
          for (let copy = 0; copy < copies; copy++) this.schedule(event, rule, target, copy);
        }
      }
    }
    return { matched };
  }

  private delay(): number {
    const d = this.options.delivery?.delayMs ?? 0;
    if (typeof d === 'number') return d;
    return d[0] + Math.floor(this.random() * (d[1] - d[0] + 1));
  }

  private schedule(event: EventBridgeEvent, rule: EventRule, target: EventTarget, copy: number): void {
    const key = (event.detail as { object?: { key?: string } }).object?.key;
    const record: DeliveryRecord = {
      eventId: event.id,
      rule: rule.name,
      targetId: target.id,
      targetArn: target.arn,
      copy,
      status: 'PENDING',
      attempts: 0,
      ...(key !== undefined ? { key } : {}),
    };
    this.records.push(record);
    const delayMs = this.delay();
    this.track(this.deliver(event, rule, target, record, delayMs));
  }

  private track(p: Promise<unknown>): void {
    const guarded = p.catch(() => undefined);
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
  }

  private async deliver(event: EventBridgeEvent, rule: EventRule, target: EventTarget, record: DeliveryRecord, delayMs: number): Promise<void> {
    if (delayMs > 0) await wait(delayMs);
    const maxRetries = target.retryPolicy?.MaximumRetryAttempts ?? 185;
    const maxAgeMs = (target.retryPolicy?.MaximumEventAgeInSeconds ?? 86400) * 1000;
    const started = Date.now();
    const base = this.options.delivery?.retryDelayMs ?? 100;
    for (;;) {
      record.attempts++;
      try {
        const input = targetInput(target, event, rule);
        this.authorize(target);
        await this.send(target.arn, input, record);
        record.status = 'DELIVERED';
        return;
      } catch (err) {
        record.error = `${(err as Error).name}: ${(err as Error).message}`;
        const permanent = err instanceof PermanentDeliveryError || err instanceof InvalidEventPatternError
          || (err as Error).name === 'UnsupportedTargetError' || (err as Error).name === 'SyntaxError';
        if (permanent || record.attempts > maxRetries || Date.now() - started > maxAgeMs) {
          record.status = 'FAILED';
          record.errorCode = err instanceof PermanentDeliveryError ? err.code : 'SDK_CLIENT_ERROR';
          this.toDeadLetterQueue(event, rule, target, record, (err as Error).message);
          return;
        }
        await wait(Math.min(base * 2 ** (record.attempts - 1), 60_000));
      }
    }
  }

  /**
   * EventBridge calls a state machine target as the target's role: states:StartExecution must be
   * allowed for it (identity policies of the role). Other target types are invoked through their
   * resource policies, which the local targets do not model.
   */
  private authorize(target: EventTarget): void {
    const iam = this.options.iam;
    if (!iam || !/^arn:[^:]+:states:[^:]+:[^:]+:stateMachine:/.test(target.arn)) return;
    const m = /^arn:[^:]+:iam::(\d{12}):role\/.+$/.exec(target.roleArn ?? '');
    if (!m) {
      throw new PermanentDeliveryError('NO_PERMISSIONS', `target ${target.id} (${target.arn}) has no RoleArn: EventBridge needs a role to start a state machine`);
    }
    const denied = iam.policies.denial({ principal: { kind: 'role', arn: target.roleArn!, account: m[1] }, action: 'states:StartExecution', resource: target.arn });
    if (denied) throw new PermanentDeliveryError('NO_PERMISSIONS', denied.message);
  }

  private toDeadLetterQueue(event: EventBridgeEvent, rule: EventRule, target: EventTarget, record: DeliveryRecord, message: string): void {
    const queueArn = target.deadLetterConfig?.Arn;
    if (!queueArn) return;
    // EventBridge itself sends to the queue: its policy must let events.amazonaws.com send for this rule.
    const iam = this.options.iam;
    if (iam) {
      const r = iam.policies.authorize({
        principal: iam.policies.servicePrincipal('events.amazonaws.com'),
        action: 'sqs:SendMessage',
        resource: queueArn,
        context: { 'aws:SourceArn': rule.arn ?? rule.name, 'aws:SourceAccount': this.accountId },
      });
      if (r.decision !== 'Allow') {
        record.deadLetterError = `events.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: ${queueArn} ${r.reason}: the event is dropped`;
        return;
      }
    }
    const m: DeadLetterMessage = {
      queueArn,
      body: JSON.stringify(event),
      attributes: {
        RULE_ARN: rule.arn ?? rule.name,
        TARGET_ARN: target.arn,
        ERROR_CODE: record.errorCode ?? 'SDK_CLIENT_ERROR',
        ERROR_MESSAGE: message,
        RETRY_ATTEMPTS: String(Math.max(0, record.attempts - 1)),
      },
    };
    record.deadLetterQueue = queueArn;
    this.deadLetters.push(m);
    this.options.onDeadLetter?.(m);
  }

  /** Every message sent to a dead-letter queue so far. */
  deadLetterMessages(): DeadLetterMessage[] {
    return [...this.deadLetters];
  }

  /** Deliveries that failed for good (not retried any more), with their error. */
  failedDeliveries(): DeliveryRecord[] {
    return this.records.filter((r) => r.status === 'FAILED').map((r) => ({ ...r }));
  }

  private async send(arn: string, input: unknown, record: DeliveryRecord): Promise<void> {
    const t = this.options.targets;
    if (/^arn:[^:]+:states:[^:]+:[^:]+:stateMachine:/.test(arn) && t.startExecution) {
      const started = t.startExecution(arn, input);
      record.executionArn = started.executionArn;
      this.track(started.result.then((r) => { record.executionStatus = r.status; }));
      return;
    }
    if (/^arn:[^:]+:lambda:/.test(arn) && t.invokeFunction) {
      // Asynchronous invocation: accepted once queued.
      this.track(t.invokeFunction(arn, input));
      return;
    }
    if (/^arn:[^:]+:sns:/.test(arn) && t.publish) {
      await t.publish(arn, typeof input === 'string' ? input : JSON.stringify(input));
      return;
    }
    const e = new Error(`no local delivery for target ${arn}`);
    e.name = 'UnsupportedTargetError';
    throw e;
  }

  /** Resolves when every delivery, and every execution a delivery started, has finished. */
  async waitForIdle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Every delivery so far (one per event copy and target), in scheduling order. */
  deliveries(): DeliveryRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** The executions started by deliveries, with their status (RUNNING until they end). */
  executions(): Array<{ executionArn: string; status: string; eventId: string; key?: string; copy: number }> {
    return this.records.filter((r) => r.executionArn).map((r) => ({
      executionArn: r.executionArn!,
      status: r.executionStatus ?? 'RUNNING',
      eventId: r.eventId,
      copy: r.copy,
      ...(r.key !== undefined ? { key: r.key } : {}),
    }));
  }
}

/**
 * Local EventBridge (default bus): builds S3 "Object Created" events, matches them against the
 * synthesized rules' event patterns and delivers them to the targets at least once — with optional,
 * seeded duplication, reordering and delay to exercise the pipeline's idempotency.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { InvalidEventPatternError, matchesPattern } from './pattern';
import { mulberry32 as prng } from '../prng';
import { AccessDeniedError, type IamPolicies } from '../iam';

export { matchesPattern, InvalidEventPatternError } from './pattern';

/** What S3 knows about a created object (the local S3 reports these). */
export interface S3ObjectNotice {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** ETag without quotes (quotes are stripped). */
  readonly etag?: string;
  readonly sequencer?: string;
  readonly versionId?: string;
  /** PutObject, POST Object, CopyObject or CompleteMultipartUpload (default PutObject). */
  readonly reason?: string;
  /** Event time (default now). */
  readonly time?: Date | string;
  readonly requestId?: string;
  readonly sourceIpAddress?: string;
}

/** An EventBridge event. */
export interface EventBridgeEvent {
  readonly 'version': string;
  readonly 'id': string;
  readonly 'detail-type': string;
  readonly 'source': string;
  readonly 'account': string;
  readonly 'time': string;
  readonly 'region': string;
  readonly 'resources': string[];
  readonly 'detail': Record<string, unknown>;
}

/** AWS event time: ISO 8601 without milliseconds. */
function eventTime(t: Date | string | undefined): string {
  const d = t === undefined ? new Date() : new Date(t);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Builds the exact event S3 sends to EventBridge for a created object. */
export function objectCreatedEvent(notice: S3ObjectNotice, env: EventEnvironment = {}): EventBridgeEvent {
  return s3Event('Object Created', notice, {
    key: notice.key,
    size: notice.size,
    ...(notice.etag !== undefined ? { etag: notice.etag.replace(/^"|"$/g, '') } : {}),
    ...(notice.versionId !== undefined ? { 'version-id': notice.versionId } : {}),
  }, { reason: notice.reason ?? 'PutObject' }, env);
}

/** Account, region and event id of a built event (defaults: the local account, us-east-1, a random id). */
export interface EventEnvironment { readonly accountId?: string; readonly region?: string; readonly id?: string }

/** The envelope S3 puts around every EventBridge event (S3 User Guide, "EventBridge event message structure"). */
function s3Event(
  detailType: 'Object Created' | 'Object Deleted',
  notice: { bucket: string; sequencer?: string; time?: Date | string; requestId?: string; sourceIpAddress?: string },
  object: Record<string, unknown>,
  tail: Record<string, unknown>,
  env: EventEnvironment,
): EventBridgeEvent {
  const accountId = env.accountId ?? '000000000000';
  return {
    'version': '0',
    'id': env.id ?? randomUUID(),
    'detail-type': detailType,
    'source': 'aws.s3',
    'account': accountId,
    'time': eventTime(notice.time),
    'region': env.region ?? 'us-east-1',
    'resources': [`arn:aws:s3:::${notice.bucket}`],
    'detail': {
      'version': '0',
      'bucket': { name: notice.bucket },
      'object': { ...object, sequencer: notice.sequencer ?? Date.now().toString(16).toUpperCase().padStart(18, '0') },
      'request-id': notice.requestId ?? randomBytes(8).toString('hex').toUpperCase(),
      'requester': accountId,
      'source-ip-address': notice.sourceIpAddress ?? '127.0.0.1',
      ...tail,
    },
  };
}

/** What S3 knows about a deleted object. */
export interface S3DeletedObjectNotice {
  readonly bucket: string;
  readonly key: string;
  readonly sequencer?: string;
  readonly versionId?: string;
  /** `Permanently Deleted` (unversioned bucket, or a version deleted by id) or `Delete Marker Created`. */
  readonly deletionType?: 'Permanently Deleted' | 'Delete Marker Created';
  /** `DeleteObject` or `Lifecycle Expiration` (default DeleteObject). */
  readonly reason?: string;
  readonly time?: Date | string;
  readonly requestId?: string;
  readonly sourceIpAddress?: string;
}

/** Builds the exact "Object Deleted" event S3 sends to EventBridge (S3 User Guide, "EventBridge event message structure"). */
export function objectDeletedEvent(notice: S3DeletedObjectNotice, env: EventEnvironment = {}): EventBridgeEvent {
  return s3Event('Object Deleted', notice, {
    key: notice.key,
    ...(notice.versionId !== undefined ? { 'version-id': notice.versionId } : {}),
  }, { 'reason': notice.reason ?? 'DeleteObject', 'deletion-type': notice.deletionType ?? 'Permanently Deleted' }, env);
}

/** A rule (the shape of `ResolvedTemplate.eventRules()`). */
export interface EventRule {
  readonly name: string;
  readonly arn?: string;
  readonly state?: string;
  readonly eventBusName?: string;
  readonly eventPattern?: Record<string, unknown>;
  readonly targets: ReadonlyArray<EventTarget>;
}

/** A rule target. */
export interface EventTarget {
  readonly id: string;
  readonly arn: string;
  /** The role EventBridge assumes to call the target (required for state machine targets). */
  readonly roleArn?: string;
  readonly input?: string;
  readonly inputPath?: string;
  readonly inputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
  readonly retryPolicy?: { MaximumEventAgeInSeconds?: number; MaximumRetryAttempts?: number };
  readonly deadLetterConfig?: { Arn?: string };
}

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

/** A delivery failure that EventBridge does not retry. */
class PermanentDeliveryError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = code === 'NO_PERMISSIONS' ? 'AccessDeniedException' : 'DeliveryError';
  }
}

/* eslint-enable no-bitwise */

function jsonPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  if (!path.startsWith('$.')) throw new InvalidEventPatternError(`unsupported JSON path '${path}'`);
  let cur: unknown = value;
  for (const part of path.slice(2).split('.')) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new InvalidEventPatternError(`unsupported JSON path '${path}'`);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[m[1]] : undefined;
    for (const idx of m[2].match(/\d+/g) ?? []) cur = Array.isArray(cur) ? cur[Number(idx)] : undefined;
  }
  return cur;
}

/** Applies a target's Input / InputPath / InputTransformer like EventBridge. */
export function targetInput(target: EventTarget, event: EventBridgeEvent, rule: { name: string; arn?: string }): unknown {
  if (target.input !== undefined) return JSON.parse(target.input);
  if (target.inputPath !== undefined) return jsonPath(event, target.inputPath);
  const tr = target.inputTransformer;
  if (!tr) return event;
  const values: Record<string, unknown> = {
    'aws.events.rule-arn': rule.arn ?? rule.name,
    'aws.events.rule-name': rule.name,
    'aws.events.event': event,
    'aws.events.event.json': event,
    'aws.events.event.ingestion-time': event.time,
  };
  for (const [k, p] of Object.entries(tr.InputPathsMap ?? {})) values[k] = jsonPath(event, p);
  const template = tr.InputTemplate;
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '"' && template[i - 1] !== '\\') inString = !inString;
    if (c === '<') {
      const end = template.indexOf('>', i);
      const name = end > i ? template.slice(i + 1, end) : '';
      if (end > i && name in values) {
        const v = values[name];
        if (inString) {
          out += v === undefined ? '' : typeof v === 'string' ? JSON.stringify(v).slice(1, -1) : JSON.stringify(v).replace(/"/g, '\\"');
        } else {
          out += v === undefined ? 'null' : JSON.stringify(v);
        }
        i = end;
        continue;
      }
    }
    out += c;
  }
  try {
    return JSON.parse(out);
  } catch {
    return out;
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
    try {
      iam.policies.assertAllowed({ principal: { kind: 'role', arn: target.roleArn!, account: m[1] }, action: 'states:StartExecution', resource: target.arn });
    } catch (e) {
      if (e instanceof AccessDeniedError) throw new PermanentDeliveryError('NO_PERMISSIONS', e.message);
      throw e;
    }
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

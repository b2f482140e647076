/**
 * The per-snapshot ticket: "last finisher refreshes" (docs/runtime.md, "Coordinating a snapshot's files").
 *
 * Every execution writes the ticket of its object's snapshot after its Stage 2 work is done (or has
 * failed for good), waits the quiet period, then reads the ticket back: the execution it names runs
 * the snapshot's refresh (extract, state counts, publish); every other execution ends, superseded.
 * A plain PutObject: S3 applies the writes of one key in order and is strongly consistent, so the
 * ticket always names the execution whose write came last, and that execution reads its own name.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { TICKET_OPERATIONS } from '../../src/contract';
import { payloadBucket, type PipelineConfig } from '../lib/config';
import { classifyAwsError, InvalidEventError } from '../lib/errors';
import { rawDataKeySnapshot } from '../lib/keys';

/** A ticket operation the state machine asks for (the contract's TICKET_OPERATIONS). */
export type TicketOperation = (typeof TICKET_OPERATIONS)[keyof typeof TICKET_OPERATIONS];
import { headCurrent, isNotFound } from '../lib/watermark';

/** `<VALIDATED_PREFIX>_coordination/snapshot_date=<d>/ticket.json` (a `_` folder: invisible to Athena and Glue). */
export function ticketKey(validatedPrefix: string, snapshotDate: string): string {
  return `${validatedPrefix}_coordination/snapshot_date=${snapshotDate}/ticket.json`;
}

/**
 * The id of the snapshot's latest claim: the version of its ticket (ETag, version id, LastModified),
 * which every claim replaces (`ProcessObject`'s, or `ClaimSnapshot`'s when Stage 2 failed; its body names the
 * execution and the time). Undefined when
 * the snapshot has no ticket (a query started outside the state machine). The query runner puts it
 * into the query token, so that every refresh of a snapshot is a new computation while the retries
 * of one refresh, and the refreshes of executions that read the same claim, share one query
 * (docs/runtime.md, "Query runner").
 */
export async function currentClaim(s3: S3Client, bucket: string, validatedPrefix: string, snapshotDate: string): Promise<string | undefined> {
  const head = await headCurrent(s3, bucket, ticketKey(validatedPrefix, snapshotDate));
  return head && claimOf(head);
}

/** The claim id of one version of the ticket (what HeadObject or GetObject says of it). */
export function claimOf(version: { etag?: string; versionId?: string; lastModified?: Date }): string {
  return JSON.stringify([version.etag ?? null, version.versionId ?? null, version.lastModified?.toISOString() ?? null]);
}

/** The state machine's payload of the ticket states (`ClaimSnapshot`, `ReadTicket`). */
export interface CoordinationRequest {
  readonly coordination: TicketOperation;
  readonly bucket: string;
  /** The raw object this execution is for. */
  readonly object: string;
  /** The execution id (`$$.Execution.Id`). */
  readonly execution: string;
}

/** What the ticket states return (no top-level `key`: this is not a Stage 2 summary). */
export interface TicketStatus {
  readonly bucket: string;
  readonly object: string;
  readonly snapshotDate: string;
  readonly ticketKey: string;
  readonly execution: string;
  /** check: the execution the ticket names (absent when the ticket could not be read as one). */
  readonly holder?: string;
  /** check: true when this execution refreshes the snapshot. */
  readonly latest?: boolean;
  /**
   * check: the claim id of the ticket version read (`claimOf`), null when there is no ticket. The state machine
   * hands it to the refresh queries, which put it into their token (docs/runtime.md, "Query runner") instead of
   * reading the ticket again.
   */
  readonly claim?: string | null;
}

/** True for a payload meant for the ticket logic (the processor's handler dispatches on it). */
export function isCoordinationRequest(event: unknown): event is CoordinationRequest {
  return !!event && typeof event === 'object' && 'coordination' in event;
}

interface ParsedRequest { bucket: string; object: string; execution: string; snapshotDate: string }

function parseRequest(event: CoordinationRequest, config: PipelineConfig): ParsedRequest {
  const { coordination, bucket, object, execution } = event as unknown as Record<string, unknown>;
  if (!(Object.values(TICKET_OPERATIONS) as unknown[]).includes(coordination)) {
    throw new InvalidEventError(`coordination must be one of ${Object.values(TICKET_OPERATIONS).map((o) => `'${o}'`).join(', ')} (got ${JSON.stringify(coordination)})`);
  }
  const checkedBucket = payloadBucket(bucket, config);
  if (typeof object !== 'string' || object === '') throw new InvalidEventError('object must be a non-empty string');
  if (typeof execution !== 'string' || execution === '' || execution.length > 2048) throw new InvalidEventError('execution must be a non-empty string');
  const snapshotDate = rawDataKeySnapshot(object, config.rawPrefix, `the snapshot of s3://${checkedBucket}/${object} is not coordinated`);
  return { bucket: checkedBucket, object, execution, snapshotDate };
}

export interface TicketDeps {
  readonly s3: S3Client;
  readonly config: PipelineConfig;
  readonly now?: () => Date;
}

/** Writes the ticket of the object's snapshot, naming this execution (claim) — one PutObject. */
export async function claimSnapshot(event: CoordinationRequest, deps: TicketDeps): Promise<TicketStatus> {
  const r = parseRequest(event, deps.config);
  const key = ticketKey(deps.config.validatedPrefix, r.snapshotDate);
  const body = { execution: r.execution, object: r.object, time: (deps.now?.() ?? new Date()).toISOString() };
  try {
    await deps.s3.send(new PutObjectCommand({
      Bucket: r.bucket, Key: key, Body: `${JSON.stringify(body)}\n`, ContentType: 'application/json',
    }));
  } catch (err) {
    classifyAwsError(err, `writing the snapshot ticket s3://${r.bucket}/${key}`);
  }
  return { bucket: r.bucket, object: r.object, snapshotDate: r.snapshotDate, ticketKey: key, execution: r.execution };
}

/**
 * Reads the ticket back (check) — one GetObject. `latest` is true when it names this execution. A
 * ticket that is missing or unreadable (deleted, or written by hand) also gives `latest: true`: an
 * extra refresh is always safe (compare-and-swap on watermarks), a missed one is not.
 */
export async function checkTicket(event: CoordinationRequest, deps: TicketDeps): Promise<TicketStatus> {
  const r = parseRequest(event, deps.config);
  const key = ticketKey(deps.config.validatedPrefix, r.snapshotDate);
  const base = { bucket: r.bucket, object: r.object, snapshotDate: r.snapshotDate, ticketKey: key, execution: r.execution };
  let text: string;
  let claim: string;
  try {
    const out = await deps.s3.send(new GetObjectCommand({ Bucket: r.bucket, Key: key }));
    text = (await out.Body?.transformToString('utf-8')) ?? '';
    claim = claimOf({ etag: out.ETag, versionId: out.VersionId, lastModified: out.LastModified });
  } catch (err) {
    if (isNotFound(err)) return { ...base, latest: true, claim: null };
    classifyAwsError(err, `reading the snapshot ticket s3://${r.bucket}/${key}`);
  }
  let holder: unknown;
  try {
    holder = (JSON.parse(text) as { execution?: unknown }).execution;
  } catch {
    holder = undefined;
  }
  if (typeof holder !== 'string') return { ...base, latest: true, claim };
  return { ...base, holder, latest: holder === r.execution, claim };
}

/** Dispatches a coordination request. */
export function coordinate(event: CoordinationRequest, deps: TicketDeps): Promise<TicketStatus> {
  return event.coordination === TICKET_OPERATIONS.claim ? claimSnapshot(event, deps) : checkTicket(event, deps);
}

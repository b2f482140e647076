import type { QueryName, QueryRequest } from './types';
import { QUERY_NAMES } from '../../src/contract';
import { payloadBucket, type PipelineConfig } from '../lib/config';
import { isCalendarDate } from '../lib/dates';
import { InvalidEventError } from '../lib/errors';
import { objectsFromEvent } from '../lib/events';
import { assertSnapshotInRange, snapshotOfRawKey } from '../lib/keys';


const KNOWN_QUERIES: readonly QueryName[] = Object.values(QUERY_NAMES);
const QUERY_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

function optionalString(e: Record<string, unknown>, name: string): string | undefined {
  const v = e[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') throw new InvalidEventError(`${name} must be a non-empty string`);
  return v;
}

function optionalCount(e: Record<string, unknown>, name: string): number | undefined {
  const v = e[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new InvalidEventError(`${name} must be a non-negative integer`);
  return v;
}

/**
 * The claim in the `ticket` the state machine passes (ReadTicket's result): its `claim` when that is a non-empty
 * string; undefined otherwise (no ticket, or a result without one: the runner then reads the ticket itself).
 */
function claimOfTicket(ticket: unknown): string | undefined {
  if (ticket === undefined || ticket === null) return undefined;
  if (typeof ticket !== 'object' || Array.isArray(ticket)) throw new InvalidEventError('ticket must be the ReadTicket result (an object)');
  const claim = (ticket as { claim?: unknown }).claim;
  if (claim === undefined || claim === null) return undefined;
  if (typeof claim !== 'string' || claim === '') throw new InvalidEventError('ticket.claim must be a non-empty string or null');
  return claim;
}

/** Validates a QueryRequest payload (as the state machine sends it, or a manual re-run). */
export function parseQueryRequest(payload: Record<string, unknown>, config: PipelineConfig): QueryRequest {
  const query = payload.query;
  if (typeof query !== 'string' || !KNOWN_QUERIES.includes(query as QueryName)) {
    throw new InvalidEventError(`query must be one of ${KNOWN_QUERIES.join(', ')} (got ${JSON.stringify(query)})`);
  }
  const bucket = payloadBucket(payload.bucket, config);
  const snapshotDate = payload.snapshotDate;
  if (!isCalendarDate(snapshotDate)) throw new InvalidEventError(`snapshotDate must be a YYYY-MM-DD calendar date (got ${JSON.stringify(snapshotDate)})`);
  assertSnapshotInRange(snapshotDate, `${String(query)} of snapshot ${snapshotDate} refused`);
  const asOf = optionalString(payload, 'asOf');
  if (asOf !== undefined && !isCalendarDate(asOf)) throw new InvalidEventError(`asOf must be a YYYY-MM-DD calendar date (got ${JSON.stringify(asOf)})`);
  const key = optionalString(payload, 'key');
  if (key !== undefined && snapshotOfRawKey(key, config.rawPrefix) !== snapshotDate) {
    throw new InvalidEventError(`key '${key}' does not belong to snapshot ${snapshotDate}`);
  }
  const queryExecutionId = optionalString(payload, 'queryExecutionId');
  if (queryExecutionId !== undefined && !QUERY_ID_RE.test(queryExecutionId)) {
    throw new InvalidEventError('queryExecutionId is not an Athena query execution id');
  }
  const req: QueryRequest = { query: query as QueryName, bucket, snapshotDate };
  const etag = optionalString(payload, 'etag');
  const polls = optionalCount(payload, 'polls');
  const restarts = optionalCount(payload, 'restarts');
  if (key !== undefined) req.key = key;
  if (etag !== undefined) req.etag = etag;
  if (asOf !== undefined) req.asOf = asOf;
  if (queryExecutionId !== undefined) req.queryExecutionId = queryExecutionId;
  if (polls !== undefined) req.polls = polls;
  if (restarts !== undefined) req.restarts = restarts;
  const claim = optionalString(payload, 'claim') ?? claimOfTicket(payload.ticket);
  if (claim !== undefined) {
    if (claim.length > 1024) throw new InvalidEventError('claim must be at most 1024 characters (the snapshot ticket version ReadTicket read)');
    req.claim = claim;
  }
  return req;
}

/**
 * The query-runner's input: a QueryRequest (has `query`), or an EventBridge "Object Created" / S3
 * notification event, which means "state counts for the key's snapshot". InvalidEventError for
 * anything else, keys outside `<RAW_PREFIX><YYYY-MM-DD>/` and events naming several snapshots.
 */
export function parseQueryEvent(event: unknown, config: PipelineConfig): QueryRequest {
  if (event && typeof event === 'object' && !Array.isArray(event) && 'query' in event) {
    return parseQueryRequest(event as Record<string, unknown>, config);
  }
  const refs = objectsFromEvent(event);
  const first = refs[0];
  const snapshots = new Set(refs.map((r) => {
    payloadBucket(r.bucket, config);
    return snapshotOfRawKey(r.key, config.rawPrefix);
  }));
  if (snapshots.size !== 1) throw new InvalidEventError(`event names objects of ${snapshots.size} snapshots; expected one`);
  const snapshotDate = [...snapshots][0];
  assertSnapshotInRange(snapshotDate, `state_counts of snapshot ${snapshotDate} refused`);
  const req: QueryRequest = { query: 'state_counts', bucket: first.bucket, key: first.key, snapshotDate };
  if (first.etag) req.etag = first.etag;
  return req;
}

import type { S3Client } from '@aws-sdk/client-s3';
import { equalJitterBackoff } from './client';
import type { PipelineConfig } from '../lib/config';
import { failureMarkerKey, isDataKey, parseRawKey, partitionKey } from '../lib/keys';
import { listObjects } from '../lib/s3-list';

/**
 * The raw objects of a snapshot that are still being validated: data objects under
 * `<RAW_PREFIX><d>/` created within the last `pendingInputWindowMs` that Stage 2 has not settled yet.
 * Stage 2 settles an object by writing its validated output
 * (`<VALIDATED_PREFIX>snapshot_date=<d>/<stem>.jsonl`, written for every object, empty or not) or,
 * when the object failed for good, its failure marker
 * (`<QUARANTINE_PREFIX>_failed/snapshot_date=<d>/<stem>.json`); either counts when it is not older
 * than the object, so a re-uploaded object is pending again. Their own executions will run the
 * snapshot's queries once they are validated; a query started now would be replaced by that one
 * (docs/runtime.md, "Waiting for the rest of a snapshot"). An object older than the window no longer
 * counts (its event was lost, or its Stage 2 ran out of retries), so such an object delays the
 * others by at most the window. A window of 0 turns the wait off. Only listings: the runner needs
 * ListBucket on the raw, validated and quarantine prefixes, no read access.
 */
export async function pendingRawObjects(s3: S3Client, config: PipelineConfig, snapshotDate: string, nowMs: number): Promise<string[]> {
  if (config.pendingInputWindowMs <= 0) return [];
  // Outputs first: an object settled between the listings only makes us look once more.
  const validatedPartition = partitionKey(config.validatedPrefix, snapshotDate, '');
  const settled = new Map<string, number>();
  for await (const o of listObjects(s3, config.bucket, validatedPartition)) settled.set(o.Key, o.LastModified?.getTime() ?? 0);
  const markerFolder = failureMarkerKey(config.quarantinePrefix, snapshotDate, '').replace(/\.json$/, '');
  for await (const o of listObjects(s3, config.bucket, markerFolder)) settled.set(o.Key, o.LastModified?.getTime() ?? 0);
  const pending: string[] = [];
  for await (const o of listObjects(s3, config.bucket, `${config.rawPrefix}${snapshotDate}/`)) {
    if (!isDataKey(o.Key)) continue;
    const info = parseRawKey(o.Key, config.rawPrefix);
    if (info.snapshotDate !== snapshotDate) continue;
    const created = o.LastModified?.getTime() ?? 0;
    if (nowMs - created > config.pendingInputWindowMs) continue;
    const output = settled.get(`${validatedPartition}${info.stem}.jsonl`);
    const marker = settled.get(failureMarkerKey(config.quarantinePrefix, snapshotDate, info.stem));
    const validated = output !== undefined && output >= created;
    const failed = marker !== undefined && marker >= created;
    if (!validated && !failed) pending.push(o.Key);
  }
  return pending;
}

export interface WaitForInputsOptions {
  /** Milliseconds this invocation may still spend waiting. */
  readonly remainingMs: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /**
   * At most this long in one call (default 2 s). The state machine's Wait in between holds no Lambda,
   * so many executions waiting for one snapshot do not take the concurrency Stage 2 needs.
   */
  readonly maxWaitMs?: number;
}

/**
 * Checks for pending raw objects until there are none or `maxWaitMs` (or the invocation's budget)
 * is used up, and returns those still pending (empty: go ahead). A short wait inside the call
 * catches the common case, where the snapshot's last files are seconds from done, without an extra
 * state machine round trip; longer waits are the state machine's. Checks back off from 250 ms,
 * doubling, with equal jitter. S3 errors are thrown (TransientError for throttling and 5xx).
 */
export async function waitForInputs(check: () => Promise<string[]>, opts: WaitForInputsOptions): Promise<string[]> {
  const waits = equalJitterBackoff(250, 2000, opts.random ?? Math.random);
  let budget = opts.maxWaitMs ?? 2000;
  for (;;) {
    const pending = await check();
    if (pending.length === 0) return pending;
    const wait = waits.next().value;
    if (wait > budget || opts.remainingMs() - wait <= 0) return pending;
    await opts.sleep(wait);
    budget -= wait;
  }
}

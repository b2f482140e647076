/** The drill faults (`--fault`): what each injects into the local services, chosen from the seed. */
import type { LocalAthena } from '../athena';
import type { LocalLambdaRuntime } from '../lambda';
import { mulberry32 } from '../prng';
import type { LocalS3 } from '../s3';
import type { LocalRunOptions } from './options';
import type { InjectedFault } from './result';

/** What the drill faults act on. */
export interface FaultTargets {
  s3: LocalS3;
  athena: LocalAthena;
  lambda: LocalLambdaRuntime;
  processorArn: string;
  snapshots: string[];
  /** The S3 keys of the uploaded data files. */
  rawKeys: string[];
}

/**
 * Sets up the drill faults. Every choice depends only on the seed and stable names, never on the order
 * in which concurrent requests arrive: `athena-fail` fails every facility-extract query of one snapshot,
 * picked by the seed from the sorted snapshot names (the UNLOAD's staging location names the snapshot).
 */

export function applyFaults(opts: LocalRunOptions, t: FaultTargets): InjectedFault[] {
  const seed = opts.seed ?? 1;
  const faults = [...new Set(opts.faults ?? [])];
  const injected: InjectedFault[] = [];
  const athena: Parameters<LocalAthena['setFaults']>[0] = { seed };
  for (const f of faults) {
    switch (f) {
      case 's3-slowdown':
        t.s3.setFaults({ slowDownRate: 0.05, seed });
        injected.push({ fault: f, injected: '503 SlowDown on 5% of S3 requests (seeded)' });
        break;
      case 'athena-throttle':
        athena.throttleFirstN = 3;
        injected.push({ fault: f, injected: 'TooManyRequestsException on the first 3 StartQueryExecution calls' });
        break;
      case 'athena-fail': {
        const sorted = [...t.snapshots].sort();
        const target = sorted[Math.floor(mulberry32(seed)() * sorted.length)];
        if (target === undefined) break;
        athena.failQueriesMatching = new RegExp(`/_staging/snapshot_date=${target}/`);
        athena.failRetryable = false;
        injected.push({ fault: f, injected: `every facility_extract query of snapshot ${target} ends FAILED (non-retryable)`, target });
        break;
      }
      case 'lambda-timeout': {
        const sorted = [...t.rawKeys].sort();
        const target = sorted[Math.floor(mulberry32(seed)() * sorted.length)];
        if (target === undefined) break;
        t.lambda.setFaults({ timeoutNext: { fn: t.processorArn, n: 1, when: (payload) => payloadKey(payload) === target } });
        injected.push({ fault: f, injected: `the first Stage 2 processor invocation for ${target} reports Sandbox.Timedout`, target });
        break;
      }
    }
  }
  if (athena.throttleFirstN !== undefined || athena.failQueriesMatching !== undefined) t.athena.setFaults(athena);
  return injected;
}

/** The object key a Stage 2 payload is for (its S3 event's, or a direct `{key}`). */
function payloadKey(payload: unknown): string | undefined {
  const p = (payload ?? {}) as { key?: unknown; detail?: { object?: { key?: unknown } } };
  const key = p.key ?? p.detail?.object?.key;
  return typeof key === 'string' ? key : undefined;
}

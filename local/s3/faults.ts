/**
 * Fault injection of the local S3: 503 SlowDown for matching requests, the first N of them or each
 * with a probability drawn from a seeded PRNG (so a run is reproducible). See docs/local-s3.md, "Faults".
 */
import { mulberry32 } from '../prng';

export interface S3FaultOptions {
  /** Probability (0..1) that a matching request fails with 503 SlowDown (seeded PRNG). */
  slowDownRate?: number;
  /** The first N matching requests fail with 503 SlowDown. */
  slowDownFirstN?: number;
  /** Seed of the PRNG behind `slowDownRate` (default 1). */
  seed?: number;
  /** Operation names the faults apply to (`PutObject`, `GetObject`, `ListObjectsV2`, …); default all. */
  operations?: string[];
}

/** Decides which requests fail with SlowDown. */
export class FaultInjector {
  private faults: S3FaultOptions = {};
  private matches = 0;
  private injected = 0;
  private rng: () => number = mulberry32(1);

  constructor(faults: S3FaultOptions = {}) {
    this.configure(faults);
  }

  /** Replaces the configuration (and resets its counters and PRNG). */
  configure(f: S3FaultOptions): void {
    this.faults = { ...f };
    this.matches = 0;
    this.rng = mulberry32(f.seed ?? 1);
  }

  /** How many SlowDown errors have been injected. */
  get slowDownsInjected(): number {
    return this.injected;
  }

  /** Whether a request of operation `op` fails with SlowDown (counted when it does). */
  slowDown(op: string): boolean {
    const f = this.faults;
    if (!f.slowDownFirstN && !f.slowDownRate) return false;
    if (f.operations && !f.operations.includes(op)) return false;
    this.matches++;
    const hit = (f.slowDownFirstN !== undefined && this.matches <= f.slowDownFirstN)
      || (f.slowDownRate !== undefined && f.slowDownRate > 0 && this.rng() < f.slowDownRate);
    if (hit) this.injected++;
    return hit;
  }
}

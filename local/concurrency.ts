/** Bounded concurrency for the local engine and its orchestrator. */

/**
 * Runs `fn` on every item, at most `limit` at a time, each item once, started in order; rejects with the first
 * error (the runners still going finish the items left, as the loops this replaced did).
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

/**
 * The snapshot dates the validated and curated tables can see: the partition projection range of
 * their `snapshot_date` column (`projection.snapshot_date.range`). Athena generates projected date
 * partitions in UTC at query time and never outside this range, so a query of a snapshot outside it
 * succeeds with no rows. Stage 2 and the query runner refuse such a snapshot instead
 * (docs/semantics.md, "Snapshot dates the tables can see"). CDK-free: the construct and the runtime
 * both import it.
 */

/** The first snapshot date the tables project. */
export const SNAPSHOT_DATE_MIN = '2000-01-01';

/** Days after today (UTC) the tables still project (`NOW+1DAYS`): a snapshot dated tomorrow is fine. */
export const SNAPSHOT_DAYS_AHEAD = 1;

/** `projection.snapshot_date.range` of the tables. */
export const SNAPSHOT_PROJECTION_RANGE = `${SNAPSHOT_DATE_MIN},NOW+${SNAPSHOT_DAYS_AHEAD}DAYS`;

/** The last snapshot date the tables project at `now`: today (UTC) plus SNAPSHOT_DAYS_AHEAD days, `YYYY-MM-DD`. */
export function snapshotDateMax(now: Date = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + SNAPSHOT_DAYS_AHEAD));
  return d.toISOString().slice(0, 10);
}

/**
 * Undefined when the `YYYY-MM-DD` date is inside the projection range at `now`; else a one-line
 * reason naming the date and the range. (The range only grows with time, so a date inside it stays
 * inside.)
 */
export function snapshotOutOfRange(date: string, now: Date = new Date()): string | undefined {
  const max = snapshotDateMax(now);
  if (date >= SNAPSHOT_DATE_MIN && date <= max) return undefined;
  const side = date < SNAPSHOT_DATE_MIN ? 'before' : 'after';
  return `snapshot date ${date} is ${side} the range the tables project (${SNAPSHOT_DATE_MIN} to ${max}, ` +
    `projection.snapshot_date.range = '${SNAPSHOT_PROJECTION_RANGE}'): its queries would read no rows`;
}

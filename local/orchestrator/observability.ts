/**
 * What a run leaves for observability: the data-quality figures computed from the metrics the Lambdas emitted
 * (the embedded metric format, extracted by the local Lambda runtime as CloudWatch Logs would), and every
 * execution's history in the Step Functions API's shape, one file per execution under `<workdir>/executions/`
 * (the renderer of the run report reads them as it reads GetExecutionHistory in AWS). docs/local-engine.md.
 */
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { METRICS, METRICS_NAMESPACE, QUERY_DIMENSION, REASON_DIMENSION } from '../../src/contract/observability';
import { forEachLimit } from '../concurrency';
import type { MetricSeries, MetricsSnapshot } from '../lambda';
import type { LocalStepFunctions } from '../stepfunctions';

/** The folder of the execution histories, inside the work folder (cleared with it by the next run). */
export const EXECUTIONS_FOLDER = 'executions';

/** History files written at once (writeExecutionHistories). */
const HISTORY_WRITES_IN_FLIGHT = 8;

/** The run's data quality, from the pipeline's metrics (sums over the run). */
export interface DataQuality {
  readonly namespace: string;
  readonly filesProcessed: number;
  readonly recordsRead: number;
  readonly recordsValid: number;
  readonly recordsQuarantined: number;
  /** recordsQuarantined / recordsRead (0 when nothing was read). */
  readonly quarantineRate: number;
  /** QuarantinedByReason per Reason, largest first. */
  readonly quarantinedByReason: Readonly<Record<string, number>>;
  readonly duplicates: number;
  readonly blankLines: number;
  readonly expiring: number;
  readonly queries: { readonly succeeded: number; readonly failed: number; readonly bytesScanned: number; readonly engineTimeMs: number };
  readonly snapshotsPublished: number;
}

/** `metrics` of a run's result: what the functions emitted, and the data quality computed from it. */
export interface RunMetrics extends MetricsSnapshot {
  /** Undefined when the functions emitted no metric in the pipeline's namespace. */
  readonly dataQuality?: DataQuality;
}

type MetricKey = keyof typeof METRICS;

/**
 * The series of one metric of the contract (its name and unit) that carry `dimension` (when given), with the fewest
 * dimensions: a document that lists several dimension sets stores the same values once per set, so only one set
 * may be summed (e.g. [Pipeline] rather than [Pipeline, service] when both were emitted).
 */
function seriesOf(all: readonly MetricSeries[], namespace: string, key: MetricKey, dimension?: string): MetricSeries[] {
  const { name, unit } = METRICS[key];
  const own = all.filter((s) => s.namespace === namespace && s.name === name && s.unit === unit && (!dimension || dimension in s.dimensions));
  const keys = (s: MetricSeries) => Object.keys(s.dimensions).sort().join('\u0000');
  const fewest = own.reduce<string | undefined>((best, s) => {
    const k = keys(s);
    return best === undefined || k.split('\u0000').length < best.split('\u0000').length ? k : best;
  }, undefined);
  return own.filter((s) => keys(s) === fewest);
}

/** The data-quality figures of a run, or undefined when the functions emitted nothing in `namespace`. */
export function dataQuality(m: MetricsSnapshot, namespace: string = METRICS_NAMESPACE): DataQuality | undefined {
  if (!m.series.some((s) => s.namespace === namespace)) return undefined;
  const total = (key: MetricKey) => seriesOf(m.series, namespace, key).reduce((n, s) => n + s.sum, 0);
  const reasons: Record<string, number> = {};
  for (const s of seriesOf(m.series, namespace, 'quarantinedByReason', REASON_DIMENSION)) {
    const r = s.dimensions[REASON_DIMENSION];
    reasons[r] = (reasons[r] ?? 0) + s.sum;
  }
  const byQuery = (key: MetricKey) => seriesOf(m.series, namespace, key, QUERY_DIMENSION).reduce((n, s) => n + s.sum, 0);
  const read = total('recordsRead');
  const quarantined = total('recordsQuarantined');
  return {
    namespace,
    filesProcessed: total('filesProcessed'),
    recordsRead: read,
    recordsValid: total('recordsValid'),
    recordsQuarantined: quarantined,
    quarantineRate: read > 0 ? quarantined / read : 0,
    quarantinedByReason: Object.fromEntries(Object.entries(reasons).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))),
    duplicates: total('duplicateRecords'),
    blankLines: total('blankLines'),
    expiring: total('expiringFacilities'),
    queries: {
      succeeded: byQuery('queriesSucceeded'),
      failed: byQuery('queriesFailed'),
      bytesScanned: byQuery('queryBytesScanned'),
      engineTimeMs: byQuery('queryEngineTime'),
    },
    snapshotsPublished: total('snapshotsPublished'),
  };
}

/**
 * Writes every execution's history (LocalStepFunctions.getExecutionHistory: GetExecutionHistory's events with
 * DescribeExecution's identity and status) to `<workDir>/executions/<execution name>.json`; returns the folder.
 * Call it while the local Step Functions still holds the executions (before the stack is closed).
 */
export async function writeExecutionHistories(sfn: LocalStepFunctions, workDir: string): Promise<string> {
  const dir = join(workDir, EXECUTIONS_FOLDER);
  mkdirSync(dir, { recursive: true });
  // Several at a time on the thread pool: creating a file can cost the kernel far more than writing it.
  await forEachLimit(sfn.listExecutions(), HISTORY_WRITES_IN_FLIGHT, (d) =>
    writeFile(join(dir, `${d.name}.json`), `${JSON.stringify(sfn.getExecutionHistory(d.executionArn), null, 2)}\n`));
  return dir;
}

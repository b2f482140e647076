/**
 * The metrics the local Lambda functions emit, extracted from their log lines (./emf) and aggregated as CloudWatch
 * stores them: one series per namespace, metric name, dimension set (names and values) and unit, with the
 * statistics SampleCount, Sum, Minimum and Maximum over the whole run. Rejected EMF documents are counted by kind
 * (EMFParsingErrors, EMFValidationErrors), with the first few reasons kept for the run's summary.
 */
import { parseEmfLine, type EmfSample } from './emf';

/** One metric series of a run. */
export interface MetricSeries {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Statistics over every sample of the run. */
  readonly sampleCount: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** Functions that emitted it. */
  readonly functions: readonly string[];
}

/** One rejected EMF document. */
export interface RejectedEmf {
  readonly function: string;
  readonly error: 'parsing' | 'validation';
  readonly reason: string;
}

/** What a run's functions emitted, at one moment. */
export interface MetricsSnapshot {
  /** Valid EMF documents (log lines) read. */
  readonly documents: number;
  /** Rejected EMF documents: counts as CloudWatch Logs reports them, and the first few. */
  readonly rejected: { readonly parsing: number; readonly validation: number; readonly first: readonly RejectedEmf[] };
  /** Sorted by namespace, name, unit and dimensions. */
  readonly series: readonly MetricSeries[];
}

/** How many rejected documents are kept with their reason. */
const KEEP_REJECTED = 5;

interface MutableSeries {
  namespace: string;
  name: string;
  unit: string;
  dimensions: Record<string, string>;
  sampleCount: number;
  sum: number;
  min: number;
  max: number;
  functions: Set<string>;
}

/** Collects the metrics of every log line given to {@link LambdaMetrics.ingest}. */
export class LambdaMetrics {
  private readonly series = new Map<string, MutableSeries>();
  private documents = 0;
  private readonly rejected = { parsing: 0, validation: 0, first: [] as RejectedEmf[] };

  /** Reads one log line of `functionName` (stdout or stderr: both reach CloudWatch Logs). */
  ingest(functionName: string, line: string): void {
    const r = parseEmfLine(line);
    if (r.kind === 'log') return;
    if (r.kind === 'invalid') {
      this.rejected[r.error]++;
      if (this.rejected.first.length < KEEP_REJECTED) this.rejected.first.push({ function: functionName, error: r.error, reason: r.reason });
      return;
    }
    this.documents++;
    for (const s of r.samples) this.add(functionName, s);
  }

  private add(functionName: string, s: EmfSample): void {
    if (s.values.length === 0) return;
    const dims = Object.entries(s.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify([s.namespace, s.name, s.unit, dims]);
    let series = this.series.get(key);
    if (!series) {
      series = {
        namespace: s.namespace,
        name: s.name,
        unit: s.unit,
        dimensions: Object.fromEntries(dims),
        sampleCount: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        functions: new Set(),
      };
      this.series.set(key, series);
    }
    for (const v of s.values) {
      series.sampleCount++;
      series.sum += v;
      series.min = Math.min(series.min, v);
      series.max = Math.max(series.max, v);
    }
    series.functions.add(functionName);
  }

  /** The metrics so far (a copy). */
  snapshot(): MetricsSnapshot {
    const keys = [...this.series.keys()].sort();
    return {
      documents: this.documents,
      rejected: { parsing: this.rejected.parsing, validation: this.rejected.validation, first: [...this.rejected.first] },
      series: keys.map((k) => {
        const s = this.series.get(k)!;
        return { ...s, dimensions: { ...s.dimensions }, functions: [...s.functions].sort() };
      }),
    };
  }
}

/**
 * The pipeline's CloudWatch metrics (docs/operability.md): Powertools for AWS Lambda Metrics, which writes them to
 * stdout in the embedded metric format (CloudWatch Logs extracts the metrics; no PutMetricData call, no grant).
 * One PipelineMetrics per container (lib/handler-runtime.ts), flushed at the end of every invocation.
 *
 * Dimensions stay low-cardinality: every metric carries only `Pipeline` (PIPELINE_NAME), plus the one extra dimension
 * the contract lists for it (`Reason`, `Query`). Powertools' default `service` dimension is removed: each metric is
 * emitted by exactly one function, so it would only split the series and make every alarm name the function's service.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS, METRICS_NAMESPACE, PIPELINE_DIMENSION } from '../../src/contract/observability';

/** One metric of the contract (src/contract/observability.ts METRICS). */
export type MetricDef = (typeof METRICS)[keyof typeof METRICS];

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** What the runtime modules emit through (tests and the CLI pass NO_METRICS or a recorder). */
export interface MetricsSink {
  /** Adds a value of a metric that has only the Pipeline dimension (published with the invocation's flush). */
  add(metric: MetricDef, value: number): void;
  /** Publishes values of metrics with one extra dimension at once, as their own EMF blob. */
  addWithDimension(dimension: string, dimensionValue: string, values: ReadonlyArray<readonly [MetricDef, number]>): void;
}

/** A sink that drops everything (callers without metrics: the CLI, unit tests). */
export const NO_METRICS: MetricsSink = { add: () => undefined, addWithDimension: () => undefined };

export interface PipelineMetricsOptions {
  readonly pipelineName: string;
  /** Default: POWERTOOLS_METRICS_NAMESPACE, else METRICS_NAMESPACE. */
  readonly namespace?: string;
}

/** The Powertools-backed sink of one container. */
export class PipelineMetrics implements MetricsSink {
  private readonly metrics: Metrics;
  private readonly namespace: string;

  constructor(private readonly options: PipelineMetricsOptions) {
    const fromEnv = process.env.POWERTOOLS_METRICS_NAMESPACE?.trim();
    this.namespace = options.namespace ?? (fromEnv ? fromEnv : METRICS_NAMESPACE);
    this.metrics = this.instance();
  }

  /** A Powertools instance whose only default dimension is Pipeline. */
  private instance(): Metrics {
    const m = new Metrics({ namespace: this.namespace });
    m.clearDefaultDimensions();
    m.setDefaultDimensions({ [PIPELINE_DIMENSION]: this.options.pipelineName });
    return m;
  }

  add(metric: MetricDef, value: number): void {
    this.metrics.addMetric(metric.name, metric.unit as Unit, value);
  }

  addWithDimension(dimension: string, dimensionValue: string, values: ReadonlyArray<readonly [MetricDef, number]>): void {
    if (values.length === 0) return;
    const m = this.instance();
    m.addDimension(dimension, dimensionValue);
    for (const [metric, value] of values) m.addMetric(metric.name, metric.unit as Unit, value);
    m.publishStoredMetrics();
  }

  /** Writes the stored metrics (nothing when none were added: no empty-metrics warning). */
  flush(): void {
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}

import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { QUERY_NAMES } from '../contract';
import { METRICS, METRICS_NAMESPACE, PIPELINE_DIMENSION, QUERY_DIMENSION, REASON_DIMENSION } from '../contract/observability';

/** One of the pipeline's own metrics (src/contract/observability.ts). */
export type PipelineMetricName = keyof typeof METRICS;

/**
 * The pipeline's own metrics (emitted by the Lambdas in the embedded metric format, namespace METRICS_NAMESPACE,
 * dimension Pipeline = the pipeline's name), for the alarms and the dashboard.
 */
export class PipelineMetrics {
  constructor(private readonly pipelineName: string) {}

  /** A metric with the Pipeline dimension (and `extra` dimensions), summed (or `statistic`) per `period`. */
  public metric(name: PipelineMetricName, period: Duration, opts: {
    statistic?: string; label?: string; extra?: Record<string, string>;
  } = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: METRICS[name].name,
      dimensionsMap: { [PIPELINE_DIMENSION]: this.pipelineName, ...opts.extra },
      statistic: opts.statistic ?? cloudwatch.Stats.SUM,
      period,
      label: opts.label,
    });
  }

  /** A query metric (dimensions Pipeline + Query) for each of the two queries, labelled by the query. */
  public perQuery(name: 'queryBytesScanned' | 'queryEngineTime' | 'queriesSucceeded' | 'queriesFailed', period: Duration,
    statistic?: string): cloudwatch.Metric[] {
    return Object.values(QUERY_NAMES).map((query) =>
      this.metric(name, period, { statistic, label: query, extra: { [QUERY_DIMENSION]: query } }));
  }

  /** Failed queries of both queries, summed (the alarm watches one time series). */
  public queriesFailed(period: Duration): cloudwatch.MathExpression {
    const [extract, counts] = this.perQuery('queriesFailed', period);
    return new cloudwatch.MathExpression({
      expression: 'extract + counts',
      usingMetrics: { extract, counts },
      label: 'Failed queries',
      period,
    });
  }

  /**
   * Percent of the records read that were quarantined, per period: 100 * RecordsQuarantined / RecordsRead (both
   * summed). A period without records read has no value (metric math drops a division by zero).
   */
  public quarantineRate(period: Duration): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: '100 * quarantined / read',
      usingMetrics: { quarantined: this.metric('recordsQuarantined', period), read: this.metric('recordsRead', period) },
      label: 'Quarantine rate (%)',
      period,
    });
  }

  /**
   * Hours since the last published snapshot, for every period of the graph's range: each period's time (EPOCH, a
   * non-sparse series) minus the time of the last period with a publish (repeated forward). Empty while no snapshot
   * was published within the range.
   */
  public hoursSincePublish(period: Duration): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: '(EPOCH(published) - FILL(IF(published > 0, EPOCH(published)), REPEAT)) / 3600',
      usingMetrics: { published: this.metric('snapshotsPublished', period) },
      label: 'Hours since the last publish',
      period,
    });
  }

  /** The top `limit` quarantine reasons of the pipeline, summed per period (a SEARCH: dashboards only). */
  public topReasons(period: Duration, limit: number): cloudwatch.MathExpression {
    const search = `SEARCH('{${METRICS_NAMESPACE},${PIPELINE_DIMENSION},${REASON_DIMENSION}} `
      + `MetricName="${METRICS.quarantinedByReason.name}" ${PIPELINE_DIMENSION}="${this.pipelineName}"', 'Sum', ${period.toSeconds()})`;
    return new cloudwatch.MathExpression({
      expression: `SORT(${search}, SUM, DESC, ${limit})`,
      usingMetrics: {},
      label: 'Quarantined by reason',
      period,
    });
  }
}

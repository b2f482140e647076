import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { PipelineFunctions } from './functions';
import { PipelineMetrics } from './metrics';
import type { MonitoringSettings } from './settings';

/** What the dashboard shows: the state machine, the functions and every alarm. */
export interface DashboardSources extends PipelineFunctions {
  readonly stateMachine: sfn.StateMachine;
  readonly alarms: cloudwatch.IAlarm[];
}

const FIVE_MINUTES = Duration.minutes(5);
const HOUR = Duration.hours(1);
/** How many quarantine reasons the "top reasons" graph shows. */
const TOP_REASONS = 10;

/** A line graph: a title that says what is counted and per what, metrics on the left (and right) axis. */
function graph(title: string, left: cloudwatch.IMetric[], opts: Partial<cloudwatch.GraphWidgetProps> = {}): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, ...opts });
}

/** A section header (a full-width text line). */
function header(markdown: string): cloudwatch.TextWidget {
  return new cloudwatch.TextWidget({ markdown, width: 24, height: 1 });
}

/**
 * The pipeline's dashboard (docs/construct.md, "Monitoring"), named `<pipelineName>-<region>`: executions, data quality,
 * freshness, Athena, Lambda, and the state of every alarm. Each widget's title says what it counts and per what.
 */
export function createDashboard(scope: Construct, settings: { pipelineName: string; monitoring: MonitoringSettings },
  sources: DashboardSources): cloudwatch.Dashboard {
  const metrics = new PipelineMetrics(settings.pipelineName);
  const m = settings.monitoring;
  const sm = sources.stateMachine;
  const fns: [string, lambda.Function][] = [
    ['validator', sources.processorFunction], ['query runner', sources.queryFunction], ['publisher', sources.publishFunction],
  ];
  const perFunction = (metric: (fn: lambda.Function) => cloudwatch.Metric) => fns.map(([label, fn]) => metric(fn).with({ label }));
  const rateLevels: cloudwatch.HorizontalAnnotation[] = [
    ...(m.quarantineRateWarningPercent > 0 ? [{ value: m.quarantineRateWarningPercent, label: 'warning alarm', color: '#ff7f0e' }] : []),
    ...(m.quarantineRateErrorPercent > 0 ? [{ value: m.quarantineRateErrorPercent, label: 'error alarm', color: '#d62728' }] : []),
  ];

  // Dashboards are global to the account, not regional (CloudFormation, AWS::CloudWatch::Dashboard): the region in
  // the name keeps the same stack deployed in two regions from colliding.
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    dashboardName: `${settings.pipelineName}-${Stack.of(scope).region}`,
    defaultInterval: Duration.days(7),
  });
  dashboard.addWidgets(new cloudwatch.TextWidget({
    markdown: `# medlaunch-elt pipeline \`${settings.pipelineName}\`\n`
      + 'Every raw file starts one execution (validate, then refresh and publish its snapshot). Counts are per 5 minutes '
      + '(executions, Lambda) or per hour (records, Athena). The widgets and alarms are described in docs/construct.md, "Monitoring".',
    width: 24,
    height: 2,
  }));
  dashboard.addWidgets(header('## Executions'));
  dashboard.addWidgets(
    graph('Executions started / succeeded / failed (per 5 min)', [
      sm.metricStarted({ period: FIVE_MINUTES, label: 'started' }),
      sm.metricSucceeded({ period: FIVE_MINUTES, label: 'succeeded' }),
      sm.metricFailed({ period: FIVE_MINUTES, label: 'failed', color: '#d62728' }),
    ], { width: 12 }),
    graph('Execution duration (ms: median, p90, max)', [
      sm.metricTime({ period: FIVE_MINUTES, statistic: 'p50', label: 'median' }),
      sm.metricTime({ period: FIVE_MINUTES, statistic: 'p90', label: 'p90' }),
      sm.metricTime({ period: FIVE_MINUTES, statistic: 'Maximum', label: 'max' }),
    ], { width: 12 }),
  );
  dashboard.addWidgets(header('## Data quality'));
  dashboard.addWidgets(
    graph('Records: valid vs quarantined (per hour)', [
      metrics.metric('recordsValid', HOUR, { label: 'valid' }),
      metrics.metric('recordsQuarantined', HOUR, { label: 'quarantined' }),
    ], { stacked: true }),
    graph('Quarantine rate (% of records read, per hour)', [metrics.quarantineRate(HOUR)], {
      leftYAxis: { min: 0, max: 100, label: '%', showUnits: false },
      leftAnnotations: rateLevels,
    }),
    graph(`Top ${TOP_REASONS} quarantine reasons (records per hour)`, [metrics.topReasons(HOUR, TOP_REASONS)]),
  );
  dashboard.addWidgets(
    graph('Duplicates, blank lines and expiring facilities (per hour)', [
      metrics.metric('duplicateRecords', HOUR, { label: 'duplicate records' }),
      metrics.metric('blankLines', HOUR, { label: 'blank lines' }),
      metrics.metric('expiringFacilities', HOUR, { label: 'expiring facilities' }),
    ]),
    new cloudwatch.SingleValueWidget({
      title: 'Freshness: hours since the last published snapshot',
      metrics: [metrics.hoursSincePublish(HOUR)],
      width: 8,
      height: 6,
    }),
    graph('Snapshots published (per hour) and publish lag (s, file arrival to publish)', [
      metrics.metric('snapshotsPublished', HOUR, { label: 'snapshots published' }),
    ], { right: [metrics.metric('publishLag', HOUR, { statistic: 'Maximum', label: 'publish lag (max)' })] }),
  );
  dashboard.addWidgets(header('## Athena'));
  dashboard.addWidgets(
    graph('Athena bytes scanned (per query, per hour)', metrics.perQuery('queryBytesScanned', HOUR)),
    graph('Athena query engine time (ms, max per hour)', metrics.perQuery('queryEngineTime', HOUR, 'Maximum')),
    graph('Athena queries succeeded / failed (per hour)', [
      ...metrics.perQuery('queriesSucceeded', HOUR).map((x) => x.with({ label: `${x.label} succeeded` })),
      ...metrics.perQuery('queriesFailed', HOUR).map((x) => x.with({ label: `${x.label} failed` })),
    ]),
  );
  dashboard.addWidgets(header('## Lambda functions'));
  dashboard.addWidgets(
    graph('Lambda errors (per 5 min)', perFunction((fn) => fn.metricErrors({ period: FIVE_MINUTES })), { width: 6 }),
    graph('Lambda throttles (per 5 min)', perFunction((fn) => fn.metricThrottles({ period: FIVE_MINUTES })), { width: 6 }),
    graph('Lambda duration (ms, p90)', perFunction((fn) => fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p90' })), { width: 6 }),
    graph('Lambda concurrent executions (max)', perFunction((fn) => fn.metric('ConcurrentExecutions', { period: FIVE_MINUTES, statistic: 'Maximum' })),
      { width: 6 }),
  );
  dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({
    title: 'Alarms (each notifies the alert topic)',
    alarms: sources.alarms,
    width: 24,
    height: 3,
  }));
  return dashboard;
}

import { Template } from 'aws-cdk-lib/assertions';
import { only, synth } from './helpers';

/** The dashboard (src/pipeline/dashboard.ts): one group of widgets per concern, titles a reader understands. */
const { template, pipeline } = synth();

/** The dashboard body as JSON, every intrinsic replaced by a `<ref>` placeholder. */
function bodyOf(t: Template): { start: string; widgets: any[] } {
  const body = only(t, 'AWS::CloudWatch::Dashboard').props.DashboardBody;
  const text = typeof body === 'string' ? body
    : body['Fn::Join'][1].map((x: any) => (typeof x === 'string' ? x : `<${x.Ref ?? x['Fn::GetAtt']?.[0]}>`)).join('');
  return JSON.parse(text);
}

const body = bodyOf(template);
const widget = (title: string) => {
  const w = body.widgets.find((x) => x.properties.title === title);
  if (!w) throw new Error(`no widget titled ${title}`);
  return w.properties;
};
/** The [namespace, metricName] of each plain metric of a widget, and the expressions. */
const metricNames = (props: any) => props.metrics.filter((m: any[]) => typeof m[0] === 'string').map((m: any[]) => `${m[0]}/${m[1]}`);
const expressions = (props: any) => props.metrics.filter((m: any[]) => typeof m[0] === 'object' && m[0].expression).map((m: any[]) => m[0].expression);

describe('dashboard', () => {
  test('created by default, named <pipelineName>-<region> (dashboards are global to the account), public, 7 days by default', () => {
    expect(pipeline.dashboard).toBeDefined();
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `${pipeline.pipelineName}-us-east-1` });
    expect(body.start).toBe('-P7D');
  });

  test('enableDashboard: false creates none', () => {
    const { template: t, pipeline: p } = synth({ enableDashboard: false });
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(p.dashboard).toBeUndefined();
  });

  test('section headers: executions, data quality, Athena, Lambda; an introduction that links the docs', () => {
    const texts = body.widgets.filter((w) => w.type === 'text').map((w) => w.properties.markdown);
    expect(texts[0]).toContain(pipeline.pipelineName);
    expect(texts[0]).toContain('docs/construct.md, "Monitoring"');
    expect(texts.slice(1)).toEqual(['## Executions', '## Data quality', '## Athena', '## Lambda functions']);
  });

  test('executions: started, succeeded, failed and their duration (AWS/States of this state machine)', () => {
    const counts = widget('Executions started / succeeded / failed (per 5 min)');
    expect(metricNames(counts)).toEqual(['AWS/States/ExecutionsStarted', 'AWS/States/ExecutionsSucceeded', 'AWS/States/ExecutionsFailed']);
    expect(JSON.stringify(counts.metrics)).toContain(`<${only(template, 'AWS::StepFunctions::StateMachine').logicalId}>`);
    const time = widget('Execution duration (ms: median, p90, max)');
    expect(metricNames(time)).toEqual(['AWS/States/ExecutionTime', 'AWS/States/ExecutionTime', 'AWS/States/ExecutionTime']);
    expect(time.metrics.map((m: any[]) => m[m.length - 1].stat)).toEqual(['p50', 'p90', 'Maximum']);
  });

  test('data quality: valid vs quarantined, the quarantine rate with the alarm levels, top reasons, duplicates and expiring', () => {
    expect(metricNames(widget('Records: valid vs quarantined (per hour)'))).toEqual(['MedlaunchElt/RecordsValid', 'MedlaunchElt/RecordsQuarantined']);
    const rate = widget('Quarantine rate (% of records read, per hour)');
    expect(expressions(rate)).toEqual(['100 * quarantined / read']);
    expect(rate.annotations.horizontal.map((a: any) => a.value)).toEqual([5, 20]);
    const reasons = expressions(widget('Top 10 quarantine reasons (records per hour)'))[0];
    expect(reasons).toBe(`SORT(SEARCH('{MedlaunchElt,Pipeline,Reason} MetricName="QuarantinedByReason" Pipeline="${pipeline.pipelineName}"', 'Sum', 3600), SUM, DESC, 10)`);
    expect(metricNames(widget('Duplicates, blank lines and expiring facilities (per hour)')))
      .toEqual(['MedlaunchElt/DuplicateRecords', 'MedlaunchElt/BlankLines', 'MedlaunchElt/ExpiringFacilities']);
    // every custom metric carries the Pipeline dimension of this pipeline
    for (const m of widget('Records: valid vs quarantined (per hour)').metrics) expect(m.slice(2, 4)).toEqual(['Pipeline', pipeline.pipelineName]);
  });

  test('the quarantine rate graph shows only the alarm levels that are on', () => {
    const b = bodyOf(synth({ quarantineRateWarningPercent: 0, quarantineRateErrorPercent: 40 }).template);
    const rate = b.widgets.find((x) => x.properties.title === 'Quarantine rate (% of records read, per hour)').properties;
    expect(rate.annotations.horizontal.map((a: any) => a.value)).toEqual([40]);
  });

  test('freshness: hours since the last publish (metric math), snapshots published and the publish lag', () => {
    const fresh = widget('Freshness: hours since the last published snapshot');
    expect(fresh.view).toBe('singleValue');
    expect(expressions(fresh)).toEqual(['(EPOCH(published) - FILL(IF(published > 0, EPOCH(published)), REPEAT)) / 3600']);
    expect(JSON.stringify(fresh.metrics)).toContain('"MedlaunchElt","SnapshotsPublished"');
    const published = widget('Snapshots published (per hour) and publish lag (s, file arrival to publish)');
    expect(metricNames(published)).toEqual(['MedlaunchElt/SnapshotsPublished', 'MedlaunchElt/PublishLag']);
    expect(published.metrics[1][published.metrics[1].length - 1].yAxis).toBe('right');
  });

  test('Athena: bytes scanned, engine time, succeeded and failed, per query', () => {
    for (const [title, name] of [
      ['Athena bytes scanned (per query, per hour)', 'QueryBytesScanned'],
      ['Athena query engine time (ms, max per hour)', 'QueryEngineTime'],
    ]) {
      const w = widget(title);
      expect(metricNames(w)).toEqual([`MedlaunchElt/${name}`, `MedlaunchElt/${name}`]);
      expect(w.metrics.map((m: any[]) => m[5])).toEqual(['facility_extract', 'state_counts']);
    }
    expect(metricNames(widget('Athena queries succeeded / failed (per hour)'))).toEqual([
      'MedlaunchElt/QueriesSucceeded', 'MedlaunchElt/QueriesSucceeded', 'MedlaunchElt/QueriesFailed', 'MedlaunchElt/QueriesFailed',
    ]);
  });

  test('Lambda: errors, throttles, duration and concurrency of each of the three functions', () => {
    for (const [title, name] of [
      ['Lambda errors (per 5 min)', 'Errors'], ['Lambda throttles (per 5 min)', 'Throttles'],
      ['Lambda duration (ms, p90)', 'Duration'], ['Lambda concurrent executions (max)', 'ConcurrentExecutions'],
    ]) {
      const w = widget(title);
      expect(metricNames(w)).toEqual([`AWS/Lambda/${name}`, `AWS/Lambda/${name}`, `AWS/Lambda/${name}`]);
      expect(w.metrics.map((m: any[]) => m[m.length - 1].label)).toEqual(['validator', 'query runner', 'publisher']);
    }
  });

  test('the alarm status widget lists every alarm', () => {
    const status = widget('Alarms (each notifies the alert topic)');
    expect(status.alarms).toHaveLength(pipeline.alarms.length);
  });
});

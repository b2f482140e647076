import { readFileSync } from 'fs';
import { join } from 'path';
import { Duration } from 'aws-cdk-lib';
import * as ts from 'typescript';
import { DEFAULT_PREFIXES, EXPIRY_MONTHS } from '../../src/contract';
import { DEFAULT_REPORTS_PREFIX } from '../../src/contract/observability';
import { DASHBOARD_DEFAULT, DURATION_PROPS, INTEGER_PROPS, LOG_LEVELS, MONITORING_PROPS, PROP_DEFAULTS } from '../../src/pipeline/defaults';

/**
 * The props' TSDoc (and so API.md) states the defaults and ranges in words; these tests read the props source and
 * compare it with the one definition of each value (src/contract, src/pipeline/defaults.ts), so the docs cannot drift.
 */
const PROPS_FILE = join(__dirname, '..', '..', 'src', 'accreditation-pipeline-props.ts');

interface PropDoc { readonly text: string; readonly default?: string; readonly lines: number }

function propDocs(): Map<string, PropDoc> {
  const source = ts.createSourceFile(PROPS_FILE, readFileSync(PROPS_FILE, 'utf8'), ts.ScriptTarget.Latest, true);
  const props = source.statements.find((s): s is ts.InterfaceDeclaration =>
    ts.isInterfaceDeclaration(s) && s.name.text === 'AccreditationPipelineProps');
  if (!props) throw new Error('AccreditationPipelineProps not found');
  const docs = new Map<string, PropDoc>();
  for (const member of props.members) {
    const jsDoc = ts.getJSDocCommentsAndTags(member).find(ts.isJSDoc);
    const text = ts.getTextOfJSDocComment(jsDoc?.comment) ?? '';
    const tag = jsDoc?.tags?.find((t) => t.tagName.text === 'default');
    const lines = text.split('\n').filter((l) => l.trim() !== '').length;
    docs.set((member.name as ts.Identifier).text, { text, default: ts.getTextOfJSDocComment(tag?.comment)?.trim(), lines });
  }
  return docs;
}

const docs = propDocs();

/** A `Duration.<unit>(<n>)` default, as a Duration. */
function parseDuration(text: string | undefined): Duration {
  const m = /^Duration\.(seconds|minutes|hours|days)\((\d+)\)$/.exec(text ?? '');
  if (!m) throw new Error(`not a Duration default: ${text}`);
  return Duration[m[1] as 'seconds' | 'minutes' | 'hours' | 'days'](Number(m[2]));
}

describe('props docs agree with the contract and the defaults', () => {
  test('every prop is documented, with a @default', () => {
    expect(docs.size).toBeGreaterThanOrEqual(29);
    for (const [name, doc] of docs) {
      expect({ name, hasText: doc.text.length > 0, hasDefault: doc.default !== undefined }).toEqual({ name, hasText: true, hasDefault: true });
    }
  });

  test.each(Object.entries({ ...DEFAULT_PREFIXES, reportsPrefix: DEFAULT_REPORTS_PREFIX }))('%s: @default is the contract default', (prop, value) => {
    expect(docs.get(prop)?.default).toBe(`'${value}'`);
  });

  test.each(['quarantineRateWarningPercent', 'quarantineRateErrorPercent', 'recordVolumeAnomalyStdDevs', 'failedQueriesThreshold'] as const)(
    '%s: @default, the range and "0 turns the alarm off" are MONITORING_PROPS', (prop) => {
      const doc = docs.get(prop)!;
      const setting = MONITORING_PROPS[prop];
      expect(doc.default).toBe(String(setting.default));
      expect(doc.text.replace(/\s+/g, ' ')).toMatch(new RegExp(`${setting.min} to ${setting.max}`));
      expect(doc.text.replace(/\s+/g, ' ')).toContain('0 turns the alarm off');
    });

  test('enableDashboard and freshnessThreshold: @default and range', () => {
    expect(docs.get('enableDashboard')?.default).toBe(String(DASHBOARD_DEFAULT));
    expect(docs.get('freshnessThreshold')?.default).toBe('- no freshness alarm');
    const { min, max } = MONITORING_PROPS.freshnessThresholdHours;
    expect([min, max]).toEqual([1, 7 * 24]);
    expect(docs.get('freshnessThreshold')?.text).toContain('whole hours, 1 hour to 7 days');
  });

  test('expiryMonths: @default and the range in its doc are EXPIRY_MONTHS', () => {
    const doc = docs.get('expiryMonths')!;
    expect(doc.default).toBe(String(EXPIRY_MONTHS.default));
    expect(doc.text).toContain(`integer from ${EXPIRY_MONTHS.min} to ${EXPIRY_MONTHS.max}`);
  });

  test('integer props: @default (and the stated range) are the construct defaults', () => {
    expect(docs.get('maxQueryPolls')?.default).toBe(String(INTEGER_PROPS.maxQueryPolls.default));
    expect(docs.get('maxQueryPolls')?.text).toContain(`integer from ${INTEGER_PROPS.maxQueryPolls.min} to ${INTEGER_PROPS.maxQueryPolls.max}`);
    expect(docs.get('processorMemorySize')?.default).toBe(String(INTEGER_PROPS.processorMemorySize.default));
    expect(docs.get('bytesScannedCutoffPerQuery')?.default).toContain(`(${INTEGER_PROPS.bytesScannedCutoffPerQuery.default})`);
  });

  test('the ranges stated in words are the ranges the construct checks', () => {
    const { processorTimeout, snapshotQuietPeriod } = DURATION_PROPS;
    expect(docs.get('processorTimeout')?.text).toContain(`at most ${processorTimeout.max / 60} minutes`);
    expect(docs.get('snapshotQuietPeriod')?.text).toContain(`From ${snapshotQuietPeriod.min} second to ${snapshotQuietPeriod.max / 3600} hour`);
    expect(docs.get('bytesScannedCutoffPerQuery')?.text).toContain(`at least ${INTEGER_PROPS.bytesScannedCutoffPerQuery.min / 1_000_000} MB`);
  });

  test('lambdaLogLevel: @default and the levels it lists are the ones the construct accepts', () => {
    const doc = docs.get('lambdaLogLevel')!;
    expect(doc.default).toBe(`'${PROP_DEFAULTS.lambdaLogLevel}'`);
    expect(doc.text).toContain(`${LOG_LEVELS.slice(0, -1).join(', ')} or ${LOG_LEVELS[LOG_LEVELS.length - 1]}`);
  });

  test.each(Object.entries(DURATION_PROPS))('%s: @default is the construct default', (prop, setting) => {
    expect(parseDuration(docs.get(prop)?.default).toSeconds()).toBe(setting.default.toSeconds());
  });

  test('no prop doc is longer than four lines of prose (longer explanations live in docs/construct.md)', () => {
    const long = [...docs].filter(([, doc]) => doc.lines > 4).map(([name, doc]) => `${name}: ${doc.lines} lines`);
    expect(long).toEqual([]);
  });

  test('every docs/construct.md section a prop doc names exists', () => {
    const guide = readFileSync(join(__dirname, '..', '..', 'docs', 'construct.md'), 'utf8');
    const headings = new Set([...guide.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].trim()));
    const cited = [...docs.values()].flatMap((doc) => [...doc.text.replace(/\s+/g, ' ').matchAll(/docs\/construct\.md, "([^"]+)"/g)].map((m) => m[1]));
    expect(cited.length).toBeGreaterThanOrEqual(4);
    expect(cited.filter((c) => !headings.has(c))).toEqual([]);
  });
});

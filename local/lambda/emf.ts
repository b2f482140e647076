/**
 * The CloudWatch embedded metric format (EMF), read the way CloudWatch Logs reads a Lambda function's log
 * lines: a line that is one JSON object with an `_aws` member is an EMF document; it is validated against the
 * published specification and schema, and every metric it declares becomes one or more samples per dimension set.
 * A document that fails yields no metric at all (CloudWatch counts it under `AWS/Logs` EMFParsingErrors or
 * EMFValidationErrors); the reason is returned, never thrown. docs/local-engine.md ("Metrics").
 */

/** CloudWatch's standard units (MetricDatum.Unit; the EMF schema's `Unit` pattern). */
export const CLOUDWATCH_UNITS: ReadonlySet<string> = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second',
  'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second',
  'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

/** Limits of the specification (and of a CloudWatch Logs event). */
export const EMF_LIMITS = {
  /** A log event (and so an EMF document) is at most 1 MB. */
  documentBytes: 1024 * 1024,
  metricsPerDirective: 100,
  dimensionsPerSet: 30,
  valuesPerMetric: 100,
  dimensionValueChars: 1024,
  dimensionNameChars: 250,
  nameChars: 1024,
} as const;

/** The samples of one metric of one dimension set, as CloudWatch would store them. */
export interface EmfSample {
  readonly namespace: string;
  readonly name: string;
  /** The unit (`None` when the definition gives none). */
  readonly unit: string;
  /** Dimension name → value, in the dimension set's order. */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
  readonly timestamp: number;
}

/** What one log line is: not EMF (an ordinary log line), a valid document's samples, or a rejected document. */
export type EmfLine =
  | { readonly kind: 'log' }
  | { readonly kind: 'metrics'; readonly samples: readonly EmfSample[] }
  | { readonly kind: 'invalid'; readonly error: 'parsing' | 'validation'; readonly reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNonEmptyString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max;

class Invalid extends Error {}
function check(ok: boolean, reason: string): asserts ok {
  if (!ok) throw new Invalid(reason);
}

/**
 * Reads one log line. Only a line that is a JSON object (nothing before or after it) with an `_aws` member is an
 * EMF document; a line that mentions `"_aws"` and starts like an object but is not valid JSON is a parsing error.
 */
export function parseEmfLine(line: string): EmfLine {
  const text = line.trim();
  if (!text.startsWith('{') || !text.includes('"_aws"')) return { kind: 'log' };
  if (Buffer.byteLength(text) > EMF_LIMITS.documentBytes) {
    return { kind: 'invalid', error: 'parsing', reason: `the log event is larger than ${EMF_LIMITS.documentBytes} bytes` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { kind: 'invalid', error: 'parsing', reason: `not a JSON object: ${(e as Error).message}` };
  }
  if (!isObject(doc) || !('_aws' in doc)) return { kind: 'log' };
  try {
    return { kind: 'metrics', samples: validate(doc) };
  } catch (e) {
    if (e instanceof Invalid) return { kind: 'invalid', error: 'validation', reason: e.message };
    throw e;
  }
}

/** Validates a parsed document (specification + schema) and returns its samples. */
function validate(doc: Record<string, unknown>): EmfSample[] {
  const aws = doc._aws;
  check(isObject(aws), '_aws must be an object');
  check(Number.isSafeInteger(aws.Timestamp) && (aws.Timestamp as number) >= 0, '_aws.Timestamp must be an integer (milliseconds since the epoch)');
  const timestamp = aws.Timestamp as number;
  check(Array.isArray(aws.CloudWatchMetrics), '_aws.CloudWatchMetrics must be an array of metric directives');
  const samples: EmfSample[] = [];
  (aws.CloudWatchMetrics as unknown[]).forEach((directive, i) => {
    const at = `_aws.CloudWatchMetrics[${i}]`;
    check(isObject(directive), `${at} must be an object`);
    const namespace = directive.Namespace;
    check(isNonEmptyString(namespace, EMF_LIMITS.nameChars), `${at}.Namespace must be a string of 1 to ${EMF_LIMITS.nameChars} characters`);
    const sets = directive.Dimensions;
    check(Array.isArray(sets) && sets.length >= 1, `${at}.Dimensions must be a non-empty array of dimension sets`);
    const dimensionSets = (sets as unknown[]).map((set, j) => dimensionSet(doc, set, `${at}.Dimensions[${j}]`));
    const metrics = directive.Metrics;
    check(Array.isArray(metrics), `${at}.Metrics must be an array of metric definitions`);
    check(metrics.length <= EMF_LIMITS.metricsPerDirective, `${at}.Metrics holds ${metrics.length} definitions (at most ${EMF_LIMITS.metricsPerDirective})`);
    (metrics as unknown[]).forEach((def, k) => {
      const m = metricDefinition(doc, def, `${at}.Metrics[${k}]`);
      for (const dimensions of dimensionSets) samples.push({ namespace, name: m.name, unit: m.unit, dimensions, values: m.values, timestamp });
    });
  });
  return samples;
}

function dimensionSet(doc: Record<string, unknown>, set: unknown, at: string): Record<string, string> {
  check(Array.isArray(set), `${at} must be an array of dimension names`);
  check(set.length <= EMF_LIMITS.dimensionsPerSet, `${at} holds ${set.length} dimensions (at most ${EMF_LIMITS.dimensionsPerSet})`);
  const out: Record<string, string> = {};
  for (const name of set as unknown[]) {
    check(isNonEmptyString(name, EMF_LIMITS.dimensionNameChars), `${at}: a dimension name must be a string of 1 to ${EMF_LIMITS.dimensionNameChars} characters`);
    const value = doc[name];
    check(value !== undefined, `${at}: the dimension ${name} has no member on the root node`);
    check(isNonEmptyString(value, EMF_LIMITS.dimensionValueChars), `${at}: the dimension ${name} must have a string value of 1 to ${EMF_LIMITS.dimensionValueChars} characters`);
    out[name] = value;
  }
  return out;
}

function metricDefinition(doc: Record<string, unknown>, def: unknown, at: string): { name: string; unit: string; values: number[] } {
  check(isObject(def), `${at} must be an object`);
  const name = def.Name;
  check(isNonEmptyString(name, EMF_LIMITS.nameChars), `${at}.Name must be a string of 1 to ${EMF_LIMITS.nameChars} characters`);
  const unit = def.Unit ?? 'None';
  check(typeof unit === 'string' && CLOUDWATCH_UNITS.has(unit), `${at}.Unit ${JSON.stringify(def.Unit)} is not a CloudWatch unit`);
  check(def.StorageResolution === undefined || Number.isSafeInteger(def.StorageResolution), `${at}.StorageResolution must be an integer (1 or 60)`);
  const target = doc[name];
  check(target !== undefined, `${at}: the metric ${name} has no member on the root node`);
  const values = Array.isArray(target) ? target : [target];
  check(values.every((v) => typeof v === 'number' && Number.isFinite(v)), `${at}: the metric ${name} must be a number or an array of numbers`);
  check(values.length <= EMF_LIMITS.valuesPerMetric, `${at}: the metric ${name} holds ${values.length} values (at most ${EMF_LIMITS.valuesPerMetric})`);
  return { name, unit, values: values as number[] };
}

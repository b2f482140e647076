import { ConfigError, InvalidEventError } from './errors';
import {
  CURATED_TABLE, DEFAULT_PREFIXES, ENV, EXPIRY_MONTHS, PREFIX_ENV, PrefixName, QUERY_WAIT_SAFETY_MS, RUNTIME_FALLBACKS, VALIDATED_TABLE,
} from '../../src/contract';
import { DEFAULT_PIPELINE_NAME, DEFAULT_REPORTS_PREFIX, OBSERVABILITY_ENV } from '../../src/contract/observability';

/** The pipeline name without PIPELINE_NAME (the contract's; re-exported for the runtime's importers). */
export { DEFAULT_PIPELINE_NAME };

/**
 * The runtime configuration every handler reads from its environment. The variable names and defaults are the
 * contract in src/contract (docs/design.md, "The runtime contract").
 */
export interface PipelineConfig {
  readonly bucket: string;
  readonly rawPrefix: string;
  readonly validatedPrefix: string;
  readonly expiringPrefix: string;
  readonly quarantinePrefix: string;
  readonly curatedPrefix: string;
  readonly resultsPrefix: string;
  readonly productionPrefix: string;
  readonly athenaResultsPrefix: string;
  /** Where the publisher writes the run reports (`REPORTS_PREFIX`; docs/operability.md). */
  readonly reportsPrefix: string;
  /** The pipeline's name (`PIPELINE_NAME`): the metrics' `Pipeline` dimension and the reports' `pipeline`. */
  readonly pipelineName: string;
  readonly glueDatabase: string;
  readonly validatedTable: string;
  readonly curatedTable: string;
  readonly athenaWorkgroup: string;
  readonly athenaOutputLocation?: string;
  readonly expiryMonths: number;
  readonly asOfDate?: string;
  readonly queryWaitSafetyMs: number;
}

function prefix(env: NodeJS.ProcessEnv, name: PrefixName): string {
  return checkedPrefix(env, PREFIX_ENV[name], DEFAULT_PREFIXES[name]);
}

function checkedPrefix(env: NodeJS.ProcessEnv, variable: string, fallback: string): string {
  const v = (env[variable] ?? fallback).trim();
  if (v === '' || v.startsWith('/') || !v.endsWith('/')) {
    throw new ConfigError(`${variable} must be a non-empty S3 prefix ending in '/' (got '${v}')`);
  }
  return v;
}

/** Reads and validates the configuration; throws ConfigError with a one-line reason. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: { requireBucket?: boolean } = {}): PipelineConfig {
  const bucket = env[ENV.dataBucket] ?? '';
  if ((opts.requireBucket ?? true) && !bucket) throw new ConfigError(`${ENV.dataBucket} is not set`);
  const rawMonths = env[ENV.expiryMonths];
  const months = Number(rawMonths ?? EXPIRY_MONTHS.default);
  if (!Number.isInteger(months) || months < EXPIRY_MONTHS.min || months > EXPIRY_MONTHS.max) {
    throw new ConfigError(`${ENV.expiryMonths} must be an integer from ${EXPIRY_MONTHS.min} to ${EXPIRY_MONTHS.max} (got '${rawMonths}')`);
  }
  const asOf = env[ENV.asOfDate]?.trim() || undefined;
  if (asOf !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(asOf)) {
    throw new ConfigError(`${ENV.asOfDate} must be YYYY-MM-DD (got '${asOf}')`);
  }
  const pipelineName = (env[OBSERVABILITY_ENV.pipelineName] ?? DEFAULT_PIPELINE_NAME).trim();
  // A CloudWatch dimension value: 1 to 1024 characters.
  if (pipelineName === '' || pipelineName.length > 1024) {
    throw new ConfigError(`${OBSERVABILITY_ENV.pipelineName} must be 1 to 1024 characters (got '${pipelineName}')`);
  }
  const safety = Number(env[ENV.queryWaitSafetyMs] ?? QUERY_WAIT_SAFETY_MS);
  return {
    bucket,
    rawPrefix: prefix(env, 'rawPrefix'),
    validatedPrefix: prefix(env, 'validatedPrefix'),
    expiringPrefix: prefix(env, 'expiringPrefix'),
    quarantinePrefix: prefix(env, 'quarantinePrefix'),
    curatedPrefix: prefix(env, 'curatedPrefix'),
    resultsPrefix: prefix(env, 'resultsPrefix'),
    productionPrefix: prefix(env, 'productionPrefix'),
    athenaResultsPrefix: prefix(env, 'athenaResultsPrefix'),
    reportsPrefix: checkedPrefix(env, OBSERVABILITY_ENV.reportsPrefix, DEFAULT_REPORTS_PREFIX),
    pipelineName,
    glueDatabase: env[ENV.glueDatabase] ?? RUNTIME_FALLBACKS.glueDatabase,
    validatedTable: env[ENV.validatedTable] ?? VALIDATED_TABLE,
    curatedTable: env[ENV.curatedTable] ?? CURATED_TABLE,
    athenaWorkgroup: env[ENV.athenaWorkgroup] ?? RUNTIME_FALLBACKS.athenaWorkgroup,
    athenaOutputLocation: env[ENV.athenaOutputLocation] || undefined,
    expiryMonths: months,
    asOfDate: asOf,
    queryWaitSafetyMs: Number.isFinite(safety) && safety >= 0 ? safety : QUERY_WAIT_SAFETY_MS,
  };
}

/**
 * The bucket a payload names, checked: a non-empty string and, when DATA_BUCKET is configured, that
 * bucket (the functions' grants cover no other). InvalidEventError otherwise.
 */
export function payloadBucket(bucket: unknown, config: Pick<PipelineConfig, 'bucket'>): string {
  if (typeof bucket !== 'string' || bucket === '') throw new InvalidEventError('bucket must be a non-empty string');
  if (config.bucket && bucket !== config.bucket) throw new InvalidEventError(`bucket '${bucket}' is not the pipeline's data bucket '${config.bucket}'`);
  return bucket;
}

import { ConfigError } from './errors';

/** The runtime configuration every handler reads from its environment (see docs/design.md). */
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
  readonly glueDatabase: string;
  readonly validatedTable: string;
  readonly curatedTable: string;
  readonly athenaWorkgroup: string;
  readonly athenaOutputLocation?: string;
  readonly expiryMonths: number;
  readonly asOfDate?: string;
  readonly queryWaitSafetyMs: number;
}

export const DEFAULT_PREFIXES = {
  rawPrefix: 'data/batch/',
  validatedPrefix: 'validated/',
  expiringPrefix: 'expiring/',
  quarantinePrefix: 'quarantine/',
  curatedPrefix: 'curated/facility_metrics/',
  resultsPrefix: 'results/state_counts/',
  productionPrefix: 'production/state_counts/',
  athenaResultsPrefix: 'athena-results/',
} as const;

function prefix(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const v = (env[name] ?? fallback).trim();
  if (v === '' || v.startsWith('/') || !v.endsWith('/')) {
    throw new ConfigError(`${name} must be a non-empty S3 prefix ending in '/' (got '${v}')`);
  }
  return v;
}

/** Reads and validates the configuration; throws ConfigError with a one-line reason. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: { requireBucket?: boolean } = {}): PipelineConfig {
  const bucket = env.DATA_BUCKET ?? '';
  if ((opts.requireBucket ?? true) && !bucket) throw new ConfigError('DATA_BUCKET is not set');
  const months = Number(env.EXPIRY_MONTHS ?? '6');
  if (!Number.isInteger(months) || months < 0 || months > 120) {
    throw new ConfigError(`EXPIRY_MONTHS must be an integer from 0 to 120 (got '${env.EXPIRY_MONTHS}')`);
  }
  const asOf = env.AS_OF_DATE?.trim() || undefined;
  if (asOf !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(asOf)) {
    throw new ConfigError(`AS_OF_DATE must be YYYY-MM-DD (got '${asOf}')`);
  }
  const safety = Number(env.QUERY_WAIT_SAFETY_MS ?? '10000');
  return {
    bucket,
    rawPrefix: prefix(env, 'RAW_PREFIX', DEFAULT_PREFIXES.rawPrefix),
    validatedPrefix: prefix(env, 'VALIDATED_PREFIX', DEFAULT_PREFIXES.validatedPrefix),
    expiringPrefix: prefix(env, 'EXPIRING_PREFIX', DEFAULT_PREFIXES.expiringPrefix),
    quarantinePrefix: prefix(env, 'QUARANTINE_PREFIX', DEFAULT_PREFIXES.quarantinePrefix),
    curatedPrefix: prefix(env, 'CURATED_PREFIX', DEFAULT_PREFIXES.curatedPrefix),
    resultsPrefix: prefix(env, 'RESULTS_PREFIX', DEFAULT_PREFIXES.resultsPrefix),
    productionPrefix: prefix(env, 'PRODUCTION_PREFIX', DEFAULT_PREFIXES.productionPrefix),
    athenaResultsPrefix: prefix(env, 'ATHENA_RESULTS_PREFIX', DEFAULT_PREFIXES.athenaResultsPrefix),
    glueDatabase: env.GLUE_DATABASE ?? 'medlaunch_elt',
    validatedTable: env.VALIDATED_TABLE ?? 'validated_facilities',
    curatedTable: env.CURATED_TABLE ?? 'facility_metrics',
    athenaWorkgroup: env.ATHENA_WORKGROUP ?? 'primary',
    athenaOutputLocation: env.ATHENA_OUTPUT_LOCATION || undefined,
    expiryMonths: months,
    asOfDate: asOf,
    queryWaitSafetyMs: Number.isFinite(safety) && safety >= 0 ? safety : 10000,
  };
}

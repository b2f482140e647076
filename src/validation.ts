import { Token } from 'aws-cdk-lib';
import type { PrefixName } from './contract';
import { LOG_LEVELS } from './pipeline/defaults';

/** The S3 prefixes of the pipeline, each ending in '/'. */
export interface PipelinePrefixes {
  readonly raw: string;
  readonly validated: string;
  readonly expiring: string;
  readonly quarantine: string;
  readonly curated: string;
  readonly results: string;
  readonly production: string;
  readonly athenaResults: string;
  /** The run reports (`reportsPrefix`). */
  readonly reports: string;
}

/** The prop of each prefix: the contract's prefix areas and the reports prefix (src/contract/observability.ts). */
export type PrefixPropName = PrefixName | 'reportsPrefix';

/** The prop (and contract name) of each prefix: its default in the contract, its name in error messages. */
export const PREFIX_PROP_NAMES: Readonly<Record<keyof PipelinePrefixes, PrefixPropName>> = {
  raw: 'rawPrefix',
  validated: 'validatedPrefix',
  expiring: 'expiringPrefix',
  quarantine: 'quarantinePrefix',
  curated: 'curatedPrefix',
  results: 'resultsPrefix',
  production: 'productionPrefix',
  athenaResults: 'athenaResultsPrefix',
  reports: 'reportsPrefix',
};

const PREFIX_RE = /^[A-Za-z0-9_.=/-]+$/;

/**
 * Checks every prefix: a literal (not a token), non-empty, ending with '/', without a leading '/',
 * no empty path segment, only S3 "safe" characters, and no prefix equal to or nested in another.
 */
export function validatePrefixes(prefixes: PipelinePrefixes): void {
  const entries = Object.entries(prefixes) as [keyof PipelinePrefixes, string][];
  for (const [k, v] of entries) {
    const prop = PREFIX_PROP_NAMES[k];
    if (Token.isUnresolved(v)) throw new Error(`${prop} must be a literal string, not a token`);
    if (v.length === 0) throw new Error(`${prop} must not be empty`);
    if (v.startsWith('/')) throw new Error(`${prop} must not start with '/' (got '${v}')`);
    if (!v.endsWith('/')) throw new Error(`${prop} must end with '/' (got '${v}')`);
    if (v.includes('//')) throw new Error(`${prop} must not contain an empty path segment '//' (got '${v}')`);
    if (!PREFIX_RE.test(v)) {
      throw new Error(`${prop} may only contain letters, digits and the characters _ . = / - (got '${v}')`);
    }
  }
  for (let i = 0; i < entries.length; i++) {
    for (let j = 0; j < entries.length; j++) {
      if (i === j) continue;
      const [ka, a] = entries[i];
      const [kb, b] = entries[j];
      if (a === b && i < j) {
        throw new Error(`${PREFIX_PROP_NAMES[ka]} and ${PREFIX_PROP_NAMES[kb]} must be distinct (both are '${a}')`);
      }
      if (a !== b && b.startsWith(a)) {
        throw new Error(`${PREFIX_PROP_NAMES[kb]} ('${b}') must not be nested in ${PREFIX_PROP_NAMES[ka]} ('${a}')`);
      }
    }
  }
}

/** An integer in [min, max]; `what` names the prop. */
export function validateInteger(what: string, value: number, min: number, max: number): number {
  if (Token.isUnresolved(value)) throw new Error(`${what} must be a literal number, not a token`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${what} must be an integer from ${min} to ${max} (got ${value})`);
  }
  return value;
}

/** Glue database name: lowercase letters, digits and '_' (Athena's rule), 1 to 255 characters. */
export function validateDatabaseName(name: string): string {
  if (Token.isUnresolved(name) || !/^[a-z0-9_]{1,255}$/.test(name)) {
    throw new Error(`databaseName must be 1-255 lowercase letters, digits or '_' (got '${name}')`);
  }
  return name;
}

/** Athena workgroup name: letters, digits, '.', '_' and '-', 1 to 128 characters. */
export function validateWorkGroupName(name: string): string {
  if (Token.isUnresolved(name) || !/^[a-zA-Z0-9._-]{1,128}$/.test(name)) {
    throw new Error(`workGroupName must be 1-128 letters, digits, '.', '_' or '-' (got '${name}')`);
  }
  return name;
}

/** Powertools log level. */
export function validateLogLevel(level: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`lambdaLogLevel must be one of ${LOG_LEVELS.join(', ')} (got '${level}')`);
  return level;
}

/** A plausible e-mail address (SNS confirms it). */
export function validateEmails(emails: readonly string[]): readonly string[] {
  for (const e of emails) {
    if (Token.isUnresolved(e)) continue;
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) throw new Error(`alarmEmails: '${e}' is not an e-mail address`);
  }
  if (new Set(emails).size !== emails.length) throw new Error('alarmEmails must not contain duplicates');
  return emails;
}

/** A number (not necessarily an integer) in [min, max]; `what` names the prop. */
export function validateNumber(what: string, value: number, min: number, max: number): number {
  if (Token.isUnresolved(value)) throw new Error(`${what} must be a literal number, not a token`);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${what} must be a number from ${min} to ${max} (got ${value})`);
  }
  return value;
}

/**
 * The record validator (SPEC §1): ajv compiles the one schema (src/schema/facility-record.ts) once per
 * process, and every ajv error is mapped to one machine-readable reason code. The rules come from the
 * schema; the only rule that needs context (the snapshot folder of the key) is checked here.
 */
import Ajv, { ErrorObject } from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';
import { FACILITY_RECORD_SCHEMA } from '../../src/schema/facility-record';
import { isCalendarDate } from '../lib/dates';

/** A valid facility record, typed from the schema. Unknown extra fields are allowed (and preserved). */
export type FacilityRecord = FromSchema<typeof FACILITY_RECORD_SCHEMA>;

/** Machine-readable reasons a line is quarantined (docs/semantics.md lists them). */
export const REASON_CODES = [
  'invalid_json',
  'invalid_utf8',
  'line_too_long',
  'not_an_object',
  'missing_field',
  'wrong_type',
  'not_an_integer',
  'invalid_pattern',
  'blank_value',
  'invalid_state',
  'invalid_value',
  'negative_value',
  'invalid_date',
  'snapshot_mismatch',
  'schema_violation',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface Reason {
  readonly code: ReasonCode;
  /** The field as a path (`location.zip`, `accreditations[1].valid_until`); '' for the whole line. */
  readonly field: string;
  readonly message: string;
}

export interface ValidationContext {
  /** The `<snapshot_date>` folder of the object's key, when it has one. */
  readonly folderSnapshotDate?: string;
}

export type ValidationResult = { ok: true; record: FacilityRecord } | { ok: false; reasons: Reason[] };

/** The pattern the schema uses for "not blank after trimming". */
const NOT_BLANK_PATTERN = '\\S';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: false });
ajv.addFormat('calendar-date', { type: 'string', validate: (s: string) => isCalendarDate(s) });
const compiled = ajv.compile(FACILITY_RECORD_SCHEMA);

/** `/accreditations/0/valid_until` → `accreditations[0].valid_until` */
function fieldPath(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'number with a fraction';
  return typeof value;
}

/** One ajv error → one reason. */
function reasonOf(e: ErrorObject, data: unknown): Reason {
  const field = fieldPath(e.instancePath);
  const value = e.instancePath === '' ? data : valueAt(data, e.instancePath);
  switch (e.keyword) {
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return { code: 'missing_field', field: fieldPath(e.instancePath, missing), message: `required field ${fieldPath(e.instancePath, missing)} is missing` };
    }
    case 'type': {
      const expected = (e.params as { type: string }).type;
      if (e.instancePath === '') return { code: 'not_an_object', field: '', message: `line is a JSON ${describe(value)}, not an object` };
      if (expected === 'integer' && typeof value === 'number') {
        return { code: 'not_an_integer', field, message: `${field} must be an integer (got ${JSON.stringify(value)})` };
      }
      return { code: 'wrong_type', field, message: `${field} must be ${expected === 'object' || expected === 'array' || expected === 'integer' ? 'an' : 'a'} ${expected} (got ${describe(value)})` };
    }
    case 'pattern': {
      const pattern = (e.params as { pattern: string }).pattern;
      if (pattern === NOT_BLANK_PATTERN) return { code: 'blank_value', field, message: `${field} must not be blank` };
      return { code: 'invalid_pattern', field, message: `${field} ${JSON.stringify(value)} does not match ${pattern}` };
    }
    case 'enum':
      if (/(^|\.)state$/.test(field)) return { code: 'invalid_state', field, message: `${field} ${JSON.stringify(value)} is not a USPS state or territory code` };
      return { code: 'invalid_value', field, message: `${field} ${JSON.stringify(value)} is not an allowed value` };
    case 'minimum':
    case 'exclusiveMinimum':
      return { code: 'negative_value', field, message: `${field} must be >= ${(e.params as { limit: number }).limit} (got ${JSON.stringify(value)})` };
    case 'format':
      return { code: 'invalid_date', field, message: `${field} ${JSON.stringify(value)} is not a calendar date YYYY-MM-DD` };
    default:
      return { code: 'schema_violation', field, message: `${field || 'record'} ${e.message ?? 'breaks the schema'}` };
  }
}

function valueAt(data: unknown, instancePath: string): unknown {
  let cur: unknown = data;
  for (const raw of instancePath.split('/').slice(1)) {
    const p = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/**
 * Validates a parsed JSON value against the record schema, plus the context rule that the record's
 * `snapshot_date` equals the `<snapshot_date>` folder of its key. Returns every broken rule.
 */
export function validateRecord(value: unknown, ctx: ValidationContext = {}): ValidationResult {
  const reasons: Reason[] = [];
  if (!compiled(value)) {
    const seen = new Set<string>();
    for (const e of compiled.errors ?? []) {
      const r = reasonOf(e, value);
      const id = `${r.code}|${r.field}`;
      if (!seen.has(id)) {
        seen.add(id);
        reasons.push(r);
      }
    }
  }
  const snapshot = value !== null && typeof value === 'object' ? (value as { snapshot_date?: unknown }).snapshot_date : undefined;
  if (ctx.folderSnapshotDate !== undefined && isCalendarDate(snapshot) && snapshot !== ctx.folderSnapshotDate) {
    reasons.push({
      code: 'snapshot_mismatch',
      field: 'snapshot_date',
      message: `snapshot_date ${snapshot} differs from the key's snapshot folder ${ctx.folderSnapshotDate}`,
    });
  }
  if (reasons.length > 0) return { ok: false, reasons };
  return { ok: true, record: value as FacilityRecord };
}

/**
 * The one definition of a facility record (docs/contract.md §1).
 *
 * Everything else derives from this object:
 * - the Glue table columns of the validated table (`glueColumnsFromSchema` in ./glue-columns),
 * - the runtime validator (lambda-src/schema: ajv compiles this JSON Schema),
 * - the TypeScript types (lambda-src/schema: `FromSchema<typeof FACILITY_RECORD_SCHEMA>`).
 *
 * Custom formats: `calendar-date` is a real calendar date `YYYY-MM-DD` (2025-02-30 is invalid).
 * Rules that need context (the snapshot folder of the key) live next to the validator.
 */

/** USPS codes of the 50 states, DC, PR, GU, VI, AS and MP. */
export const US_STATE_CODES = [
  'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'FL', 'GA',
  'HI', 'ID', 'IL', 'IN', 'IA', 'KS', 'KY', 'LA', 'ME', 'MD',
  'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ',
  'NM', 'NY', 'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC',
  'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV', 'WI', 'WY',
  'DC', 'PR', 'GU', 'VI', 'AS', 'MP',
] as const;

/**
 * The largest value of a Hive/Glue `int` column (2^31 − 1). An integer field whose schema bounds fit
 * in [−2^31, 2^31 − 1] becomes an `int` column (glue-columns.ts); a larger value in the data would
 * make the table's JSON SerDe fail the whole query, so the schema's `maximum` rejects it first.
 */
export const HIVE_INT_MAX = 2147483647;

/** Not blank after trimming: at least one non-whitespace character. */
const NOT_BLANK = '\\S';

export const FACILITY_RECORD_SCHEMA = {
  $id: 'https://medlaunch-elt.dev/schemas/facility-record.json',
  title: 'FacilityRecord',
  type: 'object',
  additionalProperties: true,
  required: ['facility_id', 'facility_name', 'location', 'employee_count', 'services', 'accreditations', 'snapshot_date'],
  properties: {
    facility_id: { type: 'string', pattern: '^FAC[0-9]+$' },
    facility_name: { type: 'string', pattern: NOT_BLANK },
    location: {
      type: 'object',
      additionalProperties: true,
      required: ['address', 'city', 'state', 'zip'],
      properties: {
        address: { type: 'string' },
        city: { type: 'string' },
        state: { type: 'string', enum: US_STATE_CODES },
        zip: { type: 'string', pattern: '^[0-9]{5}(-[0-9]{4})?$' },
      },
    },
    employee_count: { type: 'integer', minimum: 0, maximum: HIVE_INT_MAX },
    services: { type: 'array', items: { type: 'string' } },
    labs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        required: ['lab_name', 'certifications'],
        properties: {
          lab_name: { type: 'string' },
          certifications: { type: 'array', items: { type: 'string' } },
        },
      },
    },
    accreditations: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        required: ['accreditation_body', 'accreditation_id', 'valid_until'],
        properties: {
          accreditation_body: { type: 'string', pattern: NOT_BLANK },
          accreditation_id: { type: 'string' },
          valid_until: { type: 'string', format: 'calendar-date' },
        },
      },
    },
    snapshot_date: { type: 'string', format: 'calendar-date' },
  },
} as const;

/** The record fields in schema order (the order of the Glue columns). */
export const FACILITY_RECORD_FIELDS = Object.keys(FACILITY_RECORD_SCHEMA.properties) as Array<
  keyof typeof FACILITY_RECORD_SCHEMA.properties
>;

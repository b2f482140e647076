import { validateRecord } from '../../lambda-src/schema';

const base = () => ({
  facility_id: 'FAC00001',
  facility_name: 'Mercy General',
  location: { address: '1 Main St', city: 'Detroit', state: 'MI', zip: '48201' },
  employee_count: 120,
  services: ['Emergency', 'Radiology'],
  labs: [{ lab_name: 'Core Lab', certifications: ['CLIA'] }],
  accreditations: [{ accreditation_body: 'The Joint Commission', accreditation_id: 'JC-1', valid_until: '2026-01-15' }],
  snapshot_date: '2025-08-10',
});

type Rec = ReturnType<typeof base> & Record<string, any>;
const edit = (f: (r: Rec) => void): unknown => {
  const r = base() as Rec;
  f(r);
  return r;
};

describe('validateRecord: every invalid kind of docs/contract.md §1 gives its reason code', () => {
  const cases: Array<[string, unknown, string, string]> = [
    ['not an object (array)', [1, 2], 'not_an_object', ''],
    ['not an object (string)', 'FAC1', 'not_an_object', ''],
    ['not an object (null)', null, 'not_an_object', ''],
    ['missing facility_id', edit((r) => delete (r as any).facility_id), 'missing_field', 'facility_id'],
    ['facility_id pattern', edit((r) => { r.facility_id = 'FACX1'; }), 'invalid_pattern', 'facility_id'],
    ['facility_id lower case', edit((r) => { r.facility_id = 'fac001'; }), 'invalid_pattern', 'facility_id'],
    ['facility_id number', edit((r) => { (r as any).facility_id = 1; }), 'wrong_type', 'facility_id'],
    ['blank facility_name', edit((r) => { r.facility_name = ' \t '; }), 'blank_value', 'facility_name'],
    ['empty facility_name', edit((r) => { r.facility_name = ''; }), 'blank_value', 'facility_name'],
    ['missing location', edit((r) => delete (r as any).location), 'missing_field', 'location'],
    ['location not an object', edit((r) => { (r as any).location = 'Detroit'; }), 'wrong_type', 'location'],
    ['missing location.state', edit((r) => delete (r as any).location.state), 'missing_field', 'location.state'],
    ['unknown state', edit((r) => { r.location.state = 'ZZ'; }), 'invalid_state', 'location.state'],
    ['lower-case state', edit((r) => { r.location.state = 'mi'; }), 'invalid_state', 'location.state'],
    ['bad zip', edit((r) => { r.location.zip = '4820'; }), 'invalid_pattern', 'location.zip'],
    ['zip+4 malformed', edit((r) => { r.location.zip = '48201-12'; }), 'invalid_pattern', 'location.zip'],
    ['zip as number', edit((r) => { (r as any).location.zip = 48201; }), 'wrong_type', 'location.zip'],
    ['missing city', edit((r) => delete (r as any).location.city), 'missing_field', 'location.city'],
    ['negative employee_count', edit((r) => { r.employee_count = -1; }), 'negative_value', 'employee_count'],
    ['fractional employee_count', edit((r) => { r.employee_count = 12.5; }), 'not_an_integer', 'employee_count'],
    ['string employee_count', edit((r) => { (r as any).employee_count = '12'; }), 'wrong_type', 'employee_count'],
    ['null employee_count', edit((r) => { (r as any).employee_count = null; }), 'wrong_type', 'employee_count'],
    ['missing services', edit((r) => delete (r as any).services), 'missing_field', 'services'],
    ['services not an array', edit((r) => { (r as any).services = 'Emergency'; }), 'wrong_type', 'services'],
    ['services item not a string', edit((r) => { (r as any).services = ['a', 3]; }), 'wrong_type', 'services[1]'],
    ['labs not an array', edit((r) => { (r as any).labs = {}; }), 'wrong_type', 'labs'],
    ['lab without certifications', edit((r) => { (r as any).labs = [{ lab_name: 'x' }]; }), 'missing_field', 'labs[0].certifications'],
    ['missing accreditations', edit((r) => delete (r as any).accreditations), 'missing_field', 'accreditations'],
    ['accreditations not an array', edit((r) => { (r as any).accreditations = {}; }), 'wrong_type', 'accreditations'],
    ['impossible valid_until', edit((r) => { r.accreditations[0].valid_until = '2025-02-30'; }), 'invalid_date', 'accreditations[0].valid_until'],
    ['non-leap Feb 29', edit((r) => { r.accreditations[0].valid_until = '2023-02-29'; }), 'invalid_date', 'accreditations[0].valid_until'],
    ['valid_until with time', edit((r) => { r.accreditations[0].valid_until = '2026-01-15T00:00:00Z'; }), 'invalid_date', 'accreditations[0].valid_until'],
    ['valid_until US format', edit((r) => { r.accreditations[0].valid_until = '01/15/2026'; }), 'invalid_date', 'accreditations[0].valid_until'],
    ['blank accreditation_body', edit((r) => { r.accreditations[0].accreditation_body = '  '; }), 'blank_value', 'accreditations[0].accreditation_body'],
    ['missing accreditation_id', edit((r) => delete (r as any).accreditations[0].accreditation_id), 'missing_field', 'accreditations[0].accreditation_id'],
    ['missing snapshot_date', edit((r) => delete (r as any).snapshot_date), 'missing_field', 'snapshot_date'],
    ['impossible snapshot_date', edit((r) => { r.snapshot_date = '2025-13-01'; }), 'invalid_date', 'snapshot_date'],
  ];

  test.each(cases.map(([n, v, c, f]) => [n, c, f, v] as const))('%s → %s at "%s"', (_name, code, field, value) => {
    const r = validateRecord(value);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reasons[0]).toMatchObject({ code, field });
    expect(typeof r.reasons[0].message).toBe('string');
  });

  test('snapshot_date different from the key folder → snapshot_mismatch', () => {
    const r = validateRecord(base(), { folderSnapshotDate: '2025-08-11' });
    expect(r).toEqual({ ok: false, reasons: [expect.objectContaining({ code: 'snapshot_mismatch', field: 'snapshot_date' })] });
    expect(validateRecord(base(), { folderSnapshotDate: '2025-08-10' }).ok).toBe(true);
  });

  test('every broken rule is reported, one reason each', () => {
    const r = validateRecord(edit((x) => {
      x.facility_id = 'X';
      x.employee_count = -3;
      x.location.state = 'QQ';
    }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reasons.map((x) => x.code).sort()).toEqual(['invalid_pattern', 'invalid_state', 'negative_value']);
  });
});

describe('validateRecord: valid edge cases', () => {
  const cases: Array<[string, unknown]> = [
    ['the base record', base()],
    ['labs absent', edit((r) => delete (r as any).labs)],
    ['empty services and accreditations', edit((r) => { r.services = []; r.accreditations = []; })],
    ['zero employees', edit((r) => { r.employee_count = 0; })],
    ['zip+4', edit((r) => { r.location.zip = '48201-1234'; })],
    ['Puerto Rico', edit((r) => { r.location.state = 'PR'; })],
    ['Guam', edit((r) => { r.location.state = 'GU'; })],
    ['DC', edit((r) => { r.location.state = 'DC'; })],
    ['leap day', edit((r) => { r.accreditations[0].valid_until = '2024-02-29'; })],
    ['extra fields', edit((r) => { r.extra = { nested: true }; (r.location as Record<string, unknown>).county = 'Wayne'; })],
  ];
  test.each(cases)('%s is valid', (_name, value) => {
    const r = validateRecord(value, { folderSnapshotDate: '2025-08-10' });
    expect(r).toEqual({ ok: true, record: value });
  });

  test('extra fields are preserved on the returned record', () => {
    const v = edit((r) => { r.custom_field = 42; });
    const r = validateRecord(v);
    expect(r.ok && (r.record as Record<string, unknown>).custom_field).toBe(42);
  });
});

describe('the generated standalone validator', () => {
  test('is up to date with src/schema/facility-record.ts (else run `npx projen gen:validator`)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { generateValidatorSource, GENERATED_PATH } = require('../../scripts/generate-validator');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require('node:fs').readFileSync(GENERATED_PATH, 'utf8')).toBe(generateValidatorSource());
  });
});

/**
 * A valid facility record (docs/contract.md §1) for tests: one accreditation per entry of
 * `validUntil`; `extra` overrides or adds fields (e.g. to make the record invalid on purpose).
 */
export function record(id: string, snapshot: string, validUntil: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    facility_id: id,
    facility_name: `Facility ${id}`,
    location: { address: '1 Main St', city: 'Detroit', state: 'MI', zip: '48201' },
    employee_count: 10,
    services: ['Radiology'],
    accreditations: validUntil.map((v, i) => ({ accreditation_body: 'The Joint Commission', accreditation_id: `A${i}`, valid_until: v })),
    snapshot_date: snapshot,
    ...extra,
  };
}

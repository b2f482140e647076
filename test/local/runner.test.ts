import { facilityIdOf } from '../../local/runner';

describe('facilityIdOf (reading the expiring outputs back)', () => {
  test('reads the id off a line that starts with it, exactly as JSON.parse would', () => {
    const line = '{"facility_id":"FAC00012","facility_name":"A","labs":[]}';
    expect(facilityIdOf(line)).toBe('FAC00012');
    expect(facilityIdOf(line)).toBe(JSON.parse(line).facility_id);
  });

  test.each([
    ['id not first', '{"facility_name":"A","facility_id":"FAC1"}', 'FAC1'],
    ['whitespace', '{ "facility_id" : "FAC2" }', 'FAC2'],
    ['escaped character in the id', '{"facility_id":"FAC\\u0033"}', 'FAC3'],
    ['duplicate key: the last wins', '{"facility_id":"FAC4","x":1,"facility_id":"FAC5"}', 'FAC5'],
    ['escaped duplicate key', '{"facility_id":"FAC6","facility\\u005fid":"FAC7"}', 'FAC7'],
    ['the key text inside a string', '{"facility_id":"FAC8","note":"a \\"facility_id\\" b"}', 'FAC8'],
  ])('falls back to JSON.parse when the shortcut could be wrong: %s', (_name, line, id) => {
    expect(facilityIdOf(line)).toBe(id);
    expect(facilityIdOf(line)).toBe(JSON.parse(line).facility_id);
  });
});

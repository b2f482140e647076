/**
 * Compact reference tables for the synthetic data generator.
 *
 * CITIES: real US cities with one real ZIP code each (a downtown / city-hall ZIP), covering the
 * 50 states and DC, several cities for the populous states. A generated record always takes its
 * city, state and zip from one row, so the three are consistent.
 */

/** [city, USPS state code, 5-digit ZIP] */
export type CityRow = readonly [city: string, state: string, zip: string];

export const CITIES: readonly CityRow[] = [
  ['Birmingham', 'AL', '35203'], ['Montgomery', 'AL', '36104'], ['Mobile', 'AL', '36602'], ['Huntsville', 'AL', '35801'],
  ['Anchorage', 'AK', '99501'], ['Fairbanks', 'AK', '99701'], ['Juneau', 'AK', '99801'],
  ['Phoenix', 'AZ', '85004'], ['Tucson', 'AZ', '85701'], ['Mesa', 'AZ', '85201'], ['Flagstaff', 'AZ', '86001'],
  ['Little Rock', 'AR', '72201'], ['Fayetteville', 'AR', '72701'], ['Fort Smith', 'AR', '72901'],
  ['Los Angeles', 'CA', '90012'], ['San Francisco', 'CA', '94102'], ['San Diego', 'CA', '92101'],
  ['Sacramento', 'CA', '95814'], ['San Jose', 'CA', '95113'], ['Fresno', 'CA', '93721'], ['Oakland', 'CA', '94612'],
  ['Denver', 'CO', '80202'], ['Colorado Springs', 'CO', '80903'], ['Boulder', 'CO', '80302'], ['Fort Collins', 'CO', '80521'],
  ['Hartford', 'CT', '06103'], ['New Haven', 'CT', '06510'], ['Bridgeport', 'CT', '06604'], ['Stamford', 'CT', '06901'],
  ['Wilmington', 'DE', '19801'], ['Dover', 'DE', '19901'], ['Newark', 'DE', '19711'],
  ['Washington', 'DC', '20001'],
  ['Miami', 'FL', '33130'], ['Orlando', 'FL', '32801'], ['Tampa', 'FL', '33602'], ['Jacksonville', 'FL', '32202'],
  ['Tallahassee', 'FL', '32301'], ['Gainesville', 'FL', '32601'],
  ['Atlanta', 'GA', '30303'], ['Savannah', 'GA', '31401'], ['Augusta', 'GA', '30901'], ['Macon', 'GA', '31201'],
  ['Honolulu', 'HI', '96813'], ['Hilo', 'HI', '96720'], ['Kailua', 'HI', '96734'],
  ['Boise', 'ID', '83702'], ['Idaho Falls', 'ID', '83402'], ["Coeur d'Alene", 'ID', '83814'],
  ['Chicago', 'IL', '60602'], ['Springfield', 'IL', '62701'], ['Peoria', 'IL', '61602'], ['Rockford', 'IL', '61101'],
  ['Naperville', 'IL', '60540'],
  ['Indianapolis', 'IN', '46204'], ['Fort Wayne', 'IN', '46802'], ['Evansville', 'IN', '47708'], ['South Bend', 'IN', '46601'],
  ['Des Moines', 'IA', '50309'], ['Cedar Rapids', 'IA', '52401'], ['Iowa City', 'IA', '52240'],
  ['Wichita', 'KS', '67202'], ['Topeka', 'KS', '66603'], ['Kansas City', 'KS', '66101'],
  ['Louisville', 'KY', '40202'], ['Lexington', 'KY', '40507'], ['Bowling Green', 'KY', '42101'],
  ['New Orleans', 'LA', '70112'], ['Baton Rouge', 'LA', '70801'], ['Shreveport', 'LA', '71101'],
  ['Portland', 'ME', '04101'], ['Bangor', 'ME', '04401'], ['Augusta', 'ME', '04330'],
  ['Baltimore', 'MD', '21202'], ['Annapolis', 'MD', '21401'], ['Rockville', 'MD', '20850'], ['Frederick', 'MD', '21701'],
  ['Boston', 'MA', '02108'], ['Worcester', 'MA', '01608'], ['Springfield', 'MA', '01103'], ['Cambridge', 'MA', '02139'],
  ['Detroit', 'MI', '48226'], ['Grand Rapids', 'MI', '49503'], ['Lansing', 'MI', '48933'], ['Ann Arbor', 'MI', '48104'],
  ['Flint', 'MI', '48502'],
  ['Minneapolis', 'MN', '55401'], ['Saint Paul', 'MN', '55102'], ['Rochester', 'MN', '55902'], ['Duluth', 'MN', '55802'],
  ['Jackson', 'MS', '39201'], ['Gulfport', 'MS', '39501'], ['Hattiesburg', 'MS', '39401'],
  ['Kansas City', 'MO', '64106'], ['St. Louis', 'MO', '63101'], ['Springfield', 'MO', '65806'], ['Columbia', 'MO', '65201'],
  ['Billings', 'MT', '59101'], ['Missoula', 'MT', '59802'], ['Helena', 'MT', '59601'],
  ['Omaha', 'NE', '68102'], ['Lincoln', 'NE', '68508'],
  ['Las Vegas', 'NV', '89101'], ['Reno', 'NV', '89501'], ['Henderson', 'NV', '89015'],
  ['Manchester', 'NH', '03101'], ['Concord', 'NH', '03301'], ['Nashua', 'NH', '03060'],
  ['Newark', 'NJ', '07102'], ['Trenton', 'NJ', '08608'], ['Jersey City', 'NJ', '07302'], ['Camden', 'NJ', '08102'],
  ['Albuquerque', 'NM', '87102'], ['Santa Fe', 'NM', '87501'], ['Las Cruces', 'NM', '88001'],
  ['New York', 'NY', '10007'], ['Buffalo', 'NY', '14202'], ['Rochester', 'NY', '14604'], ['Albany', 'NY', '12207'],
  ['Syracuse', 'NY', '13202'],
  ['Charlotte', 'NC', '28202'], ['Raleigh', 'NC', '27601'], ['Durham', 'NC', '27701'], ['Greensboro', 'NC', '27401'],
  ['Asheville', 'NC', '28801'],
  ['Fargo', 'ND', '58102'], ['Bismarck', 'ND', '58501'],
  ['Columbus', 'OH', '43215'], ['Cleveland', 'OH', '44114'], ['Cincinnati', 'OH', '45202'], ['Toledo', 'OH', '43604'],
  ['Akron', 'OH', '44308'], ['Dayton', 'OH', '45402'],
  ['Oklahoma City', 'OK', '73102'], ['Tulsa', 'OK', '74103'], ['Norman', 'OK', '73069'],
  ['Portland', 'OR', '97204'], ['Eugene', 'OR', '97401'], ['Salem', 'OR', '97301'],
  ['Philadelphia', 'PA', '19107'], ['Pittsburgh', 'PA', '15222'], ['Harrisburg', 'PA', '17101'], ['Allentown', 'PA', '18101'],
  ['Erie', 'PA', '16501'],
  ['Providence', 'RI', '02903'], ['Warwick', 'RI', '02886'],
  ['Columbia', 'SC', '29201'], ['Charleston', 'SC', '29401'], ['Greenville', 'SC', '29601'],
  ['Sioux Falls', 'SD', '57104'], ['Rapid City', 'SD', '57701'],
  ['Nashville', 'TN', '37219'], ['Memphis', 'TN', '38103'], ['Knoxville', 'TN', '37902'], ['Chattanooga', 'TN', '37402'],
  ['Houston', 'TX', '77002'], ['Dallas', 'TX', '75201'], ['San Antonio', 'TX', '78205'], ['Austin', 'TX', '78701'],
  ['Fort Worth', 'TX', '76102'], ['El Paso', 'TX', '79901'], ['Lubbock', 'TX', '79401'],
  ['Salt Lake City', 'UT', '84111'], ['Provo', 'UT', '84601'], ['Ogden', 'UT', '84401'],
  ['Burlington', 'VT', '05401'], ['Montpelier', 'VT', '05602'],
  ['Richmond', 'VA', '23219'], ['Norfolk', 'VA', '23510'], ['Virginia Beach', 'VA', '23451'], ['Roanoke', 'VA', '24011'],
  ['Charlottesville', 'VA', '22902'],
  ['Seattle', 'WA', '98101'], ['Spokane', 'WA', '99201'], ['Tacoma', 'WA', '98402'], ['Olympia', 'WA', '98501'],
  ['Charleston', 'WV', '25301'], ['Morgantown', 'WV', '26505'], ['Huntington', 'WV', '25701'],
  ['Milwaukee', 'WI', '53202'], ['Madison', 'WI', '53703'], ['Green Bay', 'WI', '54301'],
  ['Cheyenne', 'WY', '82001'], ['Casper', 'WY', '82601'],
];

export const STREET_NAMES = [
  'Main', 'Oak', 'Maple', 'Cedar', 'Pine', 'Elm', 'Washington', 'Lincoln', 'Jefferson', 'Madison',
  'Park', 'Lake', 'Hill', 'River', 'Church', 'Market', 'Broad', 'Spring', 'Highland', 'Sunset',
  'College', 'University', 'Hospital', 'Medical Center', 'Franklin', 'Grant', 'Jackson', 'Walnut',
  'Chestnut', 'Willow', 'Center', 'Front', 'Union', 'Prospect', 'Ridge', 'Meadow',
] as const;

export const STREET_SUFFIXES = ['St', 'Ave', 'Blvd', 'Rd', 'Dr', 'Pkwy', 'Ln', 'Way', 'Ct', 'Pl'] as const;

/** Real accrediting organizations (name as it appears in `accreditation_body`) with an id prefix. */
export const ACCREDITATION_BODIES = {
  TJC: 'The Joint Commission',
  DNV: 'DNV',
  NCQA: 'NCQA',
  AAAHC: 'AAAHC',
  CARF: 'CARF',
  ACHC: 'ACHC',
  CIHQ: 'CIHQ',
} as const;
export type BodyCode = keyof typeof ACCREDITATION_BODIES;

export const LAB_CERTIFICATIONS = ['CLIA', 'CAP', 'COLA'] as const;

export const SAINTS = [
  'Mary', 'Joseph', 'Luke', 'Vincent', 'Francis', 'Anthony', 'Elizabeth', 'John', 'Catherine',
  'Michael', 'Jude', 'Agnes', 'Clare', 'Patrick', 'Margaret', 'Thomas',
] as const;

export const NAME_PREFIXES = [
  'Mercy', 'Providence', 'Good Samaritan', 'Memorial', 'Baptist', 'Methodist', 'Presbyterian',
  'Lakeside', 'Riverside', 'Valley', 'Summit', 'Northside', 'Southside', 'Westview', 'Eastwood',
  'Pinecrest', 'Harbor', 'Cedar Ridge', 'Sunrise', 'Heritage',
] as const;

/**
 * Facility types: how names are formed, typical services, labs, accrediting bodies and staff size.
 * `names` patterns: `{city}`, `{saint}` and `{prefix}` are substituted.
 */
export interface FacilityType {
  readonly names: readonly string[];
  readonly services: readonly string[];
  readonly labNames: readonly string[];
  /** Probability that the facility runs at least one lab. */
  readonly labChance: number;
  readonly bodies: readonly BodyCode[];
  readonly employees: readonly [min: number, max: number];
  /** Relative frequency of the type. */
  readonly weight: number;
}

export const FACILITY_TYPES: readonly FacilityType[] = [
  {
    names: ['{city} Regional Medical Center', 'St. {saint} Hospital', 'St. {saint} Medical Center',
      '{prefix} Hospital', '{prefix} Medical Center', '{city} General Hospital', '{city} Community Hospital'],
    services: ['Emergency Care', 'Inpatient Surgery', 'Cardiology', 'Oncology', 'Radiology', 'Orthopedics',
      'Obstetrics', 'Neurology', 'Intensive Care', 'Laboratory Services', 'Pediatrics', 'Stroke Care'],
    labNames: ['Clinical Laboratory', 'Pathology Laboratory', 'Microbiology Lab', 'Core Lab', 'Blood Bank'],
    labChance: 0.9,
    bodies: ['TJC', 'DNV', 'CIHQ'],
    employees: [250, 6500],
    weight: 4,
  },
  {
    names: ['{city} Surgery Center', '{prefix} Ambulatory Surgery Center', '{prefix} Surgical Center',
      '{city} Outpatient Surgery Center'],
    services: ['Outpatient Surgery', 'Orthopedics', 'Ophthalmology', 'Gastroenterology', 'Pain Management',
      'Anesthesia', 'Endoscopy', 'Plastic Surgery'],
    labNames: ['Surgical Pathology Lab', 'Point-of-Care Lab'],
    labChance: 0.4,
    bodies: ['AAAHC', 'TJC'],
    employees: [20, 160],
    weight: 3,
  },
  {
    names: ['{city} Community Health Clinic', '{prefix} Family Health Center', '{prefix} Primary Care Clinic',
      '{city} Medical Group', '{prefix} Urgent Care'],
    services: ['Primary Care', 'Urgent Care', 'Pediatrics', "Women's Health", 'Vaccinations', 'Telehealth',
      'Chronic Care Management', 'Laboratory Services', 'Dental Care'],
    labNames: ['Clinic Laboratory', 'Point-of-Care Lab'],
    labChance: 0.5,
    bodies: ['NCQA', 'AAAHC', 'TJC'],
    employees: [8, 120],
    weight: 3,
  },
  {
    names: ['{prefix} Behavioral Health', '{city} Behavioral Health Center', '{prefix} Recovery Center',
      '{city} Psychiatric Hospital'],
    services: ['Behavioral Health', 'Substance Use Treatment', 'Inpatient Psychiatry', 'Outpatient Counseling',
      'Telehealth', 'Crisis Stabilization', 'Medication-Assisted Treatment'],
    labNames: ['Toxicology Lab'],
    labChance: 0.3,
    bodies: ['CARF', 'TJC', 'CIHQ'],
    employees: [25, 400],
    weight: 2,
  },
  {
    names: ['{prefix} Rehabilitation Hospital', '{city} Rehabilitation Institute', '{prefix} Skilled Nursing Center'],
    services: ['Physical Therapy', 'Occupational Therapy', 'Speech Therapy', 'Inpatient Rehabilitation',
      'Skilled Nursing', 'Wound Care', 'Cardiac Rehabilitation'],
    labNames: ['Clinical Laboratory'],
    labChance: 0.4,
    bodies: ['CARF', 'TJC', 'DNV'],
    employees: [60, 500],
    weight: 2,
  },
  {
    names: ['{prefix} Home Health', '{city} Home Care Services', '{prefix} Hospice', '{city} Infusion Pharmacy'],
    services: ['Home Health', 'Hospice', 'Palliative Care', 'Infusion Therapy', 'Durable Medical Equipment',
      'Skilled Nursing', 'Specialty Pharmacy'],
    labNames: ['Point-of-Care Lab'],
    labChance: 0.15,
    bodies: ['ACHC', 'TJC', 'CIHQ'],
    employees: [10, 300],
    weight: 2,
  },
];

/**
 * The project's SQL (lambda-src/sql/*.sql): checked against Trino's grammar (dt-sql-parser) and run
 * on the local Athena's Trino → DuckDB compatibility layer with known inputs and exact results.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, QueryExecution, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { buildSync } from 'esbuild';
import { validatedTable } from './engine-helpers';
import { loadSql, SqlName } from '../../lambda-src/sql';
import { LocalAthena, GlueTableInput, COMPAT_MACROS, SESSION_SETTINGS, transpile } from '../../local/athena';
import { parseUnload, substituteParameters } from '../../local/athena/engine/sql-text';
import { LocalS3 } from '../../local/s3';

jest.setTimeout(120_000);

const SQL_DIR = join(__dirname, '..', '..', 'lambda-src', 'sql');
const SQL_FILES = readdirSync(SQL_DIR).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '') as SqlName).sort();

interface TrinoValidator { validate(sql: string): Array<{ message: string }> }

/** dt-sql-parser ships extensionless ESM: load it through an esbuild bundle. */
function trinoParser(): TrinoValidator {
  const out = join(mkdtempSync(join(tmpdir(), 'dt-sql-parser-')), 'bundle.cjs');
  buildSync({
    stdin: { contents: 'export { TrinoSQL } from \'dt-sql-parser\';', resolveDir: join(__dirname, '..', '..') },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: out,
    logLevel: 'silent',
  });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { TrinoSQL } = require(out) as { TrinoSQL: new () => TrinoValidator };
  return new TrinoSQL();
}

describe('Trino grammar (dt-sql-parser)', () => {
  let parser: TrinoValidator;
  beforeAll(() => { parser = trinoParser(); });

  test('the validator rejects DuckDB-only syntax (so the checks below can fail)', () => {
    expect(parser.validate('SELECT x::int FROM t').length).toBeGreaterThan(0);
    expect(parser.validate('SELECT CAST(x AS integer) FROM t')).toEqual([]);
  });

  test.each(SQL_FILES)('%s.sql is valid Trino SQL (an UNLOAD\'s inner SELECT checked on its own)', (name) => {
    const sql = loadSql(name);
    if (/^\s*(--[^\n]*\n\s*)*UNLOAD\b/i.test(sql)) {
      const stmt = parseUnload(sql);
      expect(stmt.location).toBe('{{output_location}}');
      expect(stmt.properties).toMatchObject({ format: 'PARQUET', compression: 'SNAPPY' });
      expect(parser.validate(stmt.query)).toEqual([]);
    } else {
      expect(parser.validate(sql)).toEqual([]);
    }
  });
});

describe('compatibility layer (DuckDB with the macros)', () => {
  let db: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    db = await DuckDBInstance.create(':memory:');
    conn = await db.connect();
    for (const s of [...SESSION_SETTINGS, ...COMPAT_MACROS]) await conn.run(s);
  });
  afterAll(() => { conn.closeSync(); db.closeSync(); });

  async function one(trino: string): Promise<{ value: unknown; type: string }> {
    const r = await conn.runAndReadAll(transpile(trino));
    return { value: r.getRowsJson()[0][0], type: r.columnTypes()[0].toString() };
  }

  test.each([
    ['date_add(\'month\', 6, DATE \'2025-08-31\')', '2026-02-28', 'DATE'],
    ['date_add(\'month\', 6, DATE \'2023-08-31\')', '2024-02-29', 'DATE'],
    ['date_add(\'month\', -6, DATE \'2025-08-31\')', '2025-02-28', 'DATE'],
    ['date_add(\'day\', 1, DATE \'2024-02-28\')', '2024-02-29', 'DATE'],
    ['date_add(\'year\', 1, DATE \'2024-02-29\')', '2025-02-28', 'DATE'],
    ['date_add(\'hour\', 2, TIMESTAMP \'2025-01-01 23:00:00\')', '2025-01-02 01:00:00', 'TIMESTAMP'],
    ['date_add(DATE \'2025-08-31\', INTERVAL 6 MONTH)', '2026-02-28 00:00:00', 'TIMESTAMP'],
    ['DATE \'2025-08-31\' + INTERVAL \'6\' MONTH', '2026-02-28', 'DATE'],
    ['from_iso8601_date(\'2025-08-31\') - INTERVAL \'1\' DAY', '2025-08-30', 'DATE'],
    ['date_diff(\'day\', DATE \'2025-01-01\', DATE \'2025-03-01\')', '59', 'BIGINT'],
    // Whole months elapsed (Trino), not month boundaries crossed (DuckDB's date_diff would say 1).
    ['date_diff(\'month\', DATE \'2025-01-15\', DATE \'2025-02-14\')', '0', 'BIGINT'],
    ['CAST(ROW(1, \'a\') AS ROW(x integer, y varchar(3)))', { x: 1, y: 'a' }, 'STRUCT("x" INTEGER, "y" VARCHAR)'],
    ['CAST(ARRAY[1.5e0] AS ARRAY(real))', [1.5], 'FLOAT[]'],
    ['7 / 2', 3, 'INTEGER'],
    ['7.0 / 2', 3.5, 'DOUBLE'],
    ['cardinality(ARRAY[\'a\', \'b\'])', '2', 'BIGINT'],
    ['element_at(ARRAY[1, 2], 3)', null, 'INTEGER'],
    ['element_at(ARRAY[1, 2], -1)', 2, 'INTEGER'],
    ['any_match(ARRAY[1, 5], x -> x > 4)', true, 'BOOLEAN'],
    ['any_match(CAST(ARRAY[] AS ARRAY(integer)), x -> x > 4)', false, 'BOOLEAN'],
    ['all_match(ARRAY[1, 5], x -> x > 0)', true, 'BOOLEAN'],
    ['array_min(transform(ARRAY[\'2025-02-01\', \'2025-01-31\'], s -> from_iso8601_date(s)))', '2025-01-31', 'DATE'],
    ['date_parse(\'2025/08/31 13:05\', \'%Y/%m/%d %H:%i\')', '2025-08-31 13:05:00', 'TIMESTAMP'],
    ['date_format(TIMESTAMP \'2025-08-31 13:05:00\', \'%Y-%m-%d %H:%i:%s\')', '2025-08-31 13:05:00', 'VARCHAR'],
    ['TRY(CAST(\'x\' AS integer))', null, 'INTEGER'],
    ['TRY_CAST(\'12\' AS integer)', 12, 'INTEGER'],
    ['\'cardinality(x) + INTERVAL \'\'1\'\' DAY\'', 'cardinality(x) + INTERVAL \'1\' DAY', 'VARCHAR'],
    ['regexp_like(\'FAC12\', \'^FAC[0-9]+$\')', true, 'BOOLEAN'],
  ])('%s', async (trino, value, type) => {
    const got = await one(`SELECT ${trino}`);
    expect(got).toEqual({ value, type });
  });

  test('Trino type constructors inside CAST are translated', () => {
    expect(transpile('CAST(x AS ARRAY(ROW(a integer, "b c" MAP(varchar, real))))')).toBe('CAST(x AS STRUCT(a integer, "b c" MAP(varchar, FLOAT))[])');
  });

  test('aggregate FILTER (WHERE …) is not mistaken for the filter() function', async () => {
    const r = await conn.runAndReadAll(transpile('SELECT count(*) FILTER (WHERE x > 1) AS n FROM (VALUES (1), (2), (3)) AS t(x)'));
    expect(r.getRowsJson()).toEqual([['2']]);
  });

  test('parameters are substituted as SQL text before translation', () => {
    expect(substituteParameters('SELECT ? /* ? */, \'?\'', ['DATE \'2025-01-01\''])).toBe('SELECT DATE \'2025-01-01\' /* ? */, \'?\'');
    expect(() => substituteParameters('SELECT ?', [])).toThrow(/expected 1 but found 0/);
  });
});

// ------------------------------------------------------------------ every SQL file on known inputs

interface Acc { body?: string; until: string }
function rec(id: string, state: string, accs: Acc[], snapshot: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    facility_id: id,
    facility_name: `Facility ${id}`,
    location: { address: '1 Main St', city: 'Town', state, zip: '48201' },
    employee_count: 10,
    services: ['ER', 'ICU', 'Lab'],
    labs: [{ lab_name: 'Core', certifications: ['CLIA'] }],
    accreditations: accs.map((a, i) => ({ accreditation_body: a.body ?? 'JC', accreditation_id: `A-${id}-${i}`, valid_until: a.until })),
    snapshot_date: snapshot,
    ...extra,
  });
}

const SNAP = '2025-08-31';

const TABLE: GlueTableInput = validatedTable();

describe('every lambda-src/sql file on the compatibility layer', () => {
  let root: string;
  let s3: LocalS3;
  let athena: LocalAthena;
  let client: AthenaClient;
  let duck: DuckDBInstance;
  let conn: DuckDBConnection;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sql-test-'));
    // The project's LocalS3 (objects at <root>/<bucket>/<key>), which the results and UNLOAD files go through.
    s3 = await LocalS3.start({ rootDir: root });
    await s3.createBucket('data');
    athena = await LocalAthena.start({
      s3: { endpoint: s3.endpoint, rootDir: root },
      workDir: join(root, '.athena'),
    });
    athena.registerTable('medlaunch', TABLE);
    athena.registerWorkGroup('wg', { outputLocation: 's3://data/athena-results/', enforce: true });
    client = new AthenaClient({ endpoint: athena.endpoint, region: 'us-east-1', credentials: { accessKeyId: 't', secretAccessKey: 't' } });
    duck = await DuckDBInstance.create(':memory:');
    conn = await duck.connect();

    const put = (key: string, lines: string[]): void => {
      const file = join(root, 'data', key);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, lines.join('\n') + '\n');
    };
    put(`validated/snapshot_date=${SNAP}/a.jsonl`, [
      // valid_until equal to the as-of date: accredited (inclusive bound).
      rec('FAC1', 'MI', [{ until: '2025-08-31' }], SNAP),
      // expired the day before: not accredited.
      rec('FAC2', 'MI', [{ until: '2025-08-30' }], SNAP),
      // listed twice (here and in b.jsonl): counts once, the extract keeps this row.
      rec('FAC3', 'MI', [{ until: '2026-01-15' }], SNAP),
      // no accreditations: not accredited; NULL dates in the extract; OH has none → omitted.
      rec('FAC4', 'OH', [], SNAP, { services: [] }),
      // first listed is expired, a later one valid: accredited; first ≠ earliest.
      rec('FAC5', 'TX', [{ until: '2026-03-01' }, { until: '2025-01-31' }, { until: '2027-12-31' }], SNAP),
    ]);
    put(`validated/snapshot_date=${SNAP}/b.jsonl`, [
      rec('FAC3', 'MI', [{ until: '2024-01-01' }], SNAP, { facility_name: 'Facility FAC3 (second copy)', employee_count: 99 }),
      rec('FAC6', 'DC', [{ until: '2026-02-28' }], SNAP, { employee_count: 0 }),
    ]);
    // Another snapshot: never mixed in.
    put('validated/snapshot_date=2025-09-01/a.jsonl', [rec('FAC7', 'MI', [{ until: '2030-01-01' }], '2025-09-01')]);
  });

  afterAll(async () => {
    conn?.closeSync();
    duck?.closeSync();
    await athena?.close();
    await s3?.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function run(query: string, params: string[]): Promise<QueryExecution> {
    const { QueryExecutionId } = await client.send(new StartQueryExecutionCommand({
      QueryString: query, ExecutionParameters: params, WorkGroup: 'wg', QueryExecutionContext: { Database: 'medlaunch' },
    }));
    for (;;) {
      const { QueryExecution: ex } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId }));
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(ex!.Status!.State!)) return ex!;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function resultRows(id: string): Promise<(string | null)[][]> {
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
    return page.ResultSet!.Rows!.map((r) => r.Data!.map((d) => d.VarCharValue ?? null));
  }

  const CASES: Record<SqlName, () => Promise<void>> = {
    state_counts: async () => {
      const sql = loadSql('state_counts');
      const ex = await run(sql, [`'${SNAP}'`, `'${SNAP}'`]);
      expect(ex.Status!.StateChangeReason).toBeUndefined();
      expect(ex.Status!.State).toBe('SUCCEEDED');
      expect(await resultRows(ex.QueryExecutionId!)).toEqual([
        ['state', 'accredited_facilities'],
        ['DC', '1'],
        ['MI', '2'],
        ['TX', '1'],
      ]);
      // An explicit later as-of date: FAC1 lapsed; FAC6 valid through 2026-02-28 inclusive.
      const later = await run(sql, [`'${SNAP}'`, '\'2026-02-28\'']);
      expect(await resultRows(later.QueryExecutionId!)).toEqual([
        ['state', 'accredited_facilities'],
        ['DC', '1'],
        ['TX', '1'],
      ]);
      // A snapshot with no data: just the header.
      const none = await run(sql, ['\'2025-07-01\'', '\'2025-07-01\'']);
      expect(await resultRows(none.QueryExecutionId!)).toEqual([['state', 'accredited_facilities']]);
    },
    facility_extract: async () => {
      const location = 's3://data/curated/_staging/snapshot_date=2025-08-31/test/';
      const sql = loadSql('facility_extract').split('{{output_location}}').join(location);
      const ex = await run(sql, [`'${SNAP}'`]);
      expect(ex.Status!.StateChangeReason).toBeUndefined();
      expect(ex.Status!.State).toBe('SUCCEEDED');
      const glob = join(root, 'data/curated/_staging/snapshot_date=2025-08-31/test/*');
      const types = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${glob}')`);
      expect(types.getRowsJson().map((r) => [r[0], r[1]])).toEqual([
        ['facility_id', 'VARCHAR'],
        ['facility_name', 'VARCHAR'],
        ['employee_count', 'INTEGER'],
        ['number_of_offered_services', 'INTEGER'],
        ['expiry_date_of_first_accreditation', 'DATE'],
        ['earliest_accreditation_expiry', 'DATE'],
        ['snapshot_date', 'DATE'],
      ]);
      const rows = await conn.runAndReadAll(`SELECT * FROM read_parquet('${glob}') ORDER BY facility_id`);
      expect(rows.getRowsJson()).toEqual([
        ['FAC1', 'Facility FAC1', 10, 3, '2025-08-31', '2025-08-31', SNAP],
        ['FAC2', 'Facility FAC2', 10, 3, '2025-08-30', '2025-08-30', SNAP],
        ['FAC3', 'Facility FAC3', 10, 3, '2026-01-15', '2026-01-15', SNAP],
        ['FAC4', 'Facility FAC4', 10, 0, null, null, SNAP],
        ['FAC5', 'Facility FAC5', 10, 3, '2026-03-01', '2025-01-31', SNAP],
        ['FAC6', 'Facility FAC6', 0, 3, '2026-02-28', '2026-02-28', SNAP],
      ]);
      // UNLOAD needs an empty target, like Athena.
      const again = await run(sql, [`'${SNAP}'`]);
      expect(again.Status!.State).toBe('FAILED');
      expect(again.Status!.StateChangeReason).toMatch(/^HIVE_PATH_ALREADY_EXISTS/);
    },
  };

  test('every SQL file has a case here', () => {
    expect(SQL_FILES).toEqual(Object.keys(CASES).sort());
  });

  test.each(SQL_FILES)('%s.sql gives the exact expected results', async (name) => {
    await CASES[name]();
  });
});

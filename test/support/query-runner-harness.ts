/**
 * The query runner's unit-test setting: a scripted Athena ({@link FakeAthena}) and an in-memory S3
 * bucket ({@link FakeS3}) behind aws-sdk-client-mock, the runtime configuration of a deployed
 * pipeline, and the runner's dependencies with a controllable time budget and a recorded sleep.
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { FakeAthena } from './fake-athena';
import { FakeS3 } from './fake-s3';
import type { RunnerDeps } from '../../lambda-src/athena/query-runner';
import type { QueryRequest } from '../../lambda-src/athena/types';
import { loadConfig } from '../../lambda-src/lib/config';

export const BUCKET = 'medlaunch-data';
/** The environment the construct gives the query-runner Lambda. */
export const ENV = {
  DATA_BUCKET: BUCKET,
  GLUE_DATABASE: 'medlaunch_db',
  ATHENA_WORKGROUP: 'medlaunch-wg',
  ATHENA_OUTPUT_LOCATION: `s3://${BUCKET}/athena-results/`,
  QUERY_WAIT_SAFETY_MS: '10000',
};
export const config = loadConfig(ENV);
/** Stand-ins for the two .sql files (the runner receives them through `loadSql`). */
export const STATE_SQL = 'SELECT state, accredited_facilities FROM x WHERE snapshot_date = CAST(? AS DATE) AND d >= CAST(? AS DATE)';
export const EXTRACT_SQL = "UNLOAD (SELECT * FROM validated_facilities WHERE snapshot_date = ?) TO '{{output_location}}' WITH (format = 'PARQUET')";

export const RAW_KEY = 'data/batch/2025-08-10/part-0001.jsonl';
/** A state-counts request for the snapshot of {@link RAW_KEY}. */
export const REQ: QueryRequest = { query: 'state_counts', bucket: BUCKET, key: RAW_KEY, etag: '"abc"', snapshotDate: '2025-08-10' };

export interface QueryRunnerHarness {
  readonly athenaMock: AwsClientStub<AthenaClient>;
  readonly s3Mock: AwsClientStub<S3Client>;
  readonly athena: AthenaClient;
  readonly s3: S3Client;
  /** The data bucket ({@link BUCKET}). */
  readonly bucket: FakeS3;
  readonly fakeAthena: FakeAthena;
  /** What `remainingMs()` answers (600 s at the start of each test; 0 hands back after one poll). */
  budget: number;
  /** Every sleep the runner asked for, in ms. */
  readonly sleeps: number[];
  /** The runner's dependencies; `over` replaces some. */
  deps(over?: Partial<RunnerDeps>): RunnerDeps;
}

/**
 * Mocks the Athena and S3 clients for the calling test file and resets both fakes before each test
 * (registers `beforeEach` and `afterAll`).
 */
export function useQueryRunnerHarness(): QueryRunnerHarness {
  const athenaMock = mockClient(AthenaClient);
  const s3Mock = mockClient(S3Client);
  const athena = new AthenaClient({ region: 'us-east-1' });
  const s3 = new S3Client({ region: 'us-east-1' });
  const bucket = new FakeS3(s3Mock, { bucket: BUCKET, listPageSize: 2 }); // tiny pages, to exercise pagination
  const fakeAthena = new FakeAthena(athenaMock, bucket, BUCKET);
  const h: QueryRunnerHarness = {
    athenaMock,
    s3Mock,
    athena,
    s3,
    bucket,
    fakeAthena,
    budget: 600_000,
    sleeps: [],
    deps: (over = {}) => ({
      athena,
      s3,
      config,
      remainingMs: () => h.budget,
      sleep: async (ms) => {
        h.sleeps.push(ms);
      },
      random: () => 0.5,
      loadSql: (name) => (name === 'state_counts' ? STATE_SQL : EXTRACT_SQL),
      ...over,
    }),
  };
  beforeEach(() => {
    athenaMock.reset();
    s3Mock.reset();
    bucket.reset();
    fakeAthena.reset();
    h.budget = 600_000;
    h.sleeps.length = 0;
  });
  afterAll(() => {
    athenaMock.restore();
    s3Mock.restore();
    athena.destroy();
    s3.destroy();
  });
  return h;
}

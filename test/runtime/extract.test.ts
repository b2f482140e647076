/**
 * The facility extract (lambda-src/extract, Stage 1): an UNLOAD into a staging folder named after the
 * query token, then the promotion of the staged files into the curated partition, guarded by the
 * partition's watermark against older and concurrent computations. The promotion against real S3
 * semantics is in extract-promotion.test.ts.
 */
import { StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import type { QueryRequest } from '../../lambda-src/athena/types';
import { runStateCounts } from '../../lambda-src/count';
import {
  curatedPartition,
  extractQueryString,
  partitionWatermarkKey,
  promoteExtract,
  runFacilityExtract,
  stagingPrefix,
} from '../../lambda-src/extract';
import { formatWatermark, parseWatermark } from '../../lambda-src/lib/watermark';
import { BUCKET, EXTRACT_SQL, RAW_KEY, REQ, config, useQueryRunnerHarness } from '../support/query-runner-harness';

const h = useQueryRunnerHarness();
const { athenaMock, bucket, fakeAthena, deps } = h;

describe('facility extract (lambda-src/extract, Stage 1)', () => {
  const EREQ: QueryRequest = { query: 'facility_extract', bucket: BUCKET, key: RAW_KEY, etag: '"abc"', snapshotDate: '2025-08-10' };
  const partition = 'curated/facility_metrics/snapshot_date=2025-08-10/';

  beforeEach(() => {
    fakeAthena.plan = (q) => {
      q.states = ['RUNNING', 'SUCCEEDED'];
      q.unloadFiles = ['20250810_000001_00001_abcde_1', '20250810_000001_00001_abcde_2', 'sub/part-3'];
    };
  });

  test('UNLOADs into a fresh staging folder named after the token, with the snapshot as parameter', async () => {
    await runFacilityExtract(EREQ, deps());
    const input = athenaMock.commandCalls(StartQueryExecutionCommand)[0].args[0].input;
    const token = input.ClientRequestToken!;
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(input.ExecutionParameters).toEqual(["'2025-08-10'"]);
    expect(input.QueryString).toBe(EXTRACT_SQL.replace('{{output_location}}', `s3://${BUCKET}/curated/facility_metrics/_staging/snapshot_date=2025-08-10/${token}/`));
    expect(stagingPrefix(config, '2025-08-10', token)).toBe(`curated/facility_metrics/_staging/snapshot_date=2025-08-10/${token}/`);
  });

  test('promotes the staged files into the partition, removes older computations\' files and the staging folder', async () => {
    bucket.put(`${partition}q-old_part-1`, 'old parquet');
    bucket.put(`${partition}manual-file`, 'stray');
    const status = await runFacilityExtract(EREQ, deps());
    expect(status).toMatchObject({ done: true, state: 'SUCCEEDED', promoted: true, queryExecutionId: 'q-0001' });
    expect(bucket.keysUnder(partition)).toEqual([
      `${partition}q-0001_20250810_000001_00001_abcde_1`,
      `${partition}q-0001_20250810_000001_00001_abcde_2`,
      `${partition}q-0001_sub__part-3`,
    ]);
    expect(status).toMatchObject({ extractPrefix: `${partition}q-0001_`, extractFiles: 3 });
    expect(bucket.text(`${partition}q-0001_sub__part-3`)).toBe('parquet of q-0001/sub/part-3');
    expect(bucket.keysUnder('curated/facility_metrics/_staging/')).toEqual([]);
    const wm = bucket.objects.get(partitionWatermarkKey(config, '2025-08-10'))!;
    expect(parseWatermark(wm.metadata.watermark)).toEqual({ submittedAt: '2025-08-10T12:00:01.000Z', queryExecutionId: 'q-0001' });
    expect(JSON.parse(wm.body.toString())).toMatchObject({ snapshot_date: '2025-08-10', file_prefix: `${partition}q-0001_` });
  });

  /** A new version of the raw object, whose records Stage 2 validated: the snapshot's data changed. */
  const newVersion = (): typeof EREQ => {
    bucket.put('validated/snapshot_date=2025-08-10/part-0001.jsonl', '{"facility_id":"FAC1","v":2}\n');
    return { ...EREQ, etag: '"v2"' };
  };

  test('re-running the same computation is idempotent; a newer one replaces it', async () => {
    const first = await runFacilityExtract(EREQ, deps());
    const again = await runFacilityExtract({ ...EREQ, queryExecutionId: first.queryExecutionId }, deps());
    const before = bucket.keysUnder(partition);
    expect(again).toMatchObject({ promoted: true, extractFiles: 3, extractPrefix: first.extractPrefix });
    expect(bucket.keysUnder(partition)).toEqual(before);
    const newer = await runFacilityExtract(newVersion(), deps());
    expect(newer).toMatchObject({ promoted: true, queryExecutionId: 'q-0002' });
    expect(bucket.keysUnder(partition).every((k) => k.startsWith(`${partition}q-0002_`))).toBe(true);
    expect(bucket.keysUnder(partition)).toHaveLength(3);
  });

  test('an older computation finishing late is not promoted and leaves the newer partition alone', async () => {
    // q-0001 starts first but finishes after q-0002.
    fakeAthena.plan = (q) => {
      q.states = q.id === 'q-0001' ? ['RUNNING', 'RUNNING', 'SUCCEEDED'] : ['SUCCEEDED'];
      q.unloadFiles = ['part-a'];
    };
    h.budget = 0;
    const older = await runFacilityExtract(EREQ, deps());
    expect(older.done).toBe(false);
    h.budget = 600_000;
    const newer = await runFacilityExtract(newVersion(), deps());
    expect(newer.promoted).toBe(true);
    const late = await runFacilityExtract(older, deps());
    expect(late).toMatchObject({ done: true, promoted: false, extractFiles: 0 });
    expect(bucket.keysUnder(partition)).toEqual([`${partition}q-0002_part-a`]);
    expect(bucket.keysUnder('curated/facility_metrics/_staging/')).toEqual([]);
  });

  test('superseded while copying: a newer claim made mid-promotion keeps the newer files, ours are removed', async () => {
    const newer = { submittedAt: '2025-08-10T13:00:00.000Z', queryExecutionId: 'q-newer' };
    bucket.before.copy.push(() => {
      // Another execution claims the partition and copies its file (stamped with its watermark, as a promotion
      // copies) while we are copying.
      bucket.put(partitionWatermarkKey(config, '2025-08-10'), '{}', { metadata: { watermark: formatWatermark(newer) } });
      bucket.put(`${partition}q-newer_part-0`, 'newer parquet', { metadata: { watermark: formatWatermark(newer) } });
    });
    const status = await runFacilityExtract(EREQ, deps());
    expect(status).toMatchObject({ done: true, promoted: false, extractFiles: 0 });
    expect(bucket.keysUnder(partition)).toEqual([`${partition}q-newer_part-0`]);
    expect(bucket.keysUnder('curated/facility_metrics/_staging/')).toEqual([]);
  });

  test('a duplicate execution of the same computation that finished first does not fail the promotion', async () => {
    // Two executions of one computation (duplicate events share the query and its staging folder): the twin
    // lists the staged files, then the first execution copies them and removes the staging folder.
    const wm = { submittedAt: '2025-08-10T12:00:01.000Z', queryExecutionId: 'q-dup' };
    const staging = stagingPrefix(config, '2025-08-10', 'f'.repeat(64));
    for (const f of ['part-1', 'part-2']) bucket.put(`${staging}${f}`, `parquet ${f}`);
    bucket.before.copy.push(() => {
      for (const f of ['part-1', 'part-2']) {
        bucket.put(`${partition}q-dup_${f}`, `parquet ${f}`);
        bucket.objects.delete(`${staging}${f}`);
      }
    });
    const twin = await promoteExtract(deps(), '2025-08-10', staging, wm);
    expect(twin).toEqual({ promoted: true, extractPrefix: `${partition}q-dup_`, extractFiles: 2 });
    expect(bucket.keysUnder(partition)).toEqual([`${partition}q-dup_part-1`, `${partition}q-dup_part-2`]);
    expect(bucket.keysUnder(staging)).toEqual([]);
  });

  test('an UNLOAD refused because its target is not empty (leftovers under a reused token) is replaced into a fresh folder', async () => {
    fakeAthena.plan = (q) => {
      if (q.id === 'q-0001') {
        q.states = ['FAILED'];
        q.error = { ErrorCategory: 2, Retryable: false };
        q.reason = 'HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists';
      } else {
        q.states = ['SUCCEEDED'];
      }
      q.unloadFiles = ['part-a'];
    };
    const status = await runFacilityExtract(EREQ, deps());
    expect(status).toMatchObject({ done: true, promoted: true, restarts: 1, queryExecutionId: 'q-0002', extractFiles: 1 });
    const [failed, replacement] = [...fakeAthena.queries.values()];
    expect(replacement.token).not.toBe(failed.token);
    expect(bucket.keysUnder('curated/facility_metrics/_staging/')).toEqual([]);
  });

  test('a failed UNLOAD has its partial staging output removed', async () => {
    fakeAthena.plan = (q) => {
      q.states = ['FAILED'];
      q.error = { ErrorCategory: 2, Retryable: false };
      q.reason = 'HIVE_PATH_ALREADY_EXISTS';
    };
    await expect(runFacilityExtract(EREQ, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
    const q = [...fakeAthena.queries.values()][0];
    const staging = stagingPrefix(config, '2025-08-10', q.token);
    expect(bucket.keysUnder(staging)).toEqual([]);
    // Athena leaves orphaned files behind after a failure: polling the failed query clears them.
    bucket.put(`${staging}orphan`, 'partial');
    await expect(runFacilityExtract({ ...EREQ, queryExecutionId: q.id }, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
    expect(bucket.keysUnder(staging)).toEqual([]);
  });

  test('a query id that is not an extract into this pipeline\'s staging area is rejected', async () => {
    await runStateCounts(REQ, deps());
    await expect(runFacilityExtract({ ...EREQ, queryExecutionId: 'q-0001' }, deps())).rejects.toMatchObject({ name: 'QueryFailedError' });
  });

  test('the SQL must carry the placeholder; unsafe configuration never reaches the query string', () => {
    expect(() => extractQueryString('UNLOAD (SELECT 1) TO \'s3://x/\'', config, '2025-08-10', 'a'.repeat(64))).toThrow(/placeholder/);
    const bad = { ...config, curatedPrefix: "curated/x'/" };
    expect(() => extractQueryString(EXTRACT_SQL, bad, '2025-08-10', 'a'.repeat(64))).toThrow(/CURATED_PREFIX/);
    expect(() => extractQueryString(EXTRACT_SQL, config, '2025-08-10', 'not-hex')).toThrow(RangeError);
    expect(() => extractQueryString(EXTRACT_SQL, config, "2025-08-10' --", 'a'.repeat(64))).toThrow(RangeError);
    expect(curatedPartition(config, '2025-08-10')).toBe(partition);
  });
});

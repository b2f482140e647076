/**
 * The S3 cost model of docs/runtime.md ("Cost per file is constant"): 12 requests per file and 22 per
 * snapshot refresh, measured at the local endpoint on two local runs (one snapshot of 1 file, one of 4),
 * so that the per-file and per-refresh parts separate. Without the refresh's economies (the claim in the
 * Start payload, creates without a read, one listing of the staging folder, two claim checks, the publish
 * reading the results by ETag) the per-refresh counts are higher.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLines } from '../../cli/generate/generator';
import { runLocalPipeline, type RequestReport } from '../../local/orchestrator/index';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-refresh-requests-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The pipeline's S3 requests by operation (the CLI's uploads and read-back left out) of a run on `files` files of one snapshot. */
async function pipelineS3(files: number): Promise<{ ops: Record<string, number>; extraPolls: number }> {
  const data = join(work, `data-${files}`, '2025-09-01');
  mkdirSync(data, { recursive: true });
  for (let f = 0; f < files; f++) {
    const lines = [...generateLines({ n: 10, snapshot: '2025-09-01', startIndex: f * 10 + 1, seed: 7 })];
    writeFileSync(join(data, `part_${f + 1}.jsonl`), `${lines.join('\n')}\n`);
  }
  const r = await runLocalPipeline({ dataDir: join(data, '..'), workDir: join(work, `aws-${files}`) });
  expect(r.executions.map((e) => e.status)).toEqual(Array(files).fill('SUCCEEDED'));
  const q: RequestReport = r.requests;
  const ops: Record<string, number> = {};
  for (const [op, n] of Object.entries(q.s3)) ops[op] = n - (q.client.s3[op] ?? 0);
  // Each query is polled at least once; a later poll that finds it still queued reads the announcement (HeadObject).
  const polls = (q.athena.GetQueryExecution ?? 0) - (q.client.athena.GetQueryExecution ?? 0);
  const queries = (q.athena.StartQueryExecution ?? 0) - (q.client.athena.StartQueryExecution ?? 0);
  expect(queries).toBe(2);
  return { ops, extraPolls: polls - queries };
}

test('a file costs 12 S3 requests and a snapshot\'s refresh 22, whatever the number of files', async () => {
  const one = await pipelineS3(1);
  const four = await pipelineS3(4);
  const diff = (op: string) => ((four.ops[op] ?? 0) - (one.ops[op] ?? 0)) / 3;
  // Per file: 5 PutObject (validated, expiring, quarantine, the summary, the ticket), 3 GetObject (the file,
  // the ticket, the summary for the run report), 4 HeadObject (each output's source version), nothing else.
  expect({ put: diff('PutObject'), get: diff('GetObject'), head: diff('HeadObject'), list: diff('ListObjectsV2'), copy: diff('CopyObject') })
    .toEqual({ put: 5, get: 3, head: 4, list: 0, copy: 0 });
  // Per refresh: what is left of the 1-file run after its file's 12.
  const refresh = (op: string, perFile: number) => (one.ops[op] ?? 0) - perFile;
  expect({
    put: refresh('PutObject', 5),
    copy: refresh('CopyObject', 0),
    list: refresh('ListObjectsV2', 0),
    deletes: refresh('DeleteObjects', 0),
    get: refresh('GetObject', 3),
  }).toEqual({ put: 11, copy: 3, list: 3, deletes: 1, get: 1 });
  // HeadObject: the publish's verify of the CSV and the promotion's two claim checks, plus one per later poll of a
  // query still queued.
  expect(refresh('HeadObject', 4)).toBeGreaterThanOrEqual(3);
  expect(refresh('HeadObject', 4)).toBeLessThanOrEqual(3 + one.extraPolls);
  const total = (ops: Record<string, number>) => Object.values(ops).reduce((a, b) => a + b, 0);
  expect(total(one.ops) - 12).toBeLessThanOrEqual(22 + one.extraPolls);
}, 300_000);

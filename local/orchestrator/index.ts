/**
 * `npx medlaunch-elt local`: synthesizes the AccreditationPipeline stack, "deploys" it into the embedded
 * local AWS (S3, SNS, Athena on DuckDB, Lambda workers, Step Functions, EventBridge), uploads the snapshot
 * folders under the raw prefix and lets the S3 events drive the state machine — then reads every result back.
 *
 * What runs is what was synthesized: the state machine definition, the Lambda assets with the environment
 * the template gives them, the event rule's pattern and targets, the Glue tables and the workgroup.
 * One file per phase: ./deploy, ./upload, ./drive, ./collect (with ./observability: the metrics and the
 * execution histories) (docs/local-engine.md).
 */
import { collectResults } from './collect';
import { deploy } from './deploy';
import { driveExecutions } from './drive';
import type { LocalRunOptions } from './options';
import type { LocalRunResult } from './result';
import { walkSnapshotFolders } from './snapshots';
import { uploadSnapshots } from './upload';
import { prepareWorkDir } from './workdir';

export { LOCAL_LAMBDA_CONCURRENCY, type FaultName, type LocalRunOptions, type ProgressEvent } from './options';
export type {
  DrillReport, ExecutionSummary, InjectedFault, LocalRunResult, RequestReport, SkippedFile, SnapshotDetails, SnapshotSummary,
} from './result';
export { listSnapshotFiles } from './snapshots';
export { dataQuality, EXECUTIONS_FOLDER, writeExecutionHistories, type DataQuality, type RunMetrics } from './observability';
export { facilityIdOf } from './read-back';
export { uploadFiles, type UploadItem } from './upload';
export { WaitTracker } from './progress';
export { checkWorkDir, prepareWorkDir, WORKDIR_MARKER } from './workdir';

/** Runs the whole pipeline locally; see the module doc. */
export async function runLocalPipeline(opts: LocalRunOptions): Promise<LocalRunResult> {
  const started = Date.now();
  const { data: files, skipped } = walkSnapshotFolders(opts.dataDir);
  const snapshots = [...new Set(files.map((f) => f.snapshot))];
  prepareWorkDir(opts.workDir, opts.dataDir);

  const stack = await deploy(opts, files, snapshots);
  try {
    const uploaded = await uploadSnapshots(stack, files, skipped);
    const executions = await driveExecutions(stack, uploaded);
    return await collectResults(stack, { files, skipped, snapshots }, uploaded, executions, started);
  } finally {
    await stack.close();
  }
}

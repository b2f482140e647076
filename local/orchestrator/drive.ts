/**
 * Drive phase: the executions the upload started run to their end (and those a follow-up starts),
 * with progress reported every 200 ms: how many have finished and what the others wait for.
 */
import type { LocalStack } from './deploy';
import type { Uploaded } from './upload';

/** Waits until every delivery and every execution has ended; returns the executions the bus started. */
export async function driveExecutions(stack: LocalStack, uploaded: Uploaded): Promise<ReturnType<LocalStack['events']['executions']>> {
  const { opts, events, sfn, dep, waits } = stack;
  const timer = setInterval(() => {
    const ex = events.executions();
    opts.onProgress?.({
      kind: 'executions', total: ex.length, finished: ex.filter((e) => e.status !== 'RUNNING' && e.status !== 'PENDING').length, waiting: waits.summary(),
    });
  }, 200);
  try {
    await events.waitForIdle();
    await sfn.waitForAll();
    if (opts.followUp) {
      await opts.followUp({ client: uploaded.client, bucket: dep.bucket, rawPrefix: dep.rawPrefix });
      await events.waitForIdle();
      await sfn.waitForAll();
    }
  } finally {
    clearInterval(timer);
  }
  const ex = events.executions();
  opts.onProgress?.({ kind: 'executions', total: ex.length, finished: ex.length });
  return ex;
}

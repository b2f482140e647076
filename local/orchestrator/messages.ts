/** The progress lines of a run, and the ordering and wording of what its summary shows. */
import type { ResolvedTemplate } from '../template';
import type { ExecutionSummary, SkippedFile } from './result';

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function synthesizedMessage(stackName: string, tpl: ResolvedTemplate): string {
  const all = tpl.lambdaFunctions();
  const pipeline = all.filter((f) => f.assetDir && f.env.DATA_BUCKET !== undefined).length;
  const helpers = all.length - pipeline;
  return `synthesized ${stackName}: ${plural(all.length, 'Lambda function')} (${pipeline} of the pipeline`
    + `${helpers ? `, ${helpers} CDK deployment ${helpers === 1 ? 'helper' : 'helpers'} not needed locally` : ''}), `
    + `state machine ${tpl.stateMachine().name}, ${plural(tpl.glueTables().length, 'Glue table')}`;
}

export function uploadedMessage(n: number, skipped: SkippedFile[], dataDir: string, to: string): string {
  const data = skipped.filter((f) => f.reason !== 'medlaunch-elt bookkeeping');
  return `uploaded ${plural(n, 'object')} from ${dataDir} to ${to}`
    + (data.length ? `; skipped ${plural(data.length, 'file')} that ${data.length === 1 ? 'is' : 'are'} not data (.jsonl, .ndjson, .json, optionally .gz): `
      + `${data.slice(0, 5).map((f) => f.path).join(', ')}${data.length > 5 ? ', …' : ''}` : '');
}

/** Executions sorted by snapshot, then key, then name: the same order whatever order they arrived in. */
export function sortExecutions(ex: ExecutionSummary[]): ExecutionSummary[] {
  const k = (e: ExecutionSummary) => `${e.snapshot}\u0000${e.key ?? ''}\u0000${e.name ?? ''}`;
  return [...ex].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

export function oneLine(s: string): string {
  try {
    const j = JSON.parse(s);
    if (j && typeof j === 'object' && typeof j.errorMessage === 'string') return j.errorMessage;
  } catch {
    // not JSON
  }
  return s.replace(/\s+/g, ' ').slice(0, 300);
}

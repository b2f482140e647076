import { Readable } from 'node:stream';
import { OutputWriter, processStream, ProcessOptions, Sink } from '../../lambda-src/validate';

/** An in-memory sink: objects become visible on end(), like S3 and the local file sink. */
export class MemorySink implements Sink {
  readonly location = 'memory://';
  readonly objects = new Map<string, string>();
  readonly aborted: string[] = [];
  open(key: string): OutputWriter {
    const parts: Buffer[] = [];
    return {
      key,
      write: (d) => {
        parts.push(typeof d === 'string' ? Buffer.from(d) : Buffer.from(d));
        return undefined;
      },
      writeLine: (d) => {
        parts.push(Buffer.from(d), Buffer.from('\n'));
        return undefined;
      },
      end: async () => {
        this.objects.set(key, Buffer.concat(parts).toString('utf8'));
      },
      abort: async () => {
        this.aborted.push(key);
      },
    };
  }
  lines(key: string): string[] {
    const body = this.objects.get(key);
    if (body === undefined) throw new Error(`no object ${key}; have ${[...this.objects.keys()].join(', ')}`);
    return body.split('\n').filter((l) => l !== '');
  }
}

/** The output prefixes the tests give the validator (the default layout, docs/contract.md §3). */
export const PREFIXES = { validated: 'validated/', expiring: 'expiring/', quarantine: 'quarantine/' };

/** Runs the processor over chunks (Buffers or strings) with an in-memory sink. */
export async function runChunks(chunks: Array<string | Buffer>, opts: Partial<ProcessOptions> = {}) {
  const sink = new MemorySink();
  const result = await processStream(Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))), {
    sourceKey: 'data/batch/2025-08-10/part.jsonl',
    folderSnapshotDate: '2025-08-10',
    stem: 'part',
    sink,
    prefixes: PREFIXES,
    ...opts,
  });
  return { sink, result };
}

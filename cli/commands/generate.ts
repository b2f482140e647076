/**
 * `medlaunch-elt generate`: the TypeScript port of the original scripts/generate_facilities_data.py.
 *
 *   medlaunch-elt generate --n N --chunk C --snapshot YYYY-MM-DD [--start-index I] [--seed S]
 *                          [--outdir DIR] [--bad K] [--duplicates D] [--blank B] [--gzip]
 */
import { join, resolve } from 'node:path';
import { isCalendarDate } from '../../lambda-src/lib/dates';
import { packageRoot, parseCommandArgs, plural, shortPath } from '../args';
import { UsageError } from '../errors';
import { BAD_KINDS, BadKind, DEFAULT_SEED } from '../generate/generator';
import { writeDataset } from '../generate/writer';

export const DEFAULT_CHUNK = 10_000;
export const DEFAULT_OUTDIR = 'data/batch';

export const GENERATE_USAGE = `usage: medlaunch-elt generate --n N --snapshot YYYY-MM-DD [options]

Writes <outdir>/<snapshot>/facilities_0001.jsonl, facilities_0002.jsonl, … (NDJSON, C records each)
and a manifest (.medlaunch-elt-generate.manifest) naming them. Running again into the same snapshot
folder replaces the files generate wrote there; a folder holding other files (such as the shipped
sample snapshots in data/batch) is refused and left untouched.

options:
  --n N             valid facility records to generate (positive integer, required)
  --chunk C         records per file (default ${DEFAULT_CHUNK})
  --snapshot D      snapshot date YYYY-MM-DD: the folder and every record's snapshot_date (required)
  --start-index I   number of the first facility id, FAC%05d (default 1)
  --seed S          PRNG seed, 0..4294967295 (default ${DEFAULT_SEED}); same seed, same bytes
  --outdir DIR      root folder (default ${DEFAULT_OUTDIR})
  --bad K           add K invalid records of varied kinds, interleaved (default 0)
  --bad-kinds LIST  comma-separated kinds the invalid records cycle through (default: all, in this order):
                    ${BAD_KINDS.join(', ')}
  --duplicates D    add D re-sent records (same facility_id as the record before) (default 0)
  --blank B         add B blank lines (default 0)
  --gzip            write .jsonl.gz files
  --quiet           no summary line`;

function intArg(raw: string | undefined, flag: string, min: number, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`generate: ${flag} is required (see --help)`);
    return fallback;
  }
  const v = /^[-+]?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new UsageError(`generate: ${flag} must be ${min === 1 ? 'a positive' : 'a non-negative'} integer (got '${raw}')`);
  }
  return v;
}

function parseBadKinds(raw: string | undefined): BadKind[] {
  if (raw === undefined) return [...BAD_KINDS];
  const kinds = raw.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (kinds.length === 0) throw new UsageError('generate: --bad-kinds must name at least one kind');
  for (const k of kinds) {
    if (!(BAD_KINDS as readonly string[]).includes(k)) {
      throw new UsageError(`generate: unknown --bad-kinds entry '${k}' (expected: ${BAD_KINDS.join(', ')})`);
    }
  }
  return kinds as BadKind[];
}

export interface GenerateArgs {
  n: number;
  chunk: number;
  snapshot: string;
  startIndex: number;
  seed: number;
  outdir: string;
  bad: number;
  badKinds: BadKind[];
  duplicates: number;
  blank: number;
  gzip: boolean;
  quiet: boolean;
  help: boolean;
}

/** Parses and validates the command's arguments; throws a one-line UsageError. */
export function parseGenerateArgs(argv: string[]): GenerateArgs {
  const parsed = parseCommandArgs('generate', argv, {
    'n': { type: 'string' },
    'chunk': { type: 'string' },
    'snapshot': { type: 'string' },
    'start-index': { type: 'string' },
    'seed': { type: 'string' },
    'outdir': { type: 'string' },
    'bad': { type: 'string' },
    'bad-kinds': { type: 'string' },
    'duplicates': { type: 'string' },
    'blank': { type: 'string' },
    'gzip': { type: 'boolean' },
    'quiet': { type: 'boolean' },
    'help': { type: 'boolean', short: 'h' },
  });
  const values = parsed.values;
  if (values.help) {
    return { help: true } as GenerateArgs;
  }
  const snapshot = values.snapshot;
  if (snapshot === undefined) throw new UsageError('generate: --snapshot is required (see --help)');
  if (!isCalendarDate(snapshot)) throw new UsageError(`generate: --snapshot must be a YYYY-MM-DD calendar date (got '${snapshot}')`);
  const seed = intArg(values.seed, '--seed', 0, DEFAULT_SEED);
  if (seed > 0xffffffff) throw new UsageError(`generate: --seed must be at most 4294967295 (got '${values.seed}')`);
  const outdir = values.outdir ?? DEFAULT_OUTDIR;
  if (outdir.trim() === '') throw new UsageError('generate: --outdir must not be empty');
  return {
    n: intArg(values.n, '--n', 1),
    chunk: intArg(values.chunk, '--chunk', 1, DEFAULT_CHUNK),
    snapshot,
    startIndex: intArg(values['start-index'], '--start-index', 0, 1),
    seed,
    outdir,
    bad: intArg(values.bad, '--bad', 0, 0),
    badKinds: parseBadKinds(values['bad-kinds']),
    duplicates: intArg(values.duplicates, '--duplicates', 0, 0),
    blank: intArg(values.blank, '--blank', 0, 0),
    gzip: values.gzip ?? false,
    quiet: values.quiet ?? false,
    help: false,
  };
}

/** A progress bar on stderr, redrawn at most every 100 ms; only when stderr is a terminal. */
function progressBar(total: number): { update: (done: number) => void; end: () => void } | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  const draw = (done: number) => {
    const width = 30;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const fill = Math.round(frac * width);
    process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} lines`);
  };
  return {
    update: (done) => {
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw(done);
      }
    },
    end: () => process.stderr.write('\r\x1b[2K'),
  };
}

export async function run(argv: string[]): Promise<number> {
  const args = parseGenerateArgs(argv);
  if (args.help) {
    process.stdout.write(`${GENERATE_USAGE}\n`);
    return 0;
  }
  // The shipped sample data set (docs/data.md's expected results) sits in the package's data/batch.
  const root = packageRoot();
  const shipped = root !== undefined && resolve(args.outdir) === join(root, 'data', 'batch');
  const bar = progressBar(args.n + args.bad + args.duplicates + args.blank);
  let result;
  try {
    result = await writeDataset({
      ...args,
      onProgress: bar?.update,
      foreignHint: shipped ? ' (they are the shipped sample data set)' : '',
    });
  } finally {
    bar?.end();
  }
  if (!args.quiet) {
    const where = shortPath(result.dir);
    process.stdout.write(
      `generated ${plural(result.records, 'record')} (${result.valid} valid, ${result.invalid} invalid, ${plural(result.duplicates, 'duplicate')}`
      + `${result.blank ? `, ${plural(result.blank, 'blank line')}` : ''}) in ${plural(result.files.length, 'file')}`
      + ` under ${where}${result.replaced ? ` (replacing the ${plural(result.replaced, 'file')} an earlier generate wrote there)` : ''}\n`,
    );
  }
  if (shipped) {
    process.stderr.write(
      `medlaunch-elt: note: ${shortPath(result.dir)} is inside the shipped sample data set: \`local\` now includes`
      + ' this snapshot and no longer gives docs/data.md\'s results; delete the folder to go back, or use --outdir\n',
    );
  }
  return 0;
}

/** Argument helpers shared by the commands, so that every command reads the same flag the same way. */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs, ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';
import { EXPIRY_MONTHS } from '../src/contract';

/** The expiry window every command accepts, in calendar months (the construct's `expiryMonths` range). */
export const MONTHS_MIN = EXPIRY_MONTHS.min;
export const MONTHS_MAX = EXPIRY_MONTHS.max;

/**
 * node:util parseArgs, except that a negative number given as the value of a string option
 * (`--n -1`) is read as that value instead of failing with "argument is ambiguous", so the command
 * can say what is wrong with it. Parse errors become one-line UsageErrors prefixed with the command.
 */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: T) {
  const args = negativeValues(argv);
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError(`${command}: ${e.message.split('\n')[0]}`);
    throw err;
  }
}

/** `--months`: an integer in [MONTHS_MIN, MONTHS_MAX], or undefined when not given. */
export function parseMonths(command: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < MONTHS_MIN || n > MONTHS_MAX) {
    throw new UsageError(`${command}: --months must be an integer from ${MONTHS_MIN} to ${MONTHS_MAX} (got '${raw}')`);
  }
  return n;
}

/** `n thing` / `n things`. */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? singular : pluralForm}`;
}

/** The package root (holds package.json): lib-cli/index.js (bundled) and cli/*.ts sit one or two levels below it. */
export function packageRoot(): string | undefined {
  for (const candidate of [join(__dirname, '..'), join(__dirname, '..', '..')]) {
    const p = join(candidate, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'medlaunch-elt') return candidate;
      } catch {
        // not ours
      }
    }
  }
  return undefined;
}

/** The version in the package's package.json. */
export function packageVersion(): string {
  const root = packageRoot();
  if (!root) return 'unknown';
  return String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown');
}

/**
 * `--name -1` → `--name=-1`: a negative number after a long option is that option's value, so the
 * command can reject it with its own message instead of parseArgs' "argument is ambiguous".
 */
export function negativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** A path relative to the current folder when it lies inside it, else absolute. */
export function shortPath(p: string): string {
  const rel = relative(process.cwd(), resolve(p));
  if (rel === '') return '.';
  return rel.startsWith('..') || isAbsolute(rel) ? resolve(p) : rel;
}

import { packageVersion } from './args';
import { UsageError } from './errors';

/** A CLI command: resolves to the process exit code. */
export type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  generate: {
    summary: 'generate synthetic facility records (NDJSON) under data/batch/<snapshot>/',
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    load: async () => (require('./commands/generate') as { run: Command }).run,
  },
  expiring: {
    summary: 'Stage 2: validate records, quarantine bad ones, write facilities expiring within N months',
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    load: async () => (require('./commands/expiring') as { run: Command }).run,
  },
  local: {
    summary: 'run all four stages on an embedded local AWS (no account needed)',
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    load: async () => (require('./commands/local') as { run: Command }).run,
  },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  report: { summary: 'render the run reports as one self-contained HTML page (local work folder or AWS)', load: async () => (require('./commands/report') as { run: Command }).run },
};

export const USAGE = `usage: medlaunch-elt <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run \`medlaunch-elt <command> --help\` (or \`medlaunch-elt help <command>\`) for the options of a command;
\`medlaunch-elt --version\` prints the version.`;

/**
 * Runs the CLI; returns the exit code. Usage errors print one line on stderr and return 2.
 * `--help`/`help` print the usage on stdout (exit 0); the bare command prints it on stderr (exit 2);
 * `help <command>` is `<command> --help`.
 */
export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (name === 'help' && rest.length > 0) {
    [name, rest] = [rest[0], ['--help']];
  } else if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`unknown command '${name}' (expected one of: ${Object.keys(COMMANDS).join(', ')})`);
    return await (await command.load())(rest);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e instanceof UsageError || e.name === 'UsageError' || e.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`medlaunch-elt: ${e.message.split('\n')[0]}\n`);
      return 2;
    }
    process.stderr.write(`medlaunch-elt: ${(e.message ?? String(e)).split('\n')[0]}\n`);
    if (process.env.MEDLAUNCH_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

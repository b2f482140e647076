/**
 * The docs stay navigable and agree with the code: every relative link in README.md and docs/*.md
 * resolves (to a file inside the repository and, for `#anchor` links into markdown, to a heading),
 * every backticked repository path names something that exists, every citation of a doc section
 * ("docs/runtime.md, \"Deleted files\"", "docs/contract.md §2") names a section that exists, nothing
 * cites a document outside the repository, and the user-facing defaults agree with src/contract.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_PREFIXES, ENV, EXPIRY_MONTHS, PREFIX_ENV } from '../../src/contract';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Files other helpers own that still fail a check below: skipped until they are fixed. The coordinator
 * empties this list once their branches are merged; it must end up empty.
 */
const PENDING_OTHER_OWNERS: readonly string[] = [
  'docs/cli.md', // "Stage 2", "Stage 1" instead of the job's name; cites README, "Input files" (docs/contract.md §1)
];

/** Words that may mention the product brief by name, as a deliberate explanation: none so far. */
const ALLOWED_BRIEF_MENTIONS: ReadonlyArray<{ file: string; text: string }> = [];

/** The top-level folders whose backticked paths must exist. */
const PATH_ROOTS = ['src', 'lambda-src', 'local', 'cli', 'scripts', 'test', 'bench', 'docs', 'data'];

const tracked: string[] = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n').filter((f) => f !== '');

/** README.md and docs/*.md, repository-relative. */
const DOCS: string[] = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/** Source files whose comments are checked too (the construct, the runtime, local mode, the CLI, tests, ...). */
const CODE: string[] = tracked.filter((f) =>
  /^(src|lambda-src|local|cli|scripts|test|bench|integ|examples|projenrc)\//.test(f) &&
  !/\.snapshot\//.test(f) && /\.(ts|mjs|js|sql|sh|py|java|go)$/.test(f) &&
  f !== 'test/docs/links.test.ts');

const checked = (files: string[]): string[] => files.filter((f) => !PENDING_OTHER_OWNERS.includes(f));

function read(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}

/** The text with fenced code blocks blanked (line numbers kept). */
function withoutFences(text: string): string {
  let inFence = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      return '';
    }
    return inFence ? '' : line;
  }).join('\n');
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

function headingsOf(file: string): string[] {
  return withoutFences(read(file)).split('\n')
    .map((line) => /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1])
    .filter((h): h is string => h !== undefined);
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (!anchors) {
    anchors = new Set();
    const seen = new Map<string, number>();
    for (const heading of headingsOf(file)) {
      const base = slug(heading);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    anchorCache.set(file, anchors);
  }
  return anchors;
}

/** 1-based line of an offset. */
function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

function linkProblems(file: string): string[] {
  const problems: string[] = [];
  // Inline code is not a link: blank it, keeping the backticks so `[`x`](y)` still parses.
  const text = withoutFences(read(file)).replace(/`[^`\n]+`/g, (m) => '`' + ' '.repeat(m.length - 2) + '`');
  for (const m of text.matchAll(/\[[^\]\n]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const where = `${file}:${lineOf(text, m.index)} (${target})`;
    const hash = target.indexOf('#');
    const rel = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? undefined : target.slice(hash + 1);
    const abs = rel === '' ? path.join(ROOT, file) : path.resolve(ROOT, path.dirname(file), rel);
    const inRepo = path.relative(ROOT, abs);
    if (inRepo.startsWith('..') || path.isAbsolute(inRepo)) {
      problems.push(`${where}: points outside the repository`);
    } else if (!fs.existsSync(abs)) {
      problems.push(`${where}: no such file`);
    } else if (anchor !== undefined && abs.endsWith('.md') && !anchorsOf(inRepo).has(anchor)) {
      problems.push(`${where}: no heading with anchor #${anchor} in ${inRepo}`);
    }
  }
  return problems;
}

function globRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}`);
}

/** Whether a backticked repository path names something that exists. */
function pathExists(p: string): boolean {
  const clean = p.replace(/[.,;:]+$/, '');
  if (/[*?]/.test(clean)) return tracked.some((f) => globRegExp(clean).test(f));
  if (fs.existsSync(path.join(ROOT, clean)) || fs.existsSync(path.join(ROOT, `${clean}.ts`))) return true;
  // `lambda-src/lib/keys.outputStem`: a module and one of its exports.
  const member = /^(.*)\.[A-Za-z_$][\w$]*$/.exec(clean);
  return member !== null && fs.existsSync(path.join(ROOT, `${member[1]}.ts`));
}

function pathProblems(file: string): string[] {
  const problems: string[] = [];
  const text = withoutFences(read(file));
  const rootPattern = new RegExp(`^(${PATH_ROOTS.join('|')})/\\S*$`);
  for (const m of text.matchAll(/`([^`\n]+)`/g)) {
    const span = m[1].trim();
    if (!rootPattern.test(span)) continue;
    if (/[<>{}…]|\.\.\./.test(span)) continue; // a placeholder: `lambda-src/handlers/<name>.ts`
    if (!pathExists(span)) problems.push(`${file}:${lineOf(text, m.index)}: \`${span}\` does not exist`);
  }
  return problems;
}

/**
 * `docs/x.md, "Heading"`, `docs/x.md, *Heading*` or `(README, "Heading")`: some heading of that file starts with the
 * cited words; `docs/contract.md §n`: the contract has section n.
 */
function citationProblems(file: string): string[] {
  const problems: string[] = [];
  const text = read(file);
  const plain = (h: string): string => h.replace(/[`*]/g, '').toLowerCase();
  for (const m of text.matchAll(/docs\/([a-z-]+\.md),\s*(?:"([^"\n]+)"|\*([^*\n]+)\*)/g)) {
    const doc = `docs/${m[1]}`;
    const cited = (m[2] ?? m[3]).replace(/[.,;]$/, '');
    const where = `${file}:${lineOf(text, m.index)}`;
    if (!fs.existsSync(path.join(ROOT, doc))) {
      problems.push(`${where}: cites ${doc}, which does not exist`);
    } else if (!headingsOf(doc).some((h) => plain(h).startsWith(plain(cited)))) {
      problems.push(`${where}: ${doc} has no section "${cited}"`);
    }
  }
  for (const m of text.matchAll(/\(README(?:\.md)?,\s*"([^"\n]+)"(?:\s+and\s+"([^"\n]+)")?/g)) {
    for (const cited of [m[1], m[2]].filter((c): c is string => c !== undefined)) {
      if (!headingsOf('README.md').some((h) => plain(h).startsWith(plain(cited)))) {
        problems.push(`${file}:${lineOf(text, m.index)}: README.md has no section "${cited}"`);
      }
    }
  }
  const contractSections = new Set(headingsOf('docs/contract.md')
    .map((h) => /^(\d+)\. /.exec(h)?.[1]).filter((n): n is string => n !== undefined));
  for (const m of text.matchAll(/contract\.md (§\d+(?:\s*[–-]\s*§\d+)?)/g)) {
    for (const n of m[1].match(/\d+/g) ?? []) {
      if (!contractSections.has(n)) problems.push(`${file}:${lineOf(text, m.index)}: docs/contract.md has no §${n}`);
    }
  }
  return problems;
}

/** Stage numbers live only in docs/design.md's mapping table ("Jobs, folders and handlers"); elsewhere the job is named. */
function stageNumberProblems(file: string): string[] {
  const problems: string[] = [];
  const text = withoutFences(read(file));
  let inMappingTable = false;
  text.split('\n').forEach((line, i) => {
    if (/^#{1,6} /.test(line)) inMappingTable = file === 'docs/design.md' && /^## Jobs, folders and handlers/.test(line);
    if (inMappingTable && line.startsWith('|')) return;
    if (/\bStages? [1-4]\b|\bstage [1-4]\b/.test(line)) problems.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
  });
  return problems;
}

function briefProblems(file: string): string[] {
  const problems: string[] = [];
  const lines = read(file).split('\n');
  lines.forEach((line, i) => {
    if (!/\bSPEC\b|SPEC\.md|\/work\/shared/.test(line)) return;
    if (ALLOWED_BRIEF_MENTIONS.some((a) => a.file === file && line.includes(a.text))) return;
    problems.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
  });
  return problems;
}

describe('docs', () => {
  test('the doc set is what these checks expect', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'docs/contract.md', 'docs/design.md']));
    expect(CODE.length).toBeGreaterThan(50);
  });

  test('every relative link resolves to a file in the repository and, for #anchors, to a heading', () => {
    expect(checked(DOCS).flatMap(linkProblems)).toEqual([]);
  });

  test('every backticked repository path exists', () => {
    expect(checked(DOCS).flatMap(pathProblems)).toEqual([]);
  });

  test('every cited doc section exists (docs and code comments)', () => {
    expect(checked([...DOCS, ...CODE]).flatMap(citationProblems)).toEqual([]);
  });

  test('docs name the job (validate, extract, count, publish), not its stage number', () => {
    expect(checked(DOCS).flatMap(stageNumberProblems)).toEqual([]);
  });

  test('nothing cites a document outside the repository (the contract is docs/contract.md)', () => {
    expect(checked([...DOCS, ...CODE]).flatMap(briefProblems)).toEqual([]);
  });

  test('docs/contract.md has exactly the four numbered sections code and tests cite', () => {
    expect(headingsOf('docs/contract.md').filter((h) => /^\d+\. /.test(h))).toEqual([
      '1. Input records', '2. Definitions', '3. Outputs', '4. Command-line contract',
    ]);
  });
});

describe('the docs agree with src/contract', () => {
  const readme = read('README.md');
  const propRow = (prop: string): string[] => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${prop}\` |`));
    if (!row) throw new Error(`README's Props table has no row for ${prop}`);
    return row.split('|').slice(1, -1).map((cell) => cell.trim());
  };

  test.each(Object.entries(DEFAULT_PREFIXES))('README Props and docs/contract.md §3: %s defaults to %s', (prop, value) => {
    expect(propRow(prop)[2]).toBe(`\`${value}\``);
    const contract = read('docs/contract.md');
    const section3 = contract.slice(contract.indexOf('## 3. '), contract.indexOf('## 4. '));
    expect(section3).toContain(`(\`${prop}\`)`);
    expect(section3).toContain(`\`${value}`);
  });

  test('README Props and docs/contract.md §2: expiryMonths default and range', () => {
    const [, , def, notes] = propRow('expiryMonths');
    expect(def).toBe(`\`${EXPIRY_MONTHS.default}\``);
    expect(notes).toMatch(new RegExp(`${EXPIRY_MONTHS.min}\\s*[-–]\\s*${EXPIRY_MONTHS.max}`));
    const contract = read('docs/contract.md');
    const section2 = contract.slice(contract.indexOf('## 2. '), contract.indexOf('## 3. '));
    expect(section2.replace(/\s+/g, ' ')).toContain(
      `an integer from ${EXPIRY_MONTHS.min} to ${EXPIRY_MONTHS.max}, default ${EXPIRY_MONTHS.default}`);
  });

  test('docs/design.md, "The runtime contract", names every environment variable', () => {
    const design = read('docs/design.md');
    const start = design.indexOf('## The runtime contract');
    expect(start).toBeGreaterThanOrEqual(0);
    const section = design.slice(start, design.indexOf('\n## ', start + 1));
    for (const name of [...Object.values(PREFIX_ENV), ...Object.values(ENV)]) {
      expect(section).toContain(`\`${name}\``);
    }
  });
});

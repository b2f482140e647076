// `npx projen test:python` / `npx projen test:java`: consumer checks of the jsii packages.
//
//   tsx scripts/consumer-parity.ts python
//     1. creates a fresh virtual environment and installs the built wheel (dist/python/*.whl) with the
//        aws-cdk-lib, constructs and cdk-nag versions of examples/python/requirements.txt (from PyPI);
//     2. synthesizes examples/python/app.py in it.
//   tsx scripts/consumer-parity.ts java
//     1. compiles examples/java with Maven against the package in dist/java (Maven repository layout);
//     2. synthesizes it (mvn exec:java).
//   Then, for both:
//     3. synthesizes the TypeScript twin of the same app (examples/python/parity.ts) from src/;
//     4. compares the two templates (asset hashes masked) and the two cloud assemblies' annotations:
//        CDK's errors/warnings/infos and, for Python, cdk-nag's AwsSolutions report (every rule and
//        resource with its outcome: Compliant, Non-Compliant, Suppressed with the reason).
//
// The jsii runtime of both languages runs the construct's JavaScript on the `node` first on PATH:
// node_modules/.bin (the pinned Node 24) is put first.
// Exit status 0 when both agree; 1 with the differences otherwise; 2 when something it needs is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { synthesizeTwin } from '../examples/python/parity';

const ROOT = resolve(__dirname, '..');
const STACK = 'MedlaunchElt';
const HASH = /[a-f0-9]{64}/gi;
const LANGUAGES = ['python', 'java'] as const;
type Language = (typeof LANGUAGES)[number];

const language = process.argv[2] as Language;
const tag = `test:${language}`;

function fail(code: number, message: string): never {
  console.error(`${tag}: ${message}`);
  process.exit(code);
}

if (!LANGUAGES.includes(language) || process.argv.length !== 3) {
  console.error(`usage: tsx scripts/consumer-parity.ts ${LANGUAGES.join('|')}`);
  process.exit(2);
}

function step<T>(label: string, fn: () => T): T {
  const start = Date.now();
  console.log(`${tag}: ${label} ...`);
  const result = fn();
  console.log(`${tag}: ${label} done (${((Date.now() - start) / 1000).toFixed(1)} s)`);
  return result;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env, cwd: ROOT });
  if (r.error) fail(2, `${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(1, `${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** The one file of dist/<dir> matching `pattern`, which must be newer than the compiled assembly it packages. */
function builtPackage(dir: string, pattern: RegExp, task: string): string {
  const base = join(ROOT, 'dist', dir);
  const found = existsSync(base) ? readdirSync(base, { recursive: true }).map(String).filter((f) => pattern.test(f)) : [];
  if (found.length !== 1) {
    fail(2, `expected one file matching ${pattern} in dist/${dir}, found ${found.length}: run 'npx projen compile && npx projen ${task}' first`);
  }
  const file = join(base, found[0]);
  const compiled = statSync(join(ROOT, '.jsii')).mtimeMs;
  if (statSync(file).mtimeMs < compiled) {
    fail(2, `dist/${dir}/${found[0]} is older than .jsii (the last compile): run 'npx projen ${task}' again`);
  }
  // The twin runs src/ as it is now: the package must hold the same code.
  const changed = readdirSync(join(ROOT, 'src'), { recursive: true }).map(String)
    .filter((f) => f.endsWith('.ts') && statSync(join(ROOT, 'src', f)).mtimeMs > compiled);
  if (changed.length > 0) {
    fail(2, `src/${changed[0]} changed after the last compile: run 'npx projen compile && npx projen ${task}' again`);
  }
  return file;
}

/** Pins of the example must be what the library is built and tested with (package.json devDependencies). */
function checkPins(file: string, pins: Map<string, string | undefined>): void {
  const devDeps: Record<string, string> = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies;
  for (const [name, pinned] of pins) {
    if (pinned !== devDeps[name]) fail(1, `${file} pins ${name} ${pinned}, package.json has ${devDeps[name]}`);
  }
}

/** The environment of the consumer's process: the pinned Node first on PATH, no CDK CLI variables. */
function consumerEnv(extraPath: string[] = [], extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...extra,
    PATH: [join(ROOT, 'node_modules', '.bin'), ...extraPath, process.env.PATH].join(delimiter),
  };
  delete env.CDK_OUTDIR;
  delete env.CDK_CONTEXT_JSON;
  return env;
}

function synthPython(work: string, outdir: string): void {
  const example = join(ROOT, 'examples', 'python');
  const requirements = readFileSync(join(example, 'requirements.txt'), 'utf8');
  const pin = (name: string): string | undefined => new RegExp(`^${name}==(\\S+)`, 'm').exec(requirements)?.[1];
  checkPins('examples/python/requirements.txt', new Map(['aws-cdk-lib', 'constructs', 'cdk-nag'].map((n) => [n, pin(n)])));
  const wheel = builtPackage('python', /\.whl$/, 'package:python');
  const venv = join(work, 'venv');
  const python = join(venv, 'bin', 'python');
  step('fresh virtual environment + pip install (wheel, aws-cdk-lib, constructs, cdk-nag from PyPI)', () => {
    run('python3', ['-m', 'venv', venv]);
    run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', wheel, '-r', join(example, 'requirements.txt')]);
  });
  step('synthesize examples/python/app.py (Python, jsii runtime on the pinned Node)', () => {
    run(python, [join(example, 'app.py'), '--outdir', outdir], consumerEnv([join(venv, 'bin')], { VIRTUAL_ENV: venv }));
  });
}

function synthJava(outdir: string): void {
  const example = join(ROOT, 'examples', 'java');
  const pom = readFileSync(join(example, 'pom.xml'), 'utf8');
  const pin = (name: string): string | undefined => new RegExp(`<${name}\\.version>([^<]+)<`).exec(pom)?.[1];
  checkPins('examples/java/pom.xml', new Map(['aws-cdk-lib', 'constructs'].map((n) => [n, pin(n)])));
  builtPackage('java', /medlaunch-elt-[^/]*\d\.jar$/, 'package:java');
  // Maven never re-fetches a release it has cached: the example uses its own local repository
  // (examples/java/target/m2, reused across runs for aws-cdk-lib and the plugins) and drops its copy of
  // medlaunch-elt first, so the jar under test is always the one just built into dist/java.
  const repo = join(example, 'target', 'm2');
  rmSync(join(repo, 'io', 'github', 'medlaunch', 'medlaunch-elt'), { recursive: true, force: true });
  step('mvn compile + exec:java examples/java (Java, jsii runtime on the pinned Node)', () => {
    run('mvn', ['-B', '-q', '-e', `-Dmaven.repo.local=${repo}`, '-f', join(example, 'pom.xml'), 'compile', 'exec:java',
      `-Dexec.args=--outdir ${outdir}`], consumerEnv());
  });
}

const mask = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(HASH, '<hash>'));

/** Paths where two JSON values differ (at most `limit`). */
function diff(a: any, b: any, path = '', out: string[] = [], limit = 20): string[] {
  if (out.length >= limit) return out;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diff(a[k], b[k], `${path}/${k}`, out, limit);
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push(`${path || '/'}: ${language} ${JSON.stringify(a)?.slice(0, 200)} | typescript ${JSON.stringify(b)?.slice(0, 200)}`);
  }
  return out;
}

interface Assembly { template: any; annotations: string[]; nag: string[] }

function readAssembly(outdir: string): Assembly {
  const template = JSON.parse(readFileSync(join(outdir, `${STACK}.template.json`), 'utf8'));
  // Stack metadata sits in manifest.json or, for large stacks, in the artifact's additional metadata file.
  const artifact = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')).artifacts?.[STACK] ?? {};
  const metadata: Record<string, { type: string; data: unknown }[]> = {
    ...artifact.metadata,
    ...(artifact.additionalMetadataFile ? JSON.parse(readFileSync(join(outdir, artifact.additionalMetadataFile), 'utf8')) : {}),
  };
  const annotations = Object.entries(metadata).flatMap(([path, entries]) => entries
    .filter((e) => /^aws:cdk:(error|warning|info)$/.test(e.type))
    .map((e) => `${e.type.slice('aws:cdk:'.length)} ${path} ${String(e.data).replace(HASH, '<hash>')}`))
    .sort();
  const report = join(outdir, `AwsSolutions--${STACK}-NagReport.csv`);
  const nag = existsSync(report) ? readFileSync(report, 'utf8').trim().split('\n').slice(1).sort() : [];
  return { template: mask(template), annotations, nag };
}

function only(label: string, a: string[], b: string[]): string[] {
  const extra = a.filter((x) => !b.includes(x));
  return extra.length > 0 ? [label, ...extra.map((x) => `  ${x}`)] : [];
}

const work = mkdtempSync(join(tmpdir(), `medlaunch-elt-${language}-`));
const consumerOut = join(work, `${language}.out`);
const twinOut = join(work, 'typescript.out');
const nag = language === 'python';
if (language === 'python') synthPython(work, consumerOut);
else synthJava(consumerOut);
step('synthesize examples/python/parity.ts (the TypeScript twin)', () => synthesizeTwin(twinOut, { nag }));

const consumer = readAssembly(consumerOut);
const twin = readAssembly(twinOut);
const templateDiffs = diff(consumer.template, twin.template);
const problems = [
  ...(templateDiffs.length > 0 ? ['templates differ (asset hashes masked):', ...templateDiffs.map((d) => `  ${d}`)] : []),
  ...only(`annotations only in the ${language} app:`, consumer.annotations, twin.annotations),
  ...only('annotations only in the TypeScript twin:', twin.annotations, consumer.annotations),
  ...only(`cdk-nag report rows only in the ${language} app:`, consumer.nag, twin.nag),
  ...only('cdk-nag report rows only in the TypeScript twin:', twin.nag, consumer.nag),
  ...(nag && consumer.nag.length === 0 ? [`cdk-nag did not run in the ${language} app (no AwsSolutions report)`] : []),
];
if (problems.length > 0) {
  console.error(problems.join('\n'));
  fail(1, `the ${language} app and its TypeScript twin disagree; both cloud assemblies are kept in ${work}`);
}
rmSync(work, { recursive: true, force: true });

const resources = Object.keys(consumer.template.Resources ?? {}).length;
const count = (level: string): number => consumer.annotations.filter((a) => a.startsWith(`${level} `)).length;
const outcome = (o: string): number => consumer.nag.filter((r) => r.split(',')[2] === `"${o}"`).length;
console.log(`${tag}: ok: ${resources} resources, template identical to TypeScript's (asset hashes masked); ` +
  `${count('error')} errors, ${count('warning')} warnings in the assembly` +
  (nag ? `; cdk-nag AwsSolutions report: ${outcome('Compliant')} compliant, ${outcome('Suppressed')} acknowledged, ` +
    `${outcome('Non-Compliant')} non-compliant, same as TypeScript` : ''));

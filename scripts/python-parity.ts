// `npx projen test:python`: the Python consumer check of the jsii package.
//
// 1. creates a fresh virtual environment and installs the built wheel (dist/python/*.whl) with the
//    aws-cdk-lib, constructs and cdk-nag versions of examples/python/requirements.txt (from PyPI);
// 2. synthesizes examples/python/app.py in it (the jsii runtime runs on the `node` first on PATH:
//    node_modules/.bin, the pinned Node 24);
// 3. synthesizes the TypeScript twin of the same app (examples/python/parity.ts) from lib/;
// 4. compares the two templates (asset hashes masked) and the cdk-nag annotations of the two cloud
//    assemblies: CDK's error/warning/info annotations and cdk-nag's AwsSolutions report (every rule
//    and resource with its outcome: Compliant, Non-Compliant, Suppressed with the reason).
//
// Exit status 0 when both agree; 1 with the differences otherwise; 2 when something it needs is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { synthesizeTwin } from '../examples/python/parity';

const ROOT = resolve(__dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'python');
const STACK = 'MedlaunchElt';
const HASH = /[a-f0-9]{64}/gi;

function fail(code: number, message: string): never {
  console.error(`test:python: ${message}`);
  process.exit(code);
}

function step<T>(label: string, fn: () => T): T {
  const start = Date.now();
  console.log(`test:python: ${label} ...`);
  const result = fn();
  console.log(`test:python: ${label} done (${((Date.now() - start) / 1000).toFixed(1)} s)`);
  return result;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env, cwd: ROOT });
  if (r.error) fail(2, `${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(1, `${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** The one wheel in dist/python, which must be newer than the compiled assembly it packages. */
function findWheel(): string {
  const dir = join(ROOT, 'dist', 'python');
  const wheels = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.whl')) : [];
  if (wheels.length !== 1) {
    fail(2, `expected one wheel in dist/python, found ${wheels.length}: run 'npx projen compile && npx projen package:python' first`);
  }
  const wheel = join(dir, wheels[0]);
  if (statSync(wheel).mtimeMs < statSync(join(ROOT, '.jsii')).mtimeMs) {
    fail(2, `${wheels[0]} is older than .jsii (the last compile): run 'npx projen package:python' again`);
  }
  return wheel;
}

/** requirements.txt must pin what the library is built and tested with (package.json devDependencies). */
function checkPins(): void {
  const devDeps: Record<string, string> = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies;
  const pins = new Map(readFileSync(join(EXAMPLE, 'requirements.txt'), 'utf8').split('\n')
    .map((l) => /^([a-z0-9-]+)==(\S+)/.exec(l.trim())).filter((m): m is RegExpExecArray => !!m).map((m) => [m[1], m[2]]));
  for (const name of ['aws-cdk-lib', 'constructs', 'cdk-nag']) {
    if (pins.get(name) !== devDeps[name]) {
      fail(1, `examples/python/requirements.txt pins ${name}==${pins.get(name)}, package.json has ${devDeps[name]}`);
    }
  }
}

const mask = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(HASH, '<hash>'));

/** Paths where two JSON values differ (at most `limit`). */
function diff(a: any, b: any, path = '', out: string[] = [], limit = 20): string[] {
  if (out.length >= limit) return out;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diff(a[k], b[k], `${path}/${k}`, out, limit);
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push(`${path || '/'}: python ${JSON.stringify(a)?.slice(0, 200)} | typescript ${JSON.stringify(b)?.slice(0, 200)}`);
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

const wheel = findWheel();
checkPins();
const work = mkdtempSync(join(tmpdir(), 'medlaunch-elt-python-'));
const venv = join(work, 'venv');
const python = join(venv, 'bin', 'python');

step('fresh virtual environment + pip install (wheel, aws-cdk-lib, constructs, cdk-nag)', () => {
  run('python3', ['-m', 'venv', venv]);
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', wheel, '-r', join(EXAMPLE, 'requirements.txt')]);
});

const pyOut = join(work, 'python.out');
const tsOut = join(work, 'typescript.out');
step('synthesize examples/python/app.py (Python, jsii runtime on the pinned Node)', () => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [join(ROOT, 'node_modules', '.bin'), join(venv, 'bin'), process.env.PATH].join(delimiter),
    VIRTUAL_ENV: venv,
  };
  delete env.CDK_OUTDIR;
  run(python, [join(EXAMPLE, 'app.py'), '--outdir', pyOut], env);
});
step('synthesize examples/python/parity.ts (the TypeScript twin)', () => synthesizeTwin(tsOut));

const py = readAssembly(pyOut);
const ts = readAssembly(tsOut);
const problems: string[] = [];

const templateDiffs = diff(py.template, ts.template);
if (templateDiffs.length > 0) problems.push('templates differ (asset hashes masked):', ...templateDiffs.map((d) => `  ${d}`));

const onlyPy = py.annotations.filter((a) => !ts.annotations.includes(a));
const onlyTs = ts.annotations.filter((a) => !py.annotations.includes(a));
if (onlyPy.length > 0) problems.push('cdk-nag / CDK annotations only in the Python app:', ...onlyPy.map((a) => `  ${a}`));
if (onlyTs.length > 0) problems.push('cdk-nag / CDK annotations only in the TypeScript twin:', ...onlyTs.map((a) => `  ${a}`));
const nagOnlyPy = py.nag.filter((r) => !ts.nag.includes(r));
const nagOnlyTs = ts.nag.filter((r) => !py.nag.includes(r));
if (nagOnlyPy.length > 0) problems.push('cdk-nag report rows only in the Python app:', ...nagOnlyPy.map((r) => `  ${r}`));
if (nagOnlyTs.length > 0) problems.push('cdk-nag report rows only in the TypeScript twin:', ...nagOnlyTs.map((r) => `  ${r}`));
if (py.nag.length === 0) problems.push('cdk-nag did not run in the Python app (no AwsSolutions report)');
const count = (level: string): number => py.annotations.filter((a) => a.startsWith(`${level} `)).length;
const outcome = (o: string): number => py.nag.filter((r) => r.split(',')[2] === `"${o}"`).length;

const resources = Object.keys(py.template.Resources ?? {}).length;
if (problems.length > 0) {
  console.error(problems.join('\n'));
  fail(1, `the Python app and its TypeScript twin disagree; both cloud assemblies are kept in ${work}`);
}
rmSync(work, { recursive: true, force: true });
console.log(`test:python: ok: ${resources} resources, template identical to TypeScript's (asset hashes masked); ` +
  `cdk-nag AwsSolutions from Python: ${count('error')} errors, ${count('warning')} warnings; report: ${outcome('Compliant')} compliant, ` +
  `${outcome('Suppressed')} acknowledged, ${outcome('Non-Compliant')} non-compliant, same as TypeScript`);

/**
 * The work folder of a run: only a folder an earlier run created (it holds {@link WORKDIR_MARKER})
 * is ever cleared, and never one that is or holds the current folder, the repository, the home
 * folder, `/` or the --data folder.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';

/** The marker file a run writes into the work folder it creates; only a folder holding it is cleared. */
export const WORKDIR_MARKER = '.medlaunch-elt-workdir';

/** The embedded S3's root inside the work folder: `<workDir>/s3/<bucket>/<key>` is each current object, as its file. */
export const S3_FOLDER = 's3';

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

const within = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(sep) ? parent : `${parent}${sep}`);

function isPackageRoot(d: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name === 'medlaunch-elt';
  } catch {
    return false;
  }
}

/** The folders a run never clears: `/`, the home folder, the current folder, the repository root and the package root. */
function protectedFolders(): string[] {
  const out = [resolve('/'), homedir()];
  for (let d = process.cwd(); ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) {
      out.push(d);
      break;
    }
    if (dirname(d) === d) break;
  }
  for (let d = __dirname; dirname(d) !== d; d = dirname(d)) {
    if (isPackageRoot(d)) {
      out.push(d);
      break;
    }
  }
  out.push(process.cwd());
  return [...new Set(out.map(real))];
}

/**
 * Why the work folder may not be used, or undefined when it may: it must not be (or contain) the
 * current folder, the repository root, the home folder or `/`; it must not hold, lie inside or be
 * the --data folder; and when it exists and is not empty it must carry {@link WORKDIR_MARKER}.
 */
export function checkWorkDir(workDir: string, dataDir: string): string | undefined {
  const w = real(workDir);
  const data = real(dataDir);
  for (const p of protectedFolders()) {
    if (within(p, w)) return `it is or contains ${p === real(process.cwd()) ? 'the current folder' : p === real(homedir()) ? 'the home folder' : p === resolve('/') ? '/' : `the repository root ${p}`}`;
  }
  if (within(data, w) || within(w, data)) return `it holds, lies inside or is the --data folder ${dataDir}`;
  if (!existsSync(w)) return undefined;
  if (!statSync(w).isDirectory()) return 'it is a file, not a folder';
  if (readdirSync(w).length > 0 && !existsSync(join(w, WORKDIR_MARKER)) && !isUnmarkedRunFolder(w)) {
    return `it is not empty and was not created by medlaunch-elt local (no ${WORKDIR_MARKER} inside); it is never cleared — pass a new or empty folder`;
  }
  return undefined;
}

/** The entries a run writes at the top of its work folder. */
const RUN_ENTRIES = new Set(['s3', 'athena', 'cdk.out', 'alerts.jsonl', 'extract', 'executions', 'report.html']);

/**
 * A work folder written by a version that did not mark it yet: nothing but a run's own entries, with the
 * cloud assembly a run synthesizes (`cdk.out/manifest.json`).
 */
function isUnmarkedRunFolder(dir: string): boolean {
  return readdirSync(dir).every((name) => RUN_ENTRIES.has(name)) && existsSync(join(dir, 'cdk.out', 'manifest.json'));
}

/** Clears a work folder an earlier run created (or creates it) and marks it as the run's own. */
export function prepareWorkDir(workDir: string, dataDir: string): void {
  const reason = checkWorkDir(workDir, dataDir);
  if (reason) throw new Error(`--workdir ${workDir}: ${reason}`);
  if (existsSync(workDir)) {
    for (const name of readdirSync(workDir)) if (name !== WORKDIR_MARKER) rmSync(join(workDir, name), { recursive: true, force: true });
  }
  mkdirSync(workDir, { recursive: true });
  writeFileSync(join(workDir, WORKDIR_MARKER), 'Created by `medlaunch-elt local`; the next run clears this folder.\n');
}

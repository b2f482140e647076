/** Runs the built CLI (`bin/medlaunch-elt.js` → lib-cli, built by `node scripts/bundle.mjs`) as a user would. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'medlaunch-elt.js');
export const SHIPPED = join(ROOT, 'data', 'batch');

export interface CliResult { status: number | null; stdout: string; stderr: string }

export function cli(args: string[], opts: { cwd: string; env?: Record<string, string>; timeout?: number }): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `medlaunch-${prefix}-`));
}

/** A copy of the shipped data set, to add files to. */
export function copyOfShipped(into: string): string {
  const dir = join(into, 'data');
  cpSync(SHIPPED, dir, { recursive: true });
  return dir;
}

/** path → sha256 of every file under a folder (to prove it was not touched). */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
      else out[`${rel}${name}`] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/** Like {@link cli}, without blocking the event loop (for tests that serve something in-process, e.g. a local S3). */
export function cliAsync(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  return new Promise((resolveResult, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += String(d); });
    child.stderr.on('data', (d) => { stderr += String(d); });
    child.on('error', reject);
    child.on('close', (status) => resolveResult({ status, stdout, stderr }));
  });
}

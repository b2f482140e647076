#!/usr/bin/env node
// Lints the synthesized integ snapshot templates (integ/*.snapshot/*.template.json) with cfn-lint.
// Ignored, and nothing else: W3005 everywhere (CDK adds a DependsOn next to the GetAtt that already orders the two
// resources) and, on the integ-tests assertion stacks only (*DeployAssert*), W3037 for the s3:ListObjectsV2 action
// that integ-tests-alpha generates (the IAM action is s3:ListBucket). Any other finding fails.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error('cfnlint: cfn-lint is not on PATH; install it with: pip install cfn-lint');
  process.exit(1);
}

const templates = readdirSync('integ', { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name.endsWith('.snapshot'))
  .flatMap((d) => readdirSync(join('integ', d.name)).filter((f) => f.endsWith('.template.json')).map((f) => join('integ', d.name, f)))
  .sort();
if (templates.length === 0) {
  console.error('cfnlint: no integ/*.snapshot/*.template.json (run npx projen integ:update first)');
  process.exit(1);
}
const groups = [
  { files: templates.filter((f) => !f.includes('DeployAssert')), ignore: ['W3005'] },
  { files: templates.filter((f) => f.includes('DeployAssert')), ignore: ['W3005', 'W3037'] },
];
let failed = false;
for (const { files, ignore } of groups) {
  if (files.length === 0) continue;
  console.log(`cfn-lint ${files.join(' ')} (ignoring ${ignore.join(', ')})`);
  const r = spawnSync('cfn-lint', [...files, '--ignore-checks', ...ignore], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

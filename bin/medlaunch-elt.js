#!/usr/bin/env node
'use strict';
// Entry point of `npx medlaunch-elt`. The CLI is bundled into lib-cli/ by `npm ci` (prepare) and
// by the build; it refuses to run on an end-of-life Node.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `medlaunch-elt: Node ${process.versions.node} is not supported; use Node 22 or 24 (npx/npm scripts in this repository use the pinned node dev dependency)\n`,
  );
  process.exit(1);
}
let cli;
try {
  cli = require('../lib-cli/index.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('lib-cli')) {
    process.stderr.write('medlaunch-elt: the CLI is not built; run `npm ci` (or `npx projen bundle`) first\n');
    process.exit(1);
  }
  throw err;
}
cli.main(process.argv.slice(2)).then(
  (code) => process.exit(code ?? 0),
  (e) => {
    process.stderr.write(`medlaunch-elt: ${e && e.message ? e.message : String(e)}\n`);
    process.exit(1);
  },
);

// Bundles every Lambda handler in lambda-src/handlers/*.ts into assets/lambda/<name>/index.js and
// the CLI (cli/index.ts) into lib-cli/index.js. Runs on `npm ci` (prepare) and before compile.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const handlersDir = join(root, 'lambda-src', 'handlers');
const assetsDir = join(root, 'assets', 'lambda');
const MAX_BUNDLE_BYTES = 500 * 1024;
const sqlDir = join(root, 'lambda-src', 'sql');
const sqlFiles = existsSync(sqlDir) ? readdirSync(sqlDir).filter((f) => f.endsWith('.sql')) : [];
// The esbuild options of every Lambda bundle (also used by bench/stage2.ts, so it measures what ships).
// mainFields prefers the SDK's ES module builds: they tree-shake (the CJS builds pull in every command).
// Its `alias` paths are relative to the repository root (esbuild resolves them from the working directory).
const LAMBDA_BUILD_OPTIONS = JSON.parse(readFileSync(join(root, 'scripts', 'lambda-esbuild.json'), 'utf8'));
LAMBDA_BUILD_OPTIONS.absWorkingDir = root;

/** The SQL files ship next to the bundle (lambda-src/sql/index.ts reads `<dir>/sql/<name>.sql`). */
function copySql(outDir) {
  mkdirSync(join(outDir, 'sql'), { recursive: true });
  for (const f of sqlFiles) copyFileSync(join(sqlDir, f), join(outDir, 'sql', f));
}

rmSync(assetsDir, { recursive: true, force: true });
const handlers = existsSync(handlersDir)
  ? readdirSync(handlersDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  : [];
const sizes = [];
for (const file of handlers) {
  const name = basename(file, '.ts');
  const outfile = join(assetsDir, name, 'index.js');
  mkdirSync(dirname(outfile), { recursive: true });
  await build({ ...LAMBDA_BUILD_OPTIONS, entryPoints: [join(handlersDir, file)], outfile });
  copySql(dirname(outfile));
  sizes.push([name, statSync(outfile).size]);
}
for (const [name, size] of sizes) {
  const kb = (size / 1024).toFixed(0);
  console.log(`bundle: assets/lambda/${name}/index.js ${kb} KB`);
  if (size > MAX_BUNDLE_BYTES) {
    console.error(`bundle: ${name} is ${kb} KB, over the ${MAX_BUNDLE_BYTES / 1024} KB budget`);
    process.exitCode = 1;
  }
}

const cliEntry = join(root, 'cli', 'index.ts');
if (existsSync(cliEntry)) {
  await build({
    entryPoints: [cliEntry],
    outfile: join(root, 'lib-cli', 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    sourcemap: 'inline',
    // Native or heavy packages stay external and are resolved from node_modules at run time.
    external: ['@duckdb/node-api', 'aws-cdk-lib', 'constructs', 'esbuild', 'aws-local-stepfunctions', 'vega', 'vega-lite', '@viz-js/viz'],
    logLevel: 'warning',
  });
  copySql(join(root, 'lib-cli'));
  console.log('bundle: lib-cli/index.js');
}

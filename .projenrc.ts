import { awscdk, javascript, JsonFile } from 'projen';

const project = new awscdk.AwsCdkConstructLibrary({
  author: 'medlaunch-elt maintainers',
  authorAddress: 'maintainers@medlaunch-elt.dev',
  cdkVersion: '2.245.0',
  constructsVersion: '10.5.1',
  experimentalIntegRunner: true,
  jsiiVersion: '~5.9.0',
  typescriptVersion: '~5.9.0',
  name: 'medlaunch-elt',
  description:
    'Production-ready ELT pipeline for healthcare-accreditation facility records: an AWS CDK construct (S3, Glue, Athena, Lambda, Step Functions, SNS) that also runs end to end on a laptop with no AWS account.',
  keywords: ['cdk', 'aws-cdk', 'athena', 'glue', 'step-functions', 'elt', 'healthcare', 'accreditation'],
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  defaultReleaseBranch: 'main',
  repositoryUrl: 'https://github.com/medlaunch/medlaunch-elt.git',
  license: 'Apache-2.0',
  workflowNodeVersion: '24.x',
  github: false,
  release: false,
  depsUpgrade: false,
  pullRequestTemplate: false,
  docgen: true,
  bin: { 'medlaunch-elt': 'bin/medlaunch-elt.js' },
  devDeps: [
    // A supported Node LTS for every npm script (the machine's Node 20 is end-of-life).
    'node@24.21.0',
    '@types/node@^24',
    '@aws-cdk/integ-runner@2.197.10',
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    'cdk-nag@2.38.2',
    // Lambda runtime (pre-bundled with esbuild into assets/lambda/*)
    '@aws-sdk/client-s3@^3',
    '@aws-sdk/lib-storage@^3',
    '@aws-sdk/client-athena@^3',
    '@aws-sdk/client-sns@^3',
    '@aws-lambda-powertools/logger@^2',
    '@aws-lambda-powertools/metrics@^2',
    'ajv@^8',
    'json-schema-to-ts@^3',
    '@types/aws-lambda',
    // Local AWS
    '@duckdb/node-api@1.5.6-r.1',
    'aws-local-stepfunctions@3.0.0',
    'fast-xml-parser@^5',
    // Tooling
    'esbuild@^0.28',
    'tsx@^4',
    'aws-sdk-client-mock@^4',
    'aws-sdk-client-mock-jest@^4',
    'dt-sql-parser@4.5.1',
    // Test oracle for the local IAM evaluator (test/local/iam-oracle.test.ts). AGPL-3.0: a dev
    // dependency only, never imported from local/ or shipped.
    '@cloud-copilot/iam-simulate@0.1.173',
    // `medlaunch-elt report` (docs/report.md): charts (Vega-Lite rendered to SVG in Node; 5.x ships CommonJS
    // builds, 6.x is ESM-only), the state machine diagram (Graphviz compiled to WebAssembly), Step Functions
    // reads in AWS, and the browser test (drives the system's Chromium; downloads no browser).
    'vega@^5.33.1',
    'vega-lite@^5.23.0',
    '@viz-js/viz@^3.31.0',
    '@aws-sdk/client-sfn@^3',
    'playwright-core@^1.65.1',
  ],
  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testTimeout: 120_000,
      maxWorkers: 2,
      setupFiles: ['<rootDir>/test/setup-env.ts'],
      coveragePathIgnorePatterns: ['/node_modules/', '/assets/', '/cdk.out/', '\\.generated\\.ts$'],
    },
  },
  tsconfigDev: {
    include: ['../src/**/*.ts', '../lambda-src/**/*.ts', '../local/**/*.ts', '../cli/**/*.ts', '../bench/**/*.ts', '../integ/**/*.ts'],
    compilerOptions: {},
  },
  gitignore: ['/assets/', '/lib-cli/', '/.local-aws/', '/bench/out/', 'cdk.out/', '/tmp/'],
  npmignoreEnabled: true,
  eslintOptions: { dirs: ['src'], devdirs: ['test', 'lambda-src', 'local', 'cli', 'bench', 'integ', 'projenrc'] },
  // --- Other languages (jsii-pacmak): packaged by `package:python|java|go` into dist/, never published
  // (release stays off). The coordinates are the ones the README's install section documents.
  publishToPypi: { distName: 'medlaunch-elt', module: 'medlaunch_elt' },
  publishToMaven: { mavenGroupId: 'io.github.medlaunch', mavenArtifactId: 'medlaunch-elt', javaPackage: 'io.github.medlaunch.elt' },
  publishToGo: { moduleName: 'github.com/medlaunch/medlaunch-elt-go', packageName: 'medlaunchelt' },
  // --- end other languages
});

// The per-file coverage text table is wider than a terminal: the console gets the one-screen summary,
// the per-file detail stays in coverage/ (lcov HTML, cobertura, clover, json). Set after construction,
// because projen merges jestConfig arrays with its defaults (which include the wide 'text').
project.jest?.config && (project.jest.config.coverageReporters = ['json', 'lcov', 'clover', 'cobertura', 'text-summary']);

// ts-jest: transpile only (types are checked by the `typecheck` task), which keeps the suite fast.
project.jest?.config && (project.jest.config.transform = {
  '^.+\\.[t]sx?$': ['ts-jest', { tsconfig: 'test/tsconfig.json' }],
});

// Pre-bundle every Lambda handler and the CLI with esbuild. A published construct library must ship
// ready-made assets instead of resolving NodejsFunction entries inside its consumers' apps.
const bundle = project.addTask('bundle', {
  description: 'Bundle the Lambda handlers (assets/lambda/*) and the CLI (lib-cli/) with esbuild',
  exec: 'node scripts/bundle.mjs',
});
project.preCompileTask.spawn(bundle);
// `npm ci` on a fresh clone runs `prepare`: the CLI and the Lambda assets are ready right away.
project.package.setScript('prepare', 'node scripts/bundle.mjs');

// Build-time code generation lives outside the runtime tree: the record validator is compiled ahead of time from
// the one schema (src/schema/facility-record.ts); test/runtime/validator.test.ts fails when it is stale.
project.addTask('gen:validator', {
  description: 'Regenerate lambda-src/schema/validator.generated.ts from the record schema (ajv standalone code)',
  exec: 'tsx scripts/generate-validator.ts',
});
// Generated files are marked generated (collapsed in diffs, left out of language statistics and coverage).
project.gitattributes.addAttributes('/lambda-src/schema/validator.generated.ts', 'linguist-generated');

const typecheck = project.addTask('typecheck', {
  description: 'Type-check everything outside src/ (lambda-src, local, cli, bench, integ, test)',
  exec: 'tsc --noEmit -p test/tsconfig.json',
});
project.testTask.prependSpawn(typecheck);
// Tests run the bundled Lambda assets and CLI (end to end): rebuild them first (a couple of seconds).
project.testTask.prependSpawn(bundle);

// integ-runner: tests live in integ/ (integ.*.ts) with committed snapshots; `integ` verifies them
// without deploying, `integ:update` rewrites them after an intended change. It uses --force: with
// --update-on-failed a change to Lambda code alone counts as UNCHANGED (integ-runner ignores asset
// hashes), which would leave stale asset copies in the snapshot.
for (const [name, extra] of [['integ', []], ['integ:update', ['--dry-run', '--force']]] as const) {
  const t = project.tasks.tryFind(name)!;
  t.reset();
  t.exec(['integ-runner', '--directory', 'integ', '--language', 'typescript', ...extra].join(' '), { receiveArgs: true });
}

// cfn-lint over the synthesized integ snapshot templates, after `integ` in `test` (CI installs it: `pip install cfn-lint`).
// scripts/cfnlint.mjs ignores exactly W3005 (CDK's redundant DependsOn) and, on the assertion stack only, W3037
// (integ-tests-alpha's s3:ListObjectsV2); it fails with a one-line message when cfn-lint is not on PATH.
const cfnlint = project.addTask('cfnlint', {
  description: 'Lint the integ snapshot templates with cfn-lint (must be on PATH: pip install cfn-lint)',
  exec: 'node scripts/cfnlint.mjs',
});
project.testTask.spawn(cfnlint);

// eslint's typed rules find a file's program through the nearest tsconfig.json: give every source folder outside
// src/ and test/ one that extends the dev config.
for (const dir of ['lambda-src', 'local', 'cli', 'bench', 'integ']) {
  new JsonFile(project, `${dir}/tsconfig.json`, {
    obj: { extends: '../test/tsconfig.json', include: ['**/*.ts'] },
    marker: false,
  });
}

project.addTask('bench', {
  description: 'Run the benchmarks in bench/ (reported, not pass/fail)',
  exec: 'tsx bench/run.ts',
  receiveArgs: true,
});

project.addTask('local', {
  description: 'Run the whole pipeline locally on the shipped data (npx medlaunch-elt local)',
  exec: 'node bin/medlaunch-elt.js local',
  receiveArgs: true,
});

// npm 11 runs dependencies' install scripts only when allowed: node (the pinned LTS binary) and esbuild.
project.package.addField('allowScripts', { node: true, esbuild: true });

project.npmignore?.addPatterns('/lambda-src/', '/local/**/*.ts', '/cli/', '/bench/', '/integ/', '/scripts/', '/data/', '/docs/', '/.local-aws/', 'cdk.out/');
project.npmignore?.include('/assets/', '/lib-cli/', '/bin/');

// --- Other languages: consumer checks of the jsii packages (see README "Other languages"). They need `compile`
// and the language's `package:*` first; CI runs them after `npm test`.
// test:python installs dist/python/*.whl in a fresh venv, synthesizes examples/python/app.py and compares it with
// its TypeScript twin (template and cdk-nag findings).
project.addTask('test:python', {
  description: 'Python consumer check: install the built wheel in a fresh venv, synthesize examples/python and compare with TypeScript',
  exec: 'tsx scripts/consumer-parity.ts python',
});
// test:java compiles examples/java against dist/java (Maven), synthesizes it and compares it with the same twin.
project.addTask('test:java', {
  description: 'Java consumer check: compile examples/java against the built Maven package, synthesize it and compare with TypeScript',
  exec: 'tsx scripts/consumer-parity.ts java',
});
// package:go generates the module with jsii-pacmak (--code-only) and builds a scratch copy of it with
// scripts/go-build.sh (go mod tidy, go build, go vet), which copes with a Go proxy that lacks aws-cdk-go's
// minimum version.
const packageGo = project.tasks.tryFind('package:go')!;
packageGo.reset('jsii-pacmak -v --target go --code-only');
packageGo.exec('bash scripts/go-build.sh');
project.tsconfigDev.addInclude('../examples/**/*.ts');
project.tsconfigDev.addInclude('../scripts/**/*.ts');
for (const dir of ['examples', 'scripts']) {
  new JsonFile(project, `${dir}/tsconfig.json`, { obj: { extends: '../test/tsconfig.json', include: ['**/*.ts'] }, marker: false });
  project.eslint?.addLintPattern(dir);
  project.eslint?.allowDevDeps(`**/${dir}/**`);
}
project.npmignore?.addPatterns('/examples/');
project.gitignore.addPatterns('/examples/**/cdk.out/', '/examples/**/.venv/', '/examples/java/target/');
// --- end other languages

project.synth();

import * as path from 'path';

/** The Lambda handlers shipped with the library, pre-built by scripts/bundle.mjs. */
export type LambdaAssetName = 'validator' | 'query-runner' | 'publish-results';

/**
 * Folder of a pre-built Lambda asset (`index.js` plus its `sql/` files). Resolved relative to this
 * module so that it works from `src/` (ts-jest), `lib/` (jsii) and `lib-cli/` (the CLI bundle).
 */
export function lambdaAssetPath(name: LambdaAssetName): string {
  return path.join(__dirname, '..', 'assets', 'lambda', name);
}

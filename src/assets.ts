import * as path from 'path';
import type { HandlerName } from './contract';

/** The Lambda handlers shipped with the library, pre-built by scripts/bundle.mjs (the contract's HANDLERS). */
export type LambdaAssetName = HandlerName;

/**
 * Folder of a pre-built Lambda asset (`index.js` plus its `sql/` files). Resolved relative to this
 * module so that it works from `src/` (ts-jest), `lib/` (jsii) and `lib-cli/` (the CLI bundle).
 */
export function lambdaAssetPath(name: LambdaAssetName): string {
  return path.join(__dirname, '..', 'assets', 'lambda', name);
}

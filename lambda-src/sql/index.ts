import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { QueryName } from '../athena/types';

/** The SQL files of the pipeline (lambda-src/sql/<name>.sql, Athena/Trino dialect): one per query. */
export type SqlName = QueryName;

const cache = new Map<string, string>();

/**
 * Reads `<name>.sql`. Bundled code finds the files in `<bundle dir>/sql/` (scripts/bundle.mjs copies
 * them next to every Lambda asset and the CLI); source code (tests, tsx) finds them next to this file.
 */
export function loadSql(name: SqlName): string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  for (const dir of [join(__dirname, 'sql'), __dirname]) {
    const file = join(dir, `${name}.sql`);
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      cache.set(name, text);
      return text;
    }
  }
  throw new Error(`SQL file ${name}.sql not found next to ${__dirname}`);
}

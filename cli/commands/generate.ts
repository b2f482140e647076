import { UsageError } from '../errors';

// Placeholder replaced by the real command during bring-up.
export async function run(_argv: string[]): Promise<number> {
  throw new UsageError('generate: not implemented yet');
}

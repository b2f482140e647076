/**
 * The credential provider of the Lambda bundles: the execution role's temporary credentials, which
 * Lambda puts in the function's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN; AWS Lambda Developer Guide, "Defined runtime environment variables"). The local
 * Lambda workers set the same variables (local/lambda).
 *
 * scripts/lambda-esbuild.json aliases `@aws-sdk/credential-provider-node` (the SDK's default chain)
 * to this module for the bundles only. The default chain tries environment variables first, which
 * in Lambda always answer, so the result is the same; what the alias removes from every bundle is
 * the rest of the chain (shared config files, SSO, login, process, web identity, container and
 * instance metadata) and the STS, SSO and sign-in clients it carries, about a fifth of each bundle.
 * Unit tests and the CLI, which are not bundled with these options, keep the SDK's own chain.
 */

/** The credentials an SDK client signs with (the SDK's AwsCredentialIdentity, structurally). */
export interface EnvCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
  readonly accountId?: string;
}

/** Reads the credentials from `env` at each call; a clear error when they are not set. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): EnvCredentials {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: a Lambda bundle signs with its execution role\'s credentials from the environment');
  }
  const expiry = env.AWS_CREDENTIAL_EXPIRATION;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    ...(expiry ? { expiration: new Date(expiry) } : {}),
    ...(env.AWS_ACCOUNT_ID ? { accountId: env.AWS_ACCOUNT_ID } : {}),
  };
}

/** Credentials within this long of their expiry are read again (the SDK's default chain uses the same margin). */
export const REFRESH_BEFORE_EXPIRY_MS = 300_000;

/**
 * The `defaultProvider` export the SDK clients' runtime configuration calls (same signature as the SDK's).
 * Like the SDK's default chain, the provider it returns keeps the credentials it read: until 5 minutes
 * before their expiry when they have one, else for its lifetime; `forceRefresh` reads them again. A
 * client does not memoize a default provider itself, so without this every request read the
 * environment again (Lambda sets it once per execution environment).
 */
export function defaultProvider(_init?: unknown): (options?: { forceRefresh?: boolean }) => Promise<EnvCredentials> {
  let cached: EnvCredentials | undefined;
  return async (options) => {
    const expiring = cached?.expiration !== undefined && cached.expiration.getTime() - Date.now() < REFRESH_BEFORE_EXPIRY_MS;
    if (!cached || expiring || options?.forceRefresh) cached = credentialsFromEnv();
    return cached;
  };
}

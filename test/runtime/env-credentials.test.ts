/**
 * The Lambda bundles sign with the execution role's credentials from the environment
 * (lambda-src/lib/env-credentials.ts, aliased for @aws-sdk/credential-provider-node by
 * scripts/lambda-esbuild.json): the provider, and that the bundles really carry it instead of the
 * SDK's default chain (which pulled the STS, SSO and sign-in clients into every bundle).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { credentialsFromEnv, defaultProvider, REFRESH_BEFORE_EXPIRY_MS } from '../../lambda-src/lib/env-credentials';

const root = join(__dirname, '..', '..');

test('reads the execution role credentials Lambda sets, with the session token and expiry', async () => {
  const env = {
    AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_SESSION_TOKEN: 'token',
    AWS_CREDENTIAL_EXPIRATION: '2030-01-01T00:00:00Z',
  };
  expect(credentialsFromEnv(env)).toEqual({
    accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token', expiration: new Date('2030-01-01T00:00:00Z'),
  });
  expect(credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' })).toEqual({ accessKeyId: 'a', secretAccessKey: 'b' });
});

test('missing credentials are a one-line error, not an unsigned request', async () => {
  expect(() => credentialsFromEnv({ AWS_ACCESS_KEY_ID: 'a' })).toThrow(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set/);
  const saved = { ...process.env };
  try {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    await expect(defaultProvider({})()).rejects.toThrow(/not set/);
    process.env.AWS_ACCESS_KEY_ID = 'k';
    process.env.AWS_SECRET_ACCESS_KEY = 's';
    // A new provider reads the environment it starts in.
    await expect(defaultProvider()()).resolves.toMatchObject({ accessKeyId: 'k', secretAccessKey: 's' });
  } finally {
    process.env = saved;
  }
});

test('a provider keeps the credentials it read, until 5 minutes before their expiry or a forced refresh (as the SDK\'s default chain)', async () => {
  const saved = { ...process.env };
  try {
    process.env.AWS_ACCESS_KEY_ID = 'first';
    process.env.AWS_SECRET_ACCESS_KEY = 's';
    delete process.env.AWS_CREDENTIAL_EXPIRATION;
    const provider = defaultProvider();
    const first = await provider();
    process.env.AWS_ACCESS_KEY_ID = 'second';
    // no expiry: kept (Lambda sets the environment once per execution environment)
    expect(await provider()).toBe(first);
    await expect(provider({ forceRefresh: true })).resolves.toMatchObject({ accessKeyId: 'second' });

    process.env.AWS_CREDENTIAL_EXPIRATION = new Date(Date.now() + REFRESH_BEFORE_EXPIRY_MS + 60_000).toISOString();
    const expiring = defaultProvider();
    const held = await expiring();
    process.env.AWS_ACCESS_KEY_ID = 'third';
    expect(await expiring()).toBe(held);
    process.env.AWS_CREDENTIAL_EXPIRATION = new Date(Date.now() + REFRESH_BEFORE_EXPIRY_MS - 1_000).toISOString();
    process.env.AWS_ACCESS_KEY_ID = 'fourth';
    const soon = defaultProvider();
    const before = await soon();
    process.env.AWS_ACCESS_KEY_ID = 'fifth';
    // within 5 minutes of its expiry: read again at each call
    expect([before.accessKeyId, (await soon()).accessKeyId]).toEqual(['fourth', 'fifth']);
  } finally {
    process.env = saved;
  }
});

test('the handler bundles use it: no part of the SDK default credential chain is bundled', async () => {
  const options = JSON.parse(readFileSync(join(root, 'scripts', 'lambda-esbuild.json'), 'utf8')) as BuildOptions;
  const result = await build({
    ...options, absWorkingDir: root, entryPoints: [join(root, 'lambda-src', 'handlers', 'query-runner.ts')], write: false, metafile: true, outfile: 'out.js',
  });
  const inputs = Object.keys(result.metafile!.inputs);
  expect(inputs).toContain('lambda-src/lib/env-credentials.ts');
  expect(inputs.filter((p) => /credential-provider-(node|ini|sso|login|process|web-identity)|nested-clients|token-providers/.test(p))).toEqual([]);
}, 60_000);

/**
 * The one template of the Lambda handlers (lambda-src/lib/handler-runtime.ts): the service name of
 * their logs is the one the construct sets, the configuration is read once per container, the
 * invocation context is on every log line, and a failure is logged once and reaches the caller.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Context } from 'aws-lambda';
import { lambdaHandler } from '../../lambda-src/lib/handler-runtime';
import { AccreditationPipeline } from '../../src';
import { serviceNameOf, type HandlerName } from '../../src/contract';

const ENV = { ...process.env };
afterEach(() => {
  process.env = { ...ENV };
  jest.restoreAllMocks();
});

/** The JSON log lines written while `fn` runs (Powertools writes through a Console on stdout/stderr). */
async function logLines(fn: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const capture = (chunk: unknown): boolean => {
    lines.push(String(chunk));
    return true;
  };
  jest.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write);
  jest.spyOn(process.stderr, 'write').mockImplementation(capture as typeof process.stderr.write);
  try {
    await fn();
  } finally {
    jest.restoreAllMocks();
  }
  return lines.flatMap((l) => l.split('\n')).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const context = {
  functionName: 'fn-validator',
  functionVersion: '$LATEST',
  awsRequestId: 'req-1',
  memoryLimitInMB: '512',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:fn-validator',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

test('each handler\'s fallback service name is the one the construct sets for its asset', () => {
  const assets = readdirSync(join(__dirname, '..', '..', 'lambda-src', 'handlers')).filter((f) => f.endsWith('.ts')).map((f) => basename(f, '.ts'));
  expect(assets.sort()).toEqual(['publish-results', 'query-runner', 'validator']);
  const stack = new Stack(new App(), 'Stack', { env: { account: '123456789012', region: 'us-east-1' } });
  new AccreditationPipeline(stack, 'Pipeline');
  const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
  const names = functions.map((f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME).filter((n) => n !== undefined);
  expect(names.sort()).toEqual(assets.map((a) => serviceNameOf(a as HandlerName)).sort());
});

test('configuration is read once per container; the context is on every line; a failure is logged once and rethrown', async () => {
  process.env = { ...ENV, DATA_BUCKET: 'data-bucket', EXPIRY_MONTHS: '3', POWERTOOLS_LOG_LEVEL: 'INFO' };
  delete process.env.POWERTOOLS_SERVICE_NAME;
  delete process.env.POWERTOOLS_DEV;
  const seen: number[] = [];
  const handler = lambdaHandler('validator', async (event, { config, logger }) => {
    seen.push(config.expiryMonths);
    logger.info('working', { event });
    if (event === 'fail') throw Object.assign(new Error('boom'), { name: 'TransientError' });
    return config.bucket;
  });
  const first = await logLines(() => handler('ok', context));
  // The environment of a container never changes; a changed one is not re-read (and an invalid one is not seen).
  process.env.EXPIRY_MONTHS = '0';
  await logLines(() => expect(handler('ok', context)).resolves.toBe('data-bucket'));
  expect(seen).toEqual([3, 3]);
  expect(first).toEqual([expect.objectContaining({
    message: 'working', service: 'medlaunch-elt-validator', function_name: 'fn-validator', function_request_id: 'req-1',
  })]);
  const failed = await logLines(() => expect(handler('fail', context)).rejects.toMatchObject({ name: 'TransientError' }));
  expect(failed.map((l) => [l.level, l.message])).toEqual([['INFO', 'working'], ['ERROR', 'validator failed']]);
  expect(failed[1]).toMatchObject({ function_name: 'fn-validator', error: { name: 'TransientError', message: 'boom' } });
});

test('an invalid configuration fails the invocation with ConfigError (not the container), and is retried at the next one', async () => {
  process.env = { ...ENV, DATA_BUCKET: 'data-bucket', EXPIRY_MONTHS: '0' };
  const handler = lambdaHandler('publish-results', async (_event, { config }) => config.expiryMonths);
  await expect(handler({}, context)).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringContaining('EXPIRY_MONTHS') });
  process.env.EXPIRY_MONTHS = '2';
  await expect(handler({}, context)).resolves.toBe(2);
});

test('the service name follows POWERTOOLS_SERVICE_NAME when it is set', async () => {
  process.env = { ...ENV, DATA_BUCKET: 'data-bucket', POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_SERVICE_NAME: 'custom-service' };
  delete process.env.POWERTOOLS_DEV;
  const handler = lambdaHandler('query-runner', async (_event, { logger }) => logger.info('hello'));
  expect(await logLines(() => handler({}, context))).toEqual([expect.objectContaining({ service: 'custom-service', message: 'hello' })]);
});

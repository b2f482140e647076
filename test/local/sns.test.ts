/** The embedded local SNS endpoint, driven by @aws-sdk/client-sns (AWS Query protocol) and raw JSON 1.0. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTopicCommand, ListTopicsCommand, PublishCommand, SNSClient, SNSServiceException } from '@aws-sdk/client-sns';
import { LocalSns, type SnsMessage } from '../../local/sns';

let dir: string;
let sns: LocalSns;
let client: SNSClient;
const echoed: SnsMessage[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'local-sns-'));
  sns = await LocalSns.start({ logFile: join(dir, 'logs', 'alerts.jsonl'), echo: (m) => echoed.push(m) });
  client = new SNSClient({ endpoint: sns.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'secret' } });
});

afterAll(async () => {
  client?.destroy();
  await sns?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('Publish is recorded in messages, the log file and echo', async () => {
  const { TopicArn } = await client.send(new CreateTopicCommand({ Name: 'pipeline-alerts' }));
  expect(TopicArn).toBe('arn:aws:sns:us-east-1:000000000000:pipeline-alerts');
  const message = JSON.stringify({ executionId: 'exec-1', error: 'QueryFailedError', cause: 'line 1: <bad> & "quoted" ü' });
  const res = await client.send(new PublishCommand({
    TopicArn,
    Subject: 'medlaunch-elt failure',
    Message: message,
    MessageAttributes: {
      errorType: { DataType: 'String', StringValue: 'QueryFailedError' },
      attempt: { DataType: 'Number', StringValue: '3' },
    },
  }));
  expect(res.MessageId).toMatch(/^[0-9a-f-]{36}$/);
  const last = sns.messages[sns.messages.length - 1];
  expect(last).toMatchObject({
    topicArn: TopicArn,
    subject: 'medlaunch-elt failure',
    message,
    messageId: res.MessageId,
    attributes: { errorType: 'QueryFailedError', attempt: '3' },
  });
  expect(Number.isNaN(Date.parse(last.time))).toBe(false);
  expect(echoed[echoed.length - 1]).toEqual(last);
  const lines = readFileSync(join(dir, 'logs', 'alerts.jsonl'), 'utf8').trim().split('\n');
  expect(JSON.parse(lines[lines.length - 1])).toEqual(last);
  const topics = await client.send(new ListTopicsCommand({}));
  expect(topics.Topics!.map((t) => t.TopicArn)).toContain(TopicArn);
});

test('TargetArn works, topics need not exist first; every message is one log line', async () => {
  const before = sns.messages.length;
  await client.send(new PublishCommand({ TargetArn: 'arn:aws:sns:eu-west-1:123456789012:other', Message: 'two\nlines' }));
  await Promise.all([1, 2, 3].map((i) => client.send(new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', Message: `m${i}` }))));
  expect(sns.messages.length).toBe(before + 4);
  expect(sns.messages[before]).toMatchObject({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:other', message: 'two\nlines' });
  expect(sns.messages[before].subject).toBeUndefined();
  const lines = readFileSync(join(dir, 'logs', 'alerts.jsonl'), 'utf8').trim().split('\n');
  expect(lines.length).toBe(sns.messages.length);
  expect(lines.map((l) => (JSON.parse(l) as SnsMessage).messageId)).toEqual(sns.messages.map((m) => m.messageId));
});

test('invalid publishes are InvalidParameter errors', async () => {
  const count = sns.messages.length;
  for (const input of [
    { TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', Message: '' },
    { TopicArn: 'not-an-arn', Message: 'x' },
    { Message: 'x' },
    { TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', Message: 'x', Subject: 'a\nb' },
    { TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', Message: 'x'.repeat(256 * 1024 + 1) },
  ]) {
    const e = await client.send(new PublishCommand(input)).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(SNSServiceException);
    expect((e as SNSServiceException).name).toBe('InvalidParameterException');
    expect((e as SNSServiceException).$metadata.httpStatusCode).toBe(400);
  }
  expect(sns.messages.length).toBe(count);
});

test('the JSON 1.0 protocol (X-Amz-Target) is understood too', async () => {
  const res = await fetch(sns.endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'AmazonSimpleNotificationService.Publish' },
    body: JSON.stringify({
      TopicArn: 'arn:aws:sns:us-east-1:000000000000:json',
      Message: 'via json',
      Subject: 's',
      MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
    }),
  });
  expect(res.status).toBe(200);
  const out = await res.json() as { MessageId: string };
  expect(sns.messages[sns.messages.length - 1]).toMatchObject({ messageId: out.MessageId, message: 'via json', subject: 's', attributes: { k: 'v' } });
  const bad = await fetch(sns.endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'AmazonSimpleNotificationService.Publish' },
    body: JSON.stringify({ TopicArn: 'arn:aws:sns:us-east-1:000000000000:json' }),
  });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { __type: string }).__type).toBe('InvalidParameter');
});

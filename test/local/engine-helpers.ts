/**
 * Test helpers for the local engine: a tiny fake SNS endpoint and the fixture stack synthesized
 * with its handlers.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtureStack, FIXTURE_HANDLER_SOURCE } from './engine-fixture-stack';
import { synthesizeTemplate, SynthesizedTemplate } from '../../local/template';

/** A message received by the fake SNS. */
export interface FakeSnsMessage { readonly topicArn: string; readonly message: string; readonly subject?: string }

/** Starts an SNS Query-API endpoint that accepts Publish and records the messages. */
export async function startFakeSns(): Promise<{ url: string; messages: FakeSnsMessage[]; close(): Promise<void> }> {
  const messages: FakeSnsMessage[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (form.get('Action') !== 'Publish') {
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>unsupported</Message></Error></ErrorResponse>');
        return;
      }
      const topicArn = form.get('TopicArn') ?? '';
      if (!topicArn.includes(':sns:')) {
        res.writeHead(404, { 'content-type': 'text/xml' });
        res.end('<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>');
        return;
      }
      messages.push({ topicArn, message: form.get('Message') ?? '', subject: form.get('Subject') ?? undefined });
      const id = `00000000-0000-0000-0000-${String(++n).padStart(12, '0')}`;
      res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': `req-${n}` });
      res.end(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${id}</MessageId></PublishResult><ResponseMetadata><RequestId>req-${n}</RequestId></ResponseMetadata></PublishResponse>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Synthesizes the fixture stack with its handler code. */
export function synthesizeFixture(): SynthesizedTemplate & { codeDir: string } {
  const codeDir = mkdtempSync(join(tmpdir(), 'medlaunch-elt-fixture-code-'));
  writeFileSync(join(codeDir, 'index.js'), FIXTURE_HANDLER_SOURCE);
  return { ...synthesizeTemplate((stack) => buildFixtureStack(stack, codeDir)), codeDir };
}

/**
 * Embedded local SNS endpoint. Speaks the AWS Query protocol (form-encoded POST, XML responses)
 * that @aws-sdk/client-sns uses, and the JSON 1.0 protocol (`X-Amz-Target:
 * AmazonSimpleNotificationService.<Action>`) as well. Publish records every message in `messages`,
 * appends it as one JSON line to `logFile` and calls `echo`. Topics need not be created first.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { BodyTooLargeError, closeServer, endpointUrl, listen, newRequestId, readBody, send, xmlEscape } from '../http';
import { callerOf, isAwsManagedKey, kmsKeyArnOf, type IamPolicies, type Principal } from '../iam';
import type { LocalCredentials } from '../iam/credentials';

export interface SnsMessage {
  topicArn: string;
  subject?: string;
  message: string;
  messageId: string;
  /** ISO 8601 */
  time: string;
  /** MessageAttributes: string values as given, binary values base64 */
  attributes?: Record<string, string>;
}

export interface LocalSnsOptions {
  logFile?: string;
  /** default 127.0.0.1 */
  host?: string;
  /** 0 (default) = ephemeral */
  port?: number;
  echo?: (m: SnsMessage) => void;
  /**
   * Authorize every request as SNS does: the caller is the principal its SigV4 access key names;
   * sns:Publish must be allowed by its identity policies or the topic policy, and publishing to a
   * KMS-encrypted topic needs kms:GenerateDataKey and kms:Decrypt on the topic's key (key policy
   * plus identity policies). Without it, every request is accepted (no enforcement).
   */
  iam?: { readonly policies: IamPolicies; readonly credentials: LocalCredentials };
  /** Topics with their configuration (e.g. from the template); others are created on first use. */
  topics?: ReadonlyArray<TopicConfig>;
}

/** A topic's settings that the local SNS honours. */
export interface TopicConfig {
  readonly arn: string;
  /** `KmsMasterKeyId`: a key ARN, key id or alias; the topic is then SSE-KMS encrypted. */
  readonly kmsMasterKeyId?: string;
}

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const MAX_MESSAGE_BYTES = 256 * 1024;
const ACCOUNT = '000000000000';
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

class SnsError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400, readonly type: 'Sender' | 'Receiver' = 'Sender') {
    super(message);
    this.name = 'SnsError';
  }
}

const invalidParameter = (message: string) => new SnsError('InvalidParameter', message);

/** A request's parameters, flattened to Query-protocol names (`MessageAttributes.entry.1.Name`). */
type Params = Map<string, string>;

function flattenJson(value: unknown, prefix: string, out: Params): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => flattenJson(v, `${prefix}.member.${i + 1}`, out));
  } else if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (prefix.endsWith('MessageAttributes') || prefix.endsWith('Attributes') || prefix.endsWith('Tags')) {
      // JSON maps become entry.N.Name / entry.N.Value
      if (prefix.endsWith('Tags')) { entries.forEach(([, v], i) => flattenJson(v, `${prefix}.member.${i + 1}`, out)); return; }
      entries.forEach(([k, v], i) => {
        out.set(`${prefix}.entry.${i + 1}.Name`, k);
        flattenJson(v, `${prefix}.entry.${i + 1}.Value`, out);
      });
      return;
    }
    for (const [k, v] of entries) flattenJson(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined && value !== null) {
    out.set(prefix, String(value));
  }
}

function regionOf(req: IncomingMessage): string {
  const m = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/sns\//.exec(req.headers.authorization ?? '');
  return m ? m[1] : 'us-east-1';
}

export class LocalSns {
  static async start(opts: LocalSnsOptions = {}): Promise<LocalSns> {
    const sns = new LocalSns(opts);
    if (opts.logFile) await mkdir(dirname(opts.logFile), { recursive: true });
    const host = opts.host ?? '127.0.0.1';
    const port = await listen(sns.server, host, opts.port ?? 0);
    sns.url = endpointUrl(host, port);
    return sns;
  }

  /** `http://127.0.0.1:<port>` */
  get endpoint(): string {
    return this.url;
  }

  private url = '';
  /** Every message published, in order. */
  readonly messages: SnsMessage[] = [];
  private readonly topics = new Set<string>();
  private readonly topicKeys = new Map<string, string>();
  private readonly server: Server;
  private logChain: Promise<void> = Promise.resolve();

  private constructor(private readonly opts: LocalSnsOptions) {
    this.server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => { void this.handle(req, res); });
    for (const t of opts.topics ?? []) this.registerTopic(t);
  }

  /** Creates (or reconfigures) a topic, e.g. one of the template's `AWS::SNS::Topic`s. */
  registerTopic(topic: TopicConfig): void {
    this.topics.add(topic.arn);
    if (topic.kmsMasterKeyId) this.topicKeys.set(topic.arn, topic.kmsMasterKeyId);
    else this.topicKeys.delete(topic.arn);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
    await this.logChain.catch(() => undefined);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const target = req.headers['x-amz-target'];
    const json = typeof target === 'string' && target.startsWith('AmazonSimpleNotificationService.');
    try {
      if (req.method !== 'POST') throw new SnsError('InvalidAction', 'Only POST requests are supported', 400);
      const body = (await readBody(req, 2 * MAX_MESSAGE_BYTES)).toString('utf8');
      let action: string;
      const params: Params = new Map();
      if (json) {
        action = (target as string).slice('AmazonSimpleNotificationService.'.length);
        let parsed: unknown;
        try {
          parsed = body.trim() === '' ? {} : JSON.parse(body);
        } catch {
          throw new SnsError('SerializationException', 'The request body is not valid JSON');
        }
        flattenJson(parsed, '', params);
      } else {
        for (const [k, v] of new URLSearchParams(body)) params.set(k, v);
        action = params.get('Action') ?? '';
      }
      const principal = this.authenticate(req);
      const result = await this.dispatch(action, params, req, principal);
      if (json) {
        send(res, 200, JSON.stringify(result.json), { 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-RequestId': requestId });
      } else {
        send(res, 200, `<${action}Response xmlns="${XMLNS}"><${action}Result>${result.xml}</${action}Result>`
          + `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
        { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId });
      }
    } catch (e) {
      let err: SnsError;
      if (e instanceof SnsError) {
        err = e;
      } else if (e instanceof BodyTooLargeError) {
        err = invalidParameter('Invalid parameter: Message too long');
      } else {
        err = new SnsError('InternalError', 'The request processing has failed because of an unknown error.', 500, 'Receiver');
        // eslint-disable-next-line no-console
        console.error('local SNS: request failed:', e);
      }
      if (!req.complete) { res.setHeader('Connection', 'close'); req.resume(); }
      if (json) {
        send(res, err.status, JSON.stringify({ __type: err.code, message: err.message }),
          { 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-RequestId': requestId, 'x-amzn-query-error': `${err.code};${err.type}` });
      } else {
        send(res, err.status, `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${err.type}</Type><Code>${err.code}</Code>`
          + `<Message>${xmlEscape(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId });
      }
    }
  }

  /** The caller (IAM enforcement only): the principal the SigV4 access key names. */
  private authenticate(req: IncomingMessage): Principal | undefined {
    if (!this.opts.iam) return undefined;
    return callerOf(req, this.opts.iam.credentials, {
      missing: () => new SnsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403),
      unknown: () => new SnsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403),
    });
  }

  /**
   * sns:Publish on the topic (identity or topic policy), then the topic key: SNS encrypts the
   * message with a data key it asks KMS for on the publisher's behalf, so the publisher needs
   * kms:GenerateDataKey and kms:Decrypt on it (key policy, and identity policies where the key
   * policy delegates to the account). A KMS denial is SNS's KMSAccessDenied (HTTP 400).
   */
  private authorizePublish(principal: Principal | undefined, topicArn: string, region: string): void {
    const iam = this.opts.iam;
    if (!iam || !principal) return;
    const denied = iam.policies.denial({ principal, action: 'SNS:Publish', resource: topicArn });
    if (denied) throw new SnsError('AuthorizationError', denied.message, 403);
    const keyId = this.topicKeys.get(topicArn);
    if (keyId === undefined || isAwsManagedKey(keyId)) return; // AWS managed key: usable by the account
    const [, partition, , topicRegion, account] = topicArn.split(':');
    const keyArn = kmsKeyArnOf(keyId, { partition, region: topicRegion, account });
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      const kmsDenied = iam.policies.denial({
        principal,
        action,
        resource: keyArn,
        context: { 'kms:ViaService': `sns.${region}.amazonaws.com`, 'kms:CallerAccount': principal.account },
      });
      if (kmsDenied) {
        throw new SnsError('KMSAccessDenied', `${kmsDenied.message} (Service: AWSKMS; Status Code: 400; `
          + `Error Code: AccessDeniedException; Request ID: ${newRequestId()}; Proxy: null)`, 400);
      }
    }
  }

  private async dispatch(action: string, p: Params, req: IncomingMessage, principal?: Principal): Promise<{ xml: string; json: unknown }> {
    switch (action) {
      case 'Publish': {
        const m = await this.publish(p, (topicArn) => this.authorizePublish(principal, topicArn, regionOf(req)));
        return { xml: `<MessageId>${m.messageId}</MessageId>`, json: { MessageId: m.messageId } };
      }
      case 'CreateTopic': {
        const name = p.get('Name') ?? '';
        if (!/^[A-Za-z0-9_-]{1,256}(\.fifo)?$/.test(name)) throw invalidParameter('Invalid parameter: Topic Name');
        const arn = `arn:aws:sns:${regionOf(req)}:${ACCOUNT}:${name}`;
        this.topics.add(arn);
        return { xml: `<TopicArn>${xmlEscape(arn)}</TopicArn>`, json: { TopicArn: arn } };
      }
      case 'ListTopics': {
        const arns = [...this.topics].sort();
        return {
          xml: `<Topics>${arns.map((a) => `<member><TopicArn>${xmlEscape(a)}</TopicArn></member>`).join('')}</Topics>`,
          json: { Topics: arns.map((TopicArn) => ({ TopicArn })) },
        };
      }
      case 'DeleteTopic': {
        this.topics.delete(p.get('TopicArn') ?? '');
        return { xml: '', json: {} };
      }
      default:
        throw new SnsError('InvalidAction', `The action ${action || '(none)'} is not valid for this endpoint.`);
    }
  }

  private async publish(p: Params, authorize: (topicArn: string) => void): Promise<SnsMessage> {
    const topicArn = p.get('TopicArn') ?? p.get('TargetArn');
    if (!topicArn) throw invalidParameter('Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
    if (!TOPIC_ARN.test(topicArn)) throw invalidParameter('Invalid parameter: TopicArn');
    authorize(topicArn);
    const message = p.get('Message');
    if (message === undefined || message === '') throw invalidParameter('Invalid parameter: Empty message');
    if (Buffer.byteLength(message, 'utf8') > MAX_MESSAGE_BYTES) throw invalidParameter('Invalid parameter: Message too long');
    const subject = p.get('Subject');
    if (subject !== undefined && (subject === '' || subject.length > 100 || /[\r\n]/.test(subject))) {
      throw invalidParameter('Invalid parameter: Subject');
    }
    const attributes: Record<string, string> = {};
    for (let i = 1; p.has(`MessageAttributes.entry.${i}.Name`); i++) {
      const base = `MessageAttributes.entry.${i}`;
      const name = p.get(`${base}.Name`)!;
      const type = p.get(`${base}.Value.DataType`);
      const value = p.get(`${base}.Value.StringValue`) ?? p.get(`${base}.Value.BinaryValue`);
      if (!type || value === undefined) {
        throw invalidParameter(`Invalid parameter: The message attribute '${name}' must contain non-empty message attribute value and type`);
      }
      attributes[name] = value;
    }
    this.topics.add(topicArn);
    const m: SnsMessage = {
      topicArn,
      ...(subject !== undefined ? { subject } : {}),
      message,
      messageId: randomUUID(),
      time: new Date().toISOString(),
      ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    };
    this.messages.push(m);
    if (this.opts.logFile) {
      const file = this.opts.logFile;
      this.logChain = this.logChain.catch(() => undefined).then(() => appendFile(file, `${JSON.stringify(m)}\n`));
      await this.logChain;
    }
    if (this.opts.echo) {
      try {
        this.opts.echo(m);
      } catch (e) {
        // eslint-disable-next-line no-console
        console.error('local SNS: echo failed:', e);
      }
    }
    return m;
  }
}

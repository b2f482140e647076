/**
 * Local credentials: every principal that calls the local endpoints (a Lambda function's execution
 * role, the account root the CLI acts as) gets deterministic AWS-shaped credentials, and the
 * endpoints map the access key id of a signed request back to the principal, as AWS does with the
 * keys STS and IAM issue. Roles get temporary credentials (`ASIA…` + session token), the root an
 * access key pair (`AKIA…`).
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Principal } from './index';

/** Credentials as the SDK takes them (and as Lambda puts them in the environment). */
export interface LocalCredentialSet {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Present for role (temporary) credentials. */
  readonly sessionToken?: string;
}

/** What an endpoint learns from an access key id. */
export interface CredentialRecord extends LocalCredentialSet {
  readonly principal: Principal;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `length` base32 characters (one per byte: an access key id is an opaque name, not an encoding). */
function base32(bytes: Buffer, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE32[bytes[i % bytes.length] % 32];
  return out;
}

/** Deterministic local credentials per principal, and the reverse lookup the local endpoints use. */
export class LocalCredentials {
  private readonly byKey = new Map<string, CredentialRecord>();
  private readonly byArn = new Map<string, CredentialRecord>();

  /** `arn:aws:iam::<account>:root`: the principal the CLI's own calls use. */
  readonly root: Principal;

  constructor(readonly account: string, partition = 'aws') {
    this.root = { kind: 'root', arn: `arn:${partition}:iam::${account}:root`, account };
    this.for(this.root);
  }

  /**
   * The credentials of a principal (minted on first use, the same ones every time). Each role
   * session (`sessionName`, e.g. the function name) gets its own, as each Lambda function does.
   */
  for(principal: Principal): LocalCredentialSet {
    const id = principal.sessionName === undefined ? principal.arn : `${principal.arn}\0${principal.sessionName}`;
    const known = this.byArn.get(id);
    if (known) return strip(known);
    const mac = (purpose: string) => createHmac('sha256', `medlaunch-elt-local:${this.account}`).update(`${purpose}\0${id}`).digest();
    const temporary = principal.kind !== 'root';
    const record: CredentialRecord = {
      principal,
      accessKeyId: `${temporary ? 'ASIA' : 'AKIA'}${base32(mac('key'), 16)}`,
      secretAccessKey: mac('secret').toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 40).padEnd(40, 'K'),
      sessionToken: temporary ? `IQoJb3JpZ2luX2VjE${Buffer.concat([mac('token'), mac('token2')]).toString('base64')}` : undefined,
    };
    this.byArn.set(id, record);
    this.byKey.set(record.accessKeyId, record);
    return strip(record);
  }

  /** From an access key id (SigV4 Authorization header / presigned X-Amz-Credential). undefined: unknown key (403 InvalidAccessKeyId). */
  principalOf(accessKeyId: string): Principal | undefined {
    return this.byKey.get(accessKeyId)?.principal;
  }

  /** The whole record of an access key id (principal, secret and session token), to verify a signature. */
  lookup(accessKeyId: string): CredentialRecord | undefined {
    return this.byKey.get(accessKeyId);
  }
}

function strip(r: CredentialRecord): LocalCredentialSet {
  return r.sessionToken === undefined
    ? { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey }
    : { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey, sessionToken: r.sessionToken };
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The access key id in a SigV4-signed request: the `Credential=` of its Authorization header, else
 * the presigned `X-Amz-Credential` query parameter; undefined for an unsigned request. The one
 * parser of access keys of the local endpoints (S3's full signature check is local/s3/sigv4.ts).
 */
export function accessKeyIdOf(headers: Record<string, string | string[] | undefined>, query: URLSearchParams): string | undefined {
  const auth = headerValue(headers, 'authorization');
  if (auth !== undefined) {
    const m = /Credential=([^/,\s]+)\//.exec(auth);
    return m?.[1];
  }
  const credential = query.get('X-Amz-Credential');
  if (credential !== null) {
    const slash = credential.indexOf('/');
    return slash > 0 ? credential.slice(0, slash) : undefined;
  }
  return undefined;
}

const NO_QUERY = new URLSearchParams();

/** {@link accessKeyIdOf} of a request (its query is parsed only when it has no Authorization header). */
export function requestAccessKeyId(req: Pick<IncomingMessage, 'headers' | 'url'>): string | undefined {
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const query = req.headers.authorization !== undefined || qi === -1 ? NO_QUERY : new URLSearchParams(url.slice(qi + 1));
  return accessKeyIdOf(req.headers, query);
}

/** How a service refuses a request whose caller it cannot establish (each service has its own error codes). */
export interface AuthenticationErrors {
  /** No signature (SNS: 403 MissingAuthenticationToken; Athena: MissingAuthenticationTokenException). */
  readonly missing: () => Error;
  /** An access key the local credentials did not issue (SNS: 403 InvalidClientTokenId; Athena: UnrecognizedClientException). */
  readonly unknown: () => Error;
}

/**
 * The caller of a request to a local endpoint that enforces IAM: the principal its SigV4 access key
 * names. Throws the service's `missing` error for an unsigned request and its `unknown` error for a
 * key these credentials did not issue.
 */
export function callerOf(req: Pick<IncomingMessage, 'headers' | 'url'>, credentials: LocalCredentials, errors: AuthenticationErrors): Principal {
  const key = requestAccessKeyId(req);
  if (key === undefined) throw errors.missing();
  const principal = credentials.principalOf(key);
  if (!principal) throw errors.unknown();
  return principal;
}

/**
 * AWS Signature Version 4 as S3 checks it: the request's credential scope and signature, from the
 * `Authorization` header or a presigned URL's `X-Amz-*` query parameters. The canonical URI is the
 * path exactly as sent (S3 does not normalise or double-encode it); the payload hash is the
 * `x-amz-content-sha256` header (`UNSIGNED-PAYLOAD` for presigned URLs). For a streaming
 * (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) upload the seed signature is checked, not each chunk's.
 */
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors';

const ALGORITHM = 'AWS4-HMAC-SHA256';

/** The parts of a SigV4 signature a request carries. */
export interface SigV4Request {
  readonly accessKeyId: string;
  /** `<yyyymmdd>/<region>/<service>/aws4_request` */
  readonly scope: string;
  readonly signedHeaders: string[];
  readonly signature: string;
  /** `x-amz-date` (ISO basic format). */
  readonly amzDate: string;
  readonly presigned: boolean;
  /** Seconds, for a presigned URL. */
  readonly expires?: number;
  /** x-amz-security-token / X-Amz-Security-Token. */
  readonly sessionToken?: string;
}

export const signatureDoesNotMatch = () => new S3Error('SignatureDoesNotMatch', 403,
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.');

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The SigV4 parts of a request; undefined for an unsigned (anonymous) request. A request that names
 * another algorithm, or a malformed Authorization header, is refused as S3 refuses it.
 */
export function parseSigV4(req: IncomingMessage, query: URLSearchParams): SigV4Request | undefined {
  const auth = header(req, 'authorization');
  if (auth !== undefined) {
    if (!auth.startsWith(`${ALGORITHM} `)) {
      throw new S3Error('InvalidRequest', 400, 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    }
    const fields = new Map<string, string>();
    for (const part of auth.slice(ALGORITHM.length + 1).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const credential = fields.get('Credential');
    const signedHeaders = fields.get('SignedHeaders');
    const signature = fields.get('Signature');
    const amzDate = header(req, 'x-amz-date');
    if (!credential || !signedHeaders || !signature || !credential.includes('/')) {
      throw new S3Error('AuthorizationHeaderMalformed', 400, 'The authorization header is malformed; the Credential is mal-formed.');
    }
    if (!amzDate) throw new S3Error('AccessDenied', 403, 'AWS authentication requires a valid Date or x-amz-date header');
    const slash = credential.indexOf('/');
    return {
      accessKeyId: credential.slice(0, slash),
      scope: credential.slice(slash + 1),
      signedHeaders: signedHeaders.split(';'),
      signature,
      amzDate,
      presigned: false,
      sessionToken: header(req, 'x-amz-security-token'),
    };
  }
  const credential = query.get('X-Amz-Credential');
  if (credential === null) return undefined;
  if (query.get('X-Amz-Algorithm') !== ALGORITHM) {
    throw new S3Error('AuthorizationQueryParametersError', 400, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const slash = credential.indexOf('/');
  const signature = query.get('X-Amz-Signature');
  const amzDate = query.get('X-Amz-Date');
  const signedHeaders = query.get('X-Amz-SignedHeaders');
  if (slash <= 0 || !signature || !amzDate || !signedHeaders) {
    throw new S3Error('AuthorizationQueryParametersError', 400,
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  return {
    accessKeyId: credential.slice(0, slash),
    scope: credential.slice(slash + 1),
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate,
    presigned: true,
    expires: query.has('X-Amz-Expires') ? Number(query.get('X-Amz-Expires')) : undefined,
    sessionToken: query.get('X-Amz-Security-Token') ?? undefined,
  };
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function canonicalQuery(rawQuery: string, presigned: boolean): string {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = safeDecode(eq === -1 ? part : part.slice(0, eq));
    const v = eq === -1 ? '' : safeDecode(part.slice(eq + 1));
    if (presigned && k === 'X-Amz-Signature') continue;
    pairs.push([uriEncode(k), uriEncode(v)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

const signingKeys = new Map<string, { key: Buffer; keyObject: KeyObject }>();

/** The cached signing key of a secret for a scope (it changes daily), with its KeyObject. */
function cachedSigningKey(secretAccessKey: string, scope: string): { key: Buffer; keyObject: KeyObject } {
  const id = `${secretAccessKey}\0${scope}`;
  let entry = signingKeys.get(id);
  if (entry === undefined) {
    if (signingKeys.size >= 1000) signingKeys.clear();
    const key = deriveSigningKey(secretAccessKey, scope);
    entry = { key, keyObject: createSecretKey(key) };
    signingKeys.set(id, entry);
  }
  return entry;
}

/** HMAC-SHA256 signing key of a secret for a scope (`date/region/service/aws4_request`), cached (it changes daily). */
export function signingKey(secretAccessKey: string, scope: string): Buffer {
  return cachedSigningKey(secretAccessKey, scope).key;
}

function deriveSigningKey(secretAccessKey: string, scope: string): Buffer {
  const [date, region, service, terminator] = scope.split('/');
  let key = createHmac('sha256', `AWS4${secretAccessKey}`).update(date).digest();
  key = createHmac('sha256', key).update(region).digest();
  key = createHmac('sha256', key).update(service).digest();
  return createHmac('sha256', key).update(terminator).digest();
}

/**
 * Checks the signature of a request with the secret of its access key: throws SignatureDoesNotMatch
 * (403) when it differs, AccessDenied when a presigned URL has expired.
 */
export function verifySigV4(req: IncomingMessage, sig: SigV4Request, secretAccessKey: string, now = Date.now()): void {
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const path = (qi === -1 ? url : url.slice(0, qi)) || '/';
  const rawQuery = qi === -1 ? '' : url.slice(qi + 1);
  const distinct = req.headersDistinct;
  const canonicalHeaders = sig.signedHeaders.map((name) => {
    const values = distinct[name] ?? [];
    return `${name}:${values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`;
  }).join('');
  const payloadHash = sig.presigned ? 'UNSIGNED-PAYLOAD' : header(req, 'x-amz-content-sha256') ?? createHash('sha256').update('').digest('hex');
  const canonicalRequest = [
    req.method ?? 'GET', path, canonicalQuery(rawQuery, sig.presigned), canonicalHeaders, sig.signedHeaders.join(';'), payloadHash,
  ].join('\n');
  const stringToSign = [ALGORITHM, sig.amzDate, sig.scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  // a KeyObject: createHmac with a Buffer key costs ~4x more (it prepares a new secret key each time)
  const expected = createHmac('sha256', cachedSigningKey(secretAccessKey, sig.scope).keyObject).update(stringToSign).digest();
  const given = /^[0-9a-f]{64}$/.test(sig.signature) ? Buffer.from(sig.signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw signatureDoesNotMatch();
  if (sig.presigned && sig.expires !== undefined) {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(sig.amzDate);
    const signedAt = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
    if (Number.isNaN(signedAt) || now > signedAt + sig.expires * 1000) {
      throw new S3Error('AccessDenied', 403, 'Request has expired', {
        'X-Amz-Expires': String(sig.expires),
        'Expires': Number.isNaN(signedAt) ? '' : new Date(signedAt + sig.expires * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        'ServerTime': new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
    }
  }
}

/**
 * SigV4 on both sides of the local Athena: who a request comes from (local/iam's callerOf, with
 * Athena's error codes) and how the engine signs the S3 requests it makes as that principal (the
 * signing key from local/s3/sigv4.ts, shared with the S3 endpoint that verifies it).
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../../iam';
import { callerOf } from '../../iam/credentials';
import { signingKey } from '../../s3/sigv4';
import type { AthenaIam } from '../options';
import { ApiError } from './errors';

/** The caller (IAM enforcement only): the principal the SigV4 access key names. */
export function authenticate(req: IncomingMessage, iam: AthenaIam | undefined): Principal | undefined {
  return iam ? callerOf(req, iam.credentials, {
    missing: () => new ApiError('MissingAuthenticationTokenException', 'Missing Authentication Token'),
    unknown: () => new ApiError('UnrecognizedClientException', 'The security token included in the request is invalid.'),
  }) : undefined;
}

/** Credentials a request is signed with (SigV4). */
export interface SigningCredentials { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }

const sha256Hex = (data: string): string => createHash('sha256').update(data).digest('hex');

/** Signs a request with AWS Signature Version 4 (UNSIGNED-PAYLOAD), adding Authorization and x-amz-* headers. */
export function signV4(method: string, url: URL, headers: Record<string, string>, creds: SigningCredentials, region: string, service: string,
  now = new Date()): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const all: Record<string, string> = { ...headers, 'host': url.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  if (creds.sessionToken) all['x-amz-security-token'] = creds.sessionToken;
  const names = Object.keys(all).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
  const query = [...url.searchParams.entries()].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const canonical = [method, url.pathname, query, names.map((h) => `${h}:${lower[h]}\n`).join(''), names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const signature = createHmac('sha256', signingKey(creds.secretAccessKey, scope)).update(toSign).digest('hex');
  return { ...all, authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

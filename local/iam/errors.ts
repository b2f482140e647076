/** The error a denied call fails with, worded as AWS words it. */
import { Principal, sessionArnOf } from './policy';

/**
 * Thrown by {@link IamPolicies.assertAllowed}. The message follows AWS's access-denied wording
 * (IAM User Guide, "Troubleshoot access denied error messages"; Amazon S3 User Guide, "Troubleshoot
 * access denied (403 Forbidden) errors"): `User: <caller> is not authorized to perform: <action> on
 * resource: <arn> because no identity-based policy allows the <action> action`; Amazon S3 quotes the
 * resource ARN.
 */
export class AccessDeniedError extends Error {
  override readonly name = 'AccessDenied';
  /** HTTP status the local endpoints answer with. */
  readonly statusCode = 403;

  constructor(
    readonly principal: Principal,
    readonly action: string,
    readonly resource: string,
    readonly decision: 'ExplicitDeny' | 'ImplicitDeny',
    readonly reason: string,
  ) {
    super(accessDeniedMessage(principal, action, resource, reason));
  }
}

/** The caller as AWS names it in a message: the assumed-role session ARN for a role. */
export function callerName(p: Principal): string {
  return sessionArnOf(p);
}

/** `User: ... is not authorized to perform: ... on resource: ... <reason>`. */
export function accessDeniedMessage(p: Principal, action: string, resource: string, reason: string): string {
  const res = resource.startsWith('arn:') && resource.split(':')[2] === 's3' ? `"${resource}"` : resource;
  return `User: ${callerName(p)} is not authorized to perform: ${action} on resource: ${res} ${reason}`;
}

/** Thrown when a template's policies cannot be evaluated offline or faithfully (docs/local-iam.md). */
export class UnsupportedPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedPolicyError';
  }
}

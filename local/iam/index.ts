/**
 * Local IAM: decides every call of the local AWS as AWS would for a same-account request, against
 * the identity policies, resource policies, key policies and Lambda permissions of the synthesized
 * template (IAM User Guide, "Policy evaluation logic"; AWS KMS Developer Guide, "Key policies").
 *
 * Order of evaluation:
 * 1. An explicit Deny that applies (identity policy, or resource policy naming the caller or its
 *    account) → ExplicitDeny.
 * 2. KMS keys: the key policy must allow: naming the caller directly allows; naming the account
 *    (`arn:aws:iam::<acct>:root`) delegates to the caller's identity policies.
 * 3. Other resources: allowed when the resource policy names the caller directly and allows, or an
 *    identity policy allows. A resource policy naming only the account delegates to identity
 *    policies. Service principals have no identity policies.
 * 4. Otherwise ImplicitDeny.
 *
 * See docs/local-iam.md.
 */
import { createHash } from 'node:crypto';
import { ConditionValue, Context, LayeredContext, toContext } from './conditions';
import { AccessDeniedError } from './errors';
import { CompiledStatement, PolicyDocumentJson, Principal, PolicyStatementJson, StatementSource, statementsOf } from './policy';
import { extractPolicies } from './template-policies';
import type { ResolvedTemplate } from '../template';

export type { ConditionValue } from './conditions';
export type { Principal, PolicyStatementJson, PolicyDocumentJson, StatementSource } from './policy';
export { AccessDeniedError, accessDeniedMessage, UnsupportedPolicyError } from './errors';
export { AWS_MANAGED_POLICIES } from './managed-policies';
export { callerOf, type AuthenticationErrors } from './credentials';
export { isAwsManagedKey, kmsKeyArnOf } from './kms';

/** One call to authorize. */
export interface AuthorizationRequest {
  readonly principal: Principal;
  /** `s3:GetObject` (matched case-insensitively, as IAM does). */
  readonly action: string;
  /** Full ARN, e.g. `arn:aws:s3:::bucket/key`. */
  readonly resource: string;
  /**
   * Request keys (s3:prefix, kms:ViaService, kms:EncryptionContext:..., aws:SourceArn, ...). The
   * evaluator adds aws:SecureTransport=true, aws:PrincipalArn, aws:PrincipalAccount,
   * aws:PrincipalType, aws:PrincipalIsAWSService, aws:PrincipalServiceName, aws:CurrentTime,
   * aws:EpochTime and aws:userid itself; a value given here wins.
   */
  readonly context?: Readonly<Record<string, ConditionValue | undefined>>;
}

/** The decision on one call. */
export interface AuthorizationResult {
  readonly decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';
  /** AWS-style explanation: 'because no identity-based policy allows the s3:GetObject action', ... */
  readonly reason: string;
  /** The statements that decided (the denying ones, or the allowing ones). */
  readonly statements?: readonly StatementSource[];
}

/** An identity policy statement attached to a role. */
export interface IdentityPolicyEntry {
  readonly roleArn: string;
  readonly logicalId: string;
  readonly document: PolicyDocumentJson;
}

/** A resource policy (bucket, topic, queue, key policy, Lambda permission) of one resource. */
export interface ResourcePolicyEntry {
  /** The resource's ARN (bucket `arn:aws:s3:::name`, function ARN without qualifier, key ARN, ...). */
  readonly resourceArn: string;
  readonly logicalId: string;
  readonly document: PolicyDocumentJson;
}

/** The policies to evaluate, in plain JSON (see {@link IamPolicies.of}). */
export interface IamPoliciesInit {
  readonly account: string;
  /** @default 'aws' */
  readonly partition?: string;
  readonly identity?: readonly IdentityPolicyEntry[];
  readonly resource?: readonly ResourcePolicyEntry[];
  /** Role ARN by logical id (functions, state machines, `<rule>` and `<rule>/<targetId>` for rule targets). */
  readonly roles?: Readonly<Record<string, string>>;
}

interface Entry { readonly key: string; readonly statement: CompiledStatement }

const MAX_CACHE = 10_000;

/** All policies of one resolved template (identity policies per role, resource policies, Lambda permissions). */
export class IamPolicies {
  /** Builds the policies of a template resolved with `resolveTemplate` (local/template). */
  static fromTemplate(template: ResolvedTemplate, env: { account: string; region: string; partition?: string }): IamPolicies {
    return new IamPolicies(extractPolicies(template, env));
  }

  /** Builds policies from plain documents (tests, other callers). */
  static of(init: IamPoliciesInit): IamPolicies {
    return new IamPolicies(init);
  }

  private readonly identity = new Map<string, Entry[]>();
  private readonly resource = new Map<string, Entry[]>();
  private readonly candidates = new Map<string, CompiledStatement[]>();
  private readonly principalContexts = new Map<string, Context>();
  private readonly partition: string;

  private constructor(private readonly init: IamPoliciesInit) {
    this.partition = init.partition ?? 'aws';
    for (const e of init.identity ?? []) {
      const variables = e.document.Version === '2012-10-17';
      for (const s of statementsOf(e.document)) {
        push(this.identity, e.roleArn, { key: e.roleArn, statement: new CompiledStatement({ logicalId: e.logicalId, statement: s }, variables) });
      }
    }
    for (const e of init.resource ?? []) {
      const variables = e.document.Version === '2012-10-17';
      const owner = ownerArn(e.resourceArn);
      for (const s of statementsOf(e.document)) {
        push(this.resource, owner, { key: owner, statement: new CompiledStatement({ logicalId: e.logicalId, statement: s }, variables) });
      }
    }
  }

  /** The account the policies belong to. */
  get account(): string { return this.init.account; }

  /** The role ARN of a Lambda function / state machine / events rule target, by logical id. */
  roleArnOf(logicalId: string, targetId?: string): string | undefined {
    const roles = this.init.roles ?? {};
    return targetId === undefined ? roles[logicalId] : roles[`${logicalId}/${targetId}`];
  }

  /** A role principal for a role ARN of this account. */
  rolePrincipal(roleArn: string, sessionName?: string): Principal {
    return { kind: 'role', arn: roleArn, account: this.init.account, sessionName };
  }

  /** The account root (the local user). */
  rootPrincipal(): Principal {
    return { kind: 'root', arn: `arn:${this.partition}:iam::${this.init.account}:root`, account: this.init.account };
  }

  /** An AWS service principal (`cloudwatch.amazonaws.com`). */
  servicePrincipal(service: string): Principal {
    return { kind: 'service', arn: service, account: this.init.account };
  }

  /** Drop statements (for tests that prove a grant is needed): a copy without the statements matching. */
  without(match: (s: { logicalId: string; statement: PolicyStatementJson }) => boolean): IamPolicies {
    const filter = <T extends { logicalId: string; document: PolicyDocumentJson }>(e: T): T => ({
      ...e,
      document: { ...e.document, Statement: statementsOf(e.document).filter((statement) => !match({ logicalId: e.logicalId, statement })) },
    });
    return new IamPolicies({
      ...this.init,
      identity: (this.init.identity ?? []).map(filter),
      resource: (this.init.resource ?? []).map(filter),
    });
  }

  /** Identity policy documents of a role, as given (for inspection). */
  identityPoliciesOf(roleArn: string): readonly StatementSource[] {
    return (this.identity.get(roleArn) ?? []).map((e) => e.statement.source);
  }

  /** Resource policy statements of a resource (bucket, topic, queue, key, function), as given. */
  resourcePolicyOf(resourceArn: string): readonly StatementSource[] {
    return (this.resource.get(ownerArn(resourceArn)) ?? []).map((e) => e.statement.source);
  }

  /** Same-account evaluation (see the module doc). */
  authorize(req: AuthorizationRequest): AuthorizationResult {
    const p = req.principal;
    const action = req.action;
    const globals = [this.principalContext(p), clockContext()];
    const ctx = new LayeredContext(req.context ? [toContext(req.context), ...globals] : globals);
    const lookup = (key: string): string | undefined => {
      // Multivalued keys cannot be policy variables.
      const v = ctx.get(key.toLowerCase());
      return typeof v === 'string' ? v : undefined;
    };
    const idStatements = p.kind === 'role' ? this.candidatesFor('i', p.arn, action) : [];
    const owner = ownerArn(req.resource);
    const resStatements = this.candidatesFor('r', owner, action);

    const identityAllow: StatementSource[] = [];
    const identityDeny: StatementSource[] = [];
    const resourceDeny: StatementSource[] = [];
    const resourceDirect: StatementSource[] = [];
    const resourceAccount: StatementSource[] = [];
    for (const s of idStatements) {
      if (!s.appliesToResource(req.resource, lookup) || !s.conditionHolds(ctx, lookup)) continue;
      (s.effect === 'Deny' ? identityDeny : identityAllow).push(s.source);
    }
    for (const s of resStatements) {
      const pm = s.principalMatch(p);
      if (pm === 'none') continue;
      if (!s.appliesToResource(req.resource, lookup) || !s.conditionHolds(ctx, lookup)) continue;
      if (s.effect === 'Deny') resourceDeny.push(s.source);
      else (pm === 'direct' ? resourceDirect : resourceAccount).push(s.source);
    }
    if (identityDeny.length > 0) {
      return { decision: 'ExplicitDeny', reason: 'with an explicit deny in an identity-based policy', statements: identityDeny };
    }
    if (resourceDeny.length > 0) {
      return { decision: 'ExplicitDeny', reason: 'with an explicit deny in a resource-based policy', statements: resourceDeny };
    }
    const identityAllows = p.kind === 'root' || identityAllow.length > 0;
    if (isKmsKey(action, req.resource)) {
      if (resourceDirect.length > 0) return { decision: 'Allow', reason: 'allowed by the key policy', statements: resourceDirect };
      if (resourceAccount.length > 0 && identityAllows) {
        return { decision: 'Allow', reason: 'allowed by an identity-based policy the key policy enables', statements: identityAllow };
      }
      if (resourceAccount.length > 0) {
        return { decision: 'ImplicitDeny', reason: `because no identity-based policy allows the ${action} action` };
      }
      return { decision: 'ImplicitDeny', reason: `because no resource-based policy allows the ${action} action` };
    }
    if (resourceDirect.length > 0) return { decision: 'Allow', reason: 'allowed by a resource-based policy', statements: resourceDirect };
    if (identityAllows) return { decision: 'Allow', reason: 'allowed by an identity-based policy', statements: identityAllow };
    const kind = p.kind === 'service' ? 'resource-based' : 'identity-based';
    return { decision: 'ImplicitDeny', reason: `because no ${kind} policy allows the ${action} action` };
  }

  /**
   * The denial of a call (an AccessDeniedError, worded as AWS words it, to throw or to map onto the
   * service's own error), or undefined when it is allowed.
   */
  denial(req: AuthorizationRequest): AccessDeniedError | undefined {
    const r = this.authorize(req);
    return r.decision === 'Allow' ? undefined : new AccessDeniedError(req.principal, req.action, req.resource, r.decision, r.reason);
  }

  /** Throws the {@link denial} unless the call is allowed. */
  assertAllowed(req: AuthorizationRequest): void {
    const denied = this.denial(req);
    if (denied) throw denied;
  }

  /** Statements whose Action/NotAction covers the action, cached per (role or resource, action). */
  private candidatesFor(kind: 'i' | 'r', key: string, action: string): CompiledStatement[] {
    const cacheKey = `${kind}\n${key}\n${action.toLowerCase()}`;
    let hit = this.candidates.get(cacheKey);
    if (hit === undefined) {
      const all = (kind === 'i' ? this.identity : this.resource).get(key) ?? [];
      hit = all.filter((e) => e.statement.appliesToAction(action)).map((e) => e.statement);
      if (this.candidates.size >= MAX_CACHE) this.candidates.clear();
      this.candidates.set(cacheKey, hit);
    }
    return hit;
  }

  /** The global condition keys AWS adds to every request of this principal (cached per principal). */
  private principalContext(p: Principal): Context {
    const cacheKey = `${p.kind}\n${p.arn}\n${p.account}\n${p.sessionName ?? ''}`;
    let ctx = this.principalContexts.get(cacheKey);
    if (ctx) return ctx;
    const base: Record<string, ConditionValue> = {
      'aws:SecureTransport': true,
      'aws:PrincipalIsAWSService': p.kind === 'service',
    };
    let keys: Record<string, ConditionValue>;
    if (p.kind === 'service') {
      keys = { ...base, 'aws:PrincipalServiceName': p.arn };
    } else {
      const common = { ...base, 'aws:PrincipalAccount': p.account, 'aws:PrincipalArn': p.arn };
      keys = p.kind === 'root'
        ? { ...common, 'aws:PrincipalType': 'Account', 'aws:userid': p.account }
        : { ...common, 'aws:PrincipalType': 'AssumedRole', 'aws:userid': `${roleId(p.arn)}:${p.sessionName ?? 'local'}` };
    }
    ctx = toContext(keys);
    if (this.principalContexts.size >= MAX_CACHE) this.principalContexts.clear();
    this.principalContexts.set(cacheKey, ctx);
    return ctx;
  }
}

let clock: { second: number; ctx: Context } | undefined;

/** aws:CurrentTime and aws:EpochTime, computed once per second. */
function clockContext(): Context {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (clock?.second !== second) {
    clock = {
      second,
      ctx: toContext({ 'aws:CurrentTime': new Date(second * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'), 'aws:EpochTime': second }),
    };
  }
  return clock.ctx;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value); else map.set(key, [value]);
}

/** A deterministic role id (`AROA` + 17 characters) for aws:userid. */
function roleId(roleArn: string): string {
  return `AROA${createHash('sha256').update(roleArn).digest('hex').slice(0, 17).toUpperCase()}`;
}

/** True for a KMS action on a key (the key policy must allow). */
function isKmsKey(action: string, resource: string): boolean {
  return action.toLowerCase().startsWith('kms:') && /^arn:[^:]+:kms:[^:]*:[^:]*:key\//.test(resource);
}

/**
 * The ARN of the resource whose resource policy governs a request's resource: the bucket for an
 * object (`arn:aws:s3:::b/k` → `arn:aws:s3:::b`), the function for a qualified function ARN, the ARN
 * itself otherwise.
 */
export function ownerArn(resource: string): string {
  const parts = resource.split(':');
  if (parts[2] === 's3' && parts[3] === '' && parts[4] === '' && parts.length >= 6) {
    const rest = parts.slice(5).join(':');
    const slash = rest.indexOf('/');
    return `${parts.slice(0, 5).join(':')}:${slash < 0 ? rest : rest.slice(0, slash)}`;
  }
  if (parts[2] === 'lambda' && parts[5] === 'function' && parts.length > 7) return parts.slice(0, 7).join(':');
  return resource;
}

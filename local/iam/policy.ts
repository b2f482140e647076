/**
 * Policy statements compiled for evaluation: Effect, Action/NotAction, Resource/NotResource,
 * Principal/NotPrincipal and Condition.
 */
import { CompiledCondition, Context } from './conditions';
import { UnsupportedPolicyError } from './errors';
import { Pattern, VariableLookup } from './wildcard';

/** One statement of a policy document, as JSON (intrinsics resolved). */
export interface PolicyStatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny' | string;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Principal?: '*' | Readonly<Record<string, string | readonly string[]>>;
  readonly NotPrincipal?: '*' | Readonly<Record<string, string | readonly string[]>>;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** A policy document. */
export interface PolicyDocumentJson {
  readonly Version?: string;
  readonly Statement: PolicyStatementJson | readonly PolicyStatementJson[];
}

/** Who makes a call. */
export interface Principal {
  readonly kind: 'role' | 'root' | 'service';
  /**
   * role: `arn:aws:iam::<acct>:role/<name>`; root: `arn:aws:iam::<acct>:root` (the local user
   * uploading data and reading results: an account admin, allowed by identity policy, still subject
   * to resource-policy denies and key policies); service: e.g. `cloudwatch.amazonaws.com`.
   */
  readonly arn: string;
  readonly account: string;
  /** Role session name (the Lambda function name for a Lambda role); used in messages and aws:userid. @default 'local' */
  readonly sessionName?: string;
}

/** How a resource policy's Principal element names the caller. */
export type PrincipalMatch =
  /** Names the caller (its role or session ARN, `*`, its service, or the account root for the root user). */
  | 'direct'
  /** Names the caller's account (id or root ARN): for a role, a delegation to its identity policies. */
  | 'account'
  | 'none';

function list(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? [...(v as readonly string[])] : [v as string];
}

/** The partition of an ARN (`aws` for `arn:aws:...`). */
function partitionOf(arn: string): string {
  return arn.split(':')[1] ?? 'aws';
}

/** The role name of a role ARN (path excluded). */
export function roleNameOf(roleArn: string): string {
  const res = roleArn.slice(roleArn.indexOf(':role/') + ':role/'.length);
  return res.slice(res.lastIndexOf('/') + 1);
}

/** `arn:aws:sts::<acct>:assumed-role/<role>/<session>` for a role principal. */
export function sessionArnOf(p: Principal): string {
  if (p.kind !== 'role') return p.arn;
  return `arn:${partitionOf(p.arn)}:sts::${p.account}:assumed-role/${roleNameOf(p.arn)}/${p.sessionName ?? 'local'}`;
}

/** A compiled principal list (the value of Principal or NotPrincipal). */
class PrincipalSet {
  private readonly anyone: boolean;
  private readonly aws: Set<string>;
  private readonly services: Set<string>;

  constructor(raw: PolicyStatementJson['Principal']) {
    if (raw === '*') {
      this.anyone = true; this.aws = new Set(); this.services = new Set();
      return;
    }
    const aws = list(raw?.AWS);
    this.anyone = aws.includes('*');
    this.aws = new Set(aws);
    this.services = new Set(list(raw?.Service).map((s) => s.toLowerCase()));
  }

  /**
   * Whether NotPrincipal excludes the caller. AWS checks the account, then the role, then the
   * session: a role session is excluded only when both its account and its role (or session) are
   * listed (IAM User Guide, "AWS JSON policy elements: NotPrincipal").
   */
  excludes(p: Principal): boolean {
    if (this.anyone) return true;
    if (p.kind === 'service') return this.services.has(p.arn.toLowerCase());
    const root = `arn:${partitionOf(p.arn)}:iam::${p.account}:root`;
    const account = this.aws.has(root) || this.aws.has(p.account);
    if (p.kind === 'root') return account;
    return account && (this.aws.has(p.arn) || this.aws.has(sessionArnOf(p)));
  }

  match(p: Principal): PrincipalMatch {
    if (this.anyone) return 'direct';
    if (p.kind === 'service') return this.services.has(p.arn.toLowerCase()) ? 'direct' : 'none';
    const root = `arn:${partitionOf(p.arn)}:iam::${p.account}:root`;
    if (p.kind === 'root') return this.aws.has(root) || this.aws.has(p.account) ? 'direct' : 'none';
    if (this.aws.has(p.arn) || this.aws.has(sessionArnOf(p))) return 'direct';
    if (this.aws.has(root) || this.aws.has(p.account)) return 'account';
    return 'none';
  }
}

/** Where a statement comes from. */
export interface StatementSource {
  /** Logical id of the template resource holding the policy (or the Lambda permission). */
  readonly logicalId: string;
  readonly statement: PolicyStatementJson;
}

/** A statement ready to evaluate. */
export class CompiledStatement {
  readonly effect: 'Allow' | 'Deny';
  private readonly actions: Pattern[];
  private readonly notAction: boolean;
  private readonly resources: Pattern[];
  private readonly notResource: boolean;
  private readonly principals?: PrincipalSet;
  private readonly notPrincipal: boolean;
  readonly condition: CompiledCondition;

  constructor(readonly source: StatementSource, variables: boolean) {
    const s = source.statement;
    this.effect = s.Effect === 'Deny' ? 'Deny' : 'Allow';
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') {
      throw new UnsupportedPolicyError(`policy statement of ${source.logicalId} has Effect ${JSON.stringify(s.Effect)} (expected Allow or Deny)`);
    }
    this.notAction = s.NotAction !== undefined;
    this.actions = list(this.notAction ? s.NotAction : s.Action).map((a) => new Pattern(a, 'action'));
    this.notResource = s.NotResource !== undefined;
    this.resources = list(this.notResource ? s.NotResource : s.Resource).map((r) => new Pattern(r, 'resource', variables));
    this.notPrincipal = s.NotPrincipal !== undefined;
    const principal = this.notPrincipal ? s.NotPrincipal : s.Principal;
    if (principal !== undefined) this.principals = new PrincipalSet(principal);
    this.condition = new CompiledCondition(s.Condition as Record<string, Record<string, unknown>> | undefined);
  }

  /** True when Action/NotAction covers the action (case-insensitive). */
  appliesToAction(action: string): boolean {
    const hit = this.actions.some((p) => p.test(action));
    return this.notAction ? !hit : hit;
  }

  /**
   * True when Resource/NotResource covers the resource ARN. A policy variable without a value makes
   * its Resource entry match nothing, and a NotResource statement not apply at all (IAM User Guide,
   * "IAM policy elements: Variables and tags": a variable AWS cannot resolve can make the whole
   * statement invalid).
   */
  appliesToResource(resource: string, lookup: VariableLookup): boolean {
    let hit = false;
    for (const p of this.resources) {
      const m = p.match(resource, lookup);
      if (m === undefined && this.notResource) return false;
      if (m === true) { hit = true; break; }
    }
    return this.notResource ? !hit : hit;
  }

  /** How the Principal/NotPrincipal element names the caller (identity policies have none: 'direct'). */
  principalMatch(p: Principal): PrincipalMatch {
    if (!this.principals) return 'direct';
    if (this.notPrincipal) return this.principals.excludes(p) ? 'none' : 'direct';
    return this.principals.match(p);
  }

  /** True when the Condition block holds. */
  conditionHolds(ctx: Context, lookup: VariableLookup): boolean {
    return this.condition.empty || this.condition.matches(ctx, lookup);
  }
}

/** The statements of a policy document (a single statement object or a list). */
export function statementsOf(doc: PolicyDocumentJson | undefined): PolicyStatementJson[] {
  if (!doc || doc.Statement === undefined) return [];
  return Array.isArray(doc.Statement) ? [...(doc.Statement as PolicyStatementJson[])] : [doc.Statement as PolicyStatementJson];
}

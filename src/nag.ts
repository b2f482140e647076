import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** One acknowledged cdk-nag finding: rule id, the reason, optionally the findings it covers. */
export interface NagAcknowledgement {
  readonly id: string;
  readonly reason: string;
  /** Finding ids (`Resource::…`, `Action::…`) or `{ regex: '/…/' }`; all findings of the rule when absent. */
  readonly appliesTo?: (string | { readonly regex: string })[];
}

/**
 * Records cdk-nag acknowledgements on the CfnResource behind `construct` (its default child),
 * in the `cdk_nag` metadata format that `NagSuppressions.addResourceSuppressions` writes. The
 * library ships its acknowledgements this way so that consumers running cdk-nag see the reasons
 * without cdk-nag becoming a runtime dependency. Each call is scoped to exactly one resource.
 */
export function acknowledge(construct: IConstruct, rules: readonly NagAcknowledgement[]): void {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`acknowledge: ${construct.node.path} has no CloudFormation resource`);
  }
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
  const added = rules.map((r) => {
    if (r.reason.length < 10 || /[^\x20-\x7e]/.test(r.reason)) throw new Error(`acknowledge: the reason of ${r.id} must be at least 10 printable ASCII characters`);
    return r.appliesTo ? { reason: r.reason, id: r.id, applies_to: r.appliesTo } : { reason: r.reason, id: r.id };
  });
  const unique = [...new Set([...existing, ...added].map((x) => JSON.stringify(x)))].map((x) => JSON.parse(x));
  resource.addMetadata('cdk_nag', { rules_to_suppress: unique });
}

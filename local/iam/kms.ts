/** KMS key names as IAM evaluates them: every key id, alias or ARN a template or request gives, as one ARN. */

/**
 * A key id, key ARN, alias name or alias ARN as a full ARN: `arn:<partition>:kms:<region>:<account>:key/<id>`
 * or `…:alias/<name>` (an ARN is returned as given). An alias is not resolved to its key.
 */
export function kmsKeyArnOf(id: string, env: { readonly account: string; readonly region: string; readonly partition?: string }): string {
  if (id.startsWith('arn:')) return id;
  return `arn:${env.partition ?? 'aws'}:kms:${env.region}:${env.account}:${id.startsWith('alias/') ? id : `key/${id}`}`;
}

/** Whether a key id or ARN names an AWS managed key (`alias/aws/<service>`), whose key policy lets the account use it through its service. */
export function isAwsManagedKey(idOrArn: string): boolean {
  return /^alias\/aws\//.test(idOrArn) || /:alias\/aws\//.test(idOrArn);
}

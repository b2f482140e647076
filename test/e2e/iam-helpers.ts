/**
 * Helpers of the IAM end-to-end tests: a tiny data set, the pipeline app synthesized into a cloud
 * assembly, and copies of that assembly with one grant taken out of one role's policy.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CfnTemplate, synthesizePipelineTemplate } from '../../local/template';

/** A data folder with one snapshot of one small object (`lines` records of the shipped data). */
export function tinyData(dir: string, lines = 3, snapshot = '2025-08-10'): string {
  const src = readFileSync(join(__dirname, '..', '..', 'data', 'batch', '2025-08-10', 'facilities_0001.jsonl'), 'utf8')
    .split('\n').filter((l) => l.trim() !== '').slice(0, lines)
    .map((l) => l.replace(/"snapshot_date":"[^"]*"/, `"snapshot_date":"${snapshot}"`));
  mkdirSync(join(dir, snapshot), { recursive: true });
  writeFileSync(join(dir, snapshot, 'facilities_0001.jsonl'), `${src.join('\n')}\n`);
  return dir;
}

/** Synthesizes the built-in pipeline stack (with `props`) into `dir`; returns the template file. */
export function synthesizeApp(dir: string, props: Record<string, unknown> = {}): string {
  const s = synthesizePipelineTemplate(props, { outdir: dir });
  return join(s.assemblyDir, `${s.stackName}.template.json`);
}

/** What to take out of a role's policies. */
export interface GrantToRemove {
  /** The resource that uses the role: the role is its `Role` / `RoleArn` (or the rule target's RoleArn). */
  readonly user: RegExp;
  /** The action to remove from every statement of the role's policies that allows it. */
  readonly action: string;
  /** Remove the action only on the resources (of those statements) that mention this (default: on every resource). */
  readonly resourceMentions?: RegExp;
}

function roleIdOf(value: unknown): string | undefined {
  const m = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(JSON.stringify(value ?? null));
  return m?.[1];
}

/**
 * Copies the assembly `srcDir` to `destDir` with one grant removed from the template whose file
 * name is `templateFile` (relative). Throws when nothing was removed, so a test cannot pass
 * vacuously.
 */
export function assemblyWithout(srcDir: string, destDir: string, templateFile: string, grant: GrantToRemove): string {
  cpSync(srcDir, destDir, { recursive: true });
  const file = join(destDir, templateFile);
  const t = JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  const roles = new Set<string>();
  for (const [id, r] of Object.entries(t.Resources)) {
    if (!grant.user.test(id)) continue;
    const p = r.Properties ?? {};
    for (const v of [p.Role, p.RoleArn, ...(p.Targets ?? []).map((x: { RoleArn?: unknown }) => x.RoleArn)]) {
      const role = roleIdOf(v);
      if (role) roles.add(role);
    }
  }
  if (roles.size === 0) throw new Error(`no resource matching ${grant.user} with a role`);
  let removed = 0;
  const wanted = grant.action.toLowerCase();
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const attached = (r.Properties?.Roles ?? []).map((x: { Ref?: string }) => x.Ref);
    if (!attached.some((x: string) => roles.has(x))) continue;
    const doc = r.Properties!.PolicyDocument;
    doc.Statement = doc.Statement.flatMap((s: { Action: string | string[]; Resource: unknown; Effect: string }) => {
      const actions = [s.Action].flat();
      if (s.Effect !== 'Allow' || !actions.some((a) => a.toLowerCase() === wanted)) return [s];
      const resources = [s.Resource].flat();
      const kept = grant.resourceMentions ? resources.filter((x) => !grant.resourceMentions!.test(JSON.stringify(x))) : [];
      if (kept.length === resources.length) return [s];
      removed++;
      const rest = actions.filter((a) => a.toLowerCase() !== wanted);
      const out = [];
      if (rest.length > 0) out.push({ ...s, Action: rest.length === 1 ? rest[0] : rest });
      if (kept.length > 0) out.push({ ...s, Action: grant.action, Resource: kept.length === 1 ? kept[0] : kept });
      return out;
    });
    // A policy needs a statement: one left empty is deleted (with the DependsOn that name it).
    if (doc.Statement.length === 0) {
      delete (t.Resources as Record<string, unknown>)[id];
      for (const other of Object.values(t.Resources) as Array<{ DependsOn?: string | string[] }>) {
        if (Array.isArray(other.DependsOn)) other.DependsOn = other.DependsOn.filter((d) => d !== id);
        else if (other.DependsOn === id) delete other.DependsOn;
      }
    }
  }
  if (removed === 0) throw new Error(`no statement of roles ${[...roles].join(', ')} allows ${grant.action}`);
  writeFileSync(file, JSON.stringify(t, null, 1));
  return destDir;
}

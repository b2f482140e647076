/**
 * The Condition element: operators, `...IfExists`, `ForAnyValue:`/`ForAllValues:` and the
 * AND/OR/NOR rules of the IAM User Guide ("IAM JSON policy elements: Condition operators",
 * "Conditions with multiple context keys or values").
 *
 * - Several operators in a block, and several keys under one operator: AND.
 * - Several values for one key: OR; for a negated operator (`StringNotEquals`, `ArnNotLike`,
 *   `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`): NOR.
 * - A key absent from the request context: false for a positive operator, true for a negated one;
 *   `...IfExists` makes it true; `Null` tests presence; `ForAllValues:` is true on a missing key or an
 *   empty set, `ForAnyValue:` false (true with IfExists).
 * - A multivalued key (a list in the request context, even empty) needs `ForAnyValue:`/`ForAllValues:`;
 *   a single-valued operator on it does not hold (the documentation says set operators are required;
 *   @cloud-copilot/iam-simulate evaluates it so).
 * - A policy variable (`${aws:SourceAccount}`) without a value in the request fails its test.
 * - An unknown operator never matches (IAM rejects such a policy when it is saved; here the
 *   statement simply has no effect).
 */
import { Pattern, VariableLookup } from './wildcard';

/** A request context value. */
export type ConditionValue = string | number | boolean | readonly string[];

/**
 * The request context, with keys lower-cased (condition key names are case-insensitive). A list
 * is a multivalued key (possibly empty); a string a single value.
 */
export interface Context {
  /** The value of a lower-cased key, or undefined when the request lacks it. */
  get(lowerCaseKey: string): string | readonly string[] | undefined;
}

type Base =
  | 'StringEquals' | 'StringEqualsIgnoreCase' | 'StringLike'
  | 'NumericEquals' | 'NumericLessThan' | 'NumericLessThanEquals' | 'NumericGreaterThan' | 'NumericGreaterThanEquals'
  | 'DateEquals' | 'DateLessThan' | 'DateLessThanEquals' | 'DateGreaterThan' | 'DateGreaterThanEquals'
  | 'Bool' | 'BinaryEquals' | 'IpAddress' | 'ArnLike';

/** Negated operator → its positive form. ArnEquals and ArnLike behave alike (both take wildcards). */
const NEGATED: Record<string, Base> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnLike',
  ArnNotLike: 'ArnLike',
};
const POSITIVE: Record<string, Base> = {
  StringEquals: 'StringEquals',
  StringEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringLike: 'StringLike',
  NumericEquals: 'NumericEquals',
  NumericLessThan: 'NumericLessThan',
  NumericLessThanEquals: 'NumericLessThanEquals',
  NumericGreaterThan: 'NumericGreaterThan',
  NumericGreaterThanEquals: 'NumericGreaterThanEquals',
  DateEquals: 'DateEquals',
  DateLessThan: 'DateLessThan',
  DateLessThanEquals: 'DateLessThanEquals',
  DateGreaterThan: 'DateGreaterThan',
  DateGreaterThanEquals: 'DateGreaterThanEquals',
  Bool: 'Bool',
  BinaryEquals: 'BinaryEquals',
  IpAddress: 'IpAddress',
  ArnEquals: 'ArnLike',
  ArnLike: 'ArnLike',
};

/** One `operator: { key: values }` entry, compiled. */
interface CompiledTest {
  readonly operator: string;
  readonly key: string;
  readonly set?: 'any' | 'all';
  readonly ifExists: boolean;
  readonly negated: boolean;
  /** undefined: the Null operator. */
  readonly base?: Base;
  /** Null: true tests absence. */
  readonly nullExpected?: boolean[];
  readonly values: readonly string[];
  /** One per policy value: undefined when a policy variable in the value has no value. */
  readonly matchers: readonly Matcher[];
  /** An operator this evaluator does not know: the test is false. */
  readonly unknown?: boolean;
}

/** A compiled Condition block. */
export class CompiledCondition {
  private readonly tests: CompiledTest[];

  constructor(block: Record<string, Record<string, unknown>> | undefined) {
    this.tests = [];
    for (const [operator, entries] of Object.entries(block ?? {})) {
      for (const [key, raw] of Object.entries(entries ?? {})) {
        this.tests.push(compileTest(operator, key, raw));
      }
    }
  }

  get empty(): boolean { return this.tests.length === 0; }

  /** True when every test holds for the request context. */
  matches(ctx: Context, lookup: VariableLookup): boolean {
    for (const t of this.tests) if (!runTest(t, ctx, lookup)) return false;
    return true;
  }
}

function asStrings(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  return list.filter((v) => v !== undefined && v !== null).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
}

function compileTest(operatorRaw: string, key: string, raw: unknown): CompiledTest {
  let op = operatorRaw;
  let set: 'any' | 'all' | undefined;
  const colon = op.indexOf(':');
  if (colon > 0) {
    const q = op.slice(0, colon).toLowerCase();
    if (q === 'foranyvalue') set = 'any';
    else if (q === 'forallvalues') set = 'all';
    op = op.slice(colon + 1);
  }
  let ifExists = false;
  if (op.endsWith('IfExists')) { ifExists = true; op = op.slice(0, -'IfExists'.length); }
  const values = asStrings(raw);
  const common = { operator: operatorRaw, key: key.toLowerCase(), set, ifExists, values };
  if (op === 'Null' && !ifExists && set === undefined) {
    return { ...common, negated: false, nullExpected: values.map((v) => v.toLowerCase() === 'true'), matchers: [] };
  }
  const negatedBase = NEGATED[op];
  const base = negatedBase ?? POSITIVE[op];
  if (!base || (colon > 0 && set === undefined)) return { ...common, negated: false, matchers: [], unknown: true };
  return { ...common, negated: negatedBase !== undefined, base, matchers: values.map((v) => matcher(base, v)) };
}

type Matcher = (value: string, lookup: VariableLookup) => boolean | undefined;

/** A predicate testing one request value against one policy value. */
function matcher(base: Base, policy: string): Matcher {
  switch (base) {
    case 'StringEquals': {
      if (!policy.includes('${')) return (v) => v === policy;
      const p = new Pattern(escapeWildcards(policy), 'like', true);
      return (v, lookup) => p.match(v, lookup);
    }
    case 'StringEqualsIgnoreCase': {
      if (!policy.includes('${')) { const lower = policy.toLowerCase(); return (v) => v.toLowerCase() === lower; }
      const p = new Pattern(escapeWildcards(policy), 'action', true); // case-insensitive glob without wildcards
      return (v, lookup) => p.match(v, lookup);
    }
    case 'StringLike': {
      const p = new Pattern(policy, 'like', true);
      return (v, lookup) => p.match(v, lookup);
    }
    case 'ArnLike': {
      const pattern = arnSegments(policy);
      if (!pattern) return () => false;
      const segs = pattern.map((s) => new Pattern(s, 'like', true));
      return (v, lookup) => {
        const value = arnSegments(v);
        if (value === undefined) return false;
        let all = true;
        for (let i = 0; i < segs.length; i++) {
          const m = segs[i].match(value[i], lookup);
          if (m === undefined) return undefined;
          if (!m) all = false;
        }
        return all;
      };
    }
    case 'Bool': {
      const want = policy.toLowerCase();
      return (v) => v.toLowerCase() === want;
    }
    case 'BinaryEquals': return (v) => v === policy;
    case 'IpAddress': {
      const cidr = parseCidr(policy);
      return (v) => cidr !== undefined && inCidr(v, cidr);
    }
    default: {
      if (base.startsWith('Numeric')) {
        const p = Number(policy);
        const cmp = comparator(base.slice('Numeric'.length));
        return (v) => { const n = Number(v); return v.trim() !== '' && policy.trim() !== '' && !isNaN(n) && !isNaN(p) && cmp(n, p); };
      }
      const p = parseDate(policy);
      const cmp = comparator(base.slice('Date'.length));
      return (v) => { const d = parseDate(v); return d !== undefined && p !== undefined && cmp(d, p); };
    }
  }
}

/** `StringEquals` values are literal: protect `*`/`?` when the value is compiled as a pattern for variables. */
function escapeWildcards(s: string): string {
  return s.replace(/\*/g, '${*}').replace(/\?/g, '${?}');
}

function comparator(kind: string): (a: number, b: number) => boolean {
  switch (kind) {
    case 'Equals': return (a, b) => a === b;
    case 'LessThan': return (a, b) => a < b;
    case 'LessThanEquals': return (a, b) => a <= b;
    case 'GreaterThan': return (a, b) => a > b;
    case 'GreaterThanEquals': return (a, b) => a >= b;
    default: return () => false;
  }
}

/** ISO 8601 date/time, or epoch seconds (`aws:EpochTime`); milliseconds since epoch. */
function parseDate(v: string): number | undefined {
  const s = v.trim();
  if (s === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return isNaN(t) ? undefined : t;
}

/** The six colon-separated parts of an ARN (the last keeps its colons), or undefined when not an ARN. */
export function arnSegments(arn: string): string[] | undefined {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < 5; i++) {
    const at = arn.indexOf(':', from);
    if (at < 0) return undefined;
    parts.push(arn.slice(from, at));
    from = at + 1;
  }
  parts.push(arn.slice(from));
  return parts;
}

interface Cidr { readonly v6: boolean; readonly addr: bigint; readonly bits: number }

function parseCidr(text: string): Cidr | undefined {
  const [ip, len] = text.trim().split('/');
  const addr = parseIp(ip);
  if (!addr) return undefined;
  const max = addr.v6 ? 128 : 32;
  const bits = len === undefined ? max : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return undefined;
  return { ...addr, bits };
}

function parseIp(ip: string): { v6: boolean; addr: bigint } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    const parts = ip.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { v6: false, addr: parts.reduce((a, p) => a * 256n + BigInt(p), 0n) };
  }
  if (!ip.includes(':') || !/^[0-9a-fA-F:]+$/.test(ip)) return undefined;
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return undefined;
  return { v6: true, addr: groups.reduce((a, g) => a * 65536n + BigInt(parseInt(g, 16)), 0n) };
}

function inCidr(value: string, cidr: Cidr): boolean {
  const ip = parseIp(value.trim());
  if (!ip || ip.v6 !== cidr.v6) return false;
  const width = cidr.v6 ? 128n : 32n;
  const block = 2n ** (width - BigInt(cidr.bits));
  return ip.addr / block === cidr.addr / block;
}

function runTest(t: CompiledTest, ctx: Context, lookup: VariableLookup): boolean {
  if (t.unknown) return false;
  const present = ctx.get(t.key);
  const missing = present === undefined;
  if (t.nullExpected) {
    return t.nullExpected.some((absent) => absent === missing);
  }
  if (missing) {
    // ForAllValues: true on a missing key; ForAnyValue: false; single-valued operators: false,
    // negated ones true; IfExists: true.
    if (t.set === 'all') return true;
    if (t.set === 'any') return t.ifExists;
    return t.ifExists || t.negated;
  }
  // One request value against the policy values: positive → matches one of them (OR);
  // negated → matches none (NOR). A policy variable without a value fails the test.
  let unresolved = false;
  const valueHolds = (v: string): boolean => {
    let any = false;
    for (const m of t.matchers) {
      const r = m(v, lookup);
      if (r === undefined) { unresolved = true; continue; }
      if (r) { any = true; break; }
    }
    return t.negated ? !any : any;
  };
  let result: boolean;
  if (t.set === 'all') {
    result = typeof present === 'string' ? valueHolds(present) : present.every(valueHolds);
  } else if (t.set === 'any') {
    result = typeof present === 'string' ? valueHolds(present) : present.some(valueHolds);
  } else if (typeof present !== 'string') {
    // A multivalued key needs ForAnyValue/ForAllValues (IAM User Guide, "Single-valued vs.
    // multivalued context keys"); without one the test does not hold, as in iam-simulate.
    return false;
  } else {
    result = valueHolds(present);
  }
  return result && !unresolved;
}

/** Context layers read in order (the request's own keys first, then the global keys AWS adds). */
export class LayeredContext implements Context {
  constructor(private readonly layers: readonly Context[]) {}

  get(lowerCaseKey: string): string | readonly string[] | undefined {
    for (const layer of this.layers) {
      const v = layer.get(lowerCaseKey);
      if (v !== undefined) return v;
    }
    return undefined;
  }
}

/** Turns a request context into the lower-cased map the conditions read. */
export function toContext(values: Readonly<Record<string, ConditionValue | undefined>>): Map<string, string | readonly string[]> {
  const out = new Map<string, string | readonly string[]>();
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    out.set(k.toLowerCase(), Array.isArray(v) ? (v as readonly string[]).map(String) : String(v));
  }
  return out;
}

/**
 * The EventBridge event-pattern language: exact values, prefix, suffix, equals-ignore-case,
 * wildcard, anything-but, exists, numeric, cidr, nested objects, arrays as OR (on both the pattern
 * and the event side) and `$or`.
 */

/** Thrown for a pattern EventBridge would reject. */
export class InvalidEventPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEventPatternException';
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const MISSING = Symbol('missing');

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** True when `event` matches `pattern` (EventBridge semantics). */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (!isPlainObject(pattern)) throw new InvalidEventPatternError('event pattern must be a JSON object');
  return matchObject(pattern, event);
}

function matchObject(pattern: Record<string, unknown>, value: unknown): boolean {
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2) throw new InvalidEventPatternError('$or needs at least two patterns');
      if (!sub.some((alt) => isPlainObject(alt) && matchObject(alt, value))) return false;
      continue;
    }
    const field: unknown = isPlainObject(value) && Object.prototype.hasOwnProperty.call(value, key) ? value[key] : MISSING;
    if (Array.isArray(sub)) {
      if (sub.length === 0) return false;
      if (!matchLeaf(sub, field)) return false;
    } else if (isPlainObject(sub)) {
      if (field === MISSING) {
        // Only `exists: false` patterns inside can match an absent object.
        if (!matchObject(sub, {})) return false;
        continue;
      }
      const candidates = Array.isArray(field) ? field : [field];
      if (!candidates.some((c) => isPlainObject(c) && matchObject(sub, c))) return false;
    } else {
      throw new InvalidEventPatternError(`pattern value of '${key}' must be an array or an object`);
    }
  }
  return true;
}

/** One array of matchers against a field (an event array matches when any element matches). */
function matchLeaf(matchers: unknown[], field: unknown): boolean {
  // exists: evaluated on the field as a whole.
  const values: unknown[] = field === MISSING ? [] : Array.isArray(field) ? field : [field];
  return matchers.some((m) => {
    if (isPlainObject(m) && 'exists' in m) {
      const wantsExists = m.exists;
      if (typeof wantsExists !== 'boolean') throw new InvalidEventPatternError('exists takes true or false');
      const present = field !== MISSING && !(Array.isArray(field) && field.length === 0) && !isPlainObject(field);
      return wantsExists ? present : field === MISSING;
    }
    return values.some((v) => matchOne(m, v));
  });
}

function matchOne(m: unknown, v: unknown): boolean {
  if (m === null || typeof m !== 'object') {
    if (typeof m === 'number' && typeof v === 'number') return m === v;
    return m === v;
  }
  if (Array.isArray(m)) throw new InvalidEventPatternError('nested arrays are not allowed in patterns');
  const entries = Object.entries(m as Record<string, unknown>);
  if (entries.length !== 1) throw new InvalidEventPatternError(`a matcher has exactly one key: ${JSON.stringify(m)}`);
  const [op, arg] = entries[0];
  switch (op) {
    case 'prefix':
      if (typeof v !== 'string') return false;
      if (isPlainObject(arg) && typeof arg['equals-ignore-case'] === 'string') {
        return v.toLowerCase().startsWith((arg['equals-ignore-case'] as string).toLowerCase());
      }
      return typeof arg === 'string' && v.startsWith(arg);
    case 'suffix':
      if (typeof v !== 'string') return false;
      if (isPlainObject(arg) && typeof arg['equals-ignore-case'] === 'string') {
        return v.toLowerCase().endsWith((arg['equals-ignore-case'] as string).toLowerCase());
      }
      return typeof arg === 'string' && v.endsWith(arg);
    case 'equals-ignore-case':
      return typeof v === 'string' && typeof arg === 'string' && v.toLowerCase() === arg.toLowerCase();
    case 'wildcard':
      return typeof v === 'string' && typeof arg === 'string' && wildcardRegExp(arg).test(v);
    case 'anything-but':
      return anythingBut(arg, v);
    case 'numeric':
      return typeof v === 'number' && numeric(arg, v);
    case 'cidr':
      return typeof v === 'string' && typeof arg === 'string' && inCidr(v, arg);
    default:
      throw new InvalidEventPatternError(`unknown matcher '${op}'`);
  }
}

function anythingBut(arg: unknown, v: unknown): boolean {
  if (Array.isArray(arg)) return (typeof v === 'string' || typeof v === 'number') && !arg.some((a) => a === v);
  if (isPlainObject(arg)) {
    const [op, inner] = Object.entries(arg)[0] ?? [];
    if (typeof v !== 'string') return false;
    const list = Array.isArray(inner) ? inner : [inner];
    switch (op) {
      case 'prefix': return !list.some((p) => typeof p === 'string' && v.startsWith(p));
      case 'suffix': return !list.some((s) => typeof s === 'string' && v.endsWith(s));
      case 'equals-ignore-case': return !list.some((s) => typeof s === 'string' && s.toLowerCase() === v.toLowerCase());
      case 'wildcard': return !list.some((w) => typeof w === 'string' && wildcardRegExp(w).test(v));
      default: throw new InvalidEventPatternError(`unsupported anything-but matcher '${op}'`);
    }
  }
  return (typeof v === 'string' || typeof v === 'number') && v !== arg;
}

function numeric(arg: unknown, v: number): boolean {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0) {
    throw new InvalidEventPatternError('numeric takes [op, value, ...]');
  }
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const n = arg[i + 1];
    if (typeof n !== 'number') throw new InvalidEventPatternError('numeric values must be numbers');
    const ok = op === '=' ? v === n : op === '<' ? v < n : op === '<=' ? v <= n : op === '>' ? v > n : op === '>=' ? v >= n : undefined;
    if (ok === undefined) throw new InvalidEventPatternError(`unknown numeric operator '${String(op)}'`);
    if (!ok) return false;
  }
  return true;
}

const wildcardCache = new Map<string, RegExp>();
/**
 * A wildcard value as EventBridge (Event Ruler) reads it: `*` matches zero or more characters (any, `/`
 * included; case-sensitive), consecutive `*` are rejected, backslash-asterisk is a literal asterisk, two
 * backslashes a literal backslash, and a backslash before anything else is rejected (Event Ruler README).
 */
function wildcardRegExp(w: string): RegExp {
  let re = wildcardCache.get(w);
  if (!re) {
    let src = '';
    let lastWasWildcard = false;
    for (let i = 0; i < w.length; i++) {
      const c = w[i];
      if (c === '\\') {
        const next = w[i + 1];
        if (next !== '*' && next !== '\\') {
          throw new InvalidEventPatternError(`wildcard '${w}': a backslash may only escape '*' or '\\'`);
        }
        src += `\\${next}`;
        i++;
        lastWasWildcard = false;
        continue;
      }
      if (c === '*') {
        if (lastWasWildcard) throw new InvalidEventPatternError(`wildcard '${w}': consecutive wildcard characters are not allowed`);
        src += '.*';
        lastWasWildcard = true;
        continue;
      }
      src += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
      lastWasWildcard = false;
    }
    re = new RegExp(`^${src}$`, 's');
    wildcardCache.set(w, re);
  }
  return re;
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(base);
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}

export type { Json };

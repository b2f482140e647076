/**
 * IAM wildcard matching, compiled once per pattern into a RegExp.
 *
 * - Action names: `*` and `?` match any characters, case-insensitively (`s3:get*` matches
 *   `s3:GetObject`).
 * - Resource ARNs: case-sensitive. `*`/`?` match within a colon-separated segment of the ARN; a `*`
 *   that is the last character of one of the first five segments may expand beyond the colon
 *   boundary, and in the resource part (after the fifth colon) `*` matches anything, `/` and `:`
 *   included (IAM User Guide, "IAM JSON policy elements: Resource", "Using wildcards in resource ARNs").
 * - `StringLike` values: case-sensitive, `*` and `?` match any characters.
 *
 * Policy variables (`${aws:PrincipalAccount}`) and the escapes `${*}`, `${?}`, `${$}` are expanded by
 * {@link expandVariables} before compilation.
 */

/** A value looked up for a policy variable: undefined when the request context lacks the key. */
export type VariableLookup = (key: string) => string | undefined;

const REGEX_SPECIAL = /[.+^${}()|[\]\\*?]/g;

function escapeRegex(text: string): string {
  return text.replace(REGEX_SPECIAL, '\\$&');
}

/** One piece of a pattern: literal text, or a wildcard character. */
type Token = { literal: string } | { wild: '*' | '?' };

/** True when the pattern has a policy variable (`${...}`). */
export function hasVariables(pattern: string): boolean {
  return pattern.includes('${');
}

/**
 * Splits a pattern into literal runs and wildcards, substituting policy variables (as literals:
 * a substituted value never acts as a wildcard). Returns undefined when a variable has no value
 * and no default, so the pattern matches nothing (the IAM User Guide: a policy variable whose key is
 * absent from the request context makes the element not match).
 */
export function tokenize(pattern: string, lookup?: VariableLookup): Token[] | undefined {
  const tokens: Token[] = [];
  let lit = '';
  const flush = (): void => { if (lit) { tokens.push({ literal: lit }); lit = ''; } };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '$' && pattern[i + 1] === '{' && lookup) {
      const end = pattern.indexOf('}', i + 2);
      if (end > 0) {
        const expr = pattern.slice(i + 2, end).trim();
        i = end;
        if (expr === '*' || expr === '?' || expr === '$') { lit += expr; continue; }
        // `${key, 'default'}`
        const m = /^([^,]+?)\s*(?:,\s*'([^']*)')?$/.exec(expr);
        const key = m ? m[1] : expr;
        const value = lookup(key) ?? (m && m[2] !== undefined ? m[2] : undefined);
        if (value === undefined) return undefined;
        lit += value;
        continue;
      }
    }
    if (c === '*' || c === '?') { flush(); tokens.push({ wild: c }); continue; }
    lit += c;
  }
  flush();
  return tokens;
}

/** Compiles a glob where `*`/`?` match any characters (Action and StringLike semantics). */
export function globRegex(tokens: Token[], ignoreCase: boolean): RegExp {
  let src = '^';
  for (const t of tokens) {
    if ('literal' in t) src += escapeRegex(t.literal);
    else src += t.wild === '*' ? '[\\s\\S]*' : '[\\s\\S]';
  }
  return new RegExp(`${src}$`, ignoreCase ? 'i' : '');
}

/**
 * Compiles an ARN pattern of the Resource/NotResource element (see the module doc for the
 * segment rules).
 */
export function resourceRegex(tokens: Token[]): RegExp {
  // Count colons in literals to know the segment; the resource part starts after the fifth colon.
  let src = '^';
  let colons = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if ('literal' in t) {
      for (const ch of t.literal) if (ch === ':') colons++;
      src += escapeRegex(t.literal);
      continue;
    }
    if (colons >= 5) {
      src += t.wild === '*' ? '[\\s\\S]*' : '[\\s\\S]';
      continue;
    }
    if (t.wild === '?') { src += '[^:]'; continue; }
    const next = tokens[i + 1];
    const lastOfSegment = next === undefined || ('literal' in next && next.literal.startsWith(':'));
    src += lastOfSegment ? '[\\s\\S]*' : '[^:]*';
  }
  return new RegExp(`${src}$`);
}

/** A compiled pattern: a RegExp, or (with policy variables) a compiler per request. */
export class Pattern {
  private readonly fixed?: RegExp;
  private readonly cache?: Map<string, RegExp | null>;

  constructor(readonly source: string, private readonly kind: 'action' | 'resource' | 'like', variables = false) {
    if (source === '*') {
      this.fixed = /^[\s\S]*$/;
    } else if (variables && hasVariables(source)) {
      this.cache = new Map();
    } else {
      this.fixed = this.compile(tokenize(source)!);
    }
  }

  private compile(tokens: Token[]): RegExp {
    if (this.kind === 'resource') return resourceRegex(tokens);
    return globRegex(tokens, this.kind === 'action');
  }

  /** True when the value matches; `lookup` resolves policy variables. */
  test(value: string, lookup?: VariableLookup): boolean {
    return this.match(value, lookup) === true;
  }

  /** Like {@link test}, but undefined when a policy variable of the pattern has no value. */
  match(value: string, lookup?: VariableLookup): boolean | undefined {
    if (this.fixed) return this.fixed.test(value);
    const tokens = tokenize(this.source, lookup ?? (() => undefined));
    if (!tokens) return undefined;
    const key = JSON.stringify(tokens);
    let re = this.cache!.get(key);
    if (re === undefined) {
      re = this.compile(tokens);
      if (this.cache!.size > 1000) this.cache!.clear();
      this.cache!.set(key, re);
    }
    return re !== null && re.test(value);
  }
}

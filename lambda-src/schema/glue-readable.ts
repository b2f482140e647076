/**
 * What the validated table's JSON SerDe cannot read, checked on a line's raw text (docs/semantics.md,
 * "What the Glue table must be able to read").
 *
 * The validated table is read by the OpenX JSON SerDe with `case.insensitive` true and
 * `ignore.malformed.json` false. That SerDe parses the whole line (every object, known field or
 * not), lower-cases every key and refuses an object with a repeated key, and reads an `int` column
 * with Java's `Integer.parseInt` on the number's text: `4230.0`, `1e3` or a value above 2^31 − 1
 * fail. Either failure fails the whole query, not the one row. `JSON.parse` hides both (it keeps the
 * last of two equal keys and turns `4230.0` into 4230), so these rules need the raw text.
 *
 * Cost: most lines need no scan. `needsScan` compares the number of keys `JSON.parse` kept with the
 * number of `:` in the line (every key is followed by one; fewer keys than colons means a repeated
 * key or a colon inside a string), looks for a key with upper-case letters, and reads the literal of
 * each top-level integer field where it stands. A line with a backslash, a repeated key name, a key
 * with upper-case letters or a colon inside a string gets the full scan.
 */
import type { Reason } from './index';
import { FACILITY_RECORD_SCHEMA } from '../../src/schema/facility-record';

/** The integer positions of the schema, as a tree that mirrors `properties` and `items`. */
interface ShapeNode {
  readonly integer: boolean;
  readonly props?: ReadonlyMap<string, ShapeNode>;
  readonly items?: ShapeNode;
}

interface SchemaLike {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, SchemaLike>>;
  readonly items?: SchemaLike;
}

function shapeOf(node: SchemaLike): ShapeNode {
  const props = node.properties
    ? new Map(Object.entries(node.properties).map(([k, v]) => [k.toLowerCase(), shapeOf(v)]))
    : undefined;
  return { integer: node.type === 'integer', props, items: node.items ? shapeOf(node.items) : undefined };
}

const RECORD_SHAPE = shapeOf(FACILITY_RECORD_SCHEMA as SchemaLike);
const EMPTY: ShapeNode = { integer: false };

/** Top-level integer fields: their literal is checked in place. Integer positions deeper down use a regex. */
const TOP_INTEGERS = [...(RECORD_SHAPE.props ?? new Map<string, ShapeNode>())].filter(([, n]) => n.integer).map(([k]) => k);
function hasDeepInteger(n: ShapeNode, depth: number): boolean {
  if (n.integer && depth > 1) return true;
  for (const c of n.props?.values() ?? []) if (hasDeepInteger(c, depth + 1)) return true;
  return n.items !== undefined && hasDeepInteger(n.items, depth + 1);
}
const DEEP_INTEGERS = hasDeepInteger(RECORD_SHAPE, 0);
const FRACTION_OR_EXPONENT = /[0-9][.eE]/;

/** True when a key may lower-case to something else (an ASCII upper-case letter, or any non-ASCII character). */
function mayHaveUpperCase(k: string): boolean {
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return true;
  }
  return false;
}

/** Every property name of the schema (all lower-case): such a key needs no upper-case check. */
const KNOWN_KEYS = new Set<string>();
(function collect(n: ShapeNode): void {
  for (const [k, c] of n.props ?? []) {
    KNOWN_KEYS.add(k);
    collect(c);
  }
  if (n.items) collect(n.items);
})(RECORD_SHAPE);

const TOP_INTEGER_SET = new Set(TOP_INTEGERS);

/**
 * The number of keys of every object in a parsed JSON value; -1 when a key may have upper-case
 * letters, or when an object below the top level has a key named like a top-level integer field (so
 * the first occurrence of that name in the text might not be the field's).
 */
function countKeys(v: object, top: boolean): number {
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (x !== null && typeof x === 'object') {
        const m = countKeys(x, false);
        if (m < 0) return -1;
        n += m;
      }
    }
    return n;
  }
  for (const k in v) {
    n++;
    if (!top && TOP_INTEGER_SET.has(k)) return -1;
    if (!KNOWN_KEYS.has(k) && mayHaveUpperCase(k)) return -1;
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x === 'object') {
      const m = countKeys(x, false);
      if (m < 0) return -1;
      n += m;
    }
  }
  return n;
}

const TOP_INTEGER_TOKENS = TOP_INTEGERS.map((k) => [k, `"${k}"`] as const);

/**
 * True when the top-level integer fields are written as plain integers. Called only for text without
 * backslashes (every `"` is a string delimiter) whose nested objects have no key of the same name
 * (countKeys), so the first `"<name>"` followed by a colon is the field's key; one that is a string
 * value instead (`"label":"employee_count"`) is not followed by a colon and sends the line to the scanner.
 */
function topIntegersArePlain(text: string, parsed: Record<string, unknown>): boolean {
  for (const [name, token] of TOP_INTEGER_TOKENS) {
    if (typeof parsed[name] !== 'number') continue; // absent or another type: the schema rules report it
    const at = text.indexOf(token);
    if (at === -1) return false;
    let i = at + token.length;
    let c = text.charCodeAt(i);
    while (c === 0x20 || c === 0x09) c = text.charCodeAt(++i);
    if (c !== 0x3a) return false; // a value, not the key
    c = text.charCodeAt(++i);
    while (c === 0x20 || c === 0x09) c = text.charCodeAt(++i);
    if (c === 0x2d) c = text.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39) c = text.charCodeAt(++i);
    if (c === 0x2e || c === 0x65 || c === 0x45) return false; // . e E: a fraction or an exponent
  }
  return true;
}

/** True when the cheap checks cannot rule out a repeated key or a non-integer literal. */
export function needsScan(text: string, parsed: object): boolean {
  // Escapes can spell a key or hide a quote: leave such (rare) lines to the scanner.
  if (text.indexOf('\\') !== -1) return true;
  const keys = countKeys(parsed, true);
  if (keys < 0) return true;
  if (DEEP_INTEGERS ? FRACTION_OR_EXPONENT.test(text) : !topIntegersArePlain(text, parsed as Record<string, unknown>)) return true;
  // Every key is followed by a colon; more colons than keys JSON.parse kept: a repeated key (or a colon in a string).
  let colons = 0;
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) {
    if (++colons > keys) return true;
  }
  return false;
}

const INTEGER_LITERAL = /^-?(0|[1-9][0-9]*)$/;

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * A scanner over one line that `JSON.parse` already accepted (so the text is valid JSON): reports
 * every object key that repeats another key of the same object ignoring case, and every number at an
 * integer position of the schema written with a fraction or an exponent.
 */
class Scanner {
  private i = 0;
  readonly reasons: Reason[] = [];

  constructor(private readonly s: string) {}

  scan(): Reason[] {
    this.value(RECORD_SHAPE, '');
    return this.reasons;
  }

  private ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = s.charCodeAt(++this.i);
  }

  /** Reads a string token at `i` (a `"`), returns its decoded value. */
  private string(): string {
    const s = this.s;
    const start = this.i;
    let escaped = false;
    let j = start + 1;
    for (;;) {
      const q = s.indexOf('"', j);
      // Count the backslashes before the quote: an odd number escapes it.
      let b = q - 1;
      while (s.charCodeAt(b) === 0x5c) b--;
      if ((q - 1 - b) % 2 === 0) {
        this.i = q + 1;
        break;
      }
      escaped = true;
      j = q + 1;
    }
    const raw = s.slice(start + 1, this.i - 1);
    return escaped || raw.includes('\\') ? (JSON.parse(s.slice(start, this.i)) as string) : raw;
  }

  private value(shape: ShapeNode, path: string): void {
    this.ws();
    const c = this.s.charCodeAt(this.i);
    if (c === 0x7b) return this.object(shape, path);
    if (c === 0x5b) return this.array(shape, path);
    if (c === 0x22) {
      this.string();
      return;
    }
    // number, true, false, null: up to the next delimiter
    const start = this.i;
    let j = start;
    const s = this.s;
    for (;;) {
      const d = s.charCodeAt(j);
      if (j >= s.length || d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x09 || d === 0x0a || d === 0x0d) break;
      j++;
    }
    this.i = j;
    if (shape.integer && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
      const literal = s.slice(start, j);
      if (!INTEGER_LITERAL.test(literal)) {
        this.reasons.push({
          code: 'not_an_integer',
          field: path,
          message: `${path} must be written as an integer (got ${literal}; the table's int column cannot read a fraction or an exponent)`,
        });
      }
    }
  }

  private object(shape: ShapeNode, path: string): void {
    this.i++; // {
    const seen = new Map<string, string>();
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      const key = this.string();
      const lower = key.toLowerCase();
      const first = seen.get(lower);
      const field = join(path, key);
      if (first !== undefined) {
        this.reasons.push({
          code: 'duplicate_key',
          field,
          message: first === key
            ? `key ${JSON.stringify(key)} appears twice in ${path || 'the record'}`
            : `keys ${JSON.stringify(first)} and ${JSON.stringify(key)} of ${path || 'the record'} differ only in case (the table reads keys case-insensitively)`,
        });
      } else {
        seen.set(lower, key);
      }
      this.ws();
      this.i++; // :
      this.value(shape.props?.get(lower) ?? EMPTY, field);
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x7d) return; // }
    }
  }

  private array(shape: ShapeNode, path: string): void {
    this.i++; // [
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return;
    }
    const items = shape.items ?? EMPTY;
    for (let n = 0; ; n++) {
      this.value(items, `${path}[${n}]`);
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x5d) return; // ]
    }
  }
}

/**
 * The reasons the validated table could not read a line that `JSON.parse` accepted: `duplicate_key`
 * (two keys of one object equal ignoring case, at any depth) and `not_an_integer` (an integer field
 * written with a fraction or an exponent, e.g. `4230.0`, `1e3`). Empty for almost every line, after
 * cheap checks only.
 */
export function glueReadabilityReasons(text: string, parsed: unknown): Reason[] {
  if (parsed === null || typeof parsed !== 'object') return [];
  if (!needsScan(text, parsed)) return [];
  return new Scanner(text).scan();
}

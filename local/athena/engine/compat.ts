/**
 * Trino (Athena engine v3) → DuckDB compatibility layer: a small token-level transpiler plus DuckDB
 * macros and session settings. The supported subset is listed in docs/local-athena.md; anything
 * else is passed to DuckDB unchanged (and fails there like an unsupported function would).
 */
import { SqlTextError, Token, isTrivia, matchingClose, quoteString, stringValue, tokenize } from './sql-text';

/** Session settings every DuckDB connection of the local Athena gets. */
export const SESSION_SETTINGS: readonly string[] = [
  'SET TimeZone = \'UTC\'',
  // Trino: integer / integer is integer division (7 / 2 = 3); DuckDB's default is 3.5.
  'SET integer_division = true',
];

const DATE_UNITS_SQL = (n: string, d: string): string => `CASE lower(unit)
  WHEN 'day' THEN ${d} + to_days(CAST(${n} AS INTEGER))
  WHEN 'week' THEN ${d} + to_days(CAST(${n} AS INTEGER) * 7)
  WHEN 'month' THEN ${d} + to_months(CAST(${n} AS INTEGER))
  WHEN 'quarter' THEN ${d} + to_months(CAST(${n} AS INTEGER) * 3)
  WHEN 'year' THEN ${d} + to_years(CAST(${n} AS INTEGER))`;

/**
 * Macros that supply the Trino functions DuckDB lacks or defines differently. Typed overloads keep
 * DATE in → DATE out (as Trino does) and leave DuckDB's built-in 2-argument `date_add(date, interval)`
 * working.
 */
export const COMPAT_MACROS: readonly string[] = [
  `CREATE OR REPLACE MACRO date_add(unit VARCHAR, n BIGINT, d DATE) AS CAST(${DATE_UNITS_SQL('n', 'd')}
  ELSE error('INVALID_FUNCTION_ARGUMENT: ''' || unit || ''' is not a valid DATE field') END AS DATE),
  (unit VARCHAR, n BIGINT, d TIMESTAMP) AS ${DATE_UNITS_SQL('n', 'd')}
  WHEN 'hour' THEN d + to_hours(n) WHEN 'minute' THEN d + to_minutes(n) WHEN 'second' THEN d + to_seconds(n)
  WHEN 'millisecond' THEN d + to_milliseconds(n)
  ELSE error('INVALID_FUNCTION_ARGUMENT: ''' || unit || ''' is not a valid TIMESTAMP field') END,
  (d, i) AS d + i`,
  // DATE ± INTERVAL stays a DATE in Trino (DuckDB returns a TIMESTAMP).
  `CREATE OR REPLACE MACRO trino_date_plus(d DATE, i INTERVAL) AS CAST(d + i AS DATE),
  (d TIMESTAMP, i INTERVAL) AS d + i, (d TIMESTAMP WITH TIME ZONE, i INTERVAL) AS d + i`,
  `CREATE OR REPLACE MACRO trino_date_minus(d DATE, i INTERVAL) AS CAST(d - i AS DATE),
  (d TIMESTAMP, i INTERVAL) AS d - i, (d TIMESTAMP WITH TIME ZONE, i INTERVAL) AS d - i`,
  // Trino's date_diff counts whole units elapsed (DuckDB: date_sub); DuckDB's date_diff counts boundaries.
  'CREATE OR REPLACE MACRO trino_date_diff(unit, a, b) AS date_sub(lower(unit), a, b)',
  'CREATE OR REPLACE MACRO trino_cardinality(x) AS len(x)',
  'CREATE OR REPLACE MACRO trino_element_at(x, i) AS list_extract(x, i)',
  'CREATE OR REPLACE MACRO from_iso8601_date(s) AS CAST(s AS DATE)',
  'CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMP WITH TIME ZONE)',
  'CREATE OR REPLACE MACRO trino_to_iso8601(x) AS strftime(x, \'%Y-%m-%d\')',
];

/** Trino functions that are renamed one-to-one (same arguments). */
const RENAMES: Record<string, string> = {
  cardinality: 'trino_cardinality',
  element_at: 'trino_element_at',
  date_diff: 'trino_date_diff',
  transform: 'list_transform',
  filter: 'list_filter',
  array_min: 'list_min',
  array_max: 'list_max',
  array_distinct: 'list_distinct',
  array_sort: 'list_sort',
  array_join: 'array_to_string',
  contains: 'list_contains',
  regexp_like: 'regexp_matches',
  json_extract_scalar: 'json_extract_string',
  approx_distinct: 'approx_count_distinct',
  day_of_week: 'isodow',
  dow: 'isodow',
  day_of_year: 'dayofyear',
  doy: 'dayofyear',
  to_unixtime: 'epoch',
  sequence: 'generate_series',
};

/** Converts a MySQL-style format (Trino date_parse/date_format) to strftime/strptime specifiers. */
export function mysqlFormatToStrftime(format: string): string {
  const map: Record<string, string> = {
    'a': '%a',
    'b': '%b',
    'c': '%-m',
    'd': '%d',
    'e': '%-d',
    'f': '%f',
    'H': '%H',
    'h': '%I',
    'I': '%I',
    'i': '%M',
    'j': '%j',
    'k': '%-H',
    'l': '%-I',
    'M': '%B',
    'm': '%m',
    'p': '%p',
    'r': '%I:%M:%S %p',
    'S': '%S',
    's': '%S',
    'T': '%H:%M:%S',
    'W': '%A',
    'w': '%w',
    'Y': '%Y',
    'y': '%y',
    '%': '%%',
  };
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== '%') { out += c; continue; }
    const spec = format[++i];
    const mapped = spec === undefined ? undefined : map[spec];
    if (!mapped) throw new SqlTextError(`date format specifier %${spec ?? ''} is not supported`);
    out += mapped;
  }
  return out;
}

/** Splits `a, b(c, d), e` at top-level commas. */
function splitTypeList(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) { out.push(cur.trim()); cur = ''; continue; }
    cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** Translates a Trino type name to DuckDB's (ARRAY(t), MAP(k, v), ROW(name t, …), REAL, VARCHAR(n), TIMESTAMP(p)). */
export function trinoTypeToDuckDb(type: string): string {
  const t = type.trim();
  const m = /^([A-Za-z_][A-Za-z0-9_ ]*?)\s*\((.*)\)$/s.exec(t);
  if (!m) {
    const lower = t.toLowerCase().replace(/\s+/g, ' ');
    if (lower === 'real') return 'FLOAT';
    if (lower === 'double precision') return 'DOUBLE';
    return t;
  }
  const head = m[1].trim().toLowerCase();
  const inner = splitTypeList(m[2]);
  if (head === 'array') return `${trinoTypeToDuckDb(inner[0])}[]`;
  if (head === 'map') return `MAP(${inner.map(trinoTypeToDuckDb).join(', ')})`;
  if (head === 'row') {
    return `STRUCT(${inner.map((f) => {
      const fm = /^("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)\s+(.+)$/s.exec(f);
      if (!fm) throw new SqlTextError(`ROW fields need names in the local Athena: ${type}`);
      return `${fm[1]} ${trinoTypeToDuckDb(fm[2])}`;
    }).join(', ')})`;
  }
  if (head === 'varchar' || head === 'char') return 'VARCHAR';
  if (head === 'timestamp') return 'TIMESTAMP';
  return t;
}

/** A piece of transpiled output: `primary` marks one complete operand (call, literal, identifier chain, group). */
interface Piece {
  text: string;
  kind: 'primary' | 'op' | 'trivia' | 'other';
}

const ARITH = new Set(['+', '-', '*', '/', '%', '||']);
const INTERVAL_UNITS = new Set(['year', 'month', 'day', 'hour', 'minute', 'second', 'week', 'quarter', 'millisecond']);
// Keywords that can be followed by '(' without being a function call.
const NOT_CALLS = new Set([
  'in', 'exists', 'values', 'over', 'as', 'and', 'or', 'not', 'on', 'using', 'from', 'join', 'select', 'where', 'when',
  'then', 'else', 'by', 'with', 'unnest', 'lateral', 'all', 'any', 'some', 'between', 'is', 'like', 'case', 'table', 'window',
]);

/** `FILTER (WHERE …)` is an aggregate clause, not a call. */
function startsWithWhere(tokens: readonly Token[], open: number): boolean {
  for (let k = open + 1; k < tokens.length; k++) {
    if (!isTrivia(tokens[k])) return tokens[k].kind === 'ident' && tokens[k].text.toLowerCase() === 'where';
  }
  return false;
}

function lastSignificant(pieces: readonly Piece[], before = pieces.length): number {
  for (let i = before - 1; i >= 0; i--) if (pieces[i].kind !== 'trivia') return i;
  return -1;
}

/** Splits the tokens between a call's parentheses into argument token lists at depth-0 commas. */
function splitArgs(tokens: readonly Token[], open: number, close: number): Token[][] {
  const args: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  for (let i = open + 1; i < close; i++) {
    const t = tokens[i];
    if (t.kind === 'op' && (t.text === '(' || t.text === '[')) depth++;
    if (t.kind === 'op' && (t.text === ')' || t.text === ']')) depth--;
    if (depth === 0 && t.kind === 'op' && t.text === ',') { args.push(cur); cur = []; continue; }
    cur.push(t);
  }
  if (cur.some((t) => !isTrivia(t)) || args.length > 0) args.push(cur);
  return args;
}

function onlyStringLiteral(arg: readonly Token[]): Token | undefined {
  const sig = arg.filter((t) => !isTrivia(t));
  return sig.length === 1 && sig[0].kind === 'string' ? sig[0] : undefined;
}

/** Rewrites one function call given its lower-cased name and transpiled argument texts. */
function rewriteCall(name: string, rawName: string, args: Token[][], argText: string[]): string | undefined {
  const n = args.length;
  if (RENAMES[name]) return `${RENAMES[name]}(${argText.join(',')})`;
  switch (name) {
    case 'cast':
    case 'try_cast': {
      // CAST(x AS <Trino type>): translate the type (ARRAY(t) → t[], ROW(…) → STRUCT(…), REAL, VARCHAR(n)…).
      if (n !== 1) break;
      const toks = args[0];
      let depth = 0;
      let asAt = -1;
      toks.forEach((t, k) => {
        if (t.kind === 'op' && (t.text === '(' || t.text === '[')) depth++;
        if (t.kind === 'op' && (t.text === ')' || t.text === ']')) depth--;
        if (depth === 0 && t.kind === 'ident' && t.text.toLowerCase() === 'as') asAt = k;
      });
      if (asAt < 0) break;
      const value = transpileTokens(toks.slice(0, asAt)).trimEnd();
      const type = trinoTypeToDuckDb(toks.slice(asAt + 1).map((t) => t.text).join('').trim());
      return `${rawName}(${value} AS ${type})`;
    }
    case 'any_match':
      if (n === 2) return `coalesce(list_bool_or(list_transform(${argText[0]},${argText[1]})), false)`;
      break;
    case 'all_match':
      if (n === 2) return `coalesce(list_bool_and(list_transform(${argText[0]},${argText[1]})), true)`;
      break;
    case 'none_match':
      if (n === 2) return `NOT coalesce(list_bool_or(list_transform(${argText[0]},${argText[1]})), false)`;
      break;
    case 'date_parse':
    case 'date_format': {
      const fmt = n === 2 ? onlyStringLiteral(args[1]) : undefined;
      if (!fmt) throw new SqlTextError(`${rawName}: the local Athena supports a string literal format only`);
      const converted = quoteString(mysqlFormatToStrftime(stringValue(fmt)));
      return name === 'date_parse' ? `strptime(${argText[0]}, ${converted})` : `strftime(${argText[0]}, ${converted})`;
    }
    case 'to_iso8601':
      if (n === 1) return `trino_to_iso8601(${argText[0]})`;
      break;
    default:
      break;
  }
  return undefined;
}

function transpileRange(tokens: readonly Token[], start: number, end: number): string {
  const pieces: Piece[] = [];
  let i = start;
  const push = (text: string, kind: Piece['kind']): void => { pieces.push({ text, kind }); };
  while (i < end) {
    const t = tokens[i];
    if (isTrivia(t)) { push(t.text, 'trivia'); i++; continue; }
    // Function call or parenthesized group.
    if (t.kind === 'op' && (t.text === '(' || t.text === '[')) {
      const close = matchingClose(tokens, i);
      const inner = transpileRange(tokens, i + 1, close);
      // `ARRAY[...]` / `x[...]` subscripts attach to the previous primary.
      const prev = lastSignificant(pieces);
      if (t.text === '[' && prev >= 0 && pieces[prev].kind === 'primary') {
        pieces[prev] = { text: pieces.slice(prev).map((p) => p.text).join('') + `[${inner}]`, kind: 'primary' };
        pieces.length = prev + 1;
      } else {
        push(`${t.text}${inner}${tokens[close].text}`, 'primary');
      }
      i = close + 1;
      continue;
    }
    if (t.kind === 'ident' || t.kind === 'qident') {
      // Look ahead for '(' (a call) skipping trivia.
      let j = i + 1;
      while (j < end && isTrivia(tokens[j])) j++;
      const prevIdx = lastSignificant(pieces);
      const qualified = prevIdx >= 0 && pieces[prevIdx].text === '.';
      const lower = t.kind === 'ident' ? t.text.toLowerCase() : '';
      if (t.kind === 'ident' && j < end && tokens[j].text === '(' && !NOT_CALLS.has(lower) && !qualified
        && !startsWithWhere(tokens, j)) {
        const close = matchingClose(tokens, j);
        const args = splitArgs(tokens, j, close);
        const argText = args.map((a) => transpileTokens(a));
        const rewritten = rewriteCall(lower, t.text, args, argText);
        push(rewritten ?? `${t.text}(${argText.join(',')})`, 'primary');
        i = close + 1;
        continue;
      }
      // INTERVAL '<n>' <unit> following + or -: rewrite `<date> ± INTERVAL …` to keep DATE a DATE.
      if (lower === 'interval') {
        const sig: number[] = [];
        for (let k = i + 1; k < end && sig.length < 2; k++) if (!isTrivia(tokens[k])) sig.push(k);
        const lit = sig[0] !== undefined ? tokens[sig[0]] : undefined;
        const unitTok = sig[1] !== undefined ? tokens[sig[1]] : undefined;
        const opIdx = lastSignificant(pieces);
        const leftIdx = opIdx >= 0 ? lastSignificant(pieces, opIdx) : -1;
        const beforeLeft = leftIdx >= 0 ? lastSignificant(pieces, leftIdx) : -1;
        if (lit?.kind === 'string' && unitTok?.kind === 'ident' && INTERVAL_UNITS.has(unitTok.text.toLowerCase())
          && opIdx >= 0 && (pieces[opIdx].text === '+' || pieces[opIdx].text === '-')
          && leftIdx >= 0 && pieces[leftIdx].kind === 'primary'
          && (beforeLeft < 0 || !ARITH.has(pieces[beforeLeft].text))) {
          const fn = pieces[opIdx].text === '+' ? 'trino_date_plus' : 'trino_date_minus';
          const left = pieces[leftIdx].text;
          pieces.length = leftIdx;
          push(`${fn}(${left}, INTERVAL ${lit.text} ${unitTok.text})`, 'primary');
          i = sig[1] + 1;
          continue;
        }
      }
      // Identifier chain a.b.c (and typed literals DATE '…', TIMESTAMP '…').
      if (t.kind === 'ident' && ['date', 'timestamp', 'time'].includes(lower) && tokens[j]?.kind === 'string') {
        push(`${t.text} ${tokens[j].text}`, 'primary');
        i = j + 1;
        continue;
      }
      if (qualified && prevIdx >= 1) {
        const base = lastSignificant(pieces, prevIdx);
        if (base >= 0 && pieces[base].kind === 'primary') {
          pieces[base] = { text: pieces.slice(base).map((p) => p.text).join('') + t.text, kind: 'primary' };
          pieces.length = base + 1;
          i++;
          continue;
        }
      }
      push(t.text, NOT_CALLS.has(lower) || isKeyword(lower) ? 'other' : 'primary');
      i++;
      continue;
    }
    if (t.kind === 'string' || t.kind === 'number') { push(t.text, 'primary'); i++; continue; }
    if (t.kind === 'op' && t.text === '.') { push('.', 'op'); i++; continue; }
    push(t.text, t.kind === 'op' ? 'op' : 'other');
    i++;
  }
  return pieces.map((p) => p.text).join('');
}

const KEYWORDS = new Set([
  'select', 'from', 'where', 'group', 'order', 'having', 'limit', 'offset', 'union', 'intersect', 'except', 'distinct',
  'asc', 'desc', 'nulls', 'first', 'last', 'null', 'true', 'false', 'interval', 'cast', 'try_cast', 'end', 'partition',
  'rows', 'range', 'preceding', 'following', 'current', 'row', 'unbounded', 'left', 'right', 'full', 'inner', 'outer',
  'cross', 'natural', 'fetch', 'next', 'only', 'ties',
]);

function isKeyword(lower: string): boolean {
  return KEYWORDS.has(lower);
}

function transpileTokens(tokens: readonly Token[]): string {
  return transpileRange(tokens, 0, tokens.length);
}

/**
 * Translates a Trino query (a SELECT / WITH query, after parameter substitution) into DuckDB SQL
 * that runs with COMPAT_MACROS and SESSION_SETTINGS installed.
 */
export function transpile(sql: string): string {
  return transpileTokens(tokenize(sql));
}

/**
 * Lexical helpers for Athena (Trino) SQL text: a tokenizer that keeps every character (so text can
 * be rebuilt exactly), ExecutionParameters substitution, statement classification and the parts of
 * an UNLOAD statement.
 */

export type TokenKind =
  | 'ws' // whitespace
  | 'comment' // -- line or /* block */
  | 'string' // '...' ('' escapes a quote)
  | 'qident' // "quoted identifier" ("" escapes a quote)
  | 'ident' // identifier or keyword
  | 'number'
  | 'op' // operators and punctuation, one token each (multi-char: <= >= <> != || -> =>)
  | 'param'; // ?

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

/** Raised for SQL text that cannot be tokenized (an unterminated literal, comment or identifier). */
export class SqlTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqlTextError';
  }
}

const MULTI_OPS = ['<=', '>=', '<>', '!=', '||', '->', '=>', '::'];

/** Splits SQL text into tokens; joining every token's text gives the input back. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < n && /\s/.test(sql[j])) j++;
      out.push({ kind: 'ws', text: sql.slice(i, j) });
      i = j;
    } else if (c === '-' && sql[i + 1] === '-') {
      let j = sql.indexOf('\n', i);
      if (j < 0) j = n;
      out.push({ kind: 'comment', text: sql.slice(i, j) });
      i = j;
    } else if (c === '/' && sql[i + 1] === '*') {
      const j = sql.indexOf('*/', i + 2);
      if (j < 0) throw new SqlTextError('unterminated /* comment');
      out.push({ kind: 'comment', text: sql.slice(i, j + 2) });
      i = j + 2;
    } else if (c === '\'' || c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new SqlTextError(c === '\'' ? 'unterminated string literal' : 'unterminated quoted identifier');
        if (sql[j] === c) {
          if (sql[j + 1] === c) { j += 2; continue; }
          break;
        }
        j++;
      }
      out.push({ kind: c === '\'' ? 'string' : 'qident', text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(sql.slice(i))!;
      out.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$@\u0080-\uffff]*/.exec(sql.slice(i))!;
      out.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
    } else if (c === '?') {
      out.push({ kind: 'param', text: '?' });
      i++;
    } else {
      const two = sql.slice(i, i + 2);
      const op = MULTI_OPS.includes(two) ? two : c;
      out.push({ kind: 'op', text: op });
      i += op.length;
    }
  }
  return out;
}

/** True for tokens that carry no meaning (whitespace, comments). */
export function isTrivia(t: Token | undefined): boolean {
  return t !== undefined && (t.kind === 'ws' || t.kind === 'comment');
}

/** The identifier a token names (unquoted: lower-cased; quoted: unescaped, lower-cased like Trino). */
export function identName(t: Token): string | undefined {
  if (t.kind === 'ident') return t.text.toLowerCase();
  if (t.kind === 'qident') return t.text.slice(1, -1).replace(/""/g, '"').toLowerCase();
  return undefined;
}

/** The value of a string literal token. */
export function stringValue(t: Token): string {
  return t.text.slice(1, -1).replace(/''/g, '\'');
}

/** A SQL string literal for a value. */
export function quoteString(value: string): string {
  return `'${value.replace(/'/g, '\'\'')}'`;
}

/** A SQL quoted identifier. */
export function quoteIdent(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

/** Counts the `?` placeholders outside string literals, quoted identifiers and comments. */
export function countParameters(sql: string): number {
  return tokenize(sql).filter((t) => t.kind === 'param').length;
}

/**
 * Substitutes ExecutionParameters for the `?` placeholders outside string literals, quoted
 * identifiers and comments, as literal SQL text (Athena passes them the same way: a string value
 * must be given quoted, `'2025-08-10'`). Throws when the counts differ.
 */
export function substituteParameters(sql: string, parameters: readonly string[]): string {
  const tokens = tokenize(sql);
  const found = tokens.filter((t) => t.kind === 'param').length;
  if (found !== parameters.length) {
    throw new SqlTextError(`Incorrect number of parameters: expected ${found} but found ${parameters.length}`);
  }
  let k = 0;
  return tokens.map((t) => (t.kind === 'param' ? parameters[k++] : t.text)).join('');
}

/** The meaningful tokens (no whitespace or comments). */
export function significant(tokens: readonly Token[]): Token[] {
  return tokens.filter((t) => !isTrivia(t));
}

export type StatementKind = 'SELECT' | 'UNLOAD' | 'OTHER';

/** SELECT (also WITH / VALUES / a parenthesized query), UNLOAD, or anything else. */
export function statementKind(sql: string): { kind: StatementKind; keyword: string } {
  const sig = significant(tokenize(sql));
  let i = 0;
  while (sig[i]?.text === '(') i++;
  const first = sig[i];
  const keyword = first ? first.text.toUpperCase() : '';
  if (['SELECT', 'WITH', 'VALUES', 'TABLE'].includes(keyword)) return { kind: 'SELECT', keyword };
  if (keyword === 'UNLOAD') return { kind: 'UNLOAD', keyword };
  return { kind: 'OTHER', keyword };
}

/** The parts of `UNLOAD (<query>) TO '<s3 uri>' [WITH (<property> = <value>, …)]`. */
export interface UnloadStatement {
  readonly query: string;
  readonly location: string;
  /** Lower-cased property names; values are strings (string literals unquoted) or string arrays (ARRAY[…]). */
  readonly properties: Record<string, string | string[]>;
}

/** Index of the token closing the bracket opened at `open` (tokens include trivia). */
export function matchingClose(tokens: readonly Token[], open: number): number {
  const o = tokens[open].text;
  const close = o === '(' ? ')' : o === '[' ? ']' : '';
  if (!close) throw new SqlTextError('not an opening bracket');
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== 'op') continue;
    if (t.text === '(' || t.text === '[') {depth++;} else if (t.text === ')' || t.text === ']') {
      depth--;
      if (depth === 0) {
        if (t.text !== close) throw new SqlTextError(`mismatched '${o}' and '${t.text}'`);
        return i;
      }
    }
  }
  throw new SqlTextError(`unbalanced '${o}'`);
}

/** Parses an UNLOAD statement; throws SqlTextError with a message like Athena's for malformed ones. */
export function parseUnload(sql: string): UnloadStatement {
  const tokens = tokenize(sql);
  const sigIdx: number[] = [];
  tokens.forEach((t, i) => { if (!isTrivia(t)) sigIdx.push(i); });
  let p = 0;
  const at = (k: number): Token | undefined => tokens[sigIdx[k]];
  const expect = (cond: boolean, what: string): void => {
    if (!cond) throw new SqlTextError(`UNLOAD: expected ${what}`);
  };
  expect(at(p)?.text.toUpperCase() === 'UNLOAD', 'UNLOAD');
  p++;
  expect(at(p)?.text === '(', '\'(\' after UNLOAD');
  const open = sigIdx[p];
  const close = matchingClose(tokens, open);
  const query = tokens.slice(open + 1, close).map((t) => t.text).join('').trim();
  p = sigIdx.indexOf(close) + 1;
  expect(at(p)?.text.toUpperCase() === 'TO', 'TO after the query');
  p++;
  const loc = at(p);
  expect(loc?.kind === 'string', 'a string literal location after TO');
  const location = stringValue(loc!);
  p++;
  const properties: Record<string, string | string[]> = {};
  if (at(p)?.text.toUpperCase() === 'WITH') {
    p++;
    expect(at(p)?.text === '(', '\'(\' after WITH');
    const wClose = matchingClose(tokens, sigIdx[p]);
    p++;
    while (sigIdx[p] < wClose) {
      const nameTok = at(p);
      const name = nameTok ? identName(nameTok) : undefined;
      expect(name !== undefined, 'a property name');
      p++;
      expect(at(p)?.text === '=', `'=' after ${name}`);
      p++;
      const v = at(p);
      if (v?.kind === 'string') {
        properties[name!] = stringValue(v);
        p++;
      } else if (v && v.text.toUpperCase() === 'ARRAY' && at(p + 1)?.text === '[') {
        const aClose = matchingClose(tokens, sigIdx[p + 1]);
        const items = tokens.slice(sigIdx[p + 1] + 1, aClose).filter((t) => t.kind === 'string').map(stringValue);
        properties[name!] = items;
        p = sigIdx.indexOf(aClose) + 1;
      } else {
        expect(false, `a string or ARRAY value for ${name}`);
      }
      if (at(p)?.text === ',') p++;
      else expect(sigIdx[p] === wClose, '\',\' or \')\' in WITH');
    }
    p++;
  }
  if (at(p)?.text === ';') p++;
  expect(p >= sigIdx.length, 'end of statement after UNLOAD … TO … WITH (…)');
  return { query, location, properties };
}

/** Strips one trailing `;` (and trivia) from a statement. */
export function stripTrailingSemicolon(sql: string): string {
  const tokens = tokenize(sql);
  let end = tokens.length;
  while (end > 0 && isTrivia(tokens[end - 1])) end--;
  if (end > 0 && tokens[end - 1].text === ';') end--;
  return tokens.slice(0, end).map((t) => t.text).join('');
}

/** Rejects text holding more than one statement (Athena runs exactly one). */
export function assertSingleStatement(sql: string): void {
  const sig = significant(tokenize(stripTrailingSemicolon(sql)));
  if (sig.length === 0) throw new SqlTextError('empty query');
  if (sig.some((t) => t.text === ';')) throw new SqlTextError('only one SQL statement is allowed');
}

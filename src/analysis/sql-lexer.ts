// Hand-written SQL lexer for the analysis cache key. It runs on every statement (the hot path),
// so it is one pass over char codes with no regexes and few allocations: libpg-query's own
// normalize costs a full parse, which is exactly what the cache exists to avoid.
//
// It follows PostgreSQL's scanner (scan.l) closely enough that two texts with the same output
// have the same parse tree apart from literal values: literals become `?`, comments and runs of
// whitespace become one space, everything else (keywords, identifiers, quoted identifiers,
// operators, `$n` parameters) is kept verbatim.
//
// The same pass estimates how deep the parse tree will be (`cost`) and counts tokens, so texts
// that would exhaust the parser's stack are refused before parsing without a second scan (see
// sql-bounds.ts). The estimate follows how PostgreSQL's grammar nests: every bracket (and CASE …
// END) opens a level; within a level, each operator character and operator keyword (NOT, IS,
// LIKE, COLLATE, UNION, …) adds to a left-deep chain; a comma, AND, OR, WHEN, THEN or ELSE starts a
// new sibling (the grammar keeps lists and AND/OR chains flat). The cost at a point is the sum of
// the open levels' chains plus a weight per open level; `cost` is its maximum over the text.

export interface NormalizedSql {
  /** The text with literals replaced by `?` and whitespace/comments collapsed. */
  text: string;
  /** Offsets (in the original text) of every `;` that is a token, in order. */
  semicolons: number[];
  /** False when a string, quoted identifier or comment is not closed: the text cannot parse,
   * and must not borrow the facts of the closed text it would otherwise normalize like. */
  complete: boolean;
  /** Estimated parse-tree depth (maximum nesting cost, see the file comment). */
  cost: number;
  /** Number of tokens (literals, identifiers, operators, punctuation). */
  tokens: number;
}

/** Cost of one open bracket / CASE level, of an operator character, of an operator keyword. */
export const LEVEL_COST = 10;
export const OPERATOR_COST = 1;
export const KEYWORD_OPERATOR_COST = 2;

const PLACEHOLDER = '?';

// Character codes (plain consts, inlined by V8 on the hot path).
const TAB = 9;
const LF = 10;
const VT = 11;
const FF = 12;
const CR = 13;
const SPACE = 32;
const DOUBLE_QUOTE = 34; // "
const DOLLAR = 36; // $
const AMPERSAND = 38; // &
const QUOTE = 39; // '
const STAR = 42; // *
const PLUS = 43; // +
const MINUS = 45; // -
const DOT = 46; // .
const SLASH = 47; // /
const ZERO = 48;
const NINE = 57;
const SEMICOLON = 59; // ;
const UPPER_A = 65;
const UPPER_Z = 90;
const BACKSLASH = 92; // \
const UNDERSCORE = 95; // _
const LOWER_A = 97;
const LOWER_Z = 122;
const OPEN_PAREN = 40; // (
const CLOSE_PAREN = 41; // )
const COMMA = 44; // ,
const OPEN_BRACKET = 91; // [
const CLOSE_BRACKET = 93; // ]

// Keyword classes for the nesting estimate.
const KW_NONE = 0;
const KW_OPERATOR = 1; // chains like an operator
const KW_SIBLING = 2; // starts a new sibling in the current level
const KW_OPEN = 3; // CASE
const KW_CLOSE = 4; // END

/** Keywords that matter for the estimate, by length (all other identifiers are KW_NONE). */
const MAX_KEYWORD_LENGTH = 9;
const KEYWORD_WORDS: string[][] = Array.from({ length: MAX_KEYWORD_LENGTH + 1 }, () => []);
const KEYWORD_CLASSES: number[][] = Array.from({ length: MAX_KEYWORD_LENGTH + 1 }, () => []);
/** (length, lower-case first letter) pairs some keyword has: most identifiers stop here. */
const KEYWORD_STARTS = new Uint8Array((MAX_KEYWORD_LENGTH + 1) * 128);
function addKeywords(cls: number, words: string[]): void {
  for (const w of words) {
    KEYWORD_WORDS[w.length]!.push(w);
    KEYWORD_CLASSES[w.length]!.push(cls);
    KEYWORD_STARTS[w.length * 128 + w.charCodeAt(0)] = 1;
  }
}
addKeywords(KW_OPERATOR, ['not', 'is', 'isnull', 'notnull', 'like', 'ilike', 'similar', 'between', 'in', 'collate']);
addKeywords(KW_OPERATOR, ['at', 'overlaps', 'union', 'intersect', 'except', 'escape', 'operator']);
addKeywords(KW_SIBLING, ['and', 'or', 'when', 'then', 'else']);
addKeywords(KW_OPEN, ['case']);
addKeywords(KW_CLOSE, ['end']);

/** Class of the identifier sql[start, end) (case-insensitive), without allocating. */
function keywordClass(sql: string, start: number, end: number): number {
  const len = end - start;
  const first = lower(sql.charCodeAt(start));
  if (len > MAX_KEYWORD_LENGTH || first >= 128 || KEYWORD_STARTS[len * 128 + first] === 0) return KW_NONE;
  const words = KEYWORD_WORDS[len]!;
  for (let k = 0; k < words.length; k++) {
    const word = words[k]!;
    let j = 0;
    while (j < len && lower(sql.charCodeAt(start + j)) === word.charCodeAt(j)) j++;
    if (j === len) return KEYWORD_CLASSES[len]![k]!;
  }
  return KW_NONE;
}

/** PostgreSQL operator characters (plus `:` for `::` casts). */
function isOperatorChar(c: number): boolean {
  switch (c) {
    case 33: // !
    case 35: // #
    case 37: // %
    case AMPERSAND:
    case STAR:
    case PLUS:
    case MINUS:
    case SLASH:
    case 58: // :
    case 60: // <
    case 61: // =
    case 62: // >
    case 63: // ?
    case 64: // @
    case 94: // ^
    case 96: // `
    case 124: // |
    case 126: // ~
      return true;
    default:
      return false;
  }
}

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === LF || c === CR || c === FF || c === VT;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** First character of an identifier (PostgreSQL: letters, `_`, any non-ASCII byte). */
function isIdentStart(c: number): boolean {
  return (c >= LOWER_A && c <= LOWER_Z) || (c >= UPPER_A && c <= UPPER_Z) || c === UNDERSCORE || c >= 128;
}

function isIdentChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === DOLLAR;
}

function lower(c: number): number {
  return c >= UPPER_A && c <= UPPER_Z ? c + 32 : c;
}

// The skip* functions return the index after the construct, or UNTERMINATED(n) past the end.
const unterminated = (n: number): number => n + 1;

/** End of a '…' literal starting at the quote `at`; `backslashEscapes` for E'…'. */
function skipQuoted(sql: string, at: number, backslashEscapes: boolean): number {
  const n = sql.length;
  let i = at + 1;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (backslashEscapes && c === BACKSLASH) {
      i += 2;
    } else if (c === QUOTE) {
      if (sql.charCodeAt(i + 1) === QUOTE) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return unterminated(n);
}

function skipQuotedIdent(sql: string, at: number): number {
  const n = sql.length;
  let i = at + 1;
  while (i < n) {
    if (sql.charCodeAt(i) === DOUBLE_QUOTE) {
      if (sql.charCodeAt(i + 1) === DOUBLE_QUOTE) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return unterminated(n);
}

/** Length of a dollar-quote opening tag (`$$`, `$tag$`) at `at`, or 0 when it is not one. */
function dollarTagLength(sql: string, at: number): number {
  const n = sql.length;
  let i = at + 1;
  if (i < n && sql.charCodeAt(i) === DOLLAR) return 2;
  if (i >= n || !isIdentStart(sql.charCodeAt(i))) return 0;
  i++;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === DOLLAR) return i - at + 1;
    if (!isIdentStart(c) && !isDigit(c)) return 0;
    i++;
  }
  return 0;
}

function skipNumber(sql: string, at: number): number {
  const n = sql.length;
  let i = at;
  // 0x… / 0o… / 0b… (PostgreSQL 16+): letters and digits after the prefix.
  if (sql.charCodeAt(i) === ZERO && i + 1 < n) {
    const p = lower(sql.charCodeAt(i + 1));
    if (p === 120 /* x */ || p === 111 /* o */ || p === 98 /* b */) {
      i += 2;
      while (i < n) {
        const c = sql.charCodeAt(i);
        if (!isDigit(c) && !isIdentStart(c)) break;
        i++;
      }
      return i;
    }
  }
  let seenDot = false;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isDigit(c) || c === UNDERSCORE) {
      i++;
    } else if (c === DOT && !seenDot && sql.charCodeAt(i + 1) !== DOT) {
      // `1..2` is an integer followed by `..` in PostgreSQL's scanner.
      seenDot = true;
      i++;
    } else {
      break;
    }
  }
  if (lower(sql.charCodeAt(i)) === 101 /* e */) {
    let j = i + 1;
    const s = sql.charCodeAt(j);
    if (s === PLUS || s === MINUS) j++;
    if (isDigit(sql.charCodeAt(j))) {
      i = j;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
    }
  }
  return i;
}

/** Normalizes `sql` for the cache key and for display (see the file comment). */
export function normalizeSql(sql: string): NormalizedSql {
  const n = sql.length;
  const semicolons: number[] = [];
  let out = '';
  let runStart = -1; // start of the verbatim run not yet copied to `out`
  let pendingSpace = false;
  let complete = true;
  // Nesting estimate: chain cost of the current level, sum over the enclosing levels, their saved
  // chain costs (for when they close), the maximum seen, and the token count.
  let chain = 0;
  let enclosing = 0;
  let saved: number[] | undefined;
  let cost = 0;
  let tokens = 0;

  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);

    // Separators: whitespace, -- comments, /* nested */ comments.
    let sepEnd = -1;
    if (isSpace(c)) {
      sepEnd = i + 1;
      while (sepEnd < n && isSpace(sql.charCodeAt(sepEnd))) sepEnd++;
    } else if (c === MINUS && sql.charCodeAt(i + 1) === MINUS) {
      sepEnd = i + 2;
      while (sepEnd < n) {
        const d = sql.charCodeAt(sepEnd);
        if (d === LF || d === CR) break;
        sepEnd++;
      }
    } else if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      let depth = 1;
      sepEnd = i + 2;
      while (sepEnd < n && depth > 0) {
        const d = sql.charCodeAt(sepEnd);
        if (d === SLASH && sql.charCodeAt(sepEnd + 1) === STAR) {
          depth++;
          sepEnd += 2;
        } else if (d === STAR && sql.charCodeAt(sepEnd + 1) === SLASH) {
          depth--;
          sepEnd += 2;
        } else {
          sepEnd++;
        }
      }
      if (depth > 0) sepEnd = unterminated(n);
    }
    if (sepEnd > n) {
      complete = false;
      sepEnd = n;
    }
    if (sepEnd !== -1) {
      if (runStart !== -1) {
        out += sql.slice(runStart, i);
        runStart = -1;
      }
      if (out.length > 0) pendingSpace = true;
      i = sepEnd;
      continue;
    }

    // Literals: find where one ends, or -1 when this is not a literal.
    let litEnd = -1;
    let tokenEnd = -1; // for verbatim multi-char tokens (identifiers, quoted identifiers)
    if (c === QUOTE) {
      litEnd = skipQuoted(sql, i, false);
    } else if (c === DOUBLE_QUOTE) {
      tokenEnd = skipQuotedIdent(sql, i);
    } else if (c === DOLLAR) {
      const next = sql.charCodeAt(i + 1);
      if (isDigit(next)) {
        tokenEnd = i + 1;
        while (tokenEnd < n && isDigit(sql.charCodeAt(tokenEnd))) tokenEnd++;
      } else {
        const tagLen = dollarTagLength(sql, i);
        if (tagLen > 0) {
          const close = sql.indexOf(sql.slice(i, i + tagLen), i + tagLen);
          litEnd = close === -1 ? unterminated(n) : close + tagLen;
        }
      }
    } else if (isDigit(c) || (c === DOT && isDigit(sql.charCodeAt(i + 1)))) {
      litEnd = skipNumber(sql, i);
    } else if (isIdentStart(c)) {
      const l = lower(c);
      const next = sql.charCodeAt(i + 1);
      if (next === QUOTE && (l === 101 /* e */ || l === 98 /* b */ || l === 120 /* x */ || l === 110) /* n */) {
        litEnd = skipQuoted(sql, i + 1, l === 101);
      } else if (l === 117 /* u */ && next === AMPERSAND && sql.charCodeAt(i + 2) === QUOTE) {
        litEnd = skipQuoted(sql, i + 2, false);
      } else if (l === 117 && next === AMPERSAND && sql.charCodeAt(i + 2) === DOUBLE_QUOTE) {
        tokenEnd = skipQuotedIdent(sql, i + 2);
      } else {
        tokenEnd = i + 1;
        while (tokenEnd < n && isIdentChar(sql.charCodeAt(tokenEnd))) tokenEnd++;
      }
    }

    if (litEnd > n || tokenEnd > n) {
      complete = false;
      if (litEnd > n) litEnd = n;
      if (tokenEnd > n) tokenEnd = n;
    }
    tokens++;
    if (litEnd !== -1) {
      if (runStart !== -1) {
        out += sql.slice(runStart, i);
        runStart = -1;
      }
      if (pendingSpace) {
        out += ' ';
        pendingSpace = false;
      }
      out += PLACEHOLDER;
      i = litEnd;
      continue;
    }

    // Verbatim: extend (or start) the current run.
    if (pendingSpace) {
      if (runStart !== -1) {
        out += sql.slice(runStart, i);
        runStart = -1;
      }
      out += ' ';
      pendingSpace = false;
    }
    if (runStart === -1) runStart = i;
    let kw = KW_NONE;
    if (tokenEnd === -1) {
      if (c === OPEN_PAREN || c === OPEN_BRACKET) kw = KW_OPEN;
      else if (c === CLOSE_PAREN || c === CLOSE_BRACKET) kw = KW_CLOSE;
      else if (c === COMMA) kw = KW_SIBLING;
      else if (isOperatorChar(c)) chain += OPERATOR_COST;
      else if (c === SEMICOLON) {
        semicolons.push(i);
        chain = 0;
        enclosing = 0;
        if (saved !== undefined) saved.length = 0;
      }
    } else if (c !== DOUBLE_QUOTE && c !== DOLLAR && tokenEnd - i <= MAX_KEYWORD_LENGTH) {
      kw = keywordClass(sql, i, tokenEnd);
      if (kw === KW_OPERATOR) chain += KEYWORD_OPERATOR_COST;
    }
    if (kw === KW_OPEN) {
      saved ??= [];
      saved.push(chain);
      enclosing += chain + LEVEL_COST;
      chain = 0;
    } else if (kw === KW_CLOSE) {
      if (saved !== undefined && saved.length > 0) {
        chain = saved.pop()!;
        enclosing -= chain + LEVEL_COST;
      }
    } else if (kw === KW_SIBLING) {
      chain = 0;
    }
    if (enclosing + chain > cost) cost = enclosing + chain;
    i = tokenEnd !== -1 ? tokenEnd : i + 1;
  }
  if (runStart !== -1) out += sql.slice(runStart, n);
  return { text: out, semicolons, complete, cost, tokens };
}

// Words of the mvdan/sh syntax tree → the strings the shell would pass, when they are known
// before run time. Quotes and backslashes are resolved as bash does; anything expanded at run
// time (parameters, substitutions, arithmetic, globs, brace expansion) makes the word unknown.
import { shSyntax } from './sh-syntax.js';

/** A node of the GopherJS syntax tree (a Go struct): fields by their Go names. */
// biome-ignore lint/suspicious/noExplicitAny: a foreign tree, checked by NodeType at each use
export type ShNode = any;

/** The word's value, or null when it is only known at run time. */
export function literalWord(word: ShNode): string | null {
  let out = '';
  const parts = word.Parts as ShNode[];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    switch (shSyntax().NodeType(part)) {
      case 'Lit': {
        const v = unquotedLit(part.Value as string);
        if (v === null) return null;
        out += v;
        break;
      }
      case 'SglQuoted':
        // $'…' (Dollar) has C escapes: resolve the common ones, refuse the rest.
        if (part.Dollar) {
          const v = ansiC(part.Value as string);
          if (v === null) return null;
          out += v;
        } else out += part.Value as string;
        break;
      case 'DblQuoted': {
        if (part.Dollar) return null; // $"…" is locale translation
        for (const inner of part.Parts as ShNode[]) {
          if (shSyntax().NodeType(inner) !== 'Lit') return null;
          out += doubleQuotedLit(inner.Value as string);
        }
        break;
      }
      default:
        return null;
    }
  }
  return out;
}

/** The word as written in `text`. */
export function wordSource(word: ShNode, text: string): string {
  return text.slice(word.Pos().Offset(), word.End().Offset());
}

/** An unquoted literal: backslash escapes removed; null when the shell would glob or brace-expand it. */
function unquotedLit(raw: string): string | null {
  // A leading `~` (home directory) stays: base names and paths after it are what rules see.
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      if (i + 1 < raw.length) {
        const n = raw[i + 1]!;
        if (n !== '\n') out += n;
        i++;
      }
      continue;
    }
    if (c === '*' || c === '?') return null;
    if (c === '[' && raw.indexOf(']', i + 1) !== -1) return null;
    if (c === '{') {
      const close = raw.indexOf('}', i + 1);
      if (close !== -1) {
        const inner = raw.slice(i + 1, close);
        if (inner.includes(',') || inner.includes('..')) return null;
      }
    }
    out += c;
  }
  return out;
}

/** Inside "…", a backslash escapes only $ ` " \ and newline. */
function doubleQuotedLit(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && i + 1 < raw.length && '$`"\\\n'.includes(raw[i + 1]!)) {
      const n = raw[i + 1]!;
      if (n !== '\n') out += n;
      i++;
      continue;
    }
    out += c;
  }
  return out;
}

const C_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

/** $'…': simple, octal, \xHH and \uHHHH escapes; null for anything else (fail closed). */
function ansiC(raw: string): string | null {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = raw[i + 1];
    if (n === undefined) return null;
    if (C_ESCAPES[n] !== undefined) {
      out += C_ESCAPES[n];
      i++;
      continue;
    }
    let m = /^[0-7]{1,3}/.exec(raw.slice(i + 1));
    if (m) {
      out += String.fromCharCode(Number.parseInt(m[0], 8));
      i += m[0].length;
      continue;
    }
    m = /^(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8})/.exec(raw.slice(i + 1));
    if (m) {
      out += String.fromCodePoint(Number.parseInt(m[0].slice(1), 16));
      i += m[0].length;
      continue;
    }
    return null;
  }
  return out;
}

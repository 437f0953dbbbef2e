import type { MatchSet } from '../matches.js';
import { secretMarker } from '../redact.js';
import { H_AT, H_KV, H_PEM, H_TOKEN } from '../scan.js';
import type { Detector } from './types.js';

// Secrets are replaced whole by `[REDACTED:<kind>]`: no part of a credential is worth keeping.
// Each family runs only when the scan saw its trigger.

/** `-----BEGIN [RSA|EC|OPENSSH|ENCRYPTED|…] PRIVATE KEY-----` */
export const PRIVATE_KEY_BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----/g;
const PRIVATE_KEY_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/g;

/** Index just past the first private-key END line at or after `from`, or -1. */
export function privateKeyEnd(text: string, from: number): number {
  PRIVATE_KEY_END.lastIndex = from;
  const m = PRIVATE_KEY_END.exec(text);
  return m === null ? -1 : m.index + m[0].length;
}

const TOKENS =
  /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{2,}\.ey[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*|(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])|(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,255}(?![A-Za-z0-9])|(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,255}|(?<![A-Za-z0-9])xox[baprs]-[A-Za-z0-9-]{10,}|\b[Bb]earer[ \t]+([A-Za-z0-9._~+/-]{8,}=*)/g;

// Bounded parts: a text of many short dotted words must not make every word a scheme start.
const URL_PASSWORD = /\b[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[^\s:/@]{1,256}:([^\s@/]{1,256})@/g;

const BASIC_AUTH = /authorization["']?[ \t]*[:=][ \t]*["']?basic[ \t]+([A-Za-z0-9+/]{4,}={0,2})/gi;

/** Key names whose value is a secret; the key must end here (`db_password`, `x-api-key`). */
export const SECRET_KEY =
  /(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|(?:access|secret|private|auth|client|signing|encryption)[_-]?key)$/i;

const ASSIGNMENT =
  /(password|passwd|passphrase|pwd|secret|token|api[_-]?key|(?:access|secret|private|auth|client|signing|encryption)[_-]?key)(?![A-Za-z0-9])(["']?[ \t]*(?::=|==|[:=])[ \t]*)(?!\[REDACTED)("[^"\n]*"|'[^'\n]*'|[^\s"',;&})\]]+)/gi;

const NOT_SECRET_VALUES = new Set(['null', 'true', 'false', 'none', '""', "''"]);

export const secretDetector: Detector = {
  name: 'secret',
  guard: H_PEM | H_TOKEN | H_AT | H_KV,
  find(text, flags, out) {
    if (flags & H_PEM) findPrivateKeys(text, out);
    if (flags & H_TOKEN) findTokens(text, out);
    if (flags & H_AT && text.includes('://')) findGroupAtEnd(URL_PASSWORD, text, out, secretMarker('password'), 1);
    if (flags & H_KV) {
      findGroupAtEnd(BASIC_AUTH, text, out, secretMarker('basic'), 0);
      findAssignments(text, out);
    }
  },
};

/** A key without its END line is redacted to the end of the text (it may be cut short). */
function findPrivateKeys(text: string, out: MatchSet): void {
  PRIVATE_KEY_BEGIN.lastIndex = 0;
  for (let m = PRIVATE_KEY_BEGIN.exec(text); m !== null; m = PRIVATE_KEY_BEGIN.exec(text)) {
    const headerEnd = m.index + m[0].length;
    const end = privateKeyEnd(text, headerEnd);
    out.add(m.index, end === -1 ? text.length : end, secretMarker('private_key'));
    if (end === -1) return;
    PRIVATE_KEY_BEGIN.lastIndex = end;
  }
}

function findTokens(text: string, out: MatchSet): void {
  TOKENS.lastIndex = 0;
  for (let m = TOKENS.exec(text); m !== null; m = TOKENS.exec(text)) {
    const s = m[0];
    const end = m.index + s.length;
    const bearer = m[1];
    if (bearer !== undefined) {
      // "the bearer of this letter" is prose: opaque tokens are long or contain non-letters.
      if (bearer.length < 20 && /^[A-Za-z]+$/.test(bearer)) continue;
      out.add(end - bearer.length, end, secretMarker('bearer'));
      continue;
    }
    const c = s.charCodeAt(0);
    const kind = c === 101 ? 'jwt' : c === 65 ? 'aws_access_key_id' : c === 103 ? 'github_token' : 'slack_token';
    out.add(m.index, end, secretMarker(kind));
  }
}

/** Redacts capture group 1, which ends `after` characters before the end of the match. */
function findGroupAtEnd(re: RegExp, text: string, out: MatchSet, marker: string, after: number): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const end = m.index + m[0].length - after;
    out.add(end - m[1]!.length, end, marker);
  }
}

function findAssignments(text: string, out: MatchSet): void {
  ASSIGNMENT.lastIndex = 0;
  for (let m = ASSIGNMENT.exec(text); m !== null; m = ASSIGNMENT.exec(text)) {
    const value = m[3]!;
    if (NOT_SECRET_VALUES.has(value.toLowerCase())) continue;
    const key = m[1]!.toLowerCase();
    const marker = secretMarker(key.startsWith('pass') || key === 'pwd' ? 'password' : 'secret');
    const end = m.index + m[0].length;
    const start = end - value.length;
    const q = value.charCodeAt(0);
    if (q === 34 || q === 39) {
      out.add(start + 1, end - 1, marker);
    } else if (m[2]!.charCodeAt(0) === 34) {
      // `"token": 12345` in JSON: a quoted marker keeps the document valid.
      out.add(start, end, `"${marker}"`);
    } else out.add(start, end, marker);
  }
}

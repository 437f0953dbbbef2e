// Redaction that keeps the value's kind: a masked email is still an email, a masked card keeps
// its length and separators, so clients and schemas that validate shapes keep working.

/** What non-text values (numbers, dates, bytea, JSON non-strings under a masked key) become. */
export const MASKED_NON_TEXT = null;

/** Generic redaction of a name-masked value no detector recognizes. */
export const REDACTED = '***';

export type SecretKind =
  | 'private_key'
  | 'jwt'
  | 'aws_access_key_id'
  | 'github_token'
  | 'slack_token'
  | 'bearer'
  | 'basic'
  | 'password'
  | 'secret';

export function secretMarker(kind: SecretKind): string {
  return `[REDACTED:${kind}]`;
}

/** `john.doe@example.com` → `j***@example.com`; a one-character local part is fully hidden. */
export function redactEmail(local: string, domain: string): string {
  return (local.length > 1 ? local[0] : '') + '***@' + domain;
}

/** Every digit but the last `keep` becomes `*`; separators, `+` and parentheses stay. */
export function redactDigits(s: string, keep: number): string {
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  let hide = digits - keep;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57 && hide > 0) {
      out += '*';
      hide--;
    } else out += s[i];
  }
  return out;
}

/** Phone numbers keep their last 4 digits when they have 10 or more, else their last 2. */
export function redactPhone(s: string): string {
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  return redactDigits(s, digits >= 10 ? 4 : 2);
}

/** `DE89 3704 0044 0532 0130 00` → `DE** **** **** **** **30 00`: country and last four kept. */
export function redactIban(s: string): string {
  let alnum = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 32) alnum++;
  let out = '';
  let seen = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === ' ') {
      out += ch;
      continue;
    }
    out += seen < 2 || seen >= alnum - 4 ? ch : '*';
    seen++;
  }
  return out;
}

const WHOLE_EMAIL = /^([A-Za-z0-9._%+-]{1,64})@([A-Za-z0-9.-]+\.[A-Za-z]{2,63})$/;
const WHOLE_SSN = /^\d{3}-\d{2}-\d{4}$|^\d{9}$/;
const WHOLE_CARD = /^\d(?:[ -]?\d){12,18}$/;
const WHOLE_IBAN = /^[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}$/;
const WHOLE_PHONE = /^\+?[\d ().-]{7,24}$/;

/**
 * Redaction of a value masked because of its column name. When the whole value has a known
 * shape it gets that shape's partial form (no checksum needed: the column name already says it
 * is sensitive); anything else becomes `***`. The empty string stays empty (it reveals nothing).
 */
export function redactWhole(value: string): string {
  if (value.length === 0) return value;
  const t = value.length > 64 ? value : value.trim();
  if (t.length > 64) return REDACTED;
  // Each shape's first character (or its '@') is checked before its pattern runs; the patterns
  // decide, these only skip ones that cannot match.
  const c0 = t.charCodeAt(0);
  const digit0 = c0 >= 48 && c0 <= 57;
  if (t.includes('@')) {
    const email = WHOLE_EMAIL.exec(t);
    if (email) return redactEmail(email[1]!, email[2]!);
  }
  if (digit0 && WHOLE_SSN.test(t)) return redactDigits(t, 4);
  if (digit0 && WHOLE_CARD.test(t)) return redactDigits(t, 4);
  if (c0 >= 65 && c0 <= 90 && WHOLE_IBAN.test(t)) return redactIban(t);
  if ((digit0 || c0 === 43 || c0 === 40 || c0 === 41 || c0 === 46 || c0 === 45) && WHOLE_PHONE.test(t)) {
    let digits = 0;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c >= 48 && c <= 57) digits++;
    }
    if (digits >= 7 && digits <= 15) return redactPhone(t);
  }
  return REDACTED;
}

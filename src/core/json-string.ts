// JSON text of a string, as JSON.stringify gives it. Audit entries, journal lines and recording
// events quote tens of strings per statement, and JSON.stringify(string) costs ~0.15–0.4 µs here
// even when nothing needs escaping; a regex test finds the characters that do (controls, `"`,
// `\`, and everything past ASCII, so lone surrogates stay JSON.stringify's business) in about a
// third of that, and a string without them is its own JSON body.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\u007f-\uffff]/;

export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** jsonString, or `null` for null. */
export function jsonStringOrNull(s: string | null): string {
  return s === null ? 'null' : jsonString(s);
}

/** JSON text of a number, as JSON.stringify gives it (non-finite numbers are null). */
export function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

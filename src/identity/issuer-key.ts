// Issuer lookup key. The unverified `iss` only picks which keys to try; the exact `iss` is
// checked afterwards. Tolerating a trailing slash or letter case here turns the common
// "https://x/ vs https://x" misconfiguration into a clear `wrong-issuer` instead of
// `unknown-issuer`, without accepting it.
export function issuerLookupKey(iss: string): string {
  let text = iss.trim();
  try {
    text = new URL(text).href;
  } catch {
    // Not a URL (some issuers use plain names, e.g. SPIFFE trust domains): compare as text.
  }
  return text.replace(/\/+$/, '').toLowerCase();
}

// Session settings the gateway pins on every upstream connection. The SQL analysis (libpg-query)
// always lexes as UTF-8 with standard_conforming_strings=on; a session whose server lexes
// differently (e.g. SJIS, where 0x5c can be the second byte of a character, or backslash escapes
// in plain '…' strings) could make the gateway see one statement and the server run another.

/** Values the server must report (ParameterStatus) for the whole session. */
export const PINNED_PARAMETERS: Readonly<Record<string, string>> = Object.freeze({
  client_encoding: 'UTF8',
  standard_conforming_strings: 'on',
});

/**
 * Startup `options` (the server's command-line switches, like PGOPTIONS). Client-startup settings
 * outrank ALTER ROLE / ALTER DATABASE defaults. Values are plain words, so no backslash escaping
 * (the options string splits on whitespace, `\` escapes the next character).
 */
export const PINNED_OPTIONS = '-c standard_conforming_strings=on -c backslash_quote=safe_encoding';

/**
 * Why a reported parameter value breaks the pinning, or null when it is fine (or not pinned).
 * Call it for the handshake's ParameterStatus values and for every later one in the session.
 */
export function pinnedParameterProblem(name: string, value: string): string | null {
  const key = name.toLowerCase();
  if (!Object.hasOwn(PINNED_PARAMETERS, key)) return null;
  const want = PINNED_PARAMETERS[key] as string;
  if (value === want) return null;
  return `the target reports ${key}=${JSON.stringify(value)}; Warden requires ${key}=${want} so that it reads SQL as the server does`;
}

/** The first pinning problem in a handshake's reported parameters (a pinned one missing counts). */
export function pinnedParametersProblem(parameters: ReadonlyMap<string, string>): string | null {
  const seen = new Map<string, string>();
  for (const [k, v] of parameters) seen.set(k.toLowerCase(), v);
  for (const key of Object.keys(PINNED_PARAMETERS)) {
    const value = seen.get(key);
    if (value === undefined)
      return `the target did not report ${key}; Warden requires ${key}=${PINNED_PARAMETERS[key]}`;
    const problem = pinnedParameterProblem(key, value);
    if (problem) return problem;
  }
  return null;
}

/**
 * The encoding a client asked for at startup, as Warden will run it: UTF8 for every spelling
 * PostgreSQL accepts for UTF-8 (and for SQL_ASCII, a subset), or null when it is anything else.
 * PostgreSQL compares encoding names lower-cased with everything but letters and digits removed.
 */
export function clientEncodingAccepted(requested: string): 'UTF8' | null {
  const clean = requested.toLowerCase().replace(/[^a-z0-9]/g, '');
  return clean === 'utf8' || clean === 'unicode' || clean === 'sqlascii' ? 'UTF8' : null;
}

// Settings whose change makes PostgreSQL lex SQL differently from libpg-query, which always lexes
// as a UTF-8 server with standard_conforming_strings = on. The analysis is only right while these
// stay at those values, so the gateway refuses statements that change them (src/gateway).
//
// From PostgreSQL's scanner (scan.l) and its client-encoding conversion:
// - standard_conforming_strings: off makes `\` an escape in plain '…' strings (`'\'' ; drop …`);
// - backslash_quote: whether `\'` may stand for a quote inside strings with backslash escapes;
// - client_encoding (`SET NAMES` is the same setting): the server converts the client's bytes
//   before lexing; in SJIS, BIG5, GBK, … a quote or backslash byte can be part of a character.
// escape_string_warning only adds warnings (the tokens are the same), so it is not listed. `*`
// (a name known only at run time) and `all` (RESET ALL / DISCARD ALL) may include any of them.
import type { SqlFacts } from '../core/types.js';

export const LEXER_SETTINGS: ReadonlySet<string> = new Set([
  'standard_conforming_strings',
  'backslash_quote',
  'client_encoding',
]);

/** Names in `settings` that stand for settings the analysis cannot name. */
const UNNAMED = new Set(['*', 'all']);

/**
 * The first setting in `facts.settings` that may change how the server lexes SQL (a
 * LEXER_SETTINGS name, `*` or `all`), or null. RESET ALL / DISCARD ALL return a session to the
 * values it started with, so a gateway that pins these settings in the startup packet may choose
 * to let `all` through; `*` can be anything.
 */
export function changesLexerSettings(facts: Pick<SqlFacts, 'settings'>): string | null {
  for (const s of facts.settings) if (LEXER_SETTINGS.has(s) || UNNAMED.has(s)) return s;
  return null;
}

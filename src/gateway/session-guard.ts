// Built-in guards that hold whatever the policy says, because the adapter's own correctness
// depends on them: the SQL analysis lexes as the target does only while the lexer settings stay
// pinned, and a connection that maps groups to database roles keeps the role it set.
import type { Operation, Reason } from '../core/types.js';
import type { ConnectionConfig } from '../config/schema.js';

/** Settings that change how PostgreSQL lexes SQL (the analysis assumes their pinned values);
 * `*` is a setting whose name is not known until run time. */
const LEXER_SETTINGS: ReadonlySet<string> = new Set([
  'standard_conforming_strings',
  'client_encoding',
  'backslash_quote',
  'names',
  '*',
]);
const ROLE_SETTINGS: ReadonlySet<string> = new Set(['role', 'session_authorization', '*']);

export function sessionGuardProblem(op: Operation, connection: ConnectionConfig): Reason | null {
  if (op.kind !== 'sql') return null;
  for (const s of op.sql.settings) {
    if (LEXER_SETTINGS.has(s)) {
      return {
        code: 'session-guard',
        effect: 'block',
        message:
          s === '*'
            ? 'a setting whose name is only known at run time cannot be changed through Warden'
            : `the setting ${s} is pinned by Warden and cannot be changed`,
      };
    }
  }
  if (connection.roles !== undefined) {
    const roleChange = op.sql.kinds.includes('set_role') || op.sql.settings.some((s) => ROLE_SETTINGS.has(s));
    if (roleChange) {
      return { code: 'session-guard', effect: 'block', message: 'the database role is set by Warden for this connection and cannot be changed' };
    }
  }
  return null;
}

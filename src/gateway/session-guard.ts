// Built-in guards that hold whatever the policy says, because the adapter's own correctness
// depends on them: the SQL analysis lexes as the target does only while the lexer settings stay
// pinned, and a connection that maps groups to database roles keeps the role it set.
import { LEXER_SETTINGS } from '../analysis/index.js';
import type { ConnectionConfig } from '../config/schema.js';
import type { Operation, Reason } from '../core/types.js';

// `*` is a setting whose name is known only at run time: it may be one of them. RESET ALL and
// DISCARD ALL (`all`) are let through: they return to the session's startup values, which the
// adapter pins (and the target's ParameterStatus is checked after every statement).
const UNKNOWN_SETTING = '*';
const ROLE_SETTINGS: ReadonlySet<string> = new Set(['role', 'session_authorization', '*']);

export function sessionGuardProblem(op: Operation, connection: ConnectionConfig): Reason | null {
  if (op.kind !== 'sql') return null;
  for (const s of op.sql.settings) {
    if (LEXER_SETTINGS.has(s) || s === UNKNOWN_SETTING) {
      return {
        code: 'session-guard',
        effect: 'block',
        message:
          s === UNKNOWN_SETTING
            ? 'a setting whose name is only known at run time cannot be changed through Warden'
            : `the setting ${s} is pinned by Warden and cannot be changed`,
      };
    }
  }
  if (connection.type === 'postgres' && connection.roles !== undefined) {
    const roleChange = op.sql.kinds.includes('set_role') || op.sql.settings.some((s) => ROLE_SETTINGS.has(s));
    if (roleChange) {
      return {
        code: 'session-guard',
        effect: 'block',
        message: 'the database role is set by Warden for this connection and cannot be changed',
      };
    }
  }
  return null;
}

// SQLSTATEs of the errors the gateway itself sends in a session: PostgreSQL's own codes, so a
// client reacts to a refusal as it would to the server's.
export const SQLSTATE_REFUSED = '42501'; // insufficient_privilege
export const SQLSTATE_AUTH = '28000'; // invalid_authorization_specification
export const SQLSTATE_PROTOCOL = '08P01'; // protocol_violation
export const SQLSTATE_TARGET_LOST = '08006'; // connection_failure
export const SQLSTATE_SYSTEM = '58000'; // system_error: the audit log could not be written
export const SQLSTATE_NO_STATEMENT = '26000'; // invalid_sql_statement_name
export const SQLSTATE_NO_PORTAL = '34000'; // invalid_cursor_name
export const SQLSTATE_PINNED = '0A000'; // feature_not_supported: a pinned setting changed anyway
export const SQLSTATE_COPY = '0A000'; // feature_not_supported: a COPY that cannot be masked

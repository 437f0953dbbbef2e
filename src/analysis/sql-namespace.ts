// What a SQL text does to the session's named statements and cursors (SQL PREPARE, DEALLOCATE,
// DISCARD, DECLARE, CLOSE, EXECUTE), in statement order. The PostgreSQL adapter applies these
// when the server confirms each statement (CommandComplete), never when the client merely sends
// them. Cold path: called only for texts whose kinds include one of these statements.
import { parseTree, type RawStatement, scanTokens as scanGuarded } from './pg-parser.js';
import { asNode, asString } from './sql-tree.js';

export type NamespaceChange =
  /** `PREPARE name AS body`: body is the exact text of the prepared statement. */
  | { op: 'prepare'; name: string; body: string }
  | { op: 'deallocate'; name: string | null }
  | { op: 'discard-all' }
  | { op: 'declare'; name: string }
  | { op: 'close'; name: string | null }
  | { op: 'execute'; name: string };

/** The command tag PostgreSQL reports when each change took effect. */
export function confirmingTag(change: NamespaceChange): string | null {
  switch (change.op) {
    case 'prepare':
      return 'PREPARE';
    case 'deallocate':
      return change.name === null ? 'DEALLOCATE ALL' : 'DEALLOCATE';
    case 'discard-all':
      return 'DISCARD ALL';
    case 'declare':
      return 'DECLARE CURSOR';
    case 'close':
      return change.name === null ? 'CLOSE CURSOR ALL' : 'CLOSE CURSOR';
    case 'execute':
      return null; // EXECUTE reports the executed statement's own tag
  }
}

/** Namespace changes of `text`, in order; null when the text does not parse (fail closed). */
export function namespaceChanges(text: string): NamespaceChange[] | null {
  let stmts: RawStatement[];
  try {
    stmts = parseTree(text).stmts ?? [];
  } catch {
    return null;
  }
  const bytes = Buffer.from(text, 'utf8');
  const out: NamespaceChange[] = [];
  for (const raw of stmts) {
    const [type, body] = Object.entries(raw.stmt)[0] ?? [];
    const node = asNode(body);
    if (type === undefined || node === undefined) continue;
    switch (type) {
      case 'PrepareStmt': {
        const name = asString(node['name']) ?? '';
        const start = raw.stmt_location ?? 0;
        const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
        const prepared = preparedBody(bytes.subarray(start, end).toString('utf8'));
        if (prepared === null) return null;
        out.push({ op: 'prepare', name, body: prepared });
        break;
      }
      case 'DeallocateStmt':
        out.push({ op: 'deallocate', name: node['isall'] === true ? null : (asString(node['name']) ?? null) });
        break;
      case 'DiscardStmt':
        if (asString(node['target']) === 'DISCARD_ALL') out.push({ op: 'discard-all' });
        break;
      case 'DeclareCursorStmt':
        out.push({ op: 'declare', name: asString(node['portalname']) ?? '' });
        break;
      case 'ClosePortalStmt':
        out.push({ op: 'close', name: asString(node['portalname']) ?? null });
        break;
      case 'ExecuteStmt':
        out.push({ op: 'execute', name: asString(node['name']) ?? '' });
        break;
    }
  }
  return out;
}

interface ScannedToken {
  text: string;
  end: number;
  keyword: boolean;
}

function scanTokens(statement: string): ScannedToken[] | null {
  try {
    return scanGuarded(statement).map((t) => ({
      text: t.text ?? '',
      end: t.end,
      keyword: t.keywordKind !== undefined && t.keywordKind !== 'NO_KEYWORD' && (t.keywordKind as unknown) !== 0,
    }));
  } catch {
    return null;
  }
}

/** The text after the first top-level `AS` of `PREPARE name [(types)] AS body`, by PostgreSQL's
 * own scanner (so quoting and comments are handled as the server does). */
function preparedBody(statement: string): string | null {
  const tokens = scanTokens(statement);
  if (tokens === null) return null;
  let depth = 0;
  for (const t of tokens) {
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    else if (depth === 0 && t.text.toUpperCase() === 'AS' && t.keyword) {
      const bytes = Buffer.from(statement, 'utf8');
      return bytes.subarray(t.end).toString('utf8').trim();
    }
  }
  return null;
}

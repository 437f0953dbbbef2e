// Hand-built operations for policy tests (analysis is another concern; facts are literals here).
import type { Identity, Operation, SqlFacts } from '../../../src/core/types.js';
import { NO_SQL } from '../../../src/policy/index.js';

export function identity(sub: string, groups: string[], claims: Record<string, unknown> = {}): Identity {
  return { sub, issuer: 'https://issuer.test', groups, claims: { sub, ...claims }, expiresAt: Date.UTC(2030, 0, 1) };
}

export function sqlFacts(over: Partial<SqlFacts> = {}): SqlFacts {
  return { ...NO_SQL, kinds: ['select'], tables: ['customers'], fingerprint: 'fp', ...over };
}

const base = (who: Identity, connection: string, text: string) => ({
  id: 'op_1',
  session: 's_1',
  connection: { name: connection, type: 'postgres' as const },
  identity: who,
  text,
  at: Date.UTC(2026, 0, 1, 12),
});

export function sqlOp(who: Identity, text: string, facts: Partial<SqlFacts> = {}, connection = 'shop'): Operation {
  return { ...base(who, connection, text), kind: 'sql', sql: sqlFacts(facts), normalized: text };
}

export function httpOp(who: Identity, method: string, path: string, connection = 'api'): Operation {
  return {
    ...base(who, connection, `${method} ${path}`),
    connection: { name: connection, type: 'http' },
    kind: 'http',
    http: { method, path, query: {}, headers: { 'content-type': 'application/json' }, json: { a: 1 } },
  };
}

export function commandOp(who: Identity, argv: string[], connection = 'box'): Operation {
  return {
    ...base(who, connection, argv.join(' ')),
    connection: { name: connection, type: 'ssh' },
    kind: 'command',
    command: { text: argv.join(' '), argv, programs: argv.slice(0, 1), parsed: true },
  };
}

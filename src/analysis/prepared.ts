// `EXECUTE p` runs whatever the session prepared as `p`: its facts are the facts of p's text, so
// an approved `PREPARE p AS DELETE …` does not turn every later `EXECUTE p` into a harmless
// `[execute]`. The session's named statements come from the server's confirmations (the adapter
// tracks them); PREPAREs earlier in the same text are applied in order, as the server runs them.
import type { SqlFacts, SqlKind } from '../core/types.js';
import { analyzePostgres, type SqlAnalysis } from './postgres.js';
import { namespaceChanges } from './sql-namespace.js';

export interface ExecutedStatements {
  facts: SqlFacts;
  /** The texts the EXECUTEs run, `name: text` per line (part of the operation's identity). */
  resolved: string;
}

/**
 * Facts of `analysis` (of `text`) with the statements its EXECUTEs run merged in; null when the
 * text executes nothing. An EXECUTE of a name the session does not know is unparsed (fail closed:
 * it may have been prepared where the gateway cannot see, e.g. inside a function).
 */
export function withExecutedStatements(
  text: string,
  analysis: SqlAnalysis,
  prepared: ReadonlyMap<string, string>,
): ExecutedStatements | null {
  if (!analysis.facts.kinds.includes('execute')) return null;
  const changes = namespaceChanges(text);
  const facts = copyFacts(analysis.facts);
  const resolved: string[] = [];
  if (changes === null) return { facts: failClosed(facts), resolved: '' };
  const names = new Map(prepared);
  for (const c of changes) {
    if (c.op === 'prepare') names.set(c.name, c.body);
    else if (c.op === 'deallocate') c.name === null ? names.clear() : names.delete(c.name);
    else if (c.op === 'discard-all') names.clear();
    else if (c.op === 'execute') {
      const body = names.get(c.name);
      if (body === undefined) {
        failClosed(facts);
        resolved.push(`${c.name}: (unknown to the gateway)`);
        continue;
      }
      resolved.push(`${c.name}: ${body}`);
      merge(facts, analyzePostgres(body).facts);
    }
  }
  return { facts, resolved: resolved.join('\n') };
}

function copyFacts(f: SqlFacts): SqlFacts {
  return {
    ...f,
    kinds: [...f.kinds],
    tables: [...f.tables],
    writtenTables: [...f.writtenTables],
    functions: [...f.functions],
    settings: [...f.settings],
    filterColumns: [...f.filterColumns],
  };
}

function failClosed(f: SqlFacts): SqlFacts {
  f.parsed = false;
  f.writes = true;
  f.allWritesFiltered = false;
  if (!f.kinds.includes('unparsed')) f.kinds.push('unparsed');
  return f;
}

function union<T>(into: T[], from: readonly T[]): void {
  for (const x of from) if (!into.includes(x)) into.push(x);
}

function merge(into: SqlFacts, body: SqlFacts): void {
  union<SqlKind>(into.kinds, body.kinds);
  union(into.tables, body.tables);
  union(into.writtenTables, body.writtenTables);
  union(into.functions, body.functions);
  union(into.settings, body.settings);
  union(into.filterColumns, body.filterColumns);
  into.writes ||= body.writes;
  into.allWritesFiltered &&= body.allWritesFiltered;
  into.copyProgram ||= body.copyProgram;
  into.serverFile ||= body.serverFile;
  into.dynamicSql ||= body.dynamicSql;
  into.parsed &&= body.parsed;
}

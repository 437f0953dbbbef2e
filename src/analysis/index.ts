// Public face of SQL and command analysis.
export { analyzeCommand } from './command.js';
export { initAnalysis } from './pg-parser.js';
export {
  analyzePostgres,
  clearSqlAnalysisCache,
  type PreparedKinds,
  type SqlAnalysis,
  type SqlContext,
  sqlAnalysisCacheSize,
} from './postgres.js';
export { type NormalizedSql, normalizeSql } from './sql-lexer.js';
export { type ExecutedStatements, withExecutedStatements } from './prepared.js';
export { confirmingTag, type NamespaceChange, namespaceChanges } from './sql-namespace.js';

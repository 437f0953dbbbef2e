// Public face of SQL and command analysis.
export { analyzeCommand } from './command.js';
export {
  type CatalogRelation,
  type LineageCatalog,
  type OutputLineage,
  type StatementLineage,
  UNTRACED,
} from './lineage.js';
export { analysisReady, initAnalysis, onParserFailure, type ParserFailure, parserReloads } from './pg-parser.js';
export { changesLexerSettings, LEXER_SETTINGS } from './pinned-settings.js';
export {
  analyzePostgres,
  clearSqlAnalysisCache,
  lineageOfFacts,
  lineageWithCatalog,
  type PreparedKinds,
  type SqlAnalysis,
  type SqlContext,
  setBoundedWriteRows,
  sqlAnalysisCacheSize,
} from './postgres.js';
export { type ExecutedStatements, withExecutedStatements } from './prepared.js';
export { MAX_NESTING_COST, MAX_TOKENS } from './sql-bounds.js';
export { type NormalizedSql, normalizeSql } from './sql-lexer.js';
export { confirmingTag, type NamespaceChange, namespaceChanges } from './sql-namespace.js';

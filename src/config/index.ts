// Public face of config: the schema, loading with secret references, and redaction.
export { ConfigError, type ConfigIssue, formatIssue, formatIssues } from './errors.js';
export {
  checkConfigFile,
  defaultConfig,
  type LoadedConfig,
  loadConfigFile,
  type ParseOptions,
  parseConfig,
  summarizeConfig,
} from './load.js';
export { redactConfig } from './redact.js';
export * from './schema.js';

// Public face of the policy engine.
export { type AccessResult, type DecideOptions, Policy } from './policy.js';
export { type CompileResult, type CompiledCondition, compileCondition } from './cel.js';
export { ruleIssues } from './compile.js';
export { CONTEXT_FIELDS, NO_SQL } from './context.js';

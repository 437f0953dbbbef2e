// Public face of the policy engine.

export { type CompiledCondition, type CompileResult, compileCondition } from './cel.js';
export { ruleIssues } from './compile.js';
export { CONTEXT_FIELDS, NO_SQL } from './context.js';
export { type AccessResult, type DecideOptions, Policy } from './policy.js';

// Rule conditions: parsed, checked against the declared context and planned once, at load.
// @bufbuild/cel's type checker needs protobuf descriptors for object fields, so field names are
// checked here by walking the AST's select chains against CONTEXT_FIELDS instead.
import { type CelResult, celEnv, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { CONTEXT_FIELDS, type FieldShape } from './context.js';
import { compileFast, type FastProgram } from './fast.js';

/** A compiled condition: call with the activation's variables; `true` means the rule matches. */
export type ConditionProgram = (vars: Record<string, unknown>) => CelResult;

export interface CompiledCondition {
  /** The reference evaluator (@bufbuild/cel). */
  program: ConditionProgram;
  /** Closures for the common subset, or null; throws BAIL when only `program` can answer. */
  fast: FastProgram | null;
  /** Top-level variables the condition reads (so `now` is built only when some rule needs it). */
  variables: ReadonlySet<string>;
}

export type CompileResult = { ok: true; condition: CompiledCondition } | { ok: false; errors: string[] };

type ParsedCondition = ReturnType<typeof parse>;
type Expr = ParsedCondition['expr'];

const env = celEnv({ funcs: strings });

// Calls the planner handles itself rather than through the function registry.
const PLANNER_CALLS = new Set([
  '_[_]',
  '_[?_]',
  '_?._',
  '_?_:_',
  '_&&_',
  '_||_',
  '@not_strictly_false',
  '__not_strictly_false__',
]);
// Type names are identifiers too (`type(x) == string`).
const TYPE_IDENTS = new Set(['bool', 'int', 'uint', 'double', 'string', 'bytes', 'list', 'map', 'null_type', 'type']);

/** Parses, checks field and function names, and plans `source`. Never throws. */
export function compileCondition(source: string): CompileResult {
  let parsed: ParsedCondition;
  try {
    parsed = parse(source);
  } catch (e) {
    return { ok: false, errors: [`syntax error: ${(e as Error).message.replace(/^<input>:/, 'at ')}`] };
  }
  const errors: string[] = [];
  const variables = new Set<string>();
  checkExpr(parsed.expr, new Set(), errors, variables);
  if (errors.length > 0) return { ok: false, errors: [...new Set(errors)] };
  try {
    const program = plan(env, parsed) as unknown as ConditionProgram;
    return { ok: true, condition: { program, fast: compileFast(parsed.expr), variables } };
  } catch (e) {
    return { ok: false, errors: [(e as Error).message] };
  }
}

function checkExpr(expr: Expr | undefined, locals: ReadonlySet<string>, errors: string[], vars: Set<string>): void {
  if (expr === undefined) return;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'identExpr': {
      const name = kind.value.name;
      if (locals.has(name) || TYPE_IDENTS.has(name)) return;
      if (name in CONTEXT_FIELDS) vars.add(name);
      else errors.push(`unknown variable '${name}' (use identity, connection, op, now)`);
      return;
    }
    case 'selectExpr': {
      // Collect the chain a.b.c down to its base.
      const fields: string[] = [];
      let base: Expr | undefined = expr;
      while (base?.exprKind.case === 'selectExpr') {
        fields.unshift(base.exprKind.value.field);
        base = base.exprKind.value.operand;
      }
      if (base?.exprKind.case === 'identExpr' && !locals.has(base.exprKind.value.name)) {
        const root = base.exprKind.value.name;
        checkExpr(base, locals, errors, vars);
        const shape = CONTEXT_FIELDS[root];
        if (shape !== undefined) checkFields(root, shape, fields, errors);
        return;
      }
      checkExpr(base, locals, errors, vars);
      return;
    }
    case 'callExpr': {
      const call = kind.value;
      if (!PLANNER_CALLS.has(call.function) && env.funcs.find(call.function) === undefined) {
        errors.push(`unknown function '${call.function}'`);
      }
      checkExpr(call.target, locals, errors, vars);
      for (const arg of call.args) checkExpr(arg, locals, errors, vars);
      return;
    }
    case 'listExpr':
      for (const el of kind.value.elements) checkExpr(el, locals, errors, vars);
      return;
    case 'structExpr':
      if (kind.value.messageName !== '') errors.push(`message types are not available ('${kind.value.messageName}')`);
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') checkExpr(entry.keyKind.value, locals, errors, vars);
        checkExpr(entry.value, locals, errors, vars);
      }
      return;
    case 'comprehensionExpr': {
      const c = kind.value;
      checkExpr(c.iterRange, locals, errors, vars);
      checkExpr(c.accuInit, locals, errors, vars);
      const inner = new Set(locals);
      for (const v of [c.iterVar, c.iterVar2, c.accuVar]) if (v !== '') inner.add(v);
      checkExpr(c.loopCondition, inner, errors, vars);
      checkExpr(c.loopStep, inner, errors, vars);
      checkExpr(c.result, inner, errors, vars);
      return;
    }
    default:
      return;
  }
}

function checkFields(root: string, rootShape: FieldShape, fields: readonly string[], errors: string[]): void {
  let shape = rootShape;
  let path = root;
  for (const field of fields) {
    path += `.${field}`;
    if (shape === 'open') return;
    if (typeof shape === 'string' || !Object.hasOwn(shape, field)) {
      errors.push(`unknown field '${path}'`);
      return;
    }
    shape = shape[field] as FieldShape;
  }
}

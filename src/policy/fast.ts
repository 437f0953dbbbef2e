// A fast path for rule conditions. @bufbuild/cel spends 2–8 µs on a typical condition (attribute
// resolution, value conversion, overload dispatch); a policy of ten rules would blow the 20 µs
// budget. This compiles the common subset of CEL (field access, ==, !=, !, &&, ||, in, size,
// int comparisons, startsWith/endsWith/contains, ?:, indexing, list literals, comprehensions, i.e.
// the exists/all/map/filter macros) into plain closures over the operation's own JS objects.
//
// It is speculative: a value of a type this subset does not model (a double, a timestamp, a
// missing key, anything that would be a CEL error) throws BAIL, and the caller re-evaluates the
// whole condition with @bufbuild/cel, which is the reference. So the fast path only ever answers
// when the answer is the one CEL gives; everything else gets CEL's own result or error. A part
// outside the subset (`now.getHours()`, `matches`) compiles to a node that bails when reached, so
// `'night' in identity.groups && now.getHours() < 6` still answers fast for most identities.
import type { parse } from '@bufbuild/cel';

type Expr = ReturnType<typeof parse>['expr'];

/** Thrown by a fast program when only the reference evaluator can answer. */
export const BAIL: unique symbol = Symbol('bail');

/** The variables as plain objects: identity, connection, op (with empty facts for other kinds). */
export interface FastRoot {
  identity: object;
  connection: object;
  op: object;
}

export type FastProgram = (root: FastRoot) => boolean;
type Node = (root: FastRoot) => unknown;

/** Stands for a part outside the subset: reaching it hands the condition to the reference evaluator. */
const UNSUPPORTED: Node = () => bail();

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const ROOTS = new Set(['identity', 'connection', 'op']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function bail(): never {
  throw BAIL;
}

function bool(v: unknown): boolean {
  return typeof v === 'boolean' ? v : bail();
}

/** CEL equality, for the types where it is JS strict equality; anything else bails. */
function equals(a: unknown, b: unknown): boolean {
  const t = typeof a;
  if (t !== typeof b) bail();
  if (t === 'string' || t === 'boolean' || t === 'bigint') return a === b;
  if (a === null && b === null) return true;
  return bail();
}

function size(v: unknown): bigint {
  if (Array.isArray(v)) return BigInt(v.length);
  if (typeof v === 'string') {
    let n = 0;
    for (const _ of v) n++; // code points, as CEL counts them
    return BigInt(n);
  }
  if (isPlainObject(v)) return BigInt(Object.keys(v).length);
  return bail();
}

class Compiler {
  /** Comprehension variables live in slots of one frame per program (evaluation is synchronous). */
  readonly frame: unknown[] = [];

  compile(expr: Expr | undefined, scope: ReadonlyMap<string, number>): Node {
    if (expr === undefined) return UNSUPPORTED;
    const k = expr.exprKind;
    switch (k.case) {
      case 'constExpr': {
        const c = k.value.constantKind;
        let value: unknown;
        if (c.case === 'boolValue' || c.case === 'stringValue' || c.case === 'int64Value') value = c.value;
        else if (c.case === 'nullValue') value = null;
        else return UNSUPPORTED;
        return () => value;
      }
      case 'identExpr': {
        const name = k.value.name;
        const slot = scope.get(name);
        const frame = this.frame;
        if (slot !== undefined) return () => frame[slot];
        if (!ROOTS.has(name)) return UNSUPPORTED;
        return (r) => r[name as keyof FastRoot];
      }
      case 'selectExpr': {
        const operand = this.compile(k.value.operand, scope);
        const field = k.value.field;
        if (k.value.testOnly) {
          return (r) => {
            const o = operand(r);
            return isPlainObject(o) ? Object.hasOwn(o, field) && o[field] !== undefined : bail();
          };
        }
        return (r) => {
          const o = operand(r);
          if (!isPlainObject(o)) bail();
          const v = o[field];
          return v === undefined || !Object.hasOwn(o, field) ? bail() : v;
        };
      }
      case 'listExpr': {
        if (k.value.optionalIndices.length > 0) return UNSUPPORTED;
        const elements = k.value.elements;
        if (elements.every((e) => e.exprKind.case === 'constExpr')) {
          const nodes = elements.map((e) => this.compile(e, scope));
          if (nodes.includes(UNSUPPORTED)) return UNSUPPORTED;
          const constant = Object.freeze(nodes.map((n) => n({} as FastRoot)));
          return () => constant;
        }
        const nodes = elements.map((e) => this.compile(e, scope));
        return (r) => nodes.map((n) => n(r));
      }
      case 'callExpr':
        return this.call(k.value.function, k.value.target, k.value.args, scope);
      case 'comprehensionExpr': {
        const c = k.value;
        if (c.iterVar2 !== '') return UNSUPPORTED;
        const range = this.compile(c.iterRange, scope);
        const init = this.compile(c.accuInit, scope);
        const accuSlot = this.frame.push(undefined) - 1;
        const iterSlot = this.frame.push(undefined) - 1;
        const inner = new Map(scope);
        inner.set(c.accuVar, accuSlot);
        inner.set(c.iterVar, iterSlot);
        const cond = this.compile(c.loopCondition, inner);
        const step = this.compile(c.loopStep, inner);
        const result = this.compile(c.result, inner);
        const frame = this.frame;
        return (r) => {
          const over = range(r);
          // A map iterates over its keys, like CEL.
          const items = Array.isArray(over) ? over : isPlainObject(over) ? Object.keys(over) : bail();
          frame[accuSlot] = init(r);
          for (const item of items) {
            frame[iterSlot] = item;
            if (!bool(cond(r))) break;
            frame[accuSlot] = step(r);
          }
          return result(r);
        };
      }
      default:
        return UNSUPPORTED;
    }
  }

  private call(fn: string, target: Expr | undefined, argExprs: Expr[], scope: ReadonlyMap<string, number>): Node {
    const args = argExprs.map((a) => this.compile(a, scope));
    const [a, b, c] = args;
    if (target !== undefined) {
      const t = this.compile(target, scope);
      if (fn === 'size' && args.length === 0) return (r) => size(t(r));
      if (args.length !== 1 || a === undefined) return UNSUPPORTED;
      const stringTest = (test: (s: string, x: string) => boolean): Node => {
        return (r) => {
          const s = t(r);
          const x = a(r);
          return typeof s === 'string' && typeof x === 'string' ? test(s, x) : bail();
        };
      };
      if (fn === 'startsWith') return stringTest((s, x) => s.startsWith(x));
      if (fn === 'endsWith') return stringTest((s, x) => s.endsWith(x));
      if (fn === 'contains') return stringTest((s, x) => s.includes(x));
      return UNSUPPORTED;
    }
    switch (fn) {
      case '_&&_':
        if (!a || !b) return UNSUPPORTED;
        return (r) => bool(a(r)) && bool(b(r));
      case '_||_':
        if (!a || !b) return UNSUPPORTED;
        return (r) => bool(a(r)) || bool(b(r));
      case '!_':
        if (!a) return UNSUPPORTED;
        return (r) => !bool(a(r));
      case '@not_strictly_false':
      case '__not_strictly_false__':
        if (!a) return UNSUPPORTED;
        return (r) => bool(a(r));
      case '_==_':
        if (!a || !b) return UNSUPPORTED;
        return (r) => equals(a(r), b(r));
      case '_!=_':
        if (!a || !b) return UNSUPPORTED;
        return (r) => !equals(a(r), b(r));
      case '_?_:_':
        if (!a || !b || !c) return UNSUPPORTED;
        return (r) => (bool(a(r)) ? b(r) : c(r));
      case 'size':
        if (!a || args.length !== 1) return UNSUPPORTED;
        return (r) => size(a(r));
      case '@in':
        if (!a || !b) return UNSUPPORTED;
        return this.inList(a, b, argExprs[1] as Expr);
      case '_[_]':
        if (!a || !b) return UNSUPPORTED;
        return (r) => {
          const container = a(r);
          const key = b(r);
          if (Array.isArray(container) && typeof key === 'bigint' && key >= 0n && key < BigInt(container.length)) {
            return container[Number(key)];
          }
          if (isPlainObject(container) && typeof key === 'string' && Object.hasOwn(container, key)) {
            const v = container[key];
            return v === undefined ? bail() : v;
          }
          return bail();
        };
      case '_+_':
        if (!a || !b) return UNSUPPORTED;
        return (r) => {
          const x = a(r);
          const y = b(r);
          if (typeof x === 'string' && typeof y === 'string') return x + y;
          if (Array.isArray(x) && Array.isArray(y)) return [...x, ...y];
          if (typeof x === 'bigint' && typeof y === 'bigint') {
            const sum = x + y;
            return sum < INT64_MIN || sum > INT64_MAX ? bail() : sum;
          }
          return bail();
        };
      case '_<_':
      case '_<=_':
      case '_>_':
      case '_>=_': {
        if (!a || !b) return UNSUPPORTED;
        const cmp = {
          '_<_': (x: bigint, y: bigint) => x < y,
          '_<=_': (x: bigint, y: bigint) => x <= y,
          '_>_': (x: bigint, y: bigint) => x > y,
          '_>=_': (x: bigint, y: bigint) => x >= y,
        }[fn];
        return (r) => {
          const x = a(r);
          const y = b(r);
          return typeof x === 'bigint' && typeof y === 'bigint' ? cmp(x, y) : bail();
        };
      }
      default:
        return UNSUPPORTED;
    }
  }

  private inList(elem: Node, container: Node, containerExpr: Expr): Node {
    const k = containerExpr.exprKind;
    // `x in ['a', 'b', …]` with string constants: a set lookup.
    if (k.case === 'listExpr' && k.value.elements.length > 0) {
      const values = k.value.elements.map((e) =>
        e.exprKind.case === 'constExpr' && e.exprKind.value.constantKind.case === 'stringValue'
          ? e.exprKind.value.constantKind.value
          : undefined,
      );
      if (values.every((v) => v !== undefined)) {
        const set = new Set(values as string[]);
        return (r) => {
          const v = elem(r);
          return typeof v === 'string' ? set.has(v) : bail();
        };
      }
    }
    return (r) => {
      const v = elem(r);
      const list = container(r);
      if (Array.isArray(list)) {
        for (const item of list) if (equals(v, item)) return true;
        return false;
      }
      if (isPlainObject(list) && typeof v === 'string') return Object.hasOwn(list, v) && list[v] !== undefined;
      return bail();
    };
  }
}

/** A fast program for `expr`, or null when its top level is outside the subset. */
export function compileFast(expr: Expr): FastProgram | null {
  const compiler = new Compiler();
  const node = compiler.compile(expr, new Map());
  if (node === UNSUPPORTED) return null;
  return (root) => bool(node(root));
}

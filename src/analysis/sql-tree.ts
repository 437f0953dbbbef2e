// Small helpers for reading libpg-query's JSON tree. A node is either wrapped
// (`{ "SelectStmt": { … } }`, one key naming its type) or, in some typed fields, bare.

export type TreeNode = Record<string, unknown>;

export function asNode(value: unknown): TreeNode | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as TreeNode) : undefined;
}

export function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `[type, body]` when `value` is a wrapped node (a single key starting with a capital letter). */
export function unwrap(value: unknown): [string, TreeNode] | undefined {
  const node = asNode(value);
  if (node === undefined) return undefined;
  let type: string | undefined;
  for (const key in node) {
    if (type !== undefined) return undefined;
    type = key;
  }
  if (type === undefined) return undefined;
  const first = type.charCodeAt(0);
  if (first < 65 || first > 90) return undefined;
  const body = asNode(node[type]);
  return body === undefined ? undefined : [type, body];
}

/** The body of `value` when it is a wrapped node of `type`. */
export function bodyOf(value: unknown, type: string): TreeNode | undefined {
  const node = asNode(value);
  return node === undefined ? undefined : asNode(node[type]);
}

/** `sval` of a `{ String: { sval } }` node. */
export function stringValue(value: unknown): string | undefined {
  return asString(bodyOf(value, 'String')?.['sval']);
}

/** True when `value` (an expression) is a constant NULL (`LIMIT ALL`, `LIMIT NULL`). */
export function isNullConst(value: unknown): boolean {
  return bodyOf(value, 'A_Const')?.['isnull'] === true;
}

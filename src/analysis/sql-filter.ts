// "Is this write bounded?" for `allWritesFiltered`. A condition counts as a filter only when it
// depends on the rows: it refers to a column (directly or through a subquery) or is
// `WHERE CURRENT OF`. A condition that refers to no column (`true`, `1=1`, `$1`, `now() > x'…'`)
// is the same for every row, so it selects all rows or none: it does not count. The decision
// looks only at the tree's shape, never at literal values, so it is safe to share through the
// normalized-text cache. It guards against accidents, not against someone writing `WHERE id = id`.
import { asList, asNode, asString, isNullConst, type TreeNode, unwrap } from './sql-tree.js';

function refersToColumn(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(refersToColumn);
  const node = asNode(value);
  if (node === undefined) return false;
  if ('ColumnRef' in node || 'CurrentOfExpr' in node) return true;
  for (const key in node) {
    if (refersToColumn(node[key])) return true;
  }
  return false;
}

/** True when `condition` (a WHERE / ON expression, maybe absent) restricts the rows. */
export function isRowFilter(condition: unknown): boolean {
  const wrapped = unwrap(condition);
  if (wrapped === undefined) return false;
  const [type, body] = wrapped;
  if (type === 'BoolExpr') {
    const args = asList(body['args']);
    switch (asString(body['boolop'])) {
      case 'AND_EXPR':
        return args.some(isRowFilter);
      case 'OR_EXPR':
        return args.length > 0 && args.every(isRowFilter);
      default: // NOT_EXPR
        return refersToColumn(args);
    }
  }
  return refersToColumn(condition);
}

/** True when the source of `INSERT … SELECT` reads through a WHERE or a LIMIT (VALUES is fine). */
export function isBoundedSelect(select: TreeNode | undefined): boolean {
  if (select === undefined) return true; // INSERT … DEFAULT VALUES
  if (select['valuesLists'] !== undefined) return true;
  const limit = select['limitCount'];
  if (limit !== undefined && !isNullConst(limit)) return true;
  const op = asString(select['op']);
  if (op !== undefined && op !== 'SETOP_NONE') {
    return isBoundedSelect(asNode(select['larg'])) && isBoundedSelect(asNode(select['rarg']));
  }
  return isRowFilter(select['whereClause']);
}

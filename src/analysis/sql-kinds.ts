// Statement node type → SqlKind for the statements whose kind needs no further look inside.
// Statements that depend on their fields (SELECT … INTO, GRANT/REVOKE, SET ROLE, VACUUM vs
// ANALYZE, …) are decided in sql-facts.ts.
import type { SqlKind } from '../core/types.js';

const FIXED: Readonly<Record<string, SqlKind>> = {
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'merge',
  CopyStmt: 'copy',
  TruncateStmt: 'truncate',
  CommentStmt: 'comment',
  VariableShowStmt: 'show',
  TransactionStmt: 'transaction',
  ExplainStmt: 'explain',
  PrepareStmt: 'prepare',
  ExecuteStmt: 'execute',
  DeallocateStmt: 'deallocate',
  DeclareCursorStmt: 'declare',
  FetchStmt: 'fetch',
  ClosePortalStmt: 'close',
  ListenStmt: 'listen',
  UnlistenStmt: 'listen',
  NotifyStmt: 'notify',
  DoStmt: 'do',
  CallStmt: 'call',
  LoadStmt: 'load',
  ClusterStmt: 'cluster',
  ReindexStmt: 'reindex',
  LockStmt: 'lock',
  RefreshMatViewStmt: 'refresh',
  AlterSystemStmt: 'alter_system',
  SecLabelStmt: 'security_label',
  CheckPointStmt: 'checkpoint',
  // CREATE … under other names
  ViewStmt: 'create',
  IndexStmt: 'create',
  DefineStmt: 'create',
  CompositeTypeStmt: 'create',
  RuleStmt: 'create',
  ImportForeignSchemaStmt: 'create',
  CreatedbStmt: 'create',
  // ALTER … under other names
  RenameStmt: 'alter',
  ReassignOwnedStmt: 'alter',
  ReplicaIdentityStmt: 'alter',
  // DROP … under other names
  DropdbStmt: 'drop',
  DropOwnedStmt: 'drop',
};

/** The kind of a statement node type, by name; `other` for what is not listed. */
export function kindOfType(type: string): SqlKind {
  const fixed = FIXED[type];
  if (fixed !== undefined) return fixed;
  if (type.startsWith('Create')) return 'create';
  if (type.startsWith('Alter')) return 'alter';
  if (type.startsWith('Drop')) return 'drop';
  return 'other';
}

/** Kinds that change data when a prepared statement of that kind is executed. */
export const WRITE_KINDS: ReadonlySet<SqlKind> = new Set<SqlKind>(['insert', 'update', 'delete', 'merge', 'create']);

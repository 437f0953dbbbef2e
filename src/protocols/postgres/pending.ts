// What the client is waiting for, in order. Every client message that the server answers pushes
// an entry; every server message is matched against the head. Refusals made by the gateway are
// queued as `synthetic` entries so they reach the client in protocol order, after the answers to
// the messages the client sent before them.
import type { NamespaceChange } from '../../analysis/index.js';
import type { PendingAudit } from '../../gateway/index.js';
import type { ResultContext } from './result.js';
import type { Portal, Statement } from './statements.js';

// `gate`: the answer to this entry waits until the audit entry of its statement is committed
// (pipelined read-only statements, see GatewaySession.decideOrWait). Entries behind it wait too,
// since answers come in order.
/** A SQL statement that may change named statements or cursors: its changes, applied as their
 * CommandCompletes arrive (null: not understood, so every name is forgotten when it ends). */
export interface NameChanges {
  changes: readonly NamespaceChange[] | null;
  next: number;
}

export type Pending = (
  | { t: 'simple'; ctx: ResultContext | null; names?: NameChanges | undefined }
  | { t: 'parse'; stmt: Statement }
  | { t: 'bind'; portal: Portal }
  | { t: 'close'; target: 'S' | 'P'; name: string }
  | { t: 'describe'; portal: Portal | null; internal: boolean }
  | { t: 'execute'; ctx: ResultContext; portal: Portal; names?: NameChanges | undefined }
  | { t: 'sync' }
  | { t: 'synthetic'; frames: Buffer[]; readyForQuery: boolean }
) & { gate?: PendingAudit | undefined };

export class PendingQueue {
  private items: Pending[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  peek(): Pending | undefined {
    return this.items[this.head];
  }

  push(p: Pending): void {
    this.items.push(p);
  }

  shift(): Pending | undefined {
    const p = this.items[this.head];
    if (p === undefined) return undefined;
    this.items[this.head] = undefined as unknown as Pending;
    this.head++;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return p;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

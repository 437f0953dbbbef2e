// The session's named statements and portals as the SERVER has them. A Parse, Bind or Close
// changes them only when the server confirms it (ParseComplete, BindComplete, CloseComplete),
// SQL PREPARE / DEALLOCATE / DISCARD / DECLARE / CLOSE when its CommandComplete arrives; an error
// leaves them as they were. While a change is unconfirmed, a lookup is certain only for an
// object created earlier in the same batch (before the next Sync): if that creation fails, the
// server skips the rest of the batch, so whatever uses it runs it or nothing. Otherwise the
// caller waits until the server has answered (`settled`).
import { confirmingTag, type NamespaceChange } from '../../analysis/index.js';
import type { Verdict } from '../../gateway/index.js';
import type { NameChanges, Pending } from './pending.js';
import type { FieldDescription } from './wire/index.js';

export interface Statement {
  name: string;
  text: string;
  /** The decision made at Parse; covers the first Bind, later Binds decide again. Null for a
   * statement prepared in SQL (decided at every Bind). */
  verdict: Verdict | null;
  fresh: boolean;
}

export interface Portal {
  name: string;
  statement: Statement;
  verdict: Verdict;
  resultFormats: number[];
  /** From a Describe(P) of this very portal (formats applied); null until then. */
  fields: FieldDescription[] | null;
}

interface Unconfirmed<T> {
  value: T;
  batch: number;
}

/** A lookup result: the object, undefined when the server has none, or 'unsettled'. */
export type Lookup<T> = T | undefined | 'unsettled';

export class SessionNames {
  /** Sync messages sent so far: the batch the next message belongs to. */
  private batch = 0;
  private readonly statements = new Map<string, Statement>();
  private readonly portals = new Map<string, Portal>();
  private readonly parsing = new Map<string, Unconfirmed<Statement>>();
  private readonly binding = new Map<string, Unconfirmed<Portal>>();
  /** SQL statements sent whose effect on names is not confirmed yet. */
  private sqlInFlight = 0;

  get settled(): boolean {
    return this.sqlInFlight === 0 && this.olderThanBatch(this.parsing) && this.olderThanBatch(this.binding);
  }

  /** True when no unconfirmed Parse/Bind belongs to an earlier batch. */
  private olderThanBatch(m: Map<string, Unconfirmed<unknown>>): boolean {
    for (const u of m.values()) if (u.batch !== this.batch) return false;
    return true;
  }

  synced(): void {
    this.batch++;
  }

  statement(name: string): Lookup<Statement> {
    const u = this.parsing.get(name);
    if (u) return u.batch === this.batch ? u.value : 'unsettled';
    if (this.sqlInFlight > 0) return 'unsettled';
    return this.statements.get(name);
  }

  portal(name: string): Lookup<Portal> {
    const u = this.binding.get(name);
    if (u) return u.batch === this.batch ? u.value : 'unsettled';
    if (this.sqlInFlight > 0) return 'unsettled';
    return this.portals.get(name);
  }

  parseSent(s: Statement): void {
    this.parsing.set(s.name, { value: s, batch: this.batch });
  }

  parseAnswered(s: Statement, ok: boolean): void {
    if (ok) this.statements.set(s.name, s);
    if (this.parsing.get(s.name)?.value === s) this.parsing.delete(s.name);
  }

  bindSent(p: Portal): void {
    this.binding.set(p.name, { value: p, batch: this.batch });
  }

  bindAnswered(p: Portal, ok: boolean): void {
    if (ok) this.portals.set(p.name, p);
    if (this.binding.get(p.name)?.value === p) this.binding.delete(p.name);
  }

  closed(target: 'S' | 'P', name: string): void {
    if (target === 'S') this.statements.delete(name);
    else this.portals.delete(name);
  }

  /** A simple Query replaces the unnamed statement and portal. */
  simpleQuerySent(): void {
    this.statements.delete('');
    this.portals.delete('');
    this.parsing.delete('');
    this.binding.delete('');
  }

  /** The transaction ended (ReadyForQuery 'I'): its portals are gone. */
  transactionEnded(): void {
    // Map#clear allocates a new table even when empty (~0.3 µs here), and this runs at every
    // ReadyForQuery of an idle session.
    if (this.portals.size > 0) this.portals.clear();
  }

  sqlSent(): void {
    this.sqlInFlight++;
  }

  sqlAnswered(): void {
    if (this.sqlInFlight > 0) this.sqlInFlight--;
  }

  /** A SQL statement's effect, confirmed by its CommandComplete. */
  apply(change: NamespaceChange): void {
    switch (change.op) {
      case 'prepare':
        this.statements.set(change.name, { name: change.name, text: change.body, verdict: null, fresh: false });
        break;
      case 'deallocate':
        if (change.name === null) this.statements.clear();
        else this.statements.delete(change.name);
        break;
      case 'discard-all':
        this.forgetAll();
        break;
      case 'declare':
      case 'close':
        // A SQL cursor is not bound through the gateway: its name no longer names our portal.
        if (change.name === null) this.portals.clear();
        else this.portals.delete(change.name);
        break;
      case 'execute':
        break;
    }
  }

  /** What we cannot follow (e.g. a statement we could not parse ran): forget every name, so
   * later uses are refused rather than decided on a stale record. */
  forgetAll(): void {
    this.statements.clear();
    this.portals.clear();
  }

  /** ParseComplete, BindComplete, CloseComplete: the server now has what the client asked for. */
  confirm(head: Pending): void {
    if (head.t === 'parse') this.parseAnswered(head.stmt, true);
    else if (head.t === 'bind') this.bindAnswered(head.portal, true);
    else if (head.t === 'close') this.closed(head.target, head.name);
  }

  /** An entry is done (ok = false: skipped or failed): release what it held unconfirmed. */
  finished(p: Pending, ok = true): void {
    if (p.t === 'parse') this.parseAnswered(p.stmt, false);
    else if (p.t === 'bind') this.bindAnswered(p.portal, false);
    else if ((p.t === 'simple' || p.t === 'execute') && p.names) {
      if (p.names.changes === null && ok) this.forgetAll();
      p.names = undefined;
      this.sqlAnswered();
    }
  }

  /** A CommandComplete of a statement that changes names: apply the change it confirms. */
  commandComplete(names: NameChanges | undefined, tag: string): void {
    if (!names?.changes) return;
    const list = names.changes;
    for (let i = names.next; i < list.length; i++) {
      const change = list[i]!;
      if (confirmingTag(change) !== tag) continue;
      this.apply(change);
      names.next = i + 1;
      return;
    }
  }

  /** Confirmed named statements, name → text (for EXECUTE facts). */
  preparedTexts(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [name, s] of this.statements) if (name !== '') m.set(name, s.text);
    return m;
  }

  clear(): void {
    this.statements.clear();
    this.portals.clear();
    this.parsing.clear();
    this.binding.clear();
    this.sqlInFlight = 0;
  }
}

// What the review and access desks share: the injected pieces, the local decision bus and the
// one way they write audit entries and notifications.
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/index.js';
import type { WardenConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Identity } from '../core/types.js';
import type { Store } from '../store/index.js';
import type { Notifier } from './notify.js';

/** Who acts on a review or request: a verified identity (its principal, issuer + sub, and groups). */
export type Actor = Pick<Identity, 'issuer' | 'sub' | 'groups'>;

export interface DeskContext {
  config: WardenConfig;
  store: Store;
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  /** Local decisions: emits `<review id>` with the new state, so held operations wake at once. */
  decisions: EventEmitter;
}

type AuditInput = Parameters<AuditLog['append']>[0];

/**
 * Appends an audit entry. `strict` (an administrative action through the API): a failed write
 * is thrown, so the approver learns the record is missing. Otherwise (data path, sweeps) it is
 * logged: the operation itself is audited fail-closed by the session.
 */
export async function audit(ctx: DeskContext, entry: AuditInput, strict: boolean): Promise<void> {
  try {
    await ctx.audit.append(entry);
  } catch (err) {
    ctx.logger.error({ err, type: entry.type }, 'audit write failed');
    if (strict) throw err;
  }
}

/** Serializes async work per key inside this process (compare-and-set covers other processes). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

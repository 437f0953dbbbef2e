// A statement reaches the server only once decided, and then with what its answer will need:
// the result context that masks and records it, a Describe of its portal when masking needs the
// row shape, the name changes it may make, and its audit gate. A refused statement is answered in
// place by the gateway instead (reply-queue.ts) and never forwarded.
import { namespaceChanges } from '../../analysis/index.js';
import type { SqlKind } from '../../core/types.js';
import type { GatewaySession, Verdict } from '../../gateway/index.js';
import { copyOutSpecsOf, copySpecOf } from './copy/index.js';
import type { ProxyLink } from './link.js';
import type { NameChanges } from './pending.js';
import { gateOf } from './reply-queue.js';
import { ResultContext } from './result.js';
import { SQLSTATE_COPY, SQLSTATE_NO_PORTAL, SQLSTATE_NO_STATEMENT } from './sqlstate.js';
import type { Portal, Statement } from './statements.js';
import { type parseBind, writeDescribe } from './wire/index.js';

// Statements that can change the session's named statements or cursors (DISCARD is 'other').
const NAME_KINDS: ReadonlySet<SqlKind> = new Set<SqlKind>([
  'prepare',
  'deallocate',
  'declare',
  'close',
  'other',
  'unparsed',
]);

type Bind = ReturnType<typeof parseBind>;

/** Describe of the unnamed portal, the one most clients execute (`D`, length 6, `P`, ""): copied
 * into the outbound buffer, never written to. */
const DESCRIBE_UNNAMED_PORTAL = Buffer.from([0x44, 0, 0, 0, 6, 0x50, 0]);

// Each handler decides synchronously when it can (pipelined read-only statements) and returns a
// promise only when the decision must be waited for.
export class Forwarder {
  private readonly session: GatewaySession;

  constructor(private readonly link: ProxyLink) {
    this.session = link.session;
  }

  query(text: string, frame: Buffer): Promise<void> | undefined {
    const v = this.link.decisions.decide(text);
    if (v instanceof Promise) return v.then((verdict) => this.queryDecided(verdict, text, frame));
    this.queryDecided(v, text, frame);
    return undefined;
  }

  parse(name: string, text: string, frame: Buffer): Promise<void> | undefined {
    const v = this.link.decisions.decide(text);
    if (v instanceof Promise) return v.then((verdict) => this.parseDecided(verdict, name, text, frame));
    this.parseDecided(v, name, text, frame);
    return undefined;
  }

  bind(b: Bind, frame: Buffer): Promise<void> | undefined {
    const link = this.link;
    const found = link.names.statement(b.statement);
    if (found === 'unsettled') return link.decisions.settle().then(() => this.bind(b, frame));
    if (found === undefined) {
      link.replies.refuse(
        `prepared statement "${b.statement}" does not exist`,
        false,
        undefined,
        SQLSTATE_NO_STATEMENT,
      );
      return undefined;
    }
    const stmt = found;
    if (stmt.fresh && stmt.verdict) {
      // The decision made at Parse covers its first execution; the identity is re-checked.
      stmt.fresh = false;
      if (this.session.identityProblem()) return link.decisions.redecideLapsed(stmt.text);
      this.bindDecided(stmt.verdict, stmt, b, frame);
      return undefined;
    }
    // Every later execution (and every execution of a statement prepared in SQL) is decided.
    stmt.fresh = false;
    const v = link.decisions.decide(stmt.text);
    if (v instanceof Promise) return v.then((verdict) => this.bindDecided(verdict, stmt, b, frame));
    this.bindDecided(v, stmt, b, frame);
    return undefined;
  }

  execute(portalName: string, frame: Buffer): Promise<void> | undefined {
    const link = this.link;
    const found = link.names.portal(portalName);
    if (found === 'unsettled') return link.decisions.settle().then(() => this.execute(portalName, frame));
    if (found === undefined) {
      // Not bound through the gateway (e.g. a SQL cursor): refuse rather than run unmasked.
      link.replies.refuse(
        `blocked: portal "${portalName}" was not bound through Warden; use FETCH`,
        false,
        undefined,
        SQLSTATE_NO_PORTAL,
      );
      return undefined;
    }
    const portal = found;
    if (this.session.identityProblem()) return link.decisions.redecideLapsed(portal.statement.text);
    const ctx = this.newContext(portal.verdict, portal.statement.text);
    if (ctx.masker && isCopy(portal.verdict) && ctx.copies.length === 0) {
      const spec = copySpecOf(portal.statement.text);
      return link.planner.copies(ctx, spec ? [spec] : []).then((refusal) => {
        if (link.closed) return;
        if (refusal) return link.replies.refuse(refusal, false, undefined, SQLSTATE_COPY);
        this.forwardExecute(portal, ctx, frame);
      });
    }
    this.forwardExecute(portal, ctx, frame);
    return undefined;
  }

  private queryDecided(verdict: Verdict | null, text: string, frame: Buffer): Promise<void> | undefined {
    const link = this.link;
    if (!verdict || link.closed) return undefined;
    if (verdict.refusal) {
      link.replies.refuseVerdict(verdict, true);
      return undefined;
    }
    const ctx = this.newContext(verdict, text);
    if (ctx.masker && isCopy(verdict)) {
      return link.planner.copies(ctx, copyOutSpecsOf(text)).then((refusal) => {
        if (link.closed) return;
        if (refusal) return link.replies.refuse(refusal, true, undefined, SQLSTATE_COPY);
        this.forwardQuery(verdict, text, frame, ctx);
      });
    }
    this.forwardQuery(verdict, text, frame, ctx);
    return undefined;
  }

  private forwardQuery(verdict: Verdict, text: string, frame: Buffer, ctx: ResultContext): void {
    const link = this.link;
    link.toServer.push(frame);
    link.names.simpleQuerySent();
    const names = this.nameChanges(verdict, text);
    link.replies.expect({ t: 'simple', ctx, gate: gateOf(verdict), names });
  }

  private parseDecided(verdict: Verdict | null, name: string, text: string, frame: Buffer): void {
    const link = this.link;
    if (!verdict || link.closed) return;
    if (verdict.refusal) {
      link.replies.refuseVerdict(verdict, false);
      return;
    }
    // Recorded as the server's only once it answers ParseComplete (a Parse it rejects, e.g. a
    // name in use, changes nothing).
    const stmt: Statement = { name, text, verdict, fresh: true };
    link.names.parseSent(stmt);
    link.toServer.push(frame);
    link.replies.expect({ t: 'parse', stmt, gate: gateOf(verdict) });
  }

  private bindDecided(verdict: Verdict | null, stmt: Statement, b: Bind, frame: Buffer): void {
    const link = this.link;
    if (!verdict || link.closed) return;
    if (verdict.refusal) {
      link.replies.refuseVerdict(verdict, false);
      return;
    }
    const portal: Portal = { name: b.portal, statement: stmt, verdict, resultFormats: b.resultFormats, fields: null };
    link.names.bindSent(portal);
    link.toServer.push(frame);
    link.replies.expect({ t: 'bind', portal, gate: gateOf(verdict) });
  }

  private forwardExecute(portal: Portal, ctx: ResultContext, frame: Buffer): void {
    const link = this.link;
    if (ctx.masker && !portal.fields) {
      // Masking needs the shape of the rows this Execute sends: ask the server now, in stream
      // order, and swallow its answer.
      link.toServer.push(
        portal.name === '' ? DESCRIBE_UNNAMED_PORTAL : writeDescribe(link.w, 'P', portal.name).flush(),
      );
      link.replies.expect({ t: 'describe', portal, internal: true });
    }
    link.toServer.push(frame);
    const names = this.nameChanges(portal.verdict, portal.statement.text);
    link.replies.expect({ t: 'execute', ctx, portal, gate: gateOf(portal.verdict), names });
  }

  /** Name changes a statement about to be forwarded may make (rare: computed only then). */
  private nameChanges(verdict: Verdict, text: string): NameChanges | undefined {
    const op = verdict.op;
    if (op.kind !== 'sql' || !op.sql.kinds.some((k) => NAME_KINDS.has(k))) return undefined;
    this.link.names.sqlSent();
    return { changes: op.sql.parsed ? namespaceChanges(text) : null, next: 0 };
  }

  private newContext(verdict: Verdict, text: string): ResultContext {
    return new ResultContext(this.session, verdict.op.id, verdict.masker, this.link.keepRows, text);
  }
}

function isCopy(verdict: Verdict): boolean {
  return verdict.op.kind === 'sql' && verdict.op.sql.kinds.includes('copy');
}

// The one conformance suite every protocol engine passes against its real target (DESIGN.md §8):
// allow, mask, review, hold, block, identity expiry and revocation mid-session (also between a
// prepare and its execution), audit-write failure, target down, malformed input, oversized
// pre-auth messages, handshake timeouts, session limits and state drift. One gateway for the
// whole file; each check uses its own identities, so the checks do not see each other's state.
// A check an engine declares in `knownGaps` (with the issue that closes it) runs as a TODO.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  approveFromCli,
  assertNoLeak,
  auditChainVerifies,
  auditEntries,
  auditOf,
  eventually,
  pendingReviewOf,
  recordingOf,
  revokeFromCli,
  sleep,
  tryApproveFromCli,
} from './control.js';
import type { CheckId, ClientSession, ConformanceTarget, Outcome, Refusal, StartedGateway } from './target.js';

export const LIMITS = { sessionsPerIdentity: 3, handshakeTimeoutMs: 2000 };
export const RULES = { block: 'conformance-block', review: 'conformance-review', hold: 'conformance-hold' };
const BLOCK_MESSAGE = 'conformance says no';
const HOLD_MS = 30_000;

/**
 * The policy every engine runs under: `agents` are masked and need reviews, `readers` are not
 * masked, `reviewers` approve, `admins` (the gateway's admins group) read the audit log.
 */
export function conformancePolicy(t: ConformanceTarget): string {
  const cel = (s: string) => JSON.stringify(s);
  return `
access:
  - groups: [agents, readers]
    connections: [${t.connection}, ${t.downConnection}]
rules:
  - name: ${RULES.block}
    when: ${cel(t.conditions.block)}
    action: block
    message: ${BLOCK_MESSAGE}
  - name: ${RULES.review}
    groups: [agents]
    when: ${cel(t.conditions.review)}
    action: review
    approvers: { groups: [reviewers], count: 1 }
    message: conformance needs a reviewer
  - name: ${RULES.hold}
    groups: [agents]
    when: ${cel(t.conditions.hold)}
    action: review
    hold: ${HOLD_MS / 1000}s
    approvers: { groups: [reviewers], count: 1 }
    message: conformance holds this for a reviewer
masking:
  - connections: [${t.connection}]
    groups: [agents]
    columns: [${t.maskColumns.join(', ')}]
    detect: [email, credit_card, us_ssn, phone, iban, secret]
limits:
  sessionsPerIdentity: ${LIMITS.sessionsPerIdentity}
  handshakeTimeout: ${LIMITS.handshakeTimeoutMs / 1000}s
`;
}

const show = (o: unknown) => JSON.stringify(o);
const expiryOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { exp: number }).exp * 1000;

export function runConformance(t: ConformanceTarget): void {
  describe(`conformance: ${t.name}`, () => {
    let gw: StartedGateway;
    let admin: string;
    let reviewer: string;
    const opened: ClientSession[] = [];

    before(async () => {
      gw = await t.start({ policy: conformancePolicy(t) });
      admin = await t.token('conformance-admin', ['admins']);
      reviewer = await t.token('conformance-reviewer', ['reviewers']);
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
    });
    after(async () => {
      await t.stop();
    });

    async function open(sub: string, groups = ['agents'], ttlMs?: number): Promise<ClientSession> {
      return openWith(await t.token(sub, groups, ttlMs));
    }
    async function openWith(token: string, connection?: string): Promise<ClientSession> {
      const c = await t.connect(token, connection ? { connection } : {});
      assert.ok(c.session, `login refused: ${show(c)}`);
      opened.push(c.session);
      return c.session;
    }

    function assertAllowed(o: Outcome, what = 'allowedRead'): void {
      assert.equal(o.ok, true, `${what}: ${show(o)}`);
      assert.equal(o.sessionEnded, false, `${what} ended the session`);
      if (what === 'allowedRead') assert.deepEqual(o.rows, t.expected.allowedRows);
    }
    function assertRefused(o: Outcome, kind: Refusal['kind'], code: string): Refusal {
      assert.equal(o.ok, false, `expected a ${kind} refusal, got ${show(o)}`);
      assert.ok(o.refused, `no refusal in ${show(o)}`);
      assert.equal(o.refused.kind, kind, show(o));
      assert.equal(o.refused.code, code, show(o));
      assert.ok(o.refused.message.length > 0, 'a refusal says why');
      for (const secret of t.targetCredentials)
        assert.ok(!o.refused.message.includes(secret), 'a target credential leaked');
      return o.refused;
    }
    /** An identity refusal: native code, nothing returned, the session is over. */
    function assertCut(o: Outcome): void {
      assertRefused(o, 'identity', t.codes.identity);
      assert.deepEqual(o.rows ?? [], [], 'rows were sent after the identity lapsed');
      assert.equal(o.sessionEnded, true, 'the session goes on after the identity lapsed');
    }
    const effectOf = (e: { data: { effect?: string } }) => e.data.effect;

    /** The reasons the audit log gives for the end of `sub`'s session(s). */
    const sessionEndReasons = (sub: string) =>
      eventually(async () => {
        const ends = await auditOf(gw, admin, sub, { type: 'session.end' });
        return ends.length > 0 ? ends.map((e) => String(e.data.reason ?? '')) : undefined;
      }, `the audited end of ${sub}'s session`);

    /**
     * The cut is in the audit log: a refused operation with the identity reason, or (when the
     * engine cut an execution of an already decided statement) the session's end with why.
     */
    async function assertCutAudited(sub: string, reason: string, why: RegExp): Promise<void> {
      await eventually(async () => {
        const ops = await auditOf(gw, admin, sub);
        if (ops.some((e) => effectOf(e) === 'block' && e.data.reasons?.includes(reason))) return true;
        const ends = await auditOf(gw, admin, sub, { type: 'session.end' });
        return ends.some((e) => why.test(String(e.data.reason))) ? true : undefined;
      }, `an audit entry of ${sub}'s cut (${reason})`);
    }

    const noPrepare = t.prepares ? false : 'the protocol has no prepare step';

    /** One check; a gap the engine declares (with its issue) runs as a todo: reported, not fatal. */
    function check(
      id: CheckId,
      title: string,
      ...rest: [() => Promise<void>] | [{ skip?: string | false }, () => Promise<void>]
    ) {
      const [opts, fn] = rest.length === 2 ? rest : [{}, rest[0]];
      const gap = t.knownGaps?.[id];
      it(title, { ...opts, ...(gap ? { todo: gap } : {}) }, fn);
    }

    check('allow', 'allow: an allowed read returns its rows; the audit entry says allow, no rules', async () => {
      const s = await open('allow-reader', ['readers']);
      assertAllowed(await s.run('allowedRead'));
      assertAllowed(await s.run('allowedRead'));
      const entries = await auditEntries(gw, admin, 'allow-reader', 2);
      assert.equal(entries.length, 2, 'one audit entry per operation');
      for (const e of entries) {
        assert.equal(effectOf(e), 'allow');
        assert.deepEqual(e.data.rules, []);
        assert.equal(e.connection, t.connection);
      }
    });

    check('mask', 'mask: no clear value reaches the client nor the recording; audited as mask', async () => {
      const secrets = await t.secrets();
      assert.ok(secrets.length > 0, 'the target holds values to mask');
      const s = await open('mask-agent');
      const out = await s.run('maskedRead');
      assert.equal(out.ok, true, show(out));
      assert.ok((out.rows ?? []).length > 0, 'the masked read returned rows');
      assertNoLeak((out.rows ?? []).flat(), secrets, 'client');
      await s.close();

      const [entry] = await auditEntries(gw, admin, 'mask-agent', 1);
      assert.equal(effectOf(entry!), 'mask');
      assert.ok(entry!.session, 'the audit entry names its session');
      const text = await recordingOf(gw, entry!.session!, (x) => x.includes('session.end'));
      assertNoLeak([text], secrets, 'recording');
      // The recording holds this operation's result, so the leak check looked at something.
      const results = text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { type?: string; op?: string; rows?: unknown[]; output?: string })
        .filter((e) => e.type === 'result' && e.op === entry!.data.op);
      assert.equal(results.length, 1, 'one recorded result for the masked read');
      // Row protocols record rows; HTTP records the (masked) body as `output`.
      const recorded = results[0]!;
      assert.ok((recorded.rows ?? []).length > 0 || (recorded.output ?? '') !== '', 'the recorded result has rows');
    });

    check(
      'review',
      'review: refused with an id, approved from another process, runs exactly once, then needs a new review',
      async () => {
        const s = await open('review-agent');
        const first = assertRefused(await s.run('reviewOp'), 'review', t.codes.review);
        assert.ok(first.reviewId, `the refusal names its review: ${first.message}`);
        assert.equal(await t.effects('reviewOp'), 0, 'nothing ran before the approval');
        const [refusedEntry] = await auditEntries(gw, admin, 'review-agent', 1);
        assert.equal(effectOf(refusedEntry!), 'review');
        assert.deepEqual(refusedEntry!.data.rules, [RULES.review]);
        assert.equal(refusedEntry!.data.review, first.reviewId);
        assertAllowed(await s.run('allowedRead'));

        await approveFromCli(gw, first.reviewId, reviewer);

        // The approval is for the requester only: another agent's identical operation needs its own.
        const other = await open('review-other');
        const others = assertRefused(await other.run('reviewOp'), 'review', t.codes.review);
        assert.notEqual(others.reviewId, first.reviewId);

        const second = await s.run('reviewOp');
        assert.equal(second.ok, true, show(second));
        assert.equal(await t.effects('reviewOp'), 1, 'the approved operation ran once');
        const third = assertRefused(await s.run('reviewOp'), 'review', t.codes.review);
        assert.ok(third.reviewId && third.reviewId !== first.reviewId, 'a third send needs a new review');
        assert.equal(await t.effects('reviewOp'), 1, 'the approval was used up');

        const entries = (await auditEntries(gw, admin, 'review-agent', 4)).filter((e) => e.data.rules?.length);
        assert.deepEqual(entries.map(effectOf), ['review', 'mask', 'review']);
        assert.equal(entries[1]!.data.review, first.reviewId);
        assert.ok(entries[1]!.data.reasons?.includes('review-approved'), show(entries[1]!));
        assert.equal(entries[2]!.data.review, third.reviewId);
      },
    );

    check('selfApproval', 'review: a requester who is also a reviewer cannot approve their own request', async () => {
      const token = await t.token('self-approver', ['agents', 'reviewers']);
      const s = await openWith(token);
      const before = await t.effects('reviewOp');
      const r = assertRefused(await s.run('reviewOp'), 'review', t.codes.review);
      assert.ok(r.reviewId);
      const cli = await tryApproveFromCli(gw, r.reviewId, token);
      assert.equal(cli.code, 1, `self-approval: exit ${cli.code} ${cli.stdout} ${cli.stderr}`);
      assertRefused(await s.run('reviewOp'), 'review', t.codes.review);
      assert.equal(await t.effects('reviewOp'), before, 'nothing ran on a self-approval');
    });

    check(
      'hold',
      'hold: the operation waits, an approval from another process releases it, and it completes on the same session',
      async () => {
        const s = await open('hold-agent');
        const started = Date.now();
        const held = s.run('holdOp', { timeoutMs: HOLD_MS + 10_000 });
        const id = await pendingReviewOf(gw, reviewer, 'hold-agent');
        assert.equal(await t.effects('holdOp'), 0, 'the held operation has not run yet');
        await approveFromCli(gw, id, reviewer);
        const out = await held;
        assert.equal(out.ok, true, show(out));
        assert.equal(out.sessionEnded, false);
        assert.ok(Date.now() - started < HOLD_MS, 'released by the approval, not by the hold running out');
        assert.equal(await t.effects('holdOp'), 1, 'it ran once');
        assertAllowed(await s.run('allowedRead'));

        const [entry] = await auditEntries(gw, admin, 'hold-agent', 1);
        assert.deepEqual(entry!.data.rules, [RULES.hold]);
        assert.equal(entry!.data.review, id);
        assert.ok(entry!.data.reasons?.includes('review-approved'), show(entry!));
        assert.notEqual(effectOf(entry!), 'review');
      },
    );

    check(
      'block',
      'block: a native error with the rule message; nothing reaches the target; the session keeps working',
      async () => {
        const s = await open('block-agent');
        const out = await s.run('blockedOp');
        const r = assertRefused(out, 'blocked', t.codes.blocked);
        assert.match(r.message, new RegExp(BLOCK_MESSAGE));
        assert.equal(out.sessionEnded, false);
        assertAllowed(await s.run('allowedRead'));
        assert.equal(await t.effects('blockedOp'), 0);
        const [entry] = await auditEntries(gw, admin, 'block-agent', 2);
        assert.equal(effectOf(entry!), 'block');
        assert.deepEqual(entry!.data.rules, [RULES.block]);
      },
    );

    check(
      'expiry',
      'token expiry mid-session: the next operation is refused natively and the session ends',
      async () => {
        const token = await t.token('expiry-agent', ['agents'], 2500);
        const s = await openWith(token);
        assertAllowed(await s.run('allowedRead'));
        await sleep(Math.max(0, expiryOf(token) - Date.now()) + 300);
        assertCut(await s.run('allowedRead'));
        const entries = await auditEntries(gw, admin, 'expiry-agent', 2);
        assert.equal(effectOf(entries[1]!), 'block');
        assert.ok(entries[1]!.data.reasons?.includes('identity-expired'), show(entries[1]!));
      },
    );

    check(
      'expiryPrepared',
      'token expiry between a prepare and its execution: the execution is refused, nothing returned',
      {
        skip: noPrepare,
      },
      async () => {
        const token = await t.token('expiry-prepared', ['agents'], 2500);
        const s = await openWith(token);
        assert.ok(s.prepare && s.execute, 'the session has prepare() and execute()');
        const p = await s.prepare('allowedRead');
        assert.equal(p.outcome.ok, true, show(p.outcome));
        await sleep(Math.max(0, expiryOf(token) - Date.now()) + 300);
        assertCut(await s.execute(p));
        await assertCutAudited('expiry-prepared', 'identity-expired', /expired/);
      },
    );

    check(
      'revocation',
      'revocation mid-session (warden revoke in another process): cut at the next operation; others unaffected',
      async () => {
        const victim = await open('revoked-agent');
        const bystander = await open('revoke-bystander');
        assertAllowed(await victim.run('allowedRead'));
        await revokeFromCli(gw, 'revoked-agent', admin);
        assertCut(await victim.run('allowedRead'));
        assertAllowed(await bystander.run('allowedRead'));
        const again = await t.connect(await t.token('revoked-agent', ['agents']));
        assert.ok(again.refused, 'a new session of the revoked subject is refused');
        assert.equal(again.refused.code, t.codes.identity);
        const entries = await auditEntries(gw, admin, 'revoked-agent', 2);
        assert.equal(effectOf(entries[1]!), 'block');
        assert.ok(entries[1]!.data.reasons?.includes('identity-revoked'), show(entries[1]!));
      },
    );

    check(
      'revocationPrepared',
      'revocation between a prepare and its execution: the execution is refused, nothing returned',
      {
        skip: noPrepare,
      },
      async () => {
        const s = await open('revoked-prepared');
        assert.ok(s.prepare && s.execute, 'the session has prepare() and execute()');
        const p = await s.prepare('allowedRead');
        assert.equal(p.outcome.ok, true, show(p.outcome));
        await revokeFromCli(gw, 'revoked-prepared', admin);
        assertCut(await s.execute(p));
        await assertCutAudited('revoked-prepared', 'identity-revoked', /revoked/);
      },
    );

    check(
      'auditFailure',
      'audit-write failure: nothing unaudited is returned or written; the gateway recovers',
      async () => {
        const s = await open('audit-fail');
        assertAllowed(await s.run('allowedRead'));
        const writes = await t.effects('allowedWrite');
        const restore = t.failAudit();
        try {
          const read = await s.run('allowedRead');
          assert.equal(read.ok, false, `a read was answered unaudited: ${show(read)}`);
          assert.deepEqual(read.rows ?? [], [], 'rows were returned unaudited');
          assert.ok(read.refused?.code, 'a native error says why');
          const w = read.sessionEnded ? await open('audit-fail') : s;
          const write = await w.run('allowedWrite');
          assert.equal(write.ok, false, `a write ran unaudited: ${show(write)}`);
          assert.ok(write.refused?.code, 'a native error says why');
        } finally {
          restore();
        }
        assert.equal(await t.effects('allowedWrite'), writes, 'the write never reached the target');
        assertAllowed(await (await open('audit-fail')).run('allowedRead'));
        await auditChainVerifies(gw, admin);
      },
    );

    check(
      'targetDown',
      'target down: a clear native error at login; sessions on a live target are unaffected',
      async () => {
        const bystander = await open('down-bystander');
        const down = await t.connect(await t.token('down-agent', ['agents']), { connection: t.downConnection });
        assert.ok(down.refused, 'a session to a dead target is refused');
        assert.equal(down.refused.code, t.codes.targetDown, show(down));
        assert.match(down.refused.message, new RegExp(t.downConnection));
        for (const secret of t.targetCredentials)
          assert.ok(!down.refused.message.includes(secret), 'the target credential stays in the gateway');
        assertAllowed(await bystander.run('allowedRead'));
        assert.match((await sessionEndReasons('down-agent')).join('; '), /target/i);
      },
    );

    check(
      'targetLost',
      'target lost mid-session: that session ends with a native error; other sessions are unaffected',
      async () => {
        const victim = await open('lost-agent');
        const bystander = await open('lost-bystander');
        assertAllowed(await victim.run('allowedRead'));
        await victim.loseTarget();
        const out = await victim.run('allowedRead');
        assert.equal(out.ok, false, show(out));
        assert.equal(out.sessionEnded, true);
        assert.ok(out.refused?.code, `a native error says why: ${show(out)}`);
        assertAllowed(await bystander.run('allowedRead'));
        assert.match((await sessionEndReasons('lost-agent'))[0]!, /target/i);
        assertAllowed(await (await open('lost-agent')).run('allowedRead'));
      },
    );

    check(
      'malformed',
      'malformed input: a native error and the session ends; a bystander session keeps working',
      async () => {
        const bystander = await open('malformed-bystander');
        const s = await open('malformed-agent');
        const out = await s.malformed();
        assertRefused(out, 'error', t.codes.malformed);
        assert.equal(out.sessionEnded, true);
        assertAllowed(await bystander.run('allowedRead'));
        const [reason] = await sessionEndReasons('malformed-agent');
        assert.ok(reason, 'the audited end of the session says why');
      },
    );

    check(
      'oversizedPreAuth',
      'oversized pre-auth message: refused natively from its announced size, without reading it all',
      async () => {
        const r = await t.oversizedPreAuth();
        assert.ok(r.refused, 'a native error');
        assert.equal(r.refused.code, t.codes.preAuthTooLarge, show(r));
        assert.equal(r.closed, true, 'the connection is closed');
        assert.ok(r.sentBytes < r.announcedBytes, `the gateway read all ${r.sentBytes} bytes`);
        assertAllowed(await (await open('preauth-after')).run('allowedRead'));
      },
    );

    check('handshakeTimeout', 'handshake timeout: an idle socket is cut after limits.handshakeTimeout', async () => {
      const r = await t.idleHandshake();
      const limit = LIMITS.handshakeTimeoutMs;
      assert.ok(r.closedAfterMs >= limit * 0.9, `cut after ${r.closedAfterMs} ms, before the deadline`);
      assert.ok(r.closedAfterMs < limit + 3000, `cut after ${r.closedAfterMs} ms`);
      if (r.refused) assert.equal(r.refused.code, t.codes.handshakeTimeout, show(r));
    });

    check(
      'sessionLimits',
      'session limits: the N+1th session of one identity is refused natively (audited); another identity connects',
      async () => {
        const token = await t.token('limit-agent', ['agents']);
        const mine: ClientSession[] = [];
        for (let i = 0; i < LIMITS.sessionsPerIdentity; i++) mine.push(await openWith(token));
        const over = await t.connect(token);
        assert.ok(over.refused, `session ${LIMITS.sessionsPerIdentity + 1} was let in`);
        assert.equal(over.refused.code, t.codes.tooManySessions, show(over));
        assertAllowed(await (await open('limit-other')).run('allowedRead'));
        const denied = await auditOf(gw, admin, 'limit-agent', { type: 'session.denied' });
        assert.equal(denied.length, 1, 'the refused session is audited');
        // A closed session gives its place back.
        await mine[0]!.close();
        const back = await eventuallyConnect(t, token);
        assertAllowed(await back.run('allowedRead'));
        opened.push(back);
      },
    );

    check(
      'driftShape',
      'state drift, shape: a statement redefined behind the gateway after its shape was learnt never leaks',
      async () => {
        const secrets = await t.secrets();
        const s = await open('drift-shape');
        const out = await s.run('driftShape');
        assert.ok(!out.ok || (out.rows ?? []).length > 0, `neither refused nor rows: ${show(out)}`);
        assertNoLeak((out.rows ?? []).flat(), secrets, `drifted execution (${show(out.refused ?? {})})`);
        if (!out.sessionEnded) assertAllowed(await s.run('allowedRead'));
      },
    );

    check(
      'driftTarget',
      'state drift at the target: what a described statement reads is redefined by another session at the target',
      async () => {
        const secrets = await t.secrets();
        const s = await open('drift-target');
        const out = await s.run('driftTarget');
        assert.ok(!out.ok || (out.rows ?? []).length > 0, `neither refused nor rows: ${show(out)}`);
        assertNoLeak((out.rows ?? []).flat(), secrets, `drifted execution (${show(out.refused ?? {})})`);
        if (!out.sessionEnded) assertAllowed(await s.run('allowedRead'));
      },
    );

    check(
      'driftStatement',
      'state drift, decision: a statement redefined to a blocked one is decided on what it now is',
      async () => {
        const s = await open('drift-statement');
        const before = await t.effects('blockedOp');
        await s.run('driftStatement');
        assert.equal(await t.effects('blockedOp'), before, 'the redefined statement ran');
        const entries = await auditOf(gw, admin, 'drift-statement');
        assert.ok(
          entries.some((e) => effectOf(e) === 'block' && e.data.rules?.includes(RULES.block)),
          'the redefinition was decided (and audited) as the blocked operation',
        );
      },
    );
  });
}

/** Connect, retrying while the gateway still counts a session that is closing. */
async function eventuallyConnect(t: ConformanceTarget, token: string): Promise<ClientSession> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const c = await t.connect(token);
    if (c.session) return c.session;
    if (Date.now() > deadline) throw new Error(`still refused: ${show(c)}`);
    await sleep(50);
  }
}

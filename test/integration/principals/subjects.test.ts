// Subjects are validated at token verification: a `sub` with leading/trailing whitespace, a
// control character (C0, DEL, C1) or a bidi control is refused, at the PostgreSQL door (FATAL
// 28000, through psql and node-postgres) and at the API (401), for either trusted issuer. Other
// subjects compare exactly: `DBA-1` is not `dba-1`, inner spaces and non-ASCII letters are fine.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { importJWK, SignJWT } from 'jose';
import { psql } from '../postgres/support.js';
import { api, connect, connectError, startTwoIssuers, type TwoIssuers } from './support.js';

const BAD_SUBS: Array<[string, RegExp]> = [
  ['dba-1 ', /sub has leading or trailing whitespace/],
  [' dba-1', /sub has leading or trailing whitespace/],
  ['dba-1\u00a0', /sub has leading or trailing whitespace/],
  ['dba\u0007', /sub contains a control character \(U\+0007\)/],
  ['dba\u001b[2K', /sub contains a control character \(U\+001B\)/],
  ['dba\u007f', /sub contains a control character \(U\+007F\)/],
  ['dba\u0085x', /sub contains a control character \(U\+0085\)/],
  ['dba\u202e1-abd', /sub contains a bidirectional control character \(U\+202E\)/],
  ['dba\u2066x\u2069', /sub contains a bidirectional control character \(U\+2066\)/],
];

describe('subjects are validated when the token is verified', () => {
  let t: TwoIssuers;
  /** A token of issuer B (the oidc-provider) signed with its own key, with any `sub`. */
  let tokenBWithSub: (sub: string, groups: string[]) => Promise<string>;

  before(async () => {
    t = await startTwoIssuers();
    const key = await importJWK(t.oidc.privateJwk, 'RS256');
    tokenBWithSub = (sub, groups) =>
      new SignJWT({ groups })
        .setProtectedHeader({ alg: 'RS256', kid: t.oidc.privateJwk.kid as string, typ: 'at+jwt' })
        .setIssuer(t.issuerB)
        .setAudience(t.oidc.audience)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key);
  });
  after(async () => {
    await t?.stop();
  });

  for (const [sub, why] of BAD_SUBS) {
    it(`sub ${JSON.stringify(sub)} is refused at login (28000) and at the API (401), for both issuers`, async () => {
      for (const token of [await t.tokenA(sub, ['dba']), await tokenBWithSub(sub, ['dba'])]) {
        const err = await connectError(t.gw, token);
        assert.equal(err.code, '28000', err.message);
        assert.equal(err.severity, 'FATAL');
        assert.match(err.message, why);
        const res = await api(t.gw, token, 'GET', '/reviews');
        assert.equal(res.status, 401, res.text);
        assert.equal(res.json.code, 'WARDEN_TOKEN_INVALID');
        assert.match(res.text, why);
      }
    });
  }

  it('psql shows the refusal as FATAL with the reason; the token and the raw sub are not echoed', async () => {
    for (const sub of ['dba-1 ', 'dba\u0007']) {
      const token = await t.tokenA(sub, ['dba']);
      const r = await psql(t.gw, token, { command: 'SELECT 1' });
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /FATAL: +token is malformed: sub (has leading or trailing whitespace|contains a control character)/,
      );
      assert.ok(!r.stderr.includes(token), 'the token is not echoed');
      assert.ok(!r.stderr.includes('\u0007'), 'no raw control character reaches the terminal');
      assert.equal(r.stdout, '');
    }
  });

  it('well-formed subjects work and compare exactly (DBA-1 is not dba-1)', async () => {
    for (const sub of ['dba one', 'dbä-1', 'system:serviceaccount:ops:dba', '😀']) {
      const c = await connect(t.gw, await tokenBWithSub(sub, ['agents']));
      try {
        assert.equal((await c.query('SELECT 1 AS n')).rows[0].n, 1, sub);
      } finally {
        await c.end();
      }
    }
    const lower = await t.tokenA('case-agent', ['agents']);
    const upper = await t.tokenA('CASE-AGENT', ['agents']);
    const c = await connect(t.gw, lower);
    await c.end();
    const mine = await api(t.gw, lower, 'GET', '/sessions');
    assert.equal(mine.json.sessions.length, 1);
    assert.equal((await api(t.gw, upper, 'GET', `/sessions/${mine.json.sessions[0].id}`)).status, 404);
    assert.deepEqual((await api(t.gw, upper, 'GET', '/sessions')).json.sessions, []);
  });
});

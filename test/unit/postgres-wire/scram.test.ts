// The SCRAM client against a server side computed here from RFC 5802's definitions: a server that
// knows the password is accepted, one that does not (wrong ServerSignature) or misbehaves is refused.
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, it } from 'node:test';
import { isUpstreamError } from '../../../src/protocols/postgres/upstream/errors.js';
import { md5PasswordResponse } from '../../../src/protocols/postgres/upstream/md5.js';
import { ScramClient, saslPrep } from '../../../src/protocols/postgres/upstream/scram.js';

const hmac = (k: Buffer, d: string) => createHmac('sha256', k).update(d).digest();

function server(password: string, clientFirst: string) {
  const bare = clientFirst.slice(3);
  const clientNonce = bare.split(',r=')[1]!;
  const salt = Buffer.from('0123456789abcdef');
  const serverFirst = `r=${clientNonce}SERVERNONCE,s=${salt.toString('base64')},i=4096`;
  const salted = pbkdf2Sync(password, salt, 4096, 32, 'sha256');
  return {
    serverFirst,
    check(clientFinal: string) {
      const withoutProof = clientFinal.slice(0, clientFinal.indexOf(',p='));
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const sig = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientFinal.slice(clientFinal.indexOf(',p=') + 3), 'base64');
      const recovered = Buffer.from(proof.map((b, i) => b ^ sig[i]!));
      const ok = createHash('sha256').update(recovered).digest().equals(storedKey);
      return { ok, serverFinal: `v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}` };
    },
  };
}

describe('ScramClient', () => {
  it('proves the password and accepts the matching server signature', async () => {
    const client = new ScramClient();
    const first = client.initialResponse().toString();
    assert.match(first, /^n,,n=,r=[A-Za-z0-9+/]{24}$/);
    const srv = server('pencil', first);
    const final = (await client.respond(Buffer.from(srv.serverFirst), 'pencil')).toString();
    assert.match(final, /^c=biws,r=.+SERVERNONCE,p=/);
    const { ok, serverFinal } = srv.check(final);
    assert.equal(ok, true);
    client.verifyFinal(Buffer.from(serverFinal));
  });

  it('a wrong password gives a proof the server rejects', async () => {
    const client = new ScramClient();
    const srv = server('pencil', client.initialResponse().toString());
    const final = (await client.respond(Buffer.from(srv.serverFirst), 'pen')).toString();
    assert.equal(srv.check(final).ok, false);
  });

  it('refuses a forged server signature, a server error and a nonce that is not ours', async () => {
    const client = new ScramClient();
    const srv = server('pencil', client.initialResponse().toString());
    await client.respond(Buffer.from(srv.serverFirst), 'pencil');
    const isAuthFailed = (e: unknown) => isUpstreamError(e, 'auth-failed');
    assert.throws(() => client.verifyFinal(Buffer.from(`v=${Buffer.alloc(32, 7).toString('base64')}`)), isAuthFailed);
    assert.throws(() => client.verifyFinal(Buffer.from('e=invalid-proof')), isAuthFailed);
    const other = new ScramClient();
    await assert.rejects(other.respond(Buffer.from('r=someoneelse,s=c2FsdA==,i=4096'), 'x'), isAuthFailed);
    await assert.rejects(other.respond(Buffer.from('r=x'), 'x'), isAuthFailed);
  });

  it('SASLprep maps spaces and drops soft hyphens; control characters leave the password raw', () => {
    assert.equal(saslPrep('pa\u00a0ss\u00adword'), 'pa ssword');
    assert.equal(saslPrep('\u2168'), 'IX');
    assert.equal(saslPrep('a\u0007b'), 'a\u0007b');
  });
});

describe('md5 password response', () => {
  it('matches PostgreSQL: md5(md5(password + user) + salt)', () => {
    const salt = Buffer.from([1, 2, 3, 4]);
    const inner = createHash('md5').update('secretalice').digest('hex');
    const want =
      'md5' +
      createHash('md5')
        .update(Buffer.concat([Buffer.from(inner), salt]))
        .digest('hex');
    assert.equal(md5PasswordResponse('alice', 'secret', salt), want);
  });
});

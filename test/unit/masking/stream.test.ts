import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileMasker, StreamMasker } from '../../../src/masking/index.js';

const masker = compileMasker({ columns: [], detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'] });

const body = 'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n'.repeat(20);
const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${body}-----END RSA PRIVATE KEY-----`;

function streamed(chunks: readonly string[], maxHold?: number): string {
  const s = new StreamMasker(masker, { maxHold });
  let out = '';
  for (const c of chunks) out += s.push(c);
  return out + s.flush();
}

function assertEverySplit(text: string): void {
  const whole = masker.maskText(text);
  for (let i = 0; i <= text.length; i++) {
    const out = streamed([text.slice(0, i), text.slice(i)]);
    assert.equal(out, whole, `split at ${i}`);
  }
}

describe('StreamMasker', () => {
  it('catches an email split at every point', () => {
    const text = 'ls\r\nowner: john.doe@example.com  (admin)\r\n$ ';
    assert.equal(masker.maskText(text), 'ls\r\nowner: j***@example.com  (admin)\r\n$ ');
    assertEverySplit(text);
  });

  it('a secret value ending in digits is masked whole (fuzz finding: the digits were held as a number and passed in clear)', () => {
    for (const text of ['password=hunter2 ', 'export PASSWORD=S3cretPass2024\n$ ', 'token: abc_2024 next ']) {
      const whole = masker.maskText(text);
      assert.doesNotMatch(whole, /hunter|2024/, whole);
      assert.equal(streamed([text]), whole, text);
      assertEverySplit(text);
    }
    // After punctuation a number phrase is a value of its own (a phone, then an SSN).
    assertEverySplit('+1 (555) 123-4567: 123-45-6789 ');
  });

  it('catches a PEM private key split at every point, and one char at a time', () => {
    const text = `$ cat id_rsa\n${PEM}\n$ echo done\ndone\n`;
    assert.equal(masker.maskText(text), '$ cat id_rsa\n[REDACTED:private_key]\n$ echo done\ndone\n');
    assertEverySplit(text);
    assert.equal(streamed([...text]), masker.maskText(text));
  });

  it('never emits any part of a long key body, however it is chunked', () => {
    const text = `${PEM}\nok\n`;
    const s = new StreamMasker(masker, { maxHold: 64 });
    let out = '';
    for (let i = 0; i < text.length; i += 50) out += s.push(text.slice(i, i + 50));
    out += s.flush();
    assert.equal(out, '[REDACTED:private_key]\nok\n');
    assert.ok(!out.includes('MIIE'));
  });

  it('drops a key whose END never comes', () => {
    const s = new StreamMasker(masker);
    assert.equal(s.push('-----BEGIN PRIVATE KEY-----\nMIIEv'), '[REDACTED:private_key]');
    assert.equal(s.push('QIBADANBgkqhkiG9w0BAQEFAASC\n'.repeat(10)), '');
    assert.equal(s.flush(), '');
  });

  it('keeps split card numbers, IBANs, tokens and secret assignments whole', () => {
    const cases = [
      ['card 4111 1111 ', '1111 1111 paid\n'],
      ['IBAN DE89 3704 0044 ', '0532 0130 00\n'],
      ['Authorization: Bearer ', 'abc123def456ghi\n'],
      ['password: ', 'hunter2\n'],
      ['jwt eyJhbGciOiJSUzI1NiJ9.eyJzdW', 'IiOiJhIn0.sig\n'],
    ] as const;
    for (const [a, b] of cases) assert.equal(streamed([a, b]), masker.maskText(a + b), a + b);
  });

  it('emits complete lines at once and holds only the trailing partial word', () => {
    const s = new StreamMasker(masker);
    assert.equal(s.push('total 12\nreading rows'), 'total 12\nreading ');
    assert.equal(s.pending, 4);
    assert.equal(s.push(' done\n'), 'rows done\n');
    assert.equal(s.pending, 0);
  });

  it('flush emits the held tail, masked', () => {
    const s = new StreamMasker(masker);
    assert.equal(s.push('$ whoami\nann@example.c'), '$ whoami\n');
    assert.equal(s.push('om'), '');
    assert.equal(s.flush(), 'a***@example.com');
    assert.equal(s.flush(), '');
  });

  it('holds at most maxHold characters', () => {
    const s = new StreamMasker(masker, { maxHold: 100 });
    const out = s.push('x'.repeat(250));
    assert.equal(out.length, 150);
    assert.equal(s.pending, 100);
    assert.equal(s.flush().length, 100);
  });

  it('does not split a surrogate pair when forced to cut', () => {
    const s = new StreamMasker(masker, { maxHold: 64 });
    const out = s.push(`a${'🎉'.repeat(40)}`);
    assert.ok(out.length > 0);
    assert.equal(out + s.flush(), `a${'🎉'.repeat(40)}`);
    assert.doesNotMatch(out, /[\ud800-\udbff]$/);
  });

  it('passes chunks through untouched when no detector is configured', () => {
    const columnsOnly = new StreamMasker(compileMasker({ columns: ['email'], detect: [] }));
    assert.equal(columnsOnly.push('ann@example.c'), 'ann@example.c');
    assert.equal(columnsOnly.flush(), '');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DetectorName } from '../../../src/core/types.js';
import { compileMasker } from '../../../src/masking/index.js';

const only = (d: DetectorName) => compileMasker({ columns: [], detect: [d] });

function masks(d: DetectorName, text: string, expected: string): void {
  assert.equal(only(d).maskText(text), expected, `${d}: ${JSON.stringify(text)}`);
}
function keeps(d: DetectorName, text: string): void {
  const m = only(d);
  assert.equal(m.maskText(text), text, `${d} must not mask ${JSON.stringify(text)}`);
}

describe('email', () => {
  it('masks addresses keeping the first character and the domain', () => {
    masks('email', 'mail john.doe@example.com today', 'mail j***@example.com today');
    masks('email', 'a.b+tag@mail.example.co.uk', 'a***@mail.example.co.uk');
    masks('email', 'x@y.io', '***@y.io');
    masks('email', '<ann@example.org>, bob@example.net.', '<a***@example.org>, b***@example.net.');
  });
  it('finds an address whatever follows its TLD', () => {
    masks('email', 'ada@example.com-', 'a***@example.com-'); // email || '-'
    masks('email', 'ada@example.com1', 'a***@example.com1');
  });
  it('leaves non-addresses', () => {
    keeps('email', 'user@localhost');
    keeps('email', '@handle and a@ b');
    keeps('email', 'foo@bar');
    keeps('email', 'price @ 5.00');
  });
  it('does not eat a terminal colour code glued to the address', () => {
    masks('email', '\x1b[31mjohn@example.com\x1b[0m', '\x1b[31mj***@example.com\x1b[0m');
  });
});

describe('credit_card', () => {
  it('masks Luhn-valid numbers, keeping length, separators and the last four', () => {
    masks('credit_card', 'card 4111111111111111', 'card ************1111');
    masks('credit_card', '4111 1111 1111 1111', '**** **** **** 1111');
    masks('credit_card', '5500-0000-0000-0004 exp', '****-****-****-0004 exp');
    masks('credit_card', 'amex 3782 822463 10005', 'amex **** ****** *0005');
    masks('credit_card', '4111 1111 1111 1111 22', '**** **** **** 1111 22');
  });
  it('leaves Luhn-invalid, too short, too long, mixed separators and decimals', () => {
    keeps('credit_card', '4111111111111112');
    keeps('credit_card', '411111111111');
    keeps('credit_card', '41111111111111121111113'); // no card at either end of the run
    keeps('credit_card', '4111 1111-1111 1111');
    keeps('credit_card', '0.4111111111111111');
    keeps('credit_card', '1111111111111117'); // Luhn-valid but no card network starts with 1
    keeps('credit_card', '0.04111111111111111'); // a fraction's digits
    keeps('credit_card', '04111111111111111.25'); // an amount's integer part
  });
  it('finds a card glued to other digits, at the start or end of the run', () => {
    masks('credit_card', '04111111111111111', '0************1111'); // '0' || card
    masks('credit_card', 'x123455555555555554444y', 'x12345************4444y');
    masks('credit_card', '3782822463100059', '***********00059'); // card || '9' (Amex, 15)
    masks('credit_card', '41111111111111115555555555554444', '************1111************4444');
    masks('credit_card', '4111111111111111,04111111111111111', '************1111,0************1111');
  });
  it('finds a card printed in groups with a digit glued to its first or last group', () => {
    masks('credit_card', '04111 1111 1111 1111', '0**** **** **** 1111'); // '0' || card
    masks('credit_card', '4111-1111-1111-11117', '****-****-****-11117');
    masks('credit_card', '93782 822463 10005', '9**** ****** *0005');
    keeps('credit_card', '04111 1111 1111 1112'); // not Luhn
    keeps('credit_card', '04111 1111-1111 1111'); // two kinds of separator
  });
  it('does not look for cards of other issuers or lengths inside a longer run', () => {
    keeps('credit_card', '01111111111111117'); // Luhn-valid 16 digits, no issuer starts with 1
    keeps('credit_card', '04222222222222'); // Visa-13 is found alone, not glued
  });
});

describe('us_ssn', () => {
  it('masks dashed SSNs and labeled bare ones', () => {
    masks('us_ssn', 'ssn 123-45-6789.', 'ssn ***-**-6789.');
    masks('us_ssn', 'SSN: 123456789', 'SSN: *****6789');
    masks('us_ssn', 'social security number 078051120', 'social security number *****1120');
  });
  it('leaves invalid ranges, unlabeled nine digits and longer dashed runs', () => {
    for (const bad of ['000-12-3456', '666-12-3456', '900-12-3456', '987-65-4321', '123-00-4567', '123-45-0000']) {
      keeps('us_ssn', `ssn ${bad}`);
    }
    keeps('us_ssn', 'order 123456789');
    keeps('us_ssn', 'SSN: 000123456');
  });
  it('finds a dashed SSN whatever its neighbours, digits and dashes included', () => {
    masks('us_ssn', '1123-45-6789', '1***-**-6789'); // '1' || ssn
    masks('us_ssn', '123-45-67890', '***-**-67890');
    masks('us_ssn', '-123-45-6789-0', '-***-**-6789-0');
    masks('us_ssn', 'a123-45-6789b', 'a***-**-6789b');
    keeps('us_ssn', '1900-12-3456'); // still SSA ranges: 900 is not an area
    keeps('us_ssn', '2024-01-15 12345-6789 415-555-2671');
  });
});

describe('phone', () => {
  it('finds a phone written with + or ( whatever its neighbours', () => {
    masks('phone', '1+1 415 555 0132', '1+* *** *** 0132'); // '1' || phone
    masks('phone', 'x+1-415-555-0132', 'x+*-***-***-0132');
    masks('phone', '+1 415 555 0132-', '+* *** *** 0132-'); // phone || '-'
    masks('phone', '7(415) 555-2671_', '7(***) ***-2671_');
  });
  it('masks international, North American and European numbers', () => {
    masks('phone', 'call +14155552671', 'call +*******2671');
    masks('phone', '+1 (415) 555-2671', '+* (***) ***-2671');
    masks('phone', 'tel: 415-555-2671', 'tel: ***-***-2671');
    masks('phone', '(415) 555-2671', '(***) ***-2671');
    masks('phone', '1-800-555-0199', '*-***-***-0199');
    masks('phone', '+44 20 7946 0018', '+** ** **** 0018');
    masks('phone', '0049 30 12345678', '**** ** ****5678');
    masks('phone', '030 1234 5678', '*** **** 5678');
    masks('phone', '06 12 34 56 78', '** ** ** 56 78');
  });
  it('leaves years, dates, times, IPs, short and bare numbers', () => {
    for (const text of [
      'in 2024',
      '2024-01-15',
      '15/01/2024',
      '01.02.2024',
      '2024-01-15 10:23:45.123+00',
      '2024-01-15T10:23:45Z',
      '192.168.100.200',
      '10.0.0.1:5432',
      '555-2671',
      '+1234567',
      '4155552671',
      'v1.415.555.2671',
      'total 12345.67',
      '+05:30',
    ]) {
      keeps('phone', text);
    }
  });
});

describe('iban', () => {
  it('masks checksum-valid IBANs, compact or grouped, keeping country and last four', () => {
    masks('iban', 'DE89370400440532013000', 'DE****************3000');
    masks('iban', 'IBAN DE89 3704 0044 0532 0130 00 EUR', 'IBAN DE** **** **** **** **30 00 EUR');
    masks('iban', 'GB82WEST12345698765432', 'GB****************5432');
    masks('iban', 'NO9386011117947', 'NO*********7947');
  });
  it('leaves bad checksums, wrong lengths and unknown countries', () => {
    keeps('iban', 'DE89370400440532013001');
    keeps('iban', 'DE8937040044053201300');
    keeps('iban', 'DE893704004405320130001');
    keeps('iban', 'ZZ89370400440532013000');
    keeps('iban', 'xDE89370400440532013000');
  });
});

describe('secret', () => {
  const pem =
    '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----';
  it('replaces whole credentials with a typed marker', () => {
    masks('secret', `key:\n${pem}\nafter`, 'key:\n[REDACTED:private_key]\nafter');
    masks('secret', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk (cut short', '[REDACTED:private_key]');
    masks('secret', 'jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl end', 'jwt [REDACTED:jwt] end');
    masks('secret', 'id=AKIAIOSFODNN7EXAMPLE', 'id=[REDACTED:aws_access_key_id]');
    masks('secret', `ghp_${'x1'.repeat(18)}`, '[REDACTED:github_token]');
    masks('secret', `github_pat_${'A1_'.repeat(10)}`, '[REDACTED:github_token]');
    masks('secret', 'xoxb-123456789012-abcdefghij', '[REDACTED:slack_token]');
    masks('secret', 'Authorization: Bearer abc123.def456', 'Authorization: Bearer [REDACTED:bearer]');
    masks('secret', 'Authorization: Basic dXNlcjpwYXNz', 'Authorization: Basic [REDACTED:basic]');
    masks(
      'secret',
      'postgres://app:s3cret@db.example.com/shop',
      'postgres://app:[REDACTED:password]@db.example.com/shop',
    );
  });
  it('replaces values of secret assignments, keeping quotes valid', () => {
    masks('secret', 'password=hunter2 user=bob', 'password=[REDACTED:password] user=bob');
    masks('secret', "DB_PASSWORD: 'p a s s'", "DB_PASSWORD: '[REDACTED:password]'");
    masks('secret', 'api_key: "sk-123"', 'api_key: "[REDACTED:secret]"');
    masks(
      'secret',
      '{"client_secret":"abc","x-api-key":"k"}',
      '{"client_secret":"[REDACTED:secret]","x-api-key":"[REDACTED:secret]"}',
    );
    masks('secret', '{"token": 12345}', '{"token": "[REDACTED:secret]"}');
    masks('secret', "WHERE password = 'hunter2'", "WHERE password = '[REDACTED:password]'");
  });
  it('leaves look-alikes', () => {
    keeps('secret', 'the bearer of this letter');
    keeps('secret', 'prompt_tokens: 12, max_tokens: 100');
    keeps('secret', 'password: null');
    keeps('secret', 'password=[REDACTED:password]');
    keeps('secret', 'AKIA1234');
    keeps('secret', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
    keeps('secret', 'eyJhbGciOiJSUzI1NiJ9 only a header');
    keeps('secret', 'ghp_short');
  });
});

describe('detectors together', () => {
  const all = compileMasker({ columns: [], detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'] });
  it('masks every kind in one text, each once', () => {
    assert.equal(
      all.maskText('ann@example.com paid with 4111-1111-1111-1111, ssn 123-45-6789, call 415.555.2671'),
      'a***@example.com paid with ****-****-****-1111, ssn ***-**-6789, call ***.***.2671',
    );
  });
  it('lets a secret win over an email-looking span', () => {
    assert.equal(all.maskText('redis://u:pw@cache.example.com'), 'redis://u:[REDACTED:password]@cache.example.com');
  });
  it('only runs the detectors of the plan', () => {
    const text = 'ann@example.com 4111111111111111';
    assert.equal(only('credit_card').maskText(text), 'ann@example.com ************1111');
    assert.equal(only('email').maskText(text), 'a***@example.com 4111111111111111');
  });
});

describe('adversarial input stays linear', () => {
  const all = compileMasker({ columns: [], detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'] });
  it('masks large hostile texts quickly', () => {
    const n = 50_000;
    const texts = [
      `ssn${' '.repeat(n)}123-45-6789`,
      `${'a.'.repeat(n)}://x 123-45-6789 @`,
      `${'@a.'.repeat(n)}`,
      `eyJ${'a'.repeat(n)} password=${'x'.repeat(n)}`,
      `${'4'.repeat(n)} ${'1 '.repeat(n)}`,
      `+${'1 '.repeat(n)}`,
      `DE89${' 1'.repeat(n)}`,
      `-----BEGIN ${'A '.repeat(n)}`,
      'a@'.repeat(n),
      '1-'.repeat(n),
      '(415) '.repeat(n),
      `${'a'.repeat(n)}@${'b'.repeat(n)}`,
    ];
    for (const text of texts) {
      const started = performance.now();
      all.maskText(text);
      const ms = performance.now() - started;
      assert.ok(ms < 3000, `${ms.toFixed(0)} ms for ${JSON.stringify(text.slice(0, 20))}…`);
    }
  });
});

describe('detectors: the bypasses of issue 15 (values glued to delimiters)', () => {
  const all = compileMasker({ columns: [], detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'] });
  const hides = (text: string, secret: string) =>
    assert.ok(!all.maskText(text).includes(secret), `${JSON.stringify(text)} → ${all.maskText(text)}`);
  it('card numbers followed by a comma, semicolon, bracket or quote (string_agg, card || "," || card)', () => {
    hides('4111 1111 1111 1111,4111 1111 1111 1111', '1111 1111 1111');
    hides('4111111111111111,5555555555554444,378282246310005', '4111111111111111');
    hides('4111111111111111,5555555555554444,378282246310005', '5555555555554444');
    hides('["4111111111111111","5555555555554444"]', '4111111111111111');
    hides('4111111111111111;5555555555554444', '4111111111111111');
    hides('{"c":5555555555554444}', '5555555555554444');
    hides('card\t4111-1111-1111-1111\tok', '4111-1111-1111-1111');
    hides('3782 822463 10005 4111 1111 1111 1111', '4111 1111 1111');
  });
  it('an email with a trailing hyphen and phones after a letter', () => {
    hides('ada@example.com-', 'ada@example.com');
    hides('x+1 415 555 0132', '415 555');
    hides('x(202) 555-0173', '202) 555');
    hides('a.b+tag@example.org,c+d@example.net', 'c+d@example.net');
  });
  it('still leaves decimals and numbers that only look close', () => {
    keeps('credit_card', '4111111111111111.25');
    keeps('credit_card', '0.4111111111111111');
    keeps('credit_card', '4111111111111111,5');
    keeps('phone', 'v1.415.555.2671');
  });
});

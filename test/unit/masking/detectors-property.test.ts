// Property tests for the content detectors, fixed seed: a generated secret embedded at a random
// offset in generated surrounding text (words, delimiters, JSON, arrays, CSV, tabs) and in joined
// lists is always found; a benign corpus (order numbers, timestamps, UUIDs, prices, versions,
// addresses) is left alone, and its false-positive rate is printed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DetectorName } from '../../../src/core/types.js';
import { compileMasker } from '../../../src/masking/index.js';

const SEED = 0x5eed_0015;
const ROUNDS = 400;

/** mulberry32: small, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Each benign corpus restarts the stream, so its texts do not depend on the tests before it.
let random = rng(SEED);
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
const digits = (n: number) => Array.from({ length: n }, () => String(int(0, 9))).join('');
const letters = (n: number, set = 'abcdefghijklmnopqrstuvwxyz') =>
  Array.from({ length: n }, () => set[int(0, set.length - 1)]).join('');

function luhnComplete(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

const GENERATORS: Record<Exclude<DetectorName, 'secret'>, () => string> = {
  email: () => {
    const local = letters(int(1, 8)) + pick(['', '.', '_', '+', '-']) + letters(int(1, 6)) + pick(['', '+tag', '+x1']);
    return `${local}@${letters(int(2, 9))}.${pick(['com', 'org', 'net', 'io', 'co.uk', 'example'])}`;
  },
  credit_card: () => {
    const [prefix, length] = pick([
      ['4', 16],
      ['51', 16],
      ['55', 16],
      ['34', 15],
      ['37', 15],
      ['6011', 16],
      ['2221', 16],
    ] as const);
    const card = luhnComplete(prefix + digits(length - prefix.length - 1));
    const sep = pick(['', '', ' ', '-']);
    if (sep === '') return card;
    // Printed as issuers print them: American Express 4-6-5, the others in fours.
    if (card.length === 15) return [card.slice(0, 4), card.slice(4, 10), card.slice(10)].join(sep);
    return (card.match(/.{1,4}/g) ?? []).join(sep);
  },
  us_ssn: () => {
    let area = int(1, 899);
    if (area === 666) area = 667;
    return `${String(area).padStart(3, '0')}-${String(int(1, 99)).padStart(2, '0')}-${String(int(1, 9999)).padStart(4, '0')}`;
  },
  phone: () =>
    pick([
      () => `+1 ${int(201, 989)} ${int(200, 999)} ${digits(4)}`,
      () => `(${int(201, 989)}) ${int(200, 999)}-${digits(4)}`,
      () => `+44 20 ${digits(4)} ${digits(4)}`,
      () => `${int(201, 989)}-${int(200, 999)}-${digits(4)}`,
      () => `+31 20 ${digits(3)} ${digits(4)}`,
    ])(),
  iban: () => {
    // DE + check digits + 18 digits, check digits computed (mod 97).
    const bban = digits(18);
    const numeric = `${bban}131400`; // D=13, E=14, then 00
    let rem = 0;
    for (const ch of numeric) rem = (rem * 10 + Number(ch)) % 97;
    return `DE${String(98 - rem).padStart(2, '0')}${bban}`;
  },
};

// Neighbours a value is embedded between (left, right).
const WRAPS: readonly (readonly [string, string])[] = [
  ['', ''],
  [' ', ' '],
  [',', ','],
  [';', ';'],
  ['[', ']'],
  ['(', ')'],
  ['{', '}'],
  ['"', '"'],
  ["'", "'"],
  ['\t', '\t'],
  ['<', '>'],
  ['|', '|'],
  ['=', '&'],
  [':', '\n'],
  ['{"v":"', '"}'],
  ['["', '","x"]'],
  ['{', ',}'],
  ['x,', ',y'],
];
const JOINERS = [',', ', ', ';', '\t', '|', ' ', '\n', '","', "','", '];[', '},{'];

function surrounding(): string {
  return pick([
    () => '',
    () => letters(int(1, 12), 'abcdefghij klmnop'),
    () => `id ${int(1, 999)} `,
    () => `note: `,
    () => '{"k": 1, ',
  ])();
}

function embedded(secret: string, name: DetectorName): string {
  const [l, r] = pick(WRAPS);
  let left = surrounding() + l;
  let right = r + surrounding();
  // Documented limits: an IBAN glued to letters is part of a word (base64, identifiers), and so
  // is a bare-digit phone after a letter (`v1.415.555.2671`); column lineage covers `'x' || …`.
  if (name === 'iban' || (name === 'phone' && /^\d/.test(secret))) {
    if (/[A-Za-z0-9_]$/.test(left)) left += ' ';
    if (name === 'iban' && /^[A-Za-z0-9_]/.test(right)) right = ` ${right}`;
  }
  return left + secret + right;
}

const FOUND: Record<string, (secret: string, masked: string) => boolean> = {
  // A masked card keeps its last four digits: the full number must be gone.
  default: (secret, masked) => !masked.includes(secret),
};

describe('detectors find a value whatever its neighbours (property, fixed seed)', () => {
  for (const [name, generate] of Object.entries(GENERATORS) as [DetectorName, () => string][]) {
    const masker = compileMasker({ columns: [], detect: [name] });
    it(`${name}: embedded at random offsets and in joined lists`, () => {
      const misses: string[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const secret = generate();
        const single = embedded(secret, name);
        if (!FOUND.default!(secret, masker.maskText(single))) misses.push(single);
        const list = Array.from({ length: int(2, 5) }, () => generate());
        // Phones joined by single spaces are one ambiguous run (`+44 20 7946 0958` has spaces
        // itself); column lineage masks `string_agg(phone, ' ')` whole.
        const joiners = name === 'phone' ? JOINERS.filter((j) => j.trim() !== '') : JOINERS;
        const joined = list.join(pick(joiners));
        const masked = masker.maskText(joined);
        for (const s of list) if (!FOUND.default!(s, masked)) misses.push(joined);
      }
      assert.deepEqual(misses.slice(0, 8), [], `${misses.length} misses`);
    });
  }
});

// One character glued on (`'1' || ssn`, `'0' || card_number`, `email || '-'`, `'x' || phone`):
// the value is still found. Documented limits, left to column lineage: a bare-digit phone
// (`415-555-2671`) glued to a digit or letter; an unseparated card with digits on both sides; an
// IBAN glued to letters (part of a word).
const GLUES = ['0', '1', '7', '9', 'x', 'Q', 'é', '-', '_', '.', '+', '@', '#'];

function glued(secret: string, name: DetectorName): string | null {
  const bareDigits = /^\d+$/.test(secret);
  const left = pick(GLUES);
  let right = pick(GLUES);
  if (name === 'credit_card' && bareDigits && /\d/.test(left) && /\d/.test(right)) right = pick(['x', '-', '#']);
  if (name === 'phone' && /^\d/.test(secret)) return null;
  const side = int(0, 2);
  return (side !== 1 ? left : '') + secret + (side !== 0 ? right : '');
}

describe('detectors find a value with one glued character (property, fixed seed)', () => {
  for (const name of ['us_ssn', 'credit_card', 'email', 'phone'] as const) {
    const masker = compileMasker({ columns: [], detect: [name] });
    it(`${name}: a digit, letter or punctuation before, after or around it`, () => {
      const misses: string[] = [];
      let tried = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const secret = GENERATORS[name]();
        const text = glued(secret, name);
        if (text === null) continue;
        tried++;
        if (!FOUND.default!(secret, masker.maskText(text))) misses.push(text);
        // The byte path (DataRow cells, SSH and HTTP output) decides on the same scan flags.
        const bytes = masker.maskTextMaybe(Buffer.from(text, 'utf8'));
        if (bytes === null || bytes.toString('utf8') !== masker.maskText(text)) misses.push(`bytes: ${text}`);
      }
      assert.ok(tried > ROUNDS / 2, `only ${tried} cases`);
      assert.deepEqual(misses.slice(0, 8), [], `${misses.length} misses of ${tried}`);
    });
  }
});

// Things that look numeric or structured but are none of the detected kinds.
function benign(): string {
  return pick([
    () => `ORD-${int(2000, 2030)}-${digits(6)}`,
    () => `order #${digits(int(5, 12))}`,
    () => new Date(int(0, 2 ** 31) * 1000).toISOString(),
    () => String(int(1_000_000_000, 1_999_999_999) * 1000 + int(0, 999)), // epoch milliseconds
    () => [8, 4, 4, 4, 12].map((n) => letters(n, '0123456789abcdef')).join('-'), // UUID
    () => `$${int(1, 99999)}.${digits(2)}`,
    () => `${int(1, 9999999)}.${digits(2)} EUR`,
    () => `${int(0, 255)}.${int(0, 255)}.${int(0, 255)}.${int(0, 255)}`,
    () => `v${int(0, 20)}.${int(0, 40)}.${int(0, 99)}`,
    () => `${int(1, 28)}/${int(1, 12)}/${int(1990, 2030)} ${int(0, 23)}:${digits(2)}`,
    () => `sku-${letters(3).toUpperCase()}-${digits(5)}`,
    () => `${digits(2)}:${digits(2)}:${digits(2)}.${digits(6)}`,
    () => `0.${digits(16)}`,
    () => `${int(10000, 99999)}-${digits(4)}`, // ZIP+4
    () => `page ${int(1, 500)} of ${int(500, 900)}`,
  ])();
}

// Long digit runs: ids of 17–20 digits (snowflakes, bank references), epoch µs/ns timestamps,
// order numbers written back to back. A card glued to a digit (`'0' || card`) is such a run too,
// so the card detector looks at the 13–19-digit windows at a run's start and end; each window
// passes Luhn one time in ten, so some of these ids are taken for cards (the rate is printed).
function longDigitRun(): string {
  return pick([
    () => String(int(1, 9)) + digits(int(16, 19)), // 17–20-digit id
    () => `1${digits(int(17, 18))}`, // snowflake-style id (18–19 digits, leading 1)
    () => String(int(1_500_000_000, 1_900_000_000)) + digits(6), // epoch microseconds
    () => String(int(1_500_000_000, 1_900_000_000)) + digits(9), // epoch nanoseconds
    () => `${int(100_000_000, 999_999_999)}${int(100_000_000, 999_999_999)}`, // two order numbers
    () => `ref ${int(10_000_000, 99_999_999)}${int(10_000_000, 99_999_999)}${int(10, 99)}`,
  ])();
}

/** Rate at which `make()` texts are changed by every detector; printed with examples. */
function falsePositiveRate(label: string, make: () => string, samples: number): number {
  const all = compileMasker({ columns: [], detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'] });
  const hits: string[] = [];
  random = rng(SEED);
  for (let i = 0; i < samples; i++) {
    const text = make();
    if (all.maskText(text) !== text) hits.push(text);
  }
  const rate = hits.length / samples;
  console.log(
    `# detector false-positive rate on ${label}: ${(rate * 100).toFixed(2)}% (${hits.length}/${samples}, seed ${SEED})`,
  );
  if (hits.length > 0) console.log(`#   e.g. ${JSON.stringify(hits.slice(0, 3))}`);
  return rate;
}

describe('detectors leave a benign corpus alone', () => {
  it('false-positive rate on order numbers, timestamps, UUIDs, prices, versions, addresses', () => {
    const rate = falsePositiveRate('the benign corpus', () => [benign(), benign(), benign()].join(pick(JOINERS)), 5000);
    assert.ok(rate < 0.01, `false-positive rate ${rate}`);
  });

  it('false-positive rate on long digit runs (17–20-digit ids, epoch µs/ns, concatenated order numbers)', () => {
    const rate = falsePositiveRate('long digit runs', longDigitRun, 5000);
    assert.ok(rate < 0.1, `false-positive rate ${rate}`);
  });
});

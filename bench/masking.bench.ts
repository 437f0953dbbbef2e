// Masking hot path: ns per cell for maskText (strings) and maskTextMaybe (UTF-8 bytes).
// Run: npx tsx bench/masking.bench.ts
import { compileMasker } from '../src/masking/index.js';

const masker = compileMasker({
  columns: ['email'],
  detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'],
});

const cases: Record<string, string> = {
  'clean short': 'Alice Smith',
  'clean timestamp': '2024-01-15 10:23:45.123+00',
  'clean long': 'The quick brown fox jumps over the lazy dog while the agent reads rows. '.repeat(14),
  'with email': 'Contact alice.smith@example.com for details',
  // Digit-heavy cells: long ids and epoch-ms timestamps make the card/SSN detectors look inside
  // digit runs; the glued values are the `'1' || ssn` / `'0' || card` cases.
  'clean long ids': 'order 12345678901234567 at 1700000000123 ref 98765432109876543210',
  'glued ssn + card': 'ssn 1123-45-6789 card 04111111111111111',
};

function time(label: string, iterations: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) fn(i); // warm-up
  const start = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < iterations; i++) if (fn(i) !== null) sink++;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${label.padEnd(46)} ${ns.toFixed(1).padStart(9)} ns/cell`);
  return sink;
}

// Reference: the cheapest possible pass over the same text, to read the numbers on a busy or
// slow machine (masking a clean cell should cost a small multiple of this).
function baseline(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h + text.charCodeAt(i)) | 0;
  return h;
}

for (const [name, text] of Object.entries(cases)) {
  const n = text.length > 200 ? 200_000 : 2_000_000;
  // A DataRow-like buffer: the cell sits inside a larger message.
  const cell = Buffer.from(text, 'utf8');
  const row = Buffer.concat([Buffer.from('D\0\0\0\0\0\x01'), cell, Buffer.from('trailer')]);
  const start = 7;
  const end = start + cell.length;
  time(`baseline loop ${name} (${text.length} chars)`, n, () => baseline(text));
  time(`maskText      ${name} (${text.length} chars)`, n, () => masker.maskText(text));
  time(`maskTextMaybe ${name} (${cell.length} bytes)`, n, () => masker.maskTextMaybe(row, start, end));
}

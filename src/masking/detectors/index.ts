import type { DetectorName } from '../../core/types.js';
import { cardDetector } from './card.js';
import { emailDetector } from './email.js';
import { ibanDetector } from './iban.js';
import { phoneDetector } from './phone.js';
import { secretDetector } from './secret.js';
import { ssnDetector } from './ssn.js';
import type { Detector } from './types.js';

export { PRIVATE_KEY_BEGIN, privateKeyEnd, SECRET_KEY } from './secret.js';
export type { Detector } from './types.js';

/**
 * Priority order: an earlier detector's match wins an overlap. Secrets first (a password inside
 * a URL beats the email-looking `pass@host`), then the validated numbers, then email and phone.
 */
const ORDER: readonly Detector[] = [
  secretDetector,
  ibanDetector,
  cardDetector,
  ssnDetector,
  emailDetector,
  phoneDetector,
];

export const DETECTOR_NAMES: readonly DetectorName[] = ORDER.map((d) => d.name);

/** The detectors for `names`, in priority order, without duplicates. */
export function detectorsFor(names: readonly DetectorName[]): Detector[] {
  const wanted = new Set(names);
  return ORDER.filter((d) => wanted.has(d.name));
}

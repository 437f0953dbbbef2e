import { ssnValid } from '../checksums.js';
import { redactDigits } from '../redact.js';
import { H_DIGITS9 } from '../scan.js';
import type { Detector } from './types.js';

// Dashed AAA-GG-SSSS anywhere, whatever its neighbours: digits and dashes included, so
// `'1' || ssn` (`1123-45-6789`) and `ssn || '0'` are found. The 3-2-4 dashed shape is rare outside
// SSNs (dates are 4-2-2, ZIP+4 5-4, phones 3-3-4, UUIDs hex 8-4-4-4-12), so no neighbour rule is
// needed to keep ids out. Nine bare digits only right after an SSN label ("SSN: 123456789",
// "social security number 123456789"), because bare nine-digit numbers are mostly ids, ZIP+4
// codes and amounts. Invalid SSA ranges (area 000, 666, 9xx; group 00; serial 0000) are never SSNs.
// The label-to-number gap is one bounded class (no adjacent `\s*`), so backtracking stays linear.
const SSN =
  /(\d{3})-(\d{2})-(\d{4})|(?:\bssn|\bsocial security(?: number| no\.?)?)[\s#:=.no]{0,12}["']?(\d{9})(?!\d)/gi;

export const ssnDetector: Detector = {
  name: 'us_ssn',
  guard: H_DIGITS9,
  find(text, _flags, out) {
    SSN.lastIndex = 0;
    for (let m = SSN.exec(text); m !== null; m = SSN.exec(text)) {
      if (m[1] !== undefined) {
        if (ssnValid(m[1], m[2]!, m[3]!)) out.add(m.index, m.index + 11, redactDigits(m[0], 4));
      } else {
        const d = m[4]!;
        if (ssnValid(d.slice(0, 3), d.slice(3, 5), d.slice(5))) {
          const end = m.index + m[0].length;
          out.add(end - 9, end, redactDigits(d, 4));
        }
      }
    }
  },
};

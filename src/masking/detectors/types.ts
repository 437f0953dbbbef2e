import type { DetectorName } from '../../core/types.js';
import type { MatchSet } from '../matches.js';

/** A content detector: a cheap guard over the scan flags, then a regex plus validation. */
export interface Detector {
  readonly name: DetectorName;
  /** Scan flags (src/masking/scan.ts); `find` runs only when the text has one of them. */
  readonly guard: number;
  /** Adds every validated match in `text` to `out` with its redaction. */
  find(text: string, flags: number, out: MatchSet): void;
}

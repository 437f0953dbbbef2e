// Masking: protocol-independent detectors and redaction used by every adapter (Postgres and
// MySQL rows, JSON responses, terminal output, error and notice texts).
export { ALWAYS_MASKED_SOURCES } from './columns.js';
export { DETECTOR_NAMES } from './detectors/index.js';
export { maskedOutputNames, outputIsMasked, statementTouchesMasked } from './lineage.js';
export { compileMasker, Masker, type MaskJsonOptions } from './masker.js';
export { MASKED_NON_TEXT, REDACTED } from './redact.js';
export { SHORTEST_DETECTABLE_NUMBER } from './scan.js';
export { StreamMasker, type StreamMaskerOptions } from './stream.js';

// Masking: protocol-independent detectors and redaction used by every adapter (Postgres and
// MySQL rows, JSON responses, terminal output, error and notice texts).
export { compileMasker, type MaskJsonOptions, Masker } from './masker.js';
export { StreamMasker, type StreamMaskerOptions } from './stream.js';
export { MASKED_NON_TEXT, REDACTED } from './redact.js';
export { DETECTOR_NAMES } from './detectors/index.js';

export { maskRecordingText, RecordingMasker, readRecordingMasked } from './masked-read.js';
export { readRecording } from './read.js';
export { auditRecordingDigest, FLUSH_BYTES, FLUSH_MS, Recorder, SessionRecording } from './recorder.js';
export { type ReplayOptions, replayAsciicast } from './replay.js';
export {
  isStoreRecording,
  openRecording,
  type RecordingReadOptions,
  type RecordingStoreKind,
  readRecordingBytes,
  recordingName,
  STORE_RECORDING_PREFIX,
  storeRecordingPath,
} from './source.js';
export { formatTimeline } from './timeline.js';
export type { AsciicastEvent, AsciicastHeader, RecordedEvent, Recording, RecordingMeta } from './types.js';

export { maskRecordingText, RecordingMasker, readRecordingMasked } from './masked-read.js';
export { readRecording } from './read.js';
export { Recorder, SessionRecording } from './recorder.js';
export { type ReplayOptions, replayAsciicast } from './replay.js';
export { formatTimeline } from './timeline.js';
export type { AsciicastEvent, AsciicastHeader, RecordedEvent, Recording, RecordingMeta } from './types.js';

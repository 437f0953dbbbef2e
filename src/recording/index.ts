export { Recorder, SessionRecording } from './recorder.js';
export { readRecording } from './read.js';
export { replayAsciicast, type ReplayOptions } from './replay.js';
export { formatTimeline } from './timeline.js';
export type { AsciicastEvent, AsciicastHeader, RecordedEvent, Recording, RecordingMeta } from './types.js';
